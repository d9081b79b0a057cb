"""controller.core.telemetry: rates from the switches' counters (and their resets), meter
drops, latency and jitter, the SLA report's shares and outages, bounded segments; through
the core facade as the southbound feeds it."""

import pytest

from controller.core import telemetry as tm
from controller.core.controller import Controller
from controller.core.intent import State
from controller.core.telemetry import AVAILABLE, LATENCY, RATE, Outage, sla
from controller.core.topology import Link
from topologies.model import addressing as addr
from topologies.model.fabric import load_fabric
from topologies.model.order import Order

TRIANGLE = load_fabric('triangle')
DCA, DCB, DCC = (addr.dpid(TRIANGLE.sites[s]) for s in ('dca', 'dcb', 'dcc'))
S = 10**9
ALL = AVAILABLE | RATE | LATENCY


def installed(order, now=1.0):
    core = Controller(TRIANGLE)
    for site in TRIANGLE.sites.values():
        core.switch_connected(addr.dpid(site), now=0)
    intent = core.create(order, now=now)
    for dpid in core.plan():
        core.synced([dpid], core.generation, now)
    assert intent.state is State.INSTALLED
    return core, intent


def meters(core, dpid, at_s, *rows):
    """Meter counters as the southbound hands them: (id, bytes in, band bytes, band frames)."""
    core.meter_counters(dpid, [(*row, at_s * S) for row in rows], at_s * S)


def cut(core, a, b, now, up=False):
    core.port_state(addr.dpid(TRIANGLE.sites[a]), addr.span_port(TRIANGLE, a, b), up, now=now)


def test_rates_in_and_out_and_drops_come_from_counter_deltas_per_direction():
    core, intent = installed(Order('red', 'dca', 'dcc', 5))
    n = intent.number
    meters(core, DCA, 10, (n, 1_000_000, 0, 0))
    meters(core, DCC, 10, (n, 0, 0, 0))
    # 1 Mb/s in (1 Gb/s at the triangle's emulation scale, 1/1000), 8 kb/s dropped
    meters(core, DCA, 11, (n, 1_125_000, 1_000, 700))
    label = core.routes.of(intent.id).label_fwd
    core.egress_counters(DCC, [(intent.number | 0x4E49 << 48, label, 0, 10 * S)], 10 * S)
    core.egress_counters(DCC, [(intent.number | 0x4E49 << 48, label, 62_500, 11 * S)], 11 * S)
    fwd = core.stats(intent.id, now=11).forward
    assert fwd.rate_in_gbps == pytest.approx(1.0)
    assert fwd.rate_out_gbps == pytest.approx(0.5)
    assert (fwd.dropped_bytes, fwd.dropped_frames) == (1_000, 700)
    assert fwd.drop_rate_gbps == pytest.approx(0.008) and fwd.drop_frames_per_s == pytest.approx(700)
    rev = core.stats(intent.id, now=11).reverse
    assert (rev.rate_in_gbps, rev.rate_out_gbps, rev.dropped_frames) == (0, 0, 0)


def test_other_meters_and_cookies_count_for_no_intent():
    core, intent = installed(Order('red', 'dca', 'dcc', 5))
    control = 0xFFFF0000 - 256 + 1
    meters(core, DCA, 1, (control, 0, 0, 0), (intent.number + 7, 0, 0, 0))
    meters(core, DCA, 2, (control, 10**9, 10**9, 10**6), (intent.number + 7, 10**9, 10**9, 10**6))
    core.egress_counters(DCC, [(0x4E43 << 48, 99, 0, S)], S)  # the controller's own flows
    meters(core, DCB, 2, (intent.number, 10**9, 10**9, 10**6))  # not an end of the intent
    stats = core.intent_stats(now=2)
    assert set(stats) == {intent.id} and stats[intent.id].sla is not None
    assert core.intent_stats(now=2, window_s=None)[intent.id].sla is None  # figures only
    for d in (stats[intent.id].forward, stats[intent.id].reverse):
        assert (d.rate_in_gbps, d.rate_out_gbps, d.dropped_bytes, d.dropped_frames) == (0, 0, 0, 0)


@pytest.mark.parametrize('reset', ['counter went back', 'age went back', 'switch reconnected'])
def test_a_reset_is_a_new_baseline_never_a_negative_rate_nor_a_drop_spike(reset):
    core, intent = installed(Order('red', 'dca', 'dcc', 5))
    n = intent.number
    meters(core, DCA, 10, (n, 10**9, 10**8, 10**5))
    meters(core, DCA, 11, (n, 10**9 + 125_000, 10**8 + 1000, 10**5 + 1))
    assert core.stats(intent.id, now=11).forward.dropped_frames == 1
    if reset == 'counter went back':  # a meter re-created on a move: counts from 0, age kept
        core.meter_counters(DCA, [(n, 5000, 10**9, 10**6, 12 * S)], 12 * S)
    elif reset == 'age went back':  # re-created with counts that happen to be higher
        core.meter_counters(DCA, [(n, 2 * 10**9, 10**9, 10**6, S)], 12 * S)
    else:
        core.switch_connected(DCA, now=12)
        meters(core, DCA, 12, (n, 5000, 10**9, 10**6))
    fwd = core.stats(intent.id, now=12).forward
    assert fwd.rate_in_gbps >= 0 and fwd.drop_rate_gbps >= 0
    assert fwd.dropped_frames == 1 and fwd.dropped_bytes == 1000  # nothing from the reset
    if reset == 'age went back':
        core.meter_counters(DCA, [(n, 2 * 10**9 + 125_000, 10**9, 10**6, 2 * S)], 13 * S)
    else:
        meters(core, DCA, 13, (n, 5000 + 125_000, 10**9, 10**6))
    assert core.stats(intent.id, now=13).forward.rate_in_gbps == pytest.approx(1.0)


