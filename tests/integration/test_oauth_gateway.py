"""OAuth2 upstream logins end to end: a real authorization server (oidc-provider) and a Dovecot/Postfix that accept
its tokens (XOAUTH2/OAUTHBEARER via introspection); the gateway between them and real clients; consent through the
CLI (device flow and code + PKCE with a pasted redirect) while the gateway runs."""

import imaplib
import json
import os
import poplib
import re
import smtplib
import sqlite3
import subprocess
import tempfile
import time
import unittest

from gateway import MAILGATE_BIN, Gateway, at_once, run_cli
from oauth_rig import OAuthServer
from rig import ProviderRig

ALICE, BOB, CAROL = "alice@example.test", "bob@example.test", "carol@example.test"
# One provider user per test that changes what the provider accepts for its user (revocations, grants).
OTHERS = ["dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "kate"]
USERS = {ALICE: "alice-pw", BOB: "bob-pw", CAROL: "carol-pw", **{f"{n}@example.test": f"{n}-pw" for n in OTHERS}}
# Opaque tokens of the test AS are base64url; nothing the gateway logs legitimately is such a long run.
TOKEN_LIKE = re.compile(r"[A-Za-z0-9_-]{40,}")


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
                                                      "--access.failed_login_delay", "0",
                                                      # 20 logins at once from one address are no attack here
                                                      "--auth.free_failures", "100", "--auth.max_failures", "200"]
                       ).__enter__()

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
                f"{pop3}://{h}:{ports[pop3]}", "--smtp", f"{smtp}://{h}:{ports[smtp]}",
                # A Sent copy would log in again with the token in the background and skew the refresh counts.
                "--save-sent", "never", "--config", self.config,
                data_dir=self.data, env={"MAILGATE_LOCAL_PASSWORD": f"{name}-pw"}, check=True)

    def consent(self, name, mode, until, answer):
        """`mailgate account oauth NAME --MODE` while the gateway runs: reads its output up to the line containing
        `until`, then `answer(output)` acts as the user would and returns what to type (or None). Returns the output;
        the command must succeed."""
        proc = subprocess.Popen([MAILGATE_BIN, "account", "oauth", name, f"--{mode}", "--data-dir", self.data,
                                 "--config", self.config, "--upstream.ca_file", self.rig.ca_file],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.PIPE, text=True)
        out = ""
        try:
            deadline = time.monotonic() + 30
            while until not in out and time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                out += line
            self.assertIn(until, out)
            typed = answer(out)
            rest, _ = proc.communicate(None if typed is None else typed + "\n", timeout=60)
            out += rest
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 0, out)
        return out

    def consent_device(self, name, user):
        """The device flow; the user approves on "another device"."""
        def approve(out):
            code = re.search(r"enter the code\n  (\S+)\n", out)
            self.assertIsNotNone(code, out)
            self.oauth.approve_device_code(code.group(1), user)
        return self.consent(name, "device", "Waiting up to", approve)

    def show(self, name):
        accounts = json.loads(self.cli("account", "list", "--json").stdout)
        return next(a for a in accounts if a["name"] == name)

    def imap_login(self, name):
        client = imaplib.IMAP4("127.0.0.1", self.gw.ports["imap"], timeout=60)
        client.login(f"{name}-local", f"{name}-pw")
        return client

    def ready(self, name):
        """An oauth2 account `name` for provider user name@example.test, consented (device flow)."""
        self.add(name, f"{name}@example.test", imap="imap+starttls")
        self.consent_device(name, f"{name}@example.test")
        return f"{name}@example.test"

    def login_fails_unavailable(self, name):
        client = imaplib.IMAP4("127.0.0.1", self.gw.ports["imap"], timeout=60)
        with self.assertRaises(imaplib.IMAP4.error) as ctx:
            client.login(f"{name}-local", f"{name}-pw")
        self.assertIn("UNAVAILABLE", str(ctx.exception))
        client.shutdown()

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
        tested = self.cli("account", "test", "dev")  # the connection test uses the token too
        self.assertIn("all checks passed", tested.stdout)
        refused = self.cli("account", "passwd", "dev", "--remote", check=False, env={"MAILGATE_REMOTE_PASSWORD": "x"})
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("OAuth2", refused.stderr)

    def test_paste_consent_with_pkce_and_oauthbearer_over_implicit_tls(self):
        self.add("pasted", CAROL, client="bearer", imap="imaps", pop3="pop3s", smtp="smtps")
        def sign_in(out):
            url = re.search(r"\n\n  (https://\S+)\n", out).group(1)
            self.assertIn("code_challenge_method=S256", url)
            redirected = self.oauth.authorize(url, CAROL)
            self.assertTrue(redirected.startswith("http://127.0.0.1:"), redirected)
            return redirected
        out = self.consent("pasted", "paste", "Paste that whole address", sign_in)
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

    def test_an_authorization_server_with_an_untrusted_certificate_is_never_used(self):
        with OAuthServer(rig=self.rig, ca="other") as untrusted:
            config = os.path.join(self.tmp.name, "untrusted.conf")
            with open(self.config) as f, open(config, "w") as out:
                out.write(f.read() + f"[oauth.untrusted]\nclient_id = {untrusted.clients['public']['client_id']}\n"
                          f"token_url = {untrusted.token_url}\ndevice_url = {untrusted.device_authorization_url}\n"
                          "scope = offline_access mail\n")
            h, p = self.rig.host, self.rig.ports
            run_cli("account", "add", "untrusting", "--local-user", "untrusting-local", "--remote-user", ALICE,
                    "--auth", "oauth2", "--oauth-client", "untrusted", "--imap", f"imaps://{h}:{p['imaps']}",
                    "--config", config, data_dir=self.data, env={"MAILGATE_LOCAL_PASSWORD": "pw"}, check=True)
            result = run_cli("account", "oauth", "untrusting", "--device", "--config", config,
                             "--upstream.ca_file", self.rig.ca_file, data_dir=self.data)
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("certificate verification failed", result.stderr)
            self.assertEqual(untrusted.log_entries("device_authorization"), [])  # no request reached it

    def test_needs_consent_fails_fast_without_token_requests(self):
        self.add("waiting", ALICE)
        before = len(self.oauth.token_requests())
        start = time.monotonic()
        client = imaplib.IMAP4("127.0.0.1", self.gw.ports["imap"], timeout=60)
        with self.assertRaises(imaplib.IMAP4.error) as ctx:
            client.login("waiting-local", "waiting-pw")
        self.assertIn("UNAVAILABLE", str(ctx.exception))
        self.assertLess(time.monotonic() - start, 5, self.gw.log()[-3000:])
        self.assertEqual(len(self.oauth.token_requests()), before)
        self.assertIn("account 'waiting'", self.gw.log())

    def test_refused_access_token_is_refreshed_and_the_login_retried(self):
        user = self.ready("dave")
        self.imap_login("dave").logout()
        self.assertGreater(self.oauth.revoke_access_tokens(user), 0)
        before = len(self.oauth.token_requests())
        imap = self.imap_login("dave")  # the provider refuses the token, the gateway refreshes and tries again
        self.assertEqual(imap.select("INBOX")[0], "OK")
        imap.logout()
        done = refreshes(self.oauth, before)
        self.assertEqual([r["result"] for r in done], ["ok"], done)
        self.assertIn("refused the OAuth2 access token", self.gw.log())

    def test_3000_byte_token_through_pop3_and_smtp_after_the_continuation(self):
        user = self.ready("erin")
        self.oauth.set_access_token_bytes(3000)
        try:
            self.oauth.revoke_access_tokens(user)
            before = len(self.oauth.token_requests())
            pop = poplib.POP3("127.0.0.1", self.gw.ports["pop3"], timeout=60)
            pop.user("erin-local")
            pop.pass_("erin-pw")
            pop.quit()
            done = refreshes(self.oauth, before)
            self.assertEqual(done[-1].get("access_token_bytes"), 3000, done)
            with smtplib.SMTP("127.0.0.1", self.gw.ports["smtp"], timeout=60) as smtp:
                smtp.login("erin-local", "erin-pw")
                smtp.sendmail(user, [BOB], b"Subject: long token\r\n\r\nsent with a 3000-byte token\r\n")
            self.imap_login("erin").logout()
            self.assertEqual(len(refreshes(self.oauth, before)), 1)
        finally:
            self.oauth.set_access_token_bytes(43)

    def test_invalid_grant_means_needs_consent_and_no_more_token_requests(self):
        user = self.ready("frank")
        self.oauth.revoke_user_grants(user)  # the user withdrew the app's access at the provider
        self.login_fails_unavailable("frank")
        oauth = self.show("frank")["oauth"]
        self.assertEqual(oauth["state"], "needs_consent")
        self.assertEqual(oauth["last_error"]["error"], "invalid_grant")
        self.assertTrue(oauth["has_refresh_token"])  # kept for diagnosis
        before = len(self.oauth.token_requests())
        start = time.monotonic()
        self.login_fails_unavailable("frank")
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(len(self.oauth.token_requests()), before)  # no hot retry
        self.assertIn("mailgate account oauth frank", self.cli("account", "show", "frank").stdout)
        self.consent_device("frank", user)  # consent again: works at once, without a restart
        self.imap_login("frank").logout()
        self.assertEqual(self.show("frank")["oauth"]["state"], "ok")

    def test_token_endpoint_down_is_degraded_keeps_tokens_and_backs_off(self):
        user = self.ready("grace")
        self.oauth.set_token_endpoint_down(True)
        try:
            self.oauth.revoke_access_tokens(user)
            self.login_fails_unavailable("grace")
            oauth = self.show("grace")["oauth"]
            self.assertEqual(oauth["state"], "degraded")
            self.assertTrue(oauth["has_refresh_token"])
            before = len(self.oauth.token_requests())
            self.login_fails_unavailable("grace")  # inside the backoff: not asked again
            self.assertEqual(len(self.oauth.token_requests()), before)
        finally:
            self.oauth.set_token_endpoint_down(False)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.imap_login("grace").logout()
                break
            except imaplib.IMAP4.error:
                self.assertLess(time.monotonic(), deadline, "no recovery after the token endpoint came back")
                time.sleep(1)
        self.assertEqual(self.show("grace")["oauth"]["state"], "ok")

    def test_parallel_logins_with_an_expired_token_refresh_once(self):
        self.oauth.set_access_token_ttl(3)
        try:
            self.ready("heidi")
        finally:
            self.oauth.set_access_token_ttl(3600)
        time.sleep(4)  # expired; with rotation and reuse detection a second refresh would revoke the grant
        before = len(self.oauth.token_requests())
        self.assertEqual(at_once(lambda: self.imap_login("heidi").logout(), 20), ["ok"] * 20)
        self.assertEqual(len(refreshes(self.oauth, before)), 1, refreshes(self.oauth, before))

    def test_a_session_across_expiry_and_the_refresh_ahead(self):
        self.oauth.set_access_token_ttl(6)
        try:
            self.ready("ivan")
        finally:
            self.oauth.set_access_token_ttl(3600)
        before = len(self.oauth.token_requests())
        session = self.imap_login("ivan")
        session.select("INBOX")
        time.sleep(7)  # the consented token has expired; the gateway refreshed ahead of it
        self.assertEqual(session.noop()[0], "OK")  # the relayed session goes on
        session.logout()
        self.imap_login("ivan").logout()  # uses the token refreshed ahead: no request of its own
        self.assertEqual(len(refreshes(self.oauth, before)), 1, refreshes(self.oauth, before))

    def test_restart_uses_the_persisted_rotated_refresh_token(self):
        user = self.ready("judy")
        self.oauth.revoke_access_tokens(user)
        before = len(self.oauth.token_requests())
        self.imap_login("judy").logout()  # refresh: the refresh token rotates
        self.assertTrue(refreshes(self.oauth, before)[-1].get("rotated"), refreshes(self.oauth, before))
        type(self).gw.stop()
        type(self).gw = self.start_gateway()
        self.oauth.revoke_access_tokens(user)
        before = len(self.oauth.token_requests())
        self.imap_login("judy").logout()  # the old refresh token would be a reuse: the grant would be revoked
        self.assertEqual([r["result"] for r in refreshes(self.oauth, before)], ["ok"])

    def test_an_account_idle_for_a_week_gets_a_keep_alive_refresh(self):
        user = self.ready("kate")
        week_ago = int(time.time()) - 8 * 24 * 3600
        with sqlite3.connect(os.path.join(self.data, "mailgate.db"), timeout=10) as db:
            db.execute("UPDATE oauth_grants SET consented_at = ?, last_refresh_at = NULL WHERE account_id = "
                       "(SELECT id FROM accounts WHERE name = 'kate')", (week_ago,))
        before = len(self.oauth.token_requests())
        type(self).gw.stop()
        type(self).gw = self.start_gateway()  # the scan runs soon after start, then hourly
        deadline = time.monotonic() + 30
        while not [r for r in refreshes(self.oauth, before) if r.get("sub") == user]:
            self.assertLess(time.monotonic(), deadline, "no keep-alive refresh")
            time.sleep(0.5)
        self.assertIn("keep-alive refresh", self.gw.log())
        self.assertIsNotNone(self.show("kate")["oauth"]["last_refresh_at"])

    def test_zz_no_token_in_logs_cli_output_or_api(self):
        # Runs last (by name): every other test has put its tokens through the gateway by now.
        texts = {"gateway log": self.gw.log(), "account list": self.cli("account", "list", "--json").stdout}
        for name in ("dev", "dave", "erin"):
            texts[f"account show {name}"] = self.cli("account", "show", name).stdout
        for what, text in texts.items():
            self.assertIsNone(TOKEN_LIKE.search(text), f"{what}: {TOKEN_LIKE.search(text)}")


if __name__ == "__main__":
    unittest.main()
