"""The switch of a site: its own Open vSwitch in the site's own network namespace.

Why not one shared ovs-vswitchd, as Mininet does? Without the kernel module, OVS forwards
in its userspace datapath, whose main loop polls every port of every bridge on each
wake-up: with lumen-qts (31 bridges, ~150 ports) each hop took 0.7-1.9 ms, enough to
swamp short spans. One ovsdb-server + ovs-vswitchd per site keeps a hop at ~0.1 ms
(~14 MB and no idle CPU per site). The namespace gives each instance its own datapath
device. OpenFlow reaches a controller on the host's loopback through `OpenFlowProxy`.
"""

import os
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from mininet.node import Switch

from topologies.emulation.openflow_proxy import OpenFlowProxy

RUN_ROOT = '/run/naas-fabric'
OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'
DAEMONS = ('ovs-vswitchd', 'ovsdb-server')


def datapath_type():
    """Open vSwitch's kernel datapath where its module is loaded, the userspace one otherwise."""
    return 'system' if os.path.isdir('/sys/module/openvswitch') else 'netdev'


def fabric_rundir(fabric_name):
    """Where a fabric's switches keep their databases, sockets and pid files."""
    if not fabric_name or fabric_name in ('.', '..') or os.sep in fabric_name:
        raise ValueError(f'fabric name {fabric_name!r} cannot name a directory')  # never rmtree('/')
    return os.path.join(RUN_ROOT, fabric_name)


class SiteSwitch(Switch):
    """An OpenFlow 1.3 switch in secure fail mode: nothing forwards without a controller."""

    _proxies = {}  # controller (host, port) -> OpenFlowProxy, shared by the switches
    _proxies_lock = threading.Lock()

    def __init__(self, name, rundir, datapath=None, **params):
        params['inNamespace'] = True  # Mininet passes its default (False) for switches
        super().__init__(name, **params)
        self.rundir = rundir
        self.datapath = datapath or datapath_type()
        self._controllers = []  # given to start(), used by batchStartup()
        self.crashed = False
        self.controller_keys = []
        self.cmd('sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1')

    @property
    def mgmt(self):
        """Where ovs-ofctl reaches this switch: `ovs-ofctl dump-flows <mgmt>`."""
        return f'unix:{self.rundir}/{self.name}.mgmt'

    def vsctl(self, *args):
        return _run('ovs-vsctl', f'--db=unix:{self.rundir}/db.sock', '--timeout=30', *args)

    def ofctl(self, *args):
        """ovs-ofctl VERB [ARGS...] against this switch, OpenFlow 1.3."""
        verb, *rest = args
        return _run('ovs-ofctl', '-O', 'OpenFlow13', verb, self.mgmt, *rest)

    def dpctl(self, *args):
        """Mininet's `dpctl` CLI command, pointed at this switch's own OVS."""
        return self.ofctl(*args).stdout

    def start(self, controllers):
        """Mininet calls this for each switch, then batchStartup for all: start there."""
        self._controllers = controllers

    @classmethod
    def batchStartup(cls, switches, run=None):
        # Each start mostly waits for OVS daemons to come up: overlap them.
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda sw: sw._start(sw._controllers), switches))
        return switches

    def crash(self):
        """The whole site goes down as a crashed machine would: its Open vSwitch daemons are
        killed (SIGKILL), so its flows are gone and its controller connection drops; its
        ports keep their carrier, so its neighbours see nothing but silence."""
        stop_daemons(self.rundir, timeout_s=0)
        self.crashed = True

    def recover(self):
        """The site back after crash(): its daemons start again on their database (bridge,
        ports and controllers as they were), with an empty flow table for the controller to
        fill."""
        self._daemons()
        self.crashed = False

    def _daemons(self):
        d = self.rundir
        self._in_ns(
            'ovsdb-server', f'{d}/conf.db', f'--remote=punix:{d}/db.sock', *_daemon_opts(d, 'ovsdb-server')
        )
        self.vsctl('--no-wait', 'init')
        self._in_ns(
            'ovs-vswitchd',
            f'unix:{d}/db.sock',
            *_daemon_opts(d, 'ovs-vswitchd'),
            *(['--disable-system'] if self.datapath == 'netdev' else []),
        )

    def _start(self, controllers):
        os.makedirs(self.rundir)
        d = self.rundir
        _run('ovsdb-tool', 'create', f'{d}/conf.db', OVS_SCHEMA)
        self._daemons()
        targets = [self._proxy_for(c) for c in controllers]
        args = [
            '--',
            'add-br',
            self.name,
            '--',
            'set',
            'bridge',
            self.name,
            f'datapath_type={self.datapath}',
            'fail_mode=secure',
            'protocols=OpenFlow13',
            f'other-config:datapath-id={self.dpid}',
            f'other-config:dp-desc={self.name}',
        ]
        if targets:
            ids = ','.join(f'@c{i}' for i in range(len(targets)))
            args += ['--', 'set', 'bridge', self.name, f'controller=[{ids}]']
            for i, target in enumerate(targets):
                args += [
                    '--',
                    f'--id=@c{i}',
                    'create',
                    'controller',
                    f'target="{target}"',
                    'max_backoff=1000',
                ]
        for port, intf in sorted(self.intfs.items()):
            if intf.name == 'lo':
                continue
            args += [
                '--',
                'add-port',
                self.name,
                intf.name,
                '--',
                'set',
                'interface',
                intf.name,
                f'ofport_request={port}',
            ]
            if hasattr(intf.link, 'qos_args'):
                args += intf.link.qos_args(intf)
        self.vsctl(*args)

    def _in_ns(self, *argv):
        env = dict(os.environ, OVS_RUNDIR=self.rundir, OVS_DBDIR=self.rundir)
        _run('nsenter', f'--net=/proc/{self.pid}/ns/net', *argv, env=env)

    def _proxy_for(self, controller):
        key = (controller.IP(), controller.port)
        with self._proxies_lock:
            if key not in self._proxies:
                self._proxies[key] = OpenFlowProxy(key)
            self.controller_keys.append(key)
            return self._proxies[key].listen(self._proxy_path(key))

    def _proxy_path(self, key):
        return os.path.join(self.rundir, f'of{key[1]}.sock')  # Unix socket paths: < 108 bytes

    def stop(self, deleteIntfs=True):
        stop_daemons(self.rundir)
        for key in self.controller_keys:
            proxy = self._proxies.get(key)
            if proxy:
                proxy.forget(self._proxy_path(key))
                if proxy.idle:
                    proxy.stop()
                    del self._proxies[key]
        self.controller_keys = []
        shutil.rmtree(self.rundir, ignore_errors=True)
        try:
            os.rmdir(os.path.dirname(self.rundir))  # the fabric's directory, once empty
        except OSError:
            pass
        super().stop(deleteIntfs)


