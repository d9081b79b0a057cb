"""Tenant traffic along a chosen path without a controller, for benchmarks and tests.

The switches forward nothing on their own (secure fail mode), so a `TenantPath` installs
temporary flows beside measure's (cookie in the same 'NM' range, one cookie per path so that
removing one path, or a span measurement, leaves the others): frames to each end host's MAC
go along the path, both ways. `UdpFlow` then offers an iperf3 UDP load from one end to the other.
"""

import itertools
import json
import subprocess
import sys
from collections import deque

from topologies.emulation.measure import MEASURE_COOKIE, finish, wait_listening
from topologies.model import addressing as addr

TRAFFIC_PRIORITY = 64000  # under measure's probe flows, which match other MACs anyway
_cookies = itertools.count(MEASURE_COOKIE + 0x100)
IPERF_BASE_PORT = 5300


def shortest_path(fabric, a, b):
    """The sites from a to b on a path of fewest spans (BFS; ties broken by fabric order)."""
    came_from, todo = {a: None}, deque([a])
    while todo:
        here = todo.popleft()
        if here == b:
            path = []
            while here is not None:
                path.append(here)
                here = came_from[here]
            return path[::-1]
        for span in fabric.spans_of(here):
            there = span.other(here)
            if there not in came_from:
                came_from[there] = here
                todo.append(there)
    raise ValueError(f'no path from {a} to {b}')


class TenantPath:
    """Flows joining tenant's hosts at the first and last site of `sites`, along `sites`."""

    def __init__(self, emu, tenant_id, sites):
        fabric = emu.fabric
        self.emu, self.sites = emu, list(sites)
        self.tenant = fabric.tenants[tenant_id]
        self.ends = [fabric.sites[self.sites[0]], fabric.sites[self.sites[-1]]]
        self.cookie = next(_cookies)
        self.spans = [fabric.span(a, b) for a, b in itertools.pairwise(self.sites)]

    def __enter__(self):
        try:
            self._install()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _install(self):
        fabric, tenant = self.emu.fabric, self.tenant
        flow = f'cookie={self.cookie:#x},priority={TRAFFIC_PRIORITY}'
        for i, site_id in enumerate(self.sites):
            for end, step in ((self.ends[1], 1), (self.ends[0], -1)):
                j = i + step
                if 0 <= j < len(self.sites):
                    out = addr.span_port(fabric, site_id, self.sites[j])
                else:  # this is the end host's own site
                    out = addr.tenant_port(tenant)
                self.emu.switch(site_id).ofctl(
                    'add-flow', f'{flow},dl_dst={addr.host_mac(tenant, end)},actions=output:{out}'
                )
        for here, there in (self.ends, self.ends[::-1]):
            self.emu.host(tenant.id, here.id).cmd(
                f'ip neigh replace {addr.host_ip(tenant, there)} '
                f'lladdr {addr.host_mac(tenant, there)} dev eth0 nud permanent'
            )

    def __exit__(self, *exc):
        """Best effort everywhere: one failing must not leave the others' flows behind."""
        for site_id in self.sites:
            try:
                self.emu.switch(site_id).ofctl('del-flows', f'cookie={self.cookie:#x}/-1')
            except RuntimeError:
                pass
        for here, there in (self.ends, self.ends[::-1]):
            self.emu.host(self.tenant.id, here.id).cmd(
                f'ip neigh del {addr.host_ip(self.tenant, there)} dev eth0'
            )


class UdpFlow:
    """iperf3 UDP at `mbps` from the first end of `path` to the last, for `seconds`."""

    def __init__(self, path, mbps, seconds, length=1400):
        self.path, self.mbps, self.seconds, self.length = path, mbps, seconds, length
        self.port = IPERF_BASE_PORT + path.cookie % 1000
        self.server = self.client = None

    def start(self):
        emu, tenant = self.path.emu, self.path.tenant
        src, dst = self.path.ends
        self.server = emu.host(tenant.id, dst.id).popen(
            ['iperf3', '-s', '-1', '-p', str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_listening(emu.host(tenant.id, dst.id), self.port)
        self.client = emu.host(tenant.id, src.id).popen(
            [
                'iperf3',
                '-c',
                addr.host_ip(tenant, dst),
                '-p',
                str(self.port),
                '-u',
                '-b',
                f'{self.mbps}M',
                '-l',
                str(self.length),
                '-t',
                str(self.seconds),
                '-J',
                '--connect-timeout',
                '3000',
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        return self

    def stop(self):
        """End the flow now (its figures are not wanted)."""
        for proc in (self.client, self.server):
            if proc.poll() is None:
                proc.terminate()
            finish(proc, 5)

    def result(self):
        """(Mb/s received, lost percent), or (0.0, 100.0) if the flow failed; waits for the end."""
        out = finish(self.client, self.seconds + 20)
        finish(self.server, 5)
        try:
            end = json.loads(out)['end']['sum']
            return round(end['bits_per_second'] / 1e6 * (1 - end['lost_percent'] / 100), 3), end[
                'lost_percent'
            ]
        except (ValueError, KeyError):
            return 0.0, 100.0


# Runs in a host's namespace: ARP requests for random neighbours and LLDP, alternately, as fast
# as one Python loop sends them on the host's interface, for the given seconds; prints how many.
_FLOOD = """
import os, socket, sys, time
iface, seconds = sys.argv[1], float(sys.argv[2])
mac = bytes.fromhex(open(f'/sys/class/net/{iface}/address').read().strip().replace(':', ''))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
arp = b'\\xff' * 6 + mac + b'\\x08\\x06' + bytes.fromhex('0001080006040001') + mac + bytes(4) + bytes(6)
lldp = bytes.fromhex('0180c200000e') + mac + b'\\x88\\xcc' + bytes.fromhex('020704') + mac + bytes(2)
sent, end = 0, time.monotonic() + seconds
while time.monotonic() < end:
    for _ in range(100):
        try:
            s.send(arp + os.urandom(4) + bytes(18))
            s.send(lldp + bytes(40))
            sent += 2
        except OSError:  # the interface's queue is full: that is line rate
            pass
print(sent, flush=True)
"""


class ControlFlood:
    """A tenant host flooding what a switch could hand its controller (ARP and LLDP) for
    `seconds`, as fast as it can. `result()` -> frames sent."""

    def __init__(self, emu, tenant_id, site_id, seconds):
        self.host, self.seconds = emu.host(tenant_id, site_id), seconds
        self.proc = None

    def start(self):
        iface = self.host.defaultIntf().name
        self.proc = self.host.popen(
            [sys.executable, '-c', _FLOOD, iface, str(self.seconds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        return self

    def result(self):
        out = finish(self.proc, self.seconds + 20)
        return int(out.split()[0]) if out.strip() else 0
