"""Shared parts of the hand-run benchmarks in tests/bench (pop3_bench.py, imap_bench.py, smtp_bench.py): the rig with
room for load, a buffered socket, /proc figures, gateway start/log helpers, a bounded rate loop and the report frame."""

import hashlib
import concurrent.futures
import os
import platform
import re
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import gateway  # noqa: E402
from gateway import Gateway  # noqa: E402
from rig import ProviderRig  # noqa: E402

ALICE, BOB = "alice@example.test", "bob@example.test"
MB = 1_000_000  # throughput is reported in MB/s with 1 MB = 10^6 bytes
IO_TIMEOUT = 60  # seconds, per socket operation


# --------------------------------------------------------------------------- the provider, with room for load
class BenchRig(ProviderRig):
    """ProviderRig with Dovecot limits raised for `sessions` concurrent logins of `protocol` ("pop3" or "imap"), all
    as the same user from 127.0.0.1. The stock rig keeps Dovecot's defaults: 100 processes per service and 10
    connections per user+IP. `extra` is appended verbatim (further settings a benchmark needs).

    Done by appending to the generated dovecot.conf (Dovecot merges a repeated `service x {}` block into the earlier
    one), so rig.py itself stays untouched."""

    def __init__(self, sessions, protocol="pop3", bench="pop3_bench.py", extra="", **kwargs):
        super().__init__(**kwargs)
        self.bench_sessions = sessions
        self.bench_protocol = protocol
        self.bench_name = bench
        self.bench_extra = extra

    def _write_dovecot_config(self):
        super()._write_dovecot_config()
        n = self.bench_sessions + 100  # headroom for the warm-up/verification logins and the rate tests
        proto = self.bench_protocol
        with open(self._p("dovecot.conf"), "a") as f:
            f.write(f"""
# ---- {self.bench_name}: limits for {self.bench_sessions} concurrent {proto.upper()} sessions
mail_max_userip_connections = {n}
# Covers anvil/log/stats/auth, which every {proto} process talks to.
default_client_limit = {2 * n + 1000}
service {proto} {{
  # One {proto} process per logged-in session (client_limit stays 1).
  process_limit = {n}
}}
service {proto}-login {{
  # "High-performance" login mode: a few long-lived login processes, each proxying many TLS sessions, instead of
  # one login process per TLS session (which would need another {n} processes).
  service_count = 0
  process_min_avail = {os.cpu_count() or 1}
  client_limit = {n}
  vsz_limit = 1G
}}
{self.bench_extra}""")


# --------------------------------------------------------------------------- buffered socket
class Conn:
    """A socket plus a receive buffer, for line-at-a-time exchanges and fast large replies. Protocol clients
    subclass it."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def recv_more(self):
        """One recv() into the buffer (blocks unless the socket is readable); raises on EOF."""
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError(f"connection closed; got {bytes(self.buf[:200])!r}")
        self.buf += chunk

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
            self.recv_more()
            if len(self.buf) > limit:
                raise ConnectionError("reply too large")

    def read_exact(self, n):
        """Exactly n bytes (e.g. an IMAP literal)."""
        while len(self.buf) < n:
            self.recv_more()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def close(self):
        self.sock.close()


# --------------------------------------------------------------------------- test data
async def async_read_until(reader, prefix):
    """Reads lines from an asyncio stream until one starts with `prefix`; returns it (the asyncio benches)."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError(f"closed while waiting for {prefix!r}")
        if line.startswith(prefix):
            return line