def stop_daemons(rundir, timeout_s=5.0):
    """Stop the OVS daemons whose pid files are in `rundir` (ours, by pid): SIGTERM, then
    SIGKILL after `timeout_s` (0: at once)."""
    pids = [pid for pid in (daemon_pid(rundir, d) for d in DAEMONS) if pid is not None]
    if timeout_s > 0:
        for pid in pids:
            _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while any(map(_running, pids)) and time.monotonic() < deadline:
        time.sleep(0.005)
    for pid in filter(_running, pids):
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while any(map(_running, pids)) and time.monotonic() < deadline:  # gone, so a restart may begin
        time.sleep(0.005)


def daemon_pid(rundir, daemon):
    """The pid of an OVS daemon in its pid file in `rundir`, if that process is still the
    daemon of this rundir (not a recycled pid, nor the system's daemon); else None."""
    try:
        with open(os.path.join(rundir, f'{daemon}.pid')) as f:
            pid = int(f.read().strip())
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            argv = f.read().decode(errors='replace').split('\0')
    except (OSError, ValueError):
        return None
    return pid if os.path.basename(argv[0]) == daemon and any(rundir in a for a in argv) else None


def _running(pid):
    """Alive and not a zombie: detached daemons are reaped by init, sometimes a second later."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _daemon_opts(rundir, daemon):
    return [
        f'--pidfile={rundir}/{daemon}.pid',
        f'--unixctl={rundir}/{daemon}.ctl',
        f'--log-file={rundir}/{daemon}.log',
        '--detach',
        '--no-chdir',
    ]


def _run(*argv, env=None):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    if p.returncode:
        raise RuntimeError(f'{" ".join(argv[:4])} ...: {p.stderr.strip() or p.returncode}')
    return p
