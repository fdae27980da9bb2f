#!/usr/bin/env python3
"""Throwaway "mail provider" for mailgate integration tests: a real Dovecot
(IMAP/POP3/LMTP/SASL) and a real Postfix (SMTPS/submission) on 127.0.0.1.

Library use:
    with ProviderRig() as rig:
        rig.ports["imaps"], rig.ca_file, rig.deliver(...), ...
CLI use:
    python3 tests/integration/rig.py serve   # prints one JSON line, runs until SIGTERM/SIGINT

Needs root (Dovecot/Postfix drop privileges to their own users) and the Debian
packages dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd postfix openssl.
Stdlib only.
"""

import atexit
import fcntl
import grp
import imaplib
import json
import os
import pwd
import select
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

DOVECOT_BIN = "/usr/sbin/dovecot"
POSTFIX_MASTER = "/usr/lib/postfix/sbin/master"
# Mail is stored as Debian's "mail" user (uid/gid 8): a real unprivileged uid,
# so Dovecot's first_valid_uid check can stay meaningful (we set it to 8).
MAIL_USER = "mail"

DEFAULT_USERS = {
    "alice@example.test": "alice-secret-1",
    "bob@example.test": "bob-secret-2",
}
DOMAIN = "example.test"
LOOPBACK = "127.0.0.1"

# Every rig that has been started and not yet stopped; swept at interpreter
# exit. Strong references on purpose: a forgotten rig must still be stopped.
_live_rigs = set()
_live_lock = threading.Lock()


def _stop_all_live_rigs():
    with _live_lock:
        rigs = list(_live_rigs)
    for rig in rigs:
        try:
            rig.stop()
        except Exception as exc:  # never let one rig block cleanup of the others
            print(f"rig: cleanup error: {exc}", file=sys.stderr)


atexit.register(_stop_all_live_rigs)


def _install_sigterm_cleanup():
    """Turn SIGTERM into SystemExit (so atexit + __exit__ run) if nobody else
    has claimed SIGTERM. Only possible from the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        def _on_term(signum, _frame):
            raise SystemExit(128 + signum)
        signal.signal(signal.SIGTERM, _on_term)


# Watchdog: a tiny separate process that holds the read end of a pipe from
# the rig's owner. If the owner dies in a way that runs no cleanup code at all
# (SIGKILL, e.g. a CI timeout), the pipe hits EOF and the watchdog kills the
# daemons' process groups and removes the temp dir. (PR_SET_PDEATHSIG is not
# enough: Postfix master changes its effective uid, which clears it.)
_WATCHDOG_SRC = r"""
import os, shutil, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
rig_dir, keep = sys.argv[1], sys.argv[2] == "1"
groups = set()
for line in sys.stdin:
    cmd, _, arg = line.strip().partition(" ")
    if cmd == "add":
        groups.add(int(arg))
    elif cmd == "del":
        groups.discard(int(arg))
    elif cmd == "done":
        sys.exit(0)
# EOF without "done": the owner died without cleaning up.
for sig in (signal.SIGTERM, signal.SIGKILL):
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass
    time.sleep(0.5)
if not keep:
    shutil.rmtree(rig_dir, ignore_errors=True)
"""


# ------------------------------------------------------------------ ports
# ctest -j runs test modules as parallel processes, each starting Dovecot, Postfix and gateways on ports it picked
# beforehand. Picking with bind(port 0) and releasing the socket is a race: until the daemon binds, the kernel may
# hand the same port to another process's bind(0) or to any outgoing connect() as its source port. So ports come
# from outside the kernel's ephemeral range (the kernel never assigns those on its own, neither for bind(0) nor for
# connect()), split into blocks, and each test process owns its blocks through an exclusive flock(2) on one lock
# file per block. The kernel drops a flock when its process dies, even by SIGKILL, so a crashed run never leaks a
# block. Within a process a counter never hands out a port twice. A port some unrelated program holds for good is
# skipped by a bind probe (that is an occupant, not a race).
PORT_BLOCK_SIZE = 200
_PORT_LOCK_DIR = os.environ.get("MAILGATE_TEST_PORT_LOCK_DIR", "/tmp/mailgate-test-ports")
_PORT_FLOOR = 15000
_ports_lock = threading.Lock()
_port_blocks = []  # [(lock file descriptor, first port, end)] owned by this process, in claim order
_next_port = None


def _port_range():
    """[first, end) of the largest span of ports in _PORT_FLOOR..65535 outside the ephemeral range."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux default
    spans = [(_PORT_FLOOR, low), (high + 1, 65536)]
    return max(spans, key=lambda span: span[1] - span[0])


