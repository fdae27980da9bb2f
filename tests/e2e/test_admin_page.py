"""Runs the admin page end to end in real headless Chromium (admin_page.mjs) against a real gateway and the rig."""

import json
import os
import subprocess
import sys
import tempfile
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from admin_client import AdminClient, admin_password  # noqa: E402
from gateway import Gateway  # noqa: E402
from rig import ProviderRig  # noqa: E402

ALICE = "alice@example.test"


class AdminPage(unittest.TestCase):
    def test_admin_page_in_chromium(self):
        rig = ProviderRig().start()
        self.addCleanup(rig.stop)
        tmp = tempfile.TemporaryDirectory(prefix="mailgate-e2e-")
        self.addCleanup(tmp.cleanup)
        gw = Gateway(data_dir=os.path.join(tmp.name, "data"), extra_args=["--upstream.ca_file", rig.ca_file])
        gw.start()
        self.addCleanup(gw.stop)
        password = admin_password(gw.banner)
        # A hostile account name, added over the API, which the page must show as plain text.
        api = AdminClient(gw.ports["admin"])
        api.login(password)
        response, _, _ = api.request("POST", "/api/v1/accounts", {
            "name": '"><script>alert(1)</script>', "local_user": "xss", "local_password": "x", "remote_user": "x@x.test",
            "remote_password": "x", "provider": "custom", "imap": "imaps://imap.example.test"})
        self.assertEqual(response.status, 201)
        env = dict(os.environ,
                   ADMIN_URL=f"http://127.0.0.1:{gw.ports['admin']}/", ADMIN_PASSWORD=password,
                   RIG_USER=ALICE, RIG_PASSWORD=rig.users[ALICE],
                   RIG_IMAP=f"imaps://{rig.host}:{rig.ports['imaps']}",
                   RIG_SMTP=f"smtps://{rig.host}:{rig.ports['smtps']}",
                   GATEWAY_IMAP_PORT=str(gw.ports["imap"]),
                   SCREENSHOT_DIR=os.environ.get("SCREENSHOT_DIR", os.path.join(tmp.name, "screenshots")))
        result = subprocess.run(["node", os.path.join(HERE, "admin_page.mjs")], env=env, capture_output=True,
                                text=True, timeout=240)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr + "\n--- gateway log ---\n" + gw.log()[-3000:])
        for shot in ("login.png", "accounts.png", "test-connection.png", "sessions.png"):
            self.assertTrue(os.path.getsize(os.path.join(env["SCREENSHOT_DIR"], shot)) > 1000, shot)


if __name__ == "__main__":
    unittest.main()
