#!/usr/bin/env python3
"""Ten thousand idle IMAP IDLE sessions through one gateway: RSS/Pss and heap per session, CPU while idle, time to
open them all, errors and wake-up latency, with a plaintext and a TLS LAN side; stunnel and Dovecot's login proxy
(plaintext LAN, TLS to the provider, like mailgate; tests/bench/peers.py) hold the same sessions in the same run for
comparison (Dovecot's figures sum all processes of its instance).

The provider is tests/bench/imap_load_peer.py (a load peer, not a mail server: the rig's Dovecot forks one process
per session and would be what breaks first). Clients come from 100 loopback addresses (127.1.0.1-100), so the
gateway's default per-address cap (100) holds; limits.max_sessions is raised as a deployment for 10,000 would.

    python3 tests/bench/idle_bench.py [--sessions 10000] [--wake 200] [--only mailgate-plain,mailgate-tls,stunnel,dovecot-proxy]
Run as root (raises RLIMIT_NOFILE to 65536 for itself and its children). Prints figures only: no pass/fail."""

import argparse
import asyncio
import os
import random
import re
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from bench_common import async_read_until as read_until, BenchRun, fmt_mem, processes_memory, proc_cpu_seconds
from gateway import Gateway, add_account, free_port
from peers import DovecotProxy, Stunnel

HERE = os.path.dirname(os.path.abspath(__file__))
FD_LIMIT = 65536
PER_ADDRESS = 100  # sessions per client source address (the gateway's default limits.max_sessions_per_address)


def make_certificate(directory):
    cert, key = os.path.join(directory, "peer.pem"), os.path.join(directory, "peer.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-days", "2", "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


class Peer:
    def __init__(self, directory, cert, key):
        self.port, self.control_port = free_port(), free_port()
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "imap_load_peer.py"), "--port",
                                      str(self.port), "--control-port", str(self.control_port), "--cert", cert,
                                      "--key", key], stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("load peer did not start")

    async def command(self, line):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.control_port)
        writer.write(line.encode() + b"\n")
        await writer.drain()
        reply = (await reader.readline()).decode().split()
        writer.close()
        return int(reply[1])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


class IdleClient:
    """One IMAP client: LOGIN, SELECT its own mailbox, IDLE; then waits for '* 1 EXISTS'."""

    def __init__(self, index, warm_up=False):
        self.name = f"w{index}" if warm_up else f"s{index}"
        # Warm-up sessions come from their own addresses: the measured ones must not meet their per-address cap.
        self.source = f"127.{2 if warm_up else 1}.0.{index // PER_ADDRESS + 1}"
        self.reader = self.writer = None

    async def open(self, port, tls, login):
        self.reader, self.writer = await asyncio.wait_for(asyncio.open_connection(
            "127.0.0.1", port, local_addr=(self.source, 0), ssl=tls,
            server_hostname="localhost" if tls else None), 60)
        await asyncio.wait_for(self.script(login), 60)

    async def script(self, login):
        await read_until(self.reader, b"* OK")
        self.writer.write(b"a LOGIN " + login + b"\r\nb SELECT " + self.name.encode() + b"\r\nc IDLE\r\n")
        await read_until(self.reader, b"a OK")
        await read_until(self.reader, b"b OK")
        await read_until(self.reader, b"+ ")

    async def wait_exists(self, timeout):
        await asyncio.wait_for(read_until(self.reader, b"* 1 EXISTS"), timeout)
        return time.perf_counter()

    def close(self):
        if self.writer:
            self.writer.transport.abort()


async def open_all(n, port, tls, login, concurrency, warm_up=False):
    clients, errors = [IdleClient(i, warm_up) for i in range(n)], []
    gate = asyncio.Semaphore(concurrency)

    async def one(c):
        async with gate:
            try:
                await c.open(port, tls, login)
                return True
            except Exception as e:  # counted and reported, never fatal to the run
                errors.append(f"{type(e).__name__}: {e}")
                c.close()
                return False

    t0 = time.perf_counter()
    ok = await asyncio.gather(*(one(c) for c in clients))
    return [c for c, good in zip(clients, ok) if good], errors, time.perf_counter() - t0


