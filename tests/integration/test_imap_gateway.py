"""IMAP gateway against the real rig: imaplib over plaintext, STARTTLS and IMAPS, literal-path LOGIN, 20 MB FETCH
and 10 MB APPEND byte-identical, IDLE, curl, mbsync, STARTTLS injection, and the failure replies."""

import base64
import hashlib
import imaplib
import os
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from gateway import Gateway, add_account, add_failure_accounts, run_cli
from rig import ProviderRig

ALICE, BOB = "alice@example.test", "bob@example.test"
ODD_PASSWORD = 'p w "q" \\b\\ \u00e4\u00df\u20ac'  # space, quote, backslash, non-ASCII: needs a literal


def message(subject, body=b"hello\r\n"):
    return (b"From: sender@example.test\r\nTo: alice@example.test\r\nSubject: " + subject.encode() +
            b"\r\n\r\n" + body)


def read_until(sock, terminator):
    """Reads until `terminator` has arrived and the data ends at a line end."""
    data = b""
    while not (terminator in data and data.endswith(b"\r\n")):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def literal_login(client, user, password):
    """LOGIN with the password sent as a synchronizing literal, as clients do for non-ASCII passwords."""
    client.literal = password.encode("utf-8")
    typ, data = client._simple_command("LOGIN", user)
    client.state = "AUTH"
    return typ, data


