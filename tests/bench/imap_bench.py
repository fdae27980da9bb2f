#!/usr/bin/env python3
"""IMAP benchmark of mailgate against the real Dovecot rig: large-FETCH throughput, gateway memory per IDLE session
and login sessions/s, each compared with a direct-IMAPS baseline measured in the same run.

Run by hand as root (the rig needs it): python3 tests/bench/imap_bench.py [--sessions N] [--help]
Prints figures and ratios only: no timed assertions, no pass/fail. All traffic stays on 127.0.0.1.
"""

import argparse
import os
import re
import selectors
import socket
import ssl
import statistics
import tempfile
import time

from bench_common import (ALICE, BOB, BenchRig, BenchRun, Conn, IO_TIMEOUT, MB, big_body, dovecot_processes,
                          fmt_mem, gateway, memory_per_session, open_sessions, proc_cpu_seconds, proc_memory,
                          report_dovecot_log, report_gateway, run_sessions, sha256, start_gateway,
                          transfer_rounds)
from gateway import add_account

# Dovecot notices new mail in an IDLEing session through inotify, but the kernel allows only
# fs.inotify.max_user_instances (128 by default) inotify instances per uid, and all the rig's imap processes run as
# uid "mail". Past that Dovecot falls back to polling every mailbox_idle_check_interval (default 30 s); 1 s keeps
# the "did every session see the new mail" check of (b) short. It changes the provider only, not the gateway.
IDLE_CHECK_INTERVAL = "1 secs"


# --------------------------------------------------------------------------- small IMAP client on raw sockets
class ImapConn(Conn):
    """Tagged IMAP commands over the shared buffered socket; replies read line by line (no literals expected,
    except in fetch_body)."""

    def __init__(self, sock):
        super().__init__(sock)
        self.tag = 0

    def greeting(self):
        line = self.read_until(b"\r\n")
        if not line.startswith(b"* OK"):
            raise ConnectionError(f"unexpected greeting {line!r}")
        return self

    def send(self, command):
        """Sends one tagged command; returns its tag."""
        self.tag += 1
        tag = b"t%d" % self.tag
        self.sock.sendall(tag + b" " + command + b"\r\n")
        return tag

    def wait_tagged(self, tag):
        """Reads lines up to the tagged reply for `tag`; returns it; raises unless it is OK."""
        while True:
            line = self.read_until(b"\r\n", limit=1 << 20)
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise ConnectionError(f"command failed: {line!r}")
                return line

    def command(self, command):
        return self.wait_tagged(self.send(command))

    def fetch_body(self, number):
        """FETCH n BODY.PEEK[] (BODY[] without setting \\Seen, so every round gets the same reply): the literal."""
        tag = self.send(b"FETCH %d BODY.PEEK[]" % number)
        head = self.read_until(b"}\r\n", limit=1 << 20)
        m = re.search(rb"BODY\[\] \{(\d+)\}\r\n$", head)
        if not m:
            raise ConnectionError(f"unexpected FETCH reply {head[:200]!r}")
        literal = self.read_exact(int(m.group(1)))
        self.wait_tagged(tag)  # the closing ")" line, then the tagged OK
        return literal


def connect_direct(rig):
    """Client -> Dovecot IMAPS (the baseline)."""
    raw = socket.create_connection((rig.host, rig.ports["imaps"]), timeout=IO_TIMEOUT)
    return ImapConn(rig.client_context().wrap_socket(raw, server_hostname=rig.host)).greeting()


def connect_gateway(gw, mode, client_tls=None):
    """Client -> gateway plaintext IMAP port, or -> gateway IMAPS (implicit TLS) port."""
    raw = socket.create_connection(("127.0.0.1", gw.ports[mode]), timeout=IO_TIMEOUT)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if mode == "imaps":
        return ImapConn(client_tls.wrap_socket(raw, server_hostname="localhost")).greeting()
    return ImapConn(raw).greeting()


def full_session(connect, user, password):
    """One complete short session: connect, LOGIN, SELECT INBOX, LOGOUT (waiting for the LOGOUT reply)."""
    conn = connect()
    try:
        conn.command(b"LOGIN %s %s" % (user.encode(), password.encode()))
        conn.command(b"SELECT INBOX")
        conn.command(b"LOGOUT")
    finally:
        conn.close()


def message(subject, body):
    return b"From: sender@example.test\r\nTo: someone@example.test\r\nSubject: " + subject + b"\r\n\r\n" + body


