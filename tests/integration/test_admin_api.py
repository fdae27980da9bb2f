"""The admin API over real HTTP: login, CSRF, Origin and Host checks, throttling, secrets never echoed, hostile
input stored verbatim, size limits, live sessions closed when their account is disabled, test connection."""

import http.client
import imaplib
import json
import os
import socket
import tempfile
import time
import unittest

from admin_client import AdminClient, admin_password
from gateway import Gateway, add_account, run_cli
from rig import ProviderRig

ALICE = "alice@example.test"
XSS = '"><script>alert(1)</script>'
SQL = "o'brien\"; DROP TABLE accounts; --"


class AdminApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-admin-")
        cls.data = os.path.join(cls.tmp.name, "data")
        cls.gw = Gateway(data_dir=cls.data, extra_args=["--upstream.ca_file", cls.rig.ca_file,
                                                        "--access.failed_login_delay", "0"]).__enter__()
        cls.password = admin_password(cls.gw.banner)
        cls.port = cls.gw.ports["admin"]

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.rig.stop()
        cls.tmp.cleanup()

    def client(self):
        c = AdminClient(self.port)
        response, _ = c.login(self.password)
        self.assertEqual(response.status, 200)
        return c

    def account_body(self, name, local_user, **extra):
        body = {"name": name, "local_user": local_user, "local_password": "local-secret-1",
                "remote_user": ALICE, "remote_password": self.rig.users[ALICE], "provider": "custom",
                "imap": f"imaps://{self.rig.host}:{self.rig.ports['imaps']}",
                "smtp": f"smtps://{self.rig.host}:{self.rig.ports['smtps']}"}
        body.update(extra)
        return body

    def test_banner_shows_a_password_once(self):
        self.assertTrue(self.password and len(self.password) >= 16)
        with Gateway(data_dir=self.data) as again:
            self.assertIsNone(admin_password(again.banner))  # only on first start

    def test_everything_refuses_without_login(self):
        anonymous = AdminClient(self.port)
        for method, path in (("GET", "/api/v1/accounts"), ("POST", "/api/v1/accounts"), ("GET", "/api/v1/me"),
                             ("GET", "/api/v1/sessions"), ("GET", "/api/v1/events"), ("GET", "/api/v1/providers"),
                             ("PUT", "/api/v1/accounts/x"), ("DELETE", "/api/v1/accounts/x"),
                             ("POST", "/api/v1/accounts/x/test"), ("POST", "/api/v1/accounts/x/disable"),
                             ("GET", "/api/v1/tests/abc"), ("POST", "/api/v1/logout")):
            response, _, data = anonymous.request(method, path, {} if method != "GET" else None)
            self.assertEqual(response.status, 401, (method, path))
            self.assertEqual(data, {"error": "login required"})
        ok, body, _ = anonymous.request("GET", "/healthz")
        self.assertEqual((ok.status, body), (200, b"ok\n"))
        page, html, _ = anonymous.request("GET", "/")
        self.assertEqual(page.status, 200)
        self.assertIn(b"<title>mailgate admin</title>", html)

    def test_security_headers_and_cookie_flags(self):
        c = AdminClient(self.port)
        response, _ = c.login(self.password)
        cookie = response.getheader("Set-Cookie")
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        response, _, _ = c.request("GET", "/api/v1/accounts")
        self.assertEqual(response.getheader("Content-Security-Policy"), "default-src 'self'; frame-ancestors 'none'")
        self.assertEqual(response.getheader("X-Content-Type-Options"), "nosniff")
        self.assertEqual(response.getheader("Referrer-Policy"), "no-referrer")
        self.assertEqual(response.getheader("Cache-Control"), "no-store")

    def test_csrf_origin_and_host_are_enforced(self):
        c = self.client()
        body = self.account_body("csrf-test", "csrf-local")
        response, _, data = c.request("POST", "/api/v1/accounts", body, csrf=False)
        self.assertEqual(response.status, 403)
        self.assertIn("CSRF", data["error"])
        response, _, _ = c.request("POST", "/api/v1/accounts", body, headers={"X-CSRF-Token": "0" * 64})
        self.assertEqual(response.status, 403)
        response, _, data = c.request("POST", "/api/v1/accounts", body, headers={"Origin": "http://evil.example"})
        self.assertEqual(response.status, 403)
        response, _, _ = c.request("POST", "/api/v1/accounts", body, origin=False)
        self.assertEqual(response.status, 403)
        response, _, data = c.request("GET", "/api/v1/accounts", headers={"Host": "rebound.example:80"})
        self.assertEqual(response.status, 421)
        response, _, _ = c.request("POST", "/api/v1/accounts", body)
        self.assertEqual(response.status, 201)

    def test_login_throttling(self):
        with Gateway(data_dir=self.data) as separate:  # its own admin server: the lockout stays there
            attacker = AdminClient(separate.ports["admin"])
            statuses = [attacker.login("wrong-password")[0].status for _ in range(6)]
            self.assertEqual(statuses[:5], [401] * 5)
            self.assertEqual(statuses[5], 429)
            self.assertEqual(attacker.login(self.password)[0].status, 429)  # even the right one, for a minute

    def test_secrets_never_echoed_and_hostile_names_stored_verbatim(self):
        c = self.client()
        for name, local in ((XSS, "xss-local"), (SQL, "sql-local")):
            response, payload, data = c.request("POST", "/api/v1/accounts", self.account_body(name, local))
            self.assertEqual(response.status, 201, data)
            self.assertEqual(data["name"], name)
            for secret in (b"local-secret-1", self.rig.users[ALICE].encode()):
                self.assertNotIn(secret, payload)
        response, payload, listed = c.request("GET", "/api/v1/accounts")
        names = [a["name"] for a in listed]
        self.assertIn(XSS, names)
        self.assertIn(SQL, names)
        self.assertNotIn(b"local-secret-1", payload)
        self.assertNotIn(self.rig.users[ALICE].encode(), payload)
        self.assertEqual(response.getheader("Content-Type"), "application/json")
        response, payload, single = c.request("GET", "/api/v1/accounts/" + urlquote(SQL))
        self.assertEqual((response.status, single["name"]), (200, SQL))
        shown = run_cli("account", "list", "--json", data_dir=self.data, check=True).stdout
        self.assertIn("DROP TABLE", shown)  # the table is still there, the text stored as given

    def test_validation_errors(self):
        c = self.client()
        response, _, data = c.request("POST", "/api/v1/accounts",
                                      self.account_body("plain", "plain-local", imap="imap://mail.example.test"))
        self.assertEqual(response.status, 400)
        self.assertIn("no TLS", data["error"])
        response, _, data = c.request("POST", "/api/v1/accounts", raw_body=b"{not json",
                                      headers={"Content-Type": "application/json"})
        self.assertEqual((response.status, data["error"]), (400, "malformed JSON"))
        response, _, data = c.request("POST", "/api/v1/accounts", {"name": "x"})
        self.assertEqual(response.status, 400)

    def test_mailbox_options_create_update_and_validation(self):
        c = self.client()
        keys = ("pop3_source", "pop3_folder", "pop3_mark_seen", "save_sent", "sent_folder", "saves_sent_copy")
        options = lambda a: {k: a[k] for k in keys}
        response, _, data = c.request("POST", "/api/v1/accounts", self.account_body(
            "mbox", "mbox-local", pop3_source="imap", pop3_folder="Archive/2024", pop3_mark_seen=True,
            save_sent="never", sent_folder="Outbox"))
        self.assertEqual(response.status, 201, data)
        chosen = {"pop3_source": "imap", "pop3_folder": "Archive/2024", "pop3_mark_seen": True,
                  "save_sent": "never", "sent_folder": "Outbox", "saves_sent_copy": False}
        self.assertEqual(options(data), chosen)
        _, _, data = c.request("GET", "/api/v1/accounts/mbox")
        self.assertEqual(options(data), chosen)
        response, _, data = c.request("PUT", "/api/v1/accounts/mbox", {"save_sent": "always", "pop3_mark_seen": False})
        self.assertEqual(response.status, 200, data)
        self.assertEqual(options(data), dict(chosen, save_sent="always", pop3_mark_seen=False, saves_sent_copy=True))
        _, _, listed = c.request("GET", "/api/v1/accounts")
        self.assertEqual(options(next(a for a in listed if a["name"] == "mbox")), options(data))
        shown = run_cli("account", "show", "mbox", data_dir=self.data, check=True).stdout
        self.assertIn("pop3 folder:  Archive/2024\n", shown)

        # Defaults follow the provider when the body says nothing.
        response, _, data = c.request("POST", "/api/v1/accounts", self.account_body("apple", "apple-local",
                                                                                    provider="icloud"))
        self.assertEqual(response.status, 201, data)
        self.assertEqual(options(data), {"pop3_source": "imap", "pop3_folder": "INBOX", "pop3_mark_seen": False,
                                         "save_sent": "auto", "sent_folder": "Sent Messages",
                                         "saves_sent_copy": True})

        for body, error in (({"pop3_source": "pop"}, "pop3_source must be native or imap, not 'pop'"),
                            ({"save_sent": "sometimes"}, "save_sent must be auto, always or never"),
                            ({"pop3_mark_seen": "yes"}, "pop3_mark_seen must be true or false"),
                            ({"pop3_folder": 5}, "pop3_folder must be a string"),
                            ({"pop3_folder": ""}, "pop3_folder must not be empty"),
                            ({"sent_folder": "Sent\r\nA1 DELETE INBOX"}, "sent_folder must not contain CR, LF or NUL"),
                            ({"sent_folder": "s" * 256}, "sent_folder is longer than 255 bytes"),
                            # Without IMAP there is no folder to serve POP3 from.
                            ({"pop3_source": "imap", "provider": "custom", "imap": "",
                              "smtp": f"smtps://{self.rig.host}:{self.rig.ports['smtps']}"},
                             "pop3_source imap needs an IMAP endpoint")):
            response, _, data = c.request("PUT", "/api/v1/accounts/mbox", body)
            self.assertEqual(response.status, 400, body)
            self.assertIn(error, data["error"], body)
            response, _, data = c.request("POST", "/api/v1/accounts", self.account_body("bad", "bad-local", **body))
            self.assertEqual(response.status, 400, body)
            self.assertIn(error, data["error"], body)
        _, _, data = c.request("GET", "/api/v1/accounts/mbox")
        self.assertEqual(options(data), dict(chosen, save_sent="always", pop3_mark_seen=False, saves_sent_copy=True))
        self.assertEqual(sorted(data["endpoints"]), ["imap", "smtp"])
        response, _, _ = c.request("GET", "/api/v1/accounts/bad")
        self.assertEqual(response.status, 404)

    def test_size_limits_and_malformed_http(self):
        c = self.client()
        response, _, data = c.request("POST", "/api/v1/accounts", raw_body=b"{" + b" " * (70 * 1024) + b"}",
                                      headers={"Content-Type": "application/json"})
        self.assertEqual(response.status, 413)
        response, _, _ = c.request("GET", "/api/v1/accounts", headers={"X-Big": "y" * 9000})
        self.assertEqual(response.status, 431)
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"GARBAGE \x00\x01 NOT HTTP\r\n\r\n")
            self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 400"))
        self.assertIsNone(self.gw.proc.poll())

    def test_edit_passwords_test_connection_and_delete(self):
        c = self.client()
        response, _, _ = c.request("POST", "/api/v1/accounts", self.account_body("editme", "edit-local"))
        self.assertEqual(response.status, 201)
        response, _, data = c.request("PUT", "/api/v1/accounts/editme",
                                      {"senders": ["a@example.test"], "remote_user": ALICE,
                                       "imap": f"imaps://{self.rig.host}:{self.rig.ports['imaps']}",
                                       "pop3": f"pop3s://{self.rig.host}:{self.rig.ports['pop3s']}"})
        self.assertEqual(response.status, 200, data)
        self.assertEqual(sorted(data["endpoints"]), ["imap", "pop3"])
        self.assertEqual(data["senders"], ["a@example.test"])
        response, payload, _ = c.request("POST", "/api/v1/accounts/editme/password", {"local": "new-local-2"})
        self.assertEqual(response.status, 200)
        self.assertNotIn(b"new-local-2", payload)
        response, _, job = c.request("POST", "/api/v1/accounts/editme/test")
        self.assertEqual(response.status, 200)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _, _, status = c.request("GET", "/api/v1/tests/" + job["id"])
            if status["done"]:
                break
            time.sleep(0.2)
        self.assertTrue(status["done"] and status["ok"], status)
        steps = {(s["protocol"], s["step"]) for s in status["steps"]}
        for protocol in ("imap", "pop3"):
            for step in ("resolve", "connect", "tls", "login", "logout"):
                self.assertIn((protocol, step), steps)
        response, _, _ = c.request("DELETE", "/api/v1/accounts/editme")
        self.assertEqual(response.status, 200)
        response, _, _ = c.request("GET", "/api/v1/accounts/editme")
        self.assertEqual(response.status, 404)

    def test_disable_closes_live_sessions_and_next_login_fails(self):
        c = self.client()
        c.request("POST", "/api/v1/accounts", self.account_body("live", "live-local"))
        imap = imaplib.IMAP4("127.0.0.1", self.gw.ports["imap"], timeout=30)
        imap.login("live-local", "local-secret-1")
        imap.select("INBOX")
        _, _, sessions = c.request("GET", "/api/v1/sessions")
        mine = [s for s in sessions if s["account"] == "live"]
        self.assertEqual(len(mine), 1, sessions)
        self.assertEqual(mine[0]["protocol"], "imap")
        response, _, data = c.request("POST", "/api/v1/accounts/live/disable")
        self.assertEqual((response.status, data["sessions_closed"]), (200, 1))
        with self.assertRaises((imaplib.IMAP4.abort, OSError, EOFError)):
            imap.noop()
        again = imaplib.IMAP4("127.0.0.1", self.gw.ports["imap"], timeout=30)
        with self.assertRaises(imaplib.IMAP4.error):
            again.login("live-local", "local-secret-1")
        again.logout()
        _, _, events = c.request("GET", "/api/v1/events")
        kinds = [e["kind"] for e in events]
        self.assertIn("login_ok", kinds)
        self.assertIn("login_failed", kinds)
        _, metrics, _ = c.request("GET", "/metrics")
        self.assertIn(b'mailgate_sessions_total{protocol="imap"}', metrics)
        self.assertRegex(metrics.decode(), r'mailgate_local_auth_failures_total\{protocol="imap"\} [1-9]')

    def test_logout_and_admin_passwd(self):
        c = self.client()
        response, _, _ = c.request("POST", "/api/v1/logout")
        self.assertEqual(response.status, 200)
        response, _, _ = c.request("GET", "/api/v1/accounts")
        self.assertEqual(response.status, 401)
        tmp = tempfile.TemporaryDirectory(prefix="mailgate-adminpw-")
        self.addCleanup(tmp.cleanup)
        data = os.path.join(tmp.name, "data")
        result = run_cli("admin", "passwd", data_dir=data, env={"MAILGATE_ADMIN_PASSWORD": "chosen-admin-pw"})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotIn("chosen-admin-pw", result.stdout + result.stderr)
        with Gateway(data_dir=data) as other:
            self.assertIsNone(admin_password(other.banner))
            fresh = AdminClient(other.ports["admin"])
            self.assertEqual(fresh.login("chosen-admin-pw")[0].status, 200)


