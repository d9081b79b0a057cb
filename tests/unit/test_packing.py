"""Placing many intents together (controller/core/packing.py): Yen's k paths, and
create_many's joint placement, checked against brute force.

On a ring every pair of sites has exactly two simple paths, both weighed by the integer
program, so create_many must admit exactly the most committed Gb/s that any assignment of
whole intents to paths admits (found here by trying them all)."""

import itertools

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from controller.core import packing
from controller.core.errors import Conflict, InvalidArgument, Unplaceable
from controller.core.paths import k_paths
from controller.core.topology import Topology
from tests.unit.test_controller_core import LUMEN, TRIANGLE, connected, sync
from tests.unit.test_make_room import within_limits
from tests.unit.test_policy import cut
from topologies.model.fabric import parse_fabric
from topologies.model.order import Order
from topologies.model.policy import Policy

HEADROOM = 0.1


def ring(capacities, delays):
    n = len(capacities)
    sites = [f's{i}' for i in range(n)]
    return parse_fabric(
        {
            'name': 'ring',
            'emulation': {'bandwidth_scale': 0.001},
            'sites': [
                {'id': s, 'name': s, 'kind': 'datacenter', 'region': 'X', 'lat': 40.0, 'lon': -80.0 + i}
                for i, s in enumerate(sites)
            ],
            'spans': [
                {
                    'between': [sites[i], sites[(i + 1) % n]],
                    'capacity_gbps': capacities[i],
                    'delay_ms': delays[i],
                }
                for i in range(n)
            ],
            'tenants': [{'id': 'red', 'name': 'Red', 'sites': sites}],
        }
    )


def simple_paths(topology, src, dst, seen=()):
    """Every simple path as a tuple of links (brute force, for small fabrics)."""
    seen = seen or (src,)
    if src == dst:
        yield ()
        return
    for link in topology.neighbours(src):
        if link.dst not in seen:
            for rest in simple_paths(topology, link.dst, dst, seen + (link.dst,)):
                yield (link,) + rest


def test_k_paths_are_the_k_fastest_simple_paths_that_fit():
    topology = Topology.from_fabric(LUMEN)
    everything = sorted(sum(topology.delay_ms(l) for l in p) for p in simple_paths(topology, 'phx1', 'iad1'))
    found = k_paths(topology, 'phx1', 'iad1', 8, 1.0, lambda link: 100.0)
    assert [round(p.latency_ms(topology), 6) for p in found] == [round(x, 6) for x in everything[:8]]
    assert len({p.links for p in found}) == 8
    bound = found[3].latency_ms(topology)
    assert k_paths(topology, 'phx1', 'iad1', 8, 1.0, lambda link: 100.0, bound) == found[:4]
    thin = found[0].links[0]  # a link without the room is never used
    narrowed = k_paths(topology, 'phx1', 'iad1', 8, 5.0, lambda link: 1.0 if link == thin else 100.0)
    assert narrowed and all(thin not in p.links for p in narrowed)
    assert k_paths(topology, 'phx1', 'iad1', 8, 200.0, lambda link: 100.0) == []


def test_k_paths_lists_all_there_are_when_fewer_than_k():
    topology = Topology.from_fabric(TRIANGLE)
    assert [p.sites for p in k_paths(topology, 'dca', 'dcc', 8, 1.0, lambda link: 20.0)] == [
        ('dca', 'dcc'),
        ('dca', 'dcb', 'dcc'),
    ]


def best_by_brute_force(fabric, orders):
    """The most Gb/s any choice of path (or refusal) per order admits; spans take an intent's
    Gb/s in both directions, up to capacity less headroom."""
    topology = Topology.from_fabric(fabric)
    limit = {s.span_id: s.capacity_gbps * (1 - HEADROOM) for s in topology.spans.values()}
    options = [
        [tuple(topology.span_of(l).span_id for l in p) for p in simple_paths(topology, o.src, o.dst)] + [None]
        for o in orders
    ]
    best = 0.0
    for choice in itertools.product(*options):
        used = {}
        for spans, order in zip(choice, orders):
            for span in spans or ():
                used[span] = used.get(span, 0.0) + order.bandwidth_gbps
        if all(used[s] <= limit[s] + 1e-9 for s in used):
            best = max(best, sum(o.bandwidth_gbps for c, o in zip(choice, orders) if c))
    return best


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_create_many_admits_the_most_any_placement_admits_on_a_ring(data):
    n = data.draw(st.integers(4, 6))
    fabric = ring(
        data.draw(st.lists(st.sampled_from([20, 30, 40]), min_size=n, max_size=n)),
        data.draw(st.lists(st.integers(1, 9), min_size=n, max_size=n)),
    )
    pairs = data.draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] < p[1]),
            min_size=1,
            max_size=6,
            unique=True,
        )
    )
    orders = [
        Order(
            tenant='red',
            src=f's{a}',
            dst=f's{b}',
            bandwidth_gbps=data.draw(st.sampled_from([3, 5, 8, 9, 12, 17])),
        )
        for a, b in pairs
    ]
    core = connected(fabric, headroom=HEADROOM)
    results = core.create_many(orders, now=0)
    sync(core)
    admitted = sum(o.bandwidth_gbps for o, r in zip(orders, results) if not isinstance(r, Unplaceable))
    assert admitted == best_by_brute_force(fabric, orders)
    assert within_limits(core)
    assert all(isinstance(r, Unplaceable) or r.state.value == 'INSTALLED' for r in results)


