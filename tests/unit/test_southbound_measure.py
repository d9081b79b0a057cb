"""What the southbound shim measures, driven through its injected clock and sender
(tests/unit/fakeswitches): span delays from its LLDP probes minus each switch's own loop,
probes that crossed a reprogramming ignored, a switch gone measured afresh, port counters as
link load, and the core's notices logged once."""

import logging

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp

from controller.core import flows as fl
from controller.core.topology import Link
from controller.southbound import lldp
from controller.southbound.app import CONTROLLER_MAC, PROBE_INTERVAL_S
from tests.unit.fakeswitches import shim
from topologies.model import addressing as addr
from topologies.model.fabric import load_fabric
from topologies.model.order import Order

TRIANGLE = load_fabric('triangle')
LOOP_MS = {'dca': 2.0, 'dcb': 4.0, 'dcc': 1.0}
SPAN_MS = {  # not the fabric's 4, 6 and 9 ms, and not the same both ways
    Link('dca', 'dcb'): 5.0,
    Link('dcb', 'dca'): 5.5,
    Link('dcb', 'dcc'): 8.0,
    Link('dcc', 'dcb'): 8.0,
    Link('dca', 'dcc'): 11.0,
    Link('dcc', 'dca'): 12.0,
}


def probe_for(app, clock, seconds, stats=False):
    """The prober's rounds for `seconds`, one every PROBE_INTERVAL_S as its thread runs them."""
    for _ in range(round(seconds / PROBE_INTERVAL_S)):
        due = clock.now_s()
        app.probe_round(due, stats)
        clock.advance(due + PROBE_INTERVAL_S - clock.now_s())


def frame(app, src, dst, sent_ns):
    """The probe the shim sends from `src` over its span to `dst` (dst None: a loop probe)."""
    port = ofp.OFPP_CONTROLLER if dst is None else addr.span_port(TRIANGLE, src, dst)
    return lldp.build(addr.dpid(TRIANGLE.sites[src]), port, sent_ns, app.instance, CONTROLLER_MAC)


def test_span_delays_are_the_lldp_probes_minus_half_of_each_switchs_loop():
    """The echoes come back in 0.2 ms, but a probe passes each switch's slower packet-out and
    packet-in path, which its loop probe times: subtracting the echo would be off by ms. Each
    direction reads its span's mean (what the halves subtracted leave one way, they take the
    other)."""
    core, app, _, clock = shim(TRIANGLE, loop_ms=LOOP_MS, span_ms=SPAN_MS, echo_ms=0.2)
    probe_for(app, clock, 3.0)
    for link, ms in SPAN_MS.items():
        span_ms = (ms + SPAN_MS[link.reverse()]) / 2
        assert core.topology.delay_ms(link) == pytest.approx(span_ms, abs=1e-6), link


def test_bounce_probes_time_each_switchs_crossing_and_paths_count_it():
    """A bounce probe's round trip, less the sender's loop and the span both ways, is what the
    far switch took to turn it in its fast path: a tenant's frame pays that at every switch of
    its path, so the path latency an intent reports includes it."""
    crossing = {'dca': 0.15, 'dcb': 0.3, 'dcc': 0.05}
    core, app, _, clock = shim(TRIANGLE, loop_ms=LOOP_MS, span_ms=SPAN_MS, crossing_ms=crossing)
    probe_for(app, clock, 4.0)  # every switch turned back a bounce probe of each neighbour
    for site, ms in crossing.items():
        assert core.topology.crossing_ms(site) == pytest.approx(ms, abs=1e-6), site
    intent = app.runtime.call(lambda core, now: core.create(Order('red', 'dca', 'dcc', 1), now=now))
    view = core.view(intent.id)
    assert view.path == ('dca', 'dcc')  # 11.5 ms direct, against 13.25 via dcb
    assert view.path_latency_ms == pytest.approx(0.15 + 11.5 + 0.05)  # dca, the span, dcc


def test_a_probe_that_crossed_a_switch_being_reprogrammed_is_ignored():
    core, app, switches, clock = shim(TRIANGLE, loop_ms=LOOP_MS)
    switches.cut = {span.id for span in TRIANGLE.spans}
    probe_for(app, clock, 1.0)  # loops and echoes only
    ba = addr.span_port(TRIANGLE, 'dcb', 'dca')
    in_flight = frame(app, 'dca', 'dcb', clock.now_ns())
    clock.advance(0.001)
    app.runtime.call(lambda core, now: core.create(Order('red', 'dca', 'dcb', 5), now=now))
    app.sync()  # dca and dcb take the new intent's flows while the probe crosses
    clock.advance(0.005)
    switches.packet_in('dcb', ba, in_flight)
    assert core.topology.delay_ms(Link('dca', 'dcb')) == 4.0  # the fabric's, not measured
    later = frame(app, 'dca', 'dcb', clock.now_ns())
    clock.advance(0.020)
    switches.packet_in('dcb', ba, later)
    # 20 ms less half of each loop; had the first probe counted, the minimum would be < 10 ms
    assert core.topology.delay_ms(Link('dca', 'dcb')) == pytest.approx(17.0)