# --------------------------------------------------------------------------- (a) FETCH throughput
def bench_fetch(rig, gw, client_tls, args):
    size = args.fetch_mb * MB
    print(f"\n(a) FETCH BODY.PEEK[] of one {args.fetch_mb} MB message, {args.rounds} timed rounds per path "
          f"(rounds interleave the paths; a fresh logged-in session per FETCH, only the FETCH is timed)")
    body = big_body(size)
    t = time.monotonic()
    rig.deliver(ALICE, message(b"big", body))
    print(f"    delivered {len(body) / MB:.1f} MB body via LMTP in {time.monotonic() - t:.1f} s")

    paths = {
        "direct IMAPS": lambda: connect_direct(rig),
        "gateway imap (plaintext)": lambda: connect_gateway(gw, "imap"),
        "gateway imaps": lambda: connect_gateway(gw, "imaps", client_tls),
    }
    creds = {"direct IMAPS": (ALICE, rig.users[ALICE])}

    def one_fetch(name):
        user, password = creds.get(name, ("alice-local", "alice-pw"))
        conn = paths[name]()
        try:
            conn.command(b"LOGIN %s %s" % (user.encode(), password.encode()))
            conn.command(b"EXAMINE INBOX")
            cpu0, own0 = proc_cpu_seconds(gw.proc.pid), time.process_time()
            t0 = time.perf_counter()
            literal = conn.fetch_body(1)
            elapsed = time.perf_counter() - t0
            cpu = (proc_cpu_seconds(gw.proc.pid) - cpu0, time.process_time() - own0)
            conn.command(b"LOGOUT")
        finally:
            conn.close()
        return literal, elapsed, cpu

    # Untimed warm-up, which also yields the reference bytes: Dovecot adds headers at delivery, so the reference is
    # what Dovecot itself serves. Check that it really ends with the body we delivered.
    reference, _, _ = one_fetch("direct IMAPS")
    body_ok = reference.endswith(body)
    expected = sha256(reference)
    print(f"    reference literal {len(reference)} bytes, sha256 {expected[:16]}..., "
          f"ends with the delivered body: {'yes' if body_ok else 'NO'}")

    summary = transfer_rounds(paths, one_fetch, expected, len(reference), args.rounds, args.fetch_seconds,
                              "FETCH",
                              "direct IMAPS", ("gateway imap (plaintext)", "gateway imaps"),
                              f"(a) FETCH {args.fetch_mb} MB")
    if not body_ok:
        summary.append("(a) WARNING: the reference FETCH literal does not end with the delivered body")
    return summary


# --------------------------------------------------------------------------- (b) memory per IDLE session
def open_idle(gw):
    """A gateway session for bob, logged in, INBOX selected and IDLE running; returns (conn, IDLE tag)."""
    conn = connect_gateway(gw, "imap")
    try:
        conn.command(b"LOGIN bob-local bob-pw")
        conn.command(b"SELECT INBOX")
        tag = conn.send(b"IDLE")
        line = conn.read_until(b"\r\n", limit=1 << 20)
        if not line.startswith(b"+ "):  # Dovecot: "+ idling"
            raise ConnectionError(f"IDLE refused: {line!r}")
        return conn, tag
    except BaseException:
        conn.close()
        raise


def watch_for_exists(sessions, timeout):
    """Waits (at most `timeout` s) until every IDLE session has received an untagged EXISTS. Returns
    (seconds until each session saw it, number of sessions that closed)."""
    seen, closed = [], 0
    t0 = time.monotonic()
    sel = selectors.DefaultSelector()  # epoll: select() cannot watch descriptors above 1023
    try:
        for conn, _ in sessions:
            if b" EXISTS\r\n" in conn.buf:
                seen.append(0.0)
            else:
                sel.register(conn.sock, selectors.EVENT_READ, conn)
        while sel.get_map() and time.monotonic() - t0 < timeout:
            for key, _ in sel.select(timeout=max(0.0, timeout - (time.monotonic() - t0))):
                conn = key.data
                try:
                    # TLS is not in play here (plaintext port), so a readable socket means recv() will not block.
                    conn.recv_more()
                except (ConnectionError, OSError):
                    closed += 1
                    sel.unregister(conn.sock)
                    continue
                if b" EXISTS\r\n" in conn.buf:
                    seen.append(time.monotonic() - t0)
                    sel.unregister(conn.sock)
    finally:
        sel.close()
    return seen, closed


