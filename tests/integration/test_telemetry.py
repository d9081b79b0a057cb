"""Per-intent telemetry from real Open vSwitch: a tenant sending twice its intent's rate shows
that rate coming in, the meter's rate going out and the meter dropping the rest; a cut of
the only span of an unprotected intent shows in its SLA report as an outage, ongoing until
the span is back and the intent INSTALLED again, then closed.

The real controller (a ControllerProcess) reads the switches' meter and flow counters once a
second; the figures are read through the API with the tenant's own token."""

import subprocess
import time

import pytest

from tests.integration.helpers import installed, ip, order, wait_for
from topologies.emulation.measure import finish, wait_listening
from topologies.emulation.net import Emulation
from topologies.lab.controller_process import ControllerProcess
from topologies.model.fabric import load_fabric

pytestmark = pytest.mark.root

WEST, EAST = 'tw', 'te'
GBPS = 2  # the intent; 2 Mb/s emulated at the scale of 1/1000
FABRIC = f"""\
name: telemetry-test
description: Two data centers, one span, one tenant (tests/integration/test_telemetry.py).
emulation:
  bandwidth_scale: 0.001
sites:
  - {{id: {WEST}, kind: datacenter, lat: 39.04, lon: -77.49}}
  - {{id: {EAST}, kind: datacenter, lat: 40.08, lon: -82.81}}
spans:
  - {{between: [{WEST}, {EAST}], capacity_gbps: 10, delay_ms: 3}}
tenants:
  - {{id: tt, sites: [{WEST}, {EAST}]}}
"""


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('telemetry')
    path = tmp / 'telemetry-test.yaml'
    path.write_text(FABRIC)
    fabric = load_fabric(str(path))
    ctl = ControllerProcess(str(path), tmp / 'naas.db', tmp / 'controller.log').start()
    try:
        with Emulation(fabric, controller=ctl.address) as emu:
            (intent_id,) = order(ctl, ('tt', WEST, EAST, GBPS))
            installed(ctl, intent_id)
            yield ctl, emu, intent_id
    finally:
        status = ctl.stop()
    assert status == 0, ctl.log()[-3000:]
    assert ctl.problems() == []


def stats(ctl, intent_id, **kw):
    with ctl.client('tt') as client:
        return client.get_intent_stats(intent_id, **kw)


def test_traffic_above_the_rate_shows_it_coming_in_the_meters_rate_out_and_drops(lab):
    ctl, emu, intent_id = lab
    server = emu.host('tt', EAST).popen(
        ['iperf3', '-s', '-1', '-p', '5299'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    sent_mbps = 2 * GBPS * 1000 * emu.fabric.bandwidth_scale  # twice the intent
    client = None
    try:
        wait_listening(emu.host('tt', EAST), 5299)
        client = emu.host('tt', WEST).popen(
            ['iperf3', '-c', ip(emu.fabric, 'tt', EAST), '-p', '5299', '-t', '8', '-u']
            + ['-b', f'{sent_mbps:g}M', '-l', '1400', '-J', '--connect-timeout', '3000'],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        before = stats(ctl, intent_id).forward
        time.sleep(5)  # a few counter readings into the flow
        during = stats(ctl, intent_id).forward
        finish(client, 30)
    finally:
        for proc in (client, server):
            if proc is not None and proc.poll() is None:
                proc.kill()
            if proc is not None:
                proc.wait()
    figures = (
        f'in {during.rate_in_gbps:.2f}, out {during.rate_out_gbps:.2f}, dropping {during.drop_rate_gbps:.2f} '
        f'Gb/s; dropped {during.dropped_frames - before.dropped_frames} frames'
    )
    print(figures)
    assert during.rate_in_gbps == pytest.approx(2 * GBPS, rel=0.2), figures
    assert during.rate_out_gbps == pytest.approx(GBPS, rel=0.1), figures  # the meter's rate
    assert during.drop_rate_gbps == pytest.approx(during.rate_in_gbps - during.rate_out_gbps, abs=0.4), (
        figures
    )
    assert during.dropped_frames > before.dropped_frames and during.dropped_bytes > before.dropped_bytes
    assert during.latency_ms == pytest.approx(3, abs=1.5) and during.HasField('jitter_ms')


def test_a_cut_of_the_only_span_is_an_outage_until_the_intent_is_back(lab):
    ctl, emu, intent_id = lab
    assert list(stats(ctl, intent_id).sla.outages) == []
    cut_at = time.time()
    emu.span_up(WEST, EAST, False)
    try:
        with ctl.client('tt') as client:
            client.wait_for_state(intent_id, ('FAILED',), timeout_s=10)
        time.sleep(1)
        report = stats(ctl, intent_id).sla
        assert len(report.outages) == 1 and report.outages[0].ongoing, report
        start = report.outages[0].start_time.ToNanoseconds() / 1e9
        assert cut_at - 1 < start < cut_at + 3, (cut_at, report)
        assert report.availability < 1
    finally:
        emu.span_up(WEST, EAST, True)
    wait_for('the intent INSTALLED again', lambda: _installed(ctl, intent_id), timeout_s=30)
    report = stats(ctl, intent_id, window_s=120).sla
    (outage,) = report.outages
    length = outage.duration.ToNanoseconds() / 1e9
    print(f'outage {length:.3f} s, availability {report.availability:.4f} over {report.observed.seconds} s')
    assert not outage.ongoing and 1 < length < 40
    assert report.availability == pytest.approx(
        1 - length / (report.observed.ToNanoseconds() / 1e9), abs=1e-3
    )


def _installed(ctl, intent_id):
    with ctl.client('tt') as client:
        return client.get_intent(intent_id).state == 4  # INTENT_STATE_INSTALLED
