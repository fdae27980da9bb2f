"""Limits against the real rig: failed-login throttling per address and per user (before the KDF), connection caps
(per address, pre-login, implicit TLS closes without TLS work), the overall pre-login deadline against trickling
clients on POP3, IMAP and SMTP, descriptor exhaustion (accept backs off, logs a bounded number of lines, recovers),
and the admin login throttle under parallel attempts."""

import concurrent.futures
import http.client
import json
import os
import re
import resource
import smtplib
import socket
import ssl
import tempfile
import time
import unittest

from admin_client import admin_password
from gateway import Gateway, add_account
from rig import ProviderRig
from test_serve import read_line

ALICE, BOB = "alice@example.test", "bob@example.test"
HOST = "127.0.0.1"


def connect(port, source="127.0.0.1", timeout=20):
    return socket.create_connection((HOST, port), timeout=timeout, source_address=(source, 0))


def pop3_login(port, user, password, source="127.0.0.1"):
    """The reply to PASS (or the greeting when the connection is refused), as text."""
    with connect(port, source) as s:
        greeting = read_line(s)
        if not greeting.startswith(b"+OK"):
            return greeting.decode()
        s.sendall(f"USER {user}\r\n".encode())
        read_line(s)
        s.sendall(f"PASS {password}\r\n".encode())
        reply = read_line(s).decode()
        if reply.startswith("+OK"):
            s.sendall(b"QUIT\r\n")
            read_line(s)
        return reply