def end_idle(sessions, timeout):
    """DONE then LOGOUT on every session (all sent first, replies read after), within `timeout` s overall.
    Returns (sessions whose IDLE ended with OK, sessions whose LOGOUT was answered OK)."""
    logout_tags = {}
    for conn, _ in sessions:
        try:
            conn.sock.sendall(b"DONE\r\n")
            logout_tags[conn] = conn.send(b"LOGOUT")
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    idle_ok = logout_ok = 0
    for conn, idle_tag in sessions:
        try:
            conn.sock.settimeout(max(0.1, deadline - time.monotonic()))
            conn.wait_tagged(idle_tag)
            idle_ok += 1
            if conn in logout_tags:
                conn.wait_tagged(logout_tags[conn])
                logout_ok += 1
        except (ConnectionError, OSError):
            pass
    return idle_ok, logout_ok


def bench_idle_memory(rig, data_dir, args):
    n = args.sessions
    print(f"\n(b) Gateway memory with {n} concurrent IDLE sessions (client -> gateway plaintext: LOGIN, "
          f"SELECT INBOX, IDLE until '+ idling'; gateway -> Dovecot IMAPS; mailbox {BOB})")
    # A fresh gateway process: after other work the heap holds freed memory that new sessions would reuse
    # without growing RSS, which would flatter the per-session figure.
    gw = start_gateway(data_dir, rig)
    sessions, errors = [], []
    try:
        pid = gw.proc.pid
        full_session(lambda: connect_gateway(gw, "imap"), "bob-local", "bob-pw")  # warm-up (credential cache etc.)
        time.sleep(1)
        before = proc_memory(pid)
        print(f"    before (fresh gateway, after 1 warm-up session): {fmt_mem(before)}")

        sessions, errors = open_sessions(lambda: open_idle(gw), n, args.open_concurrency, args.open_seconds,
                                         "IDLE sessions")

        time.sleep(args.idle_seconds)
        after = proc_memory(pid)
        print(f"    after {args.idle_seconds:g} s idle: {fmt_mem(after)}")
        print(f"    Dovecot imap processes alive: {dovecot_processes(rig, 'imap')}")
        summary = memory_per_session(before, after, len(sessions), "(b) gateway {key} per IDLE session")

        # Still alive after idling? New mail must reach every IDLEing client as "* N EXISTS".
        rig.deliver(BOB, message(b"wake up", b"new mail for the idlers\r\n"))
        seen, closed = watch_for_exists(sessions, args.exists_timeout)
        late = f", median {statistics.median(seen):.1f} s, slowest {max(seen):.1f} s" if seen else ""
        print(f"    sessions that saw '* N EXISTS' within {args.exists_timeout:g} s of an LMTP delivery: "
              f"{len(seen)}/{len(sessions)}{late}; closed meanwhile: {closed}")
        idle_ok, logout_ok = end_idle(sessions, args.exists_timeout)
        print(f"    DONE answered OK: {idle_ok}/{len(sessions)}; LOGOUT answered OK: {logout_ok}/{len(sessions)}")
        for conn, _ in sessions:
            conn.close()
        alive = min(len(seen), idle_ok, logout_ok)
        sessions.clear()
        time.sleep(2)
        print(f"    2 s after all sessions logged out: {fmt_mem(proc_memory(pid))}")
        problems = report_gateway(gw)
        if alive != n or errors or problems:
            summary.append(f"(b) WARNING: {n - alive} of {n} sessions failed, died or missed the new mail, "
                           f"{len(problems)} gateway log warnings/errors (see above)")
        return summary
    finally:
        for conn, _ in sessions:
            conn.close()
        gw.stop()


# --------------------------------------------------------------------------- (c) sessions per second
def bench_sessions(rig, gw, args):
    print(f"\n(c) Sessions/s of connect + LOGIN + SELECT INBOX + LOGOUT, at most {args.rate_sessions} sessions or "
          f"{args.rate_seconds:g} s per measurement (mailbox: {BOB}, {rig.mailbox_count(BOB)} small messages)")
    direct = lambda: full_session(lambda: connect_direct(rig), BOB, rig.users[BOB])  # noqa: E731
    via_gateway = lambda: full_session(lambda: connect_gateway(gw, "imap"), "bob-local", "bob-pw")  # noqa: E731
    via_gateway()  # warm the gateway's local-credential cache (the first check is deliberately slow)
    direct()
    print(f"    {'clients':<8} {'path':<26} {'sessions':>8} {'errors':>6} {'seconds':>8} {'sessions/s':>11}")
    summary = []
    for threads in (1, args.threads):
        rates, errors = {}, 0
        for name, session in (("direct IMAPS", direct), ("gateway imap (plaintext)", via_gateway)):
            done, errs, first, elapsed = run_sessions(session, threads, args.rate_sessions, args.rate_seconds)
            errors += errs
            rates[name] = done / elapsed
            print(f"    {threads:<8} {name:<26} {done:>8} {errs:>6} {elapsed:>8.2f} {rates[name]:>11.1f}")
            if first:
                print(f"             first error: {first}")
        ratio = rates["gateway imap (plaintext)"] / rates["direct IMAPS"]
        print(f"    {threads:<8} ratio gateway / direct: {ratio:.2f}   (target >= 0.8)")
        summary.append(f"(c) sessions/s with {threads} client(s), gateway / direct IMAPS: {ratio:.2f} "
                       f"(target >= 0.8){f'; {errors} failed sessions' if errors else ''}")
    return summary


