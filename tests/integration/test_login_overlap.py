"""The provider connection opened while the local password check (scrypt) runs, against the real rig: a first
login (no cached credential) uses the connection opened during the check; a wrong password for a known user opens
one too but drops it without any login attempt at the provider (Dovecot logs the disconnect with no auth attempts);
an address that has failed before gets no early connection, and cached logins need none."""

import imaplib
import os
import socket
import tempfile
import time
import unittest

from gateway import Gateway, add_account
from rig import ProviderRig

ALICE = "alice@example.test"
USED = "the provider connection opened during the password check is used"


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


if __name__ == "__main__":
    unittest.main()
