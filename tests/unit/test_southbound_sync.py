"""The southbound's syncer sends a move in the order that loses no traffic: the new path, a
barrier, the flip, a barrier, then a wait until frames on the old path have arrived, and only
then the clean-up. Driven through the shim's injected clock and sender (tests/unit/fakeswitches)."""

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from controller.core import flows as fl
from controller.core.intent import State
from tests.unit.fakeswitches import shim
from topologies.model.fabric import load_fabric
from topologies.model.order import Order

TRIANGLE = load_fabric('triangle')


def _kind(msg):
    if isinstance(msg, parser.OFPFlowMod):
        if msg.command == ofp.OFPFC_DELETE_STRICT:
            return 'delete'
        return 'flip' if msg.priority == fl.PRIO_INGRESS else 'add'
    return 'barrier' if isinstance(msg, parser.OFPBarrierRequest) else type(msg).__name__


def sent_since(switches, mark):
    return [(ns, _kind(msg)) for ns, _, msg in switches.sent[mark:]]


def test_a_move_flips_after_the_new_path_and_cleans_up_after_the_drain():
    core, app, switches, clock = shim(TRIANGLE)
    intent = app.runtime.call(lambda core, now: core.create(Order('red', 'dca', 'dcc', 5), now=now))
    mark = len(switches.sent)
    app.sync()
    installed = sent_since(switches, mark)
    assert 'delete' not in [kind for _, kind in installed]
    assert installed[-1][0] - installed[0][0] < app.drain_s * 1e9  # nothing to clean up: no wait
    assert core.get(intent.id).state is State.INSTALLED

    clock.advance(1.0)
    app.runtime.call(lambda core, now: core.update(intent.id, bandwidth_gbps=9.5, now=now))  # to dca-dcb-dcc
    mark = len(switches.sent)
    app.sync()
    moved = sent_since(switches, mark)
    kinds = [kind for _, kind in moved]
    flips = [i for i, k in enumerate(kinds) if k == 'flip']
    deletes = [i for i, k in enumerate(kinds) if k == 'delete']
    assert flips and deletes
    assert max(i for i, k in enumerate(kinds) if k == 'add') < min(flips)
    flip_barrier = max(i for i, k in enumerate(kinds) if k == 'barrier' and i < min(deletes))
    assert max(flips) < flip_barrier  # the flip is in the switches...
    answered_ns = moved[flip_barrier][0] + switches.reply_s * 1e9
    assert moved[min(deletes)][0] - answered_ns >= app.drain_s * 1e9  # ...and the old path has emptied
    assert 0 < app.drain_s < 1
    assert core.routes.of(intent.id).sites == ('dca', 'dcb', 'dcc')
    assert core.get(intent.id).state is State.INSTALLED


def test_a_phase_waits_for_one_round_trip_not_one_per_switch():
    """Every switch of a phase gets its barrier at once: an intent over three switches is
    installed in two round trips (new flows, then the flip), not six."""
    lumen = load_fabric('lumen-qts')
    core, app, switches, _ = shim(lumen)
    intent = app.runtime.call(lambda core, now: core.create(Order('acme', 'phx1', 'iad1', 1), now=now))
    assert len(core.routes.of(intent.id).sites) >= 3
    mark = len(switches.sent)
    app.sync()
    installed = sent_since(switches, mark)
    barriers = [ns for ns, kind in installed if kind == 'barrier']
    assert len(barriers) >= 2 * 3
    took_s = (installed[-1][0] - installed[0][0]) / 1e9
    assert took_s < 3 * switches.reply_s, f'{took_s * 1000:.1f} ms for {len(barriers)} barriers'
    assert core.get(intent.id).state is State.INSTALLED


def test_what_is_sent_and_how_long_each_phase_takes_is_counted():
    """The OpenFlow figures of /metrics: every change sent, by kind, and each phase's time."""
    _, app, switches, _ = shim(TRIANGLE)
    app.runtime.call(lambda core, now: core.create(Order('red', 'dca', 'dcc', 5), now=now))
    mark = len(switches.sent)
    changes, phases = (
        samples(app.figures.changes, 'change', '_total'),
        samples(app.figures.phases, 'phase', '_count'),
    )
    app.sync()
    sent = [msg for _, _, msg in switches.sent[mark:]]
    added = samples(app.figures.changes, 'change', '_total')
    assert added['add_flow'] - changes['add_flow'] == sum(isinstance(m, parser.OFPFlowMod) for m in sent) > 0
    assert (
        added['add_meter'] - changes['add_meter'] == sum(isinstance(m, parser.OFPMeterMod) for m in sent) > 0
    )
    took = samples(app.figures.phases, 'phase', '_count')
    assert took['prepare'] - phases['prepare'] == 1 and took['flip'] - phases['flip'] == 1


def samples(metric, label, suffix):
    return {s.labels[label]: s.value for s in metric.collect()[0].samples if s.name.endswith(suffix)}
