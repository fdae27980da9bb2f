#!/usr/bin/env python3
"""POP3 sessions/s and CPU per session: mailgate against stunnel and Dovecot's login proxy, on the real rig, in one run.

Every contender takes plaintext POP3 on 127.0.0.1 and speaks TLS to the rig's Dovecot POP3S, as on a LAN:
  mailgate          checks the local password (cached scrypt) and logs in with the stored provider password
  mailgate, no resumption   the same with upstream.tls_resumption = false (what resumption saves per handshake)
  stunnel           only adds TLS (the client logs in with the provider's credential itself); session cache on
  Dovecot proxy     the login proxy (SHA512-CRYPT local password, auth cache on), high-performance login mode,
                    TLS to the provider unverified (ssl=any-cert, see peers.py)
and "direct POP3S" (the client does TLS itself) shows what the provider can do. A session is connect, USER, PASS,
STAT, QUIT. For 4 and 32 concurrent clients, rounds interleave the contenders; figures are medians of the rounds.
CPU per session = the contender's own processes (utime + stime) over the sessions it completed.

    python3 tests/bench/pop3_peers_bench.py [--rounds 3] [--seconds 8] [--clients 4,32]
Run as root (the rig needs it). Prints figures and ratios only: no timed assertions, no pass/fail.
"""

import argparse
import os
import socket
import statistics
import tempfile

from bench_common import (BOB, BenchRig, BenchRun, IO_TIMEOUT, gateway, proc_cpu_seconds, report_gateway,
                          resumption_counters, run_sessions, start_gateway)
from gateway import add_account
from peers import DovecotProxy, Stunnel
from pop3_bench import Pop3Conn, connect_direct, full_session


def plain_connect(port):
    raw = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return Pop3Conn(raw)


# The rig's Dovecot normally runs one pop3-login process per core, each with its own TLS ticket key, so a ticket is
# only good at the process that issued it and about half of all resumptions fail at random. A provider's frontends
# share their ticket keys (resumption works wherever the connection lands), so here one login process serves every
# POP3S connection; `mailgate_upstream_tls_resumed_total` in the summary shows how many handshakes were resumed.
ONE_LOGIN_PROCESS = """service pop3-login {
  process_min_avail = 1
  process_limit = 1
}
"""


class Contender:
    def __init__(self, label, session, cpu_seconds):
        self.label, self.session, self.cpu_seconds = label, session, cpu_seconds
        self.rates, self.cpu_ms, self.errors, self.first_error = {}, {}, {}, {}


