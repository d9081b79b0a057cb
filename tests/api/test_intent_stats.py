"""GetIntentStats and WatchIntentStats over a real socket (the loopback southbound: the
switches' counters are fed to the core as the shim feeds them): figures, the SLA report,
tenant isolation, bad windows and intervals, NOT_FOUND."""

import time

import grpc
import pytest

from naasctl.client import ApiError
from tests.api.test_intents import refused
from topologies.model import addressing as addr

CODE = grpc.StatusCode
S = 10**9


def feed(served, intent_id, at_s, bytes_in, dropped_bytes, dropped_frames):
    """The ingress meter's counters of the intent at its src switch, as the southbound hands them."""
    number = int(intent_id.removeprefix('i-'))

    def meters(core, now):
        dpid = addr.dpid(core.fabric.sites[core.get(intent_id).src])
        core.meter_counters(dpid, [(number, bytes_in, dropped_bytes, dropped_frames, at_s * S)], at_s * S)

    served.call(meters)


def test_get_intent_stats_shows_rates_drops_latency_and_the_sla(serve):
    served = serve()
    red = served.client('red')
    made = red.create_intent('dca', 'dcc', 5, max_latency_ms=12)
    red.wait_for_state(made.id, timeout_s=5)
    feed(served, made.id, 10, 0, 0, 0)
    feed(served, made.id, 11, 750_000, 125_000, 400)  # 6 Mb/s: 6 Gb/s at the scale of 1/1000
    time.sleep(1.2)  # the loopback ticks once a second: a latency sample and a status look
    stats = red.get_intent_stats(made.id, window_s=60)
    assert stats.intent_id == made.id and stats.tenant == 'red'
    assert stats.forward.rate_in_gbps == pytest.approx(6.0)
    assert stats.forward.drop_rate_gbps == pytest.approx(1.0)
    assert (stats.forward.dropped_bytes, stats.forward.dropped_frames) == (125_000, 400)
    assert stats.reverse.rate_in_gbps == 0 and stats.reverse.dropped_frames == 0
    assert stats.forward.HasField('latency_ms') and stats.forward.latency_ms == pytest.approx(9)
    sla = stats.sla
    assert sla.window.seconds == 60 and 0 < sla.observed.ToTimedelta().total_seconds() <= 60
    assert (sla.availability, sla.committed_rate_share, sla.within_latency_share) == (1, 1, 1)
    assert list(sla.outages) == []
    assert red.get_intent_stats(made.id).sla.window.seconds == 300  # the default


def test_watch_intent_stats_streams_a_message_every_interval(serve):
    served = serve()
    red = served.client('red')
    made = red.create_intent('dca', 'dcc', 5)
    red.wait_for_state(made.id, timeout_s=5)
    start = time.monotonic()
    with red.watch_intent_stats(made.id, interval_s=0.2, window_s=10, timeout_s=10) as stream:
        readings = [next(stream) for _ in range(4)]
    took = time.monotonic() - start
    assert 0.55 < took < 3
    assert all(r.intent_id == made.id and r.sla.window.seconds == 10 for r in readings)
    times = [r.time.ToNanoseconds() for r in readings]
    assert times == sorted(times) and times[-1] - times[0] >= 0.55e9


def test_another_tenants_intent_is_not_found_and_bad_arguments_name_the_field(serve):
    served = serve()
    red, blue, operator = served.client('red'), served.client('blue'), served.client('operator')
    reds = red.create_intent('dca', 'dcc', 5)
    refused(lambda: blue.get_intent_stats(reds.id), CODE.NOT_FOUND, reds.id)
    refused(lambda: next(iter(blue.watch_intent_stats(reds.id))), CODE.NOT_FOUND, reds.id)
    assert operator.get_intent_stats(reds.id).tenant == 'red'
    refused(lambda: red.get_intent_stats('i-99'), CODE.NOT_FOUND, 'i-99')
    refused(lambda: red.get_intent_stats('x'), CODE.INVALID_ARGUMENT, 'id:')
    for window in (0.5, 86401, -1):
        refused(lambda w=window: red.get_intent_stats(reds.id, window_s=w), CODE.INVALID_ARGUMENT, 'window:')
        refused(
            lambda w=window: next(iter(red.watch_intent_stats(reds.id, window_s=w))),
            CODE.INVALID_ARGUMENT,
            'window:',
        )
    for interval in (0.01, 61):
        refused(
            lambda i=interval: next(iter(red.watch_intent_stats(reds.id, interval_s=i))),
            CODE.INVALID_ARGUMENT,
            'interval:',
        )
    refused(lambda: served.client(None).get_intent_stats(reds.id), CODE.UNAUTHENTICATED)


def test_a_watch_ends_not_found_once_the_intent_is_withdrawn(serve):
    served = serve()
    red = served.client('red')
    made = red.create_intent('dca', 'dcc', 5)
    red.wait_for_state(made.id, timeout_s=5)
    with red.watch_intent_stats(made.id, interval_s=0.1, timeout_s=10) as stream:
        next(stream)
        red.delete_intent(made.id)
        red.wait_for_state(made.id, ('WITHDRAWN',), timeout_s=5)
        with pytest.raises(ApiError) as error:
            for _ in range(100):
                next(stream)
    assert error.value.code == CODE.NOT_FOUND