def _claim_port_block():
    os.makedirs(_PORT_LOCK_DIR, mode=0o1777, exist_ok=True)
    first, end = _port_range()
    owned = {block_start for _, block_start, _ in _port_blocks}
    for start in range(first, end - PORT_BLOCK_SIZE + 1, PORT_BLOCK_SIZE):
        if start in owned:
            continue
        # A bare descriptor, kept open until the process exits: not inherited by children (PEP 446), and no
        # ResourceWarning at exit as an unclosed file object would give.
        fd = os.open(os.path.join(_PORT_LOCK_DIR, f"block-{start}.lock"), os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _port_blocks.append((fd, start, start + PORT_BLOCK_SIZE))
        return start
    raise RigError(f"no free block of {PORT_BLOCK_SIZE} test ports in {first}-{end - 1} ({_PORT_LOCK_DIR})")


def _bindable(port, host):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def reserve_port(host=LOOPBACK):
    """A TCP port no other test process gets and the kernel never assigns on its own (see above); it stays this
    process's until it exits. Nothing listens on it until the caller starts a server there."""
    global _next_port
    with _ports_lock:
        while True:
            if _next_port is None or _next_port >= _port_blocks[-1][2]:
                _next_port = _claim_port_block()
            port = _next_port
            _next_port += 1
            if _bindable(port, host):
                return port


def reserve_ports(n, host=LOOPBACK):
    """n distinct ports from reserve_port()."""
    return [reserve_port(host) for _ in range(n)]


def _live_pids_in_group(pgid):
    """PIDs of non-zombie processes in process group pgid (Linux /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # Fields after the parenthesised command name: state ppid pgrp ...
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            pids.append(int(entry))
    return pids


def _run(cmd, **kw):
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if res.returncode != 0:
        raise RuntimeError(f"command failed ({res.returncode}): {' '.join(cmd)}\n{res.stdout}")
    return res.stdout


def _tail(path, lines=40):
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)\n"


class _PlainPortRelay:
    """TCP relay 127.0.0.1:<public> -> 127.0.0.1:<backend>, connecting from
    source address 127.0.0.2.

    Why: Dovecot hard-codes "remote IP == local IP => connection is secured"
    (login-common/client-common.c), so a client on 127.0.0.1 talking to
    127.0.0.1 could LOGIN in plaintext despite disable_plaintext_auth=yes.
    Through this relay Dovecot sees rip=127.0.0.2, lip=127.0.0.1 and enforces
    STARTTLS/STLS like a real provider. Bytes (including the TLS handshake
    after STARTTLS) pass through untouched.
    """

    SOURCE_IP = "127.0.0.2"

    def __init__(self, public_port, backend_port):
        self.public_port = public_port
        self.backend_port = backend_port
        self._lock = threading.Lock()
        self._conns = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((LOOPBACK, public_port))
        self._listener.listen(64)
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True,
                         name=f"rig-relay-{public_port}").start()

    def _accept_loop(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # listener closed
            upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                upstream.bind((self.SOURCE_IP, 0))
                upstream.settimeout(5)
                upstream.connect((LOOPBACK, self.backend_port))
                upstream.settimeout(None)
            except OSError:
                # Backend down: drop the client (like a reset) and carry on.
                upstream.close()
                client.close()
                continue
            with self._lock:
                if self._closed:
                    client.close()
                    upstream.close()
                    return
                self._conns.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a, b):
        peer = {a: b, b: a}
        open_dirs = {a, b}  # sockets we still read from
        try:
            while open_dirs:
                readable, _, _ = select.select(list(open_dirs), [], [])
                for src in readable:
                    data = src.recv(65536)
                    if data:
                        peer[src].sendall(data)
                    else:  # EOF: propagate the half-close
                        open_dirs.discard(src)
                        try:
                            peer[src].shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
        except (OSError, ValueError):
            pass  # reset, or closed by close()
        finally:
            with self._lock:
                self._conns.difference_update((a, b))
            a.close()
            b.close()

    def close(self):
        with self._lock:
            self._closed = True
            conns = list(self._conns)
        # shutdown() first: on Linux it wakes the thread blocked in accept()
        # and stops listening at once; a bare close() would leave the socket
        # listening until that accept() returned.
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class RigError(RuntimeError):
    pass


class ProviderRig:
    """A real Dovecot + Postfix provider on 127.0.0.1 with dynamic ports.

    Attributes (valid after start()):
      dir            temp dir holding everything
      ca_file        PEM of the CA that signed the server cert (SAN = DNS:localhost only)
      other_ca_file  PEM of an unrelated CA (for "untrusted certificate" tests)
      host           "localhost" (the only name the server cert is valid for)
      ports          {"imaps","imap","pop3s","pop3","smtps","submission","lmtp"} -> int
                     (imap/pop3 offer STARTTLS/STLS; submission requires STARTTLS)
      users          {address: password}
      oauth          the OAuth2 authorization server given as oauth= (oauth_rig.OAuthServer), or None

    With oauth=OAuthServer(...), start() also starts that server (with a certificate from the rig CA) before
    Dovecot, stop() stops it after, and the provider accepts its access tokens: Dovecot gets an oauth2 passdb
    (XOAUTH2 and OAUTHBEARER on IMAP, POP3 and, through Dovecot SASL, Postfix's smtps and submission) that
    introspects each token at that server. Without it nothing changes.
    """

    PORT_NAMES = ("imaps", "imap", "pop3s", "pop3", "smtps", "submission", "lmtp")

    def __init__(self, users=None, start_timeout=20.0, keep=None, oauth=None):
        self.users = dict(users or DEFAULT_USERS)
        self.oauth = oauth
        self.start_timeout = start_timeout
        self.keep = os.environ.get("MAILGATE_RIG_KEEP") == "1" if keep is None else keep
        self.host = "localhost"
        self.dir = None
        self.ca_file = None
        self.other_ca_file = None
        self._ca_key = None
        self.ports = {}
        self.auth_port = None  # Dovecot auth inet listener used by Postfix SASL
        self.backend_ports = {}  # Dovecot's own plain imap/pop3 ports (behind the relays)
        self._relays = []
        self._dovecot = None
        self._postfix = None
        self._watchdog = None
        self._stopped = True

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        if not self._stopped:
            raise RigError("rig already started")
        if os.geteuid() != 0:
            raise RigError("ProviderRig must run as root (Dovecot/Postfix drop privileges themselves)")
        self._stopped = False
        with _live_lock:
            _live_rigs.add(self)
        _install_sigterm_cleanup()
        try:
            self.dir = tempfile.mkdtemp(prefix="mailgate-rig-")
            # mkdtemp gives 0700; Dovecot/Postfix children running as dovecot,
            # dovenull, postfix and mail must be able to traverse it.
            os.chmod(self.dir, 0o755)
            self._watchdog = subprocess.Popen(
                [sys.executable, "-c", _WATCHDOG_SRC, self.dir, "1" if self.keep else "0"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                text=True, start_new_session=True)
            ports = reserve_ports(len(self.PORT_NAMES) + 3)
            self.ports = dict(zip(self.PORT_NAMES, ports))
            self.auth_port = ports[-3]
            self.backend_ports = {"imap": ports[-2], "pop3": ports[-1]}
            self._make_certs()
            if self.oauth is not None:
                self.oauth.start(rig=self)
            self._write_dovecot_config()
            self._write_postfix_config()
            self.start_dovecot()
            self.start_postfix()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Stop both daemons (idempotent) and remove the temp dir unless kept."""
        if self._stopped:
            return
        self._stopped = True
        errors = []
        stops = [self.stop_postfix, self.stop_dovecot]
        if self.oauth is not None:
            stops.append(self.oauth.stop)
        for fn in stops:
            try:
                fn()
            except Exception as exc:
                errors.append(exc)
        self._tell_watchdog("done")
        if self._watchdog is not None:
            self._watchdog.stdin.close()
            self._watchdog.wait()
            self._watchdog = None
        with _live_lock:
            _live_rigs.discard(self)
        if self.dir:
            if self.keep:
                print(f"rig: keeping {self.dir}", file=sys.stderr)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
        if errors:
            raise RigError(f"errors while stopping rig: {errors}")

    # ------------------------------------------------------------------ paths
    def _p(self, *parts):
        return os.path.join(self.dir, *parts)

    @property
    def dovecot_log(self):
        return self._p("dovecot.log")

    @property
    def postfix_log(self):
        return self._p("postfix", "postfix.log")

    def log_tail(self, lines=40):
        """Last lines of every daemon log (for error messages)."""
        out = []
        for path in (self._p("dovecot.stderr"), self.dovecot_log,
                     self._p("postfix", "master.stderr"), self.postfix_log):
            if os.path.exists(path) and os.path.getsize(path):
                out.append(f"--- {os.path.relpath(path, self.dir)} ---\n{_tail(path, lines)}")
        return "".join(out) or "(all logs empty)\n"

    # ------------------------------------------------------------------ TLS
    def _make_certs(self):
        d = self._p("tls")
        os.mkdir(d)
        cnf = os.path.join(d, "openssl.cnf")
        # Own config so the host's openssl.cnf defaults cannot leak in. The
        # extensions satisfy strict X.509 verification (AKI/SKI, keyUsage).
        with open(cnf, "w") as f:
            f.write("""\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
# Deliberately NO IP SAN: connecting to 127.0.0.1 must fail host-name checks.
subjectAltName = DNS:localhost
""")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

        def make_ca(name, cn):
            key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
            _run(["openssl", "req", "-config", cnf, "-x509", *ec, "-keyout", key, "-out", crt,
                  "-days", "30", "-subj", "/CN=" + cn, "-extensions", "v3_ca"])
            return key, crt

        ca_key, self.ca_file = make_ca("ca", "mailgate rig CA")
        self._other_ca_key, self.other_ca_file = make_ca("other-ca", "mailgate rig unrelated CA")
        self._ca_key = ca_key
        self._openssl_cnf = cnf
        self.server_key = os.path.join(d, "server.key")
        self.server_cert = os.path.join(d, "server.crt")
        csr = os.path.join(d, "server.csr")
        _run(["openssl", "req", "-config", cnf, "-new", *ec, "-keyout", self.server_key,
              "-out", csr, "-subj", "/CN=localhost"])
        _run(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca_file, "-CAkey", ca_key,
              "-set_serial", str(int(time.time() * 1000)), "-days", "30",
              "-extfile", cnf, "-extensions", "v3_server", "-out", self.server_cert])
        # Postfix wants key then cert chain in one file (smtpd_tls_chain_files).
        self.server_chain = os.path.join(d, "server-chain.pem")
        with open(self.server_chain, "w") as out:
            for src in (self.server_key, self.server_cert):
                with open(src) as f:
                    out.write(f.read())
        for path in (self.server_key, self.server_chain, ca_key):
            os.chmod(path, 0o600)
        # Read by clients that may not run as root.
        for path in (self.ca_file, self.other_ca_file, self.server_cert):
            os.chmod(path, 0o644)

    def issue_server_cert(self, name, dns_names=("localhost",), ip_addresses=(), ca="rig"):
        """A new P-256 server key and certificate for another test server (e.g. the OAuth2 authorization server),
        signed by the rig CA (ca="rig", what rig.ca_file trusts) or by the unrelated one (ca="other"), with exactly
        the given DNS and IP subject alternative names. Returns (cert_path, key_path); the key is 0600."""
        if self.dir is None or self._ca_key is None:
            raise RigError("issue_server_cert needs a started rig")
        ca_cert, ca_key = {"rig": (self.ca_file, self._ca_key),
                           "other": (self.other_ca_file, self._other_ca_key)}[ca]
        d = self._p("tls")
        sans = [f"DNS:{n}" for n in dns_names] + [f"IP:{a}" for a in ip_addresses]
        if not sans:
            raise RigError("issue_server_cert needs at least one DNS name or IP address")
        ext = os.path.join(d, name + ".ext")
        with open(ext, "w") as f:
            f.write("""\
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = """ + ", ".join(sans) + "\n")
        key, crt, csr = (os.path.join(d, name + x) for x in (".key", ".crt", ".csr"))
        _run(["openssl", "req", "-config", self._openssl_cnf, "-new", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
              "-subj", "/CN=" + [*dns_names, *ip_addresses][0]])
        _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
              "-set_serial", str(time.time_ns() // 1000), "-days", "30",
              "-extfile", ext, "-extensions", "v3_server", "-out", crt])
        os.chmod(key, 0o600)
        os.chmod(crt, 0o644)
        return crt, key

    # ------------------------------------------------------------------ Dovecot
    def _write_dovecot_config(self):
        mail = pwd.getpwnam(MAIL_USER)
        dovecot_gid = grp.getgrnam("dovecot").gr_gid
        for sub in ("run", "state"):
            os.mkdir(self._p(sub), 0o755)
        maildir_root = self._p("mail")
        os.mkdir(maildir_root, 0o700)
        os.chown(maildir_root, mail.pw_uid, mail.pw_gid)

        passwd = self._p("passwd")
        with open(passwd, "w") as f:
            for user, pw in self.users.items():
                f.write(f"{user}:{{PLAIN}}{pw}\n")
        # The auth process (which reads passwd-file) runs as user dovecot.
        os.chown(passwd, 0, dovecot_gid)
        os.chmod(passwd, 0o640)

        p = self.ports
        mechanisms, oauth_passdb = "plain login", ""
        if self.oauth is not None:
            mechanisms += " xoauth2 oauthbearer"
            oauth_passdb = f"""
# OAuth2 access tokens (oauth= given): only for these mechanisms, after the password passdb (a token is never a
# user's password, so that one fails and this one decides).
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {self._write_dovecot_oauth2_config(dovecot_gid)}
}}"""
        conf = f"""\
# Generated by tests/integration/rig.py - throwaway provider instance.
instance_name = mailgate-rig-{os.path.basename(self.dir)}
base_dir = {self._p('run')}
state_dir = {self._p('state')}
log_path = {self.dovecot_log}
info_log_path = {self.dovecot_log}
debug_log_path = {self.dovecot_log}
protocols = imap pop3 lmtp
listen = {LOOPBACK}
shutdown_clients = yes

ssl = yes
ssl_cert = <{self.server_cert}
ssl_key = <{self.server_key}
ssl_min_protocol = TLSv1.2
# Login only after TLS, like real providers. Dovecot treats rip == lip as
# secure, hence the 127.0.0.2 relay in front of the plain ports.
disable_plaintext_auth = yes
auth_mechanisms = {mechanisms}
auth_verbose = yes
# Fail fast: no 2 s failure delay, and no per-IP auth penalty (anvil adds up
# to 15 s to *every* later login from 127.0.0.1 after a failed one, which
# made unrelated tests slow). mode = 0 on the penalty socket is the
# documented way to switch the penalty off.
auth_failure_delay = 0

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}{oauth_passdb}
# static userdb without allow_all_users: existence is checked via the passdb,
# so LMTP rejects unknown recipients.
userdb {{
  driver = static
  args = uid={mail.pw_uid} gid={mail.pw_gid} home={maildir_root}/%d/%n
}}
mail_location = maildir:~/Maildir
first_valid_uid = {mail.pw_uid}
last_valid_uid = {mail.pw_uid}
first_valid_gid = {mail.pw_gid}
mail_fsync = never

service imap-login {{
  inet_listener imap {{
    port = {self.backend_ports['imap']}
  }}
  inet_listener imaps {{
    port = {p['imaps']}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {self.backend_ports['pop3']}
  }}
  inet_listener pop3s {{
    port = {p['pop3s']}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    port = {p['lmtp']}
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
# Postfix talks to this for SMTP AUTH (smtpd_sasl_type = dovecot).
service auth {{
  inet_listener auth {{
    port = {self.auth_port}
  }}
}}
"""
        with open(self._p("dovecot.conf"), "w") as f:
            f.write(conf)

    def _write_dovecot_oauth2_config(self, dovecot_gid):
        """Dovecot 2.3's oauth2 passdb settings: RFC 7662 introspection (POST, the resource-server client's
        credentials in the URL = HTTP Basic) at self.oauth, trusting the rig CA. Returns the file's path."""
        oauth = self.oauth
        rs = oauth.clients["resource_server"]
        url = urllib.parse.urlsplit(oauth.provider_introspection_url)
        creds = f"{urllib.parse.quote(rs['client_id'], safe='')}:{urllib.parse.quote(rs['client_secret'], safe='')}"
        introspection_url = urllib.parse.urlunsplit((url.scheme, f"{creds}@{url.netloc}", url.path, url.query, ""))
        path = self._p("dovecot-oauth2.conf.ext")
        with open(path, "w") as f:
            f.write(f"""\
# Generated by tests/integration/rig.py: access tokens are checked by introspection at the test AS.
introspection_mode = post
introspection_url = {introspection_url}
force_introspection = yes
# The AS answers every unknown, expired or revoked token with 200 {{"active":false}}: 2.3.19 takes an
# introspection 4xx for a temporary failure, not for a bad token.
active_attribute = active
active_value = true
username_attribute = {oauth.username_claim}
scope = {oauth.mail_scope}
openid_configuration_url = {oauth.discovery_url}
tls_ca_cert_file = {self.ca_file}
timeout_msecs = 10000
max_parallel_connections = 4
""")
        # Holds the resource-server client's secret; read by the auth process (user dovecot).
        os.chown(path, 0, dovecot_gid)
        os.chmod(path, 0o640)
        return path

    def start_dovecot(self):
        """(Re)start Dovecot on the rig's ports. Returns when its ports accept."""
        if self._dovecot is not None and self._dovecot.poll() is None:
            return
        log = open(self._p("dovecot.stderr"), "ab")
        try:
            self._dovecot = subprocess.Popen(
                [DOVECOT_BIN, "-F", "-c", self._p("dovecot.conf")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
        finally:
            log.close()
        self._tell_watchdog(f"add {self._dovecot.pid}")
        self._wait_ports(["imaps", "pop3s", "lmtp"],
                         extra=[self.auth_port, *self.backend_ports.values()],
                         proc=self._dovecot, what="dovecot")
        # Public plain IMAP/POP3 ports go through the relay (see _PlainPortRelay).
        self._relays = [_PlainPortRelay(self.ports[n], self.backend_ports[n])
                        for n in ("imap", "pop3")]

    def stop_dovecot(self):
        """Stop Dovecot (for "provider down" tests). start_dovecot() brings it back."""
        for relay in self._relays:
            relay.close()
        self._relays = []
        if self._dovecot is not None:
            pgid = self._dovecot.pid
            self._dovecot = self._terminate(self._dovecot)
            self._tell_watchdog(f"del {pgid}")

    # ------------------------------------------------------------------ Postfix
    def _write_postfix_config(self):
        pf = pwd.getpwnam("postfix")
        postdrop = grp.getgrnam("postdrop").gr_gid
        base = self._p("postfix")
        etc, queue, data = (os.path.join(base, x) for x in ("etc", "queue", "data"))
        for d in (base, etc, queue):
            os.mkdir(d, 0o755)
        os.mkdir(data, 0o700)
        os.chown(data, pf.pw_uid, pf.pw_gid)
        # Queue layout that postfix-script/post-install would normally create.
        for sub, mode, gid in (("pid", 0o755, 0), ("public", 0o710, postdrop),
                               ("private", 0o700, None), ("maildrop", 0o730, postdrop),
                               ("incoming", 0o700, None), ("active", 0o700, None),
                               ("deferred", 0o700, None), ("defer", 0o700, None),
                               ("bounce", 0o700, None), ("flush", 0o700, None),
                               ("hold", 0o700, None), ("corrupt", 0o700, None),
                               ("saved", 0o700, None), ("trace", 0o700, None)):
            path = os.path.join(queue, sub)
            os.mkdir(path)
            os.chmod(path, mode)
            os.chown(path, 0 if sub == "pid" else pf.pw_uid, pf.pw_gid if gid is None else gid)

        users_inline = ", ".join(f"{u}=ok" for u in self.users)
        main_cf = f"""\
# Generated by tests/integration/rig.py - private Postfix instance; shares
# nothing with a system Postfix (own config, queue, data dirs, log file).
compatibility_level = 3.6
config_directory = {etc}
queue_directory = {queue}
data_directory = {data}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = mailgate-rig
# No syslog in containers/CI: postlogd writes here (must match a prefix below).
maillog_file = {self.postfix_log}
maillog_file_prefixes = {self.dir}

myhostname = localhost
mydomain = localdomain
myorigin = $myhostname
mydestination =
mynetworks = 127.0.0.1/32
inet_interfaces = {LOOPBACK}
inet_protocols = ipv4
smtpd_banner = $myhostname ESMTP mailgate-rig
biff = no
append_dot_mydomain = no
alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:5.1.1 no local delivery in mailgate rig
# Only example.test exists; everything else bounces immediately rather than
# trying DNS or the network.
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_maps = inline:{{ {users_inline} }}
virtual_transport = lmtp:inet:{LOOPBACK}:{self.ports['lmtp']}
default_transport = error:5.4.4 mailgate rig has no outside world
relay_transport = error:5.4.4 mailgate rig has no outside world
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtpd_peername_lookup = no
# Fast queue turnaround for tests.
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s

# SMTP AUTH through Dovecot; relay (and any recipient) only for authenticated clients.
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:{LOOPBACK}:{self.auth_port}
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
broken_sasl_auth_clients = no
smtpd_tls_auth_only = yes
# No tarpitting of failed commands: tests exercise failures on purpose.
smtpd_error_sleep_time = 0s
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
# Room for the gateway tests' large messages (25 MB, 50 MB benchmark); Postfix defaults to 10 MB.
message_size_limit = 104857600
mailbox_size_limit = 0
smtpd_tls_chain_files = {self.server_chain}
smtpd_tls_security_level = encrypt
smtpd_tls_loglevel = 1
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_tls_protocols = >=TLSv1.2
smtp_tls_security_level = none
"""
        # chroot column is "n" everywhere: the temp dir is not a chroot jail.
        master_cf = f"""\
# service type  private unpriv  chroot  wakeup  maxproc command + args
{LOOPBACK}:{self.ports['smtps']} inet n - n - - smtpd
  -o syslog_name=mailgate-rig/smtps
  -o smtpd_tls_wrappermode=yes
{LOOPBACK}:{self.ports['submission']} inet n - n - - smtpd
  -o syslog_name=mailgate-rig/submission
  -o smtpd_tls_security_level=encrypt
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
        with open(os.path.join(etc, "main.cf"), "w") as f:
            f.write(main_cf)
        with open(os.path.join(etc, "master.cf"), "w") as f:
            f.write(master_cf)
        # Postfix re-reads main.cf in 300 ms steps until its mtime is in the
        # past (guard against half-written files): backdate both files, which
        # saves ~1.8 s per start.
        past = time.time() - 60
        for name in ("main.cf", "master.cf"):
            os.utime(os.path.join(etc, name), (past, past))
        self._postfix_etc = etc

    def start_postfix(self):
        """(Re)start Postfix on the rig's ports. Returns when its ports accept."""
        if self._postfix is not None and self._postfix.poll() is None:
            return
        log = open(self._p("postfix", "master.stderr"), "ab")
        try:
            # -d: stay in the foreground (we own and reap the process) and keep
            # stderr, so early fatal errors are visible in master.stderr.
            self._postfix = subprocess.Popen(
                [POSTFIX_MASTER, "-c", self._postfix_etc, "-d"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env=dict(os.environ, MAIL_CONFIG=self._postfix_etc),
                start_new_session=True)
        finally:
            log.close()
        self._tell_watchdog(f"add {self._postfix.pid}")
        try:
            self._wait_ports(["smtps", "submission"], proc=self._postfix, what="postfix")
        except RigError as exc:
            # master(8) reports early fatal errors only to syslog, which CI
            # lacks; "postfix check" repeats most of them into maillog_file.
            subprocess.run(["postfix", "-c", self._postfix_etc, "check"], timeout=10,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            raise RigError(f"{exc.args[0].splitlines()[0]}\n{self.log_tail()}") from None

    def stop_postfix(self):
        """Stop Postfix (for "provider down" tests). start_postfix() brings it back."""
        if self._postfix is not None:
            pgid = self._postfix.pid
            self._postfix = self._terminate(self._postfix)
            self._tell_watchdog(f"del {pgid}")

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _terminate(proc, timeout=10.0, grace=0.3):
        """Stop a daemon started as its own process group: SIGTERM the whole
        group (faster than letting the master tell its children), reap the
        master, give leftovers `grace` seconds, then SIGKILL the group."""
        if proc is None:
            return None
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # Zombies are ignored: orphans are reparented to PID 1, which in some
        # containers never reaps them, and a zombie holds no sockets or files.
        # (Postfix leaves a forked master child sleeping ~1 s; it is killed.)
        deadline = time.monotonic() + grace
        while _live_pids_in_group(proc.pid):
            if time.monotonic() > deadline:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                deadline = time.monotonic() + 5
                while _live_pids_in_group(proc.pid) and time.monotonic() < deadline:
                    time.sleep(0.02)
                break
            time.sleep(0.02)
        return None

    def _tell_watchdog(self, line):
        if self._watchdog is None:
            return
        try:
            self._watchdog.stdin.write(line + "\n")
            self._watchdog.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def _wait_ports(self, names, proc, what, extra=()):
        ports = [self.ports[n] for n in names] + list(extra)
        deadline = time.monotonic() + self.start_timeout
        pending = list(ports)
        while pending:
            if proc.poll() is not None:
                raise RigError(f"{what} exited with status {proc.returncode} during startup\n"
                               + self.log_tail())
            port = pending[0]
            try:
                socket.create_connection((LOOPBACK, port), timeout=1).close()
                pending.pop(0)
                continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RigError(f"{what}: port {port} not accepting after {self.start_timeout}s\n"
                               + self.log_tail())
            time.sleep(0.05)

    def client_context(self, cafile=None):
        """SSL context trusting the rig CA (or cafile). Use server_hostname=rig.host."""
        return ssl.create_default_context(cafile=cafile or self.ca_file)

    def deliver(self, rcpt, message_bytes, sender="sender@example.test"):
        """Deliver a message straight into Dovecot via LMTP (bypasses Postfix)."""
        if isinstance(message_bytes, str):
            message_bytes = message_bytes.encode()
        rcpts = [rcpt] if isinstance(rcpt, str) else list(rcpt)
        with smtplib.LMTP(LOOPBACK, self.ports["lmtp"], timeout=10) as lmtp:
            refused = lmtp.sendmail(sender, rcpts, message_bytes)
        if refused:
            raise RigError(f"LMTP refused recipients: {refused}")

    def mailbox_count(self, user, mailbox="INBOX"):
        """Number of messages in user's mailbox (read via IMAPS, read-only)."""
        with imaplib.IMAP4_SSL(self.host, self.ports["imaps"], ssl_context=self.client_context(),
                               timeout=10) as imap:
            imap.login(user, self.users[user])
            typ, data = imap.select(mailbox, readonly=True)
            if typ != "OK":
                raise RigError(f"SELECT {mailbox} failed for {user}: {data}")
            count = int(data[0])
            imap.logout()
        return count

    def empty_mailbox(self, user, mailbox="INBOX"):
        """Deletes every message in the user's mailbox (via IMAPS), so each test starts from nothing."""
        with imaplib.IMAP4_SSL(self.host, self.ports["imaps"], ssl_context=self.client_context(),
                               timeout=10) as imap:
            imap.login(user, self.users[user])
            if imap.select(mailbox)[1] != [b"0"]:
                imap.store("1:*", "+FLAGS", "\\Deleted")
                imap.expunge()
            imap.logout()

    def wait_for_postfix_queue_empty(self, timeout=20.0):
        """Wait until Postfix holds no message in any queue: everything it accepted has been delivered (or
        bounced), so a mailbox count afterwards is final rather than "nothing yet"."""
        queue = self._p("postfix", "queue")
        deadline = time.monotonic() + timeout
        while True:
            queued = [os.path.join(d, f) for sub in ("maildrop", "incoming", "active", "deferred", "hold")
                      for d, _, files in os.walk(os.path.join(queue, sub)) for f in files]
            if not queued:
                return
            if time.monotonic() > deadline:
                raise RigError(f"Postfix still holds {len(queued)} message(s) after {timeout}s\n" + self.log_tail())
            time.sleep(0.1)

    def wait_for_messages(self, user, n, timeout=20.0, mailbox="INBOX"):
        """Wait until user's mailbox holds at least n messages; returns the count."""
        deadline = time.monotonic() + timeout
        while True:
            count = self.mailbox_count(user, mailbox)
            if count >= n:
                return count
            if time.monotonic() > deadline:
                raise RigError(f"{user}/{mailbox}: {count} messages after {timeout}s, wanted {n}\n"
                               + self.log_tail())
            time.sleep(0.2)

    def info(self):
        """JSON-able description (what `rig.py serve` prints)."""
        info = {"ca_file": self.ca_file, "other_ca_file": self.other_ca_file, "host": self.host,
                "ports": dict(self.ports), "users": dict(self.users), "dir": self.dir}
        if self.oauth is not None:
            info["oauth"] = self.oauth.info()
        return info


def _serve():
    done = threading.Event()

    def _on_signal(signum, _frame):
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with ProviderRig() as rig:
        # "pid" is ours: signal it (not a wrapper such as a pyenv shim) to stop the rig.
        print(json.dumps(dict(rig.info(), pid=os.getpid())), flush=True)
        while not done.wait(1.0):
            pass
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        sys.exit(_serve())
    print(f"usage: {sys.argv[0]} serve", file=sys.stderr)
    sys.exit(2)
