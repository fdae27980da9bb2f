"""The PROXY protocol behind a real HAProxy (TCP mode, send-proxy-v2 and send-proxy) against the real rig: the
client's own address (127.0.0.2 / .3 / .4, forwarded by HAProxy, which connects from 127.0.0.5) is what access.allow,
the login throttle, the live-sessions view and the log see; implicit TLS and STARTTLS work through the balancer; a
header from an address outside proxy.trusted, a missing, malformed or late header close the connection without a
greeting, logged once per burst; listeners without proxy_protocol are unchanged."""

import imaplib
import os
import poplib
import smtplib
import socket
import ssl
import tempfile
import time
import unittest

from admin_client import AdminClient, admin_password
from balancer import Balancer
from gateway import Gateway, add_account, read_line
from rig import ProviderRig

ALICE = "alice@example.test"
HOST = "127.0.0.1"
BALANCER = "127.0.0.5"


def pop3_from(source, port):
    class SourcedPOP3(poplib.POP3):
        def _create_socket(self, timeout):
            return socket.create_connection((self.host, self.port), timeout, source_address=(source, 0))

    return SourcedPOP3(HOST, port, timeout=30)


def imaps_from(source, port, context):
    class SourcedIMAP4_SSL(imaplib.IMAP4_SSL):
        def _create_socket(self, timeout):
            raw = socket.create_connection((self.host, self.port), timeout, source_address=(source, 0))
            return self.ssl_context.wrap_socket(raw, server_hostname=self.host)

    return SourcedIMAP4_SSL(HOST, port, ssl_context=context, timeout=30)


