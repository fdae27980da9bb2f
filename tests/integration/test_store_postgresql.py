"""The store's own tests once more, on a real PostgreSQL: the account, OAuth2, challenge-login and store-service
tests of mailgate_server_tests run with MAILGATE_TEST_POSTGRES set, so each opens a new database on a throwaway
cluster (tests/integration/postgres.py) through the same schema and migrations as SQLite."""

import os
import subprocess
import unittest

from postgres import PostgresServer

SERVER_TESTS = os.environ.get("MAILGATE_SERVER_TESTS") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "tests", "server", "mailgate_server_tests")
SUITES = "account_repository.*:oauth_repository.*:challenge_logins*:store_service.*"


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


if __name__ == "__main__":
    unittest.main()
