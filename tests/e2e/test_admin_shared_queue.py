"""Runs the admin page's Queue view in real headless Chromium (admin_shared_queue.mjs) on the second of two gateways
that share one real PostgreSQL store (tests/integration/postgres.py): a scanner's message queued on instance A,
whose provider is unreachable, shows on B's page as A's, with its headers read from the store; Retry and Delete
pressed on B are asked of A (202), and A deletes it within seconds."""

import os
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from admin_client import admin_password  # noqa: E402
from gateway import Gateway, instance_data_dir, run_cli  # noqa: E402
from postgres import PostgresServer  # noqa: E402
from rig import reserve_port  # noqa: E402

BOB = "bob@example.test"
SCANNER = "scanner@office.test"
SUBJECT = "Scanned page 9 <b>bold</b>"


class AdminSharedQueue(unittest.TestCase):
    def test_the_shared_queue_in_chromium(self):
        pg = PostgresServer().start()
        self.addCleanup(pg.stop)
        tmp = tempfile.TemporaryDirectory(prefix="mailgate-e2e-shared-queue-")
        self.addCleanup(tmp.cleanup)
        config = pg.write_config(tmp.name)
        data = [os.path.join(tmp.name, "a"), os.path.join(tmp.name, "b")]
        dead = reserve_port()  # the provider: nothing listens
        run_cli("account", "add", "scanner", "--local-user", "scanner-local", "--remote-user", SCANNER,
                "--smtp", f"smtps://127.0.0.1:{dead}", "--sender", SCANNER, "--config", config, data_dir=data[0],
                check=True, env={"MAILGATE_LOCAL_PASSWORD": "scanner-pw", "MAILGATE_REMOTE_PASSWORD": "app-pw"})
        instance_data_dir(data[0], data[1])
        args = ["--config", config, "--access.relay_without_auth", "127.0.0.1/32", "--smtp.spool_retry", "3600",
                "--smtp.spool_lease", "4"]
        gws = []
        for d in data:
            gw = Gateway(data_dir=d, extra_args=args)
            gw.start()
            self.addCleanup(gw.stop)
            gws.append(gw)
        owner = gws[0].banner.split("as instance ")[1].split()[0]
        viewer = gws[1].banner.split("as instance ")[1].split()[0]

        with smtplib.SMTP("127.0.0.1", gws[0].ports["smtp"], timeout=60) as client:
            client.ehlo("scanner")
            self.assertEqual(client.mail(SCANNER)[0], 250)
            self.assertEqual(client.rcpt(BOB)[0], 250)
            code, reply = client.data(f"From: <{SCANNER}>\r\nTo: <{BOB}>\r\nSubject: {SUBJECT}\r\n\r\npage\r\n".encode())
        self.assertEqual(code, 250, reply)
        queued = reply.decode().split("queued as ")[1].strip()

        shots = os.environ.get("SCREENSHOT_DIR", os.path.join(tmp.name, "screenshots"))
        env = dict(os.environ, ADMIN_URL=f"http://127.0.0.1:{gws[1].ports['admin']}/",
                   ADMIN_PASSWORD=admin_password(gws[0].banner), ACCOUNT="scanner", OWNER=owner, VIEWER=viewer,
                   SENDER=SCANNER, SUBJECT=SUBJECT, SCREENSHOT_DIR=shots)
        result = subprocess.run(["node", os.path.join(HERE, "admin_shared_queue.mjs")], env=env, capture_output=True,
                                text=True, timeout=240)
        logs = "\n--- A ---\n" + gws[0].log()[-3000:] + "\n--- B ---\n" + gws[1].log()[-3000:]
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr + logs)
        self.assertTrue(os.path.getsize(os.path.join(shots, "shared-queue.png")) > 1000)
        deadline = time.monotonic() + 10
        while "deleted by the administrator" not in gws[0].log() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertIn(f"{queued} deleted by the administrator (asked through the shared spool)", gws[0].log())
        self.assertIn(f"{queued}: retry asked by the administrator through the shared spool", gws[0].log())
        self.assertFalse(os.path.exists(os.path.join(data[0], "spool", "queue", queued + ".msg")))


if __name__ == "__main__":
    unittest.main()