def test_placed_together_more_gets_in_than_one_after_the_other():
    """On a ring of four 20 Gb/s spans (18 may be committed), the first order's fastest path
    blocks the other two, one after the other (without making room); together, the first
    goes the long way round and all three fit."""
    fabric = ring([20, 20, 20, 20], [1, 1, 1, 5])
    orders = [
        Order(tenant='red', src='s0', dst='s2', bandwidth_gbps=10),  # fast: s0-s1-s2
        Order(tenant='red', src='s1', dst='s2', bandwidth_gbps=10),  # only s1-s2 is fast
        Order(tenant='red', src='s0', dst='s1', bandwidth_gbps=10),
    ]
    one_by_one = connected(fabric, headroom=HEADROOM, policy=Policy(make_room=False))
    refused = 0
    for order in orders:
        try:
            one_by_one.create(order, now=0)
        except Unplaceable:
            refused += 1
    assert refused == 2
    core = connected(fabric, headroom=HEADROOM)
    results = core.create_many(orders, now=0)
    assert not any(isinstance(r, Unplaceable) for r in results)
    assert [r.id for r in results] == ['i-1', 'i-2', 'i-3']
    assert core.routes.of('i-1').sites == ('s0', 's3', 's2')
    assert within_limits(core)


def test_pack_leaves_the_ledgers_as_they_were():
    core = connected(LUMEN, headroom=HEADROOM)
    core.create(Order('acme', 'phx1', 'iad1', 30), now=0)
    before = core.books.committed.snapshot(), core.books.peak.snapshot()
    intents = [
        core.orders.intent(Order('acme', a, b, 20))
        for a, b in [('iad1', 'pdx1'), ('dfw1', 'pdx1'), ('phx1', 'dfw1')]
    ]
    assert len(packing.pack(core.topology, core.books, intents, 1.0)) == 3
    assert (core.books.committed.snapshot(), core.books.peak.snapshot()) == before


def test_realtime_is_placed_before_the_classes_below_it():
    """Two orders fit only one at a time on the triangle's 9 Gb/s direct span within 9.5 ms:
    the REALTIME one gets it, whatever the order of the batch."""
    core = connected(TRIANGLE, headroom=HEADROOM)
    results = core.create_many(
        [
            Order(tenant='red', src='dca', dst='dcc', bandwidth_gbps=8, max_latency_ms=9.5),
            Order(
                tenant='blue',
                src='dca',
                dst='dcc',
                bandwidth_gbps=8,
                max_latency_ms=9.5,
                service_class='REALTIME',
            ),
        ],
        now=0,
    )
    assert isinstance(results[0], Unplaceable) and '9.5 ms' in str(results[0])
    assert results[1].service_class.value == 'REALTIME' and core.routes.of(results[1].id).sites == (
        'dca',
        'dcc',
    )


def test_protected_orders_get_a_disjoint_backup():
    core = connected(LUMEN, headroom=HEADROOM)
    results = core.create_many(
        [
            Order(tenant='acme', src='phx1', dst='iad1', bandwidth_gbps=10, protection='PROTECTED'),
            Order(tenant='acme', src='dfw1', dst='pdx1', bandwidth_gbps=10),
        ],
        now=0,
    )
    placement = core.placer.placements[results[0].id]
    assert placement.backup is not None
    assert not set(placement.primary.span_ids(core.topology)) & set(placement.backup.span_ids(core.topology))


def test_a_batch_placed_off_the_lock_takes_only_what_still_fits():
    """packer() works on copies; create_many(packed=...) checks each placement again: one
    over a span cut meanwhile is placed anew, and the live ledgers were never touched."""
    core = connected(TRIANGLE, headroom=HEADROOM)
    orders = [
        Order(tenant='red', src='dca', dst='dcb', bandwidth_gbps=5),
        Order(tenant='red', src='dcb', dst='dcc', bandwidth_gbps=5),
    ]
    pack = core.packer(orders)
    packed = pack()
    assert [(i, p.primary.sites) for i, p in packed] == [(0, ('dca', 'dcb')), (1, ('dcb', 'dcc'))]
    assert core.books.committed.holders() == [] and core.list() == []
    cut(core, TRIANGLE, 'dcb', 'dcc', False, now=1)  # meanwhile: the span under order 1 is cut
    made = core.create_many(orders, now=2, packed=packed)
    assert core.routes.of(made[0].id).sites == ('dca', 'dcb')
    assert core.routes.of(made[1].id).sites == ('dcb', 'dca', 'dcc')
    assert within_limits(core)


def test_packer_refuses_bad_orders_as_create_many_does():
    core = connected(TRIANGLE)
    with pytest.raises(InvalidArgument, match=r'^orders\[0\]\.bandwidth_gbps'):
        core.packer([Order(tenant='red', src='dca', dst='dcb', bandwidth_gbps=-1)])


