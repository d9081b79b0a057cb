"""Three tenants flooding one shared span each keep at least 90% of their bandwidth.

The real controller (a ControllerProcess) admits one intent per tenant across the only span
of a two-site fabric and enforces them itself; nothing is installed by hand. The intents
fill most of the span (24 of 27 Gb/s, the most its 10% headroom admits), so a tenant that
sends more than its intent can only take it from the others unless the switches stop it.
"""

import json
import subprocess

import pytest

from tests.integration.helpers import installed, ip, order
from topologies.emulation.measure import finish, wait_listening
from topologies.emulation.net import Emulation
from topologies.lab.controller_process import ControllerProcess
from topologies.model.fabric import load_fabric

pytestmark = pytest.mark.root

WEST, EAST = 'dcw', 'dce'
INTENT_GBPS = {'ta': 6, 'tb': 6, 'tc': 12}  # different rates: no tenant is a copy of another
SPAN_GBPS = 27  # 24 Gb/s of intents <= 27 x (1 - 10% headroom)
FABRIC = f"""\
name: enforcement-test
description: Two data centers, one span, three tenants (tests/integration/test_enforcement.py).
emulation:
  bandwidth_scale: 0.001      # 1 Gb/s real -> 1 Mb/s emulated
sites:
  - {{id: {WEST}, kind: datacenter, lat: 39.04, lon: -77.49}}
  - {{id: {EAST}, kind: datacenter, lat: 40.08, lon: -82.81}}
spans:
  - {{between: [{WEST}, {EAST}], capacity_gbps: {SPAN_GBPS}, delay_ms: 5}}
tenants:
""" + ''.join(f'  - {{id: {t}, sites: [{WEST}, {EAST}]}}\n' for t in INTENT_GBPS)
SECONDS, OMIT = 6, 2
UDP_PAYLOAD = 1400  # bytes; meters count whole frames (1442 bytes), so UDP tops out at 97%


@pytest.fixture(scope='module')
def span(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('enforcement')
    path = tmp / 'enforcement-test.yaml'
    path.write_text(FABRIC)
    fabric = load_fabric(str(path))
    ctl = ControllerProcess(str(path), tmp / 'naas.db', tmp / 'controller.log').start()
    try:
        with Emulation(fabric, controller=ctl.address) as emu:
            installed(ctl, *order(ctl, *[(t, WEST, EAST, gbps) for t, gbps in INTENT_GBPS.items()]))
            yield emu
    finally:
        status = ctl.stop()
    assert status == 0, ctl.log()[-3000:]
    assert ctl.problems() == []


def rate_mbps(emu, tenant):
    return INTENT_GBPS[tenant] * 1000 * emu.fabric.bandwidth_scale


def send_together(emu, flows):
    """Each tenant sends from WEST to EAST at once: {tenant: 'tcp' or a UDP rate in Mb/s}.
    Returns the Mb/s each tenant's EAST host received."""
    port = {t: 5210 + emu.fabric.tenants[t].number for t in flows}
    servers, clients = {}, {}
    try:
        for tenant in flows:
            servers[tenant] = emu.host(tenant, EAST).popen(
                ['iperf3', '-s', '-1', '-p', str(port[tenant])],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        for tenant in flows:
            wait_listening(emu.host(tenant, EAST), port[tenant])
        for tenant, kind in flows.items():
            argv = [
                'iperf3',
                '-c',
                ip(emu.fabric, tenant, EAST),
                '-p',
                str(port[tenant]),
                '-t',
                str(SECONDS),
                '-O',
                str(OMIT),
                '-J',
                '--connect-timeout',
                '3000',
            ]
            if kind != 'tcp':
                argv += ['-u', '-b', f'{kind:g}M', '-l', str(UDP_PAYLOAD)]
            clients[tenant] = emu.host(tenant, WEST).popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
        return {t: received_mbps(finish(c, SECONDS + OMIT + 20)) for t, c in clients.items()}
    finally:
        for proc in [*clients.values(), *servers.values()]:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def received_mbps(out):
    try:
        return json.loads(out)['end']['sum_received']['bits_per_second'] / 1e6
    except (ValueError, KeyError):
        return 0.0  # the flow failed: nothing delivered


def shares(emu, got):
    return ', '.join(
        f'{t} {mbps:.2f}/{rate_mbps(emu, t):g} Mb/s ({100 * mbps / rate_mbps(emu, t):.0f}%)'
        for t, mbps in got.items()
    )


def test_tenants_flooding_the_span_each_get_their_rate_and_no_more(span):
    got = send_together(span, {t: 2 * rate_mbps(span, t) for t in INTENT_GBPS})
    print(f'all UDP at 2x: {shares(span, got)}')
    short = [t for t, mbps in got.items() if mbps < 0.9 * rate_mbps(span, t)]
    over = [t for t, mbps in got.items() if mbps > 1.05 * rate_mbps(span, t)]
    assert not short, f'below 90% of their intents: {short}; {shares(span, got)}'
    assert not over, f'above 105% of their intents (not capped): {over}; {shares(span, got)}'


def test_a_tcp_flow_keeps_its_rate_beside_two_floods(span):
    got = send_together(span, {'ta': 'tcp', 'tb': 2 * rate_mbps(span, 'tb'), 'tc': 2 * rate_mbps(span, 'tc')})
    print(f'ta TCP, tb and tc UDP at 2x: {shares(span, got)}')
    assert got['ta'] >= 0.9 * rate_mbps(span, 'ta'), f'ta TCP below 90% of its intent: {shares(span, got)}'
