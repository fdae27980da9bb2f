"""Proves the OAuth2 test rig (oauth_rig.py + tests/oauth/server.mjs, and ProviderRig(oauth=...)) with real clients
and no gateway: Dovecot (IMAP, POP3) and Postfix (SMTP through Dovecot SASL) accept XOAUTH2 and OAUTHBEARER with
the AS's access tokens and refuse unknown, revoked, expired and foreign ones; the AS issues refresh tokens in both
consent flows, rotates them and revokes the grant on reuse; its log has one line per token request and no token.
Run from tests/integration:  python3 -m unittest -v test_oauth_rig
"""

import base64
import email.message
import imaplib
import json
import os
import poplib
import smtplib
import socket
import ssl
import sys
import time
import unittest
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oauth_rig import OAuthFlowError, OAuthServer, oauthbearer_response, xoauth2_response  # noqa: E402
from rig import ProviderRig, reserve_port  # noqa: E402

ALICE, BOB = "alice@example.test", "bob@example.test"
TIMEOUT = 10
BIG = 3000


class OAuthRigTest(unittest.TestCase):
    rig = oauth = None

    @classmethod
    def setUpClass(cls):
        cls.oauth = OAuthServer(access_token_ttl=120)
        cls.rig = ProviderRig(oauth=cls.oauth).start()

    @classmethod
    def tearDownClass(cls):
        if cls.rig is not None:
            cls.rig.stop()

    # ---------------------------------------------------------------- helpers
    def ctx(self):
        return self.rig.client_context()

    def tokens(self, user=ALICE, **kw):
        return self.oauth.get_tokens(user, **kw)

    @staticmethod
    def sasl(mech, user, token):
        return xoauth2_response(user, token) if mech == "XOAUTH2" else oauthbearer_response(user, token)

    def imap_auth(self, mech, user, token, starttls=False):
        """(ok, server challenges seen). The client response goes after the '+' continuation (imaplib)."""
        rig = self.rig
        if starttls:
            imap = imaplib.IMAP4(rig.host, rig.ports["imap"], timeout=TIMEOUT)
            imap.starttls(ssl_context=self.ctx())
        else:
            imap = imaplib.IMAP4_SSL(rig.host, rig.ports["imaps"], ssl_context=self.ctx(), timeout=TIMEOUT)
        challenges = []

        def answer(challenge):
            challenges.append(challenge)
            # First the credentials; to an error challenge the client sends an empty (XOAUTH2) or ^A (RFC 7628).
            if len(challenges) == 1:
                return self.sasl(mech, user, token)
            return b"" if mech == "XOAUTH2" else b"\x01"

        try:
            typ, _ = imap.authenticate(mech, answer)
            ok = typ == "OK"
            if ok:
                self.assertEqual(imap.select("INBOX", readonly=True)[0], "OK")
        except imaplib.IMAP4.error:
            ok = False
        finally:
            try:
                imap.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
        return ok, challenges[1:]

    def pop3_auth(self, mech, user, token, starttls=False):
        """(ok, error challenges): raw AUTH <mech>, the response after '+', like a client without SASL-IR."""
        rig = self.rig
        if starttls:
            pop = poplib.POP3(rig.host, rig.ports["pop3"], timeout=TIMEOUT)
            pop.stls(context=self.ctx())
        else:
            pop = poplib.POP3_SSL(rig.host, rig.ports["pop3s"], context=self.ctx(), timeout=TIMEOUT)
        challenges = []
        try:
            self.assertTrue(pop._shortcmd(f"AUTH {mech}").startswith(b"+"))
            reply = pop._shortcmd(base64.b64encode(self.sasl(mech, user, token)).decode())
            if reply.startswith(b"+OK"):
                self.assertEqual(len(pop.stat()), 2)
                return True, challenges
            challenges.append(base64.b64decode(reply[1:].strip()))
            try:
                pop._shortcmd("" if mech == "XOAUTH2" else base64.b64encode(b"\x01").decode())
                return True, challenges  # not expected: a success after an error challenge
            except poplib.error_proto:
                return False, challenges
        except poplib.error_proto:
            return False, challenges
        finally:
            try:
                pop.quit()
            except (poplib.error_proto, OSError):
                pass

    def smtp_auth(self, mech, user, token, submission=False, send_to=None):
        """(ok, error challenges): AUTH <mech>, the response after 334; with send_to, also sends a message."""
        rig = self.rig
        if submission:
            smtp = smtplib.SMTP(rig.host, rig.ports["submission"], timeout=TIMEOUT)
            smtp.starttls(context=self.ctx())
        else:
            smtp = smtplib.SMTP_SSL(rig.host, rig.ports["smtps"], context=self.ctx(), timeout=TIMEOUT)
        challenges = []
        try:
            smtp.ehlo()
            self.assertIn(mech, smtp.esmtp_features.get("auth", "").split())
            self.assertEqual(smtp.docmd("AUTH", mech)[0], 334)
            code, reply = smtp.docmd(base64.b64encode(self.sasl(mech, user, token)).decode())
            if code == 334:
                challenges.append(base64.b64decode(reply))
                code, reply = smtp.docmd("" if mech == "XOAUTH2" else base64.b64encode(b"\x01").decode())
            if code != 235:
                return False, challenges
            if send_to:
                msg = email.message.EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = user, send_to, "oauth rig"
                msg["Message-ID"] = f"<{uuid.uuid4()}@example.test>"
                msg.set_content("sent with an OAuth2 access token\n")
                self.assertEqual(smtp.send_message(msg), {})
            return True, challenges
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass

    def assert_all_accept(self, user, token, mechs=("XOAUTH2", "OAUTHBEARER")):
        for mech in mechs:
            for starttls in (False, True):
                with self.subTest(mech=mech, starttls=starttls):
                    self.assertEqual(self.imap_auth(mech, user, token, starttls)[0], True, "IMAP")
                    self.assertEqual(self.pop3_auth(mech, user, token, starttls)[0], True, "POP3")
                    self.assertEqual(self.smtp_auth(mech, user, token, submission=starttls)[0], True, "SMTP")

    def assert_all_refuse(self, user, token):
        """Refused everywhere, and Dovecot's RFC 7628 §3.2.2 error challenge (status, openid-configuration) seen."""
        for mech, status in (("XOAUTH2", "401"), ("OAUTHBEARER", "invalid_token")):
            for proto, auth in (("IMAP", self.imap_auth), ("POP3", self.pop3_auth), ("SMTP", self.smtp_auth)):
                with self.subTest(mech=mech, proto=proto):
                    ok, challenges = auth(mech, user, token)
                    self.assertFalse(ok)
                    self.assertEqual(len(challenges), 1, challenges)
                    error = json.loads(challenges[0])
                    self.assertEqual(error["status"], status)
                    self.assertEqual(error["openid-configuration"], self.oauth.discovery_url)

    # ---------------------------------------------------------------- accepted
    def test_fresh_token_accepted_by_imap_pop3_smtp(self):
        token = self.tokens()["access_token"]
        self.assert_all_accept(ALICE, token)
        self.assertEqual(self.oauth.introspect(token)["email"], ALICE)

    def test_smtp_with_token_relays_mail(self):
        self.rig.empty_mailbox(BOB)
        self.assertTrue(self.smtp_auth("XOAUTH2", ALICE, self.tokens()["access_token"], send_to=BOB)[0])
        self.rig.wait_for_postfix_queue_empty()
        self.assertEqual(self.rig.mailbox_count(BOB), 1)

    def test_password_logins_still_work(self):
        with imaplib.IMAP4_SSL(self.rig.host, self.rig.ports["imaps"], ssl_context=self.ctx(),
                               timeout=TIMEOUT) as imap:
            self.assertEqual(imap.login(ALICE, self.rig.users[ALICE])[0], "OK")
            imap.logout()
        with smtplib.SMTP_SSL(self.rig.host, self.rig.ports["smtps"], context=self.ctx(), timeout=TIMEOUT) as smtp:
            self.assertEqual(smtp.login(BOB, self.rig.users[BOB])[0], 235)

    def test_3000_byte_token_accepted_after_continuation(self):
        self.oauth.set_access_token_bytes(BIG)
        self.addCleanup(self.oauth.set_access_token_bytes, 43)
        body = self.tokens()
        token = body["access_token"]
        self.assertEqual(len(token), BIG)
        self.assertEqual(self.oauth.token_requests()[-1]["access_token_bytes"], BIG)
        self.assert_all_accept(ALICE, token)
        # Refreshed tokens are just as long.
        status, refreshed = self.oauth.refresh(body["refresh_token"])
        self.assertEqual(status, 200, refreshed)
        self.assertEqual(len(refreshed["access_token"]), BIG)
        self.assertTrue(self.imap_auth("XOAUTH2", ALICE, refreshed["access_token"])[0])

    def test_smtp_initial_response_longer_than_postfix_line_limit_refused(self):
        """A quirk to know: Postfix truncates an AUTH command line at line_length_limit (2048), so a 3,000-byte
        token fits only after the 334 continuation; Dovecot takes it even as SASL-IR."""
        self.oauth.set_access_token_bytes(BIG)
        self.addCleanup(self.oauth.set_access_token_bytes, 43)
        token = self.tokens()["access_token"]
        initial = base64.b64encode(xoauth2_response(ALICE, token)).decode()
        with smtplib.SMTP_SSL(self.rig.host, self.rig.ports["smtps"], context=self.ctx(), timeout=TIMEOUT) as smtp:
            smtp.ehlo()
            code, reply = smtp.docmd("AUTH", "XOAUTH2 " + initial)
            self.assertEqual(code, 535, reply)
        raw = self.ctx().wrap_socket(socket.create_connection(("127.0.0.1", self.rig.ports["imaps"]),
                                                              timeout=TIMEOUT), server_hostname=self.rig.host)
        with raw, raw.makefile("rb") as f:
            f.readline()
            raw.sendall(f"a AUTHENTICATE XOAUTH2 {initial}\r\n".encode())
            self.assertTrue(f.readline().startswith(b"a OK"))

    # ---------------------------------------------------------------- refused
    def test_unknown_token_refused_with_error_challenge(self):
        self.assert_all_refuse(ALICE, "not-a-token-" + "x" * 40)
        self.assertFalse(self.oauth.introspect("not-a-token")["active"])

    def test_revoked_token_refused(self):
        body = self.tokens()
        token = body["access_token"]
        self.assertTrue(self.imap_auth("XOAUTH2", ALICE, token)[0])
        self.assertEqual(self.oauth.revoke(token), "access_token")
        self.assert_all_refuse(ALICE, token)
        # RFC 7009 revocation of the refresh token (by its own client) revokes the grant: refresh fails too.
        self.assertEqual(self.oauth.revoke(body["refresh_token"], client="public"), 200)
        status, answer = self.oauth.refresh(body["refresh_token"])
        self.assertEqual((status, answer.get("error")), (400, "invalid_grant"))

    def test_token_of_another_user_refused(self):
        token = self.tokens(ALICE)["access_token"]
        self.assertFalse(self.imap_auth("XOAUTH2", BOB, token)[0])
        self.assertFalse(self.smtp_auth("OAUTHBEARER", BOB, token)[0])

    def test_refresh_token_is_no_bearer_token(self):
        self.assertFalse(self.imap_auth("XOAUTH2", ALICE, self.tokens()["refresh_token"])[0])

    def test_expired_access_token_refused(self):
        self.oauth.set_access_token_ttl(2)
        self.addCleanup(self.oauth.set_access_token_ttl, 120)
        body = self.tokens()
        self.assertEqual(body["expires_in"], 2)
        token = body["access_token"]
        self.assertTrue(self.imap_auth("XOAUTH2", ALICE, token)[0])
        deadline = time.monotonic() + 5
        while self.oauth.introspect(token)["active"] and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assert_all_refuse(ALICE, token)

    def test_revoked_user_grants_refused(self):
        body = self.tokens(BOB, flow="code")
        self.assertGreaterEqual(self.oauth.revoke_user_grants(BOB), 1)
        self.assertFalse(self.imap_auth("XOAUTH2", BOB, body["access_token"])[0])
        self.assertEqual(self.oauth.refresh(body["refresh_token"])[1].get("error"), "invalid_grant")

    # ---------------------------------------------------------------- refresh
    def test_refresh_rotates_and_reuse_revokes_grant(self):
        for client in ("public", "confidential"):
            with self.subTest(client=client):
                first = self.tokens(client=client)
                status, second = self.oauth.refresh(first["refresh_token"], client)
                self.assertEqual(status, 200, second)
                self.assertNotEqual(second["refresh_token"], first["refresh_token"])
                self.assertNotEqual(second["access_token"], first["access_token"])
                self.assertTrue(self.oauth.token_requests()[-1]["rotated"])
                self.assertTrue(self.imap_auth("XOAUTH2", ALICE, second["access_token"])[0])
                # A double refresh: the consumed token again -> invalid_grant, and the whole grant is gone.
                status, again = self.oauth.refresh(first["refresh_token"], client)
                self.assertEqual((status, again.get("error")), (400, "invalid_grant"), again)
                status, newer = self.oauth.refresh(second["refresh_token"], client)
                self.assertEqual((status, newer.get("error")), (400, "invalid_grant"), newer)
                self.assertFalse(self.imap_auth("XOAUTH2", ALICE, second["access_token"])[0])

    def test_refresh_of_another_client_refused(self):
        body = self.tokens(client="public")
        status, answer = self.oauth.refresh(body["refresh_token"], "confidential")
        self.assertEqual((status, answer.get("error")), (400, "invalid_grant"))

    # ---------------------------------------------------------------- consent flows
    def test_device_flow_yields_refresh_token(self):
        for client in ("public", "confidential", "confidential_post"):
            with self.subTest(client=client):
                auth = self.oauth.device_authorization(client)
                self.assertEqual(auth["interval"], 1)
                self.assertTrue(auth["verification_uri"].startswith(self.oauth.issuer))
                status, pending = self.oauth.token_request(
                    {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": auth["device_code"]},
                    client)
                self.assertEqual((status, pending.get("error")), (400, "authorization_pending"))
                self.oauth.approve_device_code(auth["user_code"], ALICE)
                status, body = self.oauth.poll_device_token(auth["device_code"], client)
                self.assertEqual(status, 200, body)
                self.assertIn("refresh_token", body)
                self.assertEqual(self.oauth.introspect(body["access_token"])["sub"], ALICE)
                # The code is single-use: a second exchange fails.
                status, again = self.oauth.poll_device_token(auth["device_code"], client)
                self.assertEqual((status, again.get("error")), (400, "invalid_grant"))

    def test_device_flow_denied(self):
        for deny in ("consent", "confirm"):
            with self.subTest(deny=deny):
                auth = self.oauth.device_authorization()
                if deny == "consent":
                    self.oauth.approve_device_code(auth["user_code"], ALICE, approve=False)
                else:
                    self.oauth.deny_device_code(auth["user_code"])
                status, body = self.oauth.poll_device_token(auth["device_code"])
                self.assertEqual((status, body.get("error")), (400, "access_denied"))
        with self.assertRaises(OAuthFlowError):
            self.oauth.approve_device_code("BCDF-GHJK", ALICE)  # no such code: the AS's page says so

    def test_code_flow_with_pkce_yields_refresh_token(self):
        for client in ("public", "confidential", "confidential_post"):
            with self.subTest(client=client):
                # RFC 8252 §7.3: the registered http://127.0.0.1/oauth/callback matches any port.
                redirect = f"http://127.0.0.1:{reserve_port()}/oauth/callback"
                url, kept = self.oauth.authorization_request_url(client, redirect_uri=redirect)
                final = self.oauth.authorize(url, ALICE)
                parts = urllib.parse.urlsplit(final)
                self.assertEqual(f"{parts.scheme}://{parts.netloc}{parts.path}", redirect)
                query = urllib.parse.parse_qs(parts.query)
                self.assertEqual(query["state"], [kept["state"]])
                self.assertEqual(query["iss"], [self.oauth.issuer])  # RFC 9207
                code = query["code"][0]
                status, wrong = self.oauth.exchange_code(code, redirect, "x" * 64, client)
                self.assertEqual((status, wrong.get("error")), (400, "invalid_grant"))

                url, kept = self.oauth.authorization_request_url(client, redirect_uri=redirect)
                code = urllib.parse.parse_qs(urllib.parse.urlsplit(self.oauth.authorize(url, BOB)).query)["code"][0]
                status, body = self.oauth.exchange_code(code, redirect, kept["code_verifier"], client)
                self.assertEqual(status, 200, body)
                self.assertIn("refresh_token", body)
                self.assertTrue(self.imap_auth("OAUTHBEARER", BOB, body["access_token"])[0])

    def test_code_flow_denied_and_pkce_required_for_public_client(self):
        url, kept = self.oauth.authorization_request_url()
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.oauth.authorize(url, ALICE, approve=False)).query)
        self.assertEqual((query["error"], query["state"]), (["access_denied"], [kept["state"]]))
        url, _ = self.oauth.authorization_request_url(pkce=False)
        final = self.oauth.authorize(url, ALICE)
        self.assertEqual(urllib.parse.parse_qs(urllib.parse.urlsplit(final).query)["error"], ["invalid_request"])
        # A redirect URI that is not the registered loopback one is never redirected to.
        url, _ = self.oauth.authorization_request_url(redirect_uri="http://127.0.0.1:1/elsewhere")
        with self.assertRaises(OAuthFlowError):
            self.oauth.authorize(url, ALICE)

    # ---------------------------------------------------------------- log and controls
    def test_token_log_one_line_per_request_and_no_token_values(self):
        before = len(self.oauth.token_requests())
        issued = [self.tokens(flow="device"), self.tokens(flow="code")]
        status, refreshed = self.oauth.refresh(issued[0]["refresh_token"])
        self.assertEqual(status, 200)
        issued.append(refreshed)
        self.oauth.refresh(issued[0]["refresh_token"])  # reuse: invalid_grant
        entries = self.oauth.token_requests()[before:]
        self.assertEqual([(e["grant_type"], e["result"]) for e in entries], [
            ("urn:ietf:params:oauth:grant-type:device_code", "ok"), ("authorization_code", "ok"),
            ("refresh_token", "ok"), ("refresh_token", "invalid_grant")])
        for e in entries:
            self.assertEqual(e["client_id"], "mailgate-public")
            self.assertIn("time", e)
        with open(self.oauth.log_file) as f:
            log = f.read()
        with open(os.path.join(self.oauth.dir, "server.log")) as f:
            log += f.read()
        for body in issued:
            for name in ("access_token", "refresh_token"):
                self.assertNotIn(body[name], log, name)
        self.assertTrue(self.oauth.log_entries("introspection"))

    def test_token_endpoint_down_forced_errors_and_unreachable(self):
        body = self.tokens()
        self.oauth.set_token_endpoint_down(True)
        try:
            status, answer = self.oauth.refresh(body["refresh_token"])
            self.assertEqual((status, answer.get("error")), (503, "temporarily_unavailable"))
            self.assertEqual(self.oauth.token_requests()[-1]["result"], "temporarily_unavailable")
        finally:
            self.oauth.set_token_endpoint_down(False)
        self.oauth.fail_token_requests("invalid_grant", grant_type="refresh_token")
        status, answer = self.oauth.refresh(body["refresh_token"])
        self.assertEqual((status, answer.get("error")), (400, "invalid_grant"))
        status, answer = self.oauth.refresh(body["refresh_token"])  # the forced answer consumed nothing
        self.assertEqual(status, 200, answer)

        self.oauth.set_listening(False)
        try:
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", self.oauth.port), timeout=TIMEOUT).close()
            # Dovecot cannot introspect: a temporary failure, not a login.
            self.assertFalse(self.imap_auth("XOAUTH2", ALICE, answer["access_token"])[0])
        finally:
            self.oauth.set_listening(True)
        # Back with its state: the rotated refresh token still works.
        status, again = self.oauth.refresh(answer["refresh_token"])
        self.assertEqual(status, 200, again)
        self.assertTrue(self.imap_auth("XOAUTH2", ALICE, again["access_token"])[0])

    def test_standalone_server_with_untrusted_ca(self):
        with OAuthServer(rig=self.rig, ca="other", issuer_host="localhost") as other:
            self.assertTrue(other.issuer.startswith("https://localhost:"))
            self.assertEqual(other.ca_file, self.rig.other_ca_file)
            with self.assertRaises(ssl.SSLCertVerificationError):
                ssl.create_default_context(cafile=self.rig.ca_file).wrap_socket(
                    socket.create_connection(("127.0.0.1", other.port), timeout=TIMEOUT),
                    server_hostname="localhost").close()
            # Its tokens mean nothing to the provider, which introspects at the rig's own AS.
            self.assertFalse(self.imap_auth("XOAUTH2", ALICE, other.get_tokens(ALICE)["access_token"])[0])


if __name__ == "__main__":
    unittest.main()
