#!/usr/bin/env python3
"""Login fairness under a password-guessing attack (run by hand: `python3 tests/bench/auth_bench.py`).

The gateway runs on its defaults (scrypt N=2^17, auth.* throttling) against the real rig. A legitimate user logs in
once a second from its own address over POP3, IMAP and SMTP in turn, first alone (the baseline of this run), then
while 60 connections from one address and 60 from six others guess passwords as fast as the gateway answers. It
prints the legitimate login latencies (p50/p99, and p99 against the baseline), the attackers' attempts and how many
of them were checked at all (the rest were refused unchecked), guesses per address per hour, and the gateway's peak
RSS during the attack. Loops are bounded in count and time; only 127.0.0.0/8 is used."""

import argparse
import base64
import concurrent.futures
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time

import bench_common
from bench_common import ALICE, BenchRig, BenchRun, proc_memory, report_gateway, start_gateway
from gateway import add_account

HOST = "127.0.0.1"
LEGIT_SOURCE = "127.0.9.1"
ONE_ADDRESS = "127.0.8.1"
SEVERAL = [f"127.0.8.{i}" for i in range(10, 16)]


def line_reader(sock):
    buf = b""

    def read_line():
        nonlocal buf
        while b"\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        line, _, buf = buf.partition(b"\r\n")
        return line
    return read_line


def login(protocol, port, user, password, source, timeout=60):
    """One plaintext login; True when it succeeded. The session ends at once (QUIT/LOGOUT)."""
    with socket.create_connection((HOST, port), timeout=timeout, source_address=(source, 0)) as s:
        read = line_reader(s)
        greeting = read()
        if protocol == "pop3":
            if not greeting.startswith(b"+OK"):
                return False
            s.sendall(f"USER {user}\r\nPASS {password}\r\n".encode())
            read()
            ok = read().startswith(b"+OK")
            s.sendall(b"QUIT\r\n")
            return ok
        if protocol == "imap":
            if not greeting.startswith(b"* OK"):
                return False
            s.sendall(f'a LOGIN "{user}" "{password}"\r\n'.encode())
            while True:
                reply = read()
                if reply.startswith(b"a "):
                    break
            s.sendall(b"b LOGOUT\r\n")
            return reply.startswith(b"a OK")
        if not greeting.startswith(b"220"):
            return False
        s.sendall(b"EHLO bench\r\n")
        while not read().startswith(b"250 "):
            pass
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        s.sendall(f"AUTH PLAIN {token}\r\n".encode())
        reply = read()
        s.sendall(b"QUIT\r\n")
        return reply.startswith(b"235")


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def legit_logins(gw, seconds, record):
    """Logs in once a second (POP3, IMAP, SMTP in turn) for `seconds`; appends (protocol, latency, ok)."""
    protocols = ["pop3", "imap", "smtp"]
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        protocol = protocols[i % 3]
        start = time.monotonic()
        try:
            ok = login(protocol, gw.ports[protocol], "alice-local", "alice-pw", LEGIT_SOURCE)
        except OSError:
            ok = False
        record.append((protocol, time.monotonic() - start, ok))
        i += 1
        time.sleep(max(0.0, 1.0 - (time.monotonic() - start)))


def attacker(gw, source, stop, counts, lock):
    protocols = ["pop3", "imap", "smtp"]
    rng = random.Random()  # every connection its own guesses (identical repeats are not counted as guesses)
    while not stop.is_set():
        protocol = rng.choice(protocols)
        user = rng.choice(["alice-local", "admin", "root", "info"])
        try:
            login(protocol, gw.ports[protocol], user, f"guess{rng.randrange(10**9)}", source, timeout=30)
        except OSError:
            pass
        with lock:
            counts[source] = counts.get(source, 0) + 1