def test_a_rate_not_heard_of_for_a_while_reads_zero():
    core, intent = installed(Order('red', 'dca', 'dcc', 5))
    n = intent.number
    meters(core, DCA, 1, (n, 0, 0, 0))
    meters(core, DCA, 2, (n, 125_000_000, 0, 0))
    meters(core, DCC, 9, (n, 0, 0, 0))  # the clock of counters moves on; dca said nothing since 2
    assert core.stats(intent.id, now=9).forward.rate_in_gbps == 0


def test_latency_of_each_direction_and_jitter_from_samples_once_a_second():
    core, intent = installed(Order('red', 'dca', 'dcc', 5))
    assert core.view(intent.id).path == ('dca', 'dcc')
    core.tick(now=2)
    core.tick(now=2.5)  # not a second since: no sample
    for now, ms in ((3, 11.0), (4, 9.0), (5, 10.0)):
        core.delay_measured(Link('dca', 'dcc'), ms, now=now)
        core.tick(now=now + 0.01)
    stats = core.stats(intent.id, now=6)
    # samples 9 (the fabric's prior), 11, 9, 10: steps of 2, 2 and 1 ms
    assert stats.forward.latency_ms == pytest.approx(10.0 + _crossings(core))
    assert stats.forward.jitter_ms == pytest.approx(5 / 3)
    assert stats.reverse.latency_ms is not None and stats.reverse.jitter_ms == pytest.approx(0)


def _crossings(core):
    return core.topology.crossing_ms('dca') + core.topology.crossing_ms('dcc')


def test_sla_shares_and_an_outage_for_a_cut_of_an_unprotected_intent():
    core, intent = installed(Order('red', 'dca', 'dcc', 5, max_latency_ms=12))
    core.tick(now=2)
    cut(core, 'dca', 'dcc', now=10)  # moves to dca-dcb-dcc: 10 ms, within its bound
    assert intent.state is State.INSTALLING
    for dpid in core.plan():
        core.synced([dpid], core.generation, now=10.5)
    assert intent.state is State.INSTALLED and core.view(intent.id).path == ('dca', 'dcb', 'dcc')
    report = core.stats(intent.id, now=21).sla
    assert report.observed_s == pytest.approx(20)
    assert report.availability == pytest.approx(19.5 / 20)
    assert report.rate_available == pytest.approx(19.5 / 20)
    assert report.within_latency == pytest.approx(19.5 / 20)
    assert report.outages == (Outage(10, 0.5, False),)
    short = core.stats(intent.id, now=21, window_s=5).sla  # the outage is older than the window
    assert (short.observed_s, short.availability, short.outages) == (5, 1.0, ())


def test_an_outage_ends_when_the_switches_confirmed_the_flip_not_after_the_clean_up():
    """Traffic takes the new path once the ingress flows are in (the FLIP phase confirmed);
    the clean-up after it waits for the old path to drain before INSTALLED, and a change
    meanwhile (the cut's other end) can hold INSTALLED for one more round: the tenant's own
    probe sees the shorter outage, and so must the SLA report."""
    core, intent = installed(Order('red', 'dca', 'dcc', 5, max_latency_ms=9.5))
    core.synced([DCA], core.generation, now=5, flipped_at=5)  # a flip before the cut ends nothing
    cut(core, 'dca', 'dcc', now=10)
    core.tick(now=10.3)  # noted meanwhile: out, and over its latency bound
    core.synced([DCA], core.generation, now=10.4, flipped_at=10.02)  # its new ingress flows
    assert intent.state is State.INSTALLING
    cut(core, 'dcc', 'dca', now=10.45)  # the other end says so too: a round without a flip
    for dpid in core.plan():
        core.synced([dpid], core.generation, now=10.5)
    assert intent.state is State.INSTALLED
    assert core.stats(intent.id, now=21).sla.outages == (Outage(10, pytest.approx(0.02), False),)


def test_a_flip_before_an_outage_began_does_not_end_it():
    core, intent = installed(Order('red', 'dca', 'dcc', 5))
    core.synced([DCA], core.generation, now=9, flipped_at=9)
    cut(core, 'dca', 'dcc', now=10)
    for dpid in core.plan():
        core.synced([dpid], core.generation, now=10.5)
    assert core.stats(intent.id, now=21).sla.outages == (Outage(10, pytest.approx(0.5), False),)


