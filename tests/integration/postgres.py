"""A real PostgreSQL (Debian's postgresql-15) for the tests: a throwaway cluster made with initdb in a temp dir,
run as the unprivileged `postgres` user on 127.0.0.1 only (password logins, scram-sha-256), stopped with the test.
A test process that dies takes the server with it (PR_SET_PDEATHSIG)."""

import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

import peer_process
from rig import reserve_port


def _bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise AssertionError(f"PostgreSQL's {name} not found (apt-get install postgresql)")
    return found[-1]


def _as_postgres():
    peer_process.die_with_parent(pwd.getpwnam("postgres"))


class PostgresServer:
    """After start(): uri(database) for the `mailgate` role, admin_uri() for the superuser, port."""

    def __init__(self, tls=False):
        self.tls = tls
        self.ca_file = None  # with tls: the self-signed certificate (CN and SAN 127.0.0.1) clients verify
        self.dir = tempfile.mkdtemp(prefix="mailgate-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postgres.log")
        self.port = reserve_port()
        self.password = secrets.token_hex(12)
        self.admin_password = secrets.token_hex(12)
        self.proc = None

    def _run(self, *args, **kw):
        return subprocess.run(list(args), preexec_fn=_as_postgres, capture_output=True, text=True, check=True,
                              **kw)

    def start(self, timeout=30):
        user = pwd.getpwnam("postgres")
        os.chown(self.dir, user.pw_uid, user.pw_gid)
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(self.admin_password + "\n")
        os.chown(pwfile, user.pw_uid, user.pw_gid)
        self._run(_bin("initdb"), "-D", self.data, "-U", "postgres", "--pwfile", pwfile, "-A", "scram-sha-256",
                  "-E", "UTF8", "--no-instructions")
        os.remove(pwfile)
        self._options = self._make_certificate(user) if self.tls else []
        self._run_server(timeout)
        self.sql(f"CREATE ROLE mailgate LOGIN CREATEDB PASSWORD '{self.password}'")
        self.create_database("mailgate")
        return self

    def _run_server(self, timeout=30):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [_bin("postgres"), "-D", self.data, "-h", "127.0.0.1", "-p", str(self.port), "-k", self.dir,
             "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200", *self._options],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_as_postgres)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("postgres exited:\n" + self.log())
            ready = subprocess.run([_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                                   capture_output=True)
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise AssertionError("postgres did not start:\n" + self.log())

    def halt(self):
        """Stops the server but keeps the cluster, for resume() (an outage of the database)."""
        peer_process.stop(self.proc, signal.SIGINT, timeout=20)

    def resume(self):
        self._run_server()

    def _make_certificate(self, user):
        key, cert = os.path.join(self.data, "server.key"), os.path.join(self.data, "server.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        for path in (key, cert):
            os.chown(path, user.pw_uid, user.pw_gid)
        os.chmod(key, 0o600)
        self.ca_file = os.path.join(self.dir, "ca.pem")
        shutil.copy(cert, self.ca_file)
        return ["-c", "ssl=on", "-c", f"ssl_cert_file={cert}", "-c", f"ssl_key_file={key}"]

    def write_config(self, directory):
        """A mailgate.conf (mode 0600) in `directory` naming this server as the store; returns its path."""
        path = os.path.join(directory, "mailgate.conf")
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(f"store = {self.uri()}\n")
        return path

    def sql(self, statement, database="postgres"):
        """Runs one statement as the superuser with psql; returns its output (unaligned, no headers)."""
        env = dict(os.environ, PGPASSWORD=self.admin_password)
        done = subprocess.run([_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d",
                               database, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", statement],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise AssertionError(f"psql failed: {statement}\n{done.stderr}")
        return done.stdout

    def create_database(self, name):
        self.sql(f"CREATE DATABASE {name} OWNER mailgate")
        return self.uri(name)

    def uri(self, database="mailgate"):
        return f"postgresql://mailgate:{self.password}@127.0.0.1:{self.port}/{database}"

    def admin_uri(self):
        return f"postgresql://postgres:{self.admin_password}@127.0.0.1:{self.port}/postgres"

    def log(self):
        return peer_process.read_log(self.log_path)

    def stop(self):
        peer_process.stop(self.proc, signal.SIGINT, timeout=20)  # SIGINT: PostgreSQL's fast shutdown
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
