"""Runs the admin page's Queue view end to end in real headless Chromium (admin_queue.mjs) against a real gateway
and the rig: a scanner's message, sent without AUTH, is queued (250) for an account whose provider is not
reachable; the page shows it with its attempts and last error, shows its headers, retries it and deletes it."""

import os
import smtplib
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from admin_client import AdminClient, admin_password  # noqa: E402
from gateway import Gateway, add_account  # noqa: E402
from rig import ProviderRig, reserve_port  # noqa: E402

ALICE = "alice@example.test"
BOB = "bob@example.test"
SCANNER = "scanner@office.test"
# Markup in the Subject: the page must show it as text.
SUBJECT = "Scanned page 7 <img src=x onerror=alert(1)>"


class AdminQueue(unittest.TestCase):
    def test_queue_view_in_chromium(self):
        rig = ProviderRig().start()
        self.addCleanup(rig.stop)
        tmp = tempfile.TemporaryDirectory(prefix="mailgate-e2e-queue-")
        self.addCleanup(tmp.cleanup)
        data = os.path.join(tmp.name, "data")
        # The provider's SMTP endpoint is a port nothing listens on: every delivery attempt fails to connect.
        dead = reserve_port()
        add_account(data, "scanner", "scanner-local", "scanner-pw", ALICE, rig.users[ALICE],
                    "--smtp", f"smtps://127.0.0.1:{dead}", "--sender", SCANNER)
        gw = Gateway(data_dir=data, extra_args=["--access.relay_without_auth", "127.0.0.1/32",
                                                "--upstream.ca_file", rig.ca_file, "--smtp.spool_retry", "3600"])
        gw.start()
        self.addCleanup(gw.stop)

        client = smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=60)
        client.ehlo("scanner")
        self.assertEqual(client.mail(SCANNER)[0], 250)
        self.assertEqual(client.rcpt(BOB)[0], 250)
        code, reply = client.data(f"From: <{SCANNER}>\r\nTo: <{BOB}>\r\nSubject: {SUBJECT}\r\n\r\npage 7\r\n".encode())
        client.quit()
        self.assertEqual(code, 250, reply)
        self.assertIn(b"queued as", reply)

        shots = os.environ.get("SCREENSHOT_DIR", os.path.join(tmp.name, "screenshots"))
        password = admin_password(gw.banner)
        env = dict(os.environ, ADMIN_URL=f"http://127.0.0.1:{gw.ports['admin']}/", ADMIN_PASSWORD=password,
                   ACCOUNT="scanner", SENDER=SCANNER, RECIPIENT=BOB, SUBJECT=SUBJECT, SCREENSHOT_DIR=shots)
        result = subprocess.run(["node", os.path.join(HERE, "admin_queue.mjs")], env=env, capture_output=True,
                                text=True, timeout=240)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr + "\n--- gateway log ---\n" + gw.log()[-3000:])
        for shot in ("queue.png", "queue-empty.png"):
            self.assertTrue(os.path.getsize(os.path.join(shots, shot)) > 1000, shot)

        # The page's Delete really emptied the queue, and the gateway says who did it.
        api = AdminClient(gw.ports["admin"])
        api.login(password)
        response, _, queue = api.request("GET", "/api/v1/queue")
        self.assertEqual(response.status, 200)
        self.assertEqual(queue["messages"], [])
        self.assertIn("deleted by the administrator", gw.log())


if __name__ == "__main__":
    unittest.main()
