"""Proves the provider rig (rig.py) behaves like a real provider, using only
stdlib mail clients. Run from the repo root:  python3 -m unittest tests/integration/test_rig.py -v
"""

import email.message
import imaplib
import os
import poplib
import smtplib
import socket
import ssl
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rig import ProviderRig  # noqa: E402

ALICE, BOB = "alice@example.test", "bob@example.test"
TIMEOUT = 10


class ProviderRigTest(unittest.TestCase):
    rig = None

    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig()
        cls.rig.start()

    @classmethod
    def tearDownClass(cls):
        if cls.rig is not None:
            cls.rig.stop()

    # ---------------------------------------------------------------- helpers
    def ctx(self, cafile=None):
        return ssl.create_default_context(cafile=cafile or self.rig.ca_file)

    def pw(self, user):
        return self.rig.users[user]

    def message(self, sender, rcpt, subject):
        msg = email.message.EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, rcpt, subject
        msg["Message-ID"] = f"<{uuid.uuid4()}@example.test>"
        msg.set_content("hello from the mailgate provider rig test\n")
        return msg

    # ---------------------------------------------------------------- IMAP
    def test_imaps_login(self):
        with imaplib.IMAP4_SSL(self.rig.host, self.rig.ports["imaps"], ssl_context=self.ctx(),
                               timeout=TIMEOUT) as imap:
            typ, _ = imap.login(ALICE, self.pw(ALICE))
            self.assertEqual(typ, "OK")
            typ, _ = imap.select("INBOX")
            self.assertEqual(typ, "OK")
            imap.logout()

    def test_imap_starttls_login(self):
        with imaplib.IMAP4(self.rig.host, self.rig.ports["imap"], timeout=TIMEOUT) as imap:
            self.assertIn("STARTTLS", imap.capabilities)
            self.assertIn("LOGINDISABLED", imap.capabilities)
            imap.starttls(ssl_context=self.ctx())
            typ, _ = imap.login(ALICE, self.pw(ALICE))
            self.assertEqual(typ, "OK")
            imap.logout()

    def test_imap_plaintext_login_refused(self):
        with imaplib.IMAP4(self.rig.host, self.rig.ports["imap"], timeout=TIMEOUT) as imap:
            with self.assertRaises(imaplib.IMAP4.error) as cm:
                imap.login(ALICE, self.pw(ALICE))
            self.assertIn("PRIVACYREQUIRED", str(cm.exception).upper().replace(" ", ""))
            # AUTHENTICATE PLAIN without TLS must be refused as well.
            with self.assertRaises(imaplib.IMAP4.error):
                imap.authenticate("PLAIN", lambda _: f"\0{ALICE}\0{self.pw(ALICE)}".encode())

    def test_imaps_wrong_password(self):
        with imaplib.IMAP4_SSL(self.rig.host, self.rig.ports["imaps"], ssl_context=self.ctx(),
                               timeout=TIMEOUT) as imap:
            with self.assertRaises(imaplib.IMAP4.error):
                imap.login(ALICE, "wrong-password")

    # ---------------------------------------------------------------- TLS trust
    def test_untrusted_ca_rejected(self):
        for port in ("imaps", "pop3s", "smtps"):
            with self.subTest(port=port):
                with self.assertRaises(ssl.SSLCertVerificationError):
                    with socket.create_connection(("127.0.0.1", self.rig.ports[port]), TIMEOUT) as s:
                        self.ctx(self.rig.other_ca_file).wrap_socket(s, server_hostname=self.rig.host)

    def test_ip_hostname_mismatch_rejected(self):
        with self.assertRaises(ssl.SSLCertVerificationError) as cm:
            with socket.create_connection(("127.0.0.1", self.rig.ports["imaps"]), TIMEOUT) as s:
                self.ctx().wrap_socket(s, server_hostname="127.0.0.1")
        self.assertIn("mismatch", str(cm.exception).lower())
        # Same through imaplib when the client is pointed at the IP.
        with self.assertRaises(ssl.SSLCertVerificationError):
            imaplib.IMAP4_SSL("127.0.0.1", self.rig.ports["imaps"], ssl_context=self.ctx(),
                              timeout=TIMEOUT)

    def test_localhost_name_verifies(self):
        with socket.create_connection(("127.0.0.1", self.rig.ports["pop3s"]), TIMEOUT) as s:
            with self.ctx().wrap_socket(s, server_hostname="localhost") as tls:
                self.assertIsNotNone(tls.getpeercert())

    # ---------------------------------------------------------------- POP3
    def test_pop3s_login_stat(self):
        pop = poplib.POP3_SSL(self.rig.host, self.rig.ports["pop3s"], context=self.ctx(),
                              timeout=TIMEOUT)
        try:
            pop.user(ALICE)
            pop.pass_(self.pw(ALICE))
            count, size = pop.stat()
            self.assertGreaterEqual(count, 0)
        finally:
            pop.quit()

    def test_pop3_stls_login(self):
        pop = poplib.POP3(self.rig.host, self.rig.ports["pop3"], timeout=TIMEOUT)
        try:
            self.assertIn("STLS", pop.capa())
            # Before STLS the password must be refused.
            with self.assertRaises(poplib.error_proto):
                pop.user(ALICE)
                pop.pass_(self.pw(ALICE))
            pop.stls(context=self.ctx())
            pop.user(ALICE)
            pop.pass_(self.pw(ALICE))
            pop.stat()
        finally:
            pop.quit()

    # ---------------------------------------------------------------- SMTP
    def test_smtps_send_alice_to_bob(self):
        before = self.rig.mailbox_count(BOB)
        with smtplib.SMTP_SSL(self.rig.host, self.rig.ports["smtps"], context=self.ctx(),
                              timeout=TIMEOUT) as smtp:
            smtp.login(ALICE, self.pw(ALICE))
            refused = smtp.send_message(self.message(ALICE, BOB, "via smtps"))
            self.assertEqual(refused, {})
        self.assertGreaterEqual(self.rig.wait_for_messages(BOB, before + 1, timeout=20), before + 1)

    def test_submission_starttls_login_mechanisms(self):
        for mech in ("PLAIN", "LOGIN"):
            with self.subTest(mech=mech):
                with smtplib.SMTP(self.rig.host, self.rig.ports["submission"],
                                  timeout=TIMEOUT) as smtp:
                    smtp.ehlo()
                    self.assertTrue(smtp.has_extn("starttls"))
                    self.assertFalse(smtp.has_extn("auth"), "AUTH must not be offered before TLS")
                    smtp.starttls(context=self.ctx())
                    smtp.ehlo()
                    self.assertIn(mech, smtp.esmtp_features["auth"].upper().split())
                    smtp.user, smtp.password = BOB, self.pw(BOB)
                    code, _ = smtp.auth(mech, getattr(smtp, "auth_" + mech.lower()))
                    self.assertEqual(code, 235)

    def test_submission_send_bob_to_alice(self):
        before = self.rig.mailbox_count(ALICE)
        with smtplib.SMTP(self.rig.host, self.rig.ports["submission"], timeout=TIMEOUT) as smtp:
            smtp.starttls(context=self.ctx())
            smtp.login(BOB, self.pw(BOB))
            smtp.send_message(self.message(BOB, ALICE, "via submission"))
        self.rig.wait_for_messages(ALICE, before + 1, timeout=20)

    def test_submission_requires_tls_and_auth(self):
        with smtplib.SMTP(self.rig.host, self.rig.ports["submission"], timeout=TIMEOUT) as smtp:
            # Without STARTTLS the server refuses mail transactions.
            code, _ = smtp.docmd("MAIL FROM:<alice@example.test>")
            self.assertEqual(code, 530)
        with smtplib.SMTP_SSL(self.rig.host, self.rig.ports["smtps"], context=self.ctx(),
                              timeout=TIMEOUT) as smtp:
            # TLS but unauthenticated: no relaying, not even to a local user.
            with self.assertRaises(smtplib.SMTPRecipientsRefused):
                smtp.sendmail(ALICE, [BOB], b"Subject: x\r\n\r\nx\r\n")

    def test_smtps_wrong_password(self):
        with smtplib.SMTP_SSL(self.rig.host, self.rig.ports["smtps"], context=self.ctx(),
                              timeout=TIMEOUT) as smtp:
            with self.assertRaises(smtplib.SMTPAuthenticationError):
                smtp.login(ALICE, "nope")

    # ---------------------------------------------------------------- helpers of the rig
    def test_lmtp_deliver(self):
        before = self.rig.mailbox_count(ALICE)
        self.rig.deliver(ALICE, self.message("x@example.test", ALICE, "via lmtp").as_bytes())
        self.assertEqual(self.rig.mailbox_count(ALICE), before + 1)
        with self.assertRaises(Exception):
            self.rig.deliver("nobody@example.test", b"Subject: x\r\n\r\nx\r\n")


class ProviderDownTest(unittest.TestCase):
    """stop_dovecot()/start_dovecot() and stop_postfix()/start_postfix()."""

    def test_stop_and_restart(self):
        with ProviderRig() as rig:
            rig.stop_dovecot()
            for name in ("imaps", "imap", "pop3s", "pop3", "lmtp"):
                with self.subTest(port=name), self.assertRaises(ConnectionRefusedError):
                    socket.create_connection(("127.0.0.1", rig.ports[name]), TIMEOUT).close()
            rig.start_dovecot()
            self.assertEqual(rig.mailbox_count(ALICE), 0)

            rig.stop_postfix()
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", rig.ports["smtps"]), TIMEOUT).close()
            rig.start_postfix()
            with smtplib.SMTP_SSL(rig.host, rig.ports["smtps"],
                                  context=ssl.create_default_context(cafile=rig.ca_file),
                                  timeout=TIMEOUT) as smtp:
                smtp.login(ALICE, rig.users[ALICE])
            tmp = rig.dir
        if not rig.keep:
            self.assertFalse(os.path.exists(tmp), "temp dir must be removed on stop")


if __name__ == "__main__":
    unittest.main()
