"""The SMTP spool (smtp.spool) against the real rig: a device (smtplib without AUTH from an allowed address)
hears 250 while the provider is unreachable, and the message reaches the rig byte-identical and exactly once when
the provider comes back; a provider that answers 4xx first; a 5xx that returns an RFC 3464 report to the sender;
a full spool (452); authenticated clients still hearing the provider's own reply; and `kill -9` of the gateway in
a loop while 100 messages are spooled and delivered."""

import email
import imaplib
import os
import re
import signal
import smtplib
import socket
import ssl
import tempfile
import threading
import time
import unittest

from gateway import Gateway, add_account, run_cli
from kill_loop import arrived_tags, check_verdict, send_as_device, start_gateway
from rig import ProviderRig, _PlainPortRelay, reserve_port

ALICE, BOB = "alice@example.test", "bob@example.test"
SCANNER = "scanner@office.test"
NOBODY = "nobody@example.test"  # not in the rig's virtual mailbox table: Postfix answers 550 5.1.1


def message(tag, extra_headers=""):
    body = f"{tag}: scanned page\r\n.a line that starts with a dot\r\n..\r\nlast line\r\n"
    return (f"From: <{SCANNER}>\r\nTo: <{BOB}>\r\nSubject: {tag}\r\nMessage-ID: <{tag}@office.test>\r\n"
            f"{extra_headers}\r\n{body}").encode(), body.encode()


