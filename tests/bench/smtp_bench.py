#!/usr/bin/env python3
"""SMTP submission benchmark of mailgate against the real Postfix rig: large-DATA throughput and small messages/s
(one session, and a fresh session per message), each compared with direct SMTPS (465) measured in the same run.

Run by hand as root (the rig needs it): python3 tests/bench/smtp_bench.py [--data-mb N] [--help]
Prints figures and ratios only: no timed assertions, no pass/fail. All traffic stays on 127.0.0.1.
Every message sent is checked afterwards: it must arrive in the rig's mailbox with a byte-identical body.
"""

import argparse
import base64
import collections
import imaplib
import os
import socket
import statistics
import tempfile
import time

from bench_common import (ALICE, BOB, IO_TIMEOUT, MB, BenchRun, Conn, big_body, gateway, proc_cpu_seconds,
                          report_dovecot_log, report_gateway, sha256, start_gateway)
from gateway import add_account
from rig import ProviderRig, RigError


# --------------------------------------------------------------------------- small SMTP client on raw sockets
class SmtpConn(Conn):
    """SMTP commands over the shared buffered socket. The DATA payload is dot-stuffed once up front (dot_stuff), so
    the timed part is the transfer, not Python's line handling (smtplib re-scans every message)."""

    def reply(self):
        """One complete reply: (code, all its lines)."""
        lines = []
        while True:
            line = self.read_until(b"\r\n", limit=1 << 20)
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), b"".join(lines)

    def command(self, line, expect):
        """Sends one command; returns the reply text; raises unless the code starts with `expect` (e.g. b"25")."""
        self.sock.sendall(line + b"\r\n")
        return self.expect(expect, line)

    def expect(self, expect, what=b"greeting"):
        code, text = self.reply()
        if not str(code).encode().startswith(expect):
            raise ConnectionError(f"{what[:40]!r} answered {text[:200]!r}")
        return text

    def login(self, user, password):
        """Greeting, EHLO, AUTH PLAIN (one round trip, initial response)."""
        self.expect(b"220")
        self.command(b"EHLO bench.example.test", b"250")
        token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())
        self.command(b"AUTH PLAIN " + token, b"235")
        return self

    def send_message(self, sender, recipient, stuffed):
        """MAIL, RCPT, DATA, the dot-stuffed payload (ending in CRLF.CRLF) and its 250."""
        self.command(b"MAIL FROM:<%s>" % sender.encode(), b"250")
        self.command(b"RCPT TO:<%s>" % recipient.encode(), b"25")
        self.command(b"DATA", b"354")
        self.sock.sendall(stuffed)
        return self.expect(b"250", b"end of DATA")

    def quit(self):
        self.command(b"QUIT", b"221")
        self.close()


def dot_stuff(message):
    """The DATA payload of a CRLF message: leading dots doubled (RFC 5321 4.5.2) and the final CRLF.CRLF."""
    assert message.endswith(b"\r\n")
    stuffed = message.replace(b"\r\n.", b"\r\n..")
    return (b"." + stuffed if stuffed.startswith(b".") else stuffed) + b".\r\n"


def connect_direct(rig):
    """Client -> Postfix SMTPS 465, logged in with the provider credential (the baseline)."""
    raw = socket.create_connection(("127.0.0.1", rig.ports["smtps"]), timeout=IO_TIMEOUT)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = SmtpConn(rig.client_context().wrap_socket(raw, server_hostname=rig.host))
    return conn.login(ALICE, rig.users[ALICE])


def connect_gateway(gw):
    """Client -> gateway plaintext SMTP port, logged in with the local credential (gateway -> Postfix 465)."""
    raw = socket.create_connection(("127.0.0.1", gw.ports["smtp"]), timeout=IO_TIMEOUT)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return SmtpConn(raw).login("alice-local", "alice-pw")


PATHS = ("direct SMTPS 465", "gateway smtp (plaintext)")