def heap_bytes(admin_port):
    if admin_port is None:
        return None
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=30) as r:
        found = re.search(r"^mailgate_heap_in_use_bytes (\d+)$", r.read().decode(), re.M)
    return int(found.group(1)) if found else None


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


async def measure(label, pids, port, tls, login, args, peer, admin_port=None):
    """Opens args.sessions idle sessions through `port`; returns a result dict. pids(): the contender's processes."""
    cpu_seconds = lambda: sum(proc_cpu_seconds(pid) for pid in pids())  # noqa: E731
    warm, warm_errors, _ = await open_all(50, port, tls, login, 50, warm_up=True)  # caches, arenas, OpenSSL
    for c in warm:
        c.close()
    await asyncio.sleep(2)
    before, heap_before = processes_memory(pids()), heap_bytes(admin_port)
    clients, errors, seconds = await open_all(args.sessions, port, tls, login, args.concurrency)
    errors += warm_errors
    await asyncio.sleep(3)  # let the last logins settle (log lines, store writes)
    after, heap_after = processes_memory(pids()), heap_bytes(admin_port)
    cpu0 = cpu_seconds()
    await asyncio.sleep(args.idle_seconds)
    idle_cpu = (cpu_seconds() - cpu0) / args.idle_seconds
    sample = random.Random(1).sample(clients, min(args.wake, len(clients)))
    t0 = time.perf_counter()
    waits = [asyncio.ensure_future(c.wait_exists(30)) for c in sample]
    woken = await peer.command("WAKE " + " ".join(c.name for c in sample))
    latencies, wake_errors = [], 0
    for w in waits:
        try:
            latencies.append((await w) - t0)
        except Exception:
            wake_errors += 1
    for c in clients:
        c.close()
    n = len(clients)
    per = {k: (after[k] - before[k]) / n if n and before[k] is not None else None for k in ("VmRSS", "Pss")}
    heap = (heap_after - heap_before) / n if n and heap_after is not None and heap_before is not None else None
    result = {"label": label, "open": n, "errors": len(errors) + wake_errors, "seconds": seconds,
              "rss": per["VmRSS"], "pss": per["Pss"], "heap": heap, "idle_cpu": idle_cpu * 100,
              "woken": woken, "wake_p50": percentile(latencies, 50) * 1000, "wake_p99": percentile(latencies, 99) * 1000}
    print(f"\n  {label}: opened {n}/{args.sessions} in {seconds:.1f} s ({n / seconds:.0f}/s), errors {len(errors)}")
    for e in sorted(set(errors))[:5]:
        print(f"    error: {e} (x{errors.count(e)})")
    print(f"    before: {fmt_mem(before)}\n    after:  {fmt_mem(after)}")
    print(f"    per session: VmRSS {per['VmRSS']:.1f} KiB, Pss {per['Pss']:.1f} KiB"
          + (f", heap {heap / 1024:.1f} KiB" if heap is not None else ""))
    print(f"    idle CPU over {args.idle_seconds} s: {idle_cpu * 100:.2f}% of one core")
    print(f"    woke {woken}/{len(sample)}: latency p50 {result['wake_p50']:.1f} ms, p99 {result['wake_p99']:.1f} ms, "
          f"missed {wake_errors}")
    return result


def gateway_config(directory, peer, args):
    data = os.path.join(directory, "data")
    add_account(data, "idle", "idle-local", "idle-pw", "idle@example.test", "peer-pw",
                "--imap", f"imaps://localhost:{peer.port}")
    extra = ["--upstream.ca_file", os.path.join(directory, "peer.pem"), "--limits.max_sessions",
             str(args.sessions + 1000), "--limits.max_prelogin_sessions", "1000"]
    return data, extra


