#!/usr/bin/env python3
"""POP3 benchmark of mailgate against the real Dovecot rig: large-RETR throughput, login sessions/s and gateway
memory per idle session, each compared with a direct-POP3S baseline measured in the same run.

Run by hand as root (the rig needs it): python3 tests/bench/pop3_bench.py [--sessions N] [--help]
Prints figures and ratios only: no timed assertions, no pass/fail. All traffic stays on 127.0.0.1.
"""

import argparse
import concurrent.futures
import hashlib
import os
import platform
import resource
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import gateway  # noqa: E402
from gateway import Gateway, add_account  # noqa: E402
from rig import ProviderRig  # noqa: E402

ALICE, BOB = "alice@example.test", "bob@example.test"
MB = 1_000_000  # throughput is reported in MB/s with 1 MB = 10^6 bytes
IO_TIMEOUT = 60  # seconds, per socket operation


# --------------------------------------------------------------------------- the provider, with room for load
class BenchRig(ProviderRig):
    """ProviderRig with Dovecot limits raised for `sessions` concurrent POP3 logins (all as the same user, from
    127.0.0.1). The stock rig keeps Dovecot's defaults: 100 processes per service and 10 connections per user+IP.

    Done by appending to the generated dovecot.conf (Dovecot merges a repeated `service x {}` block into the earlier
    one), so rig.py itself stays untouched."""

    def __init__(self, sessions, **kwargs):
        super().__init__(**kwargs)
        self.bench_sessions = sessions

    def _write_dovecot_config(self):
        super()._write_dovecot_config()
        n = self.bench_sessions + 100  # headroom for the warm-up/verification logins and the rate tests
        with open(self._p("dovecot.conf"), "a") as f:
            f.write(f"""
# ---- pop3_bench.py: limits for {self.bench_sessions} concurrent POP3 sessions
mail_max_userip_connections = {n}
# Covers anvil/log/stats/auth, which every pop3 process talks to.
default_client_limit = {2 * n + 1000}
service pop3 {{
  # One pop3 process per logged-in session (client_limit stays 1).
  process_limit = {n}
}}
service pop3-login {{
  # "High-performance" login mode: a few long-lived login processes, each proxying many TLS sessions, instead of
  # one login process per TLS session (which would need another {n} processes).
  service_count = 0
  process_min_avail = {os.cpu_count() or 1}
  client_limit = {n}
  vsz_limit = 1G
}}
""")


