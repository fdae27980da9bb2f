"""The mailgate CLI: account management, provider presets, URL validation, configuration errors, key handling."""

import json
import os
import stat
import tempfile
import unittest

from gateway import add_account, run_cli


class Cli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="mailgate-cli-")
        self.data = os.path.join(self.tmp.name, "data")

    def tearDown(self):
        self.tmp.cleanup()

    def add(self, name, *args, local="scanner", remote="office@gmail.com", env=None):
        return run_cli("account", "add", name, "--local-user", local, "--remote-user", remote, *args,
                       data_dir=self.data,
                       env=env if env is not None else {"MAILGATE_LOCAL_PASSWORD": "lp-123",
                                                        "MAILGATE_REMOTE_PASSWORD": "rp-456"})

    def test_help_and_version_at_every_level(self):
        for args in (["--help"], ["account", "--help"], ["account", "add", "--help"], ["account", "test", "--help"],
                     ["account", "list", "--help"], ["account", "set", "--help"], ["serve", "--help"],
                     ["providers", "--help"]):
            result = run_cli(*args, data_dir=self.data)
            self.assertEqual(result.returncode, 0, args)
            self.assertIn("Usage", result.stdout, args)
        self.assertRegex(run_cli("--version", data_dir=self.data).stdout, r"^mailgate \d+\.\d+\.\d+")

    def test_provider_preset_fills_endpoints(self):
        result = self.add("office", "--provider", "gmail")
        self.assertEqual(result.returncode, 0, result.stderr)
        shown = run_cli("account", "show", "office", data_dir=self.data, check=True).stdout
        self.assertIn("imaps://imap.gmail.com:993", shown)
        self.assertIn("pop3s://pop.gmail.com:995", shown)
        self.assertIn("smtps://smtp.gmail.com:465", shown)
        self.add("apple", "--provider", "icloud", local="phone")
        listed = json.loads(run_cli("account", "list", "--json", data_dir=self.data, check=True).stdout)
        apple = next(a for a in listed if a["name"] == "apple")
        self.assertEqual(sorted(apple["endpoints"]), ["imap", "smtp"])  # iCloud has no POP3
        self.assertEqual(apple["endpoints"]["smtp"]["url"], "smtp+starttls://smtp.mail.me.com:587")
        providers = run_cli("providers", data_dir=self.data, check=True).stdout
        for name in ("gmail", "outlook", "yahoo", "icloud", "yahoo-jp", "aol", "custom"):
            self.assertIn(name, providers)

    def test_mailbox_options_on_add_show_list_and_set(self):
        listed = lambda: {a["name"]: a for a in json.loads(
            run_cli("account", "list", "--json", data_dir=self.data, check=True).stdout)}
        self.assertEqual(self.add("apple", "--provider", "icloud", local="phone").returncode, 0)
        self.assertEqual(self.add("plain", "--provider", "gmail", local="plain").returncode, 0)
        result = self.add("office", "--provider", "gmail", "--pop3-source", "imap", "--pop3-folder", "[Gmail]/All Mail",
                          "--pop3-mark-seen", "--save-sent", "always", "--sent-folder", "[Gmail]/Sent Mail")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("pop3 source:  imap (from an IMAP folder)", result.stdout)
        shown = run_cli("account", "show", "office", data_dir=self.data, check=True).stdout
        for line in ("pop3 source:  imap (from an IMAP folder)", "pop3 folder:  [Gmail]/All Mail", "mark seen:    yes",
                     "save sent:    always (a copy goes to the Sent folder)", "sent folder:  [Gmail]/Sent Mail"):
            self.assertIn(line + "\n", shown)
        accounts = listed()
        options = lambda a: {k: a[k] for k in ("pop3_source", "pop3_folder", "pop3_mark_seen", "save_sent",
                                               "sent_folder", "saves_sent_copy")}
        self.assertEqual(options(accounts["office"]),
                         {"pop3_source": "imap", "pop3_folder": "[Gmail]/All Mail", "pop3_mark_seen": True,
                          "save_sent": "always", "sent_folder": "[Gmail]/Sent Mail", "saves_sent_copy": True})
        # Defaults: iCloud has no POP3 (so from IMAP) and keeps no copy of sent mail; Gmail has both.
        self.assertEqual(options(accounts["apple"]),
                         {"pop3_source": "imap", "pop3_folder": "INBOX", "pop3_mark_seen": False,
                          "save_sent": "auto", "sent_folder": "Sent Messages", "saves_sent_copy": True})
        self.assertEqual(options(accounts["plain"]),
                         {"pop3_source": "native", "pop3_folder": "INBOX", "pop3_mark_seen": False,
                          "save_sent": "auto", "sent_folder": "Sent", "saves_sent_copy": False})

        result = run_cli("account", "set", "office", "--save-sent", "never", "--pop3-mark-seen", "false",
                         "--pop3-source", "native", data_dir=self.data)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("save sent:    never (no copy)", result.stdout)
        self.assertEqual(options(listed()["office"]),
                         {"pop3_source": "native", "pop3_folder": "[Gmail]/All Mail", "pop3_mark_seen": False,
                          "save_sent": "never", "sent_folder": "[Gmail]/Sent Mail", "saves_sent_copy": False})
        run_cli("account", "set", "office", "--pop3-mark-seen", "true", "--sent-folder", "Sent", data_dir=self.data,
                check=True)
        self.assertEqual((listed()["office"]["pop3_mark_seen"], listed()["office"]["sent_folder"]), (True, "Sent"))

        for args, error in ((["--pop3-source", "pop"], "pop3_source must be native or imap, not 'pop'"),
                            (["--save-sent", "sometimes"], "save_sent must be auto, always or never"),
                            (["--pop3-mark-seen", "maybe"], "--pop3-mark-seen: say yes or no"),
                            (["--pop3-folder", ""], "pop3_folder must not be empty"),
                            (["--sent-folder", "x" * 256], "sent_folder is longer than 255 bytes"),
                            (["--sent-folder", "Sent\r\nA1 DELETE INBOX"], "must not contain CR, LF or NUL"),
                            ([], "nothing to change")):
            result = run_cli("account", "set", "office", *args, data_dir=self.data)
            self.assertNotEqual(result.returncode, 0, args)
            self.assertIn(error, result.stderr, args)
        self.assertEqual(listed()["office"]["sent_folder"], "Sent")  # nothing half-applied
        missing = run_cli("account", "set", "nobody", "--save-sent", "never", data_dir=self.data)
        self.assertIn("no account named 'nobody'", missing.stderr)

        result = self.add("smtponly", "--smtp", "smtps://smtp.example.com", "--pop3-source", "imap", local="s")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("pop3_source imap needs an IMAP endpoint", result.stderr)
        result = self.add("badseen", "--provider", "gmail", "--pop3-source", "IMAP", local="b")
        self.assertIn("pop3_source must be native or imap", result.stderr)
        self.assertNotIn("smtponly", listed())
        # Native POP3 without a POP3 endpoint stays fine, as before.
        self.assertEqual(self.add("nopop", "--imap", "imaps://imap.example.com", local="n").returncode, 0)

    def test_plaintext_scheme_refused_with_reason(self):
        result = self.add("bad", "--imap", "imap://mail.example.com")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("no TLS", result.stderr)
        self.assertIn("imaps://", result.stderr)
        result = self.add("bad", "--smtp", "imaps://mail.example.com")
        self.assertIn("not a smtp URL", result.stderr)
        self.assertEqual(run_cli("account", "list", data_dir=self.data, check=True).stdout.strip(), "no accounts")

    def test_passwords_never_from_argv_and_never_printed(self):
        result = self.add("nopw", "--provider", "gmail", env={})
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("MAILGATE_LOCAL_PASSWORD", result.stderr)
        result = self.add("office", "--provider", "gmail", "--sender", "a@example.com", "--sender", "b@example.com")
        self.assertEqual(result.returncode, 0, result.stderr)
        for args in (["account", "list"], ["account", "list", "--json"], ["account", "show", "office"]):
            out = run_cli(*args, data_dir=self.data, check=True)
            self.assertNotIn("lp-123", out.stdout + out.stderr)
            self.assertNotIn("rp-456", out.stdout + out.stderr)
        self.assertIn("a@example.com, b@example.com", run_cli("account", "show", "office", data_dir=self.data).stdout)
        with open(os.path.join(self.data, "mailgate.db"), "rb") as db:
            raw = db.read()
        self.assertNotIn(b"rp-456", raw)  # sealed with AES-GCM
        self.assertNotIn(b"lp-123", raw)  # only a scrypt hash

    def test_lifecycle_enable_disable_passwd_remove(self):
        self.add("office", "--provider", "gmail")
        self.assertIn("disabled", run_cli("account", "disable", "office", data_dir=self.data, check=True).stdout)
        self.assertIn("enabled:      no", run_cli("account", "show", "office", data_dir=self.data).stdout)
        run_cli("account", "enable", "office", data_dir=self.data, check=True)
        self.assertIn("enabled:      yes", run_cli("account", "show", "office", data_dir=self.data).stdout)
        r = run_cli("account", "passwd", "office", "--remote", data_dir=self.data,
                    env={"MAILGATE_REMOTE_PASSWORD": "new-remote"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("provider password", r.stdout)
        run_cli("account", "remove", "office", data_dir=self.data, check=True)
        missing = run_cli("account", "show", "office", data_dir=self.data)
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("no account named 'office'", missing.stderr)

    def test_duplicates_rejected(self):
        self.assertEqual(self.add("office", "--provider", "gmail").returncode, 0)
        again = self.add("office", "--provider", "gmail", local="other")
        self.assertIn("already exists", again.stderr)
        clash = self.add("other", "--provider", "gmail", local="SCANNER")  # local users are case-insensitive
        self.assertIn("local user 'SCANNER' already belongs", clash.stderr)

    def test_files_created_with_strict_modes(self):
        self.add("office", "--provider", "gmail")
        mode = lambda p: stat.S_IMODE(os.stat(os.path.join(self.data, p)).st_mode)
        self.assertEqual(mode("."), 0o700)
        self.assertEqual(mode("mailgate.db"), 0o600)
        self.assertEqual(mode("master.key"), 0o600)
        self.assertEqual(os.path.getsize(os.path.join(self.data, "master.key")), 32)

    def test_missing_or_loose_or_wrong_master_key_is_a_clear_error(self):
        self.add("office", "--provider", "gmail")
        key = os.path.join(self.data, "master.key")
        os.chmod(key, 0o640)
        r = run_cli("account", "list", data_dir=self.data)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("readable by group or others", r.stderr)
        os.chmod(key, 0o600)
        with open(key, "rb") as f:
            original = f.read()
        os.rename(key, key + ".bak")
        r = run_cli("account", "list", data_dir=self.data)
        self.assertIn("master key", r.stderr)
        self.assertIn("missing", r.stderr)
        self.assertFalse(os.path.exists(key), "a missing key must never be silently replaced")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, bytes(32))
        os.close(fd)
        r = run_cli("account", "list", data_dir=self.data)
        self.assertIn("does not belong to this database", r.stderr)
        with open(key, "wb") as f:
            f.write(original)
        self.assertEqual(run_cli("account", "list", data_dir=self.data).returncode, 0)

    def test_configuration_errors_name_the_key(self):
        cases = [
            (["--listen.pop3", "nonsense"], "listen.pop3"),
            (["--tls.min_version", "1.4"], "tls.min_version"),
            (["--access.allow", "10.0.0.0/33"], "access.allow"),
            (["--log.level", "loud"], "log.level"),
            (["--upstream.ca_file", "/nonexistent/ca.pem"], "upstream.ca_file"),
            (["--no.such_key", "1"], "no.such_key"),
        ]
        for args, key in cases:
            r = run_cli("serve", *args, data_dir=self.data, timeout=20)
            self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
            self.assertIn(key, r.stderr, args)
        conf = os.path.join(self.tmp.name, "bad.conf")
        with open(conf, "w") as f:
            f.write("[listen]\npop3 = 127.0.0.1:1110\nbogus = 1\n")
        r = run_cli("serve", "--config", conf, data_dir=self.data, timeout=20)
        self.assertEqual(r.returncode, 2)
        self.assertIn("listen.bogus", r.stderr)


if __name__ == "__main__":
    unittest.main()
