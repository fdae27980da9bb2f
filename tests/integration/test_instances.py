"""Several instances: two gateways on one real PostgreSQL store (tests/integration/postgres.py) behind a real
HAProxy in TCP mode with send-proxy-v2 (tests/integration/balancer.py), against the real rig with its OAuth2
server. Logins through HAProxy land on both instances and both see the client's own address (127.0.0.2; 127.0.0.3
is outside access.allow); an account disabled on instance A loses its sessions on instance B; 20 parallel logins
over both instances with an expired OAuth2 token cause exactly one refresh; a PROXY header from an untrusted
address is refused; a device's mail queued through HAProxy on both instances while the provider is away is delivered
exactly once after one instance is killed (the survivor takes over its queue), and the killed one, restarted,
sends nothing again; when an instance is killed mid-session, its client reconnects through HAProxy to the other."""

import email
import imaplib
import os
import poplib
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
import unittest

from admin_client import AdminClient, admin_password
from balancer import Balancer
from gateway import Gateway, MAILGATE_BIN, at_once, instance_data_dir, read_line, run_cli
from oauth_rig import OAuthServer
from postgres import PostgresServer
from rig import ProviderRig, _PlainPortRelay, reserve_port

ALICE, HEIDI = "alice@example.test", "heidi@example.test"
USERS = {ALICE: "alice-provider-pw", HEIDI: "heidi-provider-pw"}
HOST = "127.0.0.1"
BALANCER = "127.0.0.5"
SCANNER = "scanner@office.test"
LEASE = 4


def refreshes(oauth, since=0):
    return [r for r in oauth.token_requests()[since:] if r.get("grant_type") == "refresh_token"]


def sourced(cls, source):
    class Sourced(cls):
        def _create_socket(self, timeout):
            return socket.create_connection((self.host, self.port), timeout, source_address=(source, 0))

    return Sourced


