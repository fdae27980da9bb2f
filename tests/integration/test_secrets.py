"""Secrets stay secret: a provider that echoes the credential commands it was sent (POP3, IMAP, SMTP; PLAIN and
LOGIN, inline and after a continuation) leaks neither the stored secret nor any encoded form of it into the gateway's
log, the account status (CLI and admin API) or the admin page's events; and the gateway never writes a core dump."""

import base64
import os
import resource
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from admin_client import AdminClient, admin_password
from gateway import MAILGATE_BIN, Gateway, add_account, run_cli
from misbehaving_provider import FakeProvider
from rig import ProviderRig

SECRET = "Provider-Secret-42xyz"
REMOTE_USER = "someone@example.test"


def forms_of_the_secret():
    """Everything a careless gateway could leak: the secret and the encodings a client codec sends."""
    plain = base64.b64encode(f"\0{REMOTE_USER}\0{SECRET}".encode()).decode()
    return [SECRET, plain, base64.b64encode(SECRET.encode()).decode(), plain[8:30]]


class EchoingProvider(FakeProvider):
    """Implicit-TLS provider that accepts everything up to the credential and then refuses it, quoting back the
    command line it received (as some servers do in their error text)."""

    def __init__(self, protocol, mechanisms, cert, key):
        self.protocol, self.mechanisms = protocol, mechanisms
        self.sessions = 0
        super().__init__(cert, key)

    def _session(self, conn):
        self.sessions += 1
        try:
            getattr(self, "_" + self.protocol)(conn, self._lines(conn))
        except StopIteration:  # the gateway hung up
            pass

    def _smtp(self, conn, lines):
        conn.sendall(b"220 echo ESMTP\r\n")
        for line in lines:
            verb = line.split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                conn.sendall(f"250-echo\r\n250 AUTH {' '.join(self.mechanisms)}\r\n".encode())
            elif verb == "AUTH" and line.upper() == "AUTH LOGIN":
                conn.sendall(b"334 VXNlcm5hbWU6\r\n")
                conn.sendall(f"334 UGFzc3dvcmQ6 (got {next(lines)})\r\n".encode())
                conn.sendall(f"535 5.7.8 rejected: {next(lines)}\r\n".encode())
            elif verb == "AUTH" and line.upper() == "AUTH PLAIN":
                conn.sendall(b"334 \r\n")
                conn.sendall(f"535 5.7.8 rejected: {next(lines)}\r\n".encode())
            elif verb == "AUTH":
                conn.sendall(f"535 5.7.8 rejected: {line}\r\n".encode())
            elif verb == "QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")

    def _pop3(self, conn, lines):
        conn.sendall(b"+OK echo\r\n")
        for line in lines:
            verb = line.split(" ")[0].upper()
            if verb == "CAPA":
                caps = "USER\r\n" if "USER" in self.mechanisms else ""
                sasl = [m for m in self.mechanisms if m != "USER"]
                if sasl:
                    caps += "SASL " + " ".join(sasl) + "\r\n"
                conn.sendall(f"+OK\r\n{caps}.\r\n".encode())
            elif verb == "USER":
                conn.sendall(f"+OK go on (got {line})\r\n".encode())
            elif verb == "PASS" or (verb == "AUTH" and " " in line.strip()[5:]):
                conn.sendall(f"-ERR [AUTH] rejected: {line}\r\n".encode())
            elif verb == "AUTH":
                conn.sendall(b"+ \r\n")
                conn.sendall(f"-ERR [AUTH] rejected: {next(lines)}\r\n".encode())
            elif verb == "QUIT":
                conn.sendall(b"+OK bye\r\n")
                return
            else:
                conn.sendall(b"-ERR unknown\r\n")

    def _imap(self, conn, lines):
        caps = "IMAP4rev1 " + " ".join(f"AUTH={m}" for m in self.mechanisms if m != "LOGIN")
        conn.sendall(f"* OK [CAPABILITY {caps}] echo\r\n".encode())
        for line in lines:
            tag, _, rest = line.partition(" ")
            verb = rest.split(" ")[0].upper()
            if verb == "CAPABILITY":
                conn.sendall(f"* CAPABILITY {caps}\r\n{tag} OK done\r\n".encode())
            elif verb == "LOGIN":
                conn.sendall(f"{tag} NO [AUTHENTICATIONFAILED] rejected: {line}\r\n".encode())
            elif verb == "AUTHENTICATE" and len(rest.split(" ")) > 2:
                conn.sendall(f"{tag} NO [AUTHENTICATIONFAILED] rejected: {line}\r\n".encode())
            elif verb == "AUTHENTICATE":
                conn.sendall(b"+ \r\n")
                conn.sendall(f"{tag} NO [AUTHENTICATIONFAILED] rejected: {next(lines)}\r\n".encode())
            elif verb == "LOGOUT":
                conn.sendall(f"* BYE\r\n{tag} OK bye\r\n".encode())
                return
            else:
                conn.sendall(f"{tag} BAD unknown\r\n".encode())