# --------------------------------------------------------------------------- the receiving mailbox
class Mailbox:
    """BOB's INBOX at the rig, read over IMAPS: wait for deliveries, compare bodies, empty it between measurements
    (so it never grows beyond one measurement's messages)."""

    def __init__(self, rig):
        self.rig = rig

    def _open(self):
        box = imaplib.IMAP4_SSL(self.rig.host, self.rig.ports["imaps"], ssl_context=self.rig.client_context(),
                                timeout=IO_TIMEOUT)
        box.login(BOB, self.rig.users[BOB])
        return box

    def collect(self, expected, timeout):
        """Waits (bounded) for `expected` messages, then returns the sha256 of every body (BODY[TEXT]) and empties
        the mailbox. Postfix delivers asynchronously (queue -> LMTP -> Dovecot), so this also keeps one
        measurement's deliveries from running during the next one."""
        try:
            self.rig.wait_for_messages(BOB, expected, timeout)
        except RigError:
            pass  # fewer arrived: the comparison below shows it
        box = self._open()
        try:
            count = int(box.select("INBOX")[1][0])
            hashes = []
            if count:
                typ, data = box.fetch(f"1:{count}", "(BODY.PEEK[TEXT])")
                hashes = [sha256(item[1]) for item in data if isinstance(item, tuple)]
                box.store("1:*", "+FLAGS", "\\Deleted")
                box.expunge()
            return hashes
        finally:
            box.logout()

    def empty(self):
        self.collect(0, 0)


def verify(sent_hashes, got_hashes):
    """'n/n ok' if every sent body arrived exactly once and nothing else did; otherwise what went wrong."""
    sent, got = collections.Counter(sent_hashes), collections.Counter(got_hashes)
    ok = sum((sent & got).values())
    text = f"{ok}/{len(sent_hashes)}"
    if sent != got:
        text += f" (missing {sum((sent - got).values())}, unexpected {sum((got - sent).values())})"
    return text, sent == got


# --------------------------------------------------------------------------- (a) large DATA
def bench_data(rig, gw, mailbox, args):
    size = args.data_mb * MB
    print(f"\n(a) One {args.data_mb} MB message (MAIL + RCPT + DATA), {args.rounds} timed rounds per path "
          f"(rounds interleave the paths; a fresh logged-in session per message, only the transaction is timed; "
          f"every message then read back over IMAP and its body compared)")
    body = big_body(size)
    body_sha = sha256(body)
    times = {name: [] for name in PATHS}
    cpus = {name: [] for name in PATHS}
    verified = {name: [0, 0] for name in PATHS}  # [bodies identical, messages sent]
    payload_len = 0
    deadline = time.monotonic() + args.data_seconds
    for r in range(args.rounds):
        if time.monotonic() > deadline:
            print("    (time budget reached, fewer rounds)")
            break
        for name in PATHS:
            stuffed = dot_stuff(b"From: <%s>\r\nTo: <%s>\r\nSubject: big %d %s\r\n\r\n"
                                % (ALICE.encode(), BOB.encode(), r, name.encode()) + body)
            payload_len = len(stuffed)
            conn = connect_direct(rig) if name == PATHS[0] else connect_gateway(gw)
            try:
                cpu0, own0 = proc_cpu_seconds(gw.proc.pid), time.process_time()
                t0 = time.perf_counter()
                conn.send_message(ALICE, BOB, stuffed)
                elapsed = time.perf_counter() - t0
                cpu = (proc_cpu_seconds(gw.proc.pid) - cpu0, time.process_time() - own0)
                conn.quit()
            finally:
                conn.close()
            del stuffed
            times[name].append(elapsed)
            cpus[name].append(cpu)
            got = mailbox.collect(1, args.delivery_timeout)
            verified[name][0] += got == [body_sha]
            verified[name][1] += 1

    print(f"    DATA payload {payload_len} bytes (dot-stuffed); body sha256 {body_sha[:16]}...")
    print(f"    {'path':<26} {'median s':>9} {'MB/s':>7} {'best s':>7} {'body ok':>8} {'gateway CPU':>11} "
          f"{'client CPU':>10}  all runs s")
    median = {}
    for name in PATHS:
        runs = times[name]
        median[name] = statistics.median(runs)
        gw_cpu = statistics.median(c[0] for c in cpus[name])
        own_cpu = statistics.median(c[1] for c in cpus[name])
        ok = f"{verified[name][0]}/{verified[name][1]}"
        each = " ".join(f"{t:.2f}" for t in runs)
        print(f"    {name:<26} {median[name]:>9.2f} {payload_len / median[name] / MB:>7.1f} {min(runs):>7.2f} "
              f"{ok:>8} {gw_cpu:>10.2f}s {own_cpu:>9.2f}s  {each}")
    ratio = median[PATHS[0]] / median[PATHS[1]]
    print(f"    ratio gateway / direct speed (= direct seconds / gateway seconds, medians): {ratio:.2f}   "
          f"(target >= 0.9)")
    summary = [f"(a) DATA {args.data_mb} MB, gateway / direct SMTPS speed: {ratio:.2f} (target >= 0.9)"]
    if any(v[0] != v[1] for v in verified.values()):
        summary.append("(a) WARNING: some messages did not arrive byte-identical (see above)")
    return summary


