"""Build the emulated fabric in Mininet, break it, and remove exactly what was built.

`FabricTopo` is pure data (usable by `mn --custom`); `Emulation` owns one run: it refuses
to start when any name it would create already exists, so that tearing down by those
names removes only what this run made, whatever state a failure left it in. Switches and
hosts live in network namespaces that vanish with their processes; what this run creates
in the host's namespace is the span emulator's interfaces and the switches' run
directory (with the OVS daemons' pid files) under /run/naas-fabric/<fabric>; the span
emulator process is this process's child and exits with it.
"""

import fcntl
import os
import shutil
import signal
import threading
import time

from mininet.net import Mininet
from mininet.node import Host, RemoteController
from mininet.topo import Topo

from topologies.emulation import lateness
from topologies.emulation.span import (
    SpanEmulator,
    SpanEmulatorMissing,
    SpanLink,
    netem_available,
    run,
    spand_path,
)
from topologies.emulation.switch import RUN_ROOT, SiteSwitch, datapath_type, fabric_rundir, stop_daemons
from topologies.model import addressing as addr


class FabricHost(Host):
    """A tenant or probe host: IPv4 only, and checksums computed in software when frames
    are copied by userspace on their way (OVS's userspace datapath, the span emulator):
    a checksum left to "hardware" would arrive unfilled and TCP would fail."""

    def config(self, tx_checksum_off=True, **params):
        result = super().config(**params)
        self.cmd('sysctl -q -w net.ipv6.conf.all.disable_ipv6=1')
        if tx_checksum_off:
            self.cmd(f'ethtool -K {self.defaultIntf()} tx off >/dev/null')
        return result


class FabricTopo(Topo):
    """One OpenFlow 1.3 switch per site (secure fail mode: nothing forwards without the
    controller), a probe host per site, a host per (tenant, site), a SpanLink per span. The
    spans share one span emulator (not started until a span needs it)."""

    def build(self, fabric, datapath=None, span_emulator=None):
        datapath = datapath or datapath_type()
        self.span_emulator = span_emulator or SpanEmulator(fabric.name)
        host_opts = dict(cls=FabricHost, tx_checksum_off=datapath == 'netdev' or not netem_available())
        for site in fabric.sites.values():
            self.addSwitch(
                site.id,
                cls=SiteSwitch,
                dpid=addr.dpid_str(site),
                datapath=datapath,
                rundir=os.path.join(fabric_rundir(fabric.name), site.id),
            )
            probe = self.addHost(
                addr.probe_name(site),
                ip=f'{addr.probe_ip(site)}/{addr.PREFIX_LEN}',
                mac=addr.probe_mac(site),
                **host_opts,
            )
            self.addLink(
                probe, site.id, port2=addr.PROBE_PORT, intfName1='eth0', intfName2=addr.probe_intf(site)
            )
        for tenant in fabric.tenants.values():
            for site in (fabric.sites[s] for s in tenant.sites):
                host = self.addHost(
                    addr.host_name(tenant, site),
                    ip=f'{addr.host_ip(tenant, site)}/{addr.PREFIX_LEN}',
                    mac=addr.host_mac(tenant, site),
                    **host_opts,
                )
                self.addLink(
                    host,
                    site.id,
                    port2=addr.tenant_port(tenant),
                    intfName1='eth0',
                    intfName2=addr.tenant_intf(tenant, site),
                )
        for span in fabric.spans:
            self.addLink(
                span.a,
                span.b,
                cls=SpanLink,
                mbps=span.emulated_mbps,
                delay_ms=span.delay_ms,
                loss_pct=span.loss_pct,
                span_id=span.id,
                emulator=self.span_emulator,
                port1=addr.span_port(fabric, span.a, span.b),
                port2=addr.span_port(fabric, span.b, span.a),
                intfName1=addr.span_intf(span.a, span.b),
                intfName2=addr.span_intf(span.b, span.a),
            )


def root_interfaces(fabric):
    """The interfaces this fabric creates in the host's namespace: the span emulators' ends."""
    return [addr.span_intf(a, b) + 'r' for s in fabric.spans for a, b in ((s.a, s.b), (s.b, s.a))]


class EmulationError(RuntimeError):
    pass


class _Controller(RemoteController):
    """Only an address for the switches: Mininet's own check (telnet, no timeout) could hang
    on an address that drops packets, and would switch to 6653 if the port were not open."""

    def checkListening(self):
        pass


