#!/usr/bin/env python3
"""Logins under concurrency against the real rig: 20 and 100 clients each looping connect, LOGIN, SELECT INBOX,
FETCH 1:* (FLAGS), LOGOUT (imaptest's login mix, in Python) directly against Dovecot's IMAPS and through the gateway
(plaintext and implicit TLS on the LAN side; the gateway logs in to the same Dovecot over verified TLS). Reports
logins/s and p50/p99 login latency (connect to the LOGIN reply, TLS included), medians of --repeats runs, and the
ratios gateway / direct measured in the same run. Also prints the gateway's provider-side TLS resumption counters.

    python3 tests/bench/login_bench.py [--clients 20,100] [--seconds 8] [--repeats 3]
Run as root (the rig needs it). Figures only: no timed assertions, no pass/fail. Traffic stays on 127.0.0.1."""

import argparse
import asyncio
import os
import ssl
import statistics
import tempfile
import time

from bench_common import (async_read_until as read_until, BenchRig, BenchRun, proc_cpu_seconds, resumption_counters,
                          start_gateway)
from gateway import add_account
import gateway

BOB = "bob@example.test"


async def one_session(host, port, tls, server_name, user, password, source):
    """Returns the login latency in seconds."""
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port, ssl=tls, server_hostname=server_name if tls else None,
                                                   local_addr=(source, 0))
    try:
        await read_until(reader, b"* OK")
        writer.write(b'a LOGIN "%s" "%s"\r\n' % (user.encode(), password.encode()))
        line = await read_until(reader, b"a ")
        if not line.startswith(b"a OK"):
            raise ConnectionError(f"login refused: {line!r}")
        latency = time.perf_counter() - t0
        writer.write(b"b SELECT INBOX\r\nc FETCH 1:* (FLAGS)\r\nd LOGOUT\r\n")
        await read_until(reader, b"b OK")
        await read_until(reader, b"c OK")
        await read_until(reader, b"d OK")
        return latency
    finally:
        writer.close()


async def measure(path, clients, seconds):
    host, port, tls, server_name, user, password = path
    latencies, errors = [], []
    deadline = time.monotonic() + seconds

    # Clients spread over 50 loopback addresses: a closed session may linger a moment at the gateway, and 100
    # clients from one address would meet its default per-address cap (100).
    async def worker(index):
        source = f"127.3.0.{index % 50 + 1}"
        while time.monotonic() < deadline:
            try:
                latencies.append(await asyncio.wait_for(
                    one_session(host, port, tls, server_name, user, password, source), 60))
            except Exception as e:  # counted and reported, never fatal
                errors.append(f"{type(e).__name__}: {e}")

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    elapsed = time.perf_counter() - t0
    latencies.sort()
    pick = lambda p: latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000  # noqa: E731
    return {"rate": len(latencies) / elapsed, "p50": pick(50), "p99": pick(99), "errors": errors,
            "sessions": len(latencies)}


async def run(rig, gw, args):
    direct_tls = ssl.create_default_context(cafile=rig.ca_file)
    lan_tls = ssl.create_default_context(cafile=gw.cert_file)
    paths = {
        "direct IMAPS": ("127.0.0.1", rig.ports["imaps"], direct_tls, rig.host, BOB, rig.users[BOB]),
        "gateway imap (plaintext)": ("127.0.0.1", gw.ports["imap"], None, None, "bob-local", "bob-pw"),
        "gateway imaps (TLS)": ("127.0.0.1", gw.ports["imaps"], lan_tls, "localhost", "bob-local", "bob-pw"),
    }
    for path in paths.values():  # warm: the gateway's credential cache, TLS tickets, Dovecot's login processes
        await measure(path, 4, 1)
    summary = []
    for clients in [int(c) for c in args.clients.split(",")]:
        print(f"\n  {clients} clients, {args.seconds:g} s per run, {args.repeats} runs (median)")
        print(f"    {'path':<26} {'logins/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'gw CPU ms/login':>16}")
        medians = {}
        for name, path in paths.items():
            runs = []
            for _ in range(args.repeats):
                cpu0 = proc_cpu_seconds(gw.proc.pid)
                r = await measure(path, clients, args.seconds)
                r["cpu"] = (proc_cpu_seconds(gw.proc.pid) - cpu0) * 1000 / max(1, r["sessions"])
                runs.append(r)
            med = {k: statistics.median(r[k] for r in runs) for k in ("rate", "p50", "p99", "cpu")}
            errors = sum(len(r["errors"]) for r in runs)
            medians[name] = med
            cpu = f"{med['cpu']:.2f}" if name.startswith("gateway") else "-"
            print(f"    {name:<26} {med['rate']:>9.1f} {med['p50']:>8.1f} {med['p99']:>8.1f} {errors:>7} {cpu:>16}")
            first = next((e for r in runs for e in r["errors"]), None)
            if first:
                print(f"      first error: {first}")
        d = medians["direct IMAPS"]
        for name in ("gateway imap (plaintext)", "gateway imaps (TLS)"):
            g = medians[name]
            line = (f"{clients} clients, {name}: logins/s {g['rate'] / d['rate']:.2f}x direct (target >= 0.9), "
                    f"p99 {g['p99'] / d['p99']:.2f}x direct (target <= 2), gateway CPU {g['cpu']:.2f} ms/login")
            print(f"    {line}")
            summary.append(line)
    offered, resumed = resumption_counters(gw)
    summary.append(f"provider TLS: {resumed} of {offered} offered sessions resumed")
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", default="20,100")
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--binary", default=gateway.MAILGATE_BIN, help="mailgate binary (default: the build tree's)")
    ap.add_argument("--gateway-arg", action="append", default=[],
                    help="extra gateway option, e.g. --gateway-arg=--upstream.tls_resumption=false (repeatable)")
    args = ap.parse_args()
    bench = BenchRun("login_bench: logins under concurrency, gateway vs direct", args.binary)
    bench.print_more_facts()
    most = max(int(c) for c in args.clients.split(","))
    with BenchRig(sessions=most * 2, protocol="imap", bench="login_bench.py") as rig, \
            tempfile.TemporaryDirectory(prefix="mailgate-bench-") as tmp:
        data_dir = os.path.join(tmp, "data")
        add_account(data_dir, "bob", "bob-local", "bob-pw", BOB, rig.users[BOB],
                    "--imap", f"imaps://{rig.host}:{rig.ports['imaps']}")
        for i in range(3):
            rig.deliver(BOB, b"Subject: small %d\r\n\r\nhello\r\n" % i)
        gw = start_gateway(data_dir, rig, args.gateway_arg)
        try:
            summary = asyncio.run(run(rig, gw, args))
        finally:
            gw.stop()
    bench.finish(summary)


if __name__ == "__main__":
    main()
