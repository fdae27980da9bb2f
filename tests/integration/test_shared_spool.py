"""The spool two instances hold together on one real PostgreSQL store (tests/integration/postgres.py), against the
real rig's Postfix: a device's messages queued on instance A while the provider is unreachable stay A's while A
lives (listed by both instances' admin pages and by `mailgate queue`, never taken by B), a message of A's retried
with the CLI or deleted from B's admin page is retried or deleted by A; then A is killed with SIGKILL, the provider comes back, and B delivers A's messages once its lease
(smtp.spool_lease) ran out: each exactly once, counted in the recipient's mailbox. A restarted with its data dir
drops its copies of what B took and delivers nothing again. A copy of B's data dir started beside it (the same
instance id) is detected by both, and neither delivers until it is gone."""

import email
import imaplib
import os
import re
import shutil
import random
import signal
import smtplib
import tempfile
import threading
import time
import unittest

from admin_client import AdminClient, admin_password
from gateway import Gateway, instance_data_dir, run_cli
from postgres import PostgresServer
from kill_loop import arrived_tags, check_verdict, send_as_device, start_gateway
from rig import ProviderRig, _PlainPortRelay, reserve_port

ALICE, BOB = "alice@example.test", "bob@example.test"
SCANNER = "scanner@office.test"
LEASE = 4


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout} s: {what}")


