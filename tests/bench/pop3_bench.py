#!/usr/bin/env python3
"""POP3 benchmark of mailgate against the real Dovecot rig: large-RETR throughput, login sessions/s and gateway
memory per idle session, each compared with a direct-POP3S baseline measured in the same run.

Run by hand as root (the rig needs it): python3 tests/bench/pop3_bench.py [--sessions N] [--help]
Prints figures and ratios only: no timed assertions, no pass/fail. All traffic stays on 127.0.0.1.
"""

import argparse
import os
import socket
import ssl
import tempfile
import time

from bench_common import (ALICE, BOB, BenchRig, BenchRun, Conn, IO_TIMEOUT, MB, big_body, dovecot_processes,
                          fmt_mem, gateway, memory_per_session, open_sessions, proc_cpu_seconds, proc_memory,
                          report_dovecot_log, report_gateway, run_sessions, sha256, start_gateway,
                          transfer_rounds)
from gateway import add_account


# --------------------------------------------------------------------------- small POP3 client on raw sockets
class Pop3Conn(Conn):
    """Line-at-a-time POP3 exchanges and fast large replies over the shared buffered socket."""

    def command(self, line):
        """Sends one command, returns its one-line reply; raises unless it is +OK."""
        self.sock.sendall(line + b"\r\n")
        return self.expect_ok()

    def expect_ok(self):
        reply = self.read_until(b"\r\n")
        if not reply.startswith(b"+OK"):
            raise ConnectionError(f"unexpected reply {reply!r}")
        return reply

    def retr(self, number):
        """Raw RETR as in test_pop3_gateway.raw_retr: the exact reply bytes, status line to the final dot."""
        self.sock.sendall(b"RETR %d\r\n" % number)
        reply = self.read_until(b"\r\n.\r\n")
        if not reply.startswith(b"+OK"):
            raise ConnectionError(f"RETR failed: {reply[:200]!r}")
        return reply


def connect_direct(rig):
    """Client -> Dovecot POP3S (the baseline)."""
    raw = socket.create_connection((rig.host, rig.ports["pop3s"]), timeout=IO_TIMEOUT)
    return Pop3Conn(rig.client_context().wrap_socket(raw, server_hostname=rig.host))


def connect_gateway(gw, mode, client_tls=None):
    """Client -> gateway plaintext POP3 port, or -> gateway POP3S (implicit TLS) port."""
    raw = socket.create_connection(("127.0.0.1", gw.ports[mode]), timeout=IO_TIMEOUT)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if mode == "pop3s":
        return Pop3Conn(client_tls.wrap_socket(raw, server_hostname="localhost"))
    return Pop3Conn(raw)


def login(conn, user, password):
    """Greeting + USER + PASS; leaves the session logged in."""
    conn.expect_ok()
    conn.command(b"USER " + user.encode())
    conn.command(b"PASS " + password.encode())
    return conn


def full_session(connect, user, password):
    """One complete short session: connect, login, STAT, QUIT (waiting for the QUIT reply)."""
    conn = connect()
    try:
        login(conn, user, password)
        conn.command(b"STAT")
        conn.command(b"QUIT")
    finally:
        conn.close()


