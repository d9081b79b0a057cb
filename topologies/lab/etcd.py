"""An etcd cluster on loopback for controller replicas (docs/ha.md): N members (3 by default)
the lab starts, waits for and stops by their process ids, in a directory of its own, on free
ports (never 2379/2380: a Debian machine may run a system etcd there).

    with EtcdCluster() as etcd:          # etcd.url: 'etcd://127.0.0.1:P0,127.0.0.1:P1,...'
        etcd.kill(0); etcd.restart(0)    # scenario events: a member dies, comes back

heartbeat 50 ms and election 500 ms rather than etcd's 100/1000: etcd grants a lease no
shorter than 1.5 election timeouts rounded up to a second, so the controller's 1 s lease is
1 s here (2 s with the defaults), and a dead leader is replaced a second sooner.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
import uuid

from topologies.lab.controller_process import free_port

START_TIMEOUT_S = 20.0


class EtcdError(RuntimeError):
    pass


class EtcdCluster:
    def __init__(self, members=3, workdir=None, heartbeat_ms=50, election_ms=500):
        self._own_dir = workdir is None
        self.workdir = str(workdir) if workdir else tempfile.mkdtemp(prefix='naas-etcd-')
        os.makedirs(self.workdir, exist_ok=True)
        self.heartbeat_ms, self.election_ms = heartbeat_ms, election_ms
        self.ports = [(free_port(), free_port()) for _ in range(members)]  # (client, peer)
        self.token = f'naas-{uuid.uuid4().hex[:12]}'  # members of another cluster cannot join
        self.procs = [None] * members

    @property
    def endpoints(self):
        return [f'127.0.0.1:{client}' for client, _ in self.ports]

    @property
    def url(self):
        """What naas-controller --store takes."""
        return 'etcd://' + ','.join(self.endpoints)

    def start(self):
        try:
            for k in range(len(self.ports)):
                self._start(k, 'new')
            for k in range(len(self.ports)):
                self._wait_healthy(k)
        except BaseException:
            self.stop()
            raise
        return self

    def alive(self, k):
        return self.procs[k] is not None and self.procs[k].poll() is None

    def kill(self, k):
        """SIGKILL member k (its data stays: `restart` brings it back)."""
        if self.alive(k):
            self.procs[k].kill()
            self.procs[k].wait()

    def pause(self, k):
        os.kill(self.procs[k].pid, signal.SIGSTOP)

    def resume(self, k):
        os.kill(self.procs[k].pid, signal.SIGCONT)

    def restart(self, k):
        """Member k again on its data directory, once killed; returns when it is healthy."""
        if self.alive(k):
            raise EtcdError(f'etcd member m{k} is running')
        self._start(k, 'existing')
        self._wait_healthy(k)

    def stop(self):
        """Every member of ours, by pid (SIGTERM, then SIGKILL); the directory if we made it."""
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a paused one cannot take SIGTERM
                proc.terminate()
        for proc in self.procs:
            if proc is None:
                continue
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log(self, k):
        try:
            with open(self._log_path(k), errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def _log_path(self, k):
        return os.path.join(self.workdir, f'm{k}.log')

    def _start(self, k, state):
        if shutil.which('etcd') is None:
            raise EtcdError('etcd is not installed: run scripts/setup-host.sh (Debian etcd-server)')
        client, peer = self.ports[k]
        cluster = ','.join(f'm{i}=http://127.0.0.1:{p}' for i, (_, p) in enumerate(self.ports))
        with open(self._log_path(k), 'a') as log:
            self.procs[k] = subprocess.Popen(
                [
                    'etcd',
                    '--name', f'm{k}',
                    '--data-dir', os.path.join(self.workdir, f'm{k}'),
                    '--listen-client-urls', f'http://127.0.0.1:{client}',
                    '--advertise-client-urls', f'http://127.0.0.1:{client}',
                    '--listen-peer-urls', f'http://127.0.0.1:{peer}',
                    '--initial-advertise-peer-urls', f'http://127.0.0.1:{peer}',
                    '--initial-cluster', cluster,
                    '--initial-cluster-state', state,
                    '--initial-cluster-token', self.token,
                    '--heartbeat-interval', str(self.heartbeat_ms),
                    '--election-timeout', str(self.election_ms),
                    '--max-txn-ops', '4096',  # a CreateIntents of 1,000 is one transaction
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the lab reaches the lab, which stops them
            )  # fmt: skip

    def _wait_healthy(self, k):
        deadline = time.monotonic() + START_TIMEOUT_S
        url = f'http://{self.endpoints[k]}/health'
        while time.monotonic() < deadline:
            if not self.alive(k):
                raise EtcdError(
                    f'etcd member m{k} exited ({self.procs[k].returncode}):\n{self.log(k)[-1500:]}'
                )
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:
                    if b'"health":"true"' in answer.read():
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise EtcdError(f'etcd member m{k} not healthy within {START_TIMEOUT_S:g} s:\n{self.log(k)[-1500:]}')

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