# --------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=1000, help="concurrent IDLE sessions for (b) (default 1000)")
    ap.add_argument("--fetch-mb", type=int, default=50, help="size of the FETCH test message in MB (default 50)")
    ap.add_argument("--rounds", type=int, default=7, help="timed FETCHes per path (default 7)")
    ap.add_argument("--fetch-seconds", type=float, default=180, help="time budget for the FETCH rounds")
    ap.add_argument("--rate-sessions", type=int, default=200, help="max sessions per rate measurement")
    ap.add_argument("--rate-seconds", type=float, default=20, help="max seconds per rate measurement")
    ap.add_argument("--threads", type=int, default=4, help="concurrent clients for the parallel rate test")
    ap.add_argument("--open-concurrency", type=int, default=32, help="concurrent openers in (b)")
    ap.add_argument("--open-seconds", type=float, default=300, help="time budget for opening sessions in (b)")
    ap.add_argument("--idle-seconds", type=float, default=5, help="idle time before the 'after' measurement")
    ap.add_argument("--exists-timeout", type=float, default=30,
                    help="seconds to wait for every IDLE session to see new mail, and again for DONE/LOGOUT")
    ap.add_argument("--binary", default=gateway.MAILGATE_BIN, help="mailgate binary (default: the build tree's)")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: a,b,c")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    run = BenchRun("mailgate IMAP benchmark", args.binary)
    run.print_more_facts()
    summary = []
    extra = f"mailbox_idle_check_interval = {IDLE_CHECK_INTERVAL}\n"
    with BenchRig(sessions=args.sessions, protocol="imap", bench="imap_bench.py", extra=extra) as rig, \
            tempfile.TemporaryDirectory(prefix="mailgate-bench-") as tmp:
        data_dir = os.path.join(tmp, "data")
        imaps = f"imaps://{rig.host}:{rig.ports['imaps']}"
        add_account(data_dir, "alice", "alice-local", "alice-pw", ALICE, rig.users[ALICE], "--imap", imaps)
        add_account(data_dir, "bob", "bob-local", "bob-pw", BOB, rig.users[BOB], "--imap", imaps)
        for i in range(3):
            rig.deliver(BOB, message(b"small %d" % i, b"hello\r\n"))
        print(f"    Dovecot limits for this run: imap process_limit {args.sessions + 100}, "
              f"mail_max_userip_connections {args.sessions + 100}, imap-login service_count=0, "
              f"mailbox_idle_check_interval {IDLE_CHECK_INTERVAL}")

        # (a) and (c) each get their own gateway process, (b) too (it must start from a fresh heap), so the order
        # of the parts does not matter and each part's gateway log is reported on its own.
        client_tls = None
        for part in ("a", "b", "c"):
            if part in skip:
                continue
            if part == "b":
                summary += bench_idle_memory(rig, data_dir, args)
                continue
            gw = start_gateway(data_dir, rig)
            try:
                client_tls = client_tls or ssl.create_default_context(cafile=gw.cert_file)
                summary += bench_fetch(rig, gw, client_tls, args) if part == "a" else bench_sessions(rig, gw, args)
                if report_gateway(gw, f" during ({part})") or gw.proc.poll() is not None:
                    summary.append(f"({part}) WARNING: gateway log warnings/errors or exit (see above)")
            finally:
                gw.stop()

        # Expected here: one "Inotify instance limit ... exceeded" warning per imap process beyond the 128th
        # (see IDLE_CHECK_INTERVAL); those sessions are served by polling instead.
        report_dovecot_log(rig, group=True)

    run.finish(summary)


if __name__ == "__main__":
    main()
