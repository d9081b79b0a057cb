"""A running lab: a fabric emulated by Mininet, the real controller process programming it, and
API clients with each tenant's token; plus what the tenants' hosts measure. The scenario runner
(topologies/lab/scenario/runner.py), the pytest plugin and the integration tests all use it.

    with Lab(load_fabric('triangle'), workdir) as lab:
        with lab.client('acme') as client:
            client.create_intent('sea', 'sfo', 2)
        lab.pings(('acme', 'sea'), ('acme', 'sfo'))
"""

import json
import os
import re
import subprocess
import time

import yaml

from topologies.emulation.budget import BudgetWatch
from topologies.emulation.measure import DELAY_TOLERANCE, delay_within, finish, wait_listening
from topologies.lab.controller_process import ControllerProcess, free_port
from topologies.lab.etcd import EtcdCluster
from topologies.lab.replicas import Replicas
from topologies.model import addressing as addr
from topologies.model.fabric import load_fabric

READY_TIMEOUT_S = 90.0  # every switch connected, every span up and its delay measured
IPERF_PORT = 5202


class Lab:
    """Start the controller, then the emulation pointed at it; wait until the controller sees
    the whole fabric. Leaving the `with` stops both (also on errors and Ctrl-C); `status` is
    then the controller's exit status. With `warn`, once the lab is ready, a line goes to
    warn(line) at most every few seconds while some span emulator is late beyond its
    tolerance (budget.BudgetWatch). `ready=False` skips the wait, for benchmarks that watch
    the controller's figures settle."""

    def __init__(
        self, fabric, workdir, policy=None, say=lambda message: None, warn=None, ready=True, replicas=0
    ):
        """`replicas`: 0 for one controller on SQLite; N for N replicas on an etcd cluster of 3
        members the lab starts on loopback (docs/ha.md): `controller` is then the Replicas."""
        self.fabric, self.workdir, self.say, self.warn = fabric, str(workdir), say, warn
        self.ready = ready
        self.watch = None
        extra = []
        if policy:
            path = os.path.join(self.workdir, 'policy.yaml')
            with open(path, 'w') as f:
                yaml.safe_dump(policy, f)
            extra = ['--policy', path]
        self.etcd = None
        if replicas:
            self.etcd = EtcdCluster(workdir=os.path.join(self.workdir, 'etcd'))
            self.controller = Replicas(fabric.source, self.etcd.url, self.workdir, replicas, extra, http=True)
        else:
            self.controller = ControllerProcess(
                fabric.source,
                os.path.join(self.workdir, 'naas.db'),
                os.path.join(self.workdir, 'controller.log'),
                extra_args=extra,
                http_port=free_port(),
            )
        self.emulation = None
        self.status = None
        self.changed = {}  # span id -> (site, site, delay ms, loss %) before a span_* call changed it

    def __enter__(self):
        try:
            if self.etcd is not None:
                self.say('starting etcd (3 members) and the controller replicas')
                self.etcd.start()
                self.controller.url = self.etcd.url  # its ports, if a taken one made it choose again
            else:
                self.say('starting the controller')
            self.controller.start()
            self.say(f'the web view: {" ".join(self.controller.web_urls)}')
            from topologies.emulation.net import Emulation  # Mininet: only where a lab runs

            self.say(
                f'building fabric {self.fabric.name}: {len(self.fabric.sites)} sites, '
                f'{len(self.fabric.spans)} spans'
            )
            self.emulation = Emulation(self.fabric, controller=self.controller.address)
            self.emulation.start()
            if self.ready:
                self.say('waiting until the controller sees every switch and has measured every span')
                started = time.monotonic()
                wait_ready(self.controller, self.spans())
                self.say(f'ready in {time.monotonic() - started:.1f} s')
            if self.warn:
                self.watch = BudgetWatch(self.emulation, self.warn).start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        try:
            if self.watch is not None:
                self.watch.stop()
                self.watch = None
            if self.emulation is not None:
                self.emulation.stop()
        finally:
            self.status = self.controller.stop()
            if self.etcd is not None:
                self.etcd.stop()

    def client(self, who='operator', **kw):
        """A naasctl Client with `who`'s token: 'operator' or a tenant id."""
        return self.controller.client(who, **kw)

    def restart_controller(self):
        """Stop the controller (SIGTERM) and start it again on the same store and ports."""
        self.status = self.controller.stop()
        self.controller.start()
        wait_ready(self.controller, self.spans())

    # Replicas and etcd (Lab(replicas=N)): by index, or 'leader' for the one that leads now.
    def replica(self, which):
        k = self.controller.leader() if which == 'leader' else which
        if k is None:
            raise RuntimeError('no replica leads now')
        return k

    def kill_replica(self, which):
        """SIGKILL a replica; returns its index (`restart_replicas` brings it back)."""
        k = self.replica(which)
        self.controller.kill(k)
        return k

    def pause_replica(self, which, seconds):
        """SIGSTOP a replica for `seconds`, then SIGCONT (a leader cut off for that long: past
        its lease it is replaced, and once back it ends itself); returns its index."""
        k = self.replica(which)
        self.controller.pause(k)
        try:
            time.sleep(seconds)
        finally:
            self.controller.resume(k)
        return k

    def restart_replicas(self):
        """Every replica that is not running, started again (as a follower)."""
        for k in range(len(self.controller.processes)):
            if not self.controller.alive(k):
                self.controller.restart(k)

    def spans(self):
        """{span id: (up, one-way delay ms)}: the spans as they are now (see wait_ready)."""
        states = {s.id: self.emulation.span_state(s.a, s.b) for s in self.fabric.spans}
        return {span_id: (state['up'], state['delay_ms']) for span_id, state in states.items()}

    # Events, by the names of the sites at either end of a span.
    def span_down(self, a, b):
        self._remember(a, b)
        self.emulation.span_up(a, b, up=False)

    def span_up(self, a, b):
        self._remember(a, b)
        self.emulation.span_up(a, b, up=True)

    def span_delay(self, a, b, ms):
        self._remember(a, b)
        self.emulation.set_span_delay(a, b, ms)

    def span_loss(self, a, b, pct):
        """The span drops pct % of its frames, its carrier up (100: it stalls)."""
        self._remember(a, b)
        self.emulation.set_span_loss(a, b, pct)

    def site_down(self, site):
        """The site's switch crashes (its daemons killed): see Emulation.site_down."""
        self.emulation.site_down(site)

    def site_up(self, site):
        self.emulation.site_up(site)

    def restore_spans(self):
        """Every span a span_* call changed: up again, with its delay from before."""
        for a, b, delay_ms, loss_pct in self.changed.values():
            self.emulation.set_span_delay(a, b, delay_ms)
            self.emulation.set_span_loss(a, b, loss_pct)
            self.emulation.span_up(a, b, up=True)
        self.changed.clear()

    def _remember(self, a, b):
        span = self.fabric.span(a, b)
        if span is None:
            raise KeyError(f'no span between {a} and {b}')
        state = self.emulation.span_state(a, b)
        self.changed.setdefault(span.id, (a, b, state['delay_ms'], state['loss_pct']))

    # Tenant hosts, as (tenant, site) pairs.
    def host(self, host):
        tenant, site = host
        return self.emulation.host(tenant, site)

    def ip(self, host):
        tenant, site = host
        return addr.host_ip(self.fabric.tenants[tenant], self.fabric.sites[site])

    def pings(self, src, dst, count=3, interval='0.2'):
        return pings(self.host(src), self.ip(dst), count, interval)

    def goodput_mbps(self, src, dst, seconds=5, udp_mbps=None):
        return goodput_mbps(self.host(dst), self.host(src), self.ip(dst), seconds, udp_mbps)


