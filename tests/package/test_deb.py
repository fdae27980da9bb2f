"""The .deb an administrator installs: built with cpack from the CMake build tree, lintian reports nothing (no
error, no warning), it holds what the README says (binary, systemd unit with a raised LimitNOFILE, the example
configuration as a conffile in /etc/mailgate, maintainer scripts that make the mailgate user and /var/lib/mailgate),
and the unpacked binary runs: --version, and serve on a temp data dir answering IMAP on 127.0.0.1."""

import glob
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from gateway import read_ports_file  # noqa: E402

BUILD = os.environ.get("MAILGATE_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


class DebianPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-deb-")
        out = os.path.join(cls.tmp.name, "out")
        subprocess.run(["cpack", "-G", "DEB", "-B", out], cwd=BUILD, check=True, capture_output=True, timeout=300)
        debs = glob.glob(os.path.join(out, "mailgate_*.deb"))
        assert len(debs) == 1, debs
        cls.deb = debs[0]
        cls.root = os.path.join(cls.tmp.name, "root")
        subprocess.run(["dpkg-deb", "-x", cls.deb, cls.root], check=True, timeout=60)
        cls.control = os.path.join(cls.tmp.name, "control")
        subprocess.run(["dpkg-deb", "-e", cls.deb, cls.control], check=True, timeout=60)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_lintian_is_clean(self):
        proc = subprocess.run(["lintian", "--fail-on", "error,warning", "--tag-display-limit", "0", self.deb],
                              capture_output=True, text=True, timeout=300)
        tags = [line for line in proc.stdout.splitlines() if line[:2] in ("E:", "W:")]
        self.assertEqual(tags, [], proc.stdout + proc.stderr)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_contents_and_maintainer_scripts(self):
        for path in ("usr/bin/mailgate", "usr/lib/systemd/system/mailgate.service", "etc/mailgate/mailgate.conf",
                     "usr/share/doc/mailgate/copyright", "usr/share/man/man1/mailgate.1.gz"):
            self.assertTrue(os.path.exists(os.path.join(self.root, path)), path)
        with open(os.path.join(self.root, "usr/lib/systemd/system/mailgate.service")) as f:
            unit = f.read()
        self.assertIn("ExecStart=/usr/bin/mailgate serve --config /etc/mailgate/mailgate.conf "
                      "--data-dir /var/lib/mailgate", unit)
        self.assertIn("LimitNOFILE=65536", unit)
        self.assertIn("User=mailgate", unit)
        with open(os.path.join(self.control, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/mailgate/mailgate.conf"])
        with open(os.path.join(self.control, "postinst")) as f:
            postinst = f.read()
        self.assertIn("adduser --system", postinst)
        self.assertIn("install -d -m 0700 -o mailgate -g mailgate /var/lib/mailgate", postinst)
        for script in ("postinst", "prerm", "postrm"):
            subprocess.run(["sh", "-n", os.path.join(self.control, script)], check=True)
        info = subprocess.run(["dpkg-deb", "-f", self.deb, "Depends"], capture_output=True, text=True).stdout
        for dep in ("adduser", "libssl3", "libsqlite3-0", "libboost-json1.81.0"):
            self.assertIn(dep, info)

    def test_packaged_binary_runs(self):
        binary = os.path.join(self.root, "usr/bin/mailgate")
        version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
        self.assertEqual(version.returncode, 0)
        self.assertIn("0.1.0", version.stdout)
        data = os.path.join(self.tmp.name, "data")
        ports_file = os.path.join(self.tmp.name, "ports")
        config = os.path.join(self.root, "etc/mailgate/mailgate.conf")
        args = [binary, "serve", "--config", config, "--data-dir", data, "--print-ports", ports_file]
        for name in ("pop3", "pop3s", "imap", "imaps", "smtp", "smtps", "admin"):
            args += [f"--listen.{name}", "127.0.0.1:0"]
        log_path = os.path.join(self.tmp.name, "serve.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(ports_file) and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
            self.assertTrue(os.path.exists(ports_file), read(log_path))
            ports = read_ports_file(ports_file)
            with socket.create_connection(("127.0.0.1", ports["imap"]), timeout=10) as s:
                self.assertIn(b"* OK", s.recv(200))
            self.assertTrue(os.path.exists(os.path.join(data, "master.key")))
        finally:
            proc.terminate()
            proc.wait(timeout=15)
        self.assertEqual(proc.returncode, 0, read(log_path))


if __name__ == "__main__":
    unittest.main()
