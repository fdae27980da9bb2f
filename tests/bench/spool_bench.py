#!/usr/bin/env python3
"""Benchmark of the SMTP spool (smtp.spool) against the real Postfix rig, in one run:
(a) messages/s into the spool: a device (no AUTH, from access.relay_without_auth) sends N messages in one session
    while the provider is unreachable, so every 250 waits only for the gateway's fsyncs (file and directory);
    compared with direct SMTPS submission to Postfix (which also fsyncs its queue file) and with the gateway's live
    path (an authenticated client, 250 only after Postfix's 250);
(b) delivery rate out of the spool once the provider is back (the scheduler's concurrency, verified TLS and AUTH
    per delivery), against the same direct submission rate.
Every message is read back over IMAP afterwards and its body compared; each path must deliver all N exactly once.

Run by hand as root (the rig needs it): python3 tests/bench/spool_bench.py [--messages N] [--size BYTES] [--help]
Prints figures and ratios only: no timed assertions, no pass/fail. All traffic stays on 127.0.0.1.
"""

import argparse
import os
import socket
import statistics
import tempfile
import time

from bench_common import ALICE, BOB, IO_TIMEOUT, BenchRun, proc_cpu_seconds, report_gateway, sha256
from gateway import Gateway, add_account
from rig import ProviderRig, _PlainPortRelay, reserve_port
from smtp_bench import Mailbox, SmtpConn, connect_direct, connect_gateway, dot_stuff, verify

SCANNER = "scanner@office.test"


def connect_device(gw):
    """Client -> gateway plaintext SMTP port without AUTH (a scanner on the relay network)."""
    raw = socket.create_connection(("127.0.0.1", gw.ports["smtp"]), timeout=IO_TIMEOUT)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = SmtpConn(raw)
    conn.expect(b"220")
    conn.command(b"EHLO scanner.office.test", b"250")
    return conn


