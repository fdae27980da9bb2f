"""The provider connection opened while the local password check (scrypt) runs, against the real rig: a first
login (no cached credential) uses the connection opened during the check; a wrong password for a known user opens
one too but drops it without any login attempt at the provider (Dovecot logs the disconnect with no auth attempts);
an address that has failed before gets no early connection, and cached logins need none; an early connection the
provider dropped is replaced by a fresh one."""

import imaplib
import os
import socket
import tempfile
import threading
import time
import unittest

from gateway import Gateway, add_account
from rig import ProviderRig

ALICE = "alice@example.test"
USED = "the provider connection opened during the password check is used"


class DropFirstConnection:
    """A TCP pass-through to the rig's IMAPS port that closes the first connection it accepts at once: the provider
    dropping the connection the gateway opened while the password check ran."""

    def __init__(self, target_port):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target_port = target_port
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted == 1:
                conn.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.listener.close()


class ImapFrom(imaplib.IMAP4):
    """imaplib's client, connecting from a chosen loopback address (each test its own throttle bucket)."""

    def __init__(self, source, *args, **kwargs):
        self.source = source
        super().__init__(*args, **kwargs)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(self.source, 0))


class LoginOverlap(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-overlap-")
        cls.data = os.path.join(cls.tmp.name, "data")
        add_account(cls.data, "alice", "alice-local", "alice-pw", ALICE, cls.rig.users[ALICE],
                    "--imap", f"imaps://{cls.rig.host}:{cls.rig.ports['imaps']}")

    @classmethod
    def tearDownClass(cls):
        cls.rig.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self.gw = Gateway(data_dir=self.data, extra_args=["--upstream.ca_file", self.rig.ca_file,
                                                          "--access.failed_login_delay", "0"])
        self.gw.__enter__()
        self.addCleanup(self.gw.stop)

    def login(self, password, source):
        client = ImapFrom(source, "127.0.0.1", self.gw.ports["imap"], timeout=60)
        try:
            client.login("alice-local", password)
            client.logout()
            return True
        except imaplib.IMAP4.error:
            client.shutdown()
            return False

    def dovecot_log(self):
        with open(self.rig.dovecot_log, errors="replace") as f:
            return f.read()

    def test_first_login_uses_the_early_connection_and_cached_logins_need_none(self):
        self.assertTrue(self.login("alice-pw", "127.0.0.11"))
        self.assertEqual(self.gw.log().count(USED), 1, self.gw.log())
        self.assertTrue(self.login("alice-pw", "127.0.0.11"))  # credential cache: no KDF, nothing to overlap
        self.assertEqual(self.gw.log().count(USED), 1)

    def test_wrong_password_drops_the_early_connection_before_any_provider_login(self):
        before = self.dovecot_log().count("no auth attempts")
        self.assertFalse(self.login("wrong-pw", "127.0.0.12"))
        deadline = time.monotonic() + 15
        while self.dovecot_log().count("no auth attempts") == before and time.monotonic() < deadline:
            time.sleep(0.2)
        # Dovecot saw a TLS connection from the gateway that ended without a login attempt.
        self.assertGreater(self.dovecot_log().count("no auth attempts"), before, self.dovecot_log()[-2000:])
        self.assertNotIn("connected to imaps://", self.gw.log())
        # That address has failed now: its next (right, uncached) login gets no early connection.
        self.gw.stop()
        self.setUp()  # a fresh gateway: empty credential cache and throttle
        self.assertFalse(self.login("wrong-again", "127.0.0.13"))
        self.assertTrue(self.login("alice-pw", "127.0.0.13"))
        self.assertNotIn(USED, self.gw.log())

    def test_an_early_connection_the_provider_dropped_is_replaced(self):
        dropper = DropFirstConnection(self.rig.ports["imaps"])
        self.addCleanup(dropper.close)
        data = os.path.join(self.tmp.name, "dropper-data")
        add_account(data, "alice", "alice-local", "alice-pw", ALICE, self.rig.users[ALICE],
                    "--imap", f"imaps://{self.rig.host}:{dropper.port}")
        with Gateway(data_dir=data, extra_args=["--upstream.ca_file", self.rig.ca_file]) as gw:
            client = ImapFrom("127.0.0.14", "127.0.0.1", gw.ports["imap"], timeout=60)
            client.login("alice-local", "alice-pw")  # raises if the login failed
            self.assertEqual(client.select("INBOX")[0], "OK")
            client.logout()
        # The early connection (dropped by the provider) and the one the login used.
        self.assertEqual(dropper.accepted, 2)


if __name__ == "__main__":
    unittest.main()
