"""controller.core.measurement and its estimators: span delay from LLDP probes minus each
switch's own loop (or echo round trip), probes that crossed a reprogramming ignored, what is
forgotten when a switch or a port goes, link load from port counters, and discovery."""

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.core.estimators import DelayEstimator, Ranges, RoundTrips, UtilizationMeter
from controller.core.measurement import DISCOVERY_GRACE_S, Measurement
from controller.core.topology import Link
from topologies.model import addressing as addr
from topologies.model.fabric import load_fabric

AB, BA = Link('a', 'b'), Link('b', 'a')
MS = 1_000_000  # ns
S = 1_000_000_000  # ns


_clock = itertools.count(10**12, S // 4)


def probe(est, delay_ms, rtt_src_s=0.002, rtt_dst_s=0.004, noise_ms=0.0, link=AB, sent_ns=None):
    """Add the sample a probe over a span of `delay_ms` would give (sent a quarter of a second
    after the one before, unless `sent_ns` says when)."""
    sent_ns = next(_clock) if sent_ns is None else sent_ns
    transit_ns = round((rtt_src_s / 2 + rtt_dst_s / 2) * 1e9 + (delay_ms + noise_ms) * MS)
    return est.add(link, sent_ns, sent_ns + transit_ns, rtt_src_s, rtt_dst_s)


# --- DelayEstimator -----------------------------------------------------------------------


def test_delay_subtracts_half_of_each_round_trip():
    est = DelayEstimator()
    # 30 ms from send to receive; channels 2 ms and 4 ms round trip: 1 + 2 ms of it.
    assert est.add(AB, 5 * MS, 35 * MS, 0.002, 0.004) == pytest.approx(27.0)


def test_delay_is_clamped_at_zero():
    est = DelayEstimator()
    assert est.add(AB, 0, 1 * MS, 0.004, 0.004) == 0.0


@pytest.mark.parametrize(
    'sent, received, rtt_src, rtt_dst',
    [
        (10 * MS, 9 * MS, 0.0, 0.0),  # received before sent
        (0, 10 * MS, None, 0.001),  # src switch has no round trip yet
        (0, 10 * MS, 0.001, None),
        (0, 10 * MS, -0.001, 0.001),
        (0, 10 * MS, math.nan, 0.001),
        (0, 10 * MS, 0.001, math.inf),
    ],
)
def test_nonsense_samples_are_ignored(sent, received, rtt_src, rtt_dst):
    est = DelayEstimator(window=2, rise_samples=1, rise_ms=100)
    probe(est, 20.0)
    assert est.add(AB, sent, received, rtt_src, rtt_dst) is None
    assert probe(est, 25.0) == pytest.approx(20.0)  # nothing took a place in the window


def test_estimate_is_the_minimum_of_the_last_window_samples():
    est = DelayEstimator(window=3, rise_samples=1, rise_ms=100)
    results = [probe(est, d) for d in (20, 25, 22, 24, 26, 30)]
    assert results == pytest.approx([20, 20, 20, 22, 22, 24])


def both(est, delay_ms, **kw):
    """A probe each way; the estimate of AB after them."""
    probe(est, delay_ms, link=BA, **kw)
    return probe(est, delay_ms, link=AB, **kw)


def test_a_span_slower_both_ways_by_more_than_the_rise_margin_shows_within_five_probes():
    """Four probes each way look risen; the fifth, half a second later, confirms it."""
    est = DelayEstimator()
    for _ in range(est.window):
        both(est, 10.0)
    results = [both(est, 10.0 + est.rise_ms + 0.5) for _ in range(est.rise_samples + 1)]
    assert results == pytest.approx([10.0] * est.rise_samples + [12.5])
    assert est.estimate_ms(BA) == pytest.approx(12.5)
    # Said once, with the probes it was taken from (a rise moves intents: the log says why).
    (said,) = est.take_rises()
    assert (
        said.startswith('span a-b slowed down: 10.00 -> 12.50 ms, risen for 0.5 s') and '12.50/12.50' in said
    )
    assert est.take_rises() == []


def test_probes_held_up_with_the_round_trips_beside_them_are_no_rise():
    """A busy controller holds up a probe and the switches' loops timed beside it alike."""
    est = DelayEstimator()
    for _ in range(est.window):
        both(est, 10.0)
    held = 5.0  # ms, on the probe and on each loop
    for _ in range(est.rise_samples + 2):
        for link in (BA, AB):
            sent = next(_clock)
            transit = round((0.003 + held / 1000 + 0.010) * S)  # halves of 2 and 4 ms loops, the span
            est.add(
                link, sent, sent + transit, 0.002, 0.004, latest_s=(0.002 + held / 1000, 0.004 + held / 1000)
            )
    assert est.estimate_ms(AB) == pytest.approx(10.0) and est.take_rises() == []
    assert [both(est, 13.0) for _ in range(est.rise_samples + 1)][-1] == pytest.approx(13.0)  # a real one
    assert len(est.take_rises()) == 1


def rise_with_slow_loops(est, slow):
    """A 3 ms rise of AB both ways, where the probes numbered in `slow` come with a slow
    latest loop at the far switch (timed apart from the probe): they read less than the span
    less the latest loops. The estimate of AB after each probe each way."""
    for _ in range(est.window):
        both(est, 10.0)
    out = []
    for i in range(est.rise_samples + 1):
        far = 0.004 + (0.008 if i in slow else 0.0)  # s: 4 ms less its half reads 13 - 4 = 9 ms
        for link in (BA, AB):
            sent = next(_clock)
            est.add(link, sent, sent + round((0.003 + 0.013) * S), 0.002, 0.004, latest_s=(0.002, far))
        out.append(est.estimate_ms(AB))
    return out


def test_a_rise_shows_though_one_probe_each_way_read_under_it_less_a_slow_loop():
    """On germany50 a quarter of a risen span's probes read under the rise less the latest
    loops (the far switch's loop was timed up to half a second apart): one of four may."""
    assert rise_with_slow_loops(DelayEstimator(), slow={1})[-1] == pytest.approx(13.0)
    assert rise_with_slow_loops(DelayEstimator(), slow={1, 2})[-1] == pytest.approx(10.0)


def test_noise_one_way_or_below_the_margin_waits_for_the_window():
    est = DelayEstimator()
    for _ in range(est.window):
        both(est, 10.0)
    for _ in range(est.window - 1):  # one direction held up (a busy switch): not a rise
        probe(est, 10.0, link=BA)
        assert probe(est, 30.0, link=AB) == pytest.approx(10.0)
    est = DelayEstimator()
    for _ in range(est.window):
        both(est, 10.0)
    rises = [both(est, 10.0 + est.rise_ms - 0.1) for _ in range(est.window)]
    assert rises[:-1] == pytest.approx([10.0] * (est.window - 1))  # a rise within the noise
    assert rises[-1] == pytest.approx(10.0 + est.rise_ms - 0.1)  # shows after the window


def spans_probed(est, delays, at_ns):
    """One probe each way over each span ('a-b': ms) received at `at_ns`; AB's estimate after."""
    for span, ms in delays.items():
        a, b = span.split('-')
        for link in (Link(a, b), Link(b, a)):
            transit_ns = round((1 + ms) * MS)  # 1 ms of it the two switches (round trips 1 ms)
            est.add(link, at_ns - transit_ns, at_ns, 0.001, 0.001)


def test_a_rise_on_many_spans_at_once_is_the_controller_busy_not_a_fiber():
    est = DelayEstimator()
    spans = {f's{i}-t{i}': 1.0 for i in range(10)}
    t = 10**12
    for _ in range(est.window):
        spans_probed(est, spans, t := t + S // 2)
    busy = dict.fromkeys(spans, 1.0 + est.rise_ms + 3)  # a burst of reprogramming: all slow
    for _ in range(est.rise_samples + 1):
        spans_probed(est, busy, t := t + S // 2)
    assert est.estimate_ms(Link('s0', 't0')) == pytest.approx(1.0)  # nothing moved on noise
    for _ in range(2):
        spans_probed(est, spans, t := t + S // 2)
    # Then one span slows down by itself: it shows once the quiet time has passed.
    slower = dict(spans, **{'s3-t3': 1.0 + est.rise_ms + 1})
    seen = []
    for _ in range(12):
        spans_probed(est, slower, t := t + S // 2)
        seen.append(est.estimate_ms(Link('s3', 't3')))
    assert seen[0] == pytest.approx(1.0) and seen[-1] == pytest.approx(4.0)
    assert est.estimate_ms(Link('s4', 't4')) == pytest.approx(1.0)


def test_a_link_reads_the_mean_of_its_spans_two_directions():
    est = DelayEstimator()
    assert probe(est, 10.0, link=AB) == pytest.approx(10.0)  # until the other way is measured
    assert probe(est, 12.0, link=BA) == pytest.approx(11.0)
    assert probe(est, 11.0, link=AB) == pytest.approx(11.0)  # the least of AB is still 10
    assert est.estimate_ms(Link('a', 'c')) is None


def test_forget_drops_the_history():
    est = DelayEstimator()
    probe(est, 10.0)
    est.forget(AB)
    assert probe(est, 35.0) == pytest.approx(35.0)
    est.forget(BA)  # never measured: nothing to do


def test_window_must_hold_a_sample_and_more_than_a_rise():
    with pytest.raises(ValueError):
        DelayEstimator(window=0)
    with pytest.raises(ValueError):
        DelayEstimator(window=3, rise_samples=3)
    with pytest.raises(ValueError):
        RoundTrips(window=0)


delays = st.floats(0, 200)
rtts = st.floats(0, 0.5)


@given(delay_ms=delays, rtt_src=rtts, rtt_dst=rtts, noise=st.lists(st.floats(0, 50), min_size=1, max_size=20))
def test_noise_never_makes_a_span_look_faster(delay_ms, rtt_src, rtt_dst, noise):
    est = DelayEstimator()
    for n in noise:
        estimate = probe(est, delay_ms, rtt_src, rtt_dst, noise_ms=n)
        assert estimate >= delay_ms - 1e-6  # rounding to whole ns
    if 0.0 in noise[-est.rise_samples :]:  # a rise keeps the last rise_samples
        assert estimate == pytest.approx(delay_ms, abs=1e-6)


# --- RoundTrips ---------------------------------------------------------------------------


def test_echo_round_trip():
    echo = RoundTrips()
    assert echo.rtt_s(1) is None
    echo.sent(1, xid=7, now=100.0)
    echo.replied(1, xid=7, now=100.004)
    assert echo.rtt_s(1) == pytest.approx(0.004)
    assert echo.rtt_s(2) is None


def test_unknown_duplicate_and_other_switch_replies_are_ignored():
    echo = RoundTrips()
    echo.sent(1, xid=7, now=0.0)
    echo.replied(1, xid=8, now=0.1)
    echo.replied(2, xid=7, now=0.1)
    assert echo.rtt_s(1) is None and echo.rtt_s(2) is None
    echo.replied(1, xid=7, now=0.2)
    echo.replied(1, xid=7, now=0.3)
    assert echo.rtt_s(1) == pytest.approx(0.2) and echo.rtt_s(2) is None


def test_late_replies_are_dropped():
    echo = RoundTrips(timeout_s=1.0)
    echo.sent(1, xid=7, now=0.0)
    echo.sent(1, xid=8, now=5.0)  # expires xid 7
    echo.replied(1, xid=7, now=5.1)
    echo.sent(1, xid=9, now=10.0)
    echo.replied(1, xid=9, now=11.5)
    assert echo.rtt_s(1) is None


def test_round_trip_is_the_minimum_of_recent_replies():
    echo = RoundTrips(window=3)
    for i, rtt in enumerate((0.010, 0.002, 0.050, 0.004, 0.006)):
        echo.sent(1, xid=i, now=float(i))
        echo.replied(1, xid=i, now=i + rtt)
    assert echo.rtt_s(1) == pytest.approx(0.004)  # 0.002 fell out of the window


def test_forget_switch():
    echo = RoundTrips()
    echo.sent(1, xid=1, now=0.0)
    echo.replied(1, xid=1, now=0.001)
    echo.sent(1, xid=2, now=1.0)
    echo.forget(1)
    echo.replied(1, xid=2, now=1.001)
    assert echo.rtt_s(1) is None


def test_loop_round_trips_without_an_xid_are_kept_as_a_windowed_minimum():
    loops = RoundTrips(window=3)
    for rtt in (0.004, 0.002, 0.009, float('nan'), -1.0):  # nonsense is ignored
        loops.measured(7, rtt)
    assert loops.rtt_s(7) == 0.002
    for rtt in (0.005, 0.006, 0.007):  # the window moves on
        loops.measured(7, rtt)
    assert loops.rtt_s(7) == 0.005 and loops.rtt_s(8) is None


# --- UtilizationMeter ---------------------------------------------------------------------


def test_rate_between_readings():
    meter = UtilizationMeter()
    assert meter.add(AB, 1_000, now=10.0) is None
    assert meter.add(AB, 1_000 + 2_500_000, now=12.0) == pytest.approx(10.0)  # 20 Mb in 2 s
    assert meter.add(AB, 1_000 + 2_500_000, now=13.0) == 0.0
    assert meter.add(BA, 5_000_000, now=13.0) is None  # its own first reading


def test_counter_reset_restarts_from_that_reading():
    meter = UtilizationMeter()
    meter.add(AB, 10_000_000, now=0.0)
    meter.add(AB, 20_000_000, now=1.0)
    assert meter.add(AB, 500, now=2.0) is None
    assert meter.add(AB, 500 + 125_000, now=3.0) == pytest.approx(1.0)


def test_readings_not_later_than_the_last_are_ignored():
    meter = UtilizationMeter()
    meter.add(AB, 0, now=5.0)
    assert meter.add(AB, 125_000, now=6.0) == pytest.approx(1.0)
    assert meter.add(AB, 999_999, now=6.0) is None
    assert meter.add(AB, 999_999, now=4.0) is None
    assert meter.add(AB, 250_000, now=7.0) == pytest.approx(1.0)  # from the 6.0 reading


def test_forget_link():
    meter = UtilizationMeter()
    meter.add(AB, 0, now=0.0)
    meter.add(AB, 125_000, now=1.0)
    meter.forget(AB)
    assert meter.add(AB, 250_000, now=2.0) is None


# --- the pipeline -------------------------------------------------------------------------

TRIANGLE = load_fabric('triangle')
DCA, DCB, DCC = (addr.dpid(TRIANGLE.sites[s]) for s in ('dca', 'dcb', 'dcc'))
T0 = 1_000 * S


def port(site, peer):
    return addr.span_port(TRIANGLE, site, peer)


def looped(m, **loop_ms):
    """Each named switch has looped a probe in `loop_ms` ms."""
    for site, ms in loop_ms.items():
        m.loop_returned(addr.dpid(TRIANGLE.sites[site]), T0, T0 + round(ms * MS))


def span_probe(m, src, dst, transit_ms, sent_ns=T0):
    """A probe from `src` over its span to `dst`, `transit_ms` from send to receive."""
    dpid, sender = addr.dpid(TRIANGLE.sites[dst]), addr.dpid(TRIANGLE.sites[src])
    return m.probe_received(
        dpid, port(dst, src), sender, port(src, dst), sent_ns, sent_ns + round(transit_ms * MS)
    )


def test_a_span_delay_is_the_probe_minus_half_of_each_switchs_loop():
    m = Measurement(TRIANGLE)
    looped(m, dca=2, dcb=4)
    assert span_probe(m, 'dca', 'dcb', 1 + 10 + 2) == ([(Link('dca', 'dcb'), pytest.approx(10.0))], [])


def test_the_echo_round_trip_stands_in_until_the_switch_has_looped_a_probe():
    m = Measurement(TRIANGLE)
    assert span_probe(m, 'dca', 'dcb', 20) == ([], [])  # nothing known to subtract
    for dpid in (DCA, DCB):
        m.echo_sent(dpid, 5, T0)
        m.echo_replied(dpid, 5, T0 + 1 * MS)
    [(_, ms)], _ = span_probe(m, 'dca', 'dcb', 1 / 2 + 10 + 6 / 2)
    assert ms == pytest.approx(12.5)  # echoes of 1 ms: half a ms off each end
    looped(m, dca=1, dcb=6)  # the loops pass the switches' slow path the echo skips
    [(_, ms)], _ = span_probe(m, 'dca', 'dcb', 1 / 2 + 10 + 6 / 2)
    assert ms == pytest.approx(10.0)


def test_a_probe_at_the_wrong_port_or_switch_is_an_unexpected_link_said_once():
    m = Measurement(TRIANGLE)
    looped(m, dca=1, dcb=1, dcc=1)
    wrong = (DCC, port('dcc', 'dcb'), DCA, port('dca', 'dcb'), T0, T0 + 5 * MS)
    estimates, notices = m.probe_received(*wrong)
    assert estimates == []
    assert notices == ['unexpected link: dca port 2 reaches dcc port 2, not a span of the fabric']
    assert m.probe_received(*wrong) == ([], [])
    assert m.probe_received(DCB, port('dcb', 'dca'), DCA, 4000, T0, T0 + 5 * MS)[1] == [
        'unexpected link: dca port 4000 reaches dcb port 1, not a span of the fabric'
    ]
    assert m.probe_received(DCB, port('dcb', 'dca'), 99, 1, T0, T0 + 5 * MS) == ([], [])  # not ours


@pytest.mark.parametrize('reprogrammed', ['dca', 'dcb'])
def test_a_probe_that_crossed_a_switch_being_reprogrammed_is_ignored(reprogrammed):
    m = Measurement(TRIANGLE)
    looped(m, dca=2, dcb=2)
    dpid = addr.dpid(TRIANGLE.sites[reprogrammed])
    start = T0 + 10 * MS
    m.programming(dpid, start, None)
    assert span_probe(m, 'dca', 'dcb', 30) == ([], [])  # received after the start
    assert span_probe(m, 'dca', 'dcb', 30, sent_ns=T0 + 50 * MS) == ([], [])  # not done yet
    m.programming(dpid, start, start + 20 * MS)
    assert span_probe(m, 'dca', 'dcb', 30, sent_ns=start + 20 * MS) == ([], [])  # sent before the end
    assert span_probe(m, 'dca', 'dcb', 9, sent_ns=start - 10 * MS)[0] != []  # in before the start
    assert span_probe(m, 'dca', 'dcb', 7, sent_ns=start + 20 * MS + 1)[0][0][1] == pytest.approx(5.0)


def test_a_switch_gone_is_measured_afresh():
    m = Measurement(TRIANGLE)
    looped(m, dca=2, dcb=2, dcc=2)
    for src, dst in (('dca', 'dcb'), ('dcb', 'dca'), ('dca', 'dcc')):
        assert span_probe(m, src, dst, 12)[0][0][1] == pytest.approx(10.0)
    m.port_counters(DCA, port('dca', 'dcb'), 0, T0)
    m.switch_gone(DCB)
    assert span_probe(m, 'dca', 'dcb', 22) == ([], [])  # dcb's loop is gone too
    looped(m, dcb=2)
    assert span_probe(m, 'dca', 'dcb', 22)[0][0][1] == pytest.approx(20.0)
    assert span_probe(m, 'dcb', 'dca', 22)[0] == [
        (Link('dcb', 'dca'), pytest.approx(20.0)),
        (Link('dca', 'dcb'), pytest.approx(20.0)),
    ]
    assert span_probe(m, 'dca', 'dcc', 22)[0][0][1] == pytest.approx(10.0)  # not dcb's: kept
    assert m.port_counters(DCA, port('dca', 'dcb'), 250_000, T0 + 2 * S) is None  # a first reading


def test_a_port_down_forgets_its_spans_delay_both_ways():
    m = Measurement(TRIANGLE)
    looped(m, dca=2, dcb=2)
    span_probe(m, 'dca', 'dcb', 12)
    span_probe(m, 'dcb', 'dca', 12)
    m.port_down(DCA, port('dca', 'dcb'))
    m.port_down(DCA, addr.PROBE_PORT)  # not a span port: nothing to forget
    assert span_probe(m, 'dca', 'dcb', 22)[0][0][1] == pytest.approx(20.0)  # both ways afresh
    assert span_probe(m, 'dcb', 'dca', 22)[0][0][1] == pytest.approx(20.0)


def test_port_counters_give_the_links_load_at_the_fabrics_scale():
    m = Measurement(TRIANGLE)
    assert m.port_counters(DCA, port('dca', 'dcb'), 1_000, T0) is None  # a first reading
    # 2 Mb in 2 s: 1 Mb/s emulated, 1 Gb/s at the triangle's scale of 1/1000
    assert m.port_counters(DCA, port('dca', 'dcb'), 251_000, T0 + 2 * S) == (
        Link('dca', 'dcb'),
        pytest.approx(1.0),
    )
    assert m.port_counters(DCA, addr.PROBE_PORT, 0, T0) is None
    assert m.port_counters(DCA, addr.PROBE_PORT, 10**9, T0 + 2 * S) is None  # not a span port
    assert m.port_counters(99, 1, 0, T0) is None  # not a site


def test_discovery_reports_each_span_up_but_not_crossed_after_the_grace_once():
    m = Measurement(TRIANGLE)
    looped(m, dca=1, dcb=1, dcc=1)
    span_probe(m, 'dca', 'dcb', 5)  # one direction is enough
    m.probe_received(DCC, port('dcc', 'dcb'), DCA, port('dca', 'dcb'), T0, T0 + 5 * MS)  # not a crossing
    connected = {DCA: T0, DCB: T0, DCC: T0 + 1 * S}
    grace = round(DISCOVERY_GRACE_S * S)
    up = {'dca-dcb', 'dcb-dcc', 'dca-dcc'}
    assert m.discovery(connected, T0 + 1 * S + grace, up.__contains__) == []  # not longer than it
    later = T0 + 1 * S + grace + 1
    assert m.discovery({DCA: T0, DCB: T0}, later, up.__contains__) == []  # dcc is not connected
    assert m.discovery(connected, later, {'dca-dcb', 'dcb-dcc'}.__contains__) == [
        'span dcb-dcc is in the fabric but LLDP has not crossed it in 10 s'
    ]
    assert m.discovery(connected, later, up.__contains__) == [
        'span dca-dcc is in the fabric but LLDP has not crossed it in 10 s'
    ]
    assert m.discovery(connected, later + 5 * S, up.__contains__) == []  # said once


def bounce(m, src, peer, round_trip_ms, sent_ns=T0):
    """A bounce probe from `src` off `peer` back to `src`, `round_trip_ms` from send to receive."""
    dpid = addr.dpid(TRIANGLE.sites[src])
    return m.bounce_returned(dpid, port(src, peer), sent_ns, sent_ns + round(round_trip_ms * MS))


def test_a_switchs_crossing_is_a_bounce_less_the_senders_loop_and_the_span_both_ways():
    m = Measurement(TRIANGLE)
    looped(m, dca=2, dcb=4)
    span_probe(m, 'dca', 'dcb', 1 + 10 + 2)  # dca -> dcb 10 ms
    span_probe(m, 'dcb', 'dca', 2 + 12 + 1)  # dcb -> dca 12 ms
    crossing = 0.3
    for _ in range(2):  # not yet: a crossing counts once three bounces agree
        assert bounce(m, 'dca', 'dcb', 2 + 10 + crossing + 12) is None
    assert bounce(m, 'dca', 'dcb', 2 + 10 + crossing + 12) == ('dcb', pytest.approx(crossing))


def test_a_bounce_slower_than_the_far_switchs_own_loop_is_noise():
    """At start-up a bounce came back tens of ms late: that is the loops' noise, not a switch
    forwarding a frame (which its own slow path, the loop, would have to outlast)."""
    m = Measurement(TRIANGLE)
    looped(m, dca=2, dcb=4)
    span_probe(m, 'dca', 'dcb', 13)
    span_probe(m, 'dcb', 'dca', 15)
    assert bounce(m, 'dca', 'dcb', 2 + 10 + 30 + 12) is None  # 30 ms > dcb's 4 ms loop
    for _ in range(3):
        result = bounce(m, 'dca', 'dcb', 2 + 10 + 0.2 + 12)
    assert result == ('dcb', pytest.approx(0.2))  # the outlier never entered the window


def test_ranges_keep_the_least_and_the_most_of_the_last_seconds():
    ranges = Ranges(keep_s=10)
    assert ranges.range('a', now=0) is None
    for now, value in [(0.1, 5.0), (0.6, 3.0), (4.2, 7.0), (9.0, 4.0)]:
        ranges.add('a', value, now)
    assert ranges.range('a', now=9.5) == (3.0, 7.0)
    assert ranges.range('a', now=11.0) == (4.0, 7.0)  # second 0 is over 10 s old
    assert ranges.range('a', now=20.0) is None
    ranges.add('a', 6.0, now=30.0)  # what aged out is dropped, not only skipped
    assert ranges.range('a', now=30.0) == (6.0, 6.0) and len(ranges._buckets['a']) == 1
    assert ranges.range('b', now=30.0) is None


@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 50)), min_size=1, max_size=50))
def test_a_range_is_what_the_readings_within_its_seconds_were(readings):
    readings.sort()
    ranges = Ranges(keep_s=5)
    for now, value in readings:
        ranges.add('k', value, now)
    now = readings[-1][0]
    kept = [v for t, v in readings if math.floor(t) >= math.floor(now) - 5]
    assert ranges.range('k', now) == (min(kept), max(kept))


def test_ranges_refuse_a_negative_time():
    with pytest.raises(ValueError, match='keep_s'):
        Ranges(keep_s=-1)
