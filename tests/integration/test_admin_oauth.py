"""The admin API's OAuth2 part against a real authorization server (oidc-provider) and a provider rig that accepts its
tokens: OAuth client CRUD (secret write-only, config clients read-only, delete refused while in use), oauth2
accounts, consent through the API (device flow polled by the gateway; code + PKCE with the pasted redirect and with
GET /oauth/callback), state bound to the admin session, token state and errors in the account view, /metrics, and
no token-like text in any API response or log line."""

import http.client
import imaplib
import json
import os
import re
import tempfile
import time
import unittest
import urllib.parse

from admin_client import AdminClient, admin_password
from gateway import Gateway
from oauth_rig import OAuthServer
from rig import ProviderRig

ALICE, BOB, CAROL = "alice@example.test", "bob@example.test", "carol@example.test"
OTHERS = ["dave", "erin", "frank", "grace", "heidi", "ivan"]
USERS = {ALICE: "alice-pw", BOB: "bob-pw", CAROL: "carol-pw", **{f"{n}@example.test": f"{n}-pw" for n in OTHERS}}
# Opaque tokens of the test AS are base64url; nothing the admin API returns legitimately is such a long run
# (the CSRF token and the authorization URL's PKCE challenge are scrubbed before the check: they are no secrets).
TOKEN_LIKE = re.compile(r"[A-Za-z0-9_-]{40,}")
CONFIG_SECRET = "config-file-client-secret-value"
API_SECRET = "admin-page-client-secret-value"


class RecordingClient(AdminClient):
    """AdminClient that keeps every response body, for the final no-token check."""

    seen = []

    def request(self, *args, **kw):
        response, payload, parsed = super().request(*args, **kw)
        RecordingClient.seen.append(payload)
        return response, payload, parsed