class TempfailProvider:
    """A provider that misbehaves on purpose (nothing real does this on demand): SMTP over implicit TLS with the
    rig's certificate, accepting the login and envelope, then answering the end of data with 451, for the first
    `tempfails` sessions; after those it relays bytes to the rig's real Postfix (SMTPS)."""

    def __init__(self, rig, tempfails=1):
        self.rig, self.tempfails, self.sessions = rig, tempfails, 0
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(rig.server_chain, rig.server_key)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.backend_port = reserve_port()
        self.relay = _PlainPortRelay(self.backend_port, rig.ports["smtps"])
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.relay.close()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.sessions += 1
            if self.sessions <= self.tempfails:
                threading.Thread(target=self._tempfail, args=(conn,), daemon=True).start()
            else:
                threading.Thread(target=self._forward, args=(conn,), daemon=True).start()

    def _forward(self, conn):
        up = socket.create_connection(("127.0.0.1", self.backend_port))

        def pump(a, b):
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=pump, args=(up, conn), daemon=True).start()
        pump(conn, up)

    def _tempfail(self, raw):
        try:
            conn = self.tls.wrap_socket(raw, server_side=True)
            f = conn.makefile("rb")
            conn.sendall(b"220 tempfail ESMTP\r\n")
            in_data = False
            for line in f:
                if in_data:
                    if line == b".\r\n":
                        conn.sendall(b"451 4.3.0 Try again later\r\n")
                        in_data = False
                    continue
                verb = line[:4].upper()
                if verb == b"EHLO":
                    conn.sendall(b"250-tempfail\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
                elif verb == b"AUTH":
                    conn.sendall(b"235 2.7.0 ok\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go on\r\n")
                    in_data = True
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    break
                else:
                    conn.sendall(b"250 ok\r\n")
            conn.close()
        except (OSError, ssl.SSLError):
            raw.close()


class Spool(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-spool-")

    @classmethod
    def tearDownClass(cls):
        cls.rig.stop()
        cls.tmp.cleanup()

    def setUp(self):
        for user in (ALICE, BOB):
            self.rig.empty_mailbox(user)

    def data_dir(self, name, smtp_url, sender=SCANNER, remote=ALICE):
        data = os.path.join(self.tmp.name, name)
        add_account(data, "scanner", "scanner-local", "scanner-pw", remote, self.rig.users[remote],
                    "--smtp", smtp_url, *(["--sender", sender] if sender else []))
        return data

    def gateway(self, data, *extra):
        return Gateway(data_dir=data, extra_args=["--upstream.ca_file", self.rig.ca_file,
                                                  "--access.relay_without_auth", "127.0.0.1/32",
                                                  "--smtp.spool_retry", "1,2", *extra])

    def inbox(self, user, expect, timeout=60):
        """The messages (raw) in the user's INBOX once it holds `expect`, after a pause that would show more."""
        self.rig.wait_for_messages(user, expect, timeout)
        time.sleep(1)
        self.rig.wait_for_postfix_queue_empty()
        with imaplib.IMAP4_SSL(self.rig.host, self.rig.ports["imaps"], ssl_context=self.rig.client_context()) as box:
            box.login(user, self.rig.users[user])
            count = int(box.select("INBOX", readonly=True)[1][0])
            out = [box.fetch(str(i), "(BODY.PEEK[])")[1][0][1] for i in range(1, count + 1)]
        return out

    def send(self, gw, sender, recipients, data):
        with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=60) as client:
            client.ehlo("scanner")
            code, text = client.mail(sender)
            self.assertEqual(code, 250, text)
            for r in recipients:
                self.assertEqual(client.rcpt(r)[0], 250)
            code, text = client.data(data)
            return code, text

    def queue(self, data):
        return run_cli("queue", "list", data_dir=data, check=True).stdout

    def test_device_mail_waits_for_an_unreachable_provider(self):
        port = reserve_port()  # nothing listens here until the "provider comes back"
        data = self.data_dir("unreachable", f"smtps://{self.rig.host}:{port}")
        raw, body = message("unreachable")
        with self.gateway(data) as gw:
            code, text = self.send(gw, SCANNER, [BOB], raw)
            self.assertEqual(code, 250)
            self.assertIn(b"queued as", text)
            queued_id = re.search(rb"queued as (\S+)", text).group(1).decode()
            self.assertTrue(os.path.exists(os.path.join(data, "spool", "queue", queued_id + ".msg")))
            time.sleep(4)  # some attempts fail on the closed port
            listing = self.queue(data)
            self.assertIn(queued_id, listing)
            self.assertIn(f"to   <{BOB}>", listing)
            self.assertIn("last error", listing)
            self.assertEqual(self.rig.mailbox_count(BOB), 0)
            relay = _PlainPortRelay(port, self.rig.ports["smtps"])  # the provider is back
            try:
                got = self.inbox(BOB, 1)
                deadline = time.monotonic() + 20
                while "0 message(s)" not in self.queue(data) and time.monotonic() < deadline:
                    time.sleep(0.5)
                self.assertIn("0 message(s)", self.queue(data))
            finally:
                relay.close()
            self.assertEqual(len(got), 1, "delivered exactly once")
            parsed = email.message_from_bytes(got[0])
            self.assertEqual(parsed["Message-ID"], "<unreachable@office.test>")
            self.assertTrue(got[0].endswith(body), "the body arrives byte-identical")
            self.assertIn(b"\r\n\r\n" + body, got[0])
            log = gw.log()
            self.assertIn("queueing mail from <scanner@office.test> for account 'scanner'", log)
            self.assertIn("delivered to account 'scanner'", log)

    def test_temporary_refusal_then_delivered(self):
        provider = TempfailProvider(self.rig, tempfails=2)
        try:
            data = self.data_dir("tempfail", f"smtps://{self.rig.host}:{provider.port}")
            raw, body = message("tempfail")
            with self.gateway(data) as gw:
                self.assertEqual(self.send(gw, SCANNER, [BOB], raw)[0], 250)
                got = self.inbox(BOB, 1)
                self.assertEqual(len(got), 1)
                self.assertTrue(got[0].endswith(body))
                self.assertGreaterEqual(provider.sessions, 3)
                self.assertIn("451 4.3.0 Try again later", gw.log())
        finally:
            provider.close()

    def test_permanent_refusal_returns_a_report_to_the_sender(self):
        # The sender is the account's own address, so the report can go back through it.
        data = self.data_dir("bounce", f"smtps://{self.rig.host}:{self.rig.ports['smtps']}", sender=None)
        raw, body = message("bounce")
        with self.gateway(data) as gw:
            self.assertEqual(self.send(gw, ALICE, [BOB, NOBODY], raw)[0], 250)
            self.assertEqual(len(self.inbox(BOB, 1)), 1)  # the good recipient gets it
            reports = self.inbox(ALICE, 1)
            self.assertEqual(len(reports), 1, "exactly one report")
            report = email.message_from_bytes(reports[0])
            self.assertEqual(report.get_content_type(), "multipart/report")
            self.assertEqual(report.get_param("report-type"), "delivery-status")
            self.assertEqual(report["Subject"], "Undelivered Mail Returned to Sender")
            parts = list(report.walk())
            status = [p for p in parts if p.get_content_type() == "message/delivery-status"][0]
            text = status.as_string()
            self.assertIn(f"Final-Recipient: rfc822; {NOBODY}", text)
            self.assertIn("Action: failed", text)
            self.assertIn("Status: 5.1.1", text)
            self.assertNotIn(BOB, text)
            headers = [p for p in parts if p.get_content_type() == "text/rfc822-headers"][0]
            self.assertIn("Message-ID: <bounce@office.test>", headers.as_string())
            deadline = time.monotonic() + 20
            while "0 message(s)" not in self.queue(data) and time.monotonic() < deadline:
                time.sleep(0.5)
            self.assertIn("0 message(s)", self.queue(data))
            self.assertIn("delivery report to <alice@example.test> queued", gw.log())

    def test_a_report_that_cannot_be_delivered_is_kept_for_the_admin(self):
        # The scanner's address is the account's, so the 550 for NOBODY makes a report to it; the rig cannot
        # deliver outside mail, so the report fails too: it is never answered with another report, but kept.
        data = self.data_dir("failed", f"smtps://{self.rig.host}:{self.rig.ports['smtps']}")
        raw, _ = message("failed")
        with self.gateway(data) as gw:
            self.assertEqual(self.send(gw, SCANNER, [NOBODY], raw)[0], 250)
            deadline = time.monotonic() + 30
            while "  failed (delivery report)  " not in self.queue(data) and time.monotonic() < deadline:
                time.sleep(0.5)
            listing = self.queue(data)
            self.assertIn("1 message(s)", listing)  # the original is gone, its report stays
            self.assertIn("  failed (delivery report)  ", listing)
            self.assertIn(f"refused {SCANNER}: 550 5.4.4", listing)
            queued_id = listing.split()[0]
            shown = run_cli("queue", "show", queued_id, data_dir=data, check=True).stdout
            self.assertIn("Subject: Undelivered Mail Returned to Sender", shown)
            self.assertIn("multipart/report", shown)
            run_cli("queue", "retry", queued_id, data_dir=data, check=True)
            self.assertIn("  queued  ", self.queue(data).replace("queued (delivery report)", "queued "))
            time.sleep(8)  # the gateway rescans, tries once more, and fails it again
            self.assertIn("  failed (delivery report)  ", self.queue(data))
            run_cli("queue", "delete", queued_id, data_dir=data, check=True)
            time.sleep(6)
            self.assertIn("0 message(s)", self.queue(data))
            log = gw.log()
            self.assertIn("kept for the administrator", log)
            self.assertEqual(log.count("delivery report to <"), 1, "no report about a report")

    def test_given_up_after_the_lifetime_with_a_report(self):
        port = reserve_port()  # never answers: every attempt fails on the connection
        data = self.data_dir("expired", f"smtps://{self.rig.host}:{port}", sender=None)
        raw, _ = message("expired")
        with self.gateway(data, "--smtp.spool_lifetime", "10") as gw:
            self.assertEqual(self.send(gw, ALICE, [BOB], raw)[0], 250)
            # After 10 s the message is given up and a report to the sender is queued; it cannot get out either
            # (same provider), so after its own 10 s it is kept as failed: never a report about a report.
            deadline = time.monotonic() + 60
            while "failed (delivery report)" not in self.queue(data) and time.monotonic() < deadline:
                time.sleep(1)
            listing = self.queue(data)
            self.assertIn("1 message(s)", listing)
            self.assertIn("failed (delivery report)", listing)
            report_id = listing.split()[0]
            relay = _PlainPortRelay(port, self.rig.ports["smtps"])  # the provider is back
            try:
                run_cli("queue", "retry", report_id, data_dir=data, check=True)
                reports = self.inbox(ALICE, 1)
            finally:
                relay.close()
            self.assertEqual(len(reports), 1)
            report = email.message_from_bytes(reports[0])
            status = [p for p in report.walk() if p.get_content_type() == "message/delivery-status"][0].as_string()
            self.assertIn(f"Final-Recipient: rfc822; {BOB}", status)
            self.assertIn("Status: 4.4.7", status)
            self.assertEqual(self.rig.mailbox_count(BOB), 0, "the expired message itself never went out")
            self.assertIn("delivery report to <alice@example.test> queued", gw.log())

    def test_a_full_spool_answers_452(self):
        port = reserve_port()
        data = self.data_dir("full", f"smtps://{self.rig.host}:{port}")
        with self.gateway(data, "--smtp.spool_max_bytes", "4096") as gw:
            with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=60) as client:
                client.ehlo("scanner")
                # SIZE declared: refused at MAIL.
                code, text = client.mail(SCANNER, ["SIZE=10000"])
                self.assertEqual(code, 452)
                self.assertIn(b"4.3.1", text)
                client.rset()
                # No SIZE: the data fills the spool, the end of data gets 452 and nothing stays behind.
                client.mail(SCANNER)
                client.rcpt(BOB)
                code, text = client.data(b"Subject: big\r\n\r\n" + b"x" * 76 + b"\r\n" * 1 + (b"y" * 998 + b"\r\n") * 8)
                self.assertEqual(code, 452)
                self.assertIn(b"4.3.1", text)
                # A small one still fits.
                self.assertEqual(client.sendmail(SCANNER, [BOB], b"Subject: small\r\n\r\nsmall\r\n"), {})
            listing = self.queue(data)
            self.assertIn("1 message(s)", listing)

    def test_authenticated_clients_hear_the_providers_own_reply(self):
        data = self.data_dir("auth", f"smtps://{self.rig.host}:{self.rig.ports['smtps']}", sender=None)
        with self.gateway(data) as gw:
            with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=60) as client:
                client.login("scanner-local", "scanner-pw")
                with self.assertRaises(smtplib.SMTPRecipientsRefused) as ctx:
                    client.sendmail(ALICE, [NOBODY], b"Subject: x\r\n\r\nx\r\n")
                self.assertEqual(ctx.exception.recipients[NOBODY][0], 550)  # Postfix's own 5.1.1
                self.assertEqual(client.sendmail(ALICE, [BOB], b"Subject: live\r\n\r\nlive\r\n"), {})
            self.assertIn("0 message(s)", self.queue(data))
            self.assertEqual(len(self.inbox(BOB, 1)), 1)
        # smtp.spool = all: the authenticated client's mail is queued too.
        with self.gateway(data, "--smtp.spool", "all") as gw:
            with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=60) as client:
                client.login("scanner-local", "scanner-pw")
                client.mail(ALICE)
                self.assertEqual(client.rcpt(NOBODY)[0], 250)  # the provider is asked later
                code, text = client.data(b"Subject: all\r\n\r\nall\r\n")
                self.assertEqual(code, 250)
                self.assertIn(b"queued as", text)
            reports = self.inbox(ALICE, 1)
            self.assertIn(b"multipart/report", reports[0])
            self.assertIn("(mail is queued)", gw.log())
        with self.gateway(data, "--smtp.spool", "off") as gw:
            with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=60) as client:
                client.ehlo("scanner")
                self.assertEqual(client.sendmail(ALICE, [BOB], b"Subject: off\r\n\r\noff\r\n"), {})
            self.assertIn("sending as <alice@example.test> through account 'scanner'", gw.log())
            self.assertIn("0 message(s)", self.queue(data))


