"""A real HAProxy (Debian's haproxy) in TCP mode in front of one or more gateways, for the PROXY protocol and
several-instance tests. Each frontend listens on 127.0.0.1 and forwards to its servers, connecting from `source`
(a loopback address of its own, so the gateway can tell the balancer from clients) with send-proxy-v2 or
send-proxy (v1). Stopped with the test; a test process that dies takes HAProxy with it (PR_SET_PDEATHSIG)."""

import os
import shutil
import subprocess
import tempfile
import time

import peer_process
from rig import _bindable, reserve_port

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


class Balancer:
    """frontends: {name: (servers, proxy)} where servers is [(host, port), ...] and proxy is "v2", "v1" or None.
    After start(), ports[name] is the frontend's port on 127.0.0.1."""

    def __init__(self, frontends, source="127.0.0.5", server_options=""):
        self.frontends = frontends
        self.source = source
        self.server_options = server_options
        self.ports = {}
        self.dir = tempfile.mkdtemp(prefix="mailgate-haproxy-")
        self.config_path = os.path.join(self.dir, "haproxy.cfg")
        self.log_path = os.path.join(self.dir, "haproxy.log")
        self.proc = None

    def _config(self):
        lines = [
            "global",
            "    maxconn 2000",
            "defaults",
            "    mode tcp",
            "    timeout connect 2s",
            "    timeout client 120s",
            "    timeout server 120s",
            # A server that refuses the connection (a killed instance) is left for another one at the first retry.
            "    retries 2",
            "    option redispatch 1",
        ]
        for name, (servers, proxy) in self.frontends.items():
            self.ports[name] = reserve_port()
            send = {"v2": " send-proxy-v2", "v1": " send-proxy", None: ""}[proxy]
            lines += [f"frontend fe_{name}", f"    bind 127.0.0.1:{self.ports[name]}",
                      f"    default_backend be_{name}", f"backend be_{name}", "    balance roundrobin"]
            for i, (host, port) in enumerate(servers):
                lines.append(f"    server s{i} {host}:{port} source {self.source}{send} {self.server_options}")
        return "\n".join(lines) + "\n"

    def start(self, timeout=15):
        with open(self.config_path, "w") as f:
            f.write(self._config())
        check = subprocess.run([HAPROXY, "-c", "-q", "-f", self.config_path], capture_output=True, text=True)
        if check.returncode != 0:
            raise AssertionError(f"haproxy config refused:\n{check.stdout}{check.stderr}\n{self._config()}")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.config_path], stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, preexec_fn=peer_process.die_with_parent)
        deadline = time.monotonic() + timeout
        waiting = set(self.ports)
        while waiting and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("haproxy exited:\n" + self.log())
            for name in list(waiting):
                if not _bindable(self.ports[name], "127.0.0.1"):  # HAProxy has it; probed without connecting
                    waiting.discard(name)
            time.sleep(0.05)
        if waiting:
            self.stop()
            raise AssertionError(f"haproxy frontends {sorted(waiting)} did not open")
        return self

    def log(self):
        return peer_process.read_log(self.log_path)

    def stop(self):
        peer_process.stop(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