def messages(n, size, tag):
    line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n"
    body = (line * (size // len(line) + 1))[:size - 2] + b"\r\n"
    out = []
    for i in range(n):
        text = b"Subject: %s %d\r\n\r\n%s %d\r\n" % (tag.encode(), i, tag.encode(), i) + body
        out.append((text.split(b"\r\n\r\n", 1)[1], dot_stuff(text)))
    return out


def send_all(conn, sender, batch):
    t0 = time.perf_counter()
    for _, stuffed in batch:
        conn.send_message(sender, BOB, stuffed)
    return time.perf_counter() - t0


def spool_empty(data_dir):
    queue = os.path.join(data_dir, "spool", "queue")
    return not any(n.endswith(".msg") for n in os.listdir(queue))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200, help="messages per path (default 200)")
    parser.add_argument("--size", type=int, default=4096, help="body bytes per message (default 4096)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported (default 3)")
    parser.add_argument("--seconds", type=float, default=600, help="time budget for all rounds (default 600)")
    args = parser.parse_args()
    run = BenchRun("SMTP spool benchmark (tests/bench/spool_bench.py)",
                   os.environ.get("MAILGATE_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "build",
                                                                  "server", "mailgate"))
    BenchRun.print_more_facts(postfix=True)
    rig = ProviderRig().start()
    tmp = tempfile.TemporaryDirectory(prefix="mailgate-spool-bench-")
    summary = []
    try:
        mailbox = Mailbox(rig)
        mailbox.empty()
        port = reserve_port()  # the spooled account's provider: closed until (b)
        data = os.path.join(tmp.name, "data")
        add_account(data, "alice", "alice-local", "alice-pw", ALICE, rig.users[ALICE],
                    "--smtp", f"smtps://{rig.host}:{rig.ports['smtps']}")
        add_account(data, "scanner", "scanner-local", "scanner-pw", ALICE, rig.users[ALICE],
                    "--smtp", f"smtps://{rig.host}:{port}", "--sender", SCANNER)
        gw = Gateway(data_dir=data, extra_args=["--upstream.ca_file", rig.ca_file, "--access.relay_without_auth",
                                                "127.0.0.1/32", "--smtp.spool_retry", "1"])
        gw.args[gw.args.index("--log.level") + 1] = "info"
        gw.start()
        n = args.messages
        print(f"\n{n} messages of {args.size} body bytes per path and round, one session each, {args.rounds} rounds")
        rates = {"direct SMTPS 465": [], "gateway live (AUTH)": [], "gateway spool (device)": [],
                 "spool delivery": []}
        fsync_cpu = []
        checks = {name: [0, 0] for name in rates}
        deadline = time.monotonic() + args.seconds
        for r in range(args.rounds):
            if time.monotonic() > deadline:
                print("    (time budget reached, fewer rounds)")
                break
            for name, connect, sender in (("direct SMTPS 465", lambda: connect_direct(rig), ALICE),
                                          ("gateway live (AUTH)", lambda: connect_gateway(gw), ALICE)):
                batch = messages(n, args.size, f"{name} r{r}")
                conn = connect()
                elapsed = send_all(conn, sender, batch)
                conn.quit()
                rates[name].append(n / elapsed)
                text, ok = verify([sha256(b) for b, _ in batch], mailbox.collect(n, 120))
                checks[name][0] += ok
                checks[name][1] += 1
            # (a) into the spool, provider unreachable
            batch = messages(n, args.size, f"spool r{r}")
            conn = connect_device(gw)
            cpu0 = proc_cpu_seconds(gw.proc.pid)
            elapsed = send_all(conn, SCANNER, batch)
            fsync_cpu.append((proc_cpu_seconds(gw.proc.pid) - cpu0) / n * 1000)
            conn.quit()
            rates["gateway spool (device)"].append(n / elapsed)
            # (b) out of the spool once the provider is back
            relay = _PlainPortRelay(port, rig.ports["smtps"])
            t0 = time.perf_counter()
            while not spool_empty(data) and time.perf_counter() - t0 < 300:
                time.sleep(0.05)
            elapsed = time.perf_counter() - t0
            relay.close()
            rates["spool delivery"].append(n / elapsed)
            text, ok = verify([sha256(b) for b, _ in batch], mailbox.collect(n, 120))
            for name in ("gateway spool (device)", "spool delivery"):
                checks[name][0] += ok
                checks[name][1] += 1
        print(f"    {'path':<24} {'median msg/s':>12}  {'all rounds':<30} {'delivered exactly once':>22}")
        median = {}
        for name, runs in rates.items():
            median[name] = statistics.median(runs)
            print(f"    {name:<24} {median[name]:>12.1f}  {' '.join(f'{x:.1f}' for x in runs):<30} "
                  f"{checks[name][0]}/{checks[name][1]} rounds")
        print(f"    gateway CPU per spooled message: {statistics.median(fsync_cpu):.2f} ms (median)")
        into = median["gateway spool (device)"] / median["direct SMTPS 465"]
        vs_live = median["gateway spool (device)"] / median["gateway live (AUTH)"]
        out = median["spool delivery"] / median["direct SMTPS 465"]
        print(f"    ratio into the spool / direct submission: {into:.2f}")
        print(f"    ratio into the spool / gateway live path: {vs_live:.2f}")
        print(f"    ratio delivery out of the spool / direct submission: {out:.2f}")
        summary += [f"into the spool {median['gateway spool (device)']:.0f} msg/s = {into:.2f} x direct SMTPS, "
                    f"{vs_live:.2f} x the live gateway path",
                    f"delivery out of the spool {median['spool delivery']:.0f} msg/s = {out:.2f} x direct SMTPS"]
        report_gateway(gw)
        gw.stop()
    finally:
        rig.stop()
        tmp.cleanup()
    run.finish(summary)


if __name__ == "__main__":
    main()
