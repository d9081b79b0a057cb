"""naas-controller as a child process, for tests, scenarios and the demo: start it with an
auth file of fresh tokens (an operator's and one per tenant), wait until it serves, stop it by
its pid and say whether it stopped cleanly."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import yaml

from topologies.model.auth import digest
from topologies.model.fabric import load_fabric


def free_port(host='127.0.0.1'):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# In the lab the controller shares the machine's cores with every switch and span of the
# emulation; where a fabric's traffic takes them all, a starved controller would stamp its LLDP
# probes seconds late and see every span slow. A real controller runs on its own machine: here
# it runs ahead of the emulation in the scheduler (root may raise priority; others keep theirs).
CONTROLLER_NICE = -10


def _ahead_of_emulation(pid):
    """Set from here, after the start: a preexec_fn would run Python in the forked child of a
    process whose gRPC threads may hold locks (a client of the replicas), and it can crash
    there (SIGSEGV) before it execs."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, CONTROLLER_NICE)
    except PermissionError:
        pass


class ControllerProcess:
    """`tokens`: {'operator': token, tenant id: token, ...}; `grpc_target`: 'host:port'.
    `db`: the SQLite file, or an etcd://... URL (a replica: `--store`); replicas share one auth
    file: give the first one's `auth` (its (auth_path, tokens)) to the others. `http_port`: serve
    /metrics and the web view there, on loopback (`web_url`); None: no HTTP."""

    def __init__(
        self,
        fabric,
        db,
        log_path,
        port=None,
        grpc_port=None,
        extra_args=(),
        quotas=None,
        auth=None,
        http_port=None,
    ):
        self.fabric, self.db, self.log_path = fabric, str(db), str(log_path)
        self.port = port or free_port()
        self.grpc_port = grpc_port or free_port()
        self.extra_args = list(extra_args)
        self.http_port = http_port
        if http_port is not None:
            self.extra_args += ['--http-port', str(http_port)]
        if auth is None:
            self.auth_path = os.path.join(os.path.dirname(os.path.abspath(self.log_path)), 'auth.yaml')
            self.tokens = self._write_auth(quotas or {})
        else:
            self.auth_path, self.tokens = auth
        self.proc = None

    @property
    def auth(self):
        return self.auth_path, self.tokens

    @property
    def address(self):
        return ('127.0.0.1', self.port)

    @property
    def web_url(self):
        """The web view (docs/observability.md), or None without `http_port`."""
        return None if self.http_port is None else f'http://127.0.0.1:{self.http_port}/'

    @property
    def web_urls(self):
        return [self.web_url] if self.web_url else []

    @property
    def grpc_target(self):
        return f'127.0.0.1:{self.grpc_port}'

    def client(self, who='operator', **kw):
        """A naasctl Client of the API with `who`'s token (close it, or use it in `with`)."""
        from naasctl.client import Client

        return Client(self.grpc_target, token=self.tokens[who], **kw)

    def start(self, timeout_s=20.0):
        ready = 'listening for OpenFlow' if '--southbound' not in self.extra_args else 'serving gRPC'
        seen = len(self.log())  # a restart appends to the same log
        log = open(self.log_path, 'a')
        self.proc = subprocess.Popen(
            [
                sys.executable,
                '-m',
                'controller.main',
                '--fabric',
                self.fabric,
                '--store' if self.db.startswith('etcd://') else '--db',
                self.db,
                '--auth',
                self.auth_path,
                '--openflow-port',
                str(self.port),
                '--grpc-port',
                str(self.grpc_port),
                *self.extra_args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the lab reaches the lab, which stops it by pid
        )
        _ahead_of_emulation(self.proc.pid)
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f'naas-controller exited with {self.proc.returncode}:\n{self.log()[-2000:]}'
                )
            tail = self.log()[seen:]
            if ready in tail and 'serving gRPC' in tail:
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f'naas-controller did not start within {timeout_s:g} s:\n{self.log()[-2000:]}')

    def stop(self, sig=signal.SIGTERM, timeout_s=15.0):
        """Signal it and wait; returns its exit status (killed if it does not stop)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        os.kill(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def problems(self):
        """Log lines that mean something went wrong: crashes and refused OpenFlow messages."""
        return [
            line
            for line in self.log().splitlines()
            if ' CRITICAL ' in line or 'Traceback' in line or 'refused message' in line or ' ERROR ' in line
        ]

    def _write_auth(self, quotas):
        tenants = list(load_fabric(self.fabric).tenants)
        tokens = {name: secrets.token_urlsafe(24) for name in ['operator', *tenants]}
        doc = {
            'operators': [{'name': 'operator', 'token_sha256': digest(tokens['operator'])}],
            'tenants': [
                {
                    'id': t,
                    'token_sha256': digest(tokens[t]),
                    **({'quota_gbps': quotas[t]} if t in quotas else {}),
                }
                for t in tenants
            ],
        }
        with open(self.auth_path, 'w') as f:
            yaml.safe_dump(doc, f, sort_keys=False)
        return tokens

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