class SpoolCrash(unittest.TestCase):
    """kill -9 of the gateway in a loop while a device sends 100 messages through the spool."""

    def test_kill_loop_loses_nothing_and_duplicates_nothing(self):
        rig = ProviderRig().start()
        tmp = tempfile.TemporaryDirectory(prefix="mailgate-spool-crash-")
        try:
            data = os.path.join(tmp.name, "data")
            add_account(data, "scanner", "scanner-local", "scanner-pw", ALICE, rig.users[ALICE],
                        "--smtp", f"smtps://{rig.host}:{rig.ports['smtps']}", "--sender", SCANNER)
            port = reserve_port()
            gw = Gateway(data_dir=data, ports={"smtp": port},
                         extra_args=["--upstream.ca_file", rig.ca_file, "--access.relay_without_auth",
                                     "127.0.0.1/32", "--smtp.spool_retry", "1"])
            log_path = os.path.join(tmp.name, "all.log")
            outcomes, stop = {}, threading.Event()

            def device():
                for i in range(100):
                    time.sleep(0.08)  # a device's pace: the kills land before, during and after messages
                    tag = f"crash-{i:03d}"
                    # Without 250 a device would send again; this test records it and moves on.
                    outcomes[tag] = send_as_device(port, SCANNER, BOB, tag, i)
                    if outcomes[tag] != "accepted":
                        time.sleep(0.05)
                stop.set()

            proc = start_gateway(gw.args, log_path, port)
            sender = threading.Thread(target=device)
            sender.start()
            kills = 0
            deadline = time.monotonic() + 240
            while not stop.is_set() and time.monotonic() < deadline:
                time.sleep(0.25 + (kills % 5) * 0.1)
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                proc = start_gateway(gw.args, log_path, port)
            sender.join(timeout=60)
            # Let the last gateway deliver the rest.
            spool_dir = os.path.join(data, "spool", "queue")
            deadline = time.monotonic() + 120
            while any(n.endswith(".msg") for n in os.listdir(spool_dir)) and time.monotonic() < deadline:
                time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
            rig.wait_for_postfix_queue_empty(60)
            self.assertFalse(any(n.endswith(".msg") for n in os.listdir(spool_dir)), "the spool emptied")
            with open(log_path, encoding="utf-8", errors="replace") as f:
                log = f.read()
            self.assertGreaterEqual(kills, 5)
            summary = check_verdict(self, outcomes, arrived_tags(rig, BOB, "crash-"), log)
            print(f"\n{kills} kills; {summary}", flush=True)
        finally:
            rig.stop()
            tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