def closed_within(sock, seconds):
    """Seconds until the peer closed `sock` (reading and discarding), or None if it stayed open."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < seconds:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - start
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - start
    return None


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Limits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-limits-")
        cls.data = os.path.join(cls.tmp.name, "data")
        p, host = cls.rig.ports, cls.rig.host
        add_account(cls.data, "alice", "alice-local", "alice-pw", ALICE, cls.rig.users[ALICE],
                    "--pop3", f"pop3s://{host}:{p['pop3s']}", "--imap", f"imaps://{host}:{p['imaps']}",
                    "--smtp", f"smtps://{host}:{p['smtps']}")
        add_account(cls.data, "bob", "bob-local", "bob-pw", BOB, cls.rig.users[BOB],
                    "--pop3", f"pop3s://{host}:{p['pop3s']}")

    @classmethod
    def tearDownClass(cls):
        cls.rig.stop()
        cls.tmp.cleanup()

    def gateway(self, *args, fresh=False):
        """A gateway on the accounts of this class, or with `fresh` on a new data dir (a first start)."""
        return Gateway(data_dir=None if fresh else self.data,
                       extra_args=["--upstream.ca_file", self.rig.ca_file, "--access.failed_login_delay", "0", *args])

    def test_failed_logins_are_throttled_per_address_before_the_password_is_checked(self):
        with self.gateway("--auth.free_failures", "2", "--auth.max_failures", "4", "--auth.max_delay", "1") as gw:
            port = gw.ports["pop3"]
            timings = []
            for i in range(4):
                start = time.monotonic()
                self.assertTrue(pop3_login(port, "alice-local", f"guess-{i}", "127.0.0.2").startswith("-ERR [AUTH]"))
                timings.append(time.monotonic() - start)
            self.assertGreaterEqual(timings[2], 0.9)  # delays begin after the free failures (1 s, capped)
            # From now on 127.0.0.2 is refused unchecked, even with the right password.
            self.assertTrue(pop3_login(port, "alice-local", "alice-pw", "127.0.0.2").startswith("-ERR [AUTH]"))
            self.assertTrue(pop3_login(port, "bob-local", "bob-pw", "127.0.0.2").startswith("-ERR [AUTH]"))
            # Another address, and the attacked user himself from there, are not affected.
            start = time.monotonic()
            self.assertTrue(pop3_login(port, "alice-local", "alice-pw", "127.0.0.3").startswith("+OK"))
            self.assertLess(time.monotonic() - start, 5)
            log = gw.log()
            self.assertEqual(log.count("further logins refused unchecked"), 1, log)

    def test_guesses_at_a_user_from_many_addresses_never_lock_the_user_out(self):
        with self.gateway("--auth.free_failures", "1", "--auth.max_failures", "3", "--auth.max_delay", "10") as gw:
            port = gw.ports["pop3"]
            for i in range(6):  # one guess each from six addresses: alice-local has six failures
                self.assertTrue(pop3_login(port, "alice-local", "nope", f"127.0.1.{i + 1}").startswith("-ERR"))
            start = time.monotonic()
            self.assertTrue(pop3_login(port, "alice-local", "alice-pw", "127.0.2.1").startswith("+OK"))
            # A per-user delay would be the full 10 s here; a clean address gets none.
            self.assertLess(time.monotonic() - start, 8)

    def test_unknown_user_names_are_not_logged_as_typed(self):
        with self.gateway() as gw:
            self.assertTrue(pop3_login(gw.ports["pop3"], "Hunter2-Secret!", "x").startswith("-ERR [AUTH]"))
            self.assertTrue(pop3_login(gw.ports["pop3"], "alice-local", "wrong").startswith("-ERR [AUTH]"))
            log = gw.log()
            self.assertNotIn("Hunter2-Secret", log)
            self.assertRegex(log, r"local login failed for unknown user #[0-9a-f]{8}")
            self.assertIn("local login failed for user 'alice-local'", log)

    def test_per_address_cap_refuses_with_the_protocols_temporary_failure(self):
        with self.gateway("--limits.max_sessions_per_address", "3") as gw:
            held = [connect(gw.ports["pop3"], "127.0.0.4") for _ in range(3)]
            for s in held:
                self.assertTrue(read_line(s).startswith(b"+OK"))
            with connect(gw.ports["pop3"], "127.0.0.4") as s:
                self.assertEqual(read_line(s), b"-ERR [SYS/TEMP] mailgate: too many connections, try again later\r\n")
                self.assertIsNotNone(closed_within(s, 5))
            with connect(gw.ports["imap"], "127.0.0.4") as s:
                self.assertTrue(read_line(s).startswith(b"* BYE [UNAVAILABLE] mailgate: too many connections"))
            with connect(gw.ports["smtp"], "127.0.0.4") as s:
                self.assertTrue(read_line(s).startswith(b"421 4.7.0 "))
            # Implicit TLS: closed at once, no handshake for a client that will not be served.
            with connect(gw.ports["imaps"], "127.0.0.4") as s:
                self.assertIsNotNone(closed_within(s, 5))
            # Another address is served meanwhile.
            self.assertTrue(pop3_login(gw.ports["pop3"], "alice-local", "alice-pw", "127.0.0.5").startswith("+OK"))
            for s in held:
                s.close()
            time.sleep(0.3)
            self.assertTrue(pop3_login(gw.ports["pop3"], "alice-local", "alice-pw", "127.0.0.4").startswith("+OK"))
            self.assertIn("limits.max_sessions_per_address reached", gw.log())

    def test_total_cap_covers_every_listener_and_address(self):
        with self.gateway("--limits.max_sessions", "3") as gw:
            held = [connect(gw.ports[name], f"127.0.0.{40 + i}") for i, name in enumerate(("pop3", "imap", "smtp"))]
            for s in held:
                self.assertNotEqual(read_line(s), b"")
            with connect(gw.ports["pop3"], "127.0.0.50") as s:
                self.assertTrue(read_line(s).startswith(b"-ERR [SYS/TEMP] mailgate: too many connections"))
            with connect(gw.ports["smtps"], "127.0.0.50") as s:
                self.assertIsNotNone(closed_within(s, 5))
            held.pop().close()
            time.sleep(0.3)
            self.assertTrue(pop3_login(gw.ports["pop3"], "alice-local", "alice-pw", "127.0.0.50").startswith("+OK"))
            for s in held:
                s.close()
            self.assertIn("limits.max_sessions reached", gw.log())

    def test_prelogin_cap_counts_only_sessions_that_have_not_logged_in(self):
        with self.gateway("--limits.max_prelogin_sessions", "3") as gw:
            port = gw.ports["pop3"]
            logged_in = connect(port, "127.0.0.6")
            read_line(logged_in)
            for line in (b"USER alice-local\r\n", b"PASS alice-pw\r\n"):
                logged_in.sendall(line)
                reply = read_line(logged_in)
            self.assertTrue(reply.startswith(b"+OK"), reply)
            idle = [connect(port, f"127.0.0.{7 + i}") for i in range(3)]
            for s in idle:
                self.assertTrue(read_line(s).startswith(b"+OK"))
            with connect(port, "127.0.0.20") as s:
                self.assertTrue(read_line(s).startswith(b"-ERR [SYS/TEMP]"))
            logged_in.sendall(b"STAT\r\n")  # the logged-in session was never at risk
            self.assertTrue(read_line(logged_in).startswith(b"+OK"))
            idle.pop().close()
            time.sleep(0.3)
            self.assertTrue(pop3_login(port, "alice-local", "alice-pw", "127.0.0.21").startswith("+OK"))
            logged_in.close()
            for s in idle:
                s.close()

    def test_trickling_clients_are_closed_at_the_login_deadline(self):
        deadline = 5
        with self.gateway("--limits.login_deadline", str(deadline)) as gw:
            trickles = {}
            for name in ("pop3", "imap", "smtp"):
                s = connect(gw.ports[name])
                read_line(s)
                trickles[name] = s
            # One byte a second: each read is well within the per-command timeouts, yet the whole is bounded.
            start = time.monotonic()
            open_names = set(trickles)
            byte = {"pop3": b"N", "imap": b"a", "smtp": b"N"}
            while open_names and time.monotonic() - start < deadline + 5:
                for name in list(open_names):
                    try:
                        trickles[name].sendall(byte[name])
                    except OSError:
                        open_names.discard(name)
                        continue
                    trickles[name].settimeout(0.01)
                    try:
                        if trickles[name].recv(4096) == b"":
                            open_names.discard(name)
                    except (socket.timeout, BlockingIOError):
                        pass
                    except OSError:
                        open_names.discard(name)
                time.sleep(1)
            elapsed = time.monotonic() - start
            self.assertEqual(open_names, set(), "still connected after the deadline")
            self.assertGreaterEqual(elapsed, deadline - 1)
            for s in trickles.values():
                s.close()
            # SMTP after AUTH: only the per-command timeouts apply, the deadline no longer does.
            client = smtplib.SMTP(HOST, gw.ports["smtp"], timeout=20)
            client.starttls(context=ssl.create_default_context(cafile=gw.cert_file))
            client.login("alice-local", "alice-pw")
            time.sleep(deadline + 1)
            self.assertEqual(client.noop()[0], 250)
            client.quit()

    def test_descriptor_exhaustion_backs_off_and_recovers(self):
        with self.gateway("--limits.max_sessions_per_address", "1000") as gw:
            # Fewer descriptors than the connections about to arrive: accept() fails with EMFILE.
            soft, hard = resource.prlimit(gw.proc.pid, resource.RLIMIT_NOFILE)
            resource.prlimit(gw.proc.pid, resource.RLIMIT_NOFILE, (96, hard))  # the soft limit only: reversible
            before = cpu_seconds(gw.proc.pid)
            flood = []
            for i in range(150):
                try:
                    flood.append(connect(gw.ports["pop3"], f"127.0.3.{i % 50 + 1}", timeout=2))
                except OSError:
                    break
            time.sleep(4)  # the gateway meets EMFILE while these wait in the backlog
            burned = cpu_seconds(gw.proc.pid) - before
            self.assertLess(burned, 2.0, "the accept loop spins")
            self.assertIsNone(gw.proc.poll())
            for s in flood:
                s.close()
            resource.prlimit(gw.proc.pid, resource.RLIMIT_NOFILE, (soft, hard))
            time.sleep(1.5)
            self.assertTrue(pop3_login(gw.ports["pop3"], "alice-local", "alice-pw", "127.0.4.1").startswith("+OK"))
            failures = [line for line in gw.log().splitlines() if "accept failed" in line]
            self.assertGreaterEqual(len(failures), 1)
            self.assertLessEqual(len(failures), 3, failures)  # one line per 10 s with a count, never one per attempt
            self.assertRegex(failures[0], r"accept failed \d+ time\(s\)")

    def test_admin_login_throttle_counts_parallel_attempts_per_address(self):
        with self.gateway(fresh=True) as gw:
            password = admin_password(gw.banner)
            self.assertTrue(password)
            port = gw.ports["admin"]

            def login(pw, source):
                conn = http.client.HTTPConnection(HOST, port, timeout=60, source_address=(source, 0))
                conn.request("POST", "/api/v1/login", body=json.dumps({"password": pw}),
                             headers={"Host": f"{HOST}:{port}", "Origin": f"http://{HOST}:{port}",
                                      "Content-Type": "application/json"})
                status = conn.getresponse().status
                conn.close()
                return status

            with concurrent.futures.ThreadPoolExecutor(40) as pool:
                statuses = list(pool.map(lambda i: login(f"wrong-{i}", "127.0.0.30"), range(40)))
            self.assertEqual(statuses.count(401), 5, statuses)
            self.assertEqual(statuses.count(429), 35, statuses)
            self.assertEqual(login(password, "127.0.0.30"), 429)  # locked out here, even with the right password
            self.assertEqual(login(password, "127.0.0.31"), 200)  # but not from another address

    def test_first_admin_password_is_in_a_private_file_not_in_the_output(self):
        with self.gateway(fresh=True) as gw:
            m = re.search(r"admin password +in (\S+) \(mode 0600", gw.banner)
            self.assertIsNotNone(m, gw.banner)
            path = m.group(1)
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
            with open(path) as f:
                password = f.read().strip()
            self.assertGreaterEqual(len(password), 16)
            self.assertNotIn(password, gw.log())  # stdout is not a terminal here


if __name__ == "__main__":
    unittest.main()
