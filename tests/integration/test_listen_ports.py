"""`listen.NAME = HOST:0`: every listener binds a port the kernel picks; the banner and --print-ports report the
ports actually bound, and those accept connections (the admin page answers to its bound port)."""

import http.client
import os
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from gateway import Gateway, MAILGATE_BIN, check_no_sanitizer_report, read_line, read_ports_file


def admin_status(port, host_header, path="/"):  # the page itself: Host-checked (unlike /healthz)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host_header})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class ListenPorts(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="mailgate-ports-")
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.ports_file = os.path.join(self.dir, "reported", "ports")
        os.mkdir(os.path.dirname(self.ports_file))

    def serve(self, *listen_args, extra=()):
        """Starts `mailgate serve` with the given --listen.* arguments; returns (process, banner)."""
        log_path = os.path.join(self.dir, "gateway.log")
        args = [MAILGATE_BIN, "serve", "--data-dir", os.path.join(self.dir, "data"), "--print-ports",
                self.ports_file, *listen_args, *extra]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def output():
            with open(log_path, encoding="utf-8", errors="replace") as f:
                return f.read()

        def stop():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            check_no_sanitizer_report("mailgate serve", output())

        self.addCleanup(stop)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = output()
            if "Stop with Ctrl-C.\n" in text:
                return proc, text[:text.index("Stop with Ctrl-C.\n")]
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        stop()
        self.fail("gateway did not start:\n" + output())

    def reported(self):
        with open(self.ports_file, encoding="utf-8") as f:
            return [line.split() for line in f.read().splitlines()]

    def test_every_listener_on_port_zero_gets_its_own_port_and_serves_it(self):
        _, banner = self.serve(*[arg for name in Gateway.LISTENERS for arg in (f"--listen.{name}", "127.0.0.1:0")])
        lines = self.reported()
        # One line per listener, in the banner's order, each a real bound address.
        self.assertEqual([name for name, _ in lines], list(Gateway.LISTENERS))
        ports = read_ports_file(self.ports_file)
        for name, address in lines:
            self.assertRegex(address, r"^127\.0\.0\.1:\d+$", name)
            self.assertNotEqual(ports[name], 0, name)
            self.assertRegex(banner, rf"\n  {name} +127\.0\.0\.1:{ports[name]}  ", name)
        self.assertEqual(len(set(ports.values())), len(ports), ports)
        self.assertNotRegex(banner, r"127\.0\.0\.1:0\b")
        self.assertIn(f"admin URL    http://127.0.0.1:{ports['admin']}/", banner)
        # Written in one step: nothing but the file itself is left next to it.
        self.assertEqual(os.listdir(os.path.dirname(self.ports_file)), ["ports"])

        cafile = os.path.join(self.dir, "data", "tls", "local-trust.pem")
        context = ssl.create_default_context(cafile=cafile)
        greetings = {"pop3": b"+OK", "imap": b"* OK", "smtp": b"220"}
        for name, prefix in greetings.items():
            with socket.create_connection(("127.0.0.1", ports[name]), timeout=10) as s:
                self.assertTrue(read_line(s).startswith(prefix), name)
            with socket.create_connection(("127.0.0.1", ports[name + "s"]), timeout=10) as raw:
                with context.wrap_socket(raw, server_hostname="localhost") as tls:
                    self.assertTrue(read_line(tls).startswith(prefix), name + "s")
        # The admin page's Host check (DNS rebinding defence) knows the port it got, not the 0 it was given.
        self.assertEqual(admin_status(ports["admin"], f"127.0.0.1:{ports['admin']}"), 200)
        self.assertEqual(admin_status(ports["admin"], f"localhost:{ports['admin']}"), 200)
        self.assertEqual(admin_status(ports["admin"], "127.0.0.1:0"), 421)

    def test_disabled_listeners_are_not_reported(self):
        _, banner = self.serve("--listen.imap", "127.0.0.1:0", "--listen.admin", "127.0.0.1:0",
                               *[arg for name in ("pop3", "pop3s", "imaps", "smtp", "smtps")
                                 for arg in (f"--listen.{name}", "")])
        ports = read_ports_file(self.ports_file)
        self.assertEqual(sorted(ports), ["admin", "imap"])
        self.assertIn(f"imap         127.0.0.1:{ports['imap']}  ", banner)
        with socket.create_connection(("127.0.0.1", ports["imap"]), timeout=10) as s:
            self.assertTrue(read_line(s).startswith(b"* OK"))

    def test_ipv6_port_zero(self):
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 loopback here")
        _, banner = self.serve(*[arg for name in Gateway.LISTENERS for arg in (f"--listen.{name}", "[::1]:0")])
        lines = dict(self.reported())
        self.assertRegex(lines["pop3"], r"^\[::1\]:\d+$")
        port = int(lines["pop3"].rsplit(":", 1)[1])
        self.assertIn(f"[::1]:{port}", banner)
        with socket.create_connection(("::1", port), timeout=10) as s:
            self.assertTrue(read_line(s).startswith(b"+OK"))

    def test_unwritable_ports_file_stops_startup(self):
        result = subprocess.run([MAILGATE_BIN, "serve", "--data-dir", os.path.join(self.dir, "data"),
                                 "--print-ports", os.path.join(self.dir, "missing", "ports"),
                                 *[arg for name in Gateway.LISTENERS for arg in (f"--listen.{name}", "127.0.0.1:0")]],
                                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        check_no_sanitizer_report("mailgate serve", result.stderr)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("--print-ports", result.stderr)
        self.assertNotIn("Stop with Ctrl-C.", result.stdout)


if __name__ == "__main__":
    unittest.main()
