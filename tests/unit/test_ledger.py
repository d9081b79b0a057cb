"""controller.core.ledger: admission never over-books a link, every change is all-or-nothing,
and the ledger survives a JSON round trip through the store."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.ledger import EPS_GBPS, AdmissionError, Ledger
from controller.core.topology import Link, SpanState, Topology
from topologies.model.fabric import load_fabric

AB, BA, BC, CB, AC = (Link('a', 'b'), Link('b', 'a'), Link('b', 'c'), Link('c', 'b'), Link('a', 'c'))
P1, P2 = ('i-1', 'primary'), ('i-2', 'primary')


def topo(ab=10.0, bc=20.0, ac=1.0):
    """a-b 10, b-c 20, a-c 1 Gb/s (a-c for float tests)."""
    return Topology(
        'abc',
        [
            SpanState('a-b', 'a', 'b', ab, 1.0),
            SpanState('b-c', 'b', 'c', bc, 1.0),
            SpanState('a-c', 'a', 'c', ac, 1.0),
        ],
    )


def state(ledger):
    """Everything observable, to compare before and after a failed change."""
    return ledger.snapshot(), [ledger.reserved_gbps(l) for l in ledger.topology.links()]


# --- construction -----------------------------------------------------------------------


@pytest.mark.parametrize('headroom', [-0.1, 1.0, 1.5, float('nan'), '0.1', True])
def test_bad_headroom_is_refused(headroom):
    with pytest.raises(ValueError, match='headroom'):
        Ledger(topo(), headroom)


def test_empty_ledger_offers_full_capacity():
    ledger = Ledger(topo())
    assert ledger.available_gbps(AB) == 10.0
    assert ledger.reserved_gbps(AB) == 0.0
    assert ledger.holders() == [] and ledger.reservation(P1) is None


# --- reserve / release ------------------------------------------------------------------


def test_reserve_takes_bandwidth_on_each_direction_listed_only():
    ledger = Ledger(topo())
    ledger.reserve(P1, [AB, BC], 4)
    assert ledger.reservation(P1) == ((AB, BC), 4.0)
    assert ledger.reserved_gbps(AB) == 4.0 and ledger.available_gbps(AB) == 6.0
    assert ledger.available_gbps(BC) == 16.0
    assert ledger.available_gbps(BA) == 10.0  # the other direction is untouched
    assert ledger.holders() == [P1]


def test_exact_fill_with_floats_is_allowed_and_one_more_is_not():
    ledger = Ledger(topo())
    for i in range(10):
        ledger.reserve(('i', i), [AC], 0.1)  # 10 x 0.1 on a 1 Gb/s link
    assert ledger.reserved_gbps(AC) == 1.0  # correctly rounded, not 0.9999999999999999
    assert ledger.available_gbps(AC) == 0.0
    with pytest.raises(AdmissionError):
        ledger.reserve(('i', 10), [AC], 1e-6)
    for i in range(10):
        assert ledger.release(('i', i))
    assert ledger.reserved_gbps(AC) == 0.0  # no drift left behind


def test_fill_by_awkward_floats():
    ledger = Ledger(topo())
    ledger.reserve(P1, [AC], 0.7)
    ledger.reserve(P2, [AC], 0.3)  # 0.7 + 0.3 is not 1.0 in binary
    with pytest.raises(AdmissionError):
        ledger.reserve(('i-3', 'primary'), [AC], 1e-6)


def test_over_booking_names_first_short_link_and_what_is_left():
    ledger = Ledger(topo())
    ledger.reserve(P1, [AB], 7)
    ledger.reserve(P2, [BC], 19)
    before = state(ledger)
    with pytest.raises(AdmissionError) as err:
        ledger.reserve(('i-3', 'primary'), [BC, AB], 3.5)
    assert err.value.link == BC and err.value.available_gbps == pytest.approx(1.0)
    assert 'b->c' in str(err.value) and err.value.reason == str(err.value)
    assert state(ledger) == before  # nothing taken on AB either
    assert ledger.reservation(('i-3', 'primary')) is None


def test_headroom_is_never_promised():
    ledger = Ledger(topo(), headroom=0.25)
    assert ledger.available_gbps(AB) == 7.5
    ledger.reserve(P1, [AB], 7.5)
    with pytest.raises(AdmissionError) as err:
        ledger.reserve(P2, [AB], 0.01)
    assert err.value.available_gbps == pytest.approx(0.0, abs=EPS_GBPS)


def test_holder_reserving_twice_is_refused():
    ledger = Ledger(topo())
    ledger.reserve(P1, [AB], 1)
    with pytest.raises(ValueError, match='already holds'):
        ledger.reserve(P1, [BC], 1)
    assert ledger.reservation(P1) == ((AB,), 1.0)


@pytest.mark.parametrize(
    'holder,links,gbps,match',
    [
        (P1, [AB, AB], 1, 'twice'),
        (P1, [], 1, 'at least one link'),
        (P1, [Link('a', 'z')], 1, 'unknown link'),
        (P1, [('a', 'b')], 1, 'unknown link'),
        (P1, [AB], 0, 'bandwidth'),
        (P1, [AB], -1, 'bandwidth'),
        (P1, [AB], float('inf'), 'bandwidth'),
        (P1, [AB], float('nan'), 'bandwidth'),
        (P1, [AB], '1', 'bandwidth'),
        (P1, [AB], True, 'bandwidth'),
        ('i-1', [AB], 1, 'holder'),
        ((), [AB], 1, 'holder'),
        ((('i', 1),), [AB], 1, 'holder'),
    ],
)
def test_malformed_requests_are_refused_without_change(holder, links, gbps, match):
    ledger = Ledger(topo())
    ledger.reserve(P2, [AB], 1)
    before = state(ledger)
    with pytest.raises(ValueError, match=match):
        ledger.reserve(holder, links, gbps)
    assert state(ledger) == before


def test_release():
    ledger = Ledger(topo())
    ledger.reserve(P1, [AB, BC], 4)
    ledger.reserve(P2, [AB], 6)
    assert ledger.release(P1) is True
    assert ledger.release(P1) is False  # already gone: no error
    assert ledger.reservation(P1) is None and ledger.holders() == [P2]
    assert ledger.reserved_gbps(AB) == 6.0 and ledger.reserved_gbps(BC) == 0.0


# --- span state and capacity ------------------------------------------------------------


def test_down_span_keeps_reservations_but_admits_nothing():
    t = topo()
    ledger = Ledger(t)
    ledger.reserve(P1, [AB], 4)
    t.set_up('a-b', False)
    assert ledger.reservation(P1) == ((AB,), 4.0) and ledger.reserved_gbps(AB) == 4.0
    assert ledger.available_gbps(AB) == ledger.available_gbps(BA) == 0.0
    with pytest.raises(AdmissionError, match='down') as err:
        ledger.reserve(P2, [BC, BA], 1)
    assert err.value.link == BA and err.value.available_gbps == 0.0
    with pytest.raises(AdmissionError, match='down'):
        ledger.reserve(P2, [BA], EPS_GBPS / 2)  # not even a crumb within the epsilon
    t.set_up('a-b', True)
    assert ledger.available_gbps(AB) == 6.0


def test_capacity_is_read_on_each_call():
    t = topo()
    ledger = Ledger(t)
    ledger.reserve(P1, [AB], 6)
    t.spans['a-b'].capacity_gbps = 4.0  # the span got slower: over-booked now
    assert ledger.available_gbps(AB) == 0.0  # never negative
    assert ledger.reserved_gbps(AB) == 6.0  # kept: reservations are never dropped for capacity
    with pytest.raises(AdmissionError) as err:
        ledger.reserve(P2, [AB], EPS_GBPS / 2)  # the epsilon is no way in
    assert err.value.available_gbps == 0.0
    t.spans['a-b'].capacity_gbps = 40.0
    assert ledger.available_gbps(AB) == 34.0


# --- snapshot / restore -----------------------------------------------------------------


def test_snapshot_is_plain_json_and_restores_identically():
    t = topo()
    ledger = Ledger(t, headroom=0.1)
    ledger.reserve(P1, [AB, BC], 4)
    ledger.reserve(('i-1', 'backup'), [AC, CB], 0.5)
    ledger.reserve(('i-7', 3), [BA], 0.1)
    data = json.loads(json.dumps(ledger.snapshot()))
    assert data[0] == {'holder': ['i-1', 'primary'], 'links': [['a', 'b'], ['b', 'c']], 'gbps': 4.0}
    other = Ledger(t, headroom=0.1)
    other.reserve(P2, [AB], 1)  # replaced by the restore
    other.restore(data)
    assert state(other) == state(ledger)
    assert other.holders() == ledger.holders()
    assert other.reservation(('i-7', 3)) == ((BA,), 0.1)


def test_restore_brings_back_reservations_on_down_spans():
    t = topo()
    ledger = Ledger(t)
    ledger.reserve(P1, [AB], 4)
    data = ledger.snapshot()
    t.set_up('a-b', False)
    other = Ledger(t)
    other.restore(data)
    assert other.reservation(P1) == ((AB,), 4.0)


def good(**changes):
    item = {'holder': ['i-9', 'primary'], 'links': [['a', 'b']], 'gbps': 1.0}
    item.update(changes)
    return item


@pytest.mark.parametrize(
    'data,match',
    [
        ([good(links=[['a', 'z']])], 'unknown link'),
        ([good(links=[['a', 'b', 'c']])], 'snapshot'),
        ([good(links=[['a', 'b'], ['a', 'b']])], 'twice'),
        ([good(gbps=6.0), good(holder=['i-10', 'primary'], gbps=4.5)], 'over-books a->b'),
        ([good(), good()], 'twice'),
        ([good(gbps=-1)], 'bandwidth'),
        ([good(gbps=None)], 'bandwidth'),
        ([{'holder': ['i-9', 'primary'], 'links': [['a', 'b']]}], 'snapshot'),
        ([good(holder=None)], 'snapshot'),
        ([good(holder=[['nested']])], 'holder'),
        ([['i-9', [['a', 'b']], 1.0]], 'snapshot'),
        (None, 'snapshot'),
    ],
)
def test_invalid_restore_changes_nothing(data, match):
    ledger = Ledger(topo())
    ledger.reserve(P1, [AB, BC], 5)
    before = state(ledger)
    with pytest.raises(ValueError, match=match):
        ledger.restore(data)
    assert state(ledger) == before


def test_restore_checks_headroom():
    data = [good(gbps=9.5)]
    Ledger(topo()).restore(data)
    with pytest.raises(ValueError, match='over-books'):
        Ledger(topo(), headroom=0.1).restore(data)


# --- properties on the shipped fabrics --------------------------------------------------

FABRICS = {name: Topology.from_fabric(load_fabric(name)) for name in ('triangle', 'lumen-qts')}
HOLDERS = [(f'i-{i}', role) for i in range(2) for role in ('primary', 'backup')]


def fits(ledger, model, holder, links, gbps):
    """Oracle, written from the rules rather than the code: every link where the request adds
    load has room for it next to the other holders, within capacity less headroom, on an up span."""
    old_links, old_gbps = model.get(holder, ((), 0.0))
    topo_ = ledger.topology
    for link in links:
        mine = old_gbps if link in old_links else 0.0
        if gbps <= mine:
            continue
        if not topo_.span_of(link).up:
            return False
        others = sum(g for h, (ls, g) in model.items() if h != holder and link in ls)
        if others + gbps > topo_.capacity_gbps(link) * (1 - ledger.headroom) + EPS_GBPS:
            return False
    return True


def ops(topology):
    links = topology.links()
    paths = st.lists(st.sampled_from(links), min_size=1, max_size=5, unique=True)
    gbps = st.one_of(
        st.floats(min_value=0, max_value=500, exclude_min=True),
        st.sampled_from([0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0]),
    )
    holder = st.sampled_from(HOLDERS)
    return st.lists(
        st.one_of(
            st.tuples(st.just('reserve'), holder, paths, gbps),
            st.tuples(st.just('release'), holder),
            st.tuples(st.just('bad'), holder, st.sampled_from(links), gbps),  # a link twice
            st.tuples(st.just('span'), st.sampled_from(sorted(topology.spans)), st.booleans()),
        ),
        max_size=20,
    )


def run(topology, headroom, steps):
    for span in topology.spans.values():
        span.up = True
    ledger, model = Ledger(topology, headroom), {}
    for step in steps:
        before = state(ledger)
        kind, holder = step[0], step[1]
        try:
            if kind == 'span':
                topology.set_up(holder, step[2])
                continue
            if kind == 'release':
                assert ledger.release(holder) == (model.pop(holder, None) is not None)
                continue
            if kind == 'bad':
                ledger.reserve(holder, [step[2], step[2]], step[3])
                raise AssertionError('a link listed twice was accepted')
            links, gbps = tuple(step[2]), step[3]
            expected = holder not in model and fits(ledger, model, holder, links, gbps)
            ledger.reserve(holder, links, gbps)
            assert expected, f'{step} was accepted'
            model[holder] = (links, gbps)
        except (AdmissionError, ValueError):
            assert not expected if kind == 'reserve' else True, f'{step} was refused'
            assert state(ledger) == before, f'failed {step} changed the ledger'
        finally:
            check(ledger, model)
    restored = Ledger(topology, headroom)
    restored.restore(json.loads(json.dumps(ledger.snapshot())))
    assert state(restored) == state(ledger)


def check(ledger, model):
    assert {h: ledger.reservation(h) for h in ledger.holders()} == model
    by_link = {}
    for links, gbps in model.values():
        for link in links:
            by_link.setdefault(link, []).append(gbps)
    for link in ledger.topology.links():
        reserved = ledger.reserved_gbps(link)
        assert reserved <= ledger.topology.capacity_gbps(link) * (1 - ledger.headroom) + EPS_GBPS
        assert math.isclose(reserved, math.fsum(by_link.get(link, ())), abs_tol=EPS_GBPS)


@pytest.mark.parametrize('name', sorted(FABRICS))
def test_random_sequences_never_over_book(name):
    topology = FABRICS[name]

    @settings(max_examples=150, deadline=None)  # ~1 s per fabric on the 2-core CI machines
    @given(headroom=st.sampled_from([0.0, 0.1, 0.25]), steps=ops(topology))
    def prop(headroom, steps):
        run(topology, headroom, steps)

    prop()
