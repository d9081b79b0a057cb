"""Making room: a refused intent has placed ones moved aside (make-before-break), never a
higher class for a lower one, and nothing changes when moves cannot help; batch order.

triangle: dca-dcb 20 Gb/s 4 ms, dcb-dcc 20 Gb/s 6 ms, dca-dcc 10 Gb/s 9 ms; with 10%
headroom 18, 18 and 9 Gb/s may be committed. Only the direct dca-dcc meets a 9.5 ms bound.
"""

import pytest

from controller.core.errors import Unplaceable
from controller.core.intent import Intent, State
from controller.core.planner import batch_order
from controller.core.topology import Link
from tests.unit.test_controller_core import TRIANGLE, connected, states, sync
from tests.unit.test_policy import cut
from topologies.model.order import ServiceClass


def within_limits(core):
    """No link is booked beyond its capacity less headroom, in either ledger."""
    for link in core.topology.links():
        assert core.ledger.reserved_gbps(link) <= core.ledger._limit(link) + 1e-9, link
        assert core.peak.reserved_gbps(link) <= core.peak._limit(link) + 1e-9, link
    return True


def unchanged(core):
    return states(core), core.ledger.snapshot(), core.peak.snapshot(), core.generation


def test_a_refused_intent_gets_in_once_another_has_moved_aside():
    core = connected()
    events = []
    core.subscribe(events.append)
    blue = core.create('blue', 'dca', 'dcc', 8, now=0)  # no bound: may move
    sync(core, now=0)
    red = core.create('red', 'dca', 'dcc', 8, now=1, max_latency_ms=9.5)
    # blue moves first, make-before-break: it holds dca-dcc until the switches flipped,
    # so red waits, holding nothing yet.
    assert red.state is State.COMPILING
    assert red.reason == 'placing: waiting for intent i-1 to move off span dca-dcc (make-before-break)'
    assert core.route_of(blue.id).sites == ('dca', 'dcb', 'dcc') and blue.state is State.INSTALLING
    assert 'moved off span dca-dcc to make room for intent i-2 (PRIORITY) of tenant red' in blue.reason
    assert core.ledger.reservation(('i-1', 'old'))[0] == (Link('dca', 'dcc'), Link('dcc', 'dca'))
    assert core.ledger.reservation(('i-2', 'primary')) is None and within_limits(core)
    sync(core, now=2)  # blue installed on its new path: red is placed
    assert blue.state is State.INSTALLED and core.ledger.reservation(('i-1', 'old')) is None
    assert core.route_of(red.id).sites == ('dca', 'dcc') and within_limits(core)
    assert 'room made by moving intent i-1' in red.reason
    sync(core, now=3)
    assert red.state is State.INSTALLED
    assert core.ledger.reserved_gbps(Link('dca', 'dcc')) == 8
    assert [e.state for e in events if e.intent_id == red.id] == [
        State.COMPILING,
        State.INSTALLING,
        State.INSTALLED,
    ]


def test_a_higher_class_is_never_moved_for_a_lower_one():
    core = connected()
    core.create('blue', 'dca', 'dcc', 8, now=0, service_class='REALTIME')
    sync(core, now=0)
    before = unchanged(core)
    with pytest.raises(Unplaceable, match=r'9\.5 ms bound'):
        core.create('red', 'dca', 'dcc', 8, now=1, max_latency_ms=9.5, service_class='PRIORITY')
    assert unchanged(core) == before


def test_when_moves_cannot_make_room_nothing_changes():
    core = connected()
    events = []
    # red fills dca-dcb (15 of 18): blue could leave dca-dcc only through it, and it lacks 8.
    core.create('red', 'dca', 'dcb', 15, now=0)
    core.create('blue', 'dca', 'dcc', 8, now=0)
    sync(core, now=0)
    core.subscribe(events.append)
    before = unchanged(core)
    with pytest.raises(Unplaceable, match=r'9\.5 ms bound'):
        core.create('red', 'dca', 'dcc', 8, now=1, max_latency_ms=9.5)
    # The trial move of blue was undone whole: the same reservations, in the same order.
    assert unchanged(core) == before and events == []


def test_no_move_over_books_a_span_not_even_for_a_while():
    core = connected()
    # blue's only other path crosses dcb-dcc, where red's 12 leave 6 of the 8 blue needs;
    # the 8 that blue itself would free on dca-dcc come too late (make-before-break: both
    # paths are held until the switches have flipped): the newcomer is refused.
    core.create('red', 'dcb', 'dcc', 12, now=0)
    core.create('blue', 'dca', 'dcc', 8, now=0)
    sync(core, now=0)
    before = unchanged(core)
    with pytest.raises(Unplaceable):
        core.create('red', 'dca', 'dcc', 8, now=1, max_latency_ms=9.5)
    assert unchanged(core) == before and within_limits(core)


def test_batch_order_is_class_then_fewest_hops_then_largest():
    def intent(number, gbps, hops, service_class=ServiceClass.PRIORITY):
        return Intent(
            f'i-{number}',
            'red',
            'dca',
            'dcc',
            gbps,
            service_class=service_class,
            number=number,
            labels={'hops': hops},
        )

    intents = [
        intent(1, 2, 1),
        intent(2, 9, 3),
        intent(3, 5, 1),
        intent(4, 1, 2, ServiceClass.REALTIME),
        intent(5, 5, 1),
        intent(6, 7, 2, ServiceClass.BULK),
    ]
    order = batch_order(intents, lambda i: i.labels['hops'])
    assert [i.number for i in order] == [4, 3, 5, 1, 2, 6]


def test_failed_intents_are_retried_in_batch_order():
    core = connected()
    events = []
    small = core.create('red', 'dca', 'dcc', 2, now=0)
    large = core.create('red', 'dcb', 'dcc', 6, now=0)
    medium = core.create('blue', 'dca', 'dcc', 3, now=0)
    sync(core, now=0)
    cut(core, TRIANGLE, 'dcc', 'dca', False, now=1)
    cut(core, TRIANGLE, 'dcc', 'dcb', False, now=1)
    assert {i.state for i in (small, large, medium)} == {State.FAILED}
    core.subscribe(events.append)
    cut(core, TRIANGLE, 'dcc', 'dca', True, now=2)
    retried = [e.intent_id for e in events if e.state is State.COMPILING]
    assert retried == [large.id, medium.id, small.id]  # all one hop: largest first