class AdminHttps(unittest.TestCase):
    def test_https_with_the_local_certificate_and_secure_cookie(self):
        import ssl
        with Gateway(extra_args=["--admin.tls", "true"]) as gw:
            self.assertIn(f"admin URL    https://127.0.0.1:{gw.ports['admin']}/", gw.banner)
            context = ssl.create_default_context(cafile=gw.cert_file)
            conn = http.client.HTTPSConnection("127.0.0.1", gw.ports["admin"], context=context, timeout=30)
            origin = f"https://127.0.0.1:{gw.ports['admin']}"
            conn.request("POST", "/api/v1/login", body=json.dumps({"password": admin_password(gw.banner)}),
                         headers={"Host": f"127.0.0.1:{gw.ports['admin']}", "Origin": origin,
                                  "Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            self.assertEqual(response.status, 200)
            self.assertIn("; Secure", response.getheader("Set-Cookie"))
            conn.close()
            with socket.create_connection(("127.0.0.1", gw.ports["admin"]), timeout=10) as plain:
                plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                self.assertNotIn(b"200 OK", plain.recv(200))  # no plaintext HTTP on an HTTPS port


def urlquote(text):
    from urllib.parse import quote
    return quote(text, safe="")


if __name__ == "__main__":
    unittest.main()
