"""Runs the admin page end to end in real headless Chromium against a real gateway and the rig: accounts, test
connection and live sessions (admin_page.mjs), and OAuth2 clients and consent with a real authorization server
(admin_oauth.mjs)."""

import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from admin_client import AdminClient, admin_password  # noqa: E402
from gateway import Gateway  # noqa: E402
from oauth_rig import OAuthServer  # noqa: E402
from rig import ProviderRig  # noqa: E402

ALICE = "alice@example.test"
BOB = "bob@example.test"


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
        for shot in ("login.png", "accounts.png", "test-connection.png", "client-setup.png", "sessions.png", "dashboard.png",
                     "drained.png"):
            self.assertTrue(os.path.getsize(os.path.join(env["SCREENSHOT_DIR"], shot)) > 1000, shot)

    def test_oauth_consent_in_chromium(self):
        oauth = OAuthServer()
        rig = ProviderRig(oauth=oauth).start()
        self.addCleanup(rig.stop)
        tmp = tempfile.TemporaryDirectory(prefix="mailgate-e2e-oauth-")
        self.addCleanup(tmp.cleanup)
        gw = Gateway(data_dir=os.path.join(tmp.name, "data"), extra_args=["--upstream.ca_file", rig.ca_file])
        gw.start()
        self.addCleanup(gw.stop)
        env = dict(os.environ,
                   ADMIN_URL=f"http://127.0.0.1:{gw.ports['admin']}/", ADMIN_PASSWORD=admin_password(gw.banner),
                   AS_CLIENT_ID=oauth.clients["public"]["client_id"], AS_TOKEN_URL=oauth.token_url,
                   AS_DEVICE_URL=oauth.device_authorization_url, AS_AUTHORIZE_URL=oauth.authorization_url,
                   DEVICE_USER=ALICE, CODE_USER=BOB,
                   RIG_IMAP=f"imap+starttls://{rig.host}:{rig.ports['imap']}",
                   RIG_SMTP=f"smtps://{rig.host}:{rig.ports['smtps']}",
                   GATEWAY_IMAP_PORT=str(gw.ports["imap"]),
                   SCREENSHOT_DIR=os.environ.get("SCREENSHOT_DIR", os.path.join(tmp.name, "screenshots")))
        node = subprocess.Popen(["node", os.path.join(HERE, "admin_oauth.mjs")], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        output, approvals = [], []

        def read():
            # The page shows the device code; approve it as the user would on another device.
            for line in node.stdout:
                output.append(line)
                if line.startswith("APPROVE "):
                    try:
                        oauth.approve_device_code(line.split()[1], ALICE)
                        approvals.append("ok")
                    except Exception as exc:  # reported with the script's output
                        approvals.append(repr(exc))

        reader = threading.Thread(target=read)
        reader.start()
        try:
            node.wait(timeout=300)
        finally:
            if node.poll() is None:
                node.kill()
                node.wait()
            reader.join(10)
            node.stdout.close()
        text = "".join(output)
        self.assertEqual(node.returncode, 0, text + "\n--- gateway log ---\n" + gw.log()[-3000:])
        self.assertEqual(approvals, ["ok"], text)
        for shot in ("oauth-clients.png", "consent-device.png", "consent-device-done.png", "oauth-callback.png",
                     "consent-code-done.png", "oauth-callback-elsewhere.png", "consent-paste-done.png"):
            self.assertTrue(os.path.getsize(os.path.join(env["SCREENSHOT_DIR"], shot)) > 1000, shot)


if __name__ == "__main__":
    unittest.main()
