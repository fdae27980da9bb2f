"""POP3 served from an IMAP folder (account pop3_source = imap) against the real rig's Dovecot IMAP: poplib, curl,
fetchmail and getmail6 through the gateway, each compared byte for byte with the same messages fetched directly
over IMAP; stable UIDLs; DELE semantics; TOP; dot-lines and bare-LF bodies; a 50 MB message; a provider killed
mid-RETR; and Sent copies of submitted mail."""

import hashlib
import imaplib
import os
import poplib
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from gateway import Gateway, add_account, run_cli
from rig import ProviderRig

ALICE, BOB = "alice@example.test", "bob@example.test"


def message(subject, body=b"hello\r\n", extra=b""):
    return (b"From: sender@example.test\r\nTo: alice@example.test\r\nSubject: " + subject.encode() +
            b"\r\nMessage-ID: <" + hashlib.sha1(subject.encode() + body[:64]).hexdigest().encode() +
            b"@example.test>\r\n" + extra + b"\r\n" + body)


class RawPop3:
    """A POP3 connection read exactly: each reply up to its terminator, whatever the TCP segments held."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = bytearray()

    def until(self, terminator, limit=200 * 1024 * 1024):
        start = 0
        while True:
            at = self.buf.find(terminator, start)
            if at >= 0:
                out = bytes(self.buf[:at + len(terminator)])
                del self.buf[:at + len(terminator)]
                return out
            start = max(0, len(self.buf) - len(terminator))
            chunk = self.sock.recv(1 << 16)
            if not chunk or len(self.buf) > limit:
                out = bytes(self.buf)  # closed (or runaway): what arrived
                self.buf.clear()
                return out
            self.buf += chunk

    def line(self):
        return self.until(b"\r\n")

    def login(self, commands=b""):
        self.line()
        self.sock.sendall(b"USER alice-local\r\nPASS alice-pw\r\n" + commands)
        self.line()
        return self.line()

    def close(self):
        self.sock.close()


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def unstuff(lines):
    """poplib's retr() lines (dot-unstuffed already) back to the message bytes."""
    return b"".join(line + b"\r\n" for line in lines)