# --------------------------------------------------------------------------- (a) RETR throughput
def bench_retr(rig, gw, client_tls, args):
    size = args.retr_mb * MB
    print(f"\n(a) RETR of one {args.retr_mb} MB message, {args.rounds} timed rounds per path "
          f"(rounds interleave the paths; a fresh logged-in session per RETR, only the RETR is timed)")
    body = big_body(size)
    t = time.monotonic()
    rig.deliver(ALICE, b"From: sender@example.test\r\nTo: alice@example.test\r\nSubject: big\r\n\r\n" + body)
    print(f"    delivered {len(body) / MB:.1f} MB body via LMTP in {time.monotonic() - t:.1f} s")

    paths = {
        "direct POP3S": lambda: connect_direct(rig),
        "gateway pop3 (plaintext)": lambda: connect_gateway(gw, "pop3"),
        "gateway pop3s": lambda: connect_gateway(gw, "pop3s", client_tls),
    }
    creds = {"direct POP3S": (ALICE, rig.users[ALICE])}

    def one_retr(name):
        user, password = creds.get(name, ("alice-local", "alice-pw"))
        conn = login(paths[name](), user, password)
        try:
            cpu0, own0 = proc_cpu_seconds(gw.proc.pid), time.process_time()
            t0 = time.perf_counter()
            reply = conn.retr(1)
            elapsed = time.perf_counter() - t0
            cpu = (proc_cpu_seconds(gw.proc.pid) - cpu0, time.process_time() - own0)
            conn.command(b"QUIT")
        finally:
            conn.close()
        return reply, elapsed, cpu

    # Untimed warm-up, which also yields the reference bytes: Dovecot adds headers at delivery, so the reference is
    # what Dovecot itself serves. Check that its un-dot-stuffed content really ends with the body we delivered.
    reference, _, _ = one_retr("direct POP3S")
    content = reference[reference.index(b"\r\n") + 2:-3].replace(b"\r\n..", b"\r\n.")
    body_ok = content.endswith(body)
    expected = sha256(reference)
    print(f"    reference reply {len(reference)} bytes, sha256 {expected[:16]}..., "
          f"contains the delivered body: {'yes' if body_ok else 'NO'}")

    summary = transfer_rounds(paths, one_retr, expected, len(reference), args.rounds, args.retr_seconds,
                              "RETR",
                              "direct POP3S", ("gateway pop3 (plaintext)", "gateway pop3s"),
                              f"(a) RETR {args.retr_mb} MB")
    if not body_ok:
        summary.append("(a) WARNING: the reference RETR reply does not contain the delivered body")
    return summary


# --------------------------------------------------------------------------- (b) sessions per second
def bench_sessions(rig, gw, args):
    print(f"\n(b) Sessions/s of connect + login + STAT + QUIT, at most {args.rate_sessions} sessions or "
          f"{args.rate_seconds:g} s per measurement (mailbox: {BOB}, 3 small messages)")
    direct = lambda: full_session(lambda: connect_direct(rig), BOB, rig.users[BOB])  # noqa: E731
    via_gateway = lambda: full_session(lambda: connect_gateway(gw, "pop3"), "bob-local", "bob-pw")  # noqa: E731
    via_gateway()  # warm the gateway's local-credential cache (the first check is deliberately slow)
    direct()
    print(f"    {'clients':<8} {'path':<26} {'sessions':>8} {'errors':>6} {'seconds':>8} {'sessions/s':>11}")
    summary = []
    for threads in (1, args.threads):
        rates, errors = {}, 0
        for name, session in (("direct POP3S", direct), ("gateway pop3 (plaintext)", via_gateway)):
            done, errs, first, elapsed = run_sessions(session, threads, args.rate_sessions, args.rate_seconds)
            errors += errs
            rates[name] = done / elapsed
            print(f"    {threads:<8} {name:<26} {done:>8} {errs:>6} {elapsed:>8.2f} {rates[name]:>11.1f}")
            if first:
                print(f"             first error: {first}")
        ratio = rates["gateway pop3 (plaintext)"] / rates["direct POP3S"]
        print(f"    {threads:<8} ratio gateway / direct: {ratio:.2f}   (target >= 0.8)")
        summary.append(f"(b) sessions/s with {threads} client(s), gateway / direct POP3S: {ratio:.2f} "
                       f"(target >= 0.8){f'; {errors} failed sessions' if errors else ''}")
    return summary


