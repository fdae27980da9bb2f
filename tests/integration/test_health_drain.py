"""Readiness for load balancers and drain mode against the real rig: /healthz says "ok" once the listeners accept and
the store answers; SIGUSR1 or POST /api/v1/drain makes it 503 "draining", closes the mail listeners (new clients
are refused at connect) while an open session goes on to its end, and the process keeps running until SIGTERM.
And an account disabled with the CLI beside the running gateway loses its open sessions there within seconds."""

import http.client
import imaplib
import os
import poplib
import signal
import socket
import tempfile
import time
import unittest

from admin_client import AdminClient, admin_password
from gateway import Gateway, add_account, run_cli
from rig import ProviderRig

ALICE = "alice@example.test"
HOST = "127.0.0.1"


def healthz(port, host=None):
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    conn.request("GET", "/healthz", headers={"Host": host or f"{HOST}:{port}"})
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    return response.status, body


def metrics(port):
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", "/metrics", headers={"Host": f"{HOST}:{port}"})
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def refused(port):
    try:
        socket.create_connection((HOST, port), timeout=5).close()
        return False
    except ConnectionRefusedError:
        return True


class HealthAndDrain(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-drain-")

    @classmethod
    def tearDownClass(cls):
        cls.rig.stop()
        cls.tmp.cleanup()

    def drains_with(self, start_drain):
        data = os.path.join(self.tmp.name, self.id().rsplit(".", 1)[1])  # a first start: the admin password file
        p, host = self.rig.ports, self.rig.host
        add_account(data, "alice", "alice-local", "alice-pw", ALICE, self.rig.users[ALICE],
                    "--pop3", f"pop3s://{host}:{p['pop3s']}")
        with Gateway(data_dir=data, extra_args=["--upstream.ca_file", self.rig.ca_file]) as gw:
            admin = gw.ports["admin"]
            self.assertEqual(healthz(admin), (200, "ok\n"))
            self.assertIn("\nmailgate_draining 0\n", metrics(admin))
            # A balancer's check may name any host (the admin page's Host check is for browsers).
            self.assertEqual(healthz(admin, host="gw1.internal"), (200, "ok\n"))
            client = poplib.POP3(HOST, gw.ports["pop3"], timeout=30)
            client.user("alice-local")
            client.pass_("alice-pw")
            start_drain(gw)
            deadline = time.monotonic() + 10
            while healthz(admin)[0] == 200 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(healthz(admin), (503, "draining: 1 session(s) left\n"))
            self.assertIn("\nmailgate_draining 1\n", metrics(admin))
            for name in ("pop3", "pop3s", "imap", "imaps", "smtp", "smtps"):
                self.assertTrue(refused(gw.ports[name]), name)
            # The open session goes on as before, to its own end.
            count, _ = client.stat()
            self.assertGreaterEqual(count, 0)
            client.quit()
            deadline = time.monotonic() + 10
            while healthz(admin)[1] != "draining: 0 session(s) left\n" and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(healthz(admin), (503, "draining: 0 session(s) left\n"))
            self.assertIsNone(gw.proc.poll(), "a drained gateway keeps running until it is stopped")
            self.assertEqual(gw.log().count("draining: mail listeners closed"), 1)
        return gw

    def test_sigusr1_drains(self):
        def send_sigusr1(gw):
            gw.proc.send_signal(signal.SIGUSR1)
            gw.proc.send_signal(signal.SIGUSR1)  # a second one changes nothing

        self.drains_with(send_sigusr1)

    def test_the_admin_api_drains(self):
        def post_drain(gw):
            admin = AdminClient(gw.ports["admin"])
            admin.login(admin_password(gw.banner))
            response, _, data = admin.request("POST", "/api/v1/drain")
            self.assertEqual(response.status, 200)
            self.assertEqual(data, {"draining": True, "already": False, "sessions": 1})
            response, _, data = admin.request("POST", "/api/v1/drain")
            self.assertTrue(data["already"])
            anonymous = AdminClient(gw.ports["admin"])
            response, _, _ = anonymous.request("POST", "/api/v1/drain")
            self.assertEqual(response.status, 401)

        gw = self.drains_with(post_drain)
        self.assertIn("admin: drain requested from 127.0.0.1", gw.rest_of_output)

    def test_a_cli_disable_closes_the_running_gateways_sessions(self):
        data = os.path.join(self.tmp.name, "cli-disable")
        p, host = self.rig.ports, self.rig.host
        add_account(data, "alice", "alice-local", "alice-pw", ALICE, self.rig.users[ALICE],
                    "--imap", f"imaps://{host}:{p['imaps']}")
        with Gateway(data_dir=data, extra_args=["--upstream.ca_file", self.rig.ca_file]) as gw:
            client = imaplib.IMAP4(HOST, gw.ports["imap"], timeout=30)
            client.login("alice-local", "alice-pw")
            client.select("INBOX")
            run_cli("account", "disable", "alice", data_dir=data, check=True)
            start = time.monotonic()
            closed = False
            while time.monotonic() - start < 10 and not closed:
                try:
                    line = client.readline()
                    closed = not line or line.startswith(b"* BYE")
                except (OSError, imaplib.IMAP4.abort):
                    closed = True
            self.assertTrue(closed, "the session of the disabled account stayed open")
            client.shutdown()
            deadline = time.monotonic() + 5
            while "was disabled or removed elsewhere" not in gw.log() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIn("account 'alice' was disabled or removed elsewhere: closed its 1 session(s) here", gw.log())


if __name__ == "__main__":
    unittest.main()
