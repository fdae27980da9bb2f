"""What the tests' own server processes (HAProxy, PostgreSQL) share: they die with the test process, are stopped
with a signal and a deadline, and keep their output in a log file read back for failure messages."""

import ctypes
import os
import signal
import subprocess

_PR_SET_PDEATHSIG = 1


def die_with_parent(user=None):
    """A preexec_fn: run as `user` (a pwd entry) if given, and get SIGTERM when the test process dies. The death
    signal is set after the uid change, which clears it."""
    if user is not None:
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def stop(proc, sig=signal.SIGTERM, timeout=10):
    """Stops `proc` with `sig`, killing it when it has not exited within `timeout` seconds."""
    if proc and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def read_log(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""
