"""A deliberately broken "provider" for STARTTLS downgrade tests (the one place a fake is right: real servers
do not misbehave on purpose). It speaks just enough POP3, IMAP or SMTP to offer, strip, refuse or abuse STARTTLS,
and records every line it receives so tests can prove no credential was ever sent in plaintext.

The DROP_MODES are an SMTP provider over implicit TLS (the rig's certificate) that accepts the login and the
envelope, answers DATA with 354, then vanishes after `drop_after` bytes of the message: "drop_mid_data" closes the
socket (no close_notify), "reset_mid_data" resets it (SO_LINGER 0). `drops` counts the sessions it dropped."""

import socket
import ssl
import struct
import threading

MODES = ("strip", "refuse", "inject")  # STARTTLS misbehaviours; test_starttls_fail_closed runs every one
DROP_MODES = ("drop_mid_data", "reset_mid_data")


class FakeProvider:
    """The frame of a fake provider: a loopback listener on its own thread serving one connection at a time
    (over implicit TLS when given a certificate), recording every line received. Subclasses speak in _session()."""

    def __init__(self, tls_cert=None, tls_key=None):
        self.received = []
        self.tls = None
        if tls_cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(tls_cert, tls_key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                conn.settimeout(10)
                if self.tls:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                self._session(conn)
            except OSError:  # includes ssl.SSLError
                pass
            finally:
                conn.close()

    def _lines(self, conn):
        buf = b""
        while True:
            while b"\r\n" not in buf:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buf += chunk
            line, buf = buf.split(b"\r\n", 1)
            self.received.append(line.decode("latin-1"))
            yield line.decode("latin-1")

    def _session(self, conn):
        raise NotImplementedError


class MisbehavingProvider(FakeProvider):
    def __init__(self, protocol, mode, tls_cert=None, tls_key=None, drop_after=256 * 1024):
        assert mode in MODES or (mode in DROP_MODES and protocol == "smtp" and tls_cert and tls_key)
        self.protocol, self.mode = protocol, mode
        self.drop_after = drop_after
        self.data_bytes = 0  # message bytes received before the drop
        self.drops = 0
        dropping = mode in DROP_MODES
        super().__init__(tls_cert if dropping else None, tls_key if dropping else None)

    def _session(self, conn):
        if self.mode in DROP_MODES:
            self._drop_session(conn)
        else:
            self._starttls_session(conn)

    def _starttls_session(self, conn):
        offer = self.mode != "strip"
        send = conn.sendall
        if self.protocol == "pop3":
            send(b"+OK fake POP3 ready\r\n")
            for line in self._lines(conn):
                verb = line.split(" ")[0].upper()
                if verb == "CAPA":
                    send(b"+OK\r\nUSER\r\nSASL PLAIN\r\n" + (b"STLS\r\n" if offer else b"") + b".\r\n")
                elif verb == "STLS":
                    send(b"-ERR [SYS/TEMP] no TLS today\r\n" if self.mode == "refuse"
                         else b"+OK begin TLS\r\n+OK injected\r\n")
                    return
                else:
                    send(b"-ERR what\r\n")
        elif self.protocol == "imap":
            caps = b"IMAP4rev1 AUTH=PLAIN" + (b" STARTTLS" if offer else b"")
            send(b"* OK [CAPABILITY " + caps + b"] fake IMAP ready\r\n")
            for line in self._lines(conn):
                tag, _, rest = line.partition(" ")
                verb = rest.split(" ")[0].upper()
                if verb == "CAPABILITY":
                    send(b"* CAPABILITY " + caps + b"\r\n" + tag.encode() + b" OK done\r\n")
                elif verb == "STARTTLS":
                    send(tag.encode() + b" NO no TLS today\r\n" if self.mode == "refuse"
                         else tag.encode() + b" OK begin TLS\r\n* OK injected\r\n")
                    return
                else:
                    send(tag.encode() + b" BAD what\r\n")
        else:
            send(b"220 fake ESMTP ready\r\n")
            for line in self._lines(conn):
                verb = line.split(" ")[0].upper()
                if verb in ("EHLO", "HELO"):
                    send(b"250-fake\r\n" + (b"250-STARTTLS\r\n" if offer else b"") + b"250 AUTH PLAIN LOGIN\r\n")
                elif verb == "STARTTLS":
                    send(b"454 4.7.0 no TLS today\r\n" if self.mode == "refuse"
                         else b"220 2.0.0 go ahead\r\n250 injected\r\n")
                    return
                else:
                    send(b"502 what\r\n")

    def _drop_session(self, conn):
        buf = b""

        def line():
            nonlocal buf
            while b"\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return None
                buf += chunk
            text, buf = buf.split(b"\r\n", 1)
            self.received.append(text.decode("latin-1"))
            return text.decode("latin-1")

        conn.sendall(b"220 fake ESMTP ready\r\n")
        while (text := line()) is not None:
            verb = text.split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                conn.sendall(b"250-fake\r\n250 AUTH PLAIN LOGIN\r\n")
            elif verb == "AUTH":
                conn.sendall(b"235 2.7.0 ok\r\n")
            elif verb in ("MAIL", "RCPT"):
                conn.sendall(b"250 2.1.0 ok\r\n")
            elif verb == "DATA":
                conn.sendall(b"354 go ahead\r\n")
                self.data_bytes = len(buf)
                while self.data_bytes < self.drop_after:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    self.data_bytes += len(chunk)
                if self.mode == "reset_mid_data":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                self.drops += 1
                return
            elif verb == "QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"502 what\r\n")
