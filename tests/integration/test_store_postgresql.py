"""The store's own tests once more, on a real PostgreSQL: the account, OAuth2, challenge-login and store-service
tests of mailgate_server_tests run with MAILGATE_TEST_POSTGRES set, so each opens a new database on a throwaway
cluster (tests/integration/postgres.py) through the same schema and migrations as SQLite. And the CLI on a
PostgreSQL store over verified TLS: the server's certificate is checked (a wrong CA is refused), and neither a
refused login nor an unreachable server shows the password. And a gateway through an outage of its database:
/healthz says "store unreachable" while PostgreSQL is down and "ok" again once it is back, on the same gateway, and a
login meanwhile gets a clean "try later" reply, never a dropped connection, and a device's message that cannot be
copied into the shared spool hears 451, never 250."""

import http.client
import os
import smtplib
import socket
import subprocess
import tempfile
import time
import unittest

from admin_client import AdminClient, admin_password
from gateway import Gateway, read_line, run_cli
from postgres import PostgresServer

SERVER_TESTS = os.environ.get("MAILGATE_SERVER_TESTS") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "tests", "server", "mailgate_server_tests")
SUITES = "account_repository.*:oauth_repository.*:challenge_logins*:store_service.*:shared_spool.*"


class StoreOnPostgresql(unittest.TestCase):
    def test_the_store_tests_pass_on_postgresql(self):
        with PostgresServer() as pg:
            prefix = pg.uri("")  # .../  : each test appends the database it creates
            env = dict(os.environ, MAILGATE_TEST_POSTGRES=prefix, MAILGATE_TEST_POSTGRES_DATA=pg.data)
            done = subprocess.run([SERVER_TESTS, f"--gtest_filter={SUITES}", "--gtest_brief=1"], env=env,
                                  capture_output=True, text=True, timeout=600)
            output = done.stdout + done.stderr
            self.assertEqual(done.returncode, 0, output[-20000:] + "\n" + pg.log()[-5000:])
            self.assertRegex(output, r"\[  PASSED  \] [1-9]\d* tests")
            self.assertNotIn(pg.password, output)
            databases = pg.sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'mgtest_%'")
            self.assertGreater(int(databases), 20)

    def test_the_cli_on_a_store_over_verified_tls(self):
        with PostgresServer(tls=True) as pg, tempfile.TemporaryDirectory(prefix="mailgate-pgtls-") as tmp:
            data = os.path.join(tmp, "data")
            verified = f"{pg.uri()}?sslmode=verify-full&sslrootcert={pg.ca_file}"
            added = run_cli("account", "add", "office", "--local-user", "scanner", "--remote-user", "r@example.com",
                            "--imap", "imaps://imap.example.com", "--store", verified, data_dir=data,
                            env={"MAILGATE_LOCAL_PASSWORD": "local-pw", "MAILGATE_REMOTE_PASSWORD": "remote-pw"})
            self.assertEqual(added.returncode, 0, added.stdout + added.stderr)
            listed = run_cli("account", "list", "--store", verified, data_dir=data, check=True)
            self.assertIn("office", listed.stdout)
            # (sslmode=verify-full never falls back to plaintext: libpq refuses a server without TLS.)
            # Another CA: the server's certificate does not verify, and nothing is read.
            other_ca = os.path.join(tmp, "other.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-keyout", os.path.join(tmp, "other.key"), "-out", other_ca, "-days", "1",
                            "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
            refused = run_cli("account", "list", "--store", f"{pg.uri()}?sslmode=verify-full&sslrootcert={other_ca}",
                              data_dir=data)
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn("certificate verify failed", refused.stdout + refused.stderr)
            wrong = pg.uri().replace(pg.password, "not-the-password")
            denied = run_cli("account", "list", "--store", f"{wrong}?sslmode=verify-full&sslrootcert={pg.ca_file}",
                             data_dir=data)
            self.assertNotEqual(denied.returncode, 0)
            self.assertIn("password authentication failed", denied.stdout + denied.stderr)
            self.assertNotIn("not-the-password", denied.stdout + denied.stderr)
            gone = run_cli("account", "list", "--store", pg.uri().replace(str(pg.port), "1"), data_dir=data)
            self.assertNotEqual(gone.returncode, 0)
            self.assertIn("cannot connect to PostgreSQL", gone.stdout + gone.stderr)
            self.assertNotIn(pg.password, gone.stdout + gone.stderr)
            # A server that accepts and then never answers (a host gone mute): refused after connect_timeout, 5 s,
            # not after the kernel's TCP timeouts; a connect_timeout in the URI wins.
            mute = socket.socket()
            mute.bind(("127.0.0.1", 0))
            mute.listen(4)
            self.addCleanup(mute.close)
            mute_uri = pg.uri().replace(str(pg.port), str(mute.getsockname()[1]))
            for uri, bound in ((mute_uri, 12), (mute_uri + "?connect_timeout=2", 4.5)):
                began = time.monotonic()
                hung = run_cli("account", "list", "--store", uri, data_dir=data)
                took = time.monotonic() - began
                self.assertNotEqual(hung.returncode, 0)
                self.assertIn("cannot connect to PostgreSQL", hung.stdout + hung.stderr)
                self.assertLess(took, bound, hung.stdout + hung.stderr)

    def test_a_database_outage_turns_healthz_unready_and_the_gateway_recovers(self):
        def healthz(port):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                return response.status, response.read().decode()
            finally:
                conn.close()

        def healthz_becomes(port, expected, seconds=15):
            deadline = time.monotonic() + seconds
            while healthz(port) != expected and time.monotonic() < deadline:
                time.sleep(0.2)
            return healthz(port)

        with PostgresServer() as pg, tempfile.TemporaryDirectory(prefix="mailgate-pgdown-") as tmp:
            data = os.path.join(tmp, "data")
            run_cli("account", "add", "office", "--local-user", "scanner", "--remote-user", "r@example.com",
                    "--pop3", "pop3s://127.0.0.1:1", "--store", pg.uri(), data_dir=data, check=True,
                    env={"MAILGATE_LOCAL_PASSWORD": "local-pw", "MAILGATE_REMOTE_PASSWORD": "remote-pw"})
            with Gateway(data_dir=data, extra_args=["--store", pg.uri(), "--access.failed_login_delay", "0",
                                                    "--access.relay_without_auth", "127.0.0.1/32"]) as gw:
                admin = gw.ports["admin"]
                self.assertEqual(healthz(admin), (200, "ok\n"))
                # A device's message whose copy cannot reach the shared spool is refused with 451, not lost
                # behind a 250: the database goes down between its RCPT and its end of data.
                device = smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=30)
                device.ehlo("scanner")
                self.assertEqual(device.mail("r@example.com")[0], 250)
                self.assertEqual(device.rcpt("someone@example.org")[0], 250)
                pg.halt()
                code, _ = device.data(b"Subject: scan\r\n\r\npage\r\n")
                self.assertEqual(code, 451)
                device.close()
                self.assertEqual([n for n in os.listdir(os.path.join(data, "spool", "queue"))], [])
                self.assertEqual(healthz_becomes(admin, (503, "store unreachable\n")), (503, "store unreachable\n"))
                with socket.create_connection(("127.0.0.1", gw.ports["pop3"]), timeout=30) as s:
                    self.assertTrue(read_line(s).startswith(b"+OK"))
                    s.sendall(b"USER scanner\r\n")
                    read_line(s)
                    s.sendall(b"PASS local-pw\r\n")
                    self.assertTrue(read_line(s).startswith(b"-ERR [SYS/TEMP]"))
                # A device sending without AUTH: its sender's account cannot be looked up, so "try later".
                with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=30) as smtp:
                    smtp.ehlo("scanner")
                    code, _ = smtp.mail("r@example.com")
                    self.assertEqual(code // 100, 4)
                pg.resume()
                self.assertEqual(healthz_becomes(admin, (200, "ok\n")), (200, "ok\n"))
                client = AdminClient(admin)
                response, _ = client.login(admin_password(gw.banner))  # the password hash is in the database
                self.assertEqual(response.status, 200)
                response, _, accounts = client.request("GET", "/api/v1/accounts")
                self.assertEqual((response.status, [a["name"] for a in accounts]), (200, ["office"]))
                self.assertIsNone(gw.proc.poll())
                log = gw.log()
            self.assertIn("spool: the shared spool in the store does not answer", log)
            self.assertIn("healthz: the store does not answer", log)
            self.assertIn("the account store does not answer, asked the client to retry", log)
            self.assertNotIn("internal error", log)
            self.assertNotIn(pg.password, log)


if __name__ == "__main__":
    unittest.main()
