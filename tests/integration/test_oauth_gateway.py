"""OAuth2 upstream logins end to end: a real authorization server (oidc-provider) and a Dovecot/Postfix that accept
its tokens (XOAUTH2/OAUTHBEARER via introspection); the gateway between them and real clients; consent through the
CLI (device flow and code + PKCE with a pasted redirect) while the gateway runs."""

import imaplib
import json
import os
import poplib
import re
import smtplib
import subprocess
import tempfile
import threading
import time
import unittest

from gateway import MAILGATE_BIN, Gateway, run_cli
from oauth_rig import OAuthServer
from rig import ProviderRig

ALICE, BOB, CAROL = "alice@example.test", "bob@example.test", "carol@example.test"
USERS = {ALICE: "alice-pw", BOB: "bob-pw", CAROL: "carol-pw"}


def refreshes(oauth, since=0):
    """Token requests with grant_type refresh_token, after the first `since` token requests."""
    return [r for r in oauth.token_requests()[since:] if r.get("grant_type") == "refresh_token"]


class OAuthGateway(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.oauth = OAuthServer(access_token_ttl=3600)
        cls.rig = ProviderRig(users=USERS, oauth=cls.oauth).start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-oauth-")
        cls.data = os.path.join(cls.tmp.name, "data")
        cls.config = os.path.join(cls.tmp.name, "mailgate.conf")
        o = cls.oauth
        common = (f"token_url = {o.token_url}\ndevice_url = {o.device_authorization_url}\n"
                  f"authorize_url = {o.authorization_url}\nscope = offline_access mail\n")
        with open(cls.config, "w") as f:
            f.write(f"[oauth.test]\nclient_id = {o.clients['public']['client_id']}\n{common}")
            f.write(f"[oauth.bearer]\nclient_id = {o.clients['public']['client_id']}\nmechanism = oauthbearer\n{common}")
            f.write(f"[oauth.private]\nclient_id = {o.clients['confidential_post']['client_id']}\n"
                    f"client_secret = {o.clients['confidential_post']['client_secret']}\n{common}")
        cls.gw = cls.start_gateway()

    @classmethod
    def start_gateway(cls):
        return Gateway(data_dir=cls.data, extra_args=["--config", cls.config, "--upstream.ca_file", cls.rig.ca_file,
                                                      "--access.failed_login_delay", "0"]).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.rig.stop()
        cls.tmp.cleanup()

    # ------------------------------------------------------------------ helpers
    def cli(self, *args, check=True, **kw):
        return run_cli(*args, "--config", self.config, "--upstream.ca_file", self.rig.ca_file, data_dir=self.data,
                       check=check, **kw)

    def add(self, name, user, client="test", imap="imaps", pop3="pop3+starttls", smtp="smtp+starttls"):
        h, p = self.rig.host, self.rig.ports
        ports = {"imaps": p["imaps"], "imap+starttls": p["imap"], "pop3s": p["pop3s"], "pop3+starttls": p["pop3"],
                 "smtps": p["smtps"], "smtp+starttls": p["submission"]}
        run_cli("account", "add", name, "--local-user", f"{name}-local", "--remote-user", user, "--auth", "oauth2",
                "--oauth-client", client, "--imap", f"{imap}://{h}:{ports[imap]}", "--pop3",
                f"{pop3}://{h}:{ports[pop3]}", "--smtp", f"{smtp}://{h}:{ports[smtp]}", "--config", self.config,
                data_dir=self.data, env={"MAILGATE_LOCAL_PASSWORD": f"{name}-pw"}, check=True)

    def consent_device(self, name, user):
        """`mailgate account oauth NAME --device` while the gateway runs; the user approves on "another device"."""
        proc = subprocess.Popen([MAILGATE_BIN, "account", "oauth", name, "--device", "--data-dir", self.data,
                                 "--config", self.config, "--upstream.ca_file", self.rig.ca_file],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
        out = ""
        try:
            deadline = time.monotonic() + 30
            while "Waiting up to" not in out and time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                out += line
            code = re.search(r"enter the code\n  (\S+)\n", out)
            self.assertIsNotNone(code, out)
            self.oauth.approve_device_code(code.group(1), user)
            rest, _ = proc.communicate(timeout=60)
            out += rest
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 0, out)
        return out

    def show(self, name):
        accounts = json.loads(self.cli("account", "list", "--json").stdout)
        return next(a for a in accounts if a["name"] == name)

    def imap_login(self, name):
        client = imaplib.IMAP4("127.0.0.1", self.gw.ports["imap"], timeout=60)
        client.login(f"{name}-local", f"{name}-pw")
        return client

    def revoke_current_access_tokens(self, user):
        """Revokes what the provider would accept for `user` right now, leaving refresh tokens alone."""
        for entry in self.oauth.introspections_active(user) if hasattr(self.oauth, "introspections_active") else []:
            self.oauth.revoke(entry)

    # ------------------------------------------------------------------ tests
    def test_device_consent_then_imap_pop3_smtp_over_both_tls_modes(self):
        self.add("dev", ALICE, imap="imaps", pop3="pop3+starttls", smtp="smtp+starttls")
        self.assertEqual(self.show("dev")["oauth"]["state"], "needs_consent")
        out = self.consent_device("dev", ALICE)
        self.assertIn("consent stored", out)
        self.assertIn("provider login with the new token works", out)
        account = self.show("dev")
        self.assertEqual(account["oauth"]["state"], "ok")
        self.assertTrue(account["oauth"]["has_refresh_token"])
        imap = self.imap_login("dev")
        self.assertEqual(imap.select("INBOX")[0], "OK")
        imap.logout()
        pop = poplib.POP3("127.0.0.1", self.gw.ports["pop3"], timeout=60)
        pop.user("dev-local")
        pop.pass_("dev-pw")
        pop.stat()
        pop.quit()
        with smtplib.SMTP("127.0.0.1", self.gw.ports["smtp"], timeout=60) as smtp:
            smtp.login("dev-local", "dev-pw")
            smtp.sendmail(ALICE, [BOB], b"Subject: via oauth\r\n\r\nhello\r\n")
        self.rig.wait_for_messages(BOB, 1)

    def test_paste_consent_with_pkce_and_oauthbearer_over_implicit_tls(self):
        self.add("pasted", CAROL, client="bearer", imap="imaps", pop3="pop3s", smtp="smtps")
        proc = subprocess.Popen([MAILGATE_BIN, "account", "oauth", "pasted", "--paste", "--data-dir", self.data,
                                 "--config", self.config, "--upstream.ca_file", self.rig.ca_file],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.PIPE, text=True)
        out = ""
        try:
            while "Paste that whole address" not in out:
                line = proc.stdout.readline()
                self.assertTrue(line, out)
                out += line
            url = re.search(r"\n\n  (https://\S+)\n", out).group(1)
            self.assertIn("code_challenge_method=S256", url)
            redirected = self.oauth.authorize(url, CAROL)
            self.assertTrue(redirected.startswith("http://127.0.0.1:"), redirected)
            rest, _ = proc.communicate(redirected + "\n", timeout=60)
            out += rest
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 0, out)
        self.assertIn("provider login with the new token works", out)
        imap = imaplib.IMAP4("127.0.0.1", self.gw.ports["imap"], timeout=60)
        imap.login("pasted-local", "pasted-pw")
        imap.logout()
        pop = poplib.POP3("127.0.0.1", self.gw.ports["pop3"], timeout=60)
        pop.user("pasted-local")
        pop.pass_("pasted-pw")
        pop.quit()
        with smtplib.SMTP("127.0.0.1", self.gw.ports["smtp"], timeout=60) as smtp:
            smtp.login("pasted-local", "pasted-pw")

    def test_paste_with_a_foreign_state_is_refused(self):
        self.add("foreign", ALICE)
        url, _ = self.oauth.authorization_request_url("public", redirect_uri="http://127.0.0.1:8080/oauth/callback")
        other = self.oauth.authorize(url, ALICE)  # a code for another request
        result = subprocess.run([MAILGATE_BIN, "account", "oauth", "foreign", "--paste", "--data-dir", self.data,
                                 "--config", self.config], input=other + "\n", capture_output=True, text=True,
                                timeout=60)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("state differs", result.stderr)
        self.assertEqual(self.show("foreign")["oauth"]["state"], "needs_consent")

    def test_needs_consent_fails_fast_without_token_requests(self):
        self.add("waiting", ALICE)
        before = len(self.oauth.token_requests())
        start = time.monotonic()
        client = imaplib.IMAP4("127.0.0.1", self.gw.ports["imap"], timeout=60)
        with self.assertRaises(imaplib.IMAP4.error) as ctx:
            client.login("waiting-local", "waiting-pw")
        self.assertIn("UNAVAILABLE", str(ctx.exception))
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(len(self.oauth.token_requests()), before)
        self.assertIn("account 'waiting'", self.gw.log())


if __name__ == "__main__":
    unittest.main()
