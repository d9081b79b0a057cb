"""An etcd cluster on loopback for controller replicas (docs/ha.md): N members (3 by default)
the lab starts, waits for and stops by their process ids, in a directory of its own, on free
ports (never 2379/2380: a Debian machine may run a system etcd there).

    with EtcdCluster() as etcd:          # etcd.url: 'etcd://127.0.0.1:P0,127.0.0.1:P1,...'
        etcd.kill(0); etcd.restart(0)    # scenario events: a member dies, comes back

heartbeat 50 ms and election 500 ms rather than etcd's 100/1000: etcd grants no lease shorter
than ceil(1.5 x election timeout) seconds (1.5 election ticks x heartbeat, rounded up), so the
controller's 1 s lease is 1 s here (2 s with the defaults), and a dead leader is replaced a
second sooner.

`EtcdCluster(tls=True)`: clients (the replicas) reach the members over TLS and must show a
client certificate (etcd --client-cert-auth), all signed by a CA made for the cluster in its
directory (openssl); `tls_args` are naas-controller's options for it. The members talk to
each other in plain HTTP on loopback.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

START_TIMEOUT_S = 20.0
STOP_GRACE_S = 1.0  # per member, then SIGKILL (_end_all says why)
SYSTEM_PORTS = {2379, 2380}  # Debian's etcd-server (a systemd unit) listens there
INSTALL_HINT = 'etcd is not installed: run scripts/setup-host.sh (Debian etcd-server)'


class EtcdError(RuntimeError):
    pass


class _PortTaken(EtcdError):
    """A port we chose was taken by someone else before the member bound it."""


def free_ports(n, host='127.0.0.1'):
    """n distinct free ports: all bound at once (one after another could repeat a port), then
    let go for etcd to bind; a port of the system etcd is never handed out."""
    socks = []
    try:
        while len(socks) < n:
            s = socket.socket()
            s.bind((host, 0))
            if s.getsockname()[1] in SYSTEM_PORTS:
                s.close()
                continue
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class EtcdCluster:
    def __init__(self, members=3, workdir=None, heartbeat_ms=50, election_ms=500, tls=False):
        self._own_dir = workdir is None
        self.workdir = os.path.abspath(workdir) if workdir else tempfile.mkdtemp(prefix='naas-etcd-')
        if ',' in self.workdir:  # --log-outputs is a comma-separated list
            raise EtcdError(f'etcd: a comma in the work directory {self.workdir!r}')
        os.makedirs(self.workdir, exist_ok=True)
        self.members, self.heartbeat_ms, self.election_ms = members, heartbeat_ms, election_ms
        self.tls = _make_certificates(os.path.join(self.workdir, 'tls')) if tls else None
        self.procs = [None] * members
        self._log_from = [0] * members  # where this start of each member begins in its log
        self._choose_ports()

    def _choose_ports(self):
        ports = free_ports(2 * self.members)
        self.ports = list(zip(ports[::2], ports[1::2]))  # (client, peer) per member
        self.token = f'naas-{uuid.uuid4().hex[:12]}'  # members of another cluster cannot join

    @property
    def endpoints(self):
        return [f'127.0.0.1:{client}' for client, _ in self.ports]

    @property
    def url(self):
        """What naas-controller --store takes."""
        return 'etcd://' + ','.join(self.endpoints)

    @property
    def tls_args(self):
        """naas-controller's options for a cluster with TLS (none without)."""
        if self.tls is None:
            return []
        return [
            '--store-ca',
            self.tls['ca'],
            '--store-cert',
            self.tls['client'],
            '--store-key',
            self.tls['client_key'],
        ]

    def start(self):
        """Every member, then returns once each says it is healthy (which needs a quorum)."""
        if shutil.which('etcd') is None:
            raise EtcdError(INSTALL_HINT)
        try:
            for attempt in range(3):
                try:
                    deadline = time.monotonic() + START_TIMEOUT_S
                    for k in range(self.members):
                        self._start(k, 'new')
                        self._wait_peer_serving(k, deadline)
                    for k in range(self.members):
                        self._wait_healthy(k, deadline)
                    return self
                except _PortTaken:
                    if attempt == 2:
                        raise
                    # Between free_ports() and etcd's bind another process took a port: a new
                    # cluster (new ports, new token, empty data) rather than a half-made one.
                    self._end_all()
                    for k in range(self.members):
                        shutil.rmtree(self._data_dir(k), ignore_errors=True)
                    self._choose_ports()
        except BaseException:
            self.stop()
            raise

    def alive(self, k):
        return self.procs[k] is not None and self.procs[k].poll() is None

    def kill(self, k):
        """SIGKILL member k (its data stays: `restart` brings it back)."""
        if self.alive(k):
            self.procs[k].kill()
            self.procs[k].wait()

    def pause(self, k):
        self._signal(k, signal.SIGSTOP)

    def resume(self, k):
        self._signal(k, signal.SIGCONT)

    def restart(self, k):
        """Member k again on its data directory, once killed; returns when it is healthy."""
        if self.alive(k):
            raise EtcdError(f'etcd member m{k} is running')
        self._start(k, 'existing')
        self.wait_healthy(k)

    def wait_healthy(self, k, timeout_s=START_TIMEOUT_S):
        """Until member k is healthy: after a leader's death, until the others elected one (a
        write sent before may be lost with the dead leader, and time out)."""
        self._wait_healthy(k, time.monotonic() + timeout_s)

    def stop(self):
        """Every member of ours, by pid (SIGTERM, then SIGKILL); the directory if we made it."""
        self._end_all()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def healthy(self, k, timeout=1.0):
        """Member k answers /health with true: it has a leader and a quorum read went through."""
        try:
            url, context = f'http://{self.endpoints[k]}/health', None
            if self.tls is not None:
                url, context = (
                    f'https://{self.endpoints[k]}/health',
                    ssl.create_default_context(cafile=self.tls['ca']),
                )
                context.load_cert_chain(self.tls['client'], self.tls['client_key'])
            with urllib.request.urlopen(url, timeout=timeout, context=context) as answer:
                return json.load(answer).get('health') in (True, 'true')  # 3.4 says "true"
        except (OSError, ValueError, http.client.HTTPException):
            return False

    def log(self, k):
        try:
            with open(self._log_path(k), errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def _tail(self, k, chars=1500):
        """The end of what member k logged since it was last started."""
        return self.log(k)[self._log_from[k] :][-chars:]

    def _signal(self, k, signum):
        if not self.alive(k):  # its pid may be another process's by now
            raise EtcdError(f'etcd member m{k} is not running')
        self.procs[k].send_signal(signum)

    def _end_all(self):
        # One after another: a leader given SIGTERM first hands its lead to a peer, which takes
        # milliseconds when that peer runs, but up to 6 s when it is ending too (all at once) or
        # is just gone (the last of 3, after a restart: seen one stop in three). Nothing is lost
        # to a SIGKILL after a grace of 1 s: etcd has synced every write it acknowledged.
        for proc in self.procs:
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGCONT)  # a paused member would not act on SIGTERM
            proc.terminate()
            try:
                proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _data_dir(self, k):
        return os.path.join(self.workdir, f'm{k}')

    def _log_path(self, k):
        return os.path.join(self.workdir, f'm{k}.log')

    def _start(self, k, state):
        client, peer = self.ports[k]
        cluster = ','.join(f'm{i}=http://127.0.0.1:{p}' for i, (_, p) in enumerate(self.ports))
        # etcd reads ETCD_<FLAG> from the environment too (ETCD_ENABLE_V2, ETCD_QUOTA_BACKEND_BYTES,
        # ...): a member of the lab is what its flags say. ETCD_UNSUPPORTED_ARCH is no setting.
        env = {
            n: v for n, v in os.environ.items() if not n.startswith('ETCD_') or n == 'ETCD_UNSUPPORTED_ARCH'
        }
        scheme, tls = 'http', []
        if self.tls is not None:
            scheme = 'https'
            tls = ['--cert-file', self.tls['server'], '--key-file', self.tls['server_key'],
                   '--trusted-ca-file', self.tls['ca'], '--client-cert-auth']  # fmt: skip
        log_path = self._log_path(k)
        with open(log_path, 'a') as log:
            self._log_from[k] = log.tell()
            self.procs[k] = subprocess.Popen(
                [
                    'etcd',
                    '--name', f'm{k}',
                    '--data-dir', self._data_dir(k),
                    '--listen-client-urls', f'{scheme}://127.0.0.1:{client}',
                    '--advertise-client-urls', f'{scheme}://127.0.0.1:{client}',
                    *tls,
                    '--listen-peer-urls', f'http://127.0.0.1:{peer}',
                    '--initial-advertise-peer-urls', f'http://127.0.0.1:{peer}',
                    '--initial-cluster', cluster,
                    # 'existing' on a restart: the data directory already holds the membership
                    '--initial-cluster-state', state,
                    '--initial-cluster-token', self.token,
                    '--heartbeat-interval', str(self.heartbeat_ms),
                    '--election-timeout', str(self.election_ms),
                    '--max-txn-ops', '4096',  # a CreateIntents of 1,000 is one transaction
                    # 3.4's default logger, capnslog, is deprecated; zap appends (O_APPEND) to the
                    # same file as stdout/stderr, which keep what comes before it (a Go panic).
                    '--logger', 'zap',
                    '--log-outputs', log_path,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # a Ctrl-C in the lab reaches the lab, which stops them
            )  # fmt: skip

    def _wait_peer_serving(self, k, deadline):
        """Until member k serves its peers. A new member first asks every peer URL whether it
        was bootstrapped already, 1 s each; a peer that is listening but not yet serving makes
        it wait the full second (2 s of a 3-member start, 4 starts in 10 here). One after another,
        each asks peers that answer or refuse at once."""
        url = f'http://127.0.0.1:{self.ports[k][1]}/version'
        while time.monotonic() < deadline:
            self._check_running(k)
            try:
                urllib.request.urlopen(url, timeout=0.2).close()
                return
            except urllib.error.HTTPError:
                return  # it answers
            except (OSError, http.client.HTTPException):
                time.sleep(0.01)
        raise EtcdError(
            f'etcd member m{k} not serving its peers within {START_TIMEOUT_S:g} s:\n{self._tail(k)}'
        )

    def _check_running(self, k):
        if not self.alive(k):
            tail = self._tail(k)
            if 'address already in use' in tail:
                raise _PortTaken(f'etcd member m{k}: a port was taken:\n{tail}')
            raise EtcdError(f'etcd member m{k} exited ({self.procs[k].returncode}):\n{tail}')

    def _wait_healthy(self, k, deadline):
        # etcd accepts on its client port before it serves it (from when it has joined the
        # cluster): a /health asked early waits rather than fails, and is answered then.
        while time.monotonic() < deadline:
            self._check_running(k)
            if self.healthy(k):
                return
            time.sleep(0.05)
        raise EtcdError(f'etcd member m{k} not healthy in time:\n{self._tail(k)}')

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _make_certificates(directory):
    """A CA, a certificate for the members (127.0.0.1) and one for their clients, made with
    openssl in `directory`: {'ca', 'server', 'server_key', 'client', 'client_key'} paths."""
    os.makedirs(directory, exist_ok=True)
    paths = {
        name: os.path.join(directory, f'{name}.pem')
        for name in ('ca', 'ca_key', 'server', 'server_key', 'client', 'client_key')
    }
    ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    openssl = ['openssl', 'req', '-x509', *ec, '-days', '2', '-subj', '/CN=naas-lab etcd CA']
    _run([*openssl, '-keyout', paths['ca_key'], '-out', paths['ca']])
    for name, extension in (
        # clientAuth too: etcd's JSON gateway reaches its own gRPC server with this certificate
        ('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth'),
        ('client', 'extendedKeyUsage=clientAuth'),
    ):
        csr, ext = os.path.join(directory, f'{name}.csr'), os.path.join(directory, f'{name}.ext')
        with open(ext, 'w') as f:
            f.write(extension + '\n')
        _run(
            [
                'openssl',
                'req',
                *ec,
                '-subj',
                f'/CN=naas-lab etcd {name}',
                '-keyout',
                paths[f'{name}_key'],
                '-out',
                csr,
            ]
        )
        _run(['openssl', 'x509', '-req', '-in', csr, '-CA', paths['ca'], '-CAkey', paths['ca_key'],
              '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', paths[name]])  # fmt: skip
    return paths


def _run(argv):
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise EtcdError(f'{" ".join(argv[:2])} failed: {done.stderr.strip()[-500:]}')