def client_login(protocol, port):
    """Logs in to the gateway with the local credential; returns the gateway's reply to the login."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        f = s.makefile("rb")
        f.readline()
        if protocol == "pop3":
            s.sendall(b"USER local-user\r\n")
            f.readline()
            s.sendall(b"PASS local-pw\r\n")
        elif protocol == "imap":
            s.sendall(b"a LOGIN local-user local-pw\r\n")
        else:
            s.sendall(b"EHLO test\r\n")
            while not f.readline().startswith(b"250 "):
                pass
            s.sendall(b"AUTH PLAIN " + base64.b64encode(b"\0local-user\0local-pw") + b"\r\n")
        return f.readline().decode()


class Secrets(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig().start()  # for its certificate and CA only

    @classmethod
    def tearDownClass(cls):
        cls.rig.stop()

    def check_echo(self, protocol, mechanisms, expected_reply):
        provider = EchoingProvider(protocol, mechanisms, self.rig.server_cert, self.rig.server_key)
        tmp = tempfile.TemporaryDirectory(prefix="mailgate-secrets-")
        try:
            data = os.path.join(tmp.name, "data")
            scheme = {"pop3": "pop3s", "imap": "imaps", "smtp": "smtps"}[protocol]
            add_account(data, "echo", "local-user", "local-pw", REMOTE_USER, SECRET,
                        f"--{protocol}", f"{scheme}://localhost:{provider.port}")
            with Gateway(data_dir=data, extra_args=["--upstream.ca_file", self.rig.ca_file,
                                                    "--access.failed_login_delay", "0"]) as gw:
                reply = client_login(protocol, gw.ports[protocol])
                self.assertTrue(reply.startswith(expected_reply), reply)
                self.assertGreaterEqual(provider.sessions, 1)
                admin = AdminClient(gw.ports["admin"])
                self.assertEqual(admin.login(admin_password(gw.banner))[0].status, 200)
                _, account_json, _ = admin.request("GET", "/api/v1/accounts/echo")
                _, events_json, _ = admin.request("GET", "/api/v1/events")
                shown = run_cli("account", "show", "echo", data_dir=data, check=True).stdout
                log = gw.log()
            self.assertIn("rejected", log)  # the provider's words did reach the log...
            places = {"log": log, "account API": account_json.decode(), "events API": events_json.decode(),
                      "account show": shown}
            for where, text in places.items():
                for form in forms_of_the_secret():
                    self.assertNotIn(form, text, f"{form!r} leaked into the {where}")  # ...but no credential
        finally:
            provider.close()
            tmp.cleanup()

    def test_smtp_plain_echo(self):
        self.check_echo("smtp", ["PLAIN"], "454")

    def test_smtp_login_echo(self):
        self.check_echo("smtp", ["LOGIN"], "454")

    def test_pop3_user_pass_echo(self):
        self.check_echo("pop3", ["USER"], "-ERR [SYS/PERM]")

    def test_pop3_sasl_plain_echo(self):
        self.check_echo("pop3", ["PLAIN"], "-ERR [SYS/PERM]")

    def test_imap_login_echo(self):
        self.check_echo("imap", ["LOGIN"], "a NO")

    def test_imap_authenticate_plain_echo(self):
        self.check_echo("imap", ["PLAIN"], "a NO")

    def test_no_core_dump_even_when_dumps_are_enabled(self):
        work = tempfile.TemporaryDirectory(prefix="mailgate-core-")
        try:
            def unlimited_core():
                resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

            # Control: an ordinary process in the same place does dump, so the setting below is what prevents it.
            control = subprocess.Popen(["sleep", "30"], cwd=work.name, preexec_fn=unlimited_core)
            control.send_signal(signal.SIGSEGV)
            control.wait()
            time.sleep(0.5)
            if not any(name.startswith("core") for name in os.listdir(work.name)):
                self.skipTest("core dumps do not land in the working directory on this machine (core_pattern)")
            for name in os.listdir(work.name):
                os.remove(os.path.join(work.name, name))
            gw = subprocess.Popen([MAILGATE_BIN, "serve", "--data-dir", os.path.join(work.name, "data"),
                                   *[arg for name in Gateway.LISTENERS for arg in (f"--listen.{name}", "")]],
                                  cwd=work.name, preexec_fn=unlimited_core, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
            for line in gw.stdout:
                if b"Stop with Ctrl-C." in line:
                    break
            gw.send_signal(signal.SIGSEGV)
            self.assertEqual(gw.wait(timeout=30), -signal.SIGSEGV)
            gw.stdout.close()
            time.sleep(0.5)
            self.assertEqual([n for n in os.listdir(work.name) if n.startswith("core")], [])
        finally:
            work.cleanup()


if __name__ == "__main__":
    unittest.main()
