#!/usr/bin/env python3
"""Benchmark of POP3 served from an IMAP folder (pop3_source = imap) against the real Dovecot rig: RETR of one large
message through the POP3-over-IMAP path, through the native POP3 path (relay to Dovecot POP3S) and as a direct IMAP
FETCH, in the same run, with ratios; and the gateway's RSS while the large RETR streams (it must stay flat).

Run by hand as root (the rig needs it): python3 tests/bench/pop3_imap_bench.py [--retr-mb N] [--help]
Prints figures and ratios only: no timed assertions, no pass/fail. All traffic stays on 127.0.0.1.
"""

import argparse
import os
import re
import socket
import statistics
import tempfile
import threading
import time

from bench_common import (ALICE, BenchRig, BenchRun, IO_TIMEOUT, MB, big_body, fmt_mem, gateway, proc_cpu_seconds,
                          proc_memory, report_dovecot_log, report_gateway, sha256, start_gateway, transfer_rounds)
from gateway import add_account
from pop3_bench import Pop3Conn, login


def unstuffed(reply):
    """A RETR reply (status line to final dot) as message bytes."""
    return reply[reply.index(b"\r\n") + 2:-3].replace(b"\r\n..", b"\r\n.")


class ImapConn(Pop3Conn):
    def tagged(self, tag, command):
        self.sock.sendall(tag + b" " + command + b"\r\n")
        while True:
            line = self.read_until(b"\r\n")
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise ConnectionError(f"{command!r}: {line!r}")
                return

    def fetch_body(self, uid):
        """UID FETCH uid BODY.PEEK[]: the literal's bytes."""
        self.sock.sendall(b"f1 UID FETCH %d BODY.PEEK[]\r\n" % uid)
        while True:
            line = self.read_until(b"\r\n")
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if m:
                body = self.read_exact(int(m.group(1)))
                self.read_until(b"\r\n")  # ")"
                self.read_until(b"\r\n")  # f1 OK
                return body


def connect_pop3(gw):
    raw = socket.create_connection(("127.0.0.1", gw.ports["pop3"]), timeout=IO_TIMEOUT)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return Pop3Conn(raw)


class RssSampler:
    """Peak VmRSS of a process while a block runs, sampled every 20 ms."""

    def __init__(self, pid):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()

    def __enter__(self):
        self.before = proc_memory(self.pid)["VmRSS"]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, proc_memory(self.pid)["VmRSS"])
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--retr-mb", type=int, default=50, help="size of the test message in MB (default 50)")
    ap.add_argument("--rounds", type=int, default=5, help="timed transfers per path (default 5)")
    ap.add_argument("--seconds", type=float, default=240, help="time budget for the rounds")
    ap.add_argument("--binary", default=gateway.MAILGATE_BIN, help="mailgate binary (default: the build tree's)")
    args = ap.parse_args()

    run = BenchRun("mailgate POP3-from-IMAP benchmark", args.binary)
    summary = []
    with BenchRig(sessions=10, protocol="imap", bench="pop3_imap_bench.py") as rig, \
            tempfile.TemporaryDirectory(prefix="mailgate-bench-") as tmp:
        data_dir = os.path.join(tmp, "data")
        add_account(data_dir, "native", "native-local", "native-pw", ALICE, rig.users[ALICE],
                    "--pop3", f"pop3s://{rig.host}:{rig.ports['pop3s']}")
        add_account(data_dir, "fromimap", "imap-local", "imap-pw", ALICE, rig.users[ALICE],
                    "--imap", f"imaps://{rig.host}:{rig.ports['imaps']}", "--pop3-source", "imap")
        body = big_body(args.retr_mb * MB)
        rig.deliver(ALICE, b"From: sender@example.test\r\nTo: alice@example.test\r\nSubject: big\r\n\r\n" + body)
        gw = start_gateway(data_dir, rig)
        try:
            def direct_imap():
                raw = socket.create_connection((rig.host, rig.ports["imaps"]), timeout=IO_TIMEOUT)
                conn = ImapConn(rig.client_context().wrap_socket(raw, server_hostname=rig.host))
                conn.read_until(b"\r\n")
                conn.tagged(b"l1", b'LOGIN "%s" "%s"' % (ALICE.encode(), rig.users[ALICE].encode()))
                conn.tagged(b"s1", b"EXAMINE INBOX")
                return conn

            def one(name):
                if name == "direct IMAP FETCH":
                    conn = direct_imap()
                    fetch = lambda: conn.fetch_body(1)  # noqa: E731
                else:
                    user = "imap-local" if name == "gateway POP3 from IMAP" else "native-local"
                    conn = login(connect_pop3(gw), user, user.replace("local", "pw"))
                    fetch = lambda: conn.retr(1)  # noqa: E731
                try:
                    cpu0, own0 = proc_cpu_seconds(gw.proc.pid), time.process_time()
                    t0 = time.perf_counter()
                    payload = fetch()
                    elapsed = time.perf_counter() - t0
                    cpu = (proc_cpu_seconds(gw.proc.pid) - cpu0, time.process_time() - own0)
                finally:
                    conn.close()
                return (payload if name == "direct IMAP FETCH" else unstuffed(payload)), elapsed, cpu

            reference, _, _ = one("direct IMAP FETCH")
            print(f"\n(a) one {args.retr_mb} MB message ({len(reference)} octets as Dovecot serves it), "
                  f"{args.rounds} interleaved rounds per path; payloads compared as message bytes")
            paths = {"gateway POP3 native": None, "gateway POP3 from IMAP": None, "direct IMAP FETCH": None}
            summary += transfer_rounds(paths, one, sha256(reference), len(reference), args.rounds, args.seconds,
                                       "RETR", "gateway POP3 native", ("gateway POP3 from IMAP",),
                                       f"(a) RETR {args.retr_mb} MB")
            rates = {}
            for name in ("gateway POP3 from IMAP", "direct IMAP FETCH"):
                times = [one(name)[1] for _ in range(2)]
                rates[name] = len(reference) / statistics.median(times) / MB
            ratio = rates["gateway POP3 from IMAP"] / rates["direct IMAP FETCH"]
            print(f"    extra check: POP3 from IMAP / direct IMAP FETCH (2 more runs each): {ratio:.2f}")
            summary.append(f"(a) RETR {args.retr_mb} MB, gateway POP3 from IMAP / direct IMAP FETCH: {ratio:.2f}")

            print(f"\n(b) gateway RSS while one {args.retr_mb} MB RETR streams through POP3 from IMAP")
            conn = login(connect_pop3(gw), "imap-local", "imap-pw")
            time.sleep(0.5)
            with RssSampler(gw.proc.pid) as rss:
                conn.retr(1)
            conn.close()
            print(f"    VmRSS before {rss.before} KiB, peak during the RETR {rss.peak} KiB "
                  f"(+{rss.peak - rss.before} KiB for a {len(reference) // 1024} KiB message); now "
                  f"{fmt_mem(proc_memory(gw.proc.pid))}")
            summary.append(f"(b) gateway RSS growth during a {args.retr_mb} MB POP3-from-IMAP RETR: "
                           f"{rss.peak - rss.before} KiB (streaming: should stay far below the message size)")
            if report_gateway(gw):
                summary.append("WARNING: gateway log warnings/errors (see above)")
        finally:
            gw.stop()
        report_dovecot_log(rig)
    run.finish(summary)


if __name__ == "__main__":
    main()