def closed_silently(sock, seconds):
    """Whether the peer closed `sock` within `seconds` without sending a byte."""
    sock.settimeout(seconds)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class ProxyProtocol(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-proxy-")
        data = os.path.join(cls.tmp.name, "data")
        p, host = cls.rig.ports, cls.rig.host
        add_account(data, "alice", "alice-local", "alice-pw", ALICE, cls.rig.users[ALICE],
                    "--pop3", f"pop3s://{host}:{p['pop3s']}", "--imap", f"imaps://{host}:{p['imaps']}",
                    "--smtp", f"smtps://{host}:{p['smtps']}")
        # The balancer's own address is not in access.allow: a connection judged by it would be refused.
        cls.gw = Gateway(data_dir=data, extra_args=[
            "--upstream.ca_file", cls.rig.ca_file, "--access.failed_login_delay", "0",
            "--access.allow", "127.0.0.1 127.0.0.2 127.0.0.4",
            "--auth.free_failures", "1", "--auth.max_failures", "3", "--auth.max_delay", "1",
            "--proxy.trusted", BALANCER,
            "--listen.pop3.proxy_protocol", "true", "--listen.imaps.proxy_protocol", "true",
            "--listen.smtp.proxy_protocol", "true"]).__enter__()
        g = cls.gw.ports
        cls.balancer = Balancer({
            "pop3": ([(HOST, g["pop3"])], "v2"),
            "pop3_v1": ([(HOST, g["pop3"])], "v1"),
            "imaps": ([(HOST, g["imaps"])], "v2"),
            "smtp": ([(HOST, g["smtp"])], "v2"),
        }, source=BALANCER).start()
        cls.admin = AdminClient(g["admin"])
        cls.admin.login(admin_password(cls.gw.banner))
        cls.tls = ssl.create_default_context(cafile=cls.gw.cert_file)
        cls.tls.check_hostname = False

    @classmethod
    def tearDownClass(cls):
        cls.balancer.stop()
        cls.gw.__exit__(None, None, None)
        cls.rig.stop()
        cls.tmp.cleanup()

    def session_clients(self, protocol):
        _, _, sessions = self.admin.request("GET", "/api/v1/sessions")
        return [s["client"] for s in sessions if s["protocol"] == protocol]

    def test_banner_names_the_proxied_listeners(self):
        self.assertRegex(self.gw.banner, r"pop3 .*PROXY protocol from 127\.0\.0\.5")
        self.assertNotRegex(self.gw.banner, r"imap  .*PROXY protocol")

    def test_pop3_through_v2_and_v1_is_seen_from_the_clients_address(self):
        for frontend in ("pop3", "pop3_v1"):
            with self.subTest(frontend=frontend):
                client = pop3_from("127.0.0.2", self.balancer.ports[frontend])
                try:
                    self.assertTrue(client.getwelcome().startswith(b"+OK"))
                    client.user("alice-local")
                    client.pass_("alice-pw")
                    client.stat()
                    self.assertIn("127.0.0.2", self.session_clients("pop3"))
                    self.assertNotIn(BALANCER, self.session_clients("pop3"))
                finally:
                    client.quit()

    def test_access_allow_judges_the_proxied_address(self):
        with socket.create_connection((HOST, self.balancer.ports["pop3"]), source_address=("127.0.0.3", 0),
                                      timeout=20) as s:
            greeting = read_line(s)
        # (The log line may be folded into an earlier refusal's report: refusals are logged at a bounded rate.)
        self.assertEqual(greeting, b"-ERR [AUTH] mailgate: your network is not allowed\r\n")

    def test_implicit_tls_imap_through_a_tcp_balancer(self):
        client = imaps_from("127.0.0.2", self.balancer.ports["imaps"], self.tls)
        try:
            client.login("alice-local", "alice-pw")
            typ, _ = client.select("INBOX")
            self.assertEqual(typ, "OK")
            self.assertIn("127.0.0.2", self.session_clients("imap"))
        finally:
            client.logout()

    def test_smtp_starttls_and_auth_through_the_balancer(self):
        with smtplib.SMTP(HOST, self.balancer.ports["smtp"], source_address=("127.0.0.2", 0), timeout=30) as smtp:
            smtp.starttls(context=self.tls)
            smtp.login("alice-local", "alice-pw")
            refused = smtp.sendmail(ALICE, [ALICE], b"Subject: through haproxy\r\n\r\nhello\r\n")
            self.assertEqual(refused, {})

    def test_failed_logins_are_throttled_per_proxied_address(self):
        port = self.balancer.ports["pop3"]

        def attempt(source, password):
            client = pop3_from(source, port)
            try:
                client.user("alice-local")
                client.pass_(password)
                client.quit()
                return True
            except poplib.error_proto:
                client.close()
                return False

        for i in range(3):
            self.assertFalse(attempt("127.0.0.4", f"guess-{i}"))
        # 127.0.0.4 is now refused unchecked, even with the right password; 127.0.0.2 behind the same
        # balancer is not affected.
        self.assertFalse(attempt("127.0.0.4", "alice-pw"))
        self.assertTrue(attempt("127.0.0.2", "alice-pw"))

    def test_a_header_from_outside_proxy_trusted_is_refused(self):
        for _ in range(5):
            with socket.create_connection((HOST, self.gw.ports["pop3"]), source_address=("127.0.0.1", 0),
                                          timeout=20) as s:
                s.sendall(b"PROXY TCP4 127.0.0.2 127.0.0.1 40000 110\r\n")
                self.assertTrue(closed_silently(s, 5))
        log = self.gw.log()
        self.assertIn("closed a connection from 127.0.0.1: it is not in proxy.trusted", log)
        self.assertEqual(log.count("it is not in proxy.trusted"), 1, log)

    def test_missing_malformed_and_late_headers_close_without_a_greeting(self):
        for sent in (b"USER alice-local\r\n", b"PROXY TCP4 999.0.0.1 127.0.0.1 1 110\r\n",
                     b"PROXY TCP4 127.0.0.2 127.0.0.1 1 110\n", b"\x16\x03\x01\x00\x05hello"):
            with self.subTest(sent=sent):
                with socket.create_connection((HOST, self.gw.ports["pop3"]), source_address=(BALANCER, 0),
                                              timeout=20) as s:
                    s.sendall(sent)
                    self.assertTrue(closed_silently(s, 5))
        start = time.monotonic()
        with socket.create_connection((HOST, self.gw.ports["imaps"]), source_address=(BALANCER, 0),
                                      timeout=20) as s:
            self.assertTrue(closed_silently(s, 15))
        self.assertGreater(time.monotonic() - start, 9)
        self.assertIn("no PROXY header within 10 s", self.gw.log())

    def test_a_local_header_keeps_the_balancers_own_address(self):
        # LOCAL (HAProxy's health checks): the connection is the balancer's, and 127.0.0.5 is not allowed.
        local = b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x20, 0x00, 0x00, 0x00])
        with socket.create_connection((HOST, self.gw.ports["pop3"]), source_address=(BALANCER, 0),
                                      timeout=20) as s:
            s.sendall(local)
            self.assertEqual(read_line(s), b"-ERR [AUTH] mailgate: your network is not allowed\r\n")

    def test_a_listener_without_proxy_protocol_is_unchanged(self):
        with socket.create_connection((HOST, self.gw.ports["imap"]), source_address=("127.0.0.2", 0),
                                      timeout=20) as s:
            self.assertTrue(read_line(s).startswith(b"* OK"))
            s.sendall(b"PROXY TCP4 127.0.0.4 127.0.0.1 1 143\r\n")
            self.assertIn(b"BAD", read_line(s))


if __name__ == "__main__":
    unittest.main()