# --------------------------------------------------------------------------- (b) small messages per second
def small_message(tag, index, size):
    """A unique ~size-byte CRLF message (header + body) and its body; one body line starts with a dot."""
    head = b"From: <%s>\r\nTo: <%s>\r\nSubject: small %s %d\r\n\r\n" % (ALICE.encode(), BOB.encode(), tag, index)
    first = b"message %s %d\r\n.a line that starts with a dot\r\n" % (tag, index)
    line = b"the quick brown fox jumps over the lazy dog 0123456789 the quick brown fox jumps\r\n"
    body = first + line * max(0, (size - len(head) - len(first)) // len(line))
    return head + body, body


def run_small(mode, name, rig, gw, args):
    """Sends small messages until args.messages were sent or args.rate_seconds passed. Returns
    (sent, errors, first error, elapsed seconds, body hashes sent)."""
    connect = (lambda: connect_direct(rig)) if name == PATHS[0] else (lambda: connect_gateway(gw))
    tag = f"{mode}-{'direct' if name == PATHS[0] else 'gateway'}".encode()
    messages = [small_message(tag, i, args.message_bytes) for i in range(args.messages)]
    payloads = [dot_stuff(m) for m, _ in messages]
    sent_hashes, errors, first = [], 0, None
    conn = None
    deadline = time.monotonic() + args.rate_seconds
    t0 = time.perf_counter()
    if mode == "one session":
        conn = connect()  # the one login is part of the measurement, but is spread over all messages
    for i, payload in enumerate(payloads):
        if time.monotonic() > deadline:
            break
        try:
            if mode == "one session":
                conn.send_message(ALICE, BOB, payload)
            else:  # connect, EHLO, AUTH, one message, QUIT (waiting for its reply)
                c = connect()
                try:
                    c.send_message(ALICE, BOB, payload)
                    c.quit()
                finally:
                    c.close()
            sent_hashes.append(sha256(messages[i][1]))
        except Exception as exc:  # counted and reported, never fatal
            errors += 1
            first = first or repr(exc)
            if mode == "one session":
                break  # the session state is unknown now
    if conn is not None:
        try:
            conn.quit()
        except (ConnectionError, OSError):
            pass
        conn.close()
    return len(sent_hashes), errors, first, time.perf_counter() - t0, sent_hashes


def bench_rates(rig, gw, mailbox, args):
    print(f"\n(b) {args.message_bytes // 1000} KB messages per second, at most {args.messages} messages or "
          f"{args.rate_seconds:g} s per measurement; 'one session' = one login, then MAIL/RCPT/DATA per message; "
          f"'fresh sessions' = connect, EHLO, AUTH, one message, QUIT each (every body read back over IMAP)")
    connect_gateway(gw).quit()  # warm the gateway's local-credential cache (the first check is deliberately slow)
    connect_direct(rig).quit()
    mailbox.empty()
    print(f"    {'mode':<15} {'path':<26} {'messages':>8} {'errors':>6} {'seconds':>8} {'msgs/s':>8} "
          f"{'ms/msg':>7} {'bodies ok':>10}")
    summary = []
    for mode in ("one session", "fresh sessions"):
        rates, bad = {}, False
        for name in PATHS:
            sent, errs, first, elapsed, hashes = run_small(mode, name, rig, gw, args)
            ok_text, ok = verify(hashes, mailbox.collect(len(hashes), args.delivery_timeout))
            bad |= errs > 0 or not ok
            rates[name] = sent / elapsed
            per = f"{1000 * elapsed / sent:.1f}" if sent else "-"
            print(f"    {mode:<15} {name:<26} {sent:>8} {errs:>6} {elapsed:>8.2f} {rates[name]:>8.1f} {per:>7} "
                  f"{ok_text:>10}")
            if first:
                print(f"             first error: {first}")
        ratio = rates[PATHS[1]] / rates[PATHS[0]] if rates[PATHS[0]] else float("nan")
        print(f"    {mode:<15} ratio gateway / direct: {ratio:.2f}   (target >= 0.8)")
        summary.append(f"(b) {args.message_bytes // 1000} KB msgs/s, {mode}, gateway / direct SMTPS: {ratio:.2f} "
                       f"(target >= 0.8){'; WARNING: errors or bodies not intact (see above)' if bad else ''}")
    return summary


# --------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-mb", type=int, default=25, help="size of the large message in MB (default 25)")
    ap.add_argument("--rounds", type=int, default=7, help="timed large messages per path (default 7)")
    ap.add_argument("--data-seconds", type=float, default=300, help="time budget for the large-message rounds")
    ap.add_argument("--message-bytes", type=int, default=10_000, help="size of the small messages (default 10000)")
    ap.add_argument("--messages", type=int, default=200, help="max small messages per rate measurement")
    ap.add_argument("--rate-seconds", type=float, default=20, help="max seconds per rate measurement")
    ap.add_argument("--delivery-timeout", type=float, default=60,
                    help="seconds to wait for the rig to deliver what a measurement sent")
    ap.add_argument("--binary", default=gateway.MAILGATE_BIN, help="mailgate binary (default: the build tree's)")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: a,b")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    run = BenchRun("mailgate SMTP benchmark", args.binary)
    run.print_more_facts(postfix=True)
    summary = []
    with ProviderRig() as rig, tempfile.TemporaryDirectory(prefix="mailgate-bench-") as tmp:
        data_dir = os.path.join(tmp, "data")
        add_account(data_dir, "alice", "alice-local", "alice-pw", ALICE, rig.users[ALICE],
                    "--smtp", f"smtps://{rig.host}:{rig.ports['smtps']}")
        print(f"    rig: Postfix smtps on 127.0.0.1:{rig.ports['smtps']} (message_size_limit 100 MB), "
              f"mail for {BOB} delivered by LMTP to Dovecot; sender {ALICE}")
        mailbox = Mailbox(rig)
        gw = start_gateway(data_dir, rig)
        try:
            if "a" not in skip:
                summary += bench_data(rig, gw, mailbox, args)
            if "b" not in skip:
                summary += bench_rates(rig, gw, mailbox, args)
            print()
            if report_gateway(gw, " during the run") or gw.proc.poll() is not None:
                summary.append("WARNING: gateway log warnings/errors or exit (see above)")
        finally:
            gw.stop()
        with open(rig.postfix_log, errors="replace") as f:
            problems = [line.rstrip() for line in f if any(w in line for w in (" warning: ", " error: ", " fatal: ",
                                                                                " panic: "))]
        report_dovecot_log(rig)
        print(f"Postfix log: {len(problems)} warning/error lines")
        for line in problems[:10]:
            print(f"    {line}")

    run.finish(summary)


if __name__ == "__main__":
    main()