def test_a_protected_intent_on_its_backup_stays_available():
    core, intent = installed(Order('red', 'dca', 'dcc', 5, protection='PROTECTED'))
    cut(core, 'dca', 'dcc', now=10)  # its primary; the switches took the backup themselves
    assert intent.state is not State.INSTALLED
    report = core.stats(intent.id, now=12).sla
    assert report.availability == 1.0 and report.outages == ()


def test_an_intent_whose_only_path_is_gone_is_out_until_back_and_installed():
    core, intent = installed(Order('blue', 'dca', 'dcc', 8))  # only dca-dcc has 8 Gb/s for blue
    cut(core, 'dca', 'dcc', now=10)
    cut(core, 'dca', 'dcb', now=10)
    assert intent.state is State.FAILED
    assert core.stats(intent.id, now=20).sla.outages == (Outage(10, 10, True),)
    assert core.stats(intent.id, now=20).forward.latency_ms is None  # no live path
    cut(core, 'dca', 'dcc', now=30, up=True)
    core.tick(now=60)  # the span is trusted again later; retried when it comes up
    for dpid in core.plan():
        core.synced([dpid], core.generation, now=61)
    report = core.stats(intent.id, now=71).sla
    assert intent.state is State.INSTALLED
    # Not over when the span came back at 30 (its flows were gone): once INSTALLED again.
    assert report.outages == (Outage(10, 51, False),)
    assert report.availability == pytest.approx(1 - 51 / 70)


def test_setting_up_is_no_outage_and_a_withdrawn_intent_is_forgotten():
    core = Controller(TRIANGLE)
    for site in TRIANGLE.sites.values():
        core.switch_connected(addr.dpid(site), now=0)
    intent = core.create(Order('red', 'dca', 'dcc', 5), now=1)
    assert core.stats(intent.id, now=3).sla.observed_s == 0
    for dpid in core.plan():
        core.synced([dpid], core.generation, now=4)
    assert core.stats(intent.id, now=6).sla == tm.SlaReport(300, 2, 1.0, 1.0, 1.0, ())
    core.delete(intent.id, now=7)
    assert core.stats(intent.id, now=9).sla.observed_s == 3  # stopped at the withdrawal
    for dpid in core.plan():
        core.synced([dpid], core.generation, now=10)
    assert intent.id not in core.intent_stats(now=11) and intent.id not in core.telemetry._intents


def test_shares_of_each_status_bit_over_a_window():
    segments = [(0, ALL), (10, AVAILABLE | RATE), (15, AVAILABLE), (20, 0), (25, ALL)]
    report = sla(segments, now=30, window_s=30)
    assert report.within_latency == pytest.approx(15 / 30)
    assert report.rate_available == pytest.approx(20 / 30)
    assert report.availability == pytest.approx(25 / 30)
    assert report.outages == (Outage(20, 5, False),)
    clipped = sla(segments, now=30, window_s=8)  # from 22: inside the outage
    assert clipped.outages == (Outage(22, 3, False),) and clipped.availability == pytest.approx(5 / 8)


def test_segments_are_kept_only_on_changes_and_within_bounds():
    core, intent = installed(Order('red', 'dca', 'dcc', 5))
    for s in range(100):
        core.tick(now=2 + s)
    assert len(core.telemetry._intents[intent.id].segments) == 1  # nothing changed: one segment
    t = tm._Intent()
    t.installed = (core.placer.placements[intent.id].primary, None)
    core.telemetry._intents[intent.id] = t
    up = True
    for s in range(tm.MAX_SEGMENTS + 50):  # a flapping span, once a second
        up = not up
        core.topology.set_up('dca-dcc', up)
        core.telemetry.observe(intent, core.placer.placements[intent.id], core.topology, core.books, 200 + s)
    assert len(t.segments) == tm.MAX_SEGMENTS
    day = 200 + tm.MAX_SEGMENTS + 50 + tm.HISTORY_S
    core.telemetry.observe(intent, core.placer.placements[intent.id], core.topology, core.books, day)
    core.topology.set_up('dca-dcc', not up)
    core.telemetry.observe(intent, core.placer.placements[intent.id], core.topology, core.books, day + 1)
    assert len(t.segments) == 2  # what ended more than a day ago is gone


def test_counters_of_withdrawn_intents_and_old_egress_flows_are_forgotten():
    core, intent = installed(Order('red', 'dca', 'dcc', 5))
    cookie = intent.number | 0x4E49 << 48
    for s in (1, 2):  # an egress flow of a route since left
        core.egress_counters(DCC, [(cookie, 100, 62_500 * s, s * S)], s * S)
    assert 100 in core.telemetry._intents[intent.id].directions[tm.FORWARD].rate_out
    meters(core, DCA, 1, (intent.number, 0, 0, 0))
    for s in range(2, 200):
        meters(core, DCA, s, (intent.number, 125_000 * s, 0, 0))
        core.tick(now=s)
    assert list(core.telemetry._counters) == [(DCA, 'meter', intent.number)]
    assert 100 not in core.telemetry._intents[intent.id].directions[tm.FORWARD].rate_out
    assert core.stats(intent.id, now=200).forward.rate_in_gbps == pytest.approx(1.0)
