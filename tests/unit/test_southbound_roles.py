"""OpenFlow roles of controller replicas, on the shim and fake switches that keep roles as Open
vSwitch does: a follower is SLAVE and sends nothing else; the leader is MASTER under its own
generation before it changes anything; a leader the switches say was replaced stops."""

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from controller.core.controller import Controller
from controller.runtime import Runtime
from controller.southbound.app import FabricApp
from tests.unit.fakeswitches import CHANGES, FakeClock, FakeSwitches, shim
from topologies.model.fabric import load_fabric

TRIANGLE = load_fabric('triangle')


def follower(fabric=TRIANGLE, leader=5):
    clock = FakeClock()
    switches = FakeSwitches(fabric, clock)
    lost = []
    app = FabricApp(
        fabric=fabric,
        on_fatal=_fail,
        clock=clock,
        send=switches.send,
        leader_generation=lambda: leader,
        on_lost=lost.append,
    )
    switches.app = app
    app._start_threads = lambda: None  # the test drives the syncer and the prober itself
    for site_id in fabric.sites:
        switches.connect(site_id)
    return app, switches, clock, lost


def _fail():
    raise AssertionError('the shim failed: see the log')


def roles(switches, site=None):
    return [
        (m.role, m.generation_id)
        for _, s, m in switches.sent
        if isinstance(m, parser.OFPRoleRequest) and site in (None, s)
    ]


def test_a_follower_asks_to_be_slave_under_the_leaders_generation_and_sends_nothing_else():
    _app, switches, clock, lost = follower(leader=5)
    clock.advance(3.0)
    assert [m for _, _, m in switches.sent if not isinstance(m, parser.OFPRoleRequest)] == []
    assert roles(switches) == [(ofp.OFPCR_ROLE_SLAVE, 5)] * len(TRIANGLE.sites)
    assert switches.slave == set(TRIANGLE.sites) and not lost


def test_a_follower_with_no_leader_known_stays_equal_and_silent():
    _app, switches, clock, _lost = follower(leader=None)
    clock.advance(1.0)
    assert switches.sent == []


def test_taking_the_lead_makes_it_master_first_then_it_reads_and_reconciles():
    app, switches, clock, lost = follower(leader=5)
    core = Controller(TRIANGLE, now=clock.now_s())
    runtime = Runtime(core, clock=clock.now_s)
    switches.sent.clear()
    app.lead(runtime, 9)
    for site in TRIANGLE.sites:
        first = next(m for _, s, m in switches.sent if s == site)
        assert isinstance(first, parser.OFPRoleRequest)
        assert (first.role, first.generation_id) == (ofp.OFPCR_ROLE_MASTER, 9)
    assert not switches.slave and not lost
    app.sync()
    assert all(switch.ready for switch in app.switches.values())
    assert all(core.liveness.connected(site) for site in TRIANGLE.sites)


def test_a_switch_connecting_to_the_leader_hears_master_before_anything_else():
    app, switches, clock, _lost = follower(leader=5)
    core = Controller(TRIANGLE, now=clock.now_s())
    switches.disconnect('dca')
    app.lead(Runtime(core, clock=clock.now_s), 9)
    switches.sent.clear()
    switches.connect('dca')
    first = next(m for _, s, m in switches.sent if s == 'dca')
    assert (first.role, first.generation_id) == (ofp.OFPCR_ROLE_MASTER, 9)


def test_a_leader_under_a_stale_generation_stops():
    """A paused leader resumed: the switches have seen a newer leader's generation."""
    app, switches, clock, lost = follower(leader=5)
    switches.generations['dcb'] = 12
    app.lead(Runtime(Controller(TRIANGLE, now=clock.now_s()), clock=clock.now_s), 9)
    assert lost and 'dcb' in lost[0]


def test_a_leader_demoted_by_a_newer_one_stops_and_changes_nothing():
    _core, app, switches, clock = shim(TRIANGLE)
    lost = []
    app.generation, app.leader_generation, app.on_lost = 3, lambda: 3, lost.append
    switches.demote('dca', 4)
    count = len(switches.sent)
    app.probe_round(clock.now_s())
    clock.advance(0.1)
    assert lost and 'dca' in lost[0]
    refused = [m for _, s, m in switches.sent[count:] if s == 'dca' and isinstance(m, CHANGES)]
    assert refused  # what it tried; the fake switch applied none of it


def test_the_only_controller_sends_no_role_requests():
    _core, _app, switches, clock = shim(TRIANGLE)
    clock.advance(2.0)
    assert roles(switches) == []
