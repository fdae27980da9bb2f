"""APOP and CRAM-MD5 against the real rig, with the real clients that speak them: poplib's apop, imaplib's
login_cram_md5, smtplib (which picks CRAM-MD5 itself when offered), curl, fetchmail and msmtp. Per account and off by
default: an account without the option is refused with a hint in the log; nothing is advertised while no account
allows them, nor over TLS unless auth.challenge_logins_over_tls is set; the CLI and the admin API switch them and a
running gateway notices within seconds. Outlook's SPA (NTLM) is refused in a way that lets the client fall back."""

import base64
import hashlib
import hmac
import imaplib
import os
import poplib
import re
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from admin_client import AdminClient, admin_password
from gateway import Gateway, add_account, read_line, run_cli
from rig import ProviderRig

ALICE = "alice@example.test"
BOB = "bob@example.test"
TIMESTAMP = re.compile(rb"<[^<>@\s]+@[^<>@\s]+>")


def message(subject, body=b"challenge login body\r\n"):
    return (f"From: {ALICE}\r\nTo: {ALICE}\r\nSubject: {subject}\r\n\r\n").encode() + body


def cram_answer(user, password, challenge_b64):
    challenge = base64.b64decode(challenge_b64)
    digest = hmac.new(password.encode(), challenge, hashlib.md5).hexdigest()
    return base64.b64encode(f"{user} {digest}".encode()).decode()


