"""SMTP submission gateway against the real rig: smtplib (plaintext, STARTTLS, SMTPS), swaks and msmtp through
the gateway to both provider modes (465 and 587), bodies compared over IMAP; 25 MB; 50 recipients; pipelining;
relay without AUTH; failures; STARTTLS stripping and injection; the SMTP smuggling sequences."""

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
from misbehaving_provider import MisbehavingProvider
from rig import DEFAULT_USERS, ProviderRig

ALICE, BOB = "alice@example.test", "bob@example.test"
MANY = [f"user{i:02d}@example.test" for i in range(50)]


def body_lines(tag, n=20):
    lines = [f"{tag} line {i}: the quick brown fox".encode() for i in range(n)]
    lines[3] = b".a line that starts with a dot"
    lines[4] = b".."
    return b"\r\n".join(lines) + b"\r\n"


def read_replies(sock, n):
    """The next `n` complete SMTP replies, however the server's writes were split or merged by TCP."""
    data, replies, current = b"", [], b""
    while len(replies) < n:
        while b"\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return replies
            data += chunk
        line, data = data.split(b"\r\n", 1)
        current += line + b"\r\n"
        if line[3:4] != b"-":  # "NNN text" or "NNN" ends a reply; "NNN-text" continues it
            replies.append(current)
            current = b""
    return replies


def read_reply(sock):
    """One complete SMTP reply (for strictly one-command-one-reply exchanges); b"" when the server closed."""
    replies = read_replies(sock, 1)
    return replies[0] if replies else b""