# --------------------------------------------------------------------------- (c) memory per idle session
def bench_memory(rig, data_dir, args):
    n = args.sessions
    print(f"\n(c) Gateway memory with {n} concurrent logged-in idle sessions "
          f"(client -> gateway plaintext, gateway -> Dovecot POP3S; mailbox {BOB})")
    # A fresh gateway process: after (a) and (b) the heap holds freed memory that new sessions would reuse
    # without growing RSS, which would flatter the per-session figure.
    gw = start_gateway(data_dir, rig)
    sessions, errors = [], []
    try:
        pid = gw.proc.pid
        full_session(lambda: connect_gateway(gw, "pop3"), "bob-local", "bob-pw")  # warm-up (credential cache etc.)
        time.sleep(1)
        before = proc_memory(pid)
        print(f"    before (fresh gateway, after 1 warm-up session): {fmt_mem(before)}")

        def open_one():
            conn = connect_gateway(gw, "pop3")
            try:
                login(conn, "bob-local", "bob-pw")
            except BaseException:
                conn.close()
                raise
            return conn

        sessions, errors = open_sessions(open_one, n, args.open_concurrency, args.open_seconds)

        time.sleep(args.idle_seconds)
        after = proc_memory(pid)
        print(f"    after {args.idle_seconds:g} s idle: {fmt_mem(after)}")
        print(f"    Dovecot pop3 processes alive: {dovecot_processes(rig, 'pop3')}")
        summary = memory_per_session(before, after, len(sessions), "(c) gateway {key} per idle session")

        # Still alive and usable after idling? One STAT on every session, then QUIT.
        alive = 0
        for conn in sessions:
            try:
                conn.command(b"STAT")
                alive += 1
            except Exception as exc:
                errors.append(f"STAT after idle: {exc!r}")
        print(f"    sessions answering STAT after the idle period: {alive}/{len(sessions)}")
        for conn in sessions:
            try:
                conn.sock.sendall(b"QUIT\r\n")
            except OSError:
                pass
        for conn in sessions:
            try:
                conn.expect_ok()
            except Exception:
                pass
            conn.close()
        sessions.clear()
        time.sleep(2)
        print(f"    2 s after all sessions quit: {fmt_mem(proc_memory(pid))}")
        problems = report_gateway(gw)
        if alive != n or errors or problems:
            summary.append(f"(c) WARNING: {n - alive} of {n} sessions failed or died, {len(problems)} gateway "
                           f"log warnings/errors (see above)")
        return summary
    finally:
        for conn in sessions:
            conn.close()
        gw.stop()


# --------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=1000, help="concurrent idle sessions for (c) (default 1000)")
    ap.add_argument("--retr-mb", type=int, default=50, help="size of the RETR test message in MB (default 50)")
    ap.add_argument("--rounds", type=int, default=5, help="timed RETRs per path (default 5)")
    ap.add_argument("--retr-seconds", type=float, default=180, help="time budget for the RETR rounds")
    ap.add_argument("--rate-sessions", type=int, default=200, help="max sessions per rate measurement")
    ap.add_argument("--rate-seconds", type=float, default=20, help="max seconds per rate measurement")
    ap.add_argument("--threads", type=int, default=4, help="concurrent clients for the parallel rate test")
    ap.add_argument("--open-concurrency", type=int, default=32, help="concurrent openers in (c)")
    ap.add_argument("--open-seconds", type=float, default=300, help="time budget for opening sessions in (c)")
    ap.add_argument("--idle-seconds", type=float, default=5, help="idle time before the 'after' measurement")
    ap.add_argument("--binary", default=gateway.MAILGATE_BIN, help="mailgate binary (default: the build tree's)")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: a,b,c")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    run = BenchRun("mailgate POP3 benchmark", args.binary)
    summary = []
    with BenchRig(sessions=args.sessions) as rig, tempfile.TemporaryDirectory(prefix="mailgate-bench-") as tmp:
        data_dir = os.path.join(tmp, "data")
        pop3s = f"pop3s://{rig.host}:{rig.ports['pop3s']}"
        add_account(data_dir, "alice", "alice-local", "alice-pw", ALICE, rig.users[ALICE], "--pop3", pop3s)
        add_account(data_dir, "bob", "bob-local", "bob-pw", BOB, rig.users[BOB], "--pop3", pop3s)
        for i in range(3):
            rig.deliver(BOB, b"From: sender@example.test\r\nTo: bob@example.test\r\nSubject: small %d\r\n\r\n"
                             b"hello\r\n" % i)
        print(f"    Dovecot limits for this run: pop3 process_limit {args.sessions + 100}, "
              f"mail_max_userip_connections {args.sessions + 100}, pop3-login service_count=0")

        if not {"a", "b"} <= skip:
            gw = start_gateway(data_dir, rig)
            try:
                client_tls = ssl.create_default_context(cafile=gw.cert_file)
                if "a" not in skip:
                    summary += bench_retr(rig, gw, client_tls, args)
                if "b" not in skip:
                    summary += bench_sessions(rig, gw, args)
                print()
                if report_gateway(gw, " during (a)+(b)") or gw.proc.poll() is not None:
                    summary.append("(a)/(b) WARNING: gateway log warnings/errors or exit (see above)")
            finally:
                gw.stop()
        if "c" not in skip:
            summary += bench_memory(rig, data_dir, args)

        report_dovecot_log(rig)

    run.finish(summary)

if __name__ == "__main__":
    main()
