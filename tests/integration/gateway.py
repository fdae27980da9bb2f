"""Helpers for integration tests: run the mailgate binary (CLI or server) with a throwaway data dir."""

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

from rig import reserve_port

MAILGATE_BIN = os.environ.get("MAILGATE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "server", "mailgate")


def free_port(host="127.0.0.1"):
    """A port only this test process uses (rig.reserve_port: race-free under ctest -j); nothing listens on it yet.
    For test peers and dead endpoints: the gateway's own listeners bind port 0 instead (see Gateway)."""
    return reserve_port(host)


# A report from ASan, LSan or UBSan (the MAILGATE_SANITIZE build) in a process's output. Reports at exit (leaks,
# errors in destructors) do not break any client exchange, so the output itself is checked.
_SANITIZER_REPORT = re.compile(r"^(==\d+==\s*ERROR: \w*Sanitizer|SUMMARY: \w*Sanitizer|\S+:\d+:\d+: runtime error: )",
                               re.MULTILINE)


def check_no_sanitizer_report(what, output):
    """Raises AssertionError with the output when it holds a sanitizer report."""
    found = _SANITIZER_REPORT.search(output or "")
    if found:
        start = output.rfind("\n", 0, max(0, found.start() - 2000)) + 1  # some context before the report
        raise AssertionError(f"{what}: sanitizer report:\n{output[start:start + 300000]}")


def run_cli(*args, data_dir, env=None, check=False, timeout=120):
    """Runs `mailgate ARGS --data-dir D`; returns CompletedProcess with text stdout/stderr."""
    full_env = dict(os.environ)
    full_env.pop("MAILGATE_LOCAL_PASSWORD", None)
    full_env.pop("MAILGATE_REMOTE_PASSWORD", None)
    full_env.update(env or {})
    result = subprocess.run([MAILGATE_BIN, *args, "--data-dir", data_dir], env=full_env, capture_output=True,
                            text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    check_no_sanitizer_report(f"mailgate {' '.join(args)}", result.stderr)
    if check and result.returncode != 0:
        raise AssertionError(f"mailgate {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def add_account(data_dir, name, local_user, local_password, remote_user, remote_password, *urls_and_flags):
    return run_cli("account", "add", name, "--local-user", local_user, "--remote-user", remote_user,
                   *urls_and_flags, data_dir=data_dir,
                   env={"MAILGATE_LOCAL_PASSWORD": local_password, "MAILGATE_REMOTE_PASSWORD": remote_password},
                   check=True)


def instance_data_dir(first, data_dir):
    """A data dir for another instance on `first`'s store: its own, with the master key copied (mode 0600), as
    README "Running several instances" says."""
    os.makedirs(data_dir, mode=0o700)
    shutil.copy2(os.path.join(first, "master.key"), os.path.join(data_dir, "master.key"))


def add_failure_accounts(data_dir, rig, protocol, scheme, port_name, user="alice@example.test"):
    """Two accounts whose provider side fails: 'stale' (the provider rejects its stored password) and 'gone'
    (nothing listens at its endpoint); local users stale-local/stale-pw and gone-local/gone-pw."""
    add_account(data_dir, "stale", "stale-local", "stale-pw", user, "outdated-provider-password",
                f"--{protocol}", f"{scheme}://{rig.host}:{rig.ports[port_name]}")
    add_account(data_dir, "gone", "gone-local", "gone-pw", user, rig.users[user],
                f"--{protocol}", f"{scheme}://{rig.host}:{free_port()}")


def at_once(action, count, timeout=90):
    """Runs `action()` in `count` threads started together; returns "ok" or the exception's repr for each."""
    results = []

    def run():
        try:
            action()
            results.append("ok")
        except Exception as exc:  # the caller compares the list
            results.append(repr(exc))

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return results


def read_line(sock):
    """One reply line (through CRLF) from a socket, or what came before the peer closed."""
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def read_ports_file(path):
    """{name: port} from the file `mailgate serve --print-ports` writes ("NAME HOST:PORT" lines)."""
    ports = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            name, address = line.split()
            ports[name] = int(address.rsplit(":", 1)[1])
    return ports


class Gateway:
    """`mailgate serve` on loopback; every listener binds port 0 (unless `ports` names one) and `ports` holds the
    ports it got, read from --print-ports once started. Stopped (SIGTERM) on exit."""

    LISTENERS = ("pop3", "pop3s", "imap", "imaps", "smtp", "smtps", "admin")

    def __init__(self, data_dir=None, extra_args=(), host="127.0.0.1", ports=None):
        self._tmp = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mailgate-test-")
            data_dir = os.path.join(self._tmp.name, "data")
        self.data_dir = data_dir
        self.host = host
        self.ports = {}
        self._log_dir = tempfile.TemporaryDirectory(prefix="mailgate-log-")
        self.log_path = os.path.join(self._log_dir.name, "gateway.log")
        self.ports_path = os.path.join(self._log_dir.name, "ports")
        listen = {name: 0 for name in self.LISTENERS}
        listen.update(ports or {})
        bracket = f"[{host}]" if ":" in host else host
        self.args = [MAILGATE_BIN, "serve", "--data-dir", data_dir, "--log.level", "debug", *extra_args]
        for name, port in listen.items():
            self.args += [f"--listen.{name}", f"{bracket}:{port}"]
        self.args += self.print_ports_args()
        self.proc = None
        self.banner = ""

    def print_ports_args(self):
        """The arguments that make the gateway report its ports to this object; for tests that set `args` whole."""
        return ["--print-ports", self.ports_path]

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=30):
        # Output goes to a file: a pipe nobody reads would fill up and stall the gateway.
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if "Stop with Ctrl-C.\n" in text:
                self.banner = text[:text.index("Stop with Ctrl-C.\n") + len("Stop with Ctrl-C.\n")]
                # Written before the banner, once every listener is bound (absent when a test replaced `args`).
                if os.path.exists(self.ports_path):
                    self.ports = read_ports_file(self.ports_path)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise AssertionError("gateway did not start:\n" + self.log())

    def log(self):
        if not os.path.exists(self.log_path):
            return getattr(self, "rest_of_output", "")
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.rest_of_output = self.log() if self.proc else ""
        self._log_dir.cleanup()
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None
        check_no_sanitizer_report("mailgate serve", self.rest_of_output)

    @property
    def cert_file(self):
        """What clients trust: both generated self-signed leaves (ECDSA and RSA)."""
        return os.path.join(self.data_dir, "tls", "local-trust.pem")


def steps(output):
    """Parses `account test` output into [(protocol, step, ok, detail)]."""
    out, protocol = [], None
    for line in output.splitlines():
        m = re.match(r"^(imap|pop3|smtp) (\S+)$", line)
        if m:
            protocol = m.group(1)
            continue
        m = re.match(r"^  ([\u2713\u2717]) (\w+)(?:: (.*))?$", line)
        if m:
            out.append((protocol, m.group(2), m.group(1) == "\u2713", m.group(3) or ""))
    return out
