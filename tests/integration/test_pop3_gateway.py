"""POP3 gateway against the real rig: plaintext, STLS and POP3S clients (poplib, curl, fetchmail), byte-exact large
messages, loss-free DELE semantics, STLS injection, and every failure reply."""

import hashlib
import os
import poplib
import re
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from gateway import Gateway, add_account, add_failure_accounts, run_cli
from rig import ProviderRig

ALICE, BOB = "alice@example.test", "bob@example.test"


def message(subject, body=b"hello\r\n"):
    return b"From: sender@example.test\r\nTo: alice@example.test\r\nSubject: " + subject.encode() + b"\r\n\r\n" + body


def read_until(sock, terminator, limit=64 * 1024 * 1024):
    data = b""
    while not data.endswith(terminator):
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            raise AssertionError("too much data")
    return data


def raw_retr(sock, number):
    """RETR over a raw, logged-in socket: returns the exact bytes of the reply (status line to final dot)."""
    sock.sendall(b"RETR %d\r\n" % number)
    return read_until(sock, b"\r\n.\r\n")


class Pop3Gateway(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-pop3-")
        cls.data = os.path.join(cls.tmp.name, "data")
        p, host = cls.rig.ports, cls.rig.host
        add_account(cls.data, "alice", "alice-local", "alice-pw", ALICE, cls.rig.users[ALICE],
                    "--pop3", f"pop3s://{host}:{p['pop3s']}")
        add_account(cls.data, "bob", "bob-local", "bob-pw", BOB, cls.rig.users[BOB],
                    "--pop3", f"pop3+starttls://{host}:{p['pop3']}")
        add_failure_accounts(cls.data, cls.rig, "pop3", "pop3s", "pop3s")
        add_account(cls.data, "off", "off-local", "off-pw", ALICE, cls.rig.users[ALICE],
                    "--pop3", f"pop3s://{host}:{p['pop3s']}")
        run_cli("account", "disable", "off", data_dir=cls.data, check=True)
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

    def pop3(self, mode="plain"):
        port = self.gw.ports["pop3s" if mode == "pop3s" else "pop3"]
        if mode == "pop3s":
            return poplib.POP3_SSL("127.0.0.1", port, context=self.client_tls, timeout=30)
        client = poplib.POP3("127.0.0.1", port, timeout=30)
        if mode == "stls":
            client.stls(context=self.client_tls)
        return client

    def login(self, mode="plain", user="alice-local", password="alice-pw"):
        client = self.pop3(mode)
        client.user(user)
        client.pass_(password)
        return client

    def test_list_and_retrieve_over_plaintext_stls_and_pop3s(self):
        self.rig.deliver(ALICE, message("first"))
        self.rig.deliver(ALICE, message("second", b"line one\r\n.leading dot\r\n"))
        for mode in ("plain", "stls", "pop3s"):
            with self.subTest(mode=mode):
                client = self.login(mode)
                self.assertEqual(client.stat()[0], 2)
                self.assertEqual(len(client.list()[1]), 2)
                lines = client.retr(2)[1]
                self.assertIn(b"Subject: second", lines)
                self.assertIn(b".leading dot", lines)
                self.assertEqual(len(client.uidl()[1]), 2)
                client.quit()

    def test_user_name_forms_map_to_the_local_user(self):
        self.rig.deliver(BOB, message("for bob"))
        for user in ("bob-local", "BOB-LOCAL", "bob-local@office.lan", "OFFICE\\bob-local"):
            with self.subTest(user=user):
                client = self.login("pop3s", user, "bob-pw")
                self.assertEqual(client.stat()[0], 1)
                client.quit()
        with self.assertRaises(poplib.error_proto):
            self.login("pop3s", "OFFICE\\bob", "bob-pw")  # the part after the domain is the whole name

    def test_starttls_upstream_account(self):
        self.rig.deliver(BOB, message("for bob"))
        client = self.login("pop3s", "bob-local", "bob-pw")
        self.assertIn(b"Subject: for bob", client.retr(1)[1])
        client.quit()

    def test_sasl_plain_and_login_mechanisms(self):
        self.rig.deliver(ALICE, message("sasl"))
        for mechanism in ("PLAIN", "LOGIN"):
            with self.subTest(mechanism=mechanism):
                with socket.create_connection(("127.0.0.1", self.gw.ports["pop3"]), timeout=30) as s:
                    read_until(s, b"\r\n")
                    if mechanism == "PLAIN":
                        s.sendall(b"AUTH PLAIN\r\n")
                        self.assertEqual(read_until(s, b"\r\n"), b"+ \r\n")
                        s.sendall(b"AGFsaWNlLWxvY2FsAGFsaWNlLXB3\r\n")  # \0alice-local\0alice-pw
                    else:
                        s.sendall(b"AUTH LOGIN\r\n")
                        self.assertEqual(read_until(s, b"\r\n"), b"+ VXNlcm5hbWU6\r\n")
                        s.sendall(b"YWxpY2UtbG9jYWw=\r\n")
                        self.assertEqual(read_until(s, b"\r\n"), b"+ UGFzc3dvcmQ6\r\n")
                        s.sendall(b"YWxpY2UtcHc=\r\n")
                    self.assertTrue(read_until(s, b"\r\n").startswith(b"+OK"))
                    s.sendall(b"STAT\r\n")
                    self.assertTrue(read_until(s, b"\r\n").startswith(b"+OK 1 "))
                    s.sendall(b"QUIT\r\n")
                    self.assertTrue(read_until(s, b"\r\n").startswith(b"+OK"))

    def test_curl_lists_and_retrieves(self):
        self.rig.deliver(ALICE, message("via curl", b"curl body\r\n"))
        url = f"pop3://127.0.0.1:{self.gw.ports['pop3']}/"
        listing = subprocess.run(["curl", "-sS", "--max-time", "30", "-u", "alice-local:alice-pw", url],
                                 capture_output=True, text=True)
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertRegex(listing.stdout, r"^1 \d+")
        body = subprocess.run(["curl", "-sS", "--max-time", "30", "-u", "alice-local:alice-pw", url + "1"],
                              capture_output=True, text=True)
        self.assertEqual(body.returncode, 0, body.stderr)
        self.assertIn("Subject: via curl", body.stdout)
        self.assertIn("curl body", body.stdout)
        secure = subprocess.run(["curl", "-sS", "--max-time", "30", "--cacert", self.gw.cert_file, "-u",
                                 "alice-local:alice-pw", f"pop3s://localhost:{self.gw.ports['pop3s']}/1"],
                                capture_output=True, text=True)
        self.assertEqual(secure.returncode, 0, secure.stderr)
        self.assertIn("curl body", secure.stdout)

    def test_twenty_megabyte_message_is_byte_identical(self):
        line = b"0123456789abcdefghijklmnopqrstuvwxyz.ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789\r\n"
        body = b"".join(b"." + line if i % 97 == 0 else line for i in range(20 * 1024 * 1024 // len(line)))
        self.rig.deliver(ALICE, message("big", body))
        direct = socket.create_connection((self.rig.host, self.rig.ports["pop3s"]), timeout=60)
        direct = self.rig.client_context().wrap_socket(direct, server_hostname=self.rig.host)
        read_until(direct, b"\r\n")
        direct.sendall(f"USER {ALICE}\r\nPASS {self.rig.users[ALICE]}\r\n".encode())
        read_until(direct, b"Logged in.\r\n")
        expected = raw_retr(direct, 1)
        direct.close()
        with socket.create_connection(("127.0.0.1", self.gw.ports["pop3"]), timeout=60) as s:
            read_until(s, b"\r\n")
            s.sendall(b"USER alice-local\r\nPASS alice-pw\r\n")  # pipelined
            self.assertTrue(read_until(s, b"+OK Logged in\r\n").endswith(b"+OK Logged in\r\n"))
            got = raw_retr(s, 1)
        self.assertGreater(len(got), 20 * 1024 * 1024)
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(expected).hexdigest())

    def test_dele_then_quit_deletes(self):
        self.rig.deliver(ALICE, message("delete me"))
        client = self.login()
        client.dele(1)
        client.quit()
        self.assertEqual(self.rig.mailbox_count(ALICE), 0)

    def test_dele_then_disconnect_keeps_the_message(self):
        self.rig.deliver(ALICE, message("keep me"))
        with open(self.rig.dovecot_log, "rb") as f:
            log_start = f.seek(0, os.SEEK_END)
        client = self.login()
        # The provider session the gateway opened for this login (Dovecot logs it with its session id).
        session = self.wait_for_dovecot_log(
            log_start, rb"pop3-login: Info: Login: user=<" + ALICE.encode() + rb">.*session=<([^>]+)>").group(1)
        client.dele(1)
        # Vanish without QUIT. close() shuts the socket down; sock.close() alone would leave it open (poplib's
        # makefile() still holds the descriptor), so the gateway would never see the client go.
        client.close()
        # Wait for the provider to end that session (nothing can commit the DELE after that), then check how.
        ended = self.wait_for_dovecot_log(log_start, rb"<" + re.escape(session) + rb">: Info: Disconnected: (.*)")
        self.assertNotIn(b"Logged out", ended.group(1))  # Dovecot's reason after a QUIT
        self.assertEqual(self.rig.mailbox_count(ALICE), 1)

    def wait_for_dovecot_log(self, start, pattern, timeout=30):
        """The first match of regex `pattern` in the rig's Dovecot log after offset `start`, waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            with open(self.rig.dovecot_log, "rb") as f:
                f.seek(start)
                found = re.search(pattern, f.read())
            if found:
                return found
            if time.monotonic() > deadline:
                self.fail(f"no {pattern!r} in the Dovecot log after {timeout}s:\n{self.rig.log_tail()}")
            time.sleep(0.05)

    def test_fetchmail_over_plaintext(self):
        self.rig.deliver(ALICE, message("for fetchmail", b"fetched body\r\n"))
        work = tempfile.TemporaryDirectory(prefix="mailgate-fetchmail-")
        self.addCleanup(work.cleanup)
        out = os.path.join(work.name, "delivered.mbox")
        rc = os.path.join(work.name, "fetchmailrc")
        with open(rc, "w") as f:
            f.write(f'poll 127.0.0.1 service {self.gw.ports["pop3"]} protocol pop3 auth password\n'
                    f'  user "alice-local" password "alice-pw" is "root" here\n'
                    f'  sslproto "" keep\n'
                    f'  mda "/bin/sh -c \'cat >> {out}\'"\n')
        os.chmod(rc, 0o600)
        env = dict(os.environ, HOME=work.name)
        result = subprocess.run(["fetchmail", "-f", rc, "--nosyslog", "--idfile", os.path.join(work.name, "ids"),
                                 "--pidfile", os.path.join(work.name, "pid")],
                                capture_output=True, text=True, env=env, timeout=60)
        self.assertIn(result.returncode, (0,), result.stdout + result.stderr)
        with open(out, "rb") as f:
            delivered = f.read()
        self.assertIn(b"Subject: for fetchmail", delivered)
        self.assertIn(b"fetched body", delivered)
        self.assertEqual(self.rig.mailbox_count(ALICE), 1)  # keep

    def test_stls_injection_is_not_answered(self):
        with socket.create_connection(("127.0.0.1", self.gw.ports["pop3"]), timeout=30) as raw:
            read_until(raw, b"\r\n")
            raw.sendall(b"STLS\r\nCAPA\r\n")  # one write: CAPA must be discarded, not executed after TLS
            self.assertEqual(read_until(raw, b"\r\n"), b"+OK Begin TLS negotiation\r\n")
            tls = self.client_tls.wrap_socket(raw, server_hostname="localhost")
            tls.settimeout(1.5)
            with self.assertRaises(socket.timeout):
                tls.recv(4096)
            tls.settimeout(30)
            # The first reply after TLS must answer this NOOP: an executed CAPA would have answered first.
            tls.sendall(b"NOOP\r\n")
            first = read_until(tls, b"\r\n")
            self.assertNotEqual(first, b"+OK Capability list follows\r\n")
            tls.sendall(b"CAPA\r\n")
            capa = read_until(tls, b"\r\n.\r\n")
            self.assertNotIn(b"STLS", capa)  # no STLS once TLS is up
            self.assertIn(b"SASL PLAIN LOGIN", capa)
            tls.close()

    def test_wrong_local_password(self):
        client = self.pop3()
        client.user("alice-local")
        start = time.monotonic()
        with self.assertRaises(poplib.error_proto) as ctx:
            client.pass_("wrong")
        self.assertGreaterEqual(time.monotonic() - start, 0.9)  # access.failed_login_delay = 1
        self.assertTrue(ctx.exception.args[0].startswith(b"-ERR [AUTH]"), ctx.exception)
        client.user("nobody")
        with self.assertRaises(poplib.error_proto) as unknown:
            client.pass_("x")
        self.assertEqual(unknown.exception.args[0], ctx.exception.args[0])  # no hint whether the user exists
        client.user("alice-local")
        with self.assertRaises(poplib.error_proto):
            client.pass_("wrong again")
        with self.assertRaises((EOFError, ConnectionError, poplib.error_proto)):
            client.user("alice-local")  # closed after the third failure
            client.pass_("alice-pw")
        client.close()

    def test_disabled_account_looks_like_a_wrong_password(self):
        client = self.pop3()
        client.user("off-local")
        with self.assertRaises(poplib.error_proto) as ctx:
            client.pass_("off-pw")
        self.assertEqual(ctx.exception.args[0], b"-ERR [AUTH] Authentication failed")
        client.quit()

    def test_timeouts_before_and_after_login(self):
        with Gateway(data_dir=self.data, extra_args=["--upstream.ca_file", self.rig.ca_file,
                                                     "--pop3.login_timeout", "1", "--pop3.idle_timeout", "2"]) as quick:
            with socket.create_connection(("127.0.0.1", quick.ports["pop3"]), timeout=30) as s:
                read_until(s, b"\r\n")
                start = time.monotonic()
                self.assertEqual(s.recv(100), b"")  # silent client: closed after the login timeout
                self.assertLess(time.monotonic() - start, 10)
            client = poplib.POP3("127.0.0.1", quick.ports["pop3"], timeout=30)
            client.user("alice-local")
            client.pass_("alice-pw")
            time.sleep(0.5)
            client.stat()  # still fine within the idle limit
            start = time.monotonic()
            self.assertEqual(client.sock.recv(100), b"")  # idle: closed after about two seconds
            self.assertGreaterEqual(time.monotonic() - start, 1.5)
            client.close()
            self.assertIn("idle timeout", quick.log())

    def test_provider_down_is_sys_temp(self):
        client = self.pop3()
        client.user("gone-local")
        with self.assertRaises(poplib.error_proto) as ctx:
            client.pass_("gone-pw")
        self.assertTrue(ctx.exception.args[0].startswith(b"-ERR [SYS/TEMP]"), ctx.exception)
        client.quit()

    def test_provider_rejects_stored_credential_is_sys_perm_and_recorded(self):
        client = self.pop3()
        client.user("stale-local")
        with self.assertRaises(poplib.error_proto) as ctx:
            client.pass_("stale-pw")
        self.assertTrue(ctx.exception.args[0].startswith(b"-ERR [SYS/PERM]"), ctx.exception)
        client.quit()
        shown = run_cli("account", "show", "stale", data_dir=self.data, check=True).stdout
        self.assertIn("auth_failed", shown)

    def test_untrusted_provider_certificate_is_sys_temp(self):
        with Gateway(data_dir=self.data) as untrusting:  # no upstream.ca_file: the rig's CA is unknown
            client = poplib.POP3("127.0.0.1", untrusting.ports["pop3"], timeout=30)
            client.user("alice-local")
            with self.assertRaises(poplib.error_proto) as ctx:
                client.pass_("alice-pw")
            self.assertTrue(ctx.exception.args[0].startswith(b"-ERR [SYS/TEMP]"), ctx.exception)
            client.quit()
            self.assertIn("certificate verification failed", untrusting.log())

    def test_plaintext_login_refused_outside_plaintext_auth(self):
        with Gateway(data_dir=self.data, extra_args=["--upstream.ca_file", self.rig.ca_file,
                                                     "--access.plaintext_auth", "10.0.0.0/8"]) as strict:
            client = poplib.POP3("127.0.0.1", strict.ports["pop3"], timeout=30)
            with self.assertRaises(poplib.error_proto) as ctx:
                client.user("alice-local")
            self.assertIn(b"[AUTH]", ctx.exception.args[0])
            self.assertIn(b"STLS", ctx.exception.args[0])
            client.stls(context=ssl.create_default_context(cafile=strict.cert_file))
            client.user("alice-local")
            client.pass_("alice-pw")
            client.quit()

    def test_bad_input_is_closed_cleanly(self):
        port = self.gw.ports["pop3"]
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            read_until(s, b"\r\n")
            s.sendall(b"USER " + b"x" * 300 + b"\r\n")
            self.assertTrue(read_until(s, b"\r\n").startswith(b"-ERR"))
            self.assertEqual(s.recv(100), b"")  # closed
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            read_until(s, b"\r\n")
            s.sendall(b"\x00\xff\xfe garbage \x01\x02\r\n")
            self.assertTrue(read_until(s, b"\r\n").startswith(b"-ERR"))
            self.assertEqual(s.recv(100), b"")
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:  # a POP3S client on the plain port
            with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
                ssl.create_default_context(cafile=self.gw.cert_file).wrap_socket(s, server_hostname="localhost")
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            read_until(s, b"\r\n")
            s.sendall(b"STAT\r\nAPOP alice-local 0123456789abcdef0123456789abcdef\r\nQUIT\r\n")
            replies = read_until(s, b"signing off\r\n")
            self.assertEqual(replies.count(b"-ERR"), 2)
        self.assertEqual(self.gw.proc.poll(), None)  # still running
        client = self.login()
        client.quit()

    def test_logs_never_contain_passwords(self):
        client = self.login()
        client.quit()
        log = self.gw.log()
        for secret in ("alice-pw", self.rig.users[ALICE], "outdated-provider-password", "bob-pw"):
            self.assertNotIn(secret, log)
        self.assertIn("logged in as account 'alice'", log)


if __name__ == "__main__":
    unittest.main()