def summarize(label, record):
    latencies = [lat for _, lat, _ in record]
    ok = sum(1 for *_, good in record if good)
    by = {p: [lat for q, lat, _ in record if q == p] for p in ("pop3", "imap", "smtp")}
    per = ", ".join(f"{p} p99 {percentile(v, 99) * 1000:.0f} ms" for p, v in by.items() if v)
    print(f"    {label}: {len(record)} logins, {ok} ok; p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p99 {percentile(latencies, 99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms ({per})")
    return percentile(latencies, 99), ok == len(record)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="attack duration (default 60)")
    parser.add_argument("--baseline-seconds", type=int, default=15)
    parser.add_argument("--binary", default=bench_common.gateway.MAILGATE_BIN)
    args = parser.parse_args()
    run = BenchRun("Login fairness under a password-guessing attack", args.binary)
    BenchRun.print_more_facts()
    rig = BenchRig(400, protocol="pop3", bench="auth_bench.py").start()
    tmp = tempfile.TemporaryDirectory(prefix="mailgate-auth-bench-")
    data = os.path.join(tmp.name, "data")
    p = rig.ports
    add_account(data, "alice", "alice-local", "alice-pw", ALICE, rig.users[ALICE],
                "--pop3", f"pop3s://{rig.host}:{p['pop3s']}", "--imap", f"imaps://{rig.host}:{p['imaps']}",
                "--smtp", f"smtps://{rig.host}:{p['smtps']}")
    gw = start_gateway(data, rig)
    summary = []
    try:
        login("pop3", gw.ports["pop3"], "alice-local", "alice-pw", LEGIT_SOURCE)  # as a user who logged in before
        baseline = []
        legit_logins(gw, args.baseline_seconds, baseline)
        print("\nLegitimate user, one login a second from its own address")
        base_p99, _ = summarize("alone (baseline)", baseline)

        stop, lock, counts = threading.Event(), threading.Lock(), {}
        sources = [ONE_ADDRESS] * 60 + [SEVERAL[i % len(SEVERAL)] for i in range(60)]
        rss_peak, rss_samples = 0, []
        rss_before = proc_memory(gw.proc.pid)["VmRSS"]
        under_attack = []
        with concurrent.futures.ThreadPoolExecutor(len(sources) + 1) as pool:
            for s in sources:
                pool.submit(attacker, gw, s, stop, counts, lock)
            legit = pool.submit(legit_logins, gw, args.seconds, under_attack)
            while not legit.done():
                rss = proc_memory(gw.proc.pid)["VmRSS"]
                rss_samples.append(rss)
                rss_peak = max(rss_peak, rss)
                time.sleep(0.25)
            stop.set()
        attack_p99, all_ok = summarize(f"under attack ({args.seconds} s)", under_attack)

        log = gw.log()
        checked = {s: 0 for s in set(sources)}
        for line in log.splitlines():
            if "local login failed" in line:
                for s in checked:
                    if f" from {s}: " in line:
                        checked[s] += 1
        refused_lines = log.count("further logins refused unchecked")
        attempts = sum(counts.values())
        print("\nAttackers (120 connections: 60 from one address, 60 from six others)")
        print(f"    attempts answered: {attempts}; checked (reached the password check): "
              f"{sum(checked.values())}; per address checked: " +
              ", ".join(f"{s} {n}" for s, n in sorted(checked.items())))
        print(f"    addresses that went to 'refused unchecked': {refused_lines}")
        worst = max(checked.values())
        print(f"    RSS before {rss_before // 1024} MiB, peak during the attack {rss_peak // 1024} MiB, "
              f"median {statistics.median(rss_samples) // 1024} MiB")
        problems = report_gateway(gw)
        summary += [
            f"legitimate login p99 alone {base_p99 * 1000:.0f} ms, under attack {attack_p99 * 1000:.0f} ms "
            f"(ratio {attack_p99 / base_p99:.2f}); all legitimate logins ok: {all_ok}",
            f"guesses checked per attacking address in {args.seconds} s: at most {worst} "
            f"(auth.max_failures 10 per auth.failure_window 900 s = at most 40 per address per hour)",
            f"attempts answered {attempts}, of which checked {sum(checked.values())}",
            f"gateway RSS peak under attack {rss_peak // 1024} MiB (bound: base + auth.kdf_threads x 128 MiB scrypt)",
            f"gateway warnings/errors: {len(problems)}; process "
            f"{'running' if gw.proc.poll() is None else 'EXITED'}",
        ]
    finally:
        gw.stop()
        rig.stop()
        tmp.cleanup()
    run.finish(summary)


if __name__ == "__main__":
    sys.exit(main())
