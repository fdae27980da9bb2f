"""`mailgate serve`: embedded defaults, banner, local TLS out of the box, IPv6 listeners, access.allow, INI config."""

import os
import socket
import warnings
import ssl
import stat
import subprocess
import time
import tempfile
import unittest

from gateway import Gateway, MAILGATE_BIN, read_line


class Serve(unittest.TestCase):
    def test_banner_and_data_dir(self):
        with Gateway() as gw:
            for name in Gateway.LISTENERS:
                self.assertRegex(gw.banner, rf"\n  {name} +127\.0\.0\.1:{gw.ports[name]} ")
            self.assertIn("(created)", gw.banner)
            self.assertIn(f"admin URL    http://127.0.0.1:{gw.ports['admin']}/", gw.banner)
            self.assertIn("self-signed, created now", gw.banner)
            self.assertEqual(stat.S_IMODE(os.stat(gw.data_dir).st_mode), 0o700)
            for name in ("mailgate.db", "master.key", "tls/local-key.pem"):
                self.assertEqual(stat.S_IMODE(os.stat(os.path.join(gw.data_dir, name)).st_mode), 0o600, name)

    def test_local_tls_works_out_of_the_box(self):
        with Gateway() as gw:
            context = ssl.create_default_context(cafile=gw.cert_file)  # verifies chain and host name "localhost"
            expected = {"pop3s": b"+OK", "imaps": b"* OK", "smtps": b"220"}
            for name, prefix in expected.items():
                with socket.create_connection(("127.0.0.1", gw.ports[name]), timeout=10) as raw:
                    with context.wrap_socket(raw, server_hostname="localhost") as tls:
                        self.assertIn(tls.version(), ("TLSv1.2", "TLSv1.3"))
                        self.assertTrue(read_line(tls).startswith(prefix), name)

    def test_tls_floor_is_enforced(self):
        with Gateway(extra_args=["--tls.min_version", "1.3"]) as gw:
            context = ssl.create_default_context(cafile=gw.cert_file)
            context.maximum_version = ssl.TLSVersion.TLSv1_2
            with socket.create_connection(("127.0.0.1", gw.ports["imaps"]), timeout=10) as raw:
                with self.assertRaises(ssl.SSLError):
                    context.wrap_socket(raw, server_hostname="localhost")

    def test_old_tls_versions_for_legacy_clients(self):
        with Gateway(extra_args=["--tls.min_version", "1.0"]) as gw:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.load_verify_locations(gw.cert_file)
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
            warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0 is the point of this test
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1
            with socket.create_connection(("127.0.0.1", gw.ports["pop3s"]), timeout=10) as raw:
                try:
                    tls = context.wrap_socket(raw, server_hostname="localhost")
                except ssl.SSLError as e:
                    self.skipTest(f"this Python's OpenSSL refuses TLS 1.0 on the client side: {e}")
                with tls:
                    self.assertEqual(tls.version(), "TLSv1")
                    self.assertTrue(read_line(tls).startswith(b"+OK"))

    def test_ipv6_listeners(self):
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 loopback here")
        with Gateway(host="::1") as gw:
            self.assertIn(f"[::1]:{gw.ports['imap']}", gw.banner)
            with socket.create_connection(("::1", gw.ports["imap"]), timeout=10) as s:
                self.assertTrue(read_line(s).startswith(b"* OK"))

    def test_access_allow_refuses_other_networks(self):
        with Gateway(extra_args=["--access.allow", "10.0.0.0/8"]) as gw:
            with socket.create_connection(("127.0.0.1", gw.ports["pop3"]), timeout=10) as s:
                self.assertEqual(read_line(s), b"-ERR [AUTH] mailgate: your network is not allowed\r\n")
            with socket.create_connection(("127.0.0.1", gw.ports["smtp"]), timeout=10) as s:
                self.assertTrue(read_line(s).startswith(b"554 5.7.1"))

    def test_ini_configuration_file(self):
        tmp = tempfile.TemporaryDirectory(prefix="mailgate-ini-")
        self.addCleanup(tmp.cleanup)
        conf = os.path.join(tmp.name, "mailgate.conf")
        with open(conf, "w") as f:
            f.write(f"data_dir = {tmp.name}/from-ini\n[listen]\npop3 = 127.0.0.1:0\npop3s =\nimap =\n"
                    "imaps =\nsmtp =\nsmtps =\nadmin =\n[log]\nlevel = warn\n")
        gw = Gateway(data_dir=None)
        gw.args = [MAILGATE_BIN, "serve", "--config", conf, *gw.print_ports_args()]
        with gw:
            pop3 = gw.ports["pop3"]
            self.assertIn(f"{tmp.name}/from-ini", gw.banner)
            self.assertIn(f"pop3         127.0.0.1:{pop3}", gw.banner)
            self.assertNotIn("imaps", gw.banner)
            with socket.create_connection(("127.0.0.1", pop3), timeout=10) as s:
                self.assertTrue(read_line(s).startswith(b"+OK mailgate"))

    def test_configured_certificate_from_local_ca_tool(self):
        tmp = tempfile.TemporaryDirectory(prefix="mailgate-ca-")
        self.addCleanup(tmp.cleanup)
        tool = os.path.join(os.path.dirname(__file__), "..", "..", "certs", "make-local-ca.sh")
        subprocess.run(["bash", tool, tmp.name, "localhost", "127.0.0.1"], check=True, capture_output=True)
        cert, key = os.path.join(tmp.name, "server.crt"), os.path.join(tmp.name, "server.key")
        with Gateway(extra_args=["--tls.cert", cert, "--tls.key", key]) as gw:
            self.assertIn("(configured)", gw.banner)
            context = ssl.create_default_context(cafile=os.path.join(tmp.name, "ca.crt"))
            with socket.create_connection(("127.0.0.1", gw.ports["smtps"]), timeout=10) as raw:
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    self.assertTrue(read_line(tls).startswith(b"220"))
        # A key that does not belong to the certificate stops startup.
        other = os.path.join(tmp.name, "other")
        subprocess.run(["bash", tool, other, "localhost"], check=True, capture_output=True)
        gw = Gateway(extra_args=["--tls.cert", cert, "--tls.key", os.path.join(other, "server.key")])
        with self.assertRaises(AssertionError) as ctx:
            gw.start(timeout=20)
        gw.stop()
        self.assertIn("tls.key", str(ctx.exception))

    def test_shutdown_says_goodbye_to_clients_still_in_the_dialogue(self):
        gw = Gateway().__enter__()
        try:
            conns = {}
            for name in ("pop3", "imap", "smtp"):
                s = socket.create_connection(("127.0.0.1", gw.ports[name]), timeout=10)
                read_line(s)  # greeting
                conns[name] = s
            start = time.monotonic()
            gw.proc.terminate()
            expected = {"pop3": b"-ERR [SYS/TEMP] mailgate is shutting down\r\n",
                        "imap": b"* BYE [UNAVAILABLE] mailgate is shutting down\r\n",
                        "smtp": b"421 4.3.2 mailgate is shutting down\r\n"}
            for name, s in conns.items():
                self.assertEqual(read_line(s), expected[name], name)
                self.assertEqual(s.recv(10), b"")
                s.close()
            gw.proc.wait(timeout=15)
            self.assertLess(time.monotonic() - start, 5)  # idle dialogues do not wait for the grace period
            self.assertEqual(gw.proc.returncode, 0)
        finally:
            gw.stop()

    def test_port_in_use_names_the_key(self):
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        self.addCleanup(blocker.close)
        gw = Gateway(ports={"smtps": blocker.getsockname()[1]})
        with self.assertRaises(AssertionError) as ctx:
            gw.start(timeout=20)
        gw.stop()
        self.assertIn("listen.smtps", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