def big_body(size):
    """~size bytes of CRLF text; every 97th line starts with '.', so dot-stuffing is exercised."""
    line = b"0123456789abcdefghijklmnopqrstuvwxyz.ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789\r\n"
    return b"".join(b"." + line if i % 97 == 0 else line for i in range(size // len(line)))


def sha256(data):
    return hashlib.sha256(data).hexdigest()


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


def processes_memory(pids):
    """proc_memory summed over several processes (a peer made of many, such as Dovecot's)."""
    total = {}
    for pid in pids:
        try:
            m = proc_memory(pid)
        except OSError:  # exited meanwhile
            continue
        for key, value in m.items():
            total[key] = None if value is None or total.get(key, 0) is None else total.get(key, 0) + value
    return total


def fmt_mem(m):
    pss = "n/a" if m["Pss"] is None else f"{m['Pss']} KiB"
    private = "n/a" if m["Private"] is None else f"{m['Private']} KiB"
    return (f"VmRSS {m['VmRSS']} KiB, Pss {pss}, Private {private}, RssAnon {m['RssAnon']} KiB, "
            f"threads {m['Threads']}, fds {m['fds']}")


def proc_cpu_seconds(pid):
    """utime + stime of a process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dovecot_processes(rig, service):
    """Number of this rig's Dovecot `service` (e.g. pop3, imap) processes, by process title
    ("dovecot-<instance_name>/<service>"; the rig sets instance_name from its directory)."""
    title = f"dovecot-mailgate-rig-{os.path.basename(rig.dir)}/{service}".encode()
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


# --------------------------------------------------------------------------- the gateway
def gateway_problems(gw):
    """Warning/error/critical lines of the gateway log (spdlog level tags)."""
    return [line for line in gw.log().splitlines()
            if any(tag in line for tag in ("[warning]", "[error]", "[critical]"))]


def start_gateway(data_dir, rig, extra=()):
    # Gateway() always asks for debug logging; benchmark at the default level (info) instead, as deployed.
    gw = Gateway(data_dir=data_dir, extra_args=["--upstream.ca_file", rig.ca_file, *extra])
    gw.args[gw.args.index("--log.level") + 1] = "info"
    gw.start()
    return gw


def resumption_counters(gw):
    """(offered, resumed): the gateway's provider-side TLS resumption counters from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{gw.ports['admin']}/metrics", timeout=30) as r:
        text = r.read().decode()
    get = lambda name: int(m.group(1)) if (m := re.search(rf"^{name} (\d+)$", text, re.M)) else 0  # noqa: E731
    return get("mailgate_upstream_tls_resumption_offered_total"), get("mailgate_upstream_tls_resumed_total")


def report_gateway(gw, what=""):
    """Prints the gateway's warning/error lines (first 10) and whether it still runs; returns those lines."""
    problems = gateway_problems(gw)
    print(f"    gateway log{what}: {len(problems)} warning/error lines, process "
          f"{'running' if gw.proc.poll() is None else f'EXITED with {gw.proc.returncode}'}")
    for line in problems[:10]:
        print(f"      {line}")
    return problems


# --------------------------------------------------------------------------- bounded rate loop
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


# --------------------------------------------------------------------------- the report frame
def transfer_rounds(paths, measure, expected, size, rounds, seconds, verb, direct, gateways, label):
    """Times `measure(path) -> (payload, seconds, (gateway CPU, client CPU))` for every path, interleaved over
    `rounds` (bounded by `seconds`), checks each payload's sha256 against `expected`, prints the table and returns
    the summary lines comparing each of `gateways` with `direct` by median MB/s (target >= 0.9)."""
    times = {name: [] for name in paths}
    cpus = {name: [] for name in paths}
    mismatches = {name: 0 for name in paths}
    deadline = time.monotonic() + seconds
    for _ in range(rounds):
        if time.monotonic() > deadline:
            print("    (time budget reached, fewer rounds)")
            break
        for name in paths:
            payload, elapsed, cpu = measure(name)
            if sha256(payload) != expected:
                mismatches[name] += 1
            times[name].append(elapsed)
            cpus[name].append(cpu)

    # CPU seconds (medians) show where the work goes on a small machine: the client decrypts on the direct and
    # implicit-TLS paths, the gateway decrypts (and re-encrypts for implicit TLS) on its paths.
    print(f"    {'path':<26} {'median MB/s':>11} {'best MB/s':>10} {'bytes ok':>9} {'gateway CPU':>11} "
          f"{'client CPU':>10}  all runs MB/s")
    median_rate = {}
    for name in paths:
        runs = times[name]
        median_rate[name] = size / statistics.median(runs) / MB
        best = size / min(runs) / MB
        ok = f"{len(runs) - mismatches[name]}/{len(runs)}"
        each = " ".join(f"{size / t / MB:.0f}" for t in runs)
        gw_cpu = statistics.median(c[0] for c in cpus[name])
        own_cpu = statistics.median(c[1] for c in cpus[name])
        print(f"    {name:<26} {median_rate[name]:>11.1f} {best:>10.1f} {ok:>9} {gw_cpu:>10.2f}s {own_cpu:>9.2f}s  "
              f"{each}")
    summary = []
    for name in gateways:
        ratio = median_rate[name] / median_rate[direct]
        print(f"    ratio {name} / direct (medians): {ratio:.2f}   (target >= 0.9)")
        summary.append(f"{label}, {name} / {direct}: {ratio:.2f} (target >= 0.9)")
    if any(mismatches.values()):
        summary.append(f"{label}: WARNING: some {verb} payloads were not byte-identical (see above)")
    return summary


def open_sessions(open_one, n, concurrency, seconds, what="sessions"):
    """Opens `n` sessions with `open_one()` (which returns one) from `concurrency` threads within `seconds`;
    prints the storm's figures and returns (sessions, errors)."""
    sessions, errors, lock = [], [], threading.Lock()
    deadline = time.monotonic() + seconds

    def one(_):
        if time.monotonic() > deadline:
            raise TimeoutError("open phase time budget exhausted")
        session = open_one()
        with lock:
            sessions.append(session)

    t0 = time.perf_counter()
    # Bounded concurrency: each login is a full TLS login at Dovecot, so an unbounded storm would only queue.
    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(one, i) for i in range(n)]:
            exc = future.exception()
            if exc is not None:
                errors.append(repr(exc))
    storm = time.perf_counter() - t0
    print(f"    opened {len(sessions)}/{n} {what} in {storm:.1f} s ({len(sessions) / storm:.0f} logins/s "
          f"with {concurrency} concurrent openers); failures: {len(errors)}")
    for e in sorted(set(errors))[:5]:
        print(f"      failure: {e} (x{errors.count(e)})")
    return sessions, errors


def memory_per_session(before, after, k, label):
    """Prints (after - before) / k for each memory measure; returns summary lines, `label` formatted with key=."""
    summary = []
    for key in ("VmRSS", "Pss", "Private"):
        if k and before[key] is not None:
            per = (after[key] - before[key]) / k
            print(f"    {key:<8} per session: ({after[key]} - {before[key]}) KiB / {k} = {per:.1f} KiB   "
                  f"(target <= 64 KiB)")
            summary.append(f"{label.format(key=key)} ({k} sessions): {per:.1f} KiB (target <= 64 KiB)")
    return summary


def copy_settled_binary(source, target, settle=2.0, max_wait=120.0):
    """Copies `source` once a concurrent relink has finished: the linker writes the file without execute permission
    and in steps, so wait (bounded) until it is executable and unchanged for `settle` seconds, and copy again if it
    changed during the copy."""
    deadline = time.monotonic() + max_wait
    while True:
        st = os.stat(source)
        settled = st.st_mode & 0o111 and time.time() - st.st_mtime >= settle
        if settled or time.monotonic() > deadline:
            shutil.copy2(source, target)
            after = os.stat(source)
            if (after.st_mtime_ns, after.st_size) == (st.st_mtime_ns, st.st_size) or time.monotonic() > deadline:
                return
        time.sleep(0.5)


class BenchRun:
    """Start and end of a benchmark run: raises RLIMIT_NOFILE, benchmarks a private copy of the binary (others
    rebuild build/server/mailgate while this runs, and gateway.py looks MAILGATE_BIN up at call time, so every part
    measures the same binary), prints the machine facts, and at the end the summary, elapsed time and load."""

    def __init__(self, title, binary):
        # Every session costs the gateway two descriptors and this process one; Dovecot (a child) inherits the limit.
        self.soft, self.hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.hard, self.hard))
        self.started = time.monotonic()
        self.load_before = os.getloadavg()
        self.snapshot_dir = tempfile.TemporaryDirectory(prefix="mailgate-bench-bin-")
        source = os.path.realpath(binary)
        gateway.MAILGATE_BIN = os.path.join(self.snapshot_dir.name, "mailgate")
        copy_settled_binary(source, gateway.MAILGATE_BIN)
        with open(gateway.MAILGATE_BIN, "rb") as f:
            binary_sha = hashlib.sha256(f.read()).hexdigest()
        built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(source)))
        version = subprocess.run([gateway.MAILGATE_BIN, "--version"], capture_output=True, text=True).stdout.strip()
        dovecot = subprocess.run(["dovecot", "--version"], capture_output=True, text=True).stdout.strip()
        print(title)
        print(f"    {version}: copy of {source} (built {built}, sha256 {binary_sha[:16]}...)")
        print(f"    Dovecot {dovecot}; Python {platform.python_version()}; OpenSSL {ssl.OPENSSL_VERSION}")
        print(f"    nproc {os.cpu_count()}, usable CPUs {len(os.sched_getaffinity(0))}; kernel {platform.release()}; "
              f"RLIMIT_NOFILE {self.hard} (was {self.soft})")

    @staticmethod
    def print_more_facts(postfix=False):
        """CPU model, memory and (for SMTP) the Postfix version: one more line of machine facts."""
        model, mem_kib = "unknown CPU", 0
        try:
            with open("/proc/cpuinfo") as f:
                model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
            with open("/proc/meminfo") as f:
                mem_kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
        except (OSError, StopIteration):
            pass
        facts = f"    {model}; {mem_kib / 1024 / 1024:.1f} GiB RAM"
        if postfix:
            res = subprocess.run(["postconf", "-d", "-h", "mail_version"], capture_output=True, text=True)
            facts += f"; Postfix {res.stdout.strip() or 'unknown'}"
        print(facts)

    def finish(self, summary):
        self.snapshot_dir.cleanup()
        print("\nSummary (figures only; nothing here passes or fails)")
        for line in summary:
            print(f"    {line}")
        print(f"\nelapsed {time.monotonic() - self.started:.1f} s; load average (1 min) {self.load_before[0]:.2f} at "
              f"start, {os.getloadavg()[0]:.2f} at end (other work on this machine skews the figures)")


def report_dovecot_log(rig, limit=10, group=False):
    """Prints Dovecot's warning/error lines (or, with `group`, each distinct message once with its count: the
    timestamp and process/session prefix stripped); returns how many lines there were."""
    levels = (": Warning:", ": Error:", ": Fatal:", ": Panic:")
    with open(rig.dovecot_log, errors="replace") as f:
        problems = [line.rstrip() for line in f if any(level in line for level in levels)]
    print(f"\nDovecot log: {len(problems)} warning/error lines")
    if group:
        counts = {}
        for line in problems:
            at = min(line.find(level) for level in levels if level in line)
            counts[line[at + 2:]] = counts.get(line[at + 2:], 0) + 1
        for text, count in sorted(counts.items(), key=lambda kv: -kv[1])[:limit]:
            print(f"    {count} x {text}")
    else:
        for line in problems[:limit]:
            print(f"    {line}")
    return len(problems)