class ChallengeLogins(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-challenge-")
        cls.data = os.path.join(cls.tmp.name, "data")
        p, host = cls.rig.ports, cls.rig.host
        cls.endpoints = ["--imap", f"imaps://{host}:{p['imaps']}", "--pop3", f"pop3s://{host}:{p['pop3s']}",
                         "--smtp", f"smtps://{host}:{p['smtps']}"]
        add_account(cls.data, "legacy", "legacy-local", "legacy-pw", ALICE, cls.rig.users[ALICE], *cls.endpoints,
                    "--sender", ALICE, "--challenge-logins")
        add_account(cls.data, "plain", "plain-local", "plain-pw", BOB, cls.rig.users[BOB], *cls.endpoints,
                    "--sender", BOB)
        cls.common = ["--upstream.ca_file", cls.rig.ca_file, "--smtp.spool", "off",
                      "--access.failed_login_delay", "0"]
        cls.gw = Gateway(data_dir=cls.data, extra_args=cls.common).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.rig.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self.rig.empty_mailbox(ALICE)

    def work_dir(self):
        work = tempfile.TemporaryDirectory(prefix="mailgate-challenge-client-")
        self.addCleanup(work.cleanup)
        return work.name

    def wait_for_log(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while text not in self.gw.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertIn(text, self.gw.log())

    # ---- POP3 APOP ----

    def test_apop_with_poplib_curl_and_fetchmail(self):
        self.rig.deliver(ALICE, message("apop"))
        pop = poplib.POP3("127.0.0.1", self.gw.ports["pop3"], timeout=60)
        self.assertRegex(pop.getwelcome(), TIMESTAMP)
        self.assertTrue(pop.apop("legacy-local", "legacy-pw").startswith(b"+OK"))
        self.assertEqual(pop.stat()[0], 1)
        self.assertIn(b"Subject: apop", b"\r\n".join(pop.retr(1)[1]))
        pop.quit()

        listing = subprocess.run(["curl", "-sS", "--max-time", "30", "--login-options", "AUTH=+APOP", "--user",
                                  "legacy-local:legacy-pw", f"pop3://127.0.0.1:{self.gw.ports['pop3']}/"],
                                 capture_output=True, timeout=60)
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertRegex(listing.stdout, rb"^1 \d+\r?\n$")

        work = self.work_dir()
        out = os.path.join(work, "delivered")
        os.mkdir(out)
        rc = os.path.join(work, "fetchmailrc")
        with open(rc, "w") as f:
            f.write(f'poll 127.0.0.1 service {self.gw.ports["pop3"]} protocol APOP\n'
                    f'  user "legacy-local" password "legacy-pw" is "root" here\n'
                    f'  sslproto "" keep\n  mda "/bin/sh -c \'cat > {out}/$$.eml\'"\n')
        os.chmod(rc, 0o600)
        r = subprocess.run(["fetchmail", "-f", rc, "--nosyslog", "-v", "--pidfile", os.path.join(work, "pid")],
                           capture_output=True, text=True, env=dict(os.environ, HOME=work), timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("APOP legacy-local", r.stdout + r.stderr)  # fetchmail -v shows what it sent
        got = []
        for name in os.listdir(out):
            with open(os.path.join(out, name), "rb") as f:
                got.append(f.read())
        self.assertEqual(len(got), 1)
        self.assertIn(b"Subject: apop", got[0])

    def test_wrong_apop_digests_fail_count_and_close(self):
        pop = poplib.POP3("127.0.0.1", self.gw.ports["pop3"], timeout=60)
        for _ in range(2):
            with self.assertRaises(poplib.error_proto) as e:
                pop.apop("legacy-local", "not-the-password")
            self.assertIn(b"[AUTH] Authentication failed", e.exception.args[0])
        with self.assertRaises(poplib.error_proto):
            pop.apop("legacy-local", "still-wrong")
        # max failures reached: the gateway closes the connection
        with self.assertRaises((poplib.error_proto, OSError, EOFError)):
            pop.noop()
        pop.close()
        self.wait_for_log("local login failed for user 'legacy-local'")
        self.assertNotIn("not-the-password", self.gw.log())
        self.assertIsNone(self.gw.proc.poll())

    def test_an_account_without_the_option_is_refused_with_a_hint(self):
        pop = poplib.POP3("127.0.0.1", self.gw.ports["pop3"], timeout=60)
        with self.assertRaises(poplib.error_proto):
            pop.apop("plain-local", "plain-pw")
        pop.user("plain-local")  # the same connection, a normal password: works
        pop.pass_("plain-pw")
        pop.quit()
        self.wait_for_log("APOP/CRAM-MD5 is not allowed for this account")
        with imaplib.IMAP4("127.0.0.1", self.gw.ports["imap"], timeout=60) as imap:
            with self.assertRaises(imaplib.IMAP4.error):
                imap.login_cram_md5("plain-local", "plain-pw")

    # ---- CRAM-MD5 on the three protocols ----

    def test_cram_md5_pop3_imap_with_python_and_curl(self):
        self.rig.deliver(ALICE, message("cram"))
        pop = poplib.POP3("127.0.0.1", self.gw.ports["pop3"], timeout=60)
        self.assertIn("CRAM-MD5", pop.capa().get("SASL", []))
        challenge = pop._shortcmd("AUTH CRAM-MD5")
        self.assertTrue(challenge.startswith(b"+ "), challenge)
        self.assertTrue(pop._shortcmd(cram_answer("legacy-local", "legacy-pw", challenge[2:])).startswith(b"+OK"))
        self.assertEqual(pop.stat()[0], 1)
        pop.quit()

        with imaplib.IMAP4("127.0.0.1", self.gw.ports["imap"], timeout=60) as imap:
            self.assertIn("AUTH=CRAM-MD5", imap.capabilities)
            self.assertEqual(imap.login_cram_md5("LAN\\legacy-local", "legacy-pw")[0], "OK")  # DOMAIN\user form
            self.assertEqual(imap.select("INBOX"), ("OK", [b"1"]))

        for url in (f"pop3://127.0.0.1:{self.gw.ports['pop3']}/", f"imap://127.0.0.1:{self.gw.ports['imap']}/INBOX"):
            r = subprocess.run(["curl", "-sS", "--max-time", "30", "-v", "--login-options", "AUTH=CRAM-MD5",
                                "--user", "legacy-local:legacy-pw", url], capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(b"CRAM-MD5", r.stderr)  # curl -v shows the AUTH/AUTHENTICATE line it sent
        # Without --login-options curl picks the strongest offered mechanism, which is CRAM-MD5 here.
        r = subprocess.run(["curl", "-sS", "--max-time", "30", "-v", "--user", "legacy-local:legacy-pw",
                            f"imap://127.0.0.1:{self.gw.ports['imap']}/"], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"AUTHENTICATE CRAM-MD5", r.stderr)

    def test_cram_md5_smtp_with_smtplib_and_msmtp(self):
        with smtplib.SMTP("127.0.0.1", self.gw.ports["smtp"], timeout=60) as s:
            s.ehlo("scanner.lan")
            self.assertIn("CRAM-MD5", s.esmtp_features["auth"])
            code, _ = s.login("legacy-local", "legacy-pw")  # smtplib prefers CRAM-MD5 when offered
            self.assertEqual(code, 235)
            s.sendmail(ALICE, [ALICE], message("smtplib cram"))
        work = self.work_dir()
        rc = os.path.join(work, "msmtprc")
        with open(rc, "w") as f:
            f.write(f"account gw\nhost 127.0.0.1\nport {self.gw.ports['smtp']}\ntls off\nauth cram-md5\n"
                    f"user legacy-local\npassword legacy-pw\nfrom {ALICE}\naccount default : gw\n")
        os.chmod(rc, 0o600)
        r = subprocess.run(["msmtp", "-C", rc, "-v", ALICE], input=message("msmtp cram"), capture_output=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(b"AUTH CRAM-MD5", r.stdout + r.stderr)
        self.rig.wait_for_messages(ALICE, 2, timeout=30)

    # ---- Where they are offered ----

    def test_not_advertised_over_tls_unless_asked_but_accepted(self):
        ctx = ssl.create_default_context(cafile=self.gw.cert_file)
        ctx.check_hostname = False
        pop = poplib.POP3_SSL("127.0.0.1", self.gw.ports["pop3s"], context=ctx, timeout=60)
        self.assertNotRegex(pop.getwelcome(), TIMESTAMP)
        self.assertNotIn("CRAM-MD5", pop.capa().get("SASL", []))
        pop.quit()
        with imaplib.IMAP4_SSL("127.0.0.1", self.gw.ports["imaps"], ssl_context=ctx, timeout=60) as imap:
            self.assertNotIn("AUTH=CRAM-MD5", imap.capabilities)
            self.assertEqual(imap.login_cram_md5("legacy-local", "legacy-pw")[0], "OK")  # a client that insists
        with smtplib.SMTP_SSL("127.0.0.1", self.gw.ports["smtps"], context=ctx, timeout=60) as s:
            s.ehlo("pc.lan")
            self.assertNotIn("CRAM-MD5", s.esmtp_features["auth"])

        with Gateway(data_dir=self.data, extra_args=[*self.common, "--auth.challenge_logins_over_tls", "true"]) as gw:
            pop = poplib.POP3_SSL("127.0.0.1", gw.ports["pop3s"], context=ctx, timeout=60)
            self.assertRegex(pop.getwelcome(), TIMESTAMP)
            self.assertTrue(pop.apop("legacy-local", "legacy-pw").startswith(b"+OK"))
            pop.quit()
            with smtplib.SMTP_SSL("127.0.0.1", gw.ports["smtps"], context=ctx, timeout=60) as s:
                s.ehlo("pc.lan")
                self.assertIn("CRAM-MD5", s.esmtp_features["auth"])

    def greeting_has_timestamp(self, port):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            return TIMESTAMP.search(read_line(sock)) is not None

    def wait_for_greeting(self, port, with_timestamp, timeout=15):
        deadline = time.monotonic() + timeout
        while self.greeting_has_timestamp(port) != with_timestamp:
            self.assertLess(time.monotonic(), deadline, f"greeting timestamp still {not with_timestamp}")
            time.sleep(0.5)

    def test_the_cli_switches_them_and_the_running_gateway_follows(self):
        port = self.gw.ports["pop3"]
        self.assertTrue(self.greeting_has_timestamp(port))
        env = dict(os.environ, MAILGATE_LOCAL_PASSWORD="legacy-pw")
        try:
            r = run_cli("account", "set", "legacy", "--challenge-logins", "off", data_dir=self.data)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            shown = run_cli("account", "show", "legacy", data_dir=self.data).stdout
            self.assertRegex(shown, r"apop/cram:\s+no")
            # No account allows them now: nothing is offered any more, on any protocol.
            self.wait_for_greeting(port, False)
            with imaplib.IMAP4("127.0.0.1", self.gw.ports["imap"], timeout=60) as imap:
                self.assertNotIn("AUTH=CRAM-MD5", imap.capabilities)
            r = run_cli("account", "set", "legacy", "--challenge-logins", "on", data_dir=self.data)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("passwd", r.stdout + r.stderr)  # turning on needs the password
        finally:
            r = run_cli("account", "passwd", "legacy", "--challenge-logins", "on", data_dir=self.data, env=env)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertNotIn("legacy-pw", r.stdout + r.stderr)
        self.wait_for_greeting(port, True)
        pop = poplib.POP3("127.0.0.1", port, timeout=60)
        self.assertTrue(pop.apop("legacy-local", "legacy-pw").startswith(b"+OK"))
        pop.quit()

    def test_the_admin_api_adds_shows_and_switches_them(self):
        c = AdminClient(self.gw.ports["admin"])
        self.assertEqual(c.login(admin_password(self.gw.banner))[0].status, 200)
        body = {"name": "printer", "local_user": "printer-local", "local_password": "printer-pw",
                "remote_user": BOB, "remote_password": self.rig.users[BOB], "provider": "custom",
                "pop3": f"pop3s://{self.rig.host}:{self.rig.ports['pop3s']}", "challenge_logins": True}
        response, payload, data = c.request("POST", "/api/v1/accounts", body)
        self.assertEqual(response.status, 201, payload)
        self.addCleanup(c.request, "DELETE", "/api/v1/accounts/printer")
        self.assertTrue(data["challenge_logins"])
        self.assertNotIn(b"printer-pw", payload)
        pop = poplib.POP3("127.0.0.1", self.gw.ports["pop3"], timeout=60)
        self.assertTrue(pop.apop("printer-local", "printer-pw").startswith(b"+OK"))
        pop.quit()

        response, payload, _ = c.request("PUT", "/api/v1/accounts/printer", {"challenge_logins": True})
        self.assertEqual(response.status, 400, payload)  # turning on needs the password
        self.assertIn(b"password", payload)
        response, payload, data = c.request("PUT", "/api/v1/accounts/printer", {"challenge_logins": False})
        self.assertEqual(response.status, 200, payload)
        self.assertFalse(data["challenge_logins"])
        pop = poplib.POP3("127.0.0.1", self.gw.ports["pop3"], timeout=60)
        with self.assertRaises(poplib.error_proto):
            pop.apop("printer-local", "printer-pw")
        pop.quit()

        response, payload, _ = c.request("POST", "/api/v1/accounts/printer/password",
                                         {"local": "printer-pw-2", "challenge_logins": True})
        self.assertEqual(response.status, 200, payload)
        response, payload, data = c.request("GET", "/api/v1/accounts/printer")
        self.assertTrue(data["challenge_logins"], payload)
        pop = poplib.POP3("127.0.0.1", self.gw.ports["pop3"], timeout=60)
        self.assertTrue(pop.apop("printer-local", "printer-pw-2").startswith(b"+OK"))
        pop.quit()

    # ---- Outlook's SPA ----

    def test_ntlm_is_refused_so_the_client_falls_back(self):
        with socket.create_connection(("127.0.0.1", self.gw.ports["imap"]), timeout=10) as s:
            read_line(s)
            s.sendall(b"a AUTHENTICATE NTLM\r\n")
            self.assertTrue(read_line(s).startswith(b"a NO [CANNOT]"))
            s.sendall(b"b LOGIN legacy-local legacy-pw\r\n")
            self.assertTrue(read_line(s).startswith(b"b OK"))
        with socket.create_connection(("127.0.0.1", self.gw.ports["pop3"]), timeout=10) as s:
            read_line(s)
            s.sendall(b"AUTH NTLM\r\n")
            self.assertTrue(read_line(s).startswith(b"-ERR [AUTH] Unsupported"))
            s.sendall(b"USER legacy-local\r\n")
            read_line(s)
            s.sendall(b"PASS legacy-pw\r\n")
            self.assertTrue(read_line(s).startswith(b"+OK"))
        with smtplib.SMTP("127.0.0.1", self.gw.ports["smtp"], timeout=60) as s:
            s.ehlo("outlook.lan")
            self.assertNotIn("NTLM", s.esmtp_features["auth"])
            self.assertEqual(s.docmd("AUTH", "NTLM")[0], 504)
            s.user, s.password = "legacy-local", "legacy-pw"
            self.assertEqual(s.auth("PLAIN", s.auth_plain)[0], 235)


if __name__ == "__main__":
    unittest.main()