class SmtpGateway(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig(users={**DEFAULT_USERS, **{a: "many-pw" for a in MANY}}).start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-smtp-")
        cls.data = os.path.join(cls.tmp.name, "data")
        p, host = cls.rig.ports, cls.rig.host
        add_account(cls.data, "alice", "alice-local", "alice-pw", ALICE, cls.rig.users[ALICE],
                    "--smtp", f"smtps://{host}:{p['smtps']}")
        add_account(cls.data, "bob", "bob-local", "bob-pw", BOB, cls.rig.users[BOB],
                    "--smtp", f"smtp+starttls://{host}:{p['submission']}")
        add_account(cls.data, "printer", "printer-local", "printer-pw", ALICE, cls.rig.users[ALICE],
                    "--smtp", f"smtps://{host}:{p['smtps']}", "--sender", "scanner@office.test")
        add_failure_accounts(cls.data, cls.rig, "smtp", "smtps", "smtps")
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

    def bodies(self, user, expect, timeout=20):
        """Waits for `expect` messages in the user's INBOX and returns their bodies (BODY[TEXT])."""
        self.rig.wait_for_messages(user, expect, timeout)
        box = imaplib.IMAP4_SSL(self.rig.host, self.rig.ports["imaps"], ssl_context=self.rig.client_context())
        box.login(user, self.rig.users[user])
        count = int(box.select("INBOX", readonly=True)[1][0])
        out = [box.fetch(str(i), "(BODY.PEEK[TEXT])")[1][0][1] for i in range(1, count + 1)]
        box.logout()
        return out

    def smtp(self, mode="plain", gw=None):
        gw = gw or self.gw
        if mode == "smtps":
            return smtplib.SMTP_SSL("127.0.0.1", gw.ports["smtps"], context=self.client_tls, timeout=60)
        client = smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=60)
        if mode == "starttls":
            client.starttls(context=self.client_tls)
        return client

    def test_smtplib_every_mode_to_both_provider_modes(self):
        sent = []
        for mode in ("plain", "starttls", "smtps"):
            for user, password, sender in (("alice-local", "alice-pw", ALICE), ("bob-local", "bob-pw", BOB)):
                with self.subTest(mode=mode, account=user):
                    body = body_lines(f"{mode}-{user}")
                    client = self.smtp(mode)
                    client.login(user, password)
                    refused = client.sendmail(sender, [BOB], b"Subject: " + mode.encode() + b"\r\n\r\n" + body)
                    self.assertEqual(refused, {})
                    client.quit()
                    sent.append(body)
        self.assertEqual(sorted(self.bodies(BOB, len(sent))), sorted(sent))

    def test_swaks_and_msmtp(self):
        swaks_body = body_lines("swaks")
        for tls in ([], ["-tls"]):
            result = subprocess.run(["swaks", "--server", f"127.0.0.1:{self.gw.ports['smtp']}", "--auth", "PLAIN",
                                     "--auth-user", "alice-local", "--auth-password", "alice-pw",
                                     "--from", ALICE, "--to", BOB, "--header", "Subject: swaks",
                                     "--body", swaks_body.decode(), "--tls-verify", "--tls-ca-path",
                                     self.gw.cert_file, *tls], capture_output=True, text=True, timeout=60)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        work = tempfile.TemporaryDirectory(prefix="mailgate-msmtp-")
        self.addCleanup(work.cleanup)
        rc = os.path.join(work.name, "msmtprc")
        with open(rc, "w") as f:
            f.write(f"account gw\nhost 127.0.0.1\nport {self.gw.ports['smtps']}\ntls on\ntls_starttls off\n"
                    f"tls_trust_file {self.gw.cert_file}\ntls_host_override localhost\nauth login\n"
                    f"user bob-local\npassword bob-pw\nfrom {BOB}\naccount default : gw\n")
        os.chmod(rc, 0o600)
        msmtp_body = body_lines("msmtp")
        result = subprocess.run(["msmtp", "-C", rc, BOB], input=b"Subject: msmtp\r\n\r\n" + msmtp_body,
                                capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        bodies = self.bodies(BOB, 3)
        self.assertIn(msmtp_body, bodies)
        self.assertEqual(sum(1 for b in bodies if b"swaks line 3" in b or b"swaks line 0" in b), 2)

    def test_twenty_five_megabyte_message(self):
        line = b"25MB test line: 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n"
        body = line * (25 * 1024 * 1024 // len(line))
        client = self.smtp("plain")
        client.login("alice-local", "alice-pw")
        self.assertEqual(client.sendmail(ALICE, [BOB], b"Subject: big\r\n\r\n" + body), {})
        client.quit()
        got = self.bodies(BOB, 1, timeout=60)
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0], body)

    def test_windows_domain_user_name(self):
        with self.smtp("smtps") as client:
            client.login("OFFICE\\bob-local", "bob-pw")
            client.sendmail(BOB, [BOB], b"Subject: domain form\r\n\r\nsent as OFFICE\\bob-local\r\n")
        self.assertEqual(self.bodies(BOB, 1), [b"sent as OFFICE\\bob-local\r\n"])

    def test_fifty_recipients(self):
        client = self.smtp("smtps")
        client.login("alice-local", "alice-pw")
        self.assertEqual(client.sendmail(ALICE, MANY, b"Subject: many\r\n\r\nto fifty\r\n"), {})
        client.quit()
        for address in MANY:
            self.rig.wait_for_messages(address, 1, 30)

    def test_pipelined_transaction_answered_in_order(self):
        with socket.create_connection(("127.0.0.1", self.gw.ports["smtp"]), timeout=30) as s:
            read_reply(s)
            s.sendall(b"EHLO pipeline.test\r\n")
            self.assertIn(b"PIPELINING", read_reply(s))
            s.sendall(b"AUTH PLAIN AGFsaWNlLWxvY2FsAGFsaWNlLXB3\r\n")
            self.assertTrue(read_reply(s).startswith(b"235"))
            s.sendall(f"MAIL FROM:<{ALICE}>\r\nRCPT TO:<{BOB}>\r\nRCPT TO:<nobody@example.test>\r\nDATA\r\n".encode())
            replies = b""
            while replies.count(b"\r\n") < 4:
                replies += s.recv(4096)
            codes = [line[:3] for line in replies.split(b"\r\n") if line]
            self.assertEqual(codes[0], b"250")
            self.assertEqual(codes[1], b"250")
            self.assertEqual(codes[2][:1], b"5")  # unknown recipient, the provider's own reply
            self.assertEqual(codes[3], b"354")
            s.sendall(b"Subject: pipelined\r\n\r\npipelined body\r\n.\r\nQUIT\r\n")
            tail = b""
            while b"221" not in tail:
                chunk = s.recv(4096)
                if not chunk:
                    break
                tail += chunk
            self.assertTrue(tail.startswith(b"250"), tail)
        self.assertEqual(self.bodies(BOB, 1), [b"pipelined body\r\n"])

    def test_relay_without_auth_picks_the_account_by_sender(self):
        with socket.create_connection(("127.0.0.1", self.gw.ports["smtp"]), timeout=30) as s:
            read_reply(s)
            s.sendall(b"EHLO scanner\r\n")
            read_reply(s)
            s.sendall(b"MAIL FROM:<scanner@office.test>\r\n")
            self.assertTrue(read_reply(s).startswith(b"530 5.7.0"))  # not in access.relay_without_auth
        # smtp.spool = off: the live path, where the device hears the provider's own reply (test_spool.py has
        # the default, queued one).
        with Gateway(data_dir=self.data, extra_args=["--upstream.ca_file", self.rig.ca_file, "--smtp.spool", "off",
                                                     "--access.relay_without_auth", "127.0.0.1/32"]) as relay:
            client = smtplib.SMTP("127.0.0.1", relay.ports["smtp"], timeout=60)
            client.ehlo("scanner")
            self.assertEqual(client.sendmail("scanner@office.test", [BOB],
                                             b"Subject: scan\r\n\r\nscanned page\r\n"), {})
            with self.assertRaises(smtplib.SMTPSenderRefused) as ctx:
                client.sendmail("stranger@elsewhere.test", [BOB], b"Subject: no\r\n\r\nno\r\n")
            self.assertEqual(ctx.exception.smtp_code, 550)
            self.assertIn(b"5.7.1", ctx.exception.smtp_error)
            client.quit()
            self.assertIn("through account 'printer'", relay.log())
        self.assertEqual(self.bodies(BOB, 1), [b"scanned page\r\n"])

    def test_wrong_password_and_provider_failures(self):
        client = self.smtp("plain")
        start = time.monotonic()
        with self.assertRaises(smtplib.SMTPAuthenticationError) as ctx:
            client.login("alice-local", "wrong")
        self.assertEqual(ctx.exception.smtp_code, 535)
        self.assertGreaterEqual(time.monotonic() - start, 0.9)
        client.quit()
        for user, password in (("gone-local", "gone-pw"), ("stale-local", "stale-pw")):
            client = self.smtp("plain")
            with self.assertRaises(smtplib.SMTPAuthenticationError) as ctx:
                client.login(user, password)
            self.assertEqual(ctx.exception.smtp_code, 454)
            self.assertIn(b"4.7.0", ctx.exception.smtp_error)
            client.quit()
        self.assertIn("auth_failed", run_cli("account", "show", "stale", data_dir=self.data).stdout)

    def test_provider_without_starttls_gets_no_credential(self):
        with MisbehavingProvider("smtp", "strip") as fake:
            add_account(self.data, "fake", "fake-local", "fake-pw", ALICE, "provider-secret",
                        "--smtp", f"smtp+starttls://localhost:{fake.port}")
            client = self.smtp("plain")
            with self.assertRaises(smtplib.SMTPAuthenticationError) as ctx:
                client.login("fake-local", "fake-pw")
            self.assertEqual(ctx.exception.smtp_code, 454)
            client.quit()
            verbs = [line.split(" ")[0].upper() for line in fake.received]
            self.assertIn("EHLO", verbs)
            self.assertNotIn("AUTH", verbs)
            self.assertFalse(any("provider-secret" in line for line in fake.received))
        self.assertIn("does not offer STARTTLS", self.gw.log())

    def test_starttls_injection_gets_no_reply(self):
        with socket.create_connection(("127.0.0.1", self.gw.ports["smtp"]), timeout=30) as raw:
            read_reply(raw)
            raw.sendall(b"EHLO x\r\n")
            read_reply(raw)
            raw.sendall(b"STARTTLS\r\nEHLO x\r\n")
            self.assertEqual(read_reply(raw), b"220 2.0.0 Ready to start TLS\r\n")
            tls = self.client_tls.wrap_socket(raw, server_hostname="localhost")
            tls.settimeout(1.5)
            with self.assertRaises(socket.timeout):
                tls.recv(4096)
            tls.settimeout(30)
            tls.sendall(b"MAIL FROM:<alice@example.test>\r\n")
            self.assertTrue(read_reply(tls).startswith(b"503"))  # EHLO state was forgotten
            tls.sendall(b"EHLO y\r\n")
            ehlo = read_reply(tls)
            self.assertIn(b"AUTH PLAIN LOGIN", ehlo)
            self.assertNotIn(b"STARTTLS", ehlo)
            tls.close()

    def test_smuggling_sequences_never_make_two_messages(self):
        sequences = [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r.\r\n", b"\r\n.\r", b"\r\n\x00.\r\n"]
        for seq in sequences:
            with self.subTest(sequence=seq):
                self.rig.empty_mailbox(BOB)
                with socket.create_connection(("127.0.0.1", self.gw.ports["smtp"]), timeout=30) as s:
                    read_reply(s)
                    s.sendall(b"EHLO smuggler\r\n")
                    read_reply(s)
                    s.sendall(b"AUTH PLAIN AGFsaWNlLWxvY2FsAGFsaWNlLXB3\r\n")
                    self.assertTrue(read_reply(s).startswith(b"235"))
                    s.sendall(f"MAIL FROM:<{ALICE}>\r\n".encode())
                    read_reply(s)
                    s.sendall(f"RCPT TO:<{BOB}>\r\n".encode())
                    read_reply(s)
                    s.sendall(b"DATA\r\n")
                    self.assertTrue(read_reply(s).startswith(b"354"))
                    s.sendall(b"Subject: outer\r\n\r\nouter body" + seq +
                              f"MAIL FROM:<{ALICE}>\r\nRCPT TO:<{BOB}>\r\nDATA\r\n".encode() +
                              b"Subject: smuggled\r\n\r\nsmuggled body\r\n.\r\n")
                    verdicts = read_reply(s)
                    s.sendall(b"QUIT\r\n")
                    rest = b""
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        rest += chunk
                self.rig.wait_for_postfix_queue_empty()  # whatever the provider accepted is delivered now
                count = self.rig.mailbox_count(BOB)
                self.assertIn(count, (0, 1), (seq, verdicts, rest))
                if b"\x00" not in seq:
                    self.assertEqual(count, 0, verdicts)  # bare CR/LF: refused whole
                    self.assertTrue(verdicts.startswith(b"554 5.6.0"), verdicts)
                self.assertEqual(verdicts.count(b"250"), 0 if b"\x00" not in seq else 1)

    def test_lf_only_clients_hear_at_once_by_default(self):
        # CRLF commands and LF-only data (a library that builds the message itself): 554 at the LF-only end.
        self.rig.empty_mailbox(BOB)
        with socket.create_connection(("127.0.0.1", self.gw.ports["smtp"]), timeout=30) as s:
            read_reply(s)
            s.sendall(b"EHLO scanner\r\nAUTH PLAIN AGFsaWNlLWxvY2FsAGFsaWNlLXB3\r\n")
            self.assertTrue(read_replies(s, 2)[1].startswith(b"235"))
            s.sendall(f"MAIL FROM:<{ALICE}>\r\nRCPT TO:<{BOB}>\r\nDATA\r\n".encode())
            self.assertTrue(read_replies(s, 3)[2].startswith(b"354"))
            started = time.monotonic()
            s.sendall(b"Subject: scan\n\npage 1\n.\n")
            reply = read_reply(s)
            elapsed = time.monotonic() - started
            print(f"LF-only end of data answered in {elapsed * 1000:.1f} ms")
            self.assertTrue(reply.startswith(b"554 5.6.0"), reply)
            self.assertIn(b"bare LF", reply)
            self.assertLess(elapsed, 1.0)  # not smtp.data_timeout later
            self.assertEqual(s.recv(100), b"")  # closed: nothing after the loose end is taken as commands
        # LF-only commands (old scanners): refused on the first line.
        with socket.create_connection(("127.0.0.1", self.gw.ports["smtp"]), timeout=30) as s:
            read_reply(s)
            s.sendall(b"EHLO scanner\n")
            self.assertTrue(read_reply(s).startswith(b"500 5.5.2 Lines must end with CRLF"))
            self.assertEqual(s.recv(100), b"")
        self.assertEqual(self.rig.mailbox_count(BOB), 0)
        self.assertIsNone(self.gw.proc.poll())

    def test_bare_lf_normalize_delivers_crlf_to_the_provider(self):
        with tempfile.TemporaryDirectory(prefix="mailgate-lf-") as tmp:
            data = os.path.join(tmp, "data")
            add_account(data, "alice", "alice-local", "alice-pw", ALICE, self.rig.users[ALICE],
                        "--smtp", f"smtps://{self.rig.host}:{self.rig.ports['smtps']}")
            with Gateway(data_dir=data, extra_args=["--upstream.ca_file", self.rig.ca_file,
                                                    "--smtp.bare_lf", "normalize"]) as gw:
                with socket.create_connection(("127.0.0.1", gw.ports["smtp"]), timeout=30) as s:
                    read_reply(s)
                    s.sendall(b"EHLO scanner\nAUTH PLAIN AGFsaWNlLWxvY2FsAGFsaWNlLXB3\n"
                              + f"MAIL FROM:<{ALICE}>\nRCPT TO:<{BOB}>\nDATA\n".encode())
                    replies = read_replies(s, 5)
                    self.assertTrue(replies[1].startswith(b"235"), replies)
                    self.assertTrue(replies[4].startswith(b"354"), replies)
                    s.sendall(b"Subject: scan\n\npage 1\n..dotted\nend\r\n.\nQUIT\n")
                    done, bye = read_replies(s, 2)
                    self.assertTrue(done.startswith(b"250"), done)
                    self.assertTrue(bye.startswith(b"221"), bye)
                self.assertIsNone(gw.proc.poll())
        self.assertEqual(self.bodies(BOB, 1), [b"page 1\r\n.dotted\r\nend\r\n"])

    def test_bad_input(self):
        with socket.create_connection(("127.0.0.1", self.gw.ports["smtp"]), timeout=30) as s:
            read_reply(s)
            s.sendall(b"EHLO " + b"x" * 600 + b"\r\nNOOP\r\n")
            long_line, noop = read_replies(s, 2)
            self.assertTrue(long_line.startswith(b"500 5.5.2"))
            self.assertTrue(noop.startswith(b"250"))  # the session goes on
            s.sendall(b"BDAT 10 LAST\r\n")
            self.assertTrue(read_reply(s).startswith(b"502"))
            s.sendall(b"\x00\x01garbage\r\n")
            self.assertTrue(read_reply(s).startswith(b"500"))
            self.assertEqual(s.recv(100), b"")
        with socket.create_connection(("127.0.0.1", self.gw.ports["smtp"]), timeout=30) as s:
            with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
                self.client_tls.wrap_socket(s, server_hostname="localhost")
        self.assertIsNone(self.gw.proc.poll())
        for secret in ("alice-pw", "bob-pw", self.rig.users[ALICE], "outdated-provider-password"):
            self.assertNotIn(secret, self.gw.log())


if __name__ == "__main__":
    unittest.main()
