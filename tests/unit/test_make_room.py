"""Making room: a refused intent has placed ones moved aside (make-before-break), never a
higher class for a lower one, and nothing changes when moves cannot help; batch order.

triangle: dca-dcb 20 Gb/s 4 ms, dcb-dcc 20 Gb/s 6 ms, dca-dcc 10 Gb/s 9 ms; with 10%
headroom 18, 18 and 9 Gb/s may be committed. Only the direct dca-dcc meets a 9.5 ms bound.
"""

from pathlib import Path

import pytest
import yaml

from controller.core.errors import Unplaceable
from controller.core.intent import Intent, State
from controller.core.planner import batch_order
from controller.core.topology import Link
from tests.unit.test_controller_core import TRIANGLE, connected, states, sync
from tests.unit.test_policy import cut
from topologies.model.fabric import parse_fabric
from topologies.model.order import Order, ServiceClass


def within_limits(core):
    """No link is booked beyond its capacity less headroom, in either ledger."""
    for link in core.topology.links():
        assert core.books.committed.reserved_gbps(link) <= core.books.committed._limit(link) + 1e-9, link
        assert core.books.peak.reserved_gbps(link) <= core.books.peak._limit(link) + 1e-9, link
    return True


def unchanged(core):
    return states(core), core.books.committed.snapshot(), core.books.peak.snapshot(), core.generation


def test_a_refused_intent_gets_in_once_another_has_moved_aside():
    core = connected()
    events = []
    core.subscribe(events.append)
    blue = core.create(Order('blue', 'dca', 'dcc', 8), now=0)  # no bound: may move
    sync(core, now=0)
    red = core.create(Order('red', 'dca', 'dcc', 8, max_latency_ms=9.5), now=1)
    # blue moves first, make-before-break: it holds dca-dcc until the switches flipped,
    # so red waits, holding only a claim on what is free there (1 Gb/s) until then.
    assert red.state is State.COMPILING
    assert red.reason == 'placing: waiting for intent i-1 to move off span dca-dcc (make-before-break)'
    assert core.routes.of(blue.id).sites == ('dca', 'dcb', 'dcc') and blue.state is State.INSTALLING
    assert 'moved off span dca-dcc to make room for intent i-2 (PRIORITY) of tenant red' in blue.reason
    assert core.books.committed.reservation(('i-1', 'old'))[0] == (Link('dca', 'dcc'), Link('dcc', 'dca'))
    assert core.books.committed.reservation(('i-2', 'primary')) is None and within_limits(core)
    sync(core, now=2)  # blue installed on its new path: red is placed
    assert blue.state is State.INSTALLED and core.books.committed.reservation(('i-1', 'old')) is None
    assert core.routes.of(red.id).sites == ('dca', 'dcc') and within_limits(core)
    assert 'room made by moving intent i-1' in red.reason
    sync(core, now=3)
    assert red.state is State.INSTALLED
    assert core.books.committed.reserved_gbps(Link('dca', 'dcc')) == 8
    assert [e.state for e in events if e.intent_id == red.id] == [
        State.COMPILING,
        State.INSTALLING,
        State.INSTALLED,
    ]


def test_a_waiting_intent_claims_the_room_made_for_it_so_no_later_order_takes_it():
    fabric = parse_fabric(
        {
            **yaml.safe_load(Path(TRIANGLE.source).read_text()),
            'tenants': [{'id': t.id, 'sites': list(t.sites)} for t in TRIANGLE.tenants.values()]
            + [{'id': 'green', 'sites': ['dca', 'dcc']}],
        }
    )
    core = connected(fabric)
    blue = core.create(Order('blue', 'dca', 'dcc', 6), now=0)  # no bound: may move
    sync(core, now=0)
    red = core.create(Order('red', 'dca', 'dcc', 8, max_latency_ms=9.5), now=1)  # only the direct span
    assert red.state is State.COMPILING and core.routes.of(blue.id).sites == ('dca', 'dcb', 'dcc')
    # 3 of the direct span's 9 Gb/s are free while blue flips: green would take 2 of them, and
    # red would not fit once blue has left; red's claim sends green the other way.
    green = core.create(Order('green', 'dca', 'dcc', 2), now=1)
    assert core.routes.of(green.id).sites == ('dca', 'dcb', 'dcc') and within_limits(core)
    sync(core, now=2)
    sync(core, now=3)
    assert red.state is State.INSTALLED and core.routes.of(red.id).sites == ('dca', 'dcc')
    assert not [h for h in core.books.committed.holders() if h[1] == 'claim'] and within_limits(core)