def wait_ready(controller, spans=None, timeout_s=READY_TIMEOUT_S):
    """Wait until `controller` (a ControllerProcess) sees every switch connected and every span
    as it is (`spans`: {span id: (up, one-way delay ms)}; default: the fabric's, all up), with
    its measured delay settled on the real one, in both directions (`unsettled`). Before that
    it would place intents on what it measured while dozens of switches were starting
    (delays several times too high)."""
    if spans is None:
        spans = {s.id: (True, s.delay_ms) for s in load_fabric(controller.fabric).spans}
    off = []

    def ready():
        with controller.client() as client:
            off[:] = unsettled(client.get_topology(), spans)
        return not off

    try:
        wait_for('every switch connected, every span as it is and its delay measured', ready, timeout_s)
    except AssertionError as e:
        more = f' and {len(off) - 10} more' if len(off) > 10 else ''
        raise AssertionError(f'{e}: still off: {"; ".join(off[:10])}{more}') from None


def unsettled(topology, spans):
    """What keeps a topology (naas.v1 Topology, as the controller reports it) from being the
    fabric as it is (`spans`, see wait_ready), one item each: a switch not connected, a span
    up or down when it should not be, or a direction whose delay is not yet measured or not
    within 5% + 0.5 ms (measure.DELAY_TOLERANCE) of the span's delay: a rule relative to
    each span, so that a 0.4 ms span read as 1 ms is not settled."""
    rel, abs_ms = DELAY_TOLERANCE
    off = [f'switch {site.id} not connected' for site in topology.sites if not site.connected]
    for span in topology.spans:
        up, delay_ms = spans[span.id]
        if span.up != up:
            off.append(f'span {span.id} {"down" if up else "up"}, expected {"up" if up else "down"}')
            continue
        if not up:
            continue
        for d in span.directions:
            way = f'span {span.id} {d.from_site}->{d.to_site}'
            if not d.delay_measured:
                off.append(f'{way} not measured yet')
            elif not delay_within(delay_ms, d.delay_ms):
                off.append(
                    f'{way} {d.delay_ms:.3f} ms, configured {delay_ms:g} ms '
                    f'(within {rel * delay_ms + abs_ms:.3f} ms is settled)'
                )
    return off