def closed_within(sock_file_reader, seconds):
    """Whether reading ends (EOF, reset or an IMAP BYE) within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = sock_file_reader()
        except (OSError, EOFError, imaplib.IMAP4.abort):
            return True
        if not line or line.startswith(b"* BYE"):
            return True
    return False


class SeveralInstances(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.oauth = OAuthServer(access_token_ttl=3600)
        cls.rig = ProviderRig(users=USERS, oauth=cls.oauth).start()
        cls.pg = PostgresServer().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-instances-")
        cls.config = os.path.join(cls.tmp.name, "mailgate.conf")
        o = cls.oauth
        with os.fdopen(os.open(cls.config, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(f"store = {cls.pg.uri()}\n")
            f.write(f"[oauth.test]\nclient_id = {o.clients['public']['client_id']}\ntoken_url = {o.token_url}\n"
                    f"device_url = {o.device_authorization_url}\nauthorize_url = {o.authorization_url}\n"
                    "scope = offline_access mail\n")
        cls.data = [os.path.join(cls.tmp.name, "a"), os.path.join(cls.tmp.name, "b")]
        h, p = cls.rig.host, cls.rig.ports
        cls.cli("account", "add", "alice", "--local-user", "alice-local", "--remote-user", ALICE,
                "--pop3", f"pop3s://{h}:{p['pop3s']}", "--imap", f"imaps://{h}:{p['imaps']}",
                env={"MAILGATE_LOCAL_PASSWORD": "alice-pw", "MAILGATE_REMOTE_PASSWORD": USERS[ALICE]})
        cls.cli("account", "add", "heidi", "--local-user", "heidi-local", "--remote-user", HEIDI, "--auth", "oauth2",
                "--oauth-client", "test", "--imap", f"imap+starttls://{h}:{p['imap']}", "--save-sent", "never",
                env={"MAILGATE_LOCAL_PASSWORD": "heidi-pw"})
        cls.provider_port = reserve_port()  # the scanner's provider: away until a test brings it back
        cls.cli("account", "add", "scanner", "--local-user", "scanner-local", "--remote-user", ALICE,
                "--smtp", f"smtps://{h}:{cls.provider_port}", "--sender", SCANNER,
                env={"MAILGATE_LOCAL_PASSWORD": "scanner-pw", "MAILGATE_REMOTE_PASSWORD": USERS[ALICE]})
        cls.relay = None
        # Every instance has the master key (README "Running several instances": copy it, mode 0600).
        instance_data_dir(cls.data[0], cls.data[1])
        cls.common_args = ["--config", cls.config, "--upstream.ca_file", cls.rig.ca_file,
                           "--access.failed_login_delay", "0", "--access.allow", "127.0.0.1 127.0.0.2",
                           "--auth.free_failures", "100", "--auth.max_failures", "200",
                           "--access.relay_without_auth", "127.0.0.2", "--smtp.spool_retry", "1,2",
                           "--smtp.spool_lease", str(LEASE)]
        cls.args = args = cls.common_args + [
            "--proxy.trusted", BALANCER, "--listen.pop3.proxy_protocol", "true", "--listen.imap.proxy_protocol",
            "true", "--listen.imaps.proxy_protocol", "true", "--listen.smtp.proxy_protocol", "true"]
        cls.gw = [Gateway(data_dir=cls.data[0], extra_args=args).__enter__()]
        # The same LAN certificate on both (what clients trust must not depend on where they land).
        shutil.copytree(os.path.join(cls.data[0], "tls"), os.path.join(cls.data[1], "tls"))
        cls.gw.append(Gateway(data_dir=cls.data[1], extra_args=args).__enter__())
        cls.password = admin_password(cls.gw[0].banner)
        cls.balancer = Balancer({name: ([(HOST, g.ports[name]) for g in cls.gw], "v2")
                                 for name in ("pop3", "imap", "imaps", "smtp")}, source=BALANCER).start()

    @classmethod
    def tearDownClass(cls):
        if cls.relay:
            cls.relay.close()
        cls.balancer.stop()
        for g in cls.gw:
            g.stop()
        cls.pg.stop()
        cls.rig.stop()
        cls.tmp.cleanup()

    @classmethod
    def cli(cls, *args, data=0, env=None, check=True):
        return run_cli(*args, "--config", cls.config, "--upstream.ca_file", cls.rig.ca_file,
                       data_dir=cls.data[data], env=env, check=check)

    def admin(self, i):
        client = AdminClient(self.gw[i].ports["admin"])
        response, _ = client.login(self.password)
        self.assertEqual(response.status, 200)
        return client

    def sessions(self, i, protocol):
        _, _, sessions = self.admin(i).request("GET", "/api/v1/sessions")
        return [s for s in sessions if s["protocol"] == protocol]

    def imap(self, source="127.0.0.2"):
        client = sourced(imaplib.IMAP4, source)(HOST, self.balancer.ports["imap"], timeout=60)
        client.login("alice-local", "alice-pw")
        return client

    def test_banner_names_the_shared_store_without_its_password(self):
        for g in self.gw:
            self.assertIn(f"store        postgresql://mailgate@127.0.0.1:{self.pg.port}/mailgate (PostgreSQL)",
                          g.banner)
            self.assertNotIn(self.pg.password, g.log())

    def test_logins_land_on_both_instances_and_see_the_clients_address(self):
        for _ in range(4):
            client = sourced(poplib.POP3, "127.0.0.2")(HOST, self.balancer.ports["pop3"], timeout=30)
            client.user("alice-local")
            client.pass_("alice-pw")
            client.stat()
            client.quit()
        for i in (0, 1):
            _, _, events = self.admin(i).request("GET", "/api/v1/events")
            logins = [e for e in events if e["kind"] == "login_ok" and e["protocol"] == "pop3"]
            self.assertTrue(logins, f"no POP3 login on instance {i}")
            self.assertEqual({e["client"] for e in logins}, {"127.0.0.2"})

    def test_access_allow_sees_the_clients_address_on_every_instance(self):
        for _ in range(2):
            with socket.create_connection((HOST, self.balancer.ports["pop3"]), source_address=("127.0.0.3", 0),
                                          timeout=20) as s:
                self.assertEqual(read_line(s), b"-ERR [AUTH] mailgate: your network is not allowed\r\n")

    def test_an_untrusted_proxy_header_is_refused(self):
        with socket.create_connection((HOST, self.gw[1].ports["pop3"]), timeout=20) as s:
            s.sendall(b"PROXY TCP4 127.0.0.2 127.0.0.1 40000 110\r\n")
            s.settimeout(5)
            self.assertEqual(s.recv(100), b"")

    def test_an_account_disabled_on_one_instance_loses_its_sessions_on_the_other(self):
        clients = [self.imap(), self.imap()]  # round robin: one on each
        try:
            for c in clients:
                c.select("INBOX")
            on = [len([s for s in self.sessions(i, "imap") if s["account"] == "alice"]) for i in (0, 1)]
            self.assertEqual(on, [1, 1])
            response, _, data = self.admin(0).request("POST", "/api/v1/accounts/alice/disable")
            self.assertEqual(response.status, 200)
            start = time.monotonic()
            for c in clients:
                self.assertTrue(closed_within(c.readline, 10), "a session of the disabled account stayed open")
            self.assertLess(time.monotonic() - start, 10)
            # Logged by B's account watch just after it closes the session (the client may see the close first).
            line = "was disabled or removed elsewhere: closed its 1 session(s) here"
            deadline = time.monotonic() + 5
            while line not in self.gw[1].log() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIn(line, self.gw[1].log())
            with self.assertRaises(imaplib.IMAP4.error):
                self.imap()
        finally:
            self.admin(0).request("POST", "/api/v1/accounts/alice/enable")
            for c in clients:
                try:
                    c.shutdown()
                except (OSError, imaplib.IMAP4.abort):
                    pass
        self.imap().logout()  # enabled again, on whichever instance

    def test_parallel_logins_over_both_instances_refresh_an_expired_token_once(self):
        self.oauth.set_access_token_ttl(3)
        try:
            proc = subprocess.Popen([MAILGATE_BIN, "account", "oauth", "heidi", "--device", "--data-dir",
                                     self.data[0], "--config", self.config, "--upstream.ca_file", self.rig.ca_file],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    text=True)
            out = ""
            while "Waiting up to" not in out:
                line = proc.stdout.readline()
                self.assertTrue(line, out)
                out += line
            code = re.search(r"enter the code\n  (\S+)\n", out)
            self.oauth.approve_device_code(code.group(1), HEIDI)
            rest, _ = proc.communicate(timeout=60)
            self.assertEqual(proc.returncode, 0, out + rest)
        finally:
            self.oauth.set_access_token_ttl(3600)
        time.sleep(4)  # expired; with rotation and reuse detection a second refresh would revoke the grant
        before = len(self.oauth.token_requests())

        def login():
            # HAProxy connects from 127.0.0.5; the header names 127.0.0.1, which access.allow has.
            client = imaplib.IMAP4(HOST, self.balancer.ports["imap"], timeout=60)
            client.login("heidi-local", "heidi-pw")
            client.logout()

        self.assertEqual(at_once(login, 20), ["ok"] * 20)
        self.assertEqual(len(refreshes(self.oauth, before)), 1, refreshes(self.oauth, before))
        for i in (0, 1):
            _, _, events = self.admin(i).request("GET", "/api/v1/events")
            self.assertTrue([e for e in events if e["kind"] == "login_ok" and e["account"] == "heidi"],
                            f"no heidi login on instance {i}")

    def test_the_per_account_cap_counts_the_sessions_of_all_instances(self):
        # Two more instances on the same store, with a cap of 2 and no balancer in front.
        dirs = [os.path.join(self.tmp.name, n) for n in ("c", "d")]
        for d in dirs:
            instance_data_dir(self.data[0], d)
        capped = [Gateway(data_dir=d, extra_args=self.common_args + ["--limits.max_upstream_per_account", "2"])
                  for d in dirs]
        for g in capped:
            g.start()
        self.addCleanup(lambda: [g.stop() for g in capped])

        def login(g):
            client = imaplib.IMAP4(HOST, g.ports["imap"], timeout=60)
            try:
                client.login("alice-local", "alice-pw")
                return client
            except imaplib.IMAP4.error as e:
                client.shutdown()
                return str(e)

        c, d = capped
        first, second = login(c), login(d)
        self.assertIsInstance(first, imaplib.IMAP4)
        self.assertIsInstance(second, imaplib.IMAP4)
        refused = login(c)  # the third, though instance c has only one
        self.assertIn("UNAVAILABLE", refused)
        self.assertIn("has 2 provider session(s) open on all instances", c.log())
        def login_soon(g, seconds):
            """A login on `g` as soon as a slot is free (the give-back runs on the store's pool)."""
            deadline = time.monotonic() + seconds
            client = login(g)
            while not isinstance(client, imaplib.IMAP4) and time.monotonic() < deadline:
                time.sleep(0.1)
                client = login(g)
            self.assertIsInstance(client, imaplib.IMAP4)
            return client

        second.logout()  # a slot comes free on d: c may use it
        third = login_soon(c, 5)
        # An instance that dies gives its slots back with its database connection.
        fourth = login(d)
        self.assertIn("UNAVAILABLE", fourth)
        third.logout()
        fourth = login_soon(d, 5)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        fourth.shutdown()
        fifth = login_soon(c, 10)
        first.logout()
        fifth.logout()

    def queued_here(self, i):
        return sorted(n[:-4] for n in os.listdir(os.path.join(self.data[i], "spool", "queue")) if n.endswith(".msg"))

    def arrived(self, tags):
        """The Message-IDs of `tags` in Heidi's INBOX, one entry per copy."""
        with imaplib.IMAP4_SSL(self.rig.host, self.rig.ports["imaps"], ssl_context=self.rig.client_context()) as box:
            box.login(HEIDI, USERS[HEIDI])
            count = int(box.select("INBOX", readonly=True)[1][0])
            ids = [email.message_from_bytes(box.fetch(str(n), "(BODY.PEEK[HEADER])")[1][0][1])["Message-ID"]
                   for n in range(1, count + 1)]
        wanted = {f"<{t}@office.test>" for t in tags}
        return sorted(i for i in ids if i in wanted)

    def test_y_a_killed_instances_queued_mail_is_delivered_by_the_other_exactly_once(self):
        tags = [f"via-haproxy-{n}" for n in range(4)]
        for tag in tags:  # a device at 127.0.0.2 (relay_without_auth sees it through the PROXY header)
            with smtplib.SMTP(HOST, self.balancer.ports["smtp"], timeout=30,
                              source_address=("127.0.0.2", 0)) as device:
                device.ehlo("scanner")
                self.assertEqual(device.mail(SCANNER)[0], 250)
                self.assertEqual(device.rcpt(HEIDI)[0], 250)
                code, text = device.data(f"From: <{SCANNER}>\r\nTo: <{HEIDI}>\r\nSubject: {tag}\r\n"
                                         f"Message-ID: <{tag}@office.test>\r\n\r\npage\r\n".encode())
                self.assertEqual(code, 250, text)
        held = [self.queued_here(0), self.queued_here(1)]
        self.assertEqual(len(held[0]) + len(held[1]), 4)
        self.assertTrue(held[0] and held[1], f"round robin queues on both: {held}")

        victim, survivor = 0, 1
        ports = dict(self.gw[victim].ports)
        self.gw[victim].proc.send_signal(signal.SIGKILL)
        self.gw[victim].proc.wait()
        type(self).relay = _PlainPortRelay(self.provider_port, self.rig.ports["smtps"])  # the provider is back
        deadline = time.monotonic() + 60
        while len(self.arrived(tags)) < 4 and time.monotonic() < deadline:
            time.sleep(0.5)
        self.rig.wait_for_postfix_queue_empty()
        self.assertEqual(self.arrived(tags), sorted(f"<{t}@office.test>" for t in tags), "each exactly once")
        self.assertIn("was silent for", self.gw[survivor].log())
        self.assertEqual(self.queued_here(survivor), [])

        # The killed instance comes back on its ports: it drops its copies and delivers nothing again.
        self.gw[victim] = Gateway(data_dir=self.data[victim], extra_args=self.args, ports=ports).__enter__()
        deadline = time.monotonic() + 20
        while self.queued_here(victim) and time.monotonic() < deadline:
            time.sleep(0.3)
        self.assertEqual(self.queued_here(victim), [])
        time.sleep(2 * LEASE)
        self.rig.wait_for_postfix_queue_empty()
        self.assertEqual(len(self.arrived(tags)), 4, "nothing delivered twice")
        self.assertNotIn("delivered to account", self.gw[victim].log())

    def test_z_killing_an_instance_mid_session_its_client_reconnects_to_the_other(self):
        client = self.imap()
        client.select("INBOX")
        victim = 0 if [s for s in self.sessions(0, "imap") if s["account"] == "alice"] else 1
        survivor = 1 - victim
        self.gw[victim].proc.send_signal(signal.SIGKILL)
        self.gw[victim].proc.wait()
        self.assertTrue(closed_within(client.readline, 10))
        client.shutdown()
        client = self.imap()  # the client's reconnect goes through HAProxy to the instance that is left
        typ, _ = client.select("INBOX")
        self.assertEqual(typ, "OK")
        self.assertEqual(len([s for s in self.sessions(survivor, "imap") if s["account"] == "alice"]), 1)
        client.logout()


if __name__ == "__main__":
    unittest.main()