def test_a_waiting_intent_withdrawn_gives_its_claim_back():
    core = connected()
    core.create(Order('blue', 'dca', 'dcc', 6), now=0)
    sync(core, now=0)
    red = core.create(Order('red', 'dca', 'dcc', 8, max_latency_ms=9.5), now=1)
    assert core.books.committed.reserved_gbps(Link('dca', 'dcc')) == 9  # blue's old 6 and red's claim of 3
    core.delete(red.id, now=1)
    assert core.books.committed.reserved_gbps(Link('dca', 'dcc')) == 6  # blue's, until it flips
    sync(core, now=2)
    assert core.books.committed.reserved_gbps(Link('dca', 'dcc')) == 0 and red.state is State.WITHDRAWN


def test_a_higher_class_is_never_moved_for_a_lower_one():
    core = connected()
    core.create(Order('blue', 'dca', 'dcc', 8, service_class='REALTIME'), now=0)
    sync(core, now=0)
    before = unchanged(core)
    with pytest.raises(Unplaceable, match=r'9\.5 ms bound'):
        core.create(Order('red', 'dca', 'dcc', 8, max_latency_ms=9.5, service_class='PRIORITY'), now=1)
    assert unchanged(core) == before


def test_when_moves_cannot_make_room_nothing_changes():
    core = connected()
    events = []
    # red fills dca-dcb (15 of 18): blue could leave dca-dcc only through it, and it lacks 8.
    core.create(Order('red', 'dca', 'dcb', 15), now=0)
    core.create(Order('blue', 'dca', 'dcc', 8), now=0)
    sync(core, now=0)
    core.subscribe(events.append)
    before = unchanged(core)
    with pytest.raises(Unplaceable, match=r'9\.5 ms bound'):
        core.create(Order('red', 'dca', 'dcc', 8, max_latency_ms=9.5), now=1)
    # The trial move of blue was undone whole: the same reservations, in the same order.
    assert unchanged(core) == before and events == []


def test_no_move_over_books_a_span_not_even_for_a_while():
    core = connected()
    # blue's only other path crosses dcb-dcc, where red's 12 leave 6 of the 8 blue needs;
    # the 8 that blue itself would free on dca-dcc come too late (make-before-break: both
    # paths are held until the switches have flipped): the newcomer is refused.
    core.create(Order('red', 'dcb', 'dcc', 12), now=0)
    core.create(Order('blue', 'dca', 'dcc', 8), now=0)
    sync(core, now=0)
    before = unchanged(core)
    with pytest.raises(Unplaceable):
        core.create(Order('red', 'dca', 'dcc', 8, max_latency_ms=9.5), now=1)
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
    small = core.create(Order('red', 'dca', 'dcc', 2), now=0)
    large = core.create(Order('red', 'dcb', 'dcc', 6), now=0)
    medium = core.create(Order('blue', 'dca', 'dcc', 3), now=0)
    sync(core, now=0)
    cut(core, TRIANGLE, 'dcc', 'dca', False, now=1)
    cut(core, TRIANGLE, 'dcc', 'dcb', False, now=1)
    assert {i.state for i in (small, large, medium)} == {State.FAILED}
    core.subscribe(events.append)
    cut(core, TRIANGLE, 'dcc', 'dca', True, now=2)
    retried = [e.intent_id for e in events if e.state is State.COMPILING]
    assert retried == [large.id, medium.id, small.id]  # all one hop: largest first