def wait_for(what, condition, timeout_s=15.0):
    """The first true value of condition(), polled every 0.1 s; AssertionError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f'{what}: not within {timeout_s:g} s')


def ping_counts(out, count=0):
    """(sent, received) from ping's summary; (count, 0) if it printed none."""
    m = re.search(r'(\d+) packets transmitted, (\d+) received', out)
    return (int(m.group(1)), int(m.group(2))) if m else (count, 0)


def pings(host, target, count=3, interval='0.2'):
    """(sent, received) of a ping run from a host."""
    return ping_counts(host.cmd(f'ping -n -c {count} -i {interval} -W 1 {target}'), count)


def goodput_mbps(server, client, target, seconds=5, udp_mbps=None):
    """What reaches `server` from `client` (iperf3, the first 2 s omitted), emulated Mb/s: one
    TCP flow, or UDP sent at `udp_mbps` (1400-byte datagrams); 0.0 if no flow."""
    srv = server.popen(
        ['iperf3', '-s', '-1', '-p', str(IPERF_PORT)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    udp = [] if udp_mbps is None else ['-u', '-b', f'{udp_mbps:g}M', '-l', '1400']
    try:
        wait_listening(server, IPERF_PORT)
        cli = client.popen(
            [
                'iperf3',
                '-c',
                target,
                '-p',
                str(IPERF_PORT),
                '-t',
                str(seconds),
                '-O',
                '2',
                '-J',
                '--connect-timeout',
                '3000',
                *udp,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        out = finish(cli, seconds + 25)
        try:
            return json.loads(out)['end']['sum_received']['bits_per_second'] / 1e6
        except (ValueError, KeyError):
            return 0.0
    finally:
        if srv.poll() is None:
            srv.kill()
        finish(srv, 5)