class ImapGateway(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-imap-")
        cls.data = os.path.join(cls.tmp.name, "data")
        p, host = cls.rig.ports, cls.rig.host
        add_account(cls.data, "alice", "alice-local", ODD_PASSWORD, ALICE, cls.rig.users[ALICE],
                    "--imap", f"imaps://{host}:{p['imaps']}")
        add_account(cls.data, "bob", "bob-local", "bob-pw", BOB, cls.rig.users[BOB],
                    "--imap", f"imap+starttls://{host}:{p['imap']}")
        add_failure_accounts(cls.data, cls.rig, "imap", "imaps", "imaps")
        cls.gw = Gateway(data_dir=cls.data, extra_args=["--upstream.ca_file", cls.rig.ca_file,
                                                        "--access.failed_login_delay", "1"]).__enter__()
        cls.client_tls = ssl.create_default_context(cafile=cls.gw.cert_file)

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.rig.stop()
        cls.tmp.cleanup()

    def setUp(self):
        for user in (ALICE, BOB):
            self.rig.empty_mailbox(user)

    def connect(self, mode="plain", gw=None):
        gw = gw or self.gw
        if mode == "imaps":
            return imaplib.IMAP4_SSL("127.0.0.1", gw.ports["imaps"], ssl_context=self.client_tls, timeout=60)
        client = imaplib.IMAP4("127.0.0.1", gw.ports["imap"], timeout=60)
        if mode == "starttls":
            client.starttls(ssl_context=self.client_tls)
        return client

    def test_login_select_fetch_logout_in_every_mode(self):
        self.rig.deliver(ALICE, message("hello imap"))
        for mode in ("plain", "starttls", "imaps"):
            with self.subTest(mode=mode):
                client = self.connect(mode)
                typ, data = literal_login(client, "alice-local", ODD_PASSWORD)
                self.assertEqual(typ, "OK")
                self.assertIn(b"[CAPABILITY ", data[0])
                for hidden in (b"STARTTLS", b"AUTH=", b"LOGINDISABLED", b"SASL-IR"):
                    self.assertNotIn(hidden, data[0])
                self.assertIn(b"IMAP4rev1", data[0])  # the provider's own spelling
                typ, count = client.select("INBOX")
                self.assertEqual((typ, count), ("OK", [b"1"]))
                typ, fetched = client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
                self.assertIn(b"Subject: hello imap", fetched[0][1])
                self.assertEqual(client.logout()[0], "BYE")

    def test_outlook_habits_before_login(self):
        self.rig.deliver(BOB, message("for bob"))
        with socket.create_connection(("127.0.0.1", self.gw.ports["imap"]), timeout=30) as s:
            read_until(s, b"ready")
            s.sendall(b"a ENABLE CONDSTORE\r\n")
            self.assertEqual(read_until(s, b"a "), b"* ENABLED\r\na OK ENABLE ignored in non-authenticated state\r\n")
            # bob-local asking to act as alice-local: NO (the client shows it), not BAD.
            plain = base64.b64encode(b"alice-local\0bob-local\0bob-pw")
            s.sendall(b"b AUTHENTICATE PLAIN " + plain + b"\r\n")
            self.assertTrue(read_until(s, b"b ").startswith(b"b NO [AUTHORIZATIONFAILED]"))
            # The Windows domain form, unquoted, maps to the local user bob-local.
            s.sendall(b"c LOGIN OFFICE\\bob-local bob-pw\r\n")
            self.assertIn(b"c OK", read_until(s, b"c "))
            s.sendall(b"d SELECT INBOX\r\n")
            self.assertIn(b"* 1 EXISTS", read_until(s, b"d OK"))
            s.sendall(b"e LOGOUT\r\n")
            read_until(s, b"e OK")
        # The e-mail address form, through imaplib.
        client = self.connect("imaps")
        self.assertEqual(client.login("bob-local@office.lan", "bob-pw")[0], "OK")
        self.assertEqual(client.select("INBOX"), ("OK", [b"1"]))
        client.logout()
        log = self.gw.log()
        self.assertIn("user 'OFFICE\\bob-local' logged in as account 'bob'", log)
        self.assertNotIn("bob-pw", log)

    def test_quoted_login_and_starttls_upstream(self):
        self.rig.deliver(BOB, message("for bob"))
        client = self.connect("starttls")
        self.assertEqual(client.login("bob-local", "bob-pw")[0], "OK")
        self.assertEqual(client.select("INBOX")[1], [b"1"])
        client.logout()

    def test_authenticate_plain_with_and_without_sasl_ir(self):
        client = self.connect("imaps")
        typ, _ = client.authenticate("PLAIN", lambda _: b"\0bob-local\0bob-pw")  # imaplib uses the continuation
        self.assertEqual(typ, "OK")
        client.logout()
        with socket.create_connection(("127.0.0.1", self.gw.ports["imap"]), timeout=30) as s:
            read_until(s, b"\r\n")
            s.sendall(b"a AUTHENTICATE PLAIN AGJvYi1sb2NhbABib2ItcHc=\r\n")  # SASL-IR
            self.assertTrue(read_until(s, b"\r\n").startswith(b"a OK [CAPABILITY "))
            s.sendall(b"b LOGOUT\r\n")
            self.assertIn(b"b OK", read_until(s, b"b OK"))
            s.close()
        with socket.create_connection(("127.0.0.1", self.gw.ports["imap"]), timeout=30) as s:
            read_until(s, b"\r\n")
            s.sendall(b"a AUTHENTICATE LOGIN\r\n")
            self.assertEqual(read_until(s, b"\r\n"), b"+ VXNlcm5hbWU6\r\n")
            s.sendall(b"*\r\n")
            self.assertTrue(read_until(s, b"\r\n").startswith(b"a BAD"))

    def test_twenty_megabyte_fetch_is_byte_identical(self):
        line = b"0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\r\n"
        self.rig.deliver(ALICE, message("big", line * (20 * 1024 * 1024 // len(line))))
        direct = imaplib.IMAP4_SSL(self.rig.host, self.rig.ports["imaps"], ssl_context=self.rig.client_context())
        direct.login(ALICE, self.rig.users[ALICE])
        direct.select("INBOX", readonly=True)
        expected = direct.fetch("1", "(BODY.PEEK[])")[1][0][1]
        direct.logout()
        client = self.connect("plain")
        literal_login(client, "alice-local", ODD_PASSWORD)
        client.select("INBOX", readonly=True)
        got = client.fetch("1", "(BODY.PEEK[])")[1][0][1]
        client.logout()
        self.assertGreater(len(got), 20 * 1024 * 1024)
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(expected).hexdigest())

    def test_ten_megabyte_append_reads_back(self):
        body = os.urandom(7 * 1024 * 1024).hex().encode()[: 10 * 1024 * 1024]
        msg = message("appended", b"\r\n".join(body[i:i + 76] for i in range(0, len(body), 76)) + b"\r\n")
        client = self.connect("imaps")
        literal_login(client, "alice-local", ODD_PASSWORD)
        self.assertEqual(client.append("INBOX", None, None, msg)[0], "OK")
        client.select("INBOX", readonly=True)
        got = client.fetch("1", "(BODY.PEEK[])")[1][0][1]
        client.logout()
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(msg).hexdigest())

    def test_idle_sees_mail_delivered_through_smtp(self):
        with socket.create_connection(("127.0.0.1", self.gw.ports["imap"]), timeout=30) as s:
            read_until(s, b"\r\n")
            s.sendall(b"a LOGIN bob-local bob-pw\r\nb SELECT INBOX\r\n")  # pipelined across the login
            read_until(s, b"b OK [READ-WRITE] Select completed")
            s.sendall(b"c IDLE\r\n")
            self.assertTrue(read_until(s, b"\r\n").startswith(b"+ "))
            sent = time.monotonic()
            with smtplib.SMTP_SSL(self.rig.host, self.rig.ports["smtps"], context=self.rig.client_context()) as smtp:
                smtp.login(ALICE, self.rig.users[ALICE])
                smtp.sendmail(ALICE, [BOB], message("idle wake-up"))
            s.settimeout(5)
            self.assertIn(b"EXISTS", read_until(s, b"EXISTS"))
            self.assertLess(time.monotonic() - sent, 5)
            s.settimeout(30)
            s.sendall(b"DONE\r\nd LOGOUT\r\n")
            self.assertIn(b"d OK", read_until(s, b"d OK"))

    def test_curl_lists_the_mailbox(self):
        self.rig.deliver(ALICE, message("curl"))
        url = f"imap://127.0.0.1:{self.gw.ports['imap']}/INBOX?ALL"
        result = subprocess.run(["curl", "-sS", "--max-time", "30", "-u", "bob-local:bob-pw",
                                 f"imap://127.0.0.1:{self.gw.ports['imap']}/"], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("INBOX", result.stdout)
        self.rig.deliver(BOB, message("curl search"))
        result = subprocess.run(["curl", "-sS", "--max-time", "30", "-u", "bob-local:bob-pw",
                                 url.replace("ALL", "SUBJECT%20curl")], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("SEARCH 1", result.stdout)

    def test_mbsync_syncs_over_plaintext(self):
        for i in range(3):
            self.rig.deliver(BOB, message(f"sync {i}"))
        work = tempfile.TemporaryDirectory(prefix="mailgate-mbsync-")
        self.addCleanup(work.cleanup)
        local = os.path.join(work.name, "mail")
        os.makedirs(local)
        rc = os.path.join(work.name, "mbsyncrc")
        with open(rc, "w") as f:
            f.write(f"""IMAPAccount gw
Host 127.0.0.1
Port {self.gw.ports['imap']}
User bob-local
Pass bob-pw
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account gw

MaildirStore local
Path {local}/
Inbox {local}/INBOX

Channel inbox
Far :remote:INBOX
Near :local:INBOX
Sync Pull
Create Near
""")
        result = subprocess.run(["mbsync", "-c", rc, "inbox"], capture_output=True, text=True, timeout=120,
                                env=dict(os.environ, HOME=work.name))
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        synced = os.listdir(os.path.join(local, "INBOX", "new")) + os.listdir(os.path.join(local, "INBOX", "cur"))
        self.assertEqual(len(synced), 3)

    def test_starttls_injection_gets_no_reply(self):
        with socket.create_connection(("127.0.0.1", self.gw.ports["imap"]), timeout=30) as raw:
            read_until(raw, b"\r\n")
            raw.sendall(b"a STARTTLS\r\nb NOOP\r\n")
            self.assertEqual(read_until(raw, b"\r\n"), b"a OK Begin TLS negotiation now\r\n")
            tls = self.client_tls.wrap_socket(raw, server_hostname="localhost")
            tls.settimeout(1.5)
            with self.assertRaises(socket.timeout):
                tls.recv(4096)
            tls.settimeout(30)
            tls.sendall(b"c CAPABILITY\r\n")
            caps = read_until(tls, b"c OK CAPABILITY completed\r\n")
            self.assertNotIn(b"b OK", caps)
            self.assertNotIn(b"STARTTLS", caps)
            tls.close()

    def test_wrong_password_and_three_failures(self):
        with socket.create_connection(("127.0.0.1", self.gw.ports["imap"]), timeout=30) as s:
            read_until(s, b"\r\n")
            start = time.monotonic()
            s.sendall(b"a LOGIN alice-local wrong\r\n")
            self.assertEqual(read_until(s, b"\r\n"), b"a NO [AUTHENTICATIONFAILED] Authentication failed\r\n")
            self.assertGreaterEqual(time.monotonic() - start, 0.9)
            s.sendall(b"b LOGIN nobody wrong\r\n")
            self.assertEqual(read_until(s, b"\r\n"), b"b NO [AUTHENTICATIONFAILED] Authentication failed\r\n")
            s.sendall(b"c LOGIN alice-local wrong\r\n")
            tail = read_until(s, b"BYE Too many failed logins\r\n")
            self.assertIn(b"c NO [AUTHENTICATIONFAILED]", tail)
            self.assertEqual(s.recv(100), b"")

    def test_provider_failures_are_unavailable(self):
        for user, password in (("gone-local", "gone-pw"), ("stale-local", "stale-pw")):
            with self.subTest(user=user):
                client = self.connect()
                with self.assertRaises(imaplib.IMAP4.error) as ctx:
                    client.login(user, password)
                self.assertIn("[UNAVAILABLE]", str(ctx.exception))
                client.logout()
        self.assertIn("auth_failed", run_cli("account", "show", "stale", data_dir=self.data).stdout)
        with Gateway(data_dir=self.data) as untrusting:  # no upstream.ca_file
            client = self.connect(gw=untrusting)
            with self.assertRaises(imaplib.IMAP4.error) as ctx:
                client.login("bob-local", "bob-pw")
            self.assertIn("[UNAVAILABLE]", str(ctx.exception))
            client.logout()
            self.assertIn("certificate verification failed", untrusting.log())

    def test_logindisabled_outside_plaintext_auth(self):
        with Gateway(data_dir=self.data, extra_args=["--upstream.ca_file", self.rig.ca_file,
                                                     "--access.plaintext_auth", "10.0.0.0/8"]) as strict:
            client = self.connect(gw=strict)
            self.assertIn("LOGINDISABLED", client.capabilities)
            self.assertFalse(any(c.startswith("AUTH=") for c in client.capabilities))
            with self.assertRaises(imaplib.IMAP4.error) as ctx:
                client.login("bob-local", "bob-pw")
            self.assertIn("PRIVACYREQUIRED", str(ctx.exception))
            client.starttls(ssl_context=ssl.create_default_context(cafile=strict.cert_file))
            self.assertEqual(client.login("bob-local", "bob-pw")[0], "OK")
            client.logout()

    def test_bad_input(self):
        port = self.gw.ports["imap"]
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            read_until(s, b"\r\n")
            s.sendall(b"a LOGIN {99999999}\r\n")
            self.assertTrue(read_until(s, b"\r\n").startswith(b"* BAD"))
            self.assertEqual(s.recv(100), b"")
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            read_until(s, b"\r\n")
            s.sendall(b"a LOGIN {99999999999999999999999}\r\n")
            self.assertTrue(read_until(s, b"\r\n").startswith(b"* BAD"))
            self.assertEqual(s.recv(100), b"")
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            read_until(s, b"\r\n")
            s.sendall(b"a NOOP " + b"x" * 70000 + b"\r\n")
            self.assertTrue(read_until(s, b"\r\n").startswith(b"* BAD"))
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
                self.client_tls.wrap_socket(s, server_hostname="localhost")
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            read_until(s, b"\r\n")
            s.sendall(b"a SELECT INBOX\r\nb ID NIL\r\nc NOOP\r\nd LOGOUT\r\n")
            replies = read_until(s, b"d OK LOGOUT completed\r\n")
            self.assertIn(b"a BAD", replies)
            self.assertIn(b'* ID ("name" "mailgate"', replies)
            self.assertIn(b"c OK NOOP", replies)
        self.assertIsNone(self.gw.proc.poll())
        for secret in (ODD_PASSWORD, "bob-pw", self.rig.users[ALICE], "outdated-provider-password"):
            self.assertNotIn(secret, self.gw.log())


if __name__ == "__main__":
    unittest.main()