# --------------------------------------------------------------------------- small POP3 client on raw sockets
class Conn:
    """A socket plus a receive buffer, for line-at-a-time POP3 exchanges and fast large replies."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def read_until(self, terminator, limit=256 * 1024 * 1024):
        """Bytes up to and including `terminator`. bytearray += is amortised O(1), unlike the bytes concatenation
        in test_pop3_gateway.read_until, which is quadratic and would dominate a 50 MB read."""
        start = 0
        while True:
            i = self.buf.find(terminator, start)
            if i >= 0:
                out = bytes(self.buf[:i + len(terminator)])
                del self.buf[:i + len(terminator)]
                return out
            start = max(0, len(self.buf) - len(terminator) + 1)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError(f"connection closed; got {bytes(self.buf[:200])!r}")
            self.buf += chunk
            if len(self.buf) > limit:
                raise ConnectionError("reply too large")

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

    def close(self):
        self.sock.close()


def connect_direct(rig):
    """Client -> Dovecot POP3S (the baseline)."""
    raw = socket.create_connection((rig.host, rig.ports["pop3s"]), timeout=IO_TIMEOUT)
    return Conn(rig.client_context().wrap_socket(raw, server_hostname=rig.host))


def connect_gateway(gw, mode, client_tls=None):
    """Client -> gateway plaintext POP3 port, or -> gateway POP3S (implicit TLS) port."""
    raw = socket.create_connection(("127.0.0.1", gw.ports[mode]), timeout=IO_TIMEOUT)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if mode == "pop3s":
        return Conn(client_tls.wrap_socket(raw, server_hostname="localhost"))
    return Conn(raw)


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


# --------------------------------------------------------------------------- process figures
def proc_memory(pid):
    """Resident memory of a process in KiB: VmRSS (status), and Pss / Private from smaps_rollup."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "Threads"):
                out[key] = int(value.split()[0])
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            roll = {}
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                    roll[parts[0][:-1]] = int(parts[1])
        out["Pss"] = roll.get("Pss")
        out["Private"] = roll.get("Private_Clean", 0) + roll.get("Private_Dirty", 0)
    except OSError:  # no smaps_rollup (old kernel / sandbox): VmRSS only
        out["Pss"] = out["Private"] = None
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def proc_cpu_seconds(pid):
    """utime + stime of a process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dovecot_pop3_processes(rig):
    """Number of this rig's Dovecot pop3 (post-login) processes, by process title
    ("dovecot-<instance_name>/pop3"; the rig sets instance_name from its directory)."""
    title = f"dovecot-mailgate-rig-{os.path.basename(rig.dir)}/pop3".encode()
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if f.read().replace(b"\0", b" ").split(b" ")[0] == title:
                        count += 1
            except OSError:
                pass
    return count


def gateway_problems(gw):
    """Warning/error/critical lines of the gateway log (spdlog level tags)."""
    return [line for line in gw.log().splitlines()
            if any(tag in line for tag in ("[warning]", "[error]", "[critical]"))]


def start_gateway(data_dir, rig):
    # Gateway() always asks for debug logging; benchmark at the default level (info) instead, as deployed.
    gw = Gateway(data_dir=data_dir, extra_args=["--upstream.ca_file", rig.ca_file])
    gw.args[gw.args.index("--log.level") + 1] = "info"
    gw.start()
    return gw


# --------------------------------------------------------------------------- (a) RETR throughput
def big_body(size):
    """~size bytes of CRLF text; every 97th line starts with '.', so dot-stuffing is exercised."""
    line = b"0123456789abcdefghijklmnopqrstuvwxyz.ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789\r\n"
    return b"".join(b"." + line if i % 97 == 0 else line for i in range(size // len(line)))


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
    expected = hashlib.sha256(reference).hexdigest()
    print(f"    reference reply {len(reference)} bytes, sha256 {expected[:16]}..., "
          f"contains the delivered body: {'yes' if body_ok else 'NO'}")

    times = {name: [] for name in paths}
    cpus = {name: [] for name in paths}
    mismatches = {name: 0 for name in paths}
    deadline = time.monotonic() + args.retr_seconds
    for _ in range(args.rounds):
        if time.monotonic() > deadline:
            print("    (time budget reached, fewer rounds)")
            break
        for name in paths:
            reply, elapsed, cpu = one_retr(name)
            if hashlib.sha256(reply).hexdigest() != expected:
                mismatches[name] += 1
            times[name].append(elapsed)
            cpus[name].append(cpu)

    # CPU seconds per RETR (medians) show where the work goes on a small machine: the client decrypts on the
    # direct and pop3s paths, the gateway decrypts (and re-encrypts for pop3s) on its paths.
    print(f"    {'path':<26} {'median MB/s':>11} {'best MB/s':>10} {'bytes ok':>9} {'gateway CPU':>11} "
          f"{'client CPU':>10}  all runs MB/s")
    median_rate = {}
    for name in paths:
        runs = times[name]
        median_rate[name] = len(reference) / statistics.median(runs) / MB
        best = len(reference) / min(runs) / MB
        ok = f"{len(runs) - mismatches[name]}/{len(runs)}"
        each = " ".join(f"{len(reference) / t / MB:.0f}" for t in runs)
        gw_cpu = statistics.median(c[0] for c in cpus[name])
        own_cpu = statistics.median(c[1] for c in cpus[name])
        print(f"    {name:<26} {median_rate[name]:>11.1f} {best:>10.1f} {ok:>9} {gw_cpu:>10.2f}s {own_cpu:>9.2f}s  "
              f"{each}")
    base = median_rate["direct POP3S"]
    summary = []
    for name in ("gateway pop3 (plaintext)", "gateway pop3s"):
        ratio = median_rate[name] / base
        print(f"    ratio {name} / direct (medians): {ratio:.2f}   (target >= 0.9)")
        summary.append(f"(a) RETR {args.retr_mb} MB, {name} / direct POP3S: {ratio:.2f} (target >= 0.9)")
    if not body_ok or any(mismatches.values()):
        summary.append("(a) WARNING: some RETR replies were not byte-identical (see above)")
    return summary


# --------------------------------------------------------------------------- (b) sessions per second
def run_sessions(session, threads, max_sessions, max_seconds):
    """Runs `session` repeatedly from `threads` threads until max_sessions were started or max_seconds passed.
    Returns (completed, errors, first_error, elapsed)."""
    lock = threading.Lock()
    state = {"started": 0, "done": 0, "errors": 0, "first_error": None}
    deadline = time.monotonic() + max_seconds

    def worker():
        while True:
            with lock:
                if state["started"] >= max_sessions or time.monotonic() >= deadline:
                    return
                state["started"] += 1
            try:
                session()
                with lock:
                    state["done"] += 1
            except Exception as exc:  # counted and reported, never fatal
                with lock:
                    state["errors"] += 1
                    state["first_error"] = state["first_error"] or repr(exc)

    t0 = time.perf_counter()
    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return state["done"], state["errors"], state["first_error"], time.perf_counter() - t0


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
def fmt_mem(m):
    pss = "n/a" if m["Pss"] is None else f"{m['Pss']} KiB"
    private = "n/a" if m["Private"] is None else f"{m['Private']} KiB"
    return (f"VmRSS {m['VmRSS']} KiB, Pss {pss}, Private {private}, RssAnon {m['RssAnon']} KiB, "
            f"threads {m['Threads']}, fds {m['fds']}")


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

        lock = threading.Lock()
        deadline = time.monotonic() + args.open_seconds

        def open_one(_):
            if time.monotonic() > deadline:
                raise TimeoutError("open phase time budget exhausted")
            conn = connect_gateway(gw, "pop3")
            try:
                login(conn, "bob-local", "bob-pw")
            except BaseException:
                conn.close()
                raise
            with lock:
                sessions.append(conn)

        t0 = time.perf_counter()
        # Bounded concurrency: each login is a full TLS login at Dovecot, so an unbounded storm would only queue.
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.open_concurrency) as pool:
            for future in [pool.submit(open_one, i) for i in range(n)]:
                exc = future.exception()
                if exc is not None:
                    errors.append(repr(exc))
        storm = time.perf_counter() - t0
        print(f"    opened {len(sessions)}/{n} sessions in {storm:.1f} s ({len(sessions) / storm:.0f} logins/s "
              f"with {args.open_concurrency} concurrent openers); failures: {len(errors)}")
        for e in sorted(set(errors))[:5]:
            print(f"      failure: {e} (x{errors.count(e)})")

        time.sleep(args.idle_seconds)
        after = proc_memory(pid)
        print(f"    after {args.idle_seconds:g} s idle: {fmt_mem(after)}")
        print(f"    Dovecot pop3 processes alive: {dovecot_pop3_processes(rig)}")
        summary = []
        if sessions:
            k = len(sessions)
            for key in ("VmRSS", "Pss", "Private"):
                if before[key] is not None:
                    per = (after[key] - before[key]) / k
                    print(f"    {key:<8} per session: ({after[key]} - {before[key]}) KiB / {k} = "
                          f"{per:.1f} KiB   (target <= 64 KiB)")
                    summary.append(f"(c) gateway {key} per idle session ({k} sessions): {per:.1f} KiB "
                                   f"(target <= 64 KiB)")

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
        problems = gateway_problems(gw)
        print(f"    gateway log: {len(problems)} warning/error lines, process "
              f"{'running' if gw.proc.poll() is None else f'EXITED with {gw.proc.returncode}'}")
        for line in problems[:10]:
            print(f"      {line}")
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

    # Every session costs the gateway two descriptors and this process one; Dovecot (a child) inherits the limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    started = time.monotonic()
    load_before = os.getloadavg()
    # Others rebuild build/server/mailgate while this runs: benchmark a private copy, so every part measures the
    # same binary (gateway.py looks MAILGATE_BIN up at call time).
    snapshot_dir = tempfile.TemporaryDirectory(prefix="mailgate-bench-bin-")
    source = os.path.realpath(args.binary)
    gateway.MAILGATE_BIN = os.path.join(snapshot_dir.name, "mailgate")
    shutil.copy2(source, gateway.MAILGATE_BIN)
    with open(gateway.MAILGATE_BIN, "rb") as f:
        binary_sha = hashlib.sha256(f.read()).hexdigest()
    built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(source)))
    version = subprocess.run([gateway.MAILGATE_BIN, "--version"], capture_output=True, text=True).stdout.strip()
    dovecot = subprocess.run(["dovecot", "--version"], capture_output=True, text=True).stdout.strip()
    print("mailgate POP3 benchmark")
    print(f"    {version}: copy of {source} (built {built}, sha256 {binary_sha[:16]}...)")
    print(f"    Dovecot {dovecot}; Python {platform.python_version()}; OpenSSL {ssl.OPENSSL_VERSION}")
    print(f"    nproc {os.cpu_count()}, usable CPUs {len(os.sched_getaffinity(0))}; kernel {platform.release()}; "
          f"RLIMIT_NOFILE {hard} (was {soft})")

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
                problems = gateway_problems(gw)
                print(f"\n    gateway log during (a)+(b): {len(problems)} warning/error lines, process "
                      f"{'running' if gw.proc.poll() is None else f'EXITED with {gw.proc.returncode}'}")
                for line in problems[:10]:
                    print(f"      {line}")
                if problems or gw.proc.poll() is not None:
                    summary.append("(a)/(b) WARNING: gateway log warnings/errors or exit (see above)")
            finally:
                gw.stop()
        if "c" not in skip:
            summary += bench_memory(rig, data_dir, args)

        with open(rig.dovecot_log, errors="replace") as f:
            dovecot_problems = [line.rstrip() for line in f if ": Warning:" in line or ": Error:" in line
                                or ": Fatal:" in line or ": Panic:" in line]
        print(f"\nDovecot log: {len(dovecot_problems)} warning/error lines")
        for line in dovecot_problems[:10]:
            print(f"    {line}")

    snapshot_dir.cleanup()
    print("\nSummary (figures only; nothing here passes or fails)")
    for line in summary:
        print(f"    {line}")
    print(f"\nelapsed {time.monotonic() - started:.1f} s; load average (1 min) {load_before[0]:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end (other work on this machine skews the figures)")


if __name__ == "__main__":
    main()