def test_a_switch_that_comes_back_is_measured_afresh():
    core, app, switches, clock = shim(TRIANGLE, loop_ms=LOOP_MS, span_ms=SPAN_MS)
    probe_for(app, clock, 2.0)
    assert core.topology.delay_ms(Link('dca', 'dcb')) == pytest.approx(5.25)
    switches.disconnect('dcb')
    switches.connect('dcb')
    app.sync()
    switches.span_ms |= {Link('dca', 'dcb'): 12.0, Link('dcb', 'dca'): 12.0}  # another fiber route
    probe_for(app, clock, 1.0)  # fewer rounds than the window: the old 5 ms would still be its minimum
    assert core.topology.delay_ms(Link('dca', 'dcb')) == pytest.approx(12.0)
    assert core.topology.delay_ms(Link('dcb', 'dca')) == pytest.approx(12.0)
    assert core.topology.delay_ms(Link('dca', 'dcc')) == pytest.approx(11.5)


def test_a_span_whose_port_went_down_is_measured_afresh_both_ways():
    core, app, switches, clock = shim(TRIANGLE, loop_ms=LOOP_MS, span_ms=SPAN_MS)
    probe_for(app, clock, 2.0)
    port = addr.span_port(TRIANGLE, 'dca', 'dcb')
    switches.port_status('dca', port, up=False)
    assert not core.topology_view().spans[0].up  # dca-dcb
    switches.port_status('dca', port, up=True)
    switches.span_ms |= {Link('dca', 'dcb'): 12.0, Link('dcb', 'dca'): 12.0}
    probe_for(app, clock, 1.0)
    assert core.topology.delay_ms(Link('dca', 'dcb')) == pytest.approx(12.0)
    assert core.topology.delay_ms(Link('dcb', 'dca')) == pytest.approx(12.0)  # though dcb's stayed up


def test_port_counters_become_the_links_load():
    core, app, switches, clock = shim(TRIANGLE)
    port = addr.span_port(TRIANGLE, 'dca', 'dcb')
    switches.tx_bytes[('dca', port)] = 1_000
    probe_for(app, clock, PROBE_INTERVAL_S, stats=True)
    assert core.steering.utilization == {}  # one reading: no rate yet
    probe_for(app, clock, 2.0 - PROBE_INTERVAL_S)
    switches.tx_bytes[('dca', port)] = 1_000 + 250_000  # 2 Mb in the 2 s between two readings
    probe_for(app, clock, PROBE_INTERVAL_S, stats=True)
    gbps, when = core.steering.utilization[Link('dca', 'dcb')]
    assert gbps == pytest.approx(1.0)  # 1 Mb/s emulated at the triangle's scale of 1/1000
    assert clock.now_s() - PROBE_INTERVAL_S < when < clock.now_s()
    assert core.steering.utilization[Link('dcb', 'dca')][0] == 0.0


def test_unexpected_links_and_spans_lldp_does_not_cross_are_logged_once(caplog):
    _, app, switches, clock = shim(TRIANGLE)
    switches.cut = {'dca-dcc'}
    wrong_port = addr.span_port(TRIANGLE, 'dcc', 'dcb')
    with caplog.at_level(logging.WARNING, logger='naas.southbound'):
        for _ in range(2):
            switches.packet_in('dcc', wrong_port, frame(app, 'dca', 'dcc', clock.now_ns()))
        probe_for(app, clock, 9.5)
        assert caplog.messages == ['unexpected link: dca port 3 reaches dcc port 2, not a span of the fabric']
        probe_for(app, clock, 5.0)
    assert caplog.messages[1:] == ['span dca-dcc is in the fabric but LLDP has not crossed it in 10 s']


def test_intents_meter_and_egress_counters_become_their_rates_and_drops():
    """Once a second the shim asks every switch for its meters' counters and for those of the
    intents' flows out of each tenant port (their egress flows, by cookie and out_port); the
    ingress meter at src and the egress flow at dst are the forward direction's, the control
    meters count nothing, and each egress flow is counted once (one request a tenant port)."""
    core, app, switches, clock = shim(TRIANGLE)
    intent = app.runtime.call(lambda core, now: core.create(Order('red', 'dca', 'dcc', 1), now=now))
    app.sync()
    cookie, label = fl.intent_cookie(intent.number), core.routes.of(intent.id).label_fwd
    control = fl.CONTROL_METER_BASE + 1
    switches.meters |= {('dca', intent.number): (0, 0, 0), ('dca', control): (0, 0, 0)}
    red_port = addr.tenant_port(TRIANGLE.tenants['red'])
    switches.egress[('dcc', red_port, cookie, label)] = 0
    probe_for(app, clock, PROBE_INTERVAL_S, stats=True)
    probe_for(app, clock, PROBE_INTERVAL_S)
    switches.meters |= {('dca', intent.number): (250_000, 2_000, 10), ('dca', control): (10**6, 10**6, 10**4)}
    switches.egress[('dcc', red_port, cookie, label)] = 248_000
    probe_for(app, clock, PROBE_INTERVAL_S, stats=True)  # a second after the first reading
    app.apply_measurements()
    fwd = core.stats(intent.id, now=clock.now_s()).forward
    assert fwd.rate_in_gbps == pytest.approx(2.0, rel=0.01)  # 2 Mb/s at the scale of 1/1000
    assert fwd.rate_out_gbps == pytest.approx(1.984, rel=0.01)
    assert (fwd.dropped_bytes, fwd.dropped_frames) == (2_000, 10)
    assert core.stats(intent.id, now=clock.now_s()).reverse.rate_in_gbps == 0
