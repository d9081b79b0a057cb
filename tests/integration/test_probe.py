"""The 1 kHz UDP probe between two tenant hosts of an intent, on the real controller: no loss
while nothing happens, and an outage it can measure when a span of the intent's path is cut."""

import time

import pytest

from tests.integration.helpers import installed, ip, order, path_of, reaches, wait_for
from topologies.emulation.net import Emulation
from topologies.emulation.probe import Probe
from topologies.lab.controller_process import ControllerProcess
from topologies.model.fabric import load_fabric

pytestmark = pytest.mark.root

TRIANGLE = load_fabric('triangle')


@pytest.fixture(scope='module')
def red(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('probe')
    ctl = ControllerProcess('triangle', tmp / 'naas.db', tmp / 'controller.log').start()
    try:
        with Emulation(TRIANGLE, controller=ctl.address) as emu:
            (intent,) = order(ctl, ('red', 'dca', 'dcc', 5))
            installed(ctl, intent)
            src, dst = emu.host('red', 'dca'), emu.host('red', 'dcc')
            assert reaches(src, ip(TRIANGLE, 'red', 'dcc'))  # and ARP is resolved
            yield dict(emu=emu, ctl=ctl, intent=intent, src=src, dst=dst)
    finally:
        status = ctl.stop()
    assert status == 0, ctl.log()[-3000:]
    assert ctl.problems() == []


def probe(red):
    return Probe(red['src'], red['dst'], ip(TRIANGLE, 'red', 'dcc'))


def test_nothing_is_lost_while_nothing_happens(red):
    with probe(red) as p:
        time.sleep(3)
    r = p.result()
    print(
        f'\nidle: {r.sent} sent, {r.lost} lost, longest outage {r.longest_outage_ms} ms, '
        f'one-way delay {r.delay_ms} ms; send gaps {r.sender["gap_us"]} us'
    )
    assert 2900 <= r.sent <= 3100 and r.sender['errors'] == 0
    assert r.lost <= 2 and r.longest_outage_ms < 5
    assert 9 <= r.delay_ms['p50'] < 12  # dca-dcc: 9 ms one way


def test_a_cut_span_makes_an_outage_the_probe_measures(red):
    emu, ctl, intent = red['emu'], red['ctl'], red['intent']
    path = path_of(ctl, intent)
    a, b = path[0], path[1]
    with probe(red) as p:
        time.sleep(1.0)
        cut_ns = time.monotonic_ns()
        emu.span_up(a, b, False)
        try:
            time.sleep(0.3)
        finally:
            emu.span_up(a, b, True)
        time.sleep(2.0)
    r = p.result()
    since_cut = (r.outage_start_ns() - cut_ns) / 1e6 if r.lost else None
    print(
        f'\ncut {a}-{b} for 0.3 s on {"->".join(path)}: longest outage {r.longest_outage_ms} ms '
        f'(began {since_cut} ms after the cut), {r.lost} of {r.sent} lost ({r.lost_ms} ms), '
        f'{len(r.outages)} gap(s); path now {"->".join(path_of(ctl, intent))}'
    )
    assert 0 < r.longest_outage_ms < 1000
    # The outage is the cut's: probes lost to it left at most the span's delay before it
    # (in flight in the span emulator) and the first one lost is due soon after it.
    assert -TRIANGLE.span(a, b).delay_ms - 5 < since_cut < 50
    assert r.longest_outage_ms <= r.lost_ms + 5
    installed(ctl, intent)
    wait_for('intent carries traffic again', lambda: reaches(red['src'], ip(TRIANGLE, 'red', 'dcc')))