async def run(args):
    results = []
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="mailgate-idle-") as directory:
        cert, key = make_certificate(directory)
        for label in ("mailgate-plain", "mailgate-tls", "stunnel", "dovecot-proxy"):
            if label not in only:
                continue
            peer = Peer(directory, cert, key)  # a fresh peer (and port) per contender: no TIME_WAIT overlap
            try:
                if label == "stunnel":
                    if not shutil.which("stunnel4"):
                        print("\n  stunnel: stunnel4 not installed (bash deploy/install-deps.sh --bench)")
                        continue
                    stunnel = Stunnel(directory, "imap", peer.port, cert)
                    try:
                        results.append(await measure(label, stunnel.pids, stunnel.port, None, b"x y", args, peer))
                    finally:
                        stunnel.stop()
                    continue
                if label == "dovecot-proxy":
                    proxy = DovecotProxy("imap", peer.port, [("idle-local", "idle-pw", "idle@example.test",
                                                              "peer-pw")], args.sessions)
                    try:
                        results.append(await measure(label, proxy.pids, proxy.port, None, b"idle-local idle-pw",
                                                     args, peer))
                        problems = proxy.log_problems()
                        print(f"    Dovecot proxy log: {len(problems)} error lines")
                        for line in problems[:5]:
                            print(f"      {line.rstrip()}")
                    finally:
                        proxy.stop()
                    continue
                sub = os.path.join(directory, label)
                os.mkdir(sub)
                shutil.copy(cert, os.path.join(sub, "peer.pem"))
                data, extra = gateway_config(sub, peer, args)
                gw = Gateway(data_dir=data, extra_args=extra)
                gw.args[gw.args.index("--log.level") + 1] = "info"  # as deployed: one line per login
                with gw:
                    tls = None
                    port = gw.ports["imap"]
                    if label == "mailgate-tls":
                        tls = ssl.create_default_context(cafile=gw.cert_file)
                        port = gw.ports["imaps"]
                    results.append(await measure(label, lambda: [gw.proc.pid], port, tls, b"idle-local idle-pw", args, peer,
                                                 gw.ports["admin"]))
                    problems = [l for l in gw.log().splitlines() if "[warning]" in l or "[error]" in l]
                    print(f"    gateway log: {len(problems)} warning/error lines")
                    for line in problems[:5]:
                        print(f"      {line}")
            finally:
                peer.stop()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10000)
    parser.add_argument("--wake", type=int, default=200, help="sessions woken with new mail (a sample)")
    parser.add_argument("--concurrency", type=int, default=200, help="sessions being opened at once")
    parser.add_argument("--idle-seconds", type=int, default=20, help="how long idle CPU is measured")
    parser.add_argument("--only", default="mailgate-plain,mailgate-tls,stunnel,dovecot-proxy")
    parser.add_argument("--binary", default=os.environ.get("MAILGATE_BIN", os.path.join(HERE, "..", "..", "build",
                                                                                       "server", "mailgate")))
    args = parser.parse_args()
    if args.sessions > PER_ADDRESS * 250:  # the source addresses 127.1.0.1-250
        parser.error(f"at most {PER_ADDRESS * 250} sessions (250 source addresses)")
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))
    except (ValueError, OSError):
        pass  # no CAP_SYS_RESOURCE (a container): BenchRun raises the soft limit to the hard one
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    # Each session holds two of the gateway's descriptors (client and provider); the gateway keeps 128 in reserve and
    # caps limits.max_sessions to what fits (server/app/serve.cpp), refusing the rest with a temporary failure.
    most = (hard - 128) // 2
    if args.sessions > most:
        print(f"RLIMIT_NOFILE hard limit here is {hard} and cannot be raised (no CAP_SYS_RESOURCE): {most} sessions "
              f"is the most one gateway process can hold, so {most} instead of {args.sessions}. A deployment sets "
              f"LimitNOFILE=65536 (deploy/mailgate.service).")
        args.sessions = most
    bench = BenchRun(f"idle_bench: {args.sessions} IMAP IDLE sessions", args.binary)
    results = asyncio.run(run(args))
    summary = ["contender | opened | errors | open time | RSS/session | Pss/session | heap/session | idle CPU | "
               "wake p50 / p99"]
    for r in results:
        heap = f"{r['heap'] / 1024:.1f} KiB" if r["heap"] is not None else "n/a"
        summary.append(f"{r['label']} | {r['open']} | {r['errors']} | {r['seconds']:.1f} s | {r['rss']:.1f} KiB | "
                       f"{r['pss']:.1f} KiB | {heap} | {r['idle_cpu']:.2f}% | {r['wake_p50']:.1f} / "
                       f"{r['wake_p99']:.1f} ms")
    bench.finish(summary)


if __name__ == "__main__":
    main()
