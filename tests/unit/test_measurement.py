"""controller.core.measurement: delay from LLDP probes minus the OpenFlow channels, echo RTTs,
and link load from port counters."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.core.measurement import DelayEstimator, DelaySample, EchoTracker, UtilizationMeter
from controller.core.topology import Link

AB, BA = Link('a', 'b'), Link('b', 'a')
MS = 1_000_000  # ns


def probe(
    estimator, delay_ms, rtt_src_s=0.002, rtt_dst_s=0.004, noise_ms=0.0, link=AB, sent_ns=10**12, now=0.0
):
    """Add the sample a probe over a span of `delay_ms` would give."""
    transit_ns = round((rtt_src_s / 2 + rtt_dst_s / 2) * 1e9 + (delay_ms + noise_ms) * MS)
    return estimator.add(link, sent_ns, sent_ns + transit_ns, rtt_src_s, rtt_dst_s, now)


# --- DelayEstimator -----------------------------------------------------------------------


def test_delay_subtracts_half_of_each_echo_rtt():
    est = DelayEstimator()
    # 30 ms from send to receive; channels 2 ms and 4 ms round trip: 1 + 2 ms of it.
    assert est.add(AB, 5 * MS, 35 * MS, 0.002, 0.004, now=1.0) == pytest.approx(27.0)
    assert est.estimate_ms(AB) == pytest.approx(27.0)
    assert est.last_sample(AB) == DelaySample(pytest.approx(27.0), 1.0)
    assert est.sample_count(AB) == 1
    assert est.estimate_ms(BA) is None and est.last_sample(BA) is None
    assert est.sample_count(BA) == 0


def test_delay_is_clamped_at_zero():
    est = DelayEstimator()
    assert est.add(AB, 0, 1 * MS, 0.004, 0.004, now=0.0) == 0.0


@pytest.mark.parametrize(
    'sent, received, rtt_src, rtt_dst',
    [
        (10 * MS, 9 * MS, 0.0, 0.0),  # received before sent
        (0, 10 * MS, None, 0.001),  # src switch has not answered an echo yet
        (0, 10 * MS, 0.001, None),
        (0, 10 * MS, -0.001, 0.001),
        (0, 10 * MS, math.nan, 0.001),
        (0, 10 * MS, 0.001, math.inf),
    ],
)
def test_nonsense_samples_are_ignored(sent, received, rtt_src, rtt_dst):
    est = DelayEstimator()
    probe(est, 20.0)
    assert est.add(AB, sent, received, rtt_src, rtt_dst, now=1.0) is None
    assert est.estimate_ms(AB) == pytest.approx(20.0)
    assert est.sample_count(AB) == 1 and est.last_sample(AB).at == 0.0


def test_estimate_is_the_minimum_of_the_last_window_samples():
    est = DelayEstimator(window=3)
    results = [probe(est, d) for d in (20, 25, 22, 24, 26, 30)]
    assert results == pytest.approx([20, 20, 20, 22, 22, 24])
    assert est.sample_count(AB) == 6
    assert est.last_sample(AB).delay_ms == pytest.approx(30)


def test_a_slower_span_shows_within_one_window():
    est = DelayEstimator()
    for _ in range(5):
        probe(est, 10.0)
    results = [probe(est, 40.0) for _ in range(5)]
    assert results[:4] == pytest.approx([10.0] * 4) and results[4] == pytest.approx(40.0)


def test_links_are_measured_separately():
    est = DelayEstimator()
    probe(est, 10.0, link=AB)
    probe(est, 12.0, link=BA)
    assert (est.estimate_ms(AB), est.estimate_ms(BA)) == pytest.approx((10.0, 12.0))


def test_forget_drops_the_history():
    est = DelayEstimator()
    probe(est, 10.0)
    est.forget(AB)
    assert est.estimate_ms(AB) is None and est.sample_count(AB) == 0
    assert probe(est, 35.0) == pytest.approx(35.0)
    est.forget(BA)  # never measured: nothing to do


def test_window_must_hold_a_sample():
    with pytest.raises(ValueError):
        DelayEstimator(window=0)


delays = st.floats(0, 200)
rtts = st.floats(0, 0.5)


@given(delay_ms=delays, rtt_src=rtts, rtt_dst=rtts, noise=st.lists(st.floats(0, 50), min_size=1, max_size=20))
def test_noise_never_makes_a_span_look_faster(delay_ms, rtt_src, rtt_dst, noise):
    est = DelayEstimator()
    for n in noise:
        estimate = probe(est, delay_ms, rtt_src, rtt_dst, noise_ms=n)
        assert estimate >= delay_ms - 1e-6  # rounding to whole ns
    if 0.0 in noise[-est.window :]:
        assert estimate == pytest.approx(delay_ms, abs=1e-6)


# --- EchoTracker --------------------------------------------------------------------------


def test_echo_rtt():
    echo = EchoTracker()
    assert echo.rtt_s(1) is None
    echo.sent(1, xid=7, now=100.0)
    assert echo.replied(1, xid=7, now=100.004) == pytest.approx(0.004)
    assert echo.rtt_s(1) == pytest.approx(0.004)
    assert echo.rtt_s(2) is None


def test_unknown_duplicate_and_other_switch_replies_are_ignored():
    echo = EchoTracker()
    echo.sent(1, xid=7, now=0.0)
    assert echo.replied(1, xid=8, now=0.1) is None
    assert echo.replied(2, xid=7, now=0.1) is None
    assert echo.replied(1, xid=7, now=0.2) == pytest.approx(0.2)
    assert echo.replied(1, xid=7, now=0.3) is None
    assert echo.rtt_s(1) == pytest.approx(0.2) and echo.rtt_s(2) is None


def test_late_replies_are_dropped():
    echo = EchoTracker(timeout_s=1.0)
    echo.sent(1, xid=7, now=0.0)
    echo.sent(1, xid=8, now=5.0)  # expires xid 7
    assert echo.replied(1, xid=7, now=5.1) is None
    echo.sent(1, xid=9, now=10.0)
    assert echo.replied(1, xid=9, now=11.5) is None
    assert echo.rtt_s(1) is None


def test_rtt_is_the_minimum_of_recent_replies():
    echo = EchoTracker(window=3)
    for i, rtt in enumerate((0.010, 0.002, 0.050, 0.004, 0.006)):
        echo.sent(1, xid=i, now=float(i))
        echo.replied(1, xid=i, now=i + rtt)
    assert echo.rtt_s(1) == pytest.approx(0.004)  # 0.002 fell out of the window


def test_forget_switch():
    echo = EchoTracker()
    echo.sent(1, xid=1, now=0.0)
    echo.replied(1, xid=1, now=0.001)
    echo.sent(1, xid=2, now=1.0)
    echo.forget(1)
    assert echo.rtt_s(1) is None and echo.replied(1, xid=2, now=1.001) is None


# --- UtilizationMeter ---------------------------------------------------------------------


def test_rate_between_readings():
    meter = UtilizationMeter()
    assert meter.add(AB, 1_000, now=10.0) is None and meter.rate_mbps(AB) is None
    assert meter.add(AB, 1_000 + 2_500_000, now=12.0) == pytest.approx(10.0)  # 20 Mb in 2 s
    assert meter.rate_mbps(AB) == pytest.approx(10.0)
    assert meter.add(AB, 1_000 + 2_500_000, now=13.0) == 0.0
    assert meter.rate_mbps(BA) is None


def test_counter_reset_restarts_from_that_reading():
    meter = UtilizationMeter()
    meter.add(AB, 10_000_000, now=0.0)
    meter.add(AB, 20_000_000, now=1.0)
    assert meter.add(AB, 500, now=2.0) is None and meter.rate_mbps(AB) is None
    assert meter.add(AB, 500 + 125_000, now=3.0) == pytest.approx(1.0)


def test_readings_not_later_than_the_last_are_ignored():
    meter = UtilizationMeter()
    meter.add(AB, 0, now=5.0)
    meter.add(AB, 125_000, now=6.0)
    assert meter.add(AB, 999_999, now=6.0) is None
    assert meter.add(AB, 999_999, now=4.0) is None
    assert meter.rate_mbps(AB) == pytest.approx(1.0)
    assert meter.add(AB, 250_000, now=7.0) == pytest.approx(1.0)


def test_forget_link():
    meter = UtilizationMeter()
    meter.add(AB, 0, now=0.0)
    meter.add(AB, 125_000, now=1.0)
    meter.forget(AB)
    assert meter.rate_mbps(AB) is None and meter.add(AB, 250_000, now=2.0) is None


def test_loop_round_trips_without_an_xid_are_kept_as_a_windowed_minimum():
    loops = EchoTracker(window=3)
    for rtt in (0.004, 0.002, 0.009, float('nan'), -1.0):  # nonsense is ignored
        loops.measured(7, rtt)
    assert loops.rtt_s(7) == 0.002
    for rtt in (0.005, 0.006, 0.007):  # the window moves on
        loops.measured(7, rtt)
    assert loops.rtt_s(7) == 0.005 and loops.rtt_s(8) is None