def get(port, path, cookie=None, host=None):
    """A browser-like top-level GET (no Origin, no CSRF header): (status, headers, text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Host": host or f"127.0.0.1:{port}"}
    if cookie:
        headers["Cookie"] = cookie
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read().decode("utf-8", "replace")
    conn.close()
    RecordingClient.seen.append(body.encode())
    return response.status, response, body


class AdminOAuth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.oauth = OAuthServer(access_token_ttl=3600)
        cls.rig = ProviderRig(users=USERS, oauth=cls.oauth).start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-admin-oauth-")
        cls.data = os.path.join(cls.tmp.name, "data")
        cls.config = os.path.join(cls.tmp.name, "mailgate.conf")
        o = cls.oauth
        with open(cls.config, "w") as f:
            f.write(f"[oauth.cfg]\nclient_id = {o.clients['confidential_post']['client_id']}\n"
                    f"client_secret = {CONFIG_SECRET}\ntoken_url = {o.token_url}\n"
                    f"device_url = {o.device_authorization_url}\nauthorize_url = {o.authorization_url}\n"
                    "scope = offline_access mail\n")
        cls.gw = Gateway(data_dir=cls.data, extra_args=["--config", cls.config, "--upstream.ca_file", cls.rig.ca_file,
                                                        "--access.failed_login_delay", "0"]).__enter__()
        cls.port = cls.gw.ports["admin"]
        cls.password = admin_password(cls.gw.banner)
        cls.api = cls.new_session()
        # The clients the tests consent with, made on the admin page (the config one is read-only).
        for name, client in (("public", "public"), ("private", "confidential_post")):
            body = {"name": name, "preset": "custom", "client_id": o.clients[client]["client_id"],
                    "token_url": o.token_url, "device_url": o.device_authorization_url,
                    "authorize_url": o.authorization_url, "scope": "openid email offline_access mail"}
            if client != "public":
                body["client_secret"] = o.clients[client]["client_secret"]
            response, _, data = cls.api.request("POST", "/api/v1/oauth-clients", body)
            assert response.status == 201, data

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.rig.stop()
        cls.tmp.cleanup()

    @classmethod
    def new_session(cls):
        c = RecordingClient(cls.port)
        response, data = c.login(cls.password)
        assert response.status == 200, data
        return c

    # ------------------------------------------------------------------ helpers
    def call(self, method, path, body=None, expect=200, client=None):
        response, _, data = (client or self.api).request(method, path, body)
        self.assertEqual(response.status, expect, (method, path, data))
        return data

    def add_account(self, name, user, client="public"):
        h, p = self.rig.host, self.rig.ports
        return self.call("POST", "/api/v1/accounts", {
            "name": name, "local_user": f"{name}-local", "local_password": f"{name}-pw", "remote_user": user,
            "credential": "oauth2", "oauth_client": client, "provider": "custom",
            "imap": f"imap+starttls://{h}:{p['imap']}", "smtp": f"smtps://{h}:{p['smtps']}"}, expect=201)

    def account(self, name):
        return self.call("GET", "/api/v1/accounts/" + urllib.parse.quote(name, safe=""))

    def wait_consent(self, consent_id, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            job = self.call("GET", f"/api/v1/consents/{consent_id}")
            if job["status"] not in ("pending", "exchanging"):
                return job
            self.assertLess(time.monotonic(), deadline, job)
            time.sleep(0.3)

    def wait_test(self, test_id, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            status = self.call("GET", f"/api/v1/tests/{test_id}")
            if status["done"]:
                return status
            self.assertLess(time.monotonic(), deadline, status)
            time.sleep(0.3)

    def device_consent(self, name, user):
        job = self.call("POST", f"/api/v1/accounts/{name}/oauth/device", expect=201)
        self.oauth.approve_device_code(job["user_code"], user)
        done = self.wait_consent(job["id"])
        self.assertEqual(done["status"], "ok", done)
        return job, done

    def start_code(self, name, client=None):
        response, _, job = (client or self.api).request("POST", f"/api/v1/accounts/{name}/oauth/authorize")
        self.assertEqual(response.status, 201, job)
        cookie = response.getheader("Set-Cookie")
        return job, cookie

    def imap_login(self, name):
        client = imaplib.IMAP4("127.0.0.1", self.gw.ports["imap"], timeout=60)
        try:
            client.login(f"{name}-local", f"{name}-pw")
            self.assertEqual(client.select("INBOX")[0], "OK")
        except BaseException:
            client.shutdown()
            raise
        client.logout()

    def metrics(self):
        status, _, text = get(self.port, "/metrics")
        self.assertEqual(status, 200)
        return text

    # ------------------------------------------------------------------ clients
    def test_client_crud_secret_write_only_config_read_only(self):
        presets = {p["name"]: p for p in self.call("GET", "/api/v1/oauth-presets")}
        self.assertEqual(set(presets), {"google", "microsoft", "custom"})
        self.assertTrue(any("In production" in line for line in presets["google"]["checklist"]))
        self.assertTrue(any("Allow public client flows" in line for line in presets["microsoft"]["checklist"]))
        self.assertIn("login.microsoftonline.com/common/", presets["microsoft"]["defaults"]["token_url"])
        self.assertEqual(presets["microsoft"]["mechanisms"], ["xoauth2"])

        g = self.call("POST", "/api/v1/oauth-clients", {"name": "gmail", "preset": "google",
                                                        "client_id": "1234.apps.googleusercontent.com",
                                                        "client_secret": API_SECRET}, expect=201)
        self.assertEqual((g["token_url"], g["scope"]), ("https://oauth2.googleapis.com/token", "https://mail.google.com/"))
        self.assertEqual((g["client_secret_set"], g["flows"], g["from_config"]), (True, ["code"], False))
        self.assertNotIn("client_secret", g)
        m = self.call("POST", "/api/v1/oauth-clients", {"name": "m365", "preset": "microsoft", "client_id": "abc",
                                                        "tenant": "organizations"}, expect=201)
        self.assertEqual(m["device_url"], "https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode")
        self.assertEqual((m["client_secret_set"], m["flows"]), (False, ["device", "code"]))
        for body, why in (({"name": "gmail", "preset": "google", "client_id": "x"}, 409),
                          ({"name": "bad", "preset": "microsoft", "client_id": "x", "mechanism": "oauthbearer"}, 400),
                          ({"name": "bad", "preset": "custom", "client_id": "x", "device_url": "https://a.test/d"}, 400),
                          ({"name": "bad", "client_id": "x", "token_url": "http://plain.test/token",
                            "device_url": "https://a.test/d", "scope": "s"}, 400),
                          ({"name": "bad name", "preset": "google", "client_id": "x"}, 400),
                          ({"name": "bad", "preset": "yahoo", "client_id": "x"}, 400)):
            response, _, data = self.api.request("POST", "/api/v1/oauth-clients", body)
            self.assertEqual(response.status, why, (body, data))
            self.assertIn("error", data)

        # The secret is write-only: kept when an update leaves it out, replaced or cleared on request.
        changed = self.call("PUT", "/api/v1/oauth-clients/gmail", {"preset": "google", "client_id": "5678.apps"})
        self.assertEqual((changed["client_id"], changed["client_secret_set"]), ("5678.apps", True))
        cleared = self.call("PUT", "/api/v1/oauth-clients/gmail", {"preset": "google", "client_id": "5678.apps",
                                                                   "clear_client_secret": True})
        self.assertFalse(cleared["client_secret_set"])
        again = self.call("PUT", "/api/v1/oauth-clients/gmail", {"preset": "google", "client_id": "5678.apps",
                                                                 "client_secret": API_SECRET + "-2"})
        self.assertTrue(again["client_secret_set"])
        self.call("PUT", "/api/v1/oauth-clients/missing", {"client_id": "x", "preset": "google"}, expect=404)

        listed = {c["name"]: c for c in self.call("GET", "/api/v1/oauth-clients")}
        self.assertTrue(listed["cfg"]["from_config"])
        self.assertTrue(listed["cfg"]["client_secret_set"])
        self.assertFalse(listed["public"]["from_config"])
        response, _, data = self.api.request("PUT", "/api/v1/oauth-clients/cfg", {"client_id": "other"})
        self.assertEqual(response.status, 409)
        self.assertIn("config file", data["error"])
        response, _, data = self.api.request("DELETE", "/api/v1/oauth-clients/cfg")
        self.assertEqual(response.status, 409)
        self.assertIn("config file", data["error"])

        # Delete: refused while an account uses the client.
        self.add_account("uses-m365", ALICE, client="m365")
        self.assertEqual(self.call("GET", "/api/v1/oauth-clients/m365")["used_by"], ["uses-m365"])
        response, _, data = self.api.request("DELETE", "/api/v1/oauth-clients/m365")
        self.assertEqual(response.status, 409)
        self.assertIn("used by 1 account", data["error"])
        self.call("DELETE", "/api/v1/accounts/uses-m365")
        self.call("DELETE", "/api/v1/oauth-clients/m365")
        self.call("GET", "/api/v1/oauth-clients/m365", expect=404)
        self.call("DELETE", "/api/v1/oauth-clients/gmail")

        for payload in RecordingClient.seen:
            for secret in (API_SECRET, CONFIG_SECRET, self.oauth.clients["confidential_post"]["client_secret"]):
                self.assertNotIn(secret.encode(), payload)

    def test_login_csrf_and_origin_are_required(self):
        anonymous = AdminClient(self.port)
        for method, path in (("GET", "/api/v1/oauth-clients"), ("POST", "/api/v1/oauth-clients"),
                             ("GET", "/api/v1/oauth-presets"), ("DELETE", "/api/v1/oauth-clients/public"),
                             ("POST", "/api/v1/accounts/x/oauth/device"), ("POST", "/api/v1/accounts/x/oauth/authorize"),
                             ("GET", "/api/v1/consents/abc"), ("POST", "/api/v1/oauth/paste")):
            response, _, data = anonymous.request(method, path, {} if method != "GET" else None)
            self.assertEqual((response.status, data), (401, {"error": "login required"}), (method, path))
        response, _, _ = self.api.request("POST", "/api/v1/oauth-clients", {"name": "x"}, csrf=False)
        self.assertEqual(response.status, 403)
        response, _, _ = self.api.request("POST", "/api/v1/oauth/paste", {"url": "x"},
                                          headers={"Origin": "http://evil.example"})
        self.assertEqual(response.status, 403)

    # ------------------------------------------------------------------ accounts and consent
    def test_device_consent_through_the_api_then_imap_login(self):
        h, p = self.rig.host, self.rig.ports
        body = {"name": "devpw", "local_user": "devpw-local", "local_password": "x", "remote_user": ALICE,
                "remote_password": "not-for-oauth", "credential": "oauth2", "oauth_client": "public",
                "imap": f"imaps://{h}:{p['imaps']}"}
        response, _, data = self.api.request("POST", "/api/v1/accounts", body)
        self.assertEqual(response.status, 400)
        self.assertIn("no provider password", data["error"])
        response, _, data = self.api.request("POST", "/api/v1/accounts", dict(body, remote_password=None,
                                                                              oauth_client="nope"))
        self.assertEqual(response.status, 400)
        self.assertIn("no OAuth client named 'nope'", data["error"])

        created = self.add_account("dev", ALICE)
        self.assertEqual(created["credential"], "oauth2")
        self.assertEqual((created["oauth"]["client"], created["oauth"]["state"]), ("public", "needs_consent"))
        response, _, data = self.api.request("POST", "/api/v1/accounts/dev/password", {"remote": "x"})
        self.assertEqual(response.status, 400)  # the store refuses a provider password for an oauth2 account
        self.assertIn("OAuth2", data["error"])

        job = self.call("POST", "/api/v1/accounts/dev/oauth/device", expect=201)
        self.assertEqual(job["status"], "pending")
        self.assertTrue(job["verification_uri"].startswith(self.oauth.issuer))
        self.assertIn(job["user_code"], urllib.parse.unquote(job["verification_uri_complete"]))
        self.assertGreater(job["expires_in"], 60)
        self.assertNotIn("device_code", job)
        time.sleep(1.5)  # the gateway polls: authorization_pending until the user approves
        self.assertEqual(self.call("GET", f"/api/v1/consents/{job['id']}")["status"], "pending")
        self.oauth.approve_device_code(job["user_code"], ALICE)
        done = self.wait_consent(job["id"])
        self.assertEqual(done["status"], "ok", done)
        self.assertIn("consent stored", done["message"])
        self.assertIn("mail", done["scopes"])
        test = self.wait_test(done["test"])
        self.assertTrue(test["ok"], test)
        self.assertTrue(any(s["step"] == "login" and s["ok"] for s in test["steps"]), test)

        oauth = self.account("dev")["oauth"]
        self.assertEqual(oauth["state"], "ok")
        self.assertTrue(oauth["has_refresh_token"])
        self.assertEqual(oauth["identity"], ALICE)
        self.assertGreater(oauth["access_expires_in"], 3000)
        self.assertIsNotNone(oauth["consented_at"])
        self.assertFalse(oauth["refreshing"])
        self.imap_login("dev")

        # A device code nobody approves is abandoned from the page; a refused one shows the OAuth error.
        job = self.call("POST", "/api/v1/accounts/dev/oauth/device", expect=201)
        self.assertEqual(self.call("DELETE", f"/api/v1/consents/{job['id']}")["status"], "cancelled")
        job = self.call("POST", "/api/v1/accounts/dev/oauth/device", expect=201)
        self.oauth.deny_device_code(job["user_code"])
        denied = self.wait_consent(job["id"])
        self.assertEqual((denied["status"], denied["error"]["error"]), ("failed", "access_denied"), denied)
        self.assertEqual(self.account("dev")["oauth"]["state"], "ok")  # the stored grant is untouched
        self.imap_login("dev")

    def test_code_consent_with_the_pasted_redirect(self):
        self.add_account("pasted", CAROL, client="private")
        job, cookie = self.start_code("pasted")
        url = job["authorization_url"]
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        self.assertEqual(query["code_challenge_method"], ["S256"])
        self.assertEqual(query["redirect_uri"], [f"http://127.0.0.1:{self.port}/oauth/callback"])
        self.assertEqual(query["login_hint"], [CAROL])
        self.assertEqual(job["redirect_uri"], f"http://127.0.0.1:{self.port}/oauth/callback")
        self.assertNotIn("code_verifier", json.dumps(job))
        self.assertRegex(cookie, rf"^mg_oauth_{job['id']}=[A-Za-z0-9_-]+; Path=/oauth/callback; HttpOnly; "
                                 r"SameSite=Lax; Max-Age=600")
        redirected = self.oauth.authorize(url, CAROL)
        self.assertTrue(redirected.startswith(f"http://127.0.0.1:{self.port}/oauth/callback?"), redirected)

        other = self.new_session()  # another admin's session may not complete it
        response, _, data = other.request("POST", "/api/v1/oauth/paste", {"url": redirected})
        self.assertEqual(response.status, 403)
        self.assertIn("another admin session", data["error"])
        response, _, data = self.api.request("POST", "/api/v1/oauth/paste", {"url": "http://127.0.0.1/oauth/callback"})
        self.assertEqual(response.status, 400)
        self.assertIn("neither a code nor an error", data["error"])

        done = self.call("POST", "/api/v1/oauth/paste", {"url": redirected})
        self.assertEqual(done["status"], "ok", done)
        self.assertEqual(done["identity"], CAROL)
        self.assertTrue(self.wait_test(done["test"])["ok"])
        self.assertEqual(self.account("pasted")["oauth"]["state"], "ok")
        self.imap_login("pasted")
        response, _, data = self.api.request("POST", "/api/v1/oauth/paste", {"url": redirected})
        self.assertEqual(response.status, 400)  # one-shot
        self.assertIn("no pending sign-in", data["error"])

    def test_code_consent_through_the_callback(self):
        self.add_account("called", BOB)
        # The admin's own browser: the session cookie (a same-site navigation) completes it.
        job, _ = self.start_code("called")
        redirected = self.oauth.authorize(job["authorization_url"], BOB)
        path = redirected[len(f"http://127.0.0.1:{self.port}"):]
        status, response, page = get(self.port, path, cookie=self.api.cookie)
        self.assertEqual(status, 200, page)
        self.assertEqual(response.getheader("Content-Type"), "text/html; charset=utf-8")
        self.assertEqual(response.getheader("Referrer-Policy"), "no-referrer")  # the URL carried the code
        self.assertIn("Consent stored", page)
        self.assertIn("all checks passed", page)
        self.assertIn('href="/"', page)
        self.assertIn(f"mg_oauth_{job['id']}=; Path=/oauth/callback", response.getheader("Set-Cookie"))
        self.assertEqual(self.wait_consent(job["id"])["status"], "ok")
        self.imap_login("called")

        # A provider's cross-site redirect carries no SameSite=Strict session cookie, only the request's Lax one.
        self.add_account("lax", "dave@example.test")
        job, cookie = self.start_code("lax")
        redirected = self.oauth.authorize(job["authorization_url"], "dave@example.test")
        status, _, page = get(self.port, redirected[len(f"http://127.0.0.1:{self.port}"):],
                              cookie=cookie.split(";")[0])
        self.assertEqual(status, 200, page)
        self.assertIn("Consent stored", page)
        self.assertEqual(self.account("lax")["oauth"]["state"], "ok")
        # The provider refused (the user denied): shown, and the request is used up.
        job, cookie = self.start_code("lax")
        denied = self.oauth.authorize(job["authorization_url"], "dave@example.test", approve=False)
        status, _, page = get(self.port, denied[len(f"http://127.0.0.1:{self.port}"):], cookie=self.api.cookie)
        self.assertEqual(status, 400, page)
        self.assertIn("the provider refused: access_denied", page)
        self.assertEqual(self.call("GET", f"/api/v1/consents/{job['id']}")["error"]["error"], "access_denied")

    def test_wrong_or_foreign_state_is_refused(self):
        self.add_account("guarded", "erin@example.test")
        job, binding = self.start_code("guarded")
        redirected = self.oauth.authorize(job["authorization_url"], "erin@example.test")
        path = redirected[len(f"http://127.0.0.1:{self.port}"):]
        # No session at all (the browser is not the admin's): refused, with the way out.
        status, _, page = get(self.port, path)
        self.assertEqual(status, 403)
        self.assertIn("no admin session", page)
        self.assertIn("paste", page)
        self.assertIn("--paste", page)
        # Another admin's session: refused.
        other = self.new_session()
        status, _, page = get(self.port, path, cookie=other.cookie)
        self.assertEqual(status, 403)
        self.assertIn("another admin session", page)
        # A state nobody started here (e.g. a CLI request): unknown.
        foreign_url, _ = self.oauth.authorization_request_url(
            "public", redirect_uri=f"http://127.0.0.1:{self.port}/oauth/callback")
        foreign = self.oauth.authorize(foreign_url, "erin@example.test")
        status, _, page = get(self.port, foreign[len(f"http://127.0.0.1:{self.port}"):], cookie=self.api.cookie)
        self.assertEqual(status, 400)
        self.assertIn("unknown to the gateway", page)
        self.assertIn("--paste", page)
        response, _, data = self.api.request("POST", "/api/v1/oauth/paste", {"url": foreign})
        self.assertEqual(response.status, 400)
        self.assertIn("no pending sign-in", data["error"])
        # A tampered state, a wrong Host, a missing query.
        status, _, _ = get(self.port, path.replace("state=", "state=x"), cookie=self.api.cookie)
        self.assertEqual(status, 400)
        status, _, _ = get(self.port, path, cookie=self.api.cookie, host="rebound.example")
        self.assertEqual(status, 421)
        status, _, page = get(self.port, "/oauth/callback", cookie=self.api.cookie)
        self.assertEqual(status, 400)
        self.assertEqual(self.account("guarded")["oauth"]["state"], "needs_consent")
        # None of that used the request up: the admin's own browser still completes it.
        status, _, page = get(self.port, path, cookie=binding.split(";")[0])
        self.assertEqual(status, 200, page)
        self.assertEqual(self.account("guarded")["oauth"]["state"], "ok")

    # ------------------------------------------------------------------ state, errors, metrics
    def test_state_errors_and_metrics(self):
        self.add_account("watched", "frank@example.test")
        before = self.metrics()
        self.assertIn('mailgate_oauth_state{account="watched",state="needs_consent"} 1', before)
        self.assertIn('mailgate_oauth_state{account="watched",state="ok"} 0', before)
        self.assertNotIn('mailgate_oauth_access_token_expiry_seconds{account="watched"}', before)
        refreshed_ok = int(re.search(r'mailgate_oauth_refresh_total\{result="ok"\} (\d+)', before).group(1))
        self.device_consent("watched", "frank@example.test")
        text = self.metrics()
        self.assertIn('mailgate_oauth_state{account="watched",state="ok"} 1', text)
        expiry = int(re.search(r'mailgate_oauth_access_token_expiry_seconds\{account="watched"\} (\d+)', text).group(1))
        self.assertAlmostEqual(expiry, time.time() + 3600, delta=120)
        for result in ("ok", "transient", "needs_consent", "config_error"):
            self.assertRegex(text, rf'mailgate_oauth_refresh_total\{{result="{result}"\}} \d+')

        # A refused access token: the gateway refreshes (counted) and the login works.
        self.oauth.revoke_access_tokens("frank@example.test")
        self.imap_login("watched")
        text = self.metrics()
        self.assertGreater(int(re.search(r'mailgate_oauth_refresh_total\{result="ok"\} (\d+)', text).group(1)),
                           refreshed_ok)
        shown = self.account("watched")["oauth"]
        self.assertGreaterEqual(shown["refresh_count"], 1)
        self.assertIsNotNone(shown["last_refresh_at"])

        # Consent withdrawn at the provider: needs_consent with the error verbatim, in the view and the metrics.
        # (Another account: the gateway does not force a second refresh of one account within 30 s.)
        self.add_account("withdrawn", "ivan@example.test")
        self.device_consent("withdrawn", "ivan@example.test")
        self.oauth.fail_token_requests("invalid_grant", description="AADSTS70008: The refresh token has expired",
                                       grant_type="refresh_token")
        try:
            self.oauth.revoke_access_tokens("ivan@example.test")
            with self.assertRaises(imaplib.IMAP4.error):
                self.imap_login("withdrawn")
        finally:
            self.oauth.clear_token_failures()
        shown = self.account("withdrawn")["oauth"]
        self.assertEqual(shown["state"], "needs_consent")
        self.assertEqual(shown["last_error"]["error"], "invalid_grant")
        self.assertEqual(shown["last_error"]["description"], "AADSTS70008: The refresh token has expired")
        self.assertEqual(shown["last_error"]["http_status"], 400)
        self.assertGreaterEqual(shown["refresh_failures"], 1)
        text = self.metrics()
        self.assertIn('mailgate_oauth_state{account="withdrawn",state="needs_consent"} 1', text)
        self.assertGreaterEqual(int(re.search(r'mailgate_oauth_refresh_total\{result="needs_consent"\} (\d+)',
                                              text).group(1)), 1)
        # Consent again from the page: forgotten in memory, works at once.
        self.device_consent("withdrawn", "ivan@example.test")
        self.imap_login("withdrawn")
        self.assertEqual(self.account("withdrawn")["oauth"]["last_error"]["error"], "")

    def test_degraded_shows_the_backoff(self):
        self.add_account("shaky", "grace@example.test")
        self.device_consent("shaky", "grace@example.test")
        self.oauth.set_token_endpoint_down(True)
        try:
            self.oauth.revoke_access_tokens("grace@example.test")
            with self.assertRaises(imaplib.IMAP4.error):
                self.imap_login("shaky")
            shown = self.account("shaky")["oauth"]
            self.assertEqual(shown["state"], "degraded")
            self.assertTrue(shown["has_refresh_token"])
            self.assertGreater(shown["retry_in"], 0)
            self.assertEqual(shown["last_error"]["http_status"], 503)
            self.assertIn('mailgate_oauth_state{account="shaky",state="degraded"} 1', self.metrics())
        finally:
            self.oauth.set_token_endpoint_down(False)

    def test_changing_the_client_of_an_account_needs_consent_again(self):
        self.add_account("moved", "heidi@example.test")
        self.device_consent("moved", "heidi@example.test")
        moved = self.call("PUT", "/api/v1/accounts/moved", {"oauth_client": "private"})
        self.assertEqual((moved["oauth"]["client"], moved["oauth"]["state"]), ("private", "needs_consent"))
        self.assertFalse(moved["oauth"]["has_refresh_token"])
        response, _, data = self.api.request("PUT", "/api/v1/accounts/moved", {"oauth_client": "nope"})
        self.assertEqual(response.status, 400)
        self.device_consent("moved", "heidi@example.test")
        self.imap_login("moved")

    def test_zz_no_token_like_text_in_any_api_response_or_log(self):
        # Runs last (by name): the other tests have consented, refreshed and logged in by now.
        self.call("GET", "/api/v1/accounts")
        self.call("GET", "/api/v1/oauth-clients")
        self.assertGreater(len(RecordingClient.seen), 50)
        for payload in RecordingClient.seen:
            text = payload.decode("utf-8", "replace")
            try:
                data = json.loads(text)
            except ValueError:
                data = None
            if isinstance(data, dict):
                data.pop("csrf", None)  # the session's own CSRF token
                data.pop("authorization_url", None)  # public: state and the PKCE challenge, never the verifier
                text = json.dumps(data)
            text = re.sub(r"\bmailgate_[a-z_]+", "", text)  # metric names
            self.assertIsNone(TOKEN_LIKE.search(text), text[:2000])
        log = self.gw.log()
        self.assertIsNone(TOKEN_LIKE.search(log), TOKEN_LIKE.search(log))
        self.assertNotIn(CONFIG_SECRET, log)


if __name__ == "__main__":
    unittest.main()
