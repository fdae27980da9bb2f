"""Old LAN clients against the real rig, one test per row of the README's client table, each with that client
generation's protocol version and cipher list: `openssl s_client` checks the handshake (version, suite, the
certificate verifies against what the gateway tells clients to trust), and Python's imaplib/poplib/smtplib log in
and move mail with the same settings. Windows XP's TLS (RC4/3DES only) cannot connect, and says so with a
handshake_failure alert; XP clients use plaintext on the LAN. The default profile refuses TLS 1.0/1.1. sslscan and
testssl.sh scan both profiles. Certificates: the generated RSA + ECDSA pair, the local CA mode, configured pairs
reloaded on SIGHUP and from the admin API while a logged-in session stays up."""

import hashlib
import imaplib
import json
import os
import poplib
import shutil
import signal
import smtplib
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import unittest
import warnings

from admin_client import AdminClient, admin_password
from gateway import Gateway, add_account
from rig import ProviderRig

ALICE = "alice@example.test"

# (row, TLS version, OpenSSL cipher list, suite the gateway picks by its preference, protocol exercised)
# Cipher lists are each generation's TLS 1.0/1.1 offer without its RC4/3DES entries, which Debian's OpenSSL cannot
# even put into a ClientHello (the XP row below sends those as raw bytes).
LEGACY_ROWS = [
    ("Windows Vista/7: Outlook 2007/2010, Windows Live Mail", "TLSv1",
     "AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA:"
     "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA", "imaps"),
    ("Android 2.3-4.3, Java 6, old BlackBerry (RSA key exchange)", "TLSv1",
     "DHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA:AES256-SHA:AES128-SHA", "AES128-SHA", "pop3s"),
    ("iOS 5-8, OS X 10.7-10.9 Mail, Android 4.4", "TLSv1.1",
     "ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA:AES256-SHA:AES128-SHA",
     "ECDHE-ECDSA-AES128-SHA", "smtps"),
]
S_CLIENT_VERSION = {"TLSv1": "-tls1", "TLSv1.1": "-tls1_1", "TLSv1.2": "-tls1_2", "TLSv1.3": "-tls1_3"}
PY_VERSION = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1}

# Windows XP SChannel's ClientHello suites: RC4, (3)DES, export and DSS, nothing else; no extensions.
XP_SUITES = [0x0004, 0x0005, 0x000A, 0x0009, 0x0064, 0x0062, 0x0003, 0x0006, 0x0013, 0x0012, 0x0063]


def xp_client_hello():
    body = (b"\x03\x01" + os.urandom(32) + b"\x00" + struct.pack(">H", 2 * len(XP_SUITES)) +
            b"".join(struct.pack(">H", s) for s in XP_SUITES) + b"\x01\x00")
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack(">H", len(handshake)) + handshake


def s_client(port, version, ciphers, trust, starttls=None):
    """(returncode, output) of one s_client handshake with `version` and `ciphers` that verifies the certificate."""
    args = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief", S_CLIENT_VERSION[version],
            "-CAfile", trust, "-verify_return_error", "-verify_hostname", "localhost", "-servername", "localhost"]
    if ciphers:
        args += ["-cipher", ciphers + ":@SECLEVEL=0"]
    if starttls:
        args += ["-starttls", starttls]
    proc = subprocess.run(args, input=b"", capture_output=True, timeout=30)
    return proc.returncode, (proc.stdout + proc.stderr).decode(errors="replace")


def client_context(version, ciphers, trust):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # old versions are the point here
        ctx.minimum_version = ctx.maximum_version = PY_VERSION[version]
    ctx.set_ciphers(ciphers + ":@SECLEVEL=0")
    ctx.load_verify_locations(trust)
    return ctx


def fingerprint_seen(port, trust):
    """SHA-256 of the certificate an ECDSA-preferring TLS 1.3 client gets."""
    ctx = ssl.create_default_context(cafile=trust)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


class LegacyClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-legacy-")
        cls.data = os.path.join(cls.tmp.name, "data")
        p, host = cls.rig.ports, cls.rig.host
        add_account(cls.data, "alice", "alice-local", "alice-pw", ALICE, cls.rig.users[ALICE],
                    "--imap", f"imaps://{host}:{p['imaps']}", "--pop3", f"pop3s://{host}:{p['pop3s']}",
                    "--smtp", f"smtps://{host}:{p['smtps']}", "--sender", ALICE)
        common = ["--upstream.ca_file", cls.rig.ca_file, "--smtp.spool", "off", "--access.failed_login_delay", "0"]
        cls.legacy = Gateway(data_dir=cls.data, extra_args=[*common, "--tls.min_version", "1.0"]).__enter__()
        cls.trust = cls.legacy.cert_file
        cls.modern = Gateway(data_dir=cls.data, extra_args=common).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.legacy.stop()
        cls.modern.stop()
        cls.rig.stop()
        cls.tmp.cleanup()

    def login_and_use(self, protocol, port, ctx):
        if protocol == "imaps":
            with imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx, timeout=60) as imap:
                imap.login("alice-local", "alice-pw")
                self.assertEqual(imap.select("INBOX")[0], "OK")
                return imap.sock.version(), imap.sock.cipher()[0]
        if protocol == "pop3s":
            pop = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=60)
            try:
                pop.user("alice-local")
                pop.pass_("alice-pw")
                pop.stat()
                return pop.sock.version(), pop.sock.cipher()[0]
            finally:
                pop.quit()
        with smtplib.SMTP_SSL("127.0.0.1", port, context=ctx, timeout=60) as smtp:
            smtp.login("alice-local", "alice-pw")
            smtp.sendmail(ALICE, [ALICE], b"Subject: legacy client\r\n\r\nsent over TLS 1.x\r\n")
            return smtp.sock.version(), smtp.sock.cipher()[0]

    def test_each_legacy_row_connects_with_its_version_and_ciphers(self):
        for row, version, ciphers, expected, protocol in LEGACY_ROWS:
            with self.subTest(row):
                port = self.legacy.ports[protocol]
                rc, out = s_client(port, version, ciphers, self.trust)
                self.assertEqual(rc, 0, out)
                self.assertIn(f"Protocol version: {version}\n", out)
                self.assertIn(f"Ciphersuite: {expected}\n", out)
                self.assertIn("Verification: OK", out)
                seen = self.login_and_use(protocol, port, client_context(version, ciphers, self.trust))
                self.assertEqual(seen, (version, expected))
                # The default profile refuses the same client at the protocol version.
                rc, out = s_client(self.modern.ports[protocol], version, ciphers, self.trust)
                self.assertNotEqual(rc, 0, out)
                self.assertRegex(out, r"protocol version|no protocols available|unsupported protocol")

    def test_starttls_rows_work_like_implicit_tls(self):
        rc, out = s_client(self.legacy.ports["imap"], "TLSv1", "AES128-SHA", self.trust, starttls="imap")
        self.assertEqual(rc, 0, out)
        self.assertIn("Ciphersuite: AES128-SHA\n", out)
        rc, out = s_client(self.legacy.ports["smtp"], "TLSv1", "ECDHE-RSA-AES128-SHA", self.trust, starttls="smtp")
        self.assertEqual(rc, 0, out)
        self.assertIn("Ciphersuite: ECDHE-RSA-AES128-SHA\n", out)
        self.assertIn("Signature type: RSA\n", out)

    def test_windows_xp_tls_gets_handshake_failure_and_plaintext_works_on_the_lan(self):
        marker = "the client's TLS is too old"
        before = self.legacy.log().count(marker)  # scans in other tests fail handshakes too
        for protocol in ("pop3s", "imaps", "smtps"):
            with socket.create_connection(("127.0.0.1", self.legacy.ports[protocol]), timeout=10) as s:
                s.sendall(xp_client_hello())
                reply = s.recv(64)
            # A fatal alert (21) of description handshake_failure (40): the client shows a TLS error at once.
            self.assertEqual(reply[:1], b"\x15", (protocol, reply))
            self.assertEqual(reply[5:7], b"\x02\x28", (protocol, reply))
        # The administrator reads why, not once per attempt: failures are reported at most every 10 s with a
        # count, so a scan just before may hold the line back; more XP attempts then bring it.
        deadline = time.monotonic() + 15
        while self.legacy.log().count(marker) == before and time.monotonic() < deadline:
            with socket.create_connection(("127.0.0.1", self.legacy.ports["imaps"]), timeout=10) as s:
                s.sendall(xp_client_hello())
                s.recv(64)
            time.sleep(1)
        log = self.legacy.log()
        self.assertEqual(log.count(marker) - before, 1, log[-2000:])  # three failures in a row, one line
        self.assertIn("Windows XP cannot use TLS here", log)
        # Outlook Express 6 then runs without TLS: plaintext login from a network in access.plaintext_auth.
        pop = poplib.POP3("127.0.0.1", self.legacy.ports["pop3"], timeout=60)
        pop.user("alice-local")
        pop.pass_("alice-pw")
        self.assertTrue(pop.stat()[0] >= 0)
        pop.quit()
        self.assertEqual(self.legacy.proc.poll(), None)

    def test_current_clients_get_tls13_or_tls12_on_both_profiles(self):
        for gw in (self.legacy, self.modern):
            rc, out = s_client(gw.ports["imaps"], "TLSv1.3", None, self.trust)
            self.assertEqual(rc, 0, out)
            self.assertIn("Protocol version: TLSv1.3", out)
            rc, out = s_client(gw.ports["imaps"], "TLSv1.2", None, self.trust)
            self.assertEqual(rc, 0, out)
            self.assertRegex(out, r"Ciphersuite: ECDHE-ECDSA-AES(128|256)-GCM-SHA(256|384)\n")

    def sslscan(self, port):
        out = subprocess.run(["sslscan", "--no-colour", f"127.0.0.1:{port}"], capture_output=True, text=True,
                             timeout=120).stdout
        enabled = {v for v in ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
                   if f"{v}   enabled" in out or f"{v}     enabled" in out}
        accepted = [line.split()[4] for line in out.splitlines() if line.startswith(("Accepted", "Preferred"))]
        return enabled, accepted, out

    def test_sslscan_sees_each_profile_as_configured(self):
        enabled, accepted, out = self.sslscan(self.modern.ports["imaps"])
        self.assertEqual(enabled, {"TLSv1.2", "TLSv1.3"}, out)
        enabled, accepted, out = self.sslscan(self.legacy.ports["imaps"])
        self.assertEqual(enabled, {"TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"}, out)
        self.assertIn("AES128-SHA", accepted)
        for weak in ("RC4", "DES", "NULL", "EXP", "ADH", "AECDH", "MD5"):
            self.assertFalse([c for c in accepted if weak in c], (weak, out))

    def run_testssl(self, port):
        tmp = tempfile.mkdtemp(prefix="testssl-")
        self.addCleanup(shutil.rmtree, tmp, True)
        report = os.path.join(tmp, "report.json")
        subprocess.run(["testssl", "--quiet", "--color", "0", "--warnings", "off", "--protocols", "--std",
                        "--jsonfile", report, f"127.0.0.1:{port}"], capture_output=True, timeout=300)
        with open(report) as f:
            return {item["id"]: item["finding"] for item in json.load(f)}

    def test_testssl_finds_no_weak_cipher_class_on_either_profile(self):
        modern = self.run_testssl(self.modern.ports["pop3s"])
        self.assertEqual(modern["TLS1"], "not offered")
        self.assertEqual(modern["TLS1_1"], "not offered")
        legacy = self.run_testssl(self.legacy.ports["pop3s"])
        self.assertTrue(legacy["TLS1"].startswith("offered"), legacy["TLS1"])
        for report in (modern, legacy):
            for check in ("SSLv2", "SSLv3", "cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT",
                          "cipherlist_LOW", "cipherlist_3DES_IDEA"):
                self.assertEqual(report[check], "not offered", check)
            self.assertTrue(report["cipherlist_STRONG"].startswith("offered"))


