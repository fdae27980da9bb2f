"""`mailgate account test` against the real provider rig: success over every TLS mode, and each failure named."""

import json
import os
import tempfile
import unittest

from gateway import add_account, free_port, run_cli, steps
from rig import ProviderRig

ALICE = "alice@example.test"


class AccountTestCommand(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-acct-")
        cls.data = os.path.join(cls.tmp.name, "data")
        p = cls.rig.ports
        host = cls.rig.host
        cls.implicit_urls = ["--imap", f"imaps://{host}:{p['imaps']}", "--pop3", f"pop3s://{host}:{p['pop3s']}",
                             "--smtp", f"smtps://{host}:{p['smtps']}"]
        add_account(cls.data, "implicit", "alice-local", "local-pw-1", ALICE, cls.rig.users[ALICE],
                    *cls.implicit_urls)
        add_account(cls.data, "starttls", "alice-st", "local-pw-2", ALICE, cls.rig.users[ALICE],
                    "--imap", f"imap+starttls://{host}:{p['imap']}", "--pop3", f"pop3+starttls://{host}:{p['pop3']}",
                    "--smtp", f"smtp+starttls://{host}:{p['submission']}")
        add_account(cls.data, "wrongpw", "alice-wrong", "local-pw-3", ALICE, "not-the-password",
                    *cls.implicit_urls)
        add_account(cls.data, "mismatch", "alice-ip", "local-pw-4", ALICE, cls.rig.users[ALICE],
                    "--imap", f"imaps://127.0.0.1:{p['imaps']}")
        add_account(cls.data, "down", "alice-down", "local-pw-5", ALICE, cls.rig.users[ALICE],
                    "--pop3", f"pop3s://{host}:{free_port()}")

    @classmethod
    def tearDownClass(cls):
        cls.rig.stop()
        cls.tmp.cleanup()

    def account_test(self, name, ca_file=None):
        return run_cli("account", "test", name, "--upstream.ca_file", ca_file or self.rig.ca_file,
                       "--upstream.timeout", "10", data_dir=self.data)

    def endpoint_status(self, name):
        listed = json.loads(run_cli("account", "list", "--json", data_dir=self.data, check=True).stdout)
        account = next(a for a in listed if a["name"] == name)
        return {proto: (e["status"], e["status_reason"]) for proto, e in account["endpoints"].items()}

    def test_implicit_tls_all_protocols_pass(self):
        result = self.account_test("implicit")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        got = steps(result.stdout)
        for protocol in ("imap", "pop3", "smtp"):
            for step in ("resolve", "connect", "tls", "login", "logout"):
                self.assertIn((protocol, step, True), [(p, s, ok) for p, s, ok, _ in got], result.stdout)
        tls_lines = [d for p, s, ok, d in got if s == "tls"]
        for detail in tls_lines:
            self.assertRegex(detail, r"TLSv1\.[23]")
            self.assertIn("verified CN=localhost", detail)
        self.assertEqual({k: v[0] for k, v in self.endpoint_status("implicit").items()},
                         {"imap": "ok", "pop3": "ok", "smtp": "ok"})

    def test_starttls_all_protocols_pass(self):
        result = self.account_test("starttls")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        tls = [(p, d) for p, s, ok, d in steps(result.stdout) if s == "tls" and ok]
        self.assertEqual(sorted(p for p, _ in tls), ["imap", "pop3", "smtp"])
        for _, detail in tls:
            self.assertTrue(detail.startswith("STARTTLS, TLSv1."), detail)

    def test_untrusted_ca_names_certificate_verification(self):
        result = self.account_test("implicit", ca_file=self.rig.other_ca_file)
        self.assertEqual(result.returncode, 1)
        failures = [(p, s, d) for p, s, ok, d in steps(result.stdout) if not ok]
        self.assertEqual(len(failures), 3, result.stdout)
        for protocol, step, detail in failures:
            self.assertEqual(step, "tls")
            self.assertIn("certificate verification failed", detail)
        # No login was attempted over an unverified connection.
        self.assertNotIn("login", [s for _, s, _, _ in steps(result.stdout)])
        status = self.endpoint_status("implicit")
        self.assertEqual(status["imap"][0], "tls_error")
        # restore the status for other tests' independence
        self.assertEqual(self.account_test("implicit").returncode, 0)

    def test_wrong_remote_password_names_authentication(self):
        result = self.account_test("wrongpw")
        self.assertEqual(result.returncode, 1)
        failures = [(p, s, d) for p, s, ok, d in steps(result.stdout) if not ok]
        self.assertEqual(sorted(p for p, _, _ in failures), ["imap", "pop3", "smtp"], result.stdout)
        for _, step, detail in failures:
            self.assertEqual(step, "login")
            self.assertIn("rejected the stored credential", detail)
        self.assertNotIn("not-the-password", result.stdout + result.stderr)
        self.assertEqual({k: v[0] for k, v in self.endpoint_status("wrongpw").items()},
                         {"imap": "auth_failed", "pop3": "auth_failed", "smtp": "auth_failed"})

    def test_host_name_mismatch_fails(self):
        result = self.account_test("mismatch")
        self.assertEqual(result.returncode, 1)
        failures = [(s, d) for _, s, ok, d in steps(result.stdout) if not ok]
        self.assertEqual(len(failures), 1, result.stdout)
        self.assertEqual(failures[0][0], "tls")
        self.assertIn("does not match host '127.0.0.1'", failures[0][1])

    def test_provider_down_is_unreachable(self):
        result = self.account_test("down")
        self.assertEqual(result.returncode, 1)
        failures = [(s, d) for _, s, ok, d in steps(result.stdout) if not ok]
        self.assertEqual(failures[0][0], "connect", result.stdout)
        self.assertEqual(self.endpoint_status("down")["pop3"][0], "unreachable")

    def test_secrets_never_printed(self):
        outputs = [run_cli("account", "list", data_dir=self.data, check=True).stdout,
                   run_cli("account", "list", "--json", data_dir=self.data, check=True).stdout,
                   run_cli("account", "show", "implicit", data_dir=self.data, check=True).stdout,
                   self.account_test("implicit").stdout]
        for text in outputs:
            for secret in (self.rig.users[ALICE], "local-pw-1", "not-the-password"):
                self.assertNotIn(secret, text)
        self.assertIn("alice-local", outputs[2])


if __name__ == "__main__":
    unittest.main()
