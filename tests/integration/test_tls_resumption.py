"""TLS resumption against the real rig: the gateway resumes its provider sessions (Dovecot IMAPS in Dovecot's
high-performance login mode, where one login process holds the ticket key; Postfix SMTPS, whose tlsmgr shares ticket
keys across smtpd processes), counts them in /metrics, and offers LAN clients session tickets, which Python's ssl
module resumes on IMAPS and POP3S. With upstream.tls_resumption = false every provider handshake is full."""

import http.client
import imaplib
import os
import re
import smtplib
import socket
import ssl
import tempfile
import time
import unittest

from gateway import Gateway, add_account
from rig import ProviderRig

ALICE, BOB = "alice@example.test", "bob@example.test"


class SharedLoginProcessRig(ProviderRig):
    """The stock rig with imap-login in Dovecot's high-performance mode (service_count = 0): with one login
    process per connection, each has its own TLS ticket key and no provider-side resumption can happen."""

    def _write_dovecot_config(self):
        super()._write_dovecot_config()
        with open(self._p("dovecot.conf"), "a") as f:
            f.write("\nservice imap-login {\n  service_count = 0\n  process_min_avail = 1\n  process_limit = 1\n}\n")


def metric(port, name):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    found = re.search(rf"^{name} (\d+)$", text, re.M)
    return int(found.group(1)) if found else None


class TlsResumption(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = SharedLoginProcessRig().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-resume-")
        cls.data = os.path.join(cls.tmp.name, "data")
        p, host = cls.rig.ports, cls.rig.host
        add_account(cls.data, "alice", "alice-local", "alice-pw", ALICE, cls.rig.users[ALICE],
                    "--imap", f"imaps://{host}:{p['imaps']}", "--pop3", f"pop3s://{host}:{p['pop3s']}",
                    "--smtp", f"smtps://{host}:{p['smtps']}")

    @classmethod
    def tearDownClass(cls):
        cls.rig.stop()
        cls.tmp.cleanup()

    def gateway(self, *extra):
        gw = Gateway(data_dir=self.data, extra_args=["--upstream.ca_file", self.rig.ca_file,
                                                     "--smtp.spool", "off", *extra])
        gw.__enter__()
        self.addCleanup(gw.stop)
        return gw

    def imap_logins(self, gw, n):
        for _ in range(n):
            client = imaplib.IMAP4("127.0.0.1", gw.ports["imap"], timeout=60)
            client.login("alice-local", "alice-pw")
            self.assertEqual(client.select("INBOX")[0], "OK")
            client.logout()

    def smtp_logins(self, gw, n):
        for i in range(n):
            with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=60) as smtp:
                smtp.login("alice-local", "alice-pw")
                smtp.sendmail(ALICE, [ALICE], f"Subject: resume {i}\r\n\r\nhello\r\n")

    def test_provider_sessions_are_resumed_and_counted(self):
        gw = self.gateway()
        self.imap_logins(gw, 4)
        self.smtp_logins(gw, 3)
        # Sent copies of the SMTP sessions go to IMAP in the background: wait until the counters and the log agree.
        deadline = time.monotonic() + 20
        while True:
            resumed = metric(gw.ports["admin"], "mailgate_upstream_tls_resumed_total")
            offered = metric(gw.ports["admin"], "mailgate_upstream_tls_resumption_offered_total")
            lines = [line for line in gw.log().splitlines() if "connected to " in line]
            if resumed == sum("resumed session" in line for line in lines) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        imap_logins = [line for line in lines if " imap #" in line]
        smtp_logins = [line for line in lines if " smtp #" in line and "smtps://" in line]
        # The first login to each provider endpoint is a full handshake; Dovecot issues a ticket on every
        # connection, so each later IMAP login resumes; Postfix does not renew a ticket on a resumed connection,
        # so at least the second SMTP login resumes. (SMTP sessions also copy to Sent over IMAPS.)
        self.assertEqual(len(imap_logins), 4, lines)
        self.assertNotIn("resumed session", imap_logins[0])
        self.assertTrue(all("resumed session" in line for line in imap_logins[1:]), imap_logins)
        self.assertNotIn("resumed session", smtp_logins[0])
        self.assertIn("resumed session", smtp_logins[1])
        self.assertEqual(resumed, sum("resumed session" in line for line in lines), "\n".join(lines))
        self.assertGreaterEqual(offered, resumed)

    def test_switched_off_every_handshake_is_full(self):
        gw = self.gateway("--upstream.tls_resumption", "false")
        self.imap_logins(gw, 3)
        self.assertIsNone(metric(gw.ports["admin"], "mailgate_upstream_tls_resumed_total"))
        self.assertFalse(any("resumed session" in line for line in gw.log().splitlines()))

    def lan_session_reused(self, gw, port_name, first_line, tls_version):
        context = ssl.create_default_context(cafile=gw.cert_file)
        context.minimum_version = context.maximum_version = tls_version
        session, reused = None, []
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", gw.ports[port_name]), timeout=30) as raw:
                with context.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
                    self.assertTrue(tls.recv(512).startswith(first_line))  # also takes the TLS 1.3 tickets
                    reused.append(tls.session_reused)
                    session = tls.session
        return reused

    def test_lan_clients_resume_with_tickets(self):
        gw = self.gateway()
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            self.assertEqual(self.lan_session_reused(gw, "imaps", b"* OK", version), [False, True, True], version)
            self.assertEqual(self.lan_session_reused(gw, "pop3s", b"+OK", version), [False, True, True], version)


if __name__ == "__main__":
    unittest.main()