class Certificates(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-certs-")
        cls.data = os.path.join(cls.tmp.name, "data")
        p, host = cls.rig.ports, cls.rig.host
        add_account(cls.data, "alice", "alice-local", "alice-pw", ALICE, cls.rig.users[ALICE],
                    "--imap", f"imaps://{host}:{p['imaps']}")

    @classmethod
    def tearDownClass(cls):
        cls.rig.stop()
        cls.tmp.cleanup()

    def gateway(self, data, *extra):
        gw = Gateway(data_dir=data, extra_args=["--upstream.ca_file", self.rig.ca_file, "--smtp.spool", "off",
                                                *extra])
        gw.__enter__()
        self.addCleanup(gw.stop)
        return gw

    def test_local_ca_mode_one_ca_verifies_both_key_types(self):
        data = os.path.join(self.tmp.name, "ca-data")
        shutil.copytree(self.data, data)
        gw = self.gateway(data, "--tls.local_ca", "true", "--tls.min_version", "1.0", "--tls.names", "mail.lan")
        ca = os.path.join(data, "tls", "local-ca.pem")
        self.assertIn(f"client trust {ca}", gw.banner)
        rc, out = s_client(gw.ports["imaps"], "TLSv1", "AES256-SHA", ca)  # RSA leaf
        self.assertEqual(rc, 0, out)
        self.assertIn("Verification: OK", out)
        rc, out = s_client(gw.ports["imaps"], "TLSv1.3", None, ca)  # ECDSA leaf
        self.assertEqual(rc, 0, out)
        self.assertIn("Signature type: ECDSA\n", out)
        ctx = ssl.create_default_context(cafile=ca)
        with imaplib.IMAP4_SSL("127.0.0.1", gw.ports["imaps"], ssl_context=ctx, timeout=60) as imap:
            imap.login("alice-local", "alice-pw")
        # The admin API lists the CA for download, DER and PEM, with the fingerprint s_client computes.
        admin = AdminClient(gw.ports["admin"])
        self.assertEqual(admin.login(admin_password(gw.banner))[0].status, 200)
        _, _, tls = admin.request("GET", "/api/v1/tls")
        self.assertEqual(tls["source"], "local CA")
        self.assertTrue(tls["legacy"])
        self.assertEqual(sorted(c["key_type"] for c in tls["certificates"]), ["ECDSA P-256", "RSA 2048"])
        self.assertIn("mail.lan", tls["certificates"][0]["names"])
        [trust] = tls["trust"]
        response, der, _ = admin.request("GET", "/api/v1/" + trust["der"])
        self.assertEqual(response.status, 200)
        self.assertEqual(response.getheader("Content-Type"), "application/pkix-cert")
        self.assertIn("mailgate-local-CA.crt", response.getheader("Content-Disposition"))
        expected = subprocess.run(["openssl", "x509", "-in", ca, "-outform", "DER"], capture_output=True).stdout
        self.assertEqual(der, expected)
        fp = subprocess.run(["openssl", "x509", "-in", ca, "-noout", "-fingerprint", "-sha256"],
                            capture_output=True, text=True).stdout.strip().split("=", 1)[1]
        self.assertEqual(trust["sha256"], fp)
        response, pem, _ = admin.request("GET", "/api/v1/" + trust["pem"])
        with open(ca, "rb") as f:
            self.assertEqual(pem, f.read())
        anonymous = AdminClient(gw.ports["admin"])
        self.assertEqual(anonymous.request("GET", "/api/v1/" + trust["der"])[0].status, 401)

    def _openssl_pair(self, directory, name):
        os.makedirs(directory, exist_ok=True)
        cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj",
                        f"/CN={name}", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        return cert, key

    def test_sighup_and_the_admin_button_reload_without_dropping_a_session(self):
        certs = os.path.join(self.tmp.name, "configured")
        first_cert, first_key = self._openssl_pair(certs, "first")
        cert, key = os.path.join(certs, "live.pem"), os.path.join(certs, "live.key")
        shutil.copy(first_cert, cert)
        shutil.copy(first_key, key)
        data = os.path.join(self.tmp.name, "reload-data")
        shutil.copytree(self.data, data)
        gw = self.gateway(data, "--tls.cert", cert, "--tls.key", key)
        # A logged-in IMAPS session made with the first certificate.
        imap = imaplib.IMAP4_SSL("127.0.0.1", gw.ports["imaps"], ssl_context=ssl.create_default_context(
            cafile=first_cert), timeout=60)
        imap.login("alice-local", "alice-pw")
        self.assertEqual(imap.select("INBOX")[0], "OK")

        second_cert, second_key = self._openssl_pair(certs, "second")
        shutil.copy(second_cert, cert)
        shutil.copy(second_key, key)
        gw.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "tls: certificates loaded (reload)" not in gw.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("tls: certificates loaded (reload)", gw.log())
        expected = subprocess.run(["openssl", "x509", "-in", second_cert, "-noout", "-fingerprint", "-sha256"],
                                  capture_output=True, text=True).stdout.strip().split("=", 1)[1]
        self.assertEqual(fingerprint_seen(gw.ports["imaps"], second_cert), expected.replace(":", "").lower())
        self.assertEqual(imap.noop()[0], "OK")  # the session from before the reload goes on

        # A broken file: the admin button reports it and the second certificate stays in use.
        with open(key, "w") as f:
            f.write("not a key\n")
        admin = AdminClient(gw.ports["admin"])
        self.assertEqual(admin.login(admin_password(gw.banner))[0].status, 200)
        response, _, body = admin.request("POST", "/api/v1/tls/reload")
        self.assertEqual(response.status, 422)
        self.assertIn("the previous certificates stay in use", body["error"])
        self.assertEqual(fingerprint_seen(gw.ports["imaps"], second_cert), expected.replace(":", "").lower())
        shutil.copy(first_key, key)
        shutil.copy(first_cert, cert)
        response, _, body = admin.request("POST", "/api/v1/tls/reload")
        self.assertEqual(response.status, 200, body)
        _, _, tls = admin.request("GET", "/api/v1/tls")
        self.assertEqual(tls["source"], "configured")
        self.assertEqual(tls["certificates"][0]["subject"], "first")
        self.assertEqual(imap.noop()[0], "OK")
        imap.logout()
        self.assertIsNone(gw.proc.poll())


if __name__ == "__main__":
    unittest.main()