class Emulation:
    """One run of an emulated fabric. Use as a context manager; stop() is idempotent."""

    def __init__(self, fabric, controller=None):
        self.fabric = fabric
        # (host, port), a list of them (controller replicas: every switch connects to every
        # one, docs/ha.md), or None: no controller at all
        self.controllers = (
            [] if controller is None else [controller] if isinstance(controller, tuple) else list(controller)
        )
        self.net = None
        self._lock = None  # fd of the claimed run directory, flock-ed
        self.measured = {}  # span id -> latest measure.SpanFigures
        self.span_emulator = SpanEmulator(fabric.name)
        self._cut_or_restored = {}  # span id -> when it was last cut or restored (monotonic)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if not netem_available():  # fail before building anything when the emulator cannot run
            try:
                spand_path()
            except SpanEmulatorMissing as exc:
                raise EmulationError(f'cannot build fabric {self.fabric.name}: {exc}') from None
        taken = existing_names(self.fabric)
        try:
            if not taken:  # claim the fabric: of two runs started at once, one gets it
                os.makedirs(RUN_ROOT, exist_ok=True)
                os.mkdir(fabric_rundir(self.fabric.name))
                self._lock = os.open(fabric_rundir(self.fabric.name), os.O_RDONLY)
                fcntl.flock(self._lock, fcntl.LOCK_EX)  # held while running: `clean` checks it
        except FileExistsError:
            taken = [f'directory {fabric_rundir(self.fabric.name)}']
        if taken:
            raise EmulationError(
                f'cannot build fabric {self.fabric.name}: {", ".join(taken)} already exist '
                f'(another run of this fabric? `naas-lab clean --fabric {self.fabric.name}` '
                "removes a killed run's leftovers)"
            )
        try:
            self.net = Mininet(
                topo=FabricTopo(self.fabric, span_emulator=self.span_emulator),
                controller=None,
                autoSetMacs=False,
                autoStaticArp=False,
                build=False,
                waitConnected=False,
            )
            for k, (host, port) in enumerate(self.controllers):
                self.net.addController(f'c{k}', controller=_Controller, ip=host, port=port)
            self.net.build()
            self.net.start()
        except BaseException:
            self.stop()
            raise

    def stop(self):
        """Stop Mininet, then remove by name whatever this run's names still hold. A second
        Ctrl-C or SIGTERM must not cut the tear-down short, so both wait until it is done."""
        net, self.net = self.net, None
        ignoring = threading.current_thread() is threading.main_thread()
        if ignoring:
            saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            if net is not None:
                net.stop()
        finally:
            self.span_emulator.stop()
            remove_names(self.fabric)
            if self._lock is not None:
                os.close(self._lock)
                self._lock = None
            if ignoring:
                for sig, handler in saved.items():
                    signal.signal(sig, handler)

    # The world, by domain names.
    def switch(self, site_id):
        return self.net[site_id]

    def host(self, tenant_id, site_id):
        return self.net[addr.host_name(self.fabric.tenants[tenant_id], self.fabric.sites[site_id])]

    def probe(self, site_id):
        return self.net[addr.probe_name(self.fabric.sites[site_id])]

    def span_link(self, a, b):
        span = self.fabric.span(a, b)
        if span is None:
            raise KeyError(f'no span between {a} and {b}')
        intf = self.net[span.a].intfs[addr.span_port(self.fabric, span.a, span.b)]
        return intf.link

    def site_down(self, site_id):
        """The site's switch crashes (switch.py, SiteSwitch.crash): its flows are gone, its
        controller connection drops, its spans keep their carrier; the site's hosts stay."""
        switch = self.switch(site_id)
        if switch.crashed:
            raise EmulationError(f'site {site_id} is already down')
        switch.crash()

    def site_up(self, site_id):
        """The site's switch starts again (empty table: the controller reconciles it)."""
        switch = self.switch(site_id)
        if not switch.crashed:
            raise EmulationError(f'site {site_id} is not down')
        switch.recover()

    def span_up(self, a, b, up=True):
        link = self.span_link(a, b)
        link.set_up(up)
        self._cut_or_restored[link.span_id] = time.monotonic()

    def set_span_delay(self, a, b, delay_ms):
        self.span_link(a, b).set_delay(delay_ms)

    def set_span_loss(self, a, b, loss_pct):
        """The span drops loss_pct % of its frames, its carrier up: a gray failure (100: a
        stall). A span joined in the kernel is relayed by the span emulator from then on."""
        self.span_link(a, b).set_loss(loss_pct)

    def span_state(self, a, b):
        link = self.span_link(a, b)
        return {'up': link.up, 'delay_ms': link.delay_ms, 'mbps': link.mbps, 'loss_pct': link.loss_pct}

    # How late the span emulator is (lateness.py): spans joined in the kernel are left out.
    def lateness_mark(self):
        """The span emulator's counters now: pass it to lateness(since=...) later."""
        return lateness.LatenessMark(self.span_emulator.stats())

    def lateness(self, since=None):
        """{span id: SpanLateness} of every relayed span, over the window since the mark
        (lateness_mark()) or since the span was set up. A span cut or restored meanwhile is
        left out: taking a span's ends down holds up the frames being sent on it in the
        kernel (seen: 12-17 ms on triangle), and a cut span carries nothing a measurement
        could take from it."""
        changed_after = since.at if since else float('-inf')
        return {
            span_id: late
            for span_id, late in lateness.window(self.span_emulator.stats(), since).items()
            if span_id not in self._cut_or_restored or self._cut_or_restored[span_id] < changed_after
        }


def existing_names(fabric):
    found = [f'interface {i}' for i in root_interfaces(fabric) if os.path.exists(f'/sys/class/net/{i}')]
    if os.path.exists(fabric_rundir(fabric.name)):
        found.append(f'directory {fabric_rundir(fabric.name)}')
    return found


def running(fabric):
    """True while a run of this fabric holds its run directory (see Emulation.start)."""
    return _held(fabric_rundir(fabric.name))


def running_fabric_names():
    """The names of the fabrics running on this machine, by their held run directories."""
    names = os.listdir(RUN_ROOT) if os.path.isdir(RUN_ROOT) else []
    return sorted(n for n in names if _held(fabric_rundir(n)))


def _held(rundir):
    try:
        fd = os.open(rundir, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def remove_names(fabric):
    """Stop this fabric's OVS daemons (by the pids in its run directory) and delete its
    interfaces in the host's namespace, by exact name."""
    rundir = fabric_rundir(fabric.name)
    if os.path.isdir(rundir):
        for site_dir in os.listdir(rundir):
            stop_daemons(os.path.join(rundir, site_dir))
        shutil.rmtree(rundir, ignore_errors=True)
    for intf in root_interfaces(fabric):
        if os.path.exists(f'/sys/class/net/{intf}'):
            run('ip', 'link', 'del', intf, check=False)