def test_a_placement_packed_off_the_lock_is_checked_in_the_peak_ledger_too():
    """Meanwhile an order with an excess fills the direct span's peak (committed plus excess,
    no headroom): the packed placement there no longer fits, and the order goes another way."""
    core = connected(TRIANGLE, headroom=HEADROOM)
    orders = [Order(tenant='blue', src='dca', dst='dcc', bandwidth_gbps=8)]
    packed = core.packer(orders)()
    assert packed[0][1].primary.sites == ('dca', 'dcc')
    core.create(Order('red', 'dca', 'dcc', 1, excess_gbps=8), now=1)  # 1 Gb/s of peak left
    made = core.create_many(orders, now=2, packed=packed)
    assert core.routes.of(made[0].id).sites == ('dca', 'dcb', 'dcc') and within_limits(core)


def test_orders_without_excess_are_packed_within_the_peak_ledger():
    core = connected(TRIANGLE, headroom=HEADROOM)
    core.create(Order('red', 'dca', 'dcc', 1, excess_gbps=5), now=1)  # direct: 8 committed, 4 peak left
    orders = [
        Order(tenant='blue', src='dca', dst='dcc', bandwidth_gbps=3),
        Order(tenant='red', src='dcb', dst='dcc', bandwidth_gbps=3),
        Order(tenant='red', src='dca', dst='dcb', bandwidth_gbps=3),
    ]
    made = core.create_many(orders, now=2)
    assert not any(isinstance(r, Unplaceable) for r in made) and within_limits(core)


ORDERS = [(t.id, a, b) for t in LUMEN.tenants.values() for a, b in itertools.combinations(sorted(t.sites), 2)]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(ORDERS), st.sampled_from([20, 40, 80])), max_size=8),
    st.lists(
        st.tuples(
            st.sampled_from(ORDERS),
            st.sampled_from([20, 40, 80]),
            st.sampled_from(['REALTIME', 'PRIORITY', 'BULK']),
            st.sampled_from(['NONE', 'PROTECTED']),
            st.sampled_from([0, 10]),
        ),
        min_size=1,
        max_size=8,
        unique_by=lambda o: o[0],
    ),
)
@example(  # a preempted intent that was moving aside for a waiting one took its room back
    before=[
        (('umbrel', 'cmh2', 'phx2'), 40),
        (('globex', 'cmh1', 'iad2'), 20),
        (('umbrel', 'cmh2', 'iad1'), 20),
    ],
    batch=[
        (('acme', 'dfw1', 'iad1'), 20, 'REALTIME', 'NONE', 0),
        (('globex', 'atl1', 'cmh1'), 40, 'PRIORITY', 'NONE', 0),
        (('globex', 'cmh1', 'dfw2'), 80, 'REALTIME', 'NONE', 0),
    ],
)
def test_a_batch_never_over_books_nor_preempts_its_own_orders(before, batch):
    core = connected(LUMEN, headroom=HEADROOM)
    sync(core)
    for (tenant, a, b), gbps in before:
        try:
            core.create(Order(tenant, a, b, gbps, service_class='BULK'), now=1)
        except (Unplaceable, Conflict):
            pass
    sync(core, now=2)
    orders = [
        Order(
            tenant=t,
            src=a,
            dst=b,
            bandwidth_gbps=gbps,
            service_class=cls,
            protection=prot,
            excess_gbps=excess,
        )
        for (t, a, b), gbps, cls, prot, excess in batch
    ]
    try:
        made = core.create_many(orders, now=3)
    except Conflict:
        return  # a pair already ordered before the batch
    assert within_limits(core)
    # Placed, or waiting (COMPILING) for intents placed before it to move aside; never FAILED.
    assert all(isinstance(r, Unplaceable) or r.state.value in ('INSTALLING', 'COMPILING') for r in made)
    sync(core, now=4)
    sync(core, now=5)
    # A waiting one claims the room being made for it, so no order of the batch placed
    # meanwhile takes it: every order admitted ends INSTALLED (seen before claims: REALTIME
    # 80 Gb/s waiting on pdfw-dfw1, PRIORITY 20 Gb/s placed there, the REALTIME one FAILED).
    assert all(isinstance(r, Unplaceable) or r.state.value == 'INSTALLED' for r in made)
    assert within_limits(core)


def test_the_integer_program_is_not_asked_when_the_tries_reach_the_relaxation(monkeypatch):
    """Three orders that all fit their fastest paths: the greedy tries reach the relaxation's
    bound, so the solver is not asked (the ring test above covers where it is)."""
    asked = []
    solve = packing._Program.solve
    monkeypatch.setattr(packing._Program, 'solve', lambda self, *a: asked.append(1) or solve(self, *a))
    core = connected(LUMEN, headroom=HEADROOM)
    orders = [Order('acme', a, b, 5) for a, b in [('iad1', 'pdx1'), ('dfw1', 'pdx1'), ('phx1', 'dfw1')]]
    assert not any(isinstance(r, Unplaceable) for r in core.create_many(orders, now=0))
    assert asked == []