class SharedSpool(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig().start()
        cls.pg = PostgresServer().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-shared-spool-")
        cls.config = cls.pg.write_config(cls.tmp.name)
        cls.data = [os.path.join(cls.tmp.name, "a"), os.path.join(cls.tmp.name, "b")]
        cls.provider_port = reserve_port()  # nothing listens here until the provider "comes back"
        run_cli("account", "add", "scanner", "--local-user", "scanner-local", "--remote-user", ALICE,
                "--smtp", f"smtps://{cls.rig.host}:{cls.provider_port}", "--sender", SCANNER,
                "--config", cls.config, data_dir=cls.data[0], check=True,
                env={"MAILGATE_LOCAL_PASSWORD": "scanner-pw", "MAILGATE_REMOTE_PASSWORD": cls.rig.users[ALICE]})
        instance_data_dir(cls.data[0], cls.data[1])
        cls.args = ["--config", cls.config, "--upstream.ca_file", cls.rig.ca_file,
                    "--access.relay_without_auth", "127.0.0.1/32", "--smtp.spool_retry", "1,2",
                    "--smtp.spool_lease", str(LEASE)]
        cls.gw = [Gateway(data_dir=d, extra_args=cls.args).__enter__() for d in cls.data]
        cls.password = admin_password(cls.gw[0].banner)
        cls.relay = None
        cls.rig.empty_mailbox(BOB)

    @classmethod
    def tearDownClass(cls):
        if cls.relay:
            cls.relay.close()
        for g in cls.gw:
            g.stop()
        cls.pg.stop()
        cls.rig.stop()
        cls.tmp.cleanup()

    def admin(self, i):
        client = AdminClient(self.gw[i].ports["admin"])
        response, _ = client.login(self.password)
        self.assertEqual(response.status, 200)
        return client

    def queue(self, i):
        _, _, data = self.admin(i).request("GET", "/api/v1/queue")
        return data

    def instance(self, i):
        m = re.search(r"spool\s+shared in the store, as instance (\S+)", self.gw[i].banner)
        self.assertIsNotNone(m, self.gw[i].banner)
        return m.group(1)

    def local_files(self, i):
        return sorted(n for n in os.listdir(os.path.join(self.data[i], "spool", "queue")) if n.endswith(".msg"))

    def send(self, i, tag):
        raw = (f"From: <{SCANNER}>\r\nTo: <{BOB}>\r\nSubject: {tag}\r\nMessage-ID: <{tag}@office.test>\r\n\r\n"
               f"{tag}: scanned page\r\n.a line that starts with a dot\r\n").encode()
        with smtplib.SMTP("127.0.0.1", self.gw[i].ports["smtp"], timeout=30) as client:
            client.ehlo("scanner")
            code, text = client.mail(SCANNER)
            self.assertEqual(code, 250, text + self.gw[i].log().encode()[-3000:])
            self.assertEqual(client.rcpt(BOB)[0], 250)
            code, text = client.data(raw)
        self.assertEqual(code, 250, text)
        return re.search(rb"queued as (\S+)", text).group(1).decode()

    def delivered_ids(self):
        with imaplib.IMAP4_SSL(self.rig.host, self.rig.ports["imaps"], ssl_context=self.rig.client_context()) as box:
            box.login(BOB, self.rig.users[BOB])
            count = int(box.select("INBOX", readonly=True)[1][0])
            return sorted(email.message_from_bytes(box.fetch(str(n), "(BODY.PEEK[HEADER])")[1][0][1])["Message-ID"]
                          for n in range(1, count + 1))

    def test_a_killed_instances_queue_is_delivered_by_the_other_exactly_once(self):
        a, b = self.instance(0), self.instance(1)
        self.assertNotEqual(a, b)
        tags = [f"shared-{n}" for n in range(6)]
        ids = {tag: self.send(0, tag) for tag in tags}

        # While A lives, its messages stay its own; both admin pages list them as A's.
        time.sleep(3 * LEASE)
        for i in (0, 1):
            listed = {m["id"]: m for m in self.queue(i)["messages"]}
            self.assertEqual(set(listed), set(ids.values()), f"instance {i} lists the shared queue")
            self.assertTrue(all(m["instance"] == a for m in listed.values()))
            self.assertTrue(all(m["attempts"] >= 1 for m in listed.values()), "A has tried them")
        self.assertEqual(len(self.local_files(0)), 6)
        self.assertEqual(self.local_files(1), [])
        self.assertNotIn("delivered here now", self.gw[1].log())

        # `mailgate queue` beside B lists the shared spool, shows a message of A's and asks A to retry one.
        cli = ["--config", self.config]
        listing = run_cli("queue", "list", *cli, data_dir=self.data[1], check=True).stdout
        self.assertIn("6 message(s)", listing)
        self.assertEqual(listing.count(f"instance {a}"), 6, listing)
        shown = run_cli("queue", "show", ids[tags[2]], *cli, data_dir=self.data[1], check=True).stdout
        self.assertIn(f"Subject: {tags[2]}\n", shown)
        retried = run_cli("queue", "retry", ids[tags[3]], *cli, data_dir=self.data[1], check=True).stdout
        self.assertIn(f"{ids[tags[3]]}: retry asked of instance {a}", retried)
        wait_until(lambda: f"{ids[tags[3]]}: retry asked by the administrator" in self.gw[0].log(), 10, "A retries")

        # Deleted from B's admin page: A deletes it.
        doomed = ids.pop(tags[0])
        response, _, _ = self.admin(1).request("DELETE", f"/api/v1/queue/{doomed}")
        self.assertEqual(response.status, 202)
        wait_until(lambda: doomed not in {m["id"] for m in self.queue(1)["messages"]}, 10, "the delete is done")
        wait_until(lambda: doomed + ".msg" not in self.local_files(0), 10, "A removed its file")
        self.assertIn(f"{doomed} deleted by the administrator (asked through the shared spool)", self.gw[0].log())

        # A dies; the provider comes back; B takes A's messages once A's lease ran out and delivers each once.
        self.gw[0].proc.send_signal(signal.SIGKILL)
        self.gw[0].proc.wait()
        killed_at = time.monotonic()
        type(self).relay = _PlainPortRelay(self.provider_port, self.rig.ports["smtps"])
        wait_until(lambda: f"instance {a} was silent" in self.gw[1].log(), 30, "B takes over")
        self.assertGreaterEqual(time.monotonic() - killed_at, LEASE - 1, "not before A's lease ran out")
        self.rig.wait_for_messages(BOB, 5, 60)
        wait_until(lambda: not self.queue(1)["messages"], 30, "the shared queue empties")
        self.rig.wait_for_postfix_queue_empty()
        expected = sorted(f"<{tag}@office.test>" for tag in tags[1:])
        self.assertEqual(self.delivered_ids(), expected, "each exactly once, the deleted one never")
        _, metrics, _ = AdminClient(self.gw[1].ports["admin"]).request("GET", "/metrics")
        self.assertIn(b"\nmailgate_spool_taken_over_total 5\n", metrics)
        log_b = self.gw[1].log()
        for queued in ids.values():
            self.assertIn(queued, log_b)

        # A comes back with its data dir: it drops its copies of what B took and sends nothing again.
        self.assertEqual(len(self.local_files(0)), 5, "A's files outlived it")
        self.gw[0] = Gateway(data_dir=self.data[0], extra_args=self.args).__enter__()
        self.assertEqual(self.instance(0), a, "the instance id is kept in the data dir")
        wait_until(lambda: self.local_files(0) == [], 20, "A drops what is no longer its own")
        time.sleep(2 * LEASE)
        self.rig.wait_for_postfix_queue_empty()
        self.assertEqual(self.delivered_ids(), expected, "nothing delivered twice")
        self.assertIn("not delivered by this instance", self.gw[0].log())
        self.assertNotIn("delivered to account", self.gw[0].log())

        # A new message on the restarted A is its own again, and delivered by it.
        self.send(0, "after-restart")
        self.rig.wait_for_messages(BOB, 6, 60)
        wait_until(lambda: "delivered to account 'scanner'" in self.gw[0].log(), 30, "A delivers its own")
        self.assertEqual(self.delivered_ids(), sorted(expected + ["<after-restart@office.test>"]))

    def test_b_a_copied_instance_id_is_detected_and_delivers_nothing_until_alone(self):
        # A data dir copied whole, instance-id included: two running gateways would own the same messages.
        twin_dir = os.path.join(self.tmp.name, "b-copy")
        shutil.copytree(self.data[1], twin_dir)
        if self.relay is None:
            type(self).relay = _PlainPortRelay(self.provider_port, self.rig.ports["smtps"])
        twin = Gateway(data_dir=twin_dir, extra_args=self.args).__enter__()
        try:
            for g in (self.gw[1], twin):
                wait_until(lambda: "another running gateway uses this instance id" in g.log(), 20, "both see it")
            self.gw.append(twin)  # for send()
            self.send(2, "twin")
            self.gw.pop()
            time.sleep(3)
            self.assertNotIn("<twin@office.test>", self.delivered_ids(),
                             "no delivery while the id is doubled\n" + twin.log()[-4000:] + self.gw[1].log()[-3000:])
        finally:
            twin.stop()
        wait_until(lambda: "is this gateway's alone again" in self.gw[1].log(), 20, "B goes on alone")
        wait_until(lambda: "<twin@office.test>" in self.delivered_ids(), 60, "the twin's message is delivered")
        self.rig.wait_for_postfix_queue_empty()
        time.sleep(2)
        self.assertEqual(self.delivered_ids().count("<twin@office.test>"), 1)


MESSAGES = 80


class SharedSpoolKillLoop(unittest.TestCase):
    """Two instances on one store, a device sending 80 messages to both in turn (the provider away for the first
    15 s, so that queues build up, then back), while one
    instance or the other is killed with SIGKILL every second or so and restarted, sometimes only after its lease
    ran out (so that the other takes its queue over). At the end, as for one instance (test_spool): every message
    answered 250 arrived, nothing arrived twice beyond the attempts the gateways flagged as in doubt (RFC 1047),
    and nothing arrived that was neither answered 250 nor cut off after its end of data."""

    def test_kill_loop_over_two_instances_loses_nothing_and_duplicates_nothing(self):
        rig = ProviderRig().start()
        self.addCleanup(rig.stop)
        pg = PostgresServer().start()
        self.addCleanup(pg.stop)
        tmp = tempfile.TemporaryDirectory(prefix="mailgate-shared-kill-")
        self.addCleanup(tmp.cleanup)
        config = pg.write_config(tmp.name)
        data = [os.path.join(tmp.name, "a"), os.path.join(tmp.name, "b")]
        provider_port = reserve_port()  # the provider is away for the first part, so that queues build up
        run_cli("account", "add", "scanner", "--local-user", "scanner-local", "--remote-user", ALICE,
                "--smtp", f"smtps://{rig.host}:{provider_port}", "--sender", SCANNER, "--config", config,
                data_dir=data[0], check=True,
                env={"MAILGATE_LOCAL_PASSWORD": "scanner-pw", "MAILGATE_REMOTE_PASSWORD": rig.users[ALICE]})
        instance_data_dir(data[0], data[1])
        ports = [reserve_port(), reserve_port()]
        # Started by hand below (one log each across restarts); the objects give the arguments and keep their
        # --print-ports directory.
        gateways = [Gateway(data_dir=d, ports={"smtp": p},
                            extra_args=["--config", config, "--upstream.ca_file", rig.ca_file,
                                        "--access.relay_without_auth", "127.0.0.1/32", "--smtp.spool_retry", "1",
                                        "--smtp.spool_lease", "3"])
                    for d, p in zip(data, ports)]
        args = [g.args for g in gateways]
        logs = [os.path.join(tmp.name, f"{name}.log") for name in "ab"]

        def start(i):
            return start_gateway(args[i], logs[i], ports[i])

        procs = [start(0), start(1)]
        self.addCleanup(lambda: [p.kill() for p in procs if p.poll() is None])
        outcomes, stop = {}, threading.Event()

        def device():
            for n in range(MESSAGES):
                time.sleep(0.35)
                tag = f"kill-{n:03d}"
                outcomes[tag] = send_as_device(ports[n % 2], SCANNER, BOB, tag, n)
            stop.set()

        sender = threading.Thread(target=device)
        sender.start()
        chance = random.Random(16)
        kills = 0
        relay, began = None, time.monotonic()
        self.addCleanup(lambda: relay and relay.close())
        deadline = began + 240
        while not stop.is_set() and time.monotonic() < deadline:
            if relay is None and time.monotonic() - began > 15:
                relay = _PlainPortRelay(provider_port, rig.ports["smtps"])  # the provider is back
            time.sleep(0.6 + chance.random() * 0.6)
            victim = kills % 2
            procs[victim].send_signal(signal.SIGKILL)
            procs[victim].wait()
            kills += 1
            if kills % 4 == 0:  # down past its lease (3 s, counted in whole seconds): the other one takes over
                time.sleep(6)
            procs[victim] = start(victim)
        sender.join(timeout=60)
        if relay is None:
            relay = _PlainPortRelay(provider_port, rig.ports["smtps"])

        # The instances deliver the rest; the shared spool and both local copies empty.
        def settled():
            left = pg.sql("SELECT count(*) FROM spool_messages", database="mailgate")
            files = [n for d in data for n in os.listdir(os.path.join(d, "spool", "queue")) if n.endswith(".msg")]
            return left.strip() == "0" and not files
        wait_until(settled, 120, "every queue empties")
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=20)
        rig.wait_for_postfix_queue_empty(60)
        log = ""
        for path in logs:
            with open(path, encoding="utf-8", errors="replace") as f:
                log += f.read()
        takeovers = len(re.findall(r"was silent for \d+ s", log))
        self.assertGreaterEqual(kills, 6)
        self.assertGreaterEqual(takeovers, 1, "an instance's queue was taken over at least once")
        summary = check_verdict(self, outcomes, arrived_tags(rig, BOB, "kill-"), log)
        print(f"\n{kills} kills, {takeovers} take-over(s); {summary}", flush=True)


if __name__ == "__main__":
    unittest.main()