class Pop3FromImap(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-pop3imap-")
        cls.data = os.path.join(cls.tmp.name, "data")
        p, host = cls.rig.ports, cls.rig.host
        imaps = f"imaps://{host}:{p['imaps']}"
        add_account(cls.data, "alice", "alice-local", "alice-pw", ALICE, cls.rig.users[ALICE],
                    "--imap", imaps, "--smtp", f"smtps://{host}:{p['smtps']}", "--pop3-source", "imap",
                    "--save-sent", "always")
        # STARTTLS to the IMAP endpoint, a folder other than INBOX, and RETR marking \Seen.
        add_account(cls.data, "bob", "bob-local", "bob-pw", BOB, cls.rig.users[BOB],
                    "--imap", f"imap+starttls://{host}:{p['imap']}", "--pop3-source", "imap",
                    "--pop3-folder", "Archive", "--pop3-mark-seen", "--smtp", f"smtps://{host}:{p['smtps']}",
                    "--sent-folder", "Missing-Folder", "--save-sent", "always")
        cls.gw = Gateway(data_dir=cls.data, extra_args=["--upstream.ca_file", cls.rig.ca_file,
                                                        "--access.failed_login_delay", "1"]).__enter__()
        cls.client_tls = ssl.create_default_context(cafile=cls.gw.cert_file)
        with cls.imap(BOB) as imap:
            imap.create("Archive")

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.rig.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self.rig.empty_mailbox(ALICE)
        self.rig.empty_mailbox(BOB, "Archive")

    @classmethod
    def imap(cls, user):
        imap = imaplib.IMAP4_SSL(cls.rig.host, cls.rig.ports["imaps"], ssl_context=cls.rig.client_context(),
                                 timeout=60)
        imap.login(user, cls.rig.users[user])
        return imap

    def append(self, user, raw, folder="INBOX"):
        with self.imap(user) as imap:
            typ, data = imap.append(folder, None, None, raw)
            self.assertEqual(typ, "OK", data)

    def direct(self, user, folder="INBOX"):
        """Every message of the folder over IMAP, in UID order: [(uid, flags, bytes)]."""
        with self.imap(user) as imap:
            imap.select(folder, readonly=True)
            typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
            out = []
            for item in data:
                if isinstance(item, tuple):
                    head = item[0].decode()
                    uid = int(re.search(r"UID (\d+)", head).group(1))
                    flags = re.search(r"FLAGS \(([^)]*)\)", head).group(1)
                    out.append((uid, flags, item[1]))
            return sorted(out)

    def pop3(self, user="alice-local", password="alice-pw"):
        client = poplib.POP3("127.0.0.1", self.gw.ports["pop3"], timeout=60)
        client.user(user)
        client.pass_(password)
        return client

    def uidls(self, client):
        return [line.split()[1] for line in client.uidl()[1]]

    # ---------------------------------------------------------------- poplib

    def test_poplib_retrieves_byte_identical_messages_and_sizes(self):
        bodies = [message("one"), message("two", b"line\r\n.starts with a dot\r\n..two dots\r\n.\r\nend\r\n"),
                  message("three", b"no final line end")]
        for raw in bodies:
            self.append(ALICE, raw)
        direct = self.direct(ALICE)
        client = self.pop3()
        count, octets = client.stat()
        self.assertEqual(count, 3)
        listing = [tuple(map(int, line.split())) for line in client.list()[1]]
        for n, (uid, flags, raw) in enumerate(direct, start=1):
            resp, lines, size = client.retr(n)
            got = unstuff(lines)
            expected = raw if raw.endswith(b"\r\n") else raw + b"\r\n"  # POP3 ends every message with CRLF
            self.assertEqual(got, expected)
            self.assertEqual(listing[n - 1], (n, len(raw)))
            self.assertIn(str(len(raw)).encode(), resp)
        self.assertEqual(octets, sum(len(raw) for _, _, raw in direct))
        client.quit()
        # RETR does not mark \Seen (BODY.PEEK) unless pop3_mark_seen.
        self.assertTrue(all("\\Seen" not in flags for _, flags, _ in self.direct(ALICE)))

    def test_bare_lf_message_from_the_provider_is_sent_with_crlf(self):
        self.append(ALICE, b"Subject: lf\n\nfirst\n.dot\nlast\n")
        direct = self.direct(ALICE)[0][2]
        conn = RawPop3(self.gw.ports["pop3"], 30)
        self.addCleanup(conn.close)
        conn.login(b"RETR 1\r\n")
        reply = conn.until(b"\r\n.\r\n")
        status, _, body = reply.partition(b"\r\n")
        self.assertTrue(status.startswith(b"+OK"))
        self.assertNotIn(b"\n", body.replace(b"\r\n", b""))  # no bare LF
        self.assertIn(b"\r\n..dot\r\n", body)  # dot-stuffed
        self.assertEqual(body[:-3].replace(b"\r\n..", b"\r\n."), direct)

    def test_top_gives_headers_and_n_lines(self):
        body = b"".join(b"body line %d\r\n" % i for i in range(5000))  # > 1000 * n octets: partial fetch
        self.append(ALICE, message("top", body))
        client = self.pop3()
        resp, lines, _ = client.top(1, 3)
        text = unstuff(lines)
        header, _, rest = text.partition(b"\r\n\r\n")
        self.assertIn(b"Subject: top", header)
        self.assertEqual(rest, b"body line 0\r\nbody line 1\r\nbody line 2\r\n")
        resp, lines, _ = client.top(1, 0)
        self.assertTrue(unstuff(lines).endswith(b"\r\n\r\n"))
        client.quit()
        self.assertTrue(all("\\Seen" not in flags for _, flags, _ in self.direct(ALICE)))

    def test_uidl_is_stable_across_sessions_and_new_mail(self):
        for i in range(3):
            self.append(ALICE, message(f"stable {i}"))
        seen = []
        for session in range(3):
            client = self.pop3()
            seen.append(self.uidls(client))
            client.quit()
        self.assertEqual(seen[0], seen[1])
        self.assertEqual(seen[1], seen[2])
        self.assertEqual(len(set(seen[0])), 3)
        for u in seen[0]:
            self.assertRegex(u.decode(), r"^[\x21-\x7e]{1,70}$")
        self.append(ALICE, message("new arrival"))
        client = self.pop3()
        after = self.uidls(client)
        client.quit()
        self.assertEqual(after[:3], seen[0])
        self.assertEqual(len(after), 4)
        self.assertNotIn(after[3], seen[0])

    def test_uidls_survive_a_folder_rebuild_with_new_uidvalidity(self):
        for i in range(3):
            self.append(ALICE, message(f"rebuild {i}"))
        self.append(ALICE, b"Subject: no message-id\r\n\r\nanonymous\r\n")
        client = self.pop3()
        before = self.uidls(client)
        client.quit()
        with self.imap(ALICE) as imap:
            old_validity = imap.status("INBOX", "(UIDVALIDITY)")[1][0]
        # Dovecot forgets the folder's UIDs and gives it a new UIDVALIDITY when its uidlist and indexes go.
        maildir = os.path.join(self.rig._p("mail"), "example.test", "alice", "Maildir")
        for name in os.listdir(maildir):
            if name.startswith("dovecot-uidlist") or name.startswith("dovecot.index"):
                os.remove(os.path.join(maildir, name))
        with self.imap(ALICE) as imap:
            self.assertNotEqual(imap.status("INBOX", "(UIDVALIDITY)")[1][0], old_validity)
        client = self.pop3()
        after = self.uidls(client)
        client.quit()
        # Messages with a Message-ID keep their UIDL; the one without gets a new one (fetched again, never lost).
        self.assertEqual(len(after), 4)
        self.assertLessEqual(set(before[:3]), set(after))
        self.assertNotIn(before[3], after)

    def test_dele_and_quit_deletes_exactly_those(self):
        for i in range(4):
            self.append(ALICE, message(f"dele {i}"))
        before = self.direct(ALICE)
        client = self.pop3()
        uidls = self.uidls(client)
        client.dele(2)
        client.dele(4)
        self.assertEqual(client.stat()[0], 2)
        with self.assertRaises(poplib.error_proto):
            client.retr(2)  # deleted in this session
        client.quit()
        after = self.direct(ALICE)
        self.assertEqual([m[2] for m in after], [before[0][2], before[2][2]])
        client = self.pop3()
        self.assertEqual(self.uidls(client), [uidls[0], uidls[2]])  # survivors keep their UIDLs
        client.quit()

    def test_dele_then_disconnect_or_rset_deletes_nothing(self):
        for i in range(2):
            self.append(ALICE, message(f"keep {i}"))
        client = self.pop3()
        client.dele(1)
        client.sock.close()  # no QUIT
        time.sleep(0.5)
        client = self.pop3()
        client.dele(1)
        client.rset()
        client.quit()
        self.assertEqual(len(self.direct(ALICE)), 2)

    def test_other_folder_and_mark_seen(self):
        self.append(BOB, message("archived"), folder="Archive")
        client = self.pop3("bob-local", "bob-pw")
        self.assertEqual(client.stat()[0], 1)
        client.retr(1)
        client.quit()
        self.assertIn("\\Seen", self.direct(BOB, "Archive")[0][1])

    def test_messages_flagged_deleted_elsewhere_are_left_out(self):
        for i in range(3):
            self.append(ALICE, message(f"flag {i}"))
        with self.imap(ALICE) as imap:
            imap.select("INBOX")
            imap.store("2", "+FLAGS", "\\Deleted")
        client = self.pop3()
        self.assertEqual(client.stat()[0], 2)
        client.dele(1)
        client.quit()
        # Dovecot has UIDPLUS: UID EXPUNGE removes ours only, the other \Deleted one stays.
        left = self.direct(ALICE)
        self.assertEqual(len(left), 2)
        self.assertTrue(any("\\Deleted" in flags for _, flags, _ in left))

    def test_50_mb_message_streams_byte_identical(self):
        line = b"0123456789" * 9 + b"abcdefgh\r\n"  # 100 octets
        body = line * (50 * 1024 * 1024 // len(line))
        raw = message("big", body)
        self.append(ALICE, raw)
        conn = RawPop3(self.gw.ports["pop3"], 300)
        self.addCleanup(conn.close)
        conn.login(b"LIST 1\r\n")
        self.assertEqual(conn.line(), b"+OK 1 %d\r\n" % len(raw))
        conn.sock.sendall(b"RETR 1\r\n")
        reply = conn.until(b"\r\n.\r\n")
        conn.sock.sendall(b"QUIT\r\n")
        status, _, rest = reply.partition(b"\r\n")
        self.assertEqual(status, b"+OK %d octets" % len(raw))
        self.assertEqual(hashlib.sha256(rest[:-3]).hexdigest(), hashlib.sha256(raw).hexdigest())

    def test_provider_killed_mid_retr_closes_without_final_dot(self):
        line = b"x" * 98 + b"\r\n"
        raw = message("killed", line * (30 * 1024 * 1024 // len(line)))
        self.append(ALICE, raw)
        self.append(ALICE, message("deleted, but never committed"))
        conn = RawPop3(self.gw.ports["pop3"], 120)
        self.addCleanup(conn.close)
        conn.login(b"DELE 2\r\n")
        conn.line()
        conn.sock.sendall(b"RETR 1\r\n")
        first = conn.sock.recv(4096)  # then not reading: the gateway, and so Dovecot, must wait mid-message
        self.assertTrue(first.startswith(b"+OK"), first)
        # Kill the Dovecot imap process serving this session while the message streams.
        ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
        imap_pids = [int(line.split()[0]) for line in ps.splitlines()
                     if re.search(r"(^|/)imap( |$)|dovecot/imap( |$)", line.split(None, 1)[1])]
        self.assertTrue(imap_pids, "no Dovecot imap process found in\n" + ps)
        for pid in imap_pids:
            os.kill(pid, signal.SIGKILL)
        rest = conn.until(b"\r\n.\r\n")
        got = first + rest
        self.assertFalse(got.endswith(b"\r\n.\r\n"), "a truncated message must not end with the final dot")
        self.assertLess(len(got), len(raw))
        self.assertEqual(len(self.direct(ALICE)), 2)  # and the DELE was not committed

    # ---------------------------------------------------------------- other real clients

    def test_curl_lists_retrieves_and_deletes(self):
        self.append(ALICE, message("via curl", b"curl body\r\n"))
        direct = self.direct(ALICE)[0][2]
        base = f"pop3://127.0.0.1:{self.gw.ports['pop3']}"
        auth = ["--user", "alice-local:alice-pw"]
        listing = subprocess.run(["curl", "-sS", *auth, base + "/"], capture_output=True, timeout=60)
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertEqual(listing.stdout.strip(), b"1 %d" % len(direct))
        got = subprocess.run(["curl", "-sS", *auth, base + "/1"], capture_output=True, timeout=60)
        self.assertEqual(got.stdout, direct)
        dele = subprocess.run(["curl", "-sS", *auth, "-X", "DELE", "-I", base + "/1"], capture_output=True,
                              timeout=60)
        self.assertEqual(dele.returncode, 0, dele.stderr)
        self.assertEqual(self.direct(ALICE), [])

    def fetchmail(self, keep):
        work = tempfile.TemporaryDirectory(prefix="mailgate-fetchmail-")
        self.addCleanup(work.cleanup)
        out = os.path.join(work.name, "delivered")
        os.mkdir(out)
        rc = os.path.join(work.name, "fetchmailrc")
        with open(rc, "w") as f:
            f.write(f'poll 127.0.0.1 service {self.gw.ports["pop3"]} protocol pop3 uidl auth password\n'
                    f'  user "alice-local" password "alice-pw" is "root" here\n'
                    f'  sslproto "" {"keep" if keep else "nokeep"}\n'
                    f'  mda "/bin/sh -c \'cat > {out}/$$.eml\'"\n')
        os.chmod(rc, 0o600)
        env = dict(os.environ, HOME=work.name)
        ids = os.path.join(work.name, "ids")

        def run():
            r = subprocess.run(["fetchmail", "-f", rc, "--nosyslog", "--idfile", ids, "--pidfile",
                                os.path.join(work.name, "pid")], capture_output=True, text=True, env=env,
                               timeout=120)
            self.assertIn(r.returncode, (0, 1), r.stdout + r.stderr)  # 1: no new mail
            return sorted(read_file(os.path.join(out, n)) for n in os.listdir(out))
        return run

    def test_fetchmail_keep_downloads_each_message_once(self):
        raws = [message(f"fm {i}", b"fetchmail body %d\r\n" % i) for i in range(3)]
        for raw in raws:
            self.append(ALICE, raw)
        run = self.fetchmail(keep=True)
        first = run()
        self.assertEqual(len(first), 3)
        for raw in raws:
            body = raw.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n")  # fetchmail hands its MDA LF lines
            self.assertTrue(any(body in got.replace(b"\r\n", b"\n") for got in first))
        self.assertEqual(len(run()), 3)  # second run: nothing new (stable UIDLs)
        self.assertEqual(len(self.direct(ALICE)), 3)

    def test_fetchmail_nokeep_deletes_what_it_fetched(self):
        for i in range(2):
            self.append(ALICE, message(f"fm nokeep {i}"))
        run = self.fetchmail(keep=False)
        self.assertEqual(len(run()), 2)
        self.assertEqual(self.direct(ALICE), [])

    def getmail(self, delete):
        work = tempfile.TemporaryDirectory(prefix="mailgate-getmail-")
        self.addCleanup(work.cleanup)
        os.chmod(work.name, 0o755)
        maildir = os.path.join(work.name, "Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(maildir, sub))
            os.chmod(os.path.join(maildir, sub), 0o777)  # getmail delivers as `nobody`: it refuses to as root
        rc = os.path.join(work.name, "getmailrc")
        with open(rc, "w") as f:
            f.write(f"[retriever]\ntype = SimplePOP3Retriever\nserver = 127.0.0.1\nport = {self.gw.ports['pop3']}\n"
                    f"username = alice-local\npassword = alice-pw\n\n"
                    f"[destination]\ntype = Maildir\npath = {maildir}/\nuser = nobody\n\n"
                    f"[options]\ndelete = {'true' if delete else 'false'}\nread_all = false\nverbose = 0\n")

        def run():
            r = subprocess.run(["getmail", "--getmaildir", work.name, "--rcfile", rc], capture_output=True,
                               text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            new = os.path.join(maildir, "new")
            return sorted(read_file(os.path.join(new, n)) for n in os.listdir(new))
        return run

    def test_getmail6_without_delete_fetches_new_mail_only(self):
        self.append(ALICE, message("gm one", b"getmail body\r\n"))
        run = self.getmail(delete=False)
        got = run()
        self.assertEqual(len(got), 1)
        self.assertIn(b"getmail body", got[0])
        self.append(ALICE, message("gm two"))
        self.assertEqual(len(run()), 2)  # only the new one added
        self.assertEqual(len(self.direct(ALICE)), 2)

    def test_getmail6_with_delete(self):
        self.append(ALICE, message("gm delete"))
        self.assertEqual(len(self.getmail(delete=True)()), 1)
        self.assertEqual(self.direct(ALICE), [])

    # ---------------------------------------------------------------- Sent copies

    def test_sent_copy_is_filed_byte_identical(self):
        with self.imap(ALICE) as imap:
            imap.create("Sent")
            imap.select("Sent")
            if imap.search(None, "ALL")[1] != [b""]:
                imap.store("1:*", "+FLAGS", "\\Deleted")
                imap.expunge()
        raw = message("sent copy", b"copied body\r\n.leading dot\r\n")
        with smtplib.SMTP("127.0.0.1", self.gw.ports["smtp"], timeout=60) as smtp:
            smtp.login("alice-local", "alice-pw")
            smtp.sendmail(ALICE, [BOB], raw)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            sent = self.direct(ALICE, "Sent")
            if sent:
                break
            time.sleep(0.2)
        self.assertEqual(len(sent), 1, self.gw.log())
        self.assertEqual(sent[0][2], raw)
        self.assertIn("\\Seen", sent[0][1])

    def test_failed_sent_copy_is_logged_and_the_send_succeeds(self):
        self.rig.empty_mailbox(ALICE)
        raw = message("no sent folder", b"for alice\r\n")
        with smtplib.SMTP("127.0.0.1", self.gw.ports["smtp"], timeout=60) as smtp:
            smtp.login("bob-local", "bob-pw")
            refused = smtp.sendmail(BOB, [ALICE], raw)
        self.assertEqual(refused, {})
        self.rig.wait_for_messages(ALICE, 1)
        deadline = time.monotonic() + 30
        while "Sent copy given up" not in self.gw.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertIn("Sent copy given up", self.gw.log())
        self.assertIn("Missing-Folder", self.gw.log())


if __name__ == "__main__":
    unittest.main()