def measure(contender, clients, args):
    cpu0 = contender.cpu_seconds() if contender.cpu_seconds else 0.0
    done, errors, first, elapsed = run_sessions(contender.session, clients, args.max_sessions, args.seconds)
    cpu = (contender.cpu_seconds() - cpu0) if contender.cpu_seconds else None
    contender.rates.setdefault(clients, []).append(done / elapsed)
    if cpu is not None and done:
        contender.cpu_ms.setdefault(clients, []).append(1000 * cpu / done)
    contender.errors[clients] = contender.errors.get(clients, 0) + errors
    if first and clients not in contender.first_error:
        contender.first_error[clients] = first
    cpu_text = f"{1000 * cpu / done:6.2f} ms/session" if cpu is not None and done else ""
    print(f"    {clients:>3} clients  {contender.label:<28} {done:>6} sessions {errors:>4} errors "
          f"{done / elapsed:>8.1f}/s  {cpu_text}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds per client count (medians of these)")
    ap.add_argument("--seconds", type=float, default=8, help="seconds per contender per round")
    ap.add_argument("--max-sessions", type=int, default=100000, help="bound on sessions per measurement")
    ap.add_argument("--clients", default="4,32", help="comma-separated concurrent client counts")
    ap.add_argument("--binary", default=gateway.MAILGATE_BIN, help="mailgate binary (default: the build tree's)")
    args = ap.parse_args()
    client_counts = [int(c) for c in args.clients.split(",")]

    run = BenchRun("POP3 sessions/s: mailgate, stunnel, Dovecot's login proxy", args.binary)
    most = max(client_counts)
    summary = []
    with BenchRig(sessions=4 * most, bench="pop3_peers_bench.py", extra=ONE_LOGIN_PROCESS) as rig, \
            tempfile.TemporaryDirectory(prefix="mailgate-peers-") as tmp:
        data_dir = os.path.join(tmp, "data")
        pop3s = f"pop3s://{rig.host}:{rig.ports['pop3s']}"
        add_account(data_dir, "bob", "bob-local", "bob-pw", BOB, rig.users[BOB], "--pop3", pop3s)
        for i in range(3):
            rig.deliver(BOB, b"From: sender@example.test\r\nTo: bob@example.test\r\nSubject: small %d\r\n\r\n"
                             b"hello\r\n" % i)
        limits = ["--limits.max_sessions_per_address", str(4 * most)]
        running = []  # stopped at the end, whatever fails on the way
        try:
            gw = start_gateway(data_dir, rig, limits)
            running.append(gw)
            gw_off = start_gateway(data_dir, rig, [*limits, "--upstream.tls_resumption", "false"])
            running.append(gw_off)
            stunnel = Stunnel(tmp, "pop3", rig.ports["pop3s"], rig.ca_file)
            running.append(stunnel)
            proxy = DovecotProxy("pop3", rig.ports["pop3s"],
                                 [("bob-local", "bob-pw", BOB, rig.users[BOB])], 4 * most)
            running.append(proxy)
            contenders = [
                Contender("mailgate", lambda: full_session(lambda: plain_connect(gw.ports["pop3"]), "bob-local",
                                                           "bob-pw"), lambda: proc_cpu_seconds(gw.proc.pid)),
                Contender("mailgate, no resumption",
                          lambda: full_session(lambda: plain_connect(gw_off.ports["pop3"]), "bob-local", "bob-pw"),
                          lambda: proc_cpu_seconds(gw_off.proc.pid)),
                Contender("stunnel", lambda: full_session(lambda: plain_connect(stunnel.port), BOB, rig.users[BOB]),
                          stunnel.cpu_seconds),
                Contender("Dovecot proxy", lambda: full_session(lambda: plain_connect(proxy.port), "bob-local",
                                                                "bob-pw"), proxy.cpu_seconds),
                Contender("direct POP3S (no peer)",
                          lambda: full_session(lambda: connect_direct(rig), BOB, rig.users[BOB]), None),
            ]
            for c in contenders:  # warm-up: credential caches, session caches, login processes
                for _ in range(3):
                    c.session()
            print(f"\nSessions of connect + USER + PASS + STAT + QUIT, {args.seconds:g} s per contender per round, "
                  f"{args.rounds} rounds (mailbox {BOB}: 3 small messages)")
            for clients in client_counts:
                for r in range(args.rounds):
                    print(f"  round {r + 1}")
                    for c in contenders:
                        measure(c, clients, args)
            print()
            offered, resumed = resumption_counters(gw)
            resumption = f"mailgate: {resumed} of {offered} provider handshakes that offered a session resumed"
            report_gateway(gw, " (mailgate)")
            report_gateway(gw_off, " (mailgate, no resumption)")
            problems = proxy.log_problems()
            print(f"    Dovecot proxy log: {len(problems)} error lines")
            for line in problems[:5]:
                print(f"      {line.rstrip()}")
        finally:
            for peer in running:
                peer.stop()

    summary.append("clients | contender | sessions/s (median) | CPU ms/session (median) | errors")
    for clients in client_counts:
        for c in contenders:
            cpu = f"{statistics.median(c.cpu_ms[clients]):.2f}" if c.cpu_ms.get(clients) else "-"
            summary.append(f"{clients} | {c.label} | {statistics.median(c.rates[clients]):.1f} | {cpu} | "
                           f"{c.errors.get(clients, 0)}")
    for clients in client_counts:
        rate = {c.label: statistics.median(c.rates[clients]) for c in contenders}
        cpu = {c.label: statistics.median(c.cpu_ms[clients]) for c in contenders if c.cpu_ms.get(clients)}
        better = max(("stunnel", "Dovecot proxy"), key=lambda k: rate[k])
        summary.append(f"{clients} clients: mailgate / better peer ({better}) sessions/s "
                       f"{rate['mailgate'] / rate[better]:.2f} (target >= 1.0); mailgate CPU "
                       f"{cpu.get('mailgate', float('nan')):.2f} ms/session (target <= 1.5); stunnel "
                       f"{cpu.get('stunnel', float('nan')):.2f}, Dovecot proxy "
                       f"{cpu.get('Dovecot proxy', float('nan')):.2f}; resumption saves "
                       f"{cpu.get('mailgate, no resumption', float('nan')) - cpu.get('mailgate', float('nan')):.2f} "
                       f"ms/session")
    summary.append(resumption)
    run.finish(summary)


if __name__ == "__main__":
    main()
