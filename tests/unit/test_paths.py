"""controller.core.paths: CSPF picks the lowest-latency path that has the bandwidth, says
what would fit when nothing does, and protection gives two span-disjoint paths."""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.core.paths import (
    NoPath,
    Path,
    find_path,
    find_protected,
    k_paths,
    min_latency_ms,
    widest_gbps,
)
from controller.core.topology import Link, SpanState, Topology
from topologies.model.fabric import load_fabric

FABRICS = {name: load_fabric(name) for name in ('triangle', 'thin-fat', 'lumen-qts')}


def topo(name):
    return Topology.from_fabric(FABRICS[name])


def capacity(t):
    """Nothing reserved: every link has its full capacity available."""
    return t.capacity_gbps


def with_available(t, **by_span):
    """Full capacity except the named spans (ids with '_' for '-'), in both directions."""
    table = {link: t.capacity_gbps(link) for link in t.links()}
    for span_id, gbps in by_span.items():
        for link in t.spans[span_id.replace('_', '-')].links():
            table[link] = gbps
    return table


A, B, C = 'dca', 'dcb', 'dcc'
DIRECT = (A, C)
TWO_HOP = (A, B, C)


# --- triangle ----------------------------------------------------------------------------


def test_direct_span_when_it_has_room():
    t = topo('triangle')
    path = find_path(t, A, C, 5, capacity(t))
    assert path.sites == DIRECT
    assert path.latency_ms(t) == pytest.approx(9)
    assert path.span_ids(t) == ('dca-dcc',)
    assert (path.src, path.dst, path.hops) == (A, C, 1)


def test_two_hop_when_direct_span_lacks_bandwidth():
    t = topo('triangle')
    path = find_path(t, A, C, 5, with_available(t, dca_dcc=4.5))
    assert path.sites == TWO_HOP
    assert path.latency_ms(t) == pytest.approx(10)
    assert path.span_ids(t) == ('dca-dcb', 'dcb-dcc')


def test_dict_and_callable_availability_agree():
    t = topo('triangle')
    table = with_available(t, dca_dcc=4.5)
    assert find_path(t, A, C, 5, table) == find_path(t, A, C, 5, table.__getitem__)


def test_no_path_when_neither_has_bandwidth():
    t = topo('triangle')
    with pytest.raises(NoPath) as e:
        find_path(t, A, C, 25, capacity(t))
    assert e.value.constraint == 'bandwidth'
    assert e.value.widest_gbps == 20  # via dcb: both spans 20 Gb/s
    assert e.value.min_latency_ms is None  # nothing carries 25 Gb/s
    assert e.value.min_latency_any_ms == pytest.approx(9)
    assert '25 Gb/s' in e.value.reason and '20 Gb/s' in e.value.reason


def test_latency_bound_is_respected_and_reason_gives_the_minimum():
    t = topo('triangle')
    assert find_path(t, A, C, 15, capacity(t), max_latency_ms=10).sites == TWO_HOP
    with pytest.raises(NoPath) as e:
        find_path(t, A, C, 15, capacity(t), max_latency_ms=8)
    assert e.value.constraint == 'latency'
    assert e.value.min_latency_ms == pytest.approx(10)  # at 15 Gb/s: via dcb
    assert e.value.min_latency_any_ms == pytest.approx(9)  # direct, but only 10 Gb/s
    assert e.value.widest_within_bound_gbps is None  # nothing is within 8 ms
    assert '8 ms bound' in e.value.reason and '10 ms' in e.value.reason


def test_down_span_is_avoided():
    t = topo('triangle')
    t.set_up('dca-dcc', False)
    assert find_path(t, A, C, 1, capacity(t)).sites == TWO_HOP
    t.set_up('dca-dcb', False)
    with pytest.raises(NoPath) as e:
        find_path(t, A, C, 1, capacity(t))
    assert e.value.constraint == 'connectivity'
    assert 'every span of dca is down' in e.value.reason


def test_a_site_cut_off_is_named():
    t = topo('triangle')
    t.set_up('dca-dcb', False)
    t.set_up('dcb-dcc', False)
    with pytest.raises(NoPath) as e:
        find_path(t, A, 'dcb', 1, capacity(t))
    assert e.value.reason.endswith(': every span of dcb is down (the site or its switch is down)')


def test_avoided_span_is_not_used():
    t = topo('triangle')
    path = find_path(t, A, C, 1, capacity(t), avoid_spans=frozenset({'dca-dcc'}))
    assert path.sites == TWO_HOP


def test_measured_delay_changes_the_choice_and_latency_is_recomputed():
    t = topo('triangle')
    path = find_path(t, A, C, 1, capacity(t))
    assert path.sites == DIRECT
    t.record_delay(Link(A, C), 12, now=0)
    assert path.latency_ms(t) == pytest.approx(12)  # the same path, measured now
    assert find_path(t, A, C, 1, capacity(t)).sites == TWO_HOP
    # Only that direction was measured: the reverse still uses the 9 ms prior.
    assert find_path(t, C, A, 1, capacity(t)).sites == (C, A)


def test_bad_endpoints_are_value_errors():
    t = topo('triangle')
    with pytest.raises(ValueError):
        find_path(t, A, A, 1, capacity(t))
    with pytest.raises(ValueError):
        find_path(t, A, 'nowhere', 1, capacity(t))
    with pytest.raises(ValueError):
        find_protected(t, 'nowhere', A, 1, capacity(t))


def test_path_rejects_non_consecutive_links_and_loops():
    with pytest.raises(ValueError):
        Path((Link(A, B), Link(A, C)))
    with pytest.raises(ValueError):
        Path((Link(A, B), Link(B, A)))
    with pytest.raises(ValueError):
        Path(())


# --- thin-fat ----------------------------------------------------------------------------


def test_thin_fat_small_request_takes_the_short_thin_span():
    t = topo('thin-fat')
    path = find_path(t, 'west', 'east', 4, capacity(t))
    assert path.sites == ('west', 'east')
    assert path.latency_ms(t) == pytest.approx(8)


def test_thin_fat_large_request_takes_the_fat_detour():
    t = topo('thin-fat')
    path = find_path(t, 'west', 'east', 10, capacity(t))
    assert path.sites == ('west', 'north', 'hub', 'east')
    assert path.latency_ms(t) == pytest.approx(22)


def test_thin_fat_bound_says_what_would_fit():
    t = topo('thin-fat')
    with pytest.raises(NoPath) as e:
        find_path(t, 'west', 'east', 10, capacity(t), max_latency_ms=15)
    err = e.value
    assert err.constraint == 'latency'
    assert err.widest_within_bound_gbps == 5
    assert err.widest_gbps == 40
    assert err.min_latency_ms == pytest.approx(22)
    assert err.min_latency_any_ms == pytest.approx(8)
    assert '15 ms' in err.reason and '5 Gb/s' in err.reason and '22 ms' in err.reason


def test_helpers_on_thin_fat():
    t = topo('thin-fat')
    cap = capacity(t)
    assert widest_gbps(t, 'west', 'east', cap) == 40
    assert widest_gbps(t, 'west', 'east', cap, max_latency_ms=15) == 5
    assert widest_gbps(t, 'west', 'east', cap, max_latency_ms=7) is None
    assert min_latency_ms(t, 'west', 'east') == pytest.approx(8)
    assert min_latency_ms(t, 'west', 'east', 10, cap) == pytest.approx(22)
    assert min_latency_ms(t, 'west', 'east', 50, cap) is None


# --- protection ----------------------------------------------------------------------------


def spans_of(t, path):
    return set(path.span_ids(t))


def test_protected_pair_on_triangle_is_direct_and_two_hop():
    t = topo('triangle')
    primary, backup = find_protected(t, A, C, 1, capacity(t))
    assert (primary.sites, backup.sites) == (DIRECT, TWO_HOP)


def test_every_lumen_campus_pair_is_protected():
    t = topo('lumen-qts')
    campuses = [s.id for s in FABRICS['lumen-qts'].sites.values() if s.kind == 'datacenter']
    assert len(campuses) == 16
    for src, dst in itertools.combinations(campuses, 2):
        primary, backup = find_protected(t, src, dst, 1, capacity(t))
        assert primary != backup
        assert (primary.src, primary.dst, backup.src, backup.dst) == (src, dst, src, dst)
        assert not spans_of(t, primary) & spans_of(t, backup), (src, dst)
        assert primary.latency_ms(t) <= backup.latency_ms(t)
        # The primary is the shortest path whenever the shortest path has a disjoint partner
        # at least as good in total; it can never be faster than the shortest path.
        assert primary.latency_ms(t) >= find_path(t, src, dst, 1, capacity(t)).latency_ms(t) - 1e-9


def bridged():
    """A triangle a-b-c with a tail c-d: the span c-d is a bridge."""
    return Topology(
        'abcd',
        [
            SpanState('a-b', 'a', 'b', 10, 1),
            SpanState('b-c', 'b', 'c', 10, 1),
            SpanState('a-c', 'a', 'c', 10, 1),
            SpanState('c-d', 'c', 'd', 10, 1),
        ],
    )


def test_bridge_span_gives_no_path_naming_protection_and_the_span():
    t = bridged()
    assert find_path(t, 'a', 'd', 1, capacity(t)).sites == ('a', 'c', 'd')
    with pytest.raises(NoPath) as e:
        find_protected(t, 'a', 'd', 1, capacity(t))
    assert e.value.constraint == 'protection'
    assert e.value.spans == ('c-d',)
    assert 'protection' in e.value.reason and 'c-d' in e.value.reason


def test_protection_needs_bandwidth_on_both_paths():
    t = topo('triangle')
    with pytest.raises(NoPath) as e:  # only the two-hop path has 15 Gb/s
        find_protected(t, A, C, 15, capacity(t))
    assert e.value.constraint == 'protection'


def test_protection_respects_the_bound():
    t = topo('triangle')
    assert len(find_protected(t, A, C, 1, capacity(t), max_latency_ms=10)) == 2
    with pytest.raises(NoPath) as e:  # backup (10 ms) is over 9.5 ms
        find_protected(t, A, C, 1, capacity(t), max_latency_ms=9.5)
    assert e.value.constraint == 'protection' and '9.5 ms' in e.value.reason
    with pytest.raises(NoPath) as e:  # even the fastest path is over
        find_protected(t, A, C, 1, capacity(t), max_latency_ms=5)
    assert e.value.constraint == 'latency'


def test_bhandari_untangles_a_trap_topology():
    """The classic trap: the shortest path s-a-b-t blocks the naive 'remove and retry'
    second path; the min-sum disjoint pair is s-a-t and s-b-t."""
    t = Topology(
        'sabt',
        [
            SpanState('s-a', 's', 'a', 10, 1),
            SpanState('a-b', 'a', 'b', 10, 1),
            SpanState('b-t', 'b', 't', 10, 1),
            SpanState('s-b', 's', 'b', 10, 3),
            SpanState('a-t', 'a', 't', 10, 3),
        ],
    )
    assert find_path(t, 's', 't', 1, capacity(t)).sites == ('s', 'a', 'b', 't')
    primary, backup = find_protected(t, 's', 't', 1, capacity(t))
    assert {primary.sites, backup.sites} == {('s', 'a', 't'), ('s', 'b', 't')}
    assert not spans_of(t, primary) & spans_of(t, backup)


# --- determinism ---------------------------------------------------------------------------


def test_same_inputs_same_path():
    t = topo('lumen-qts')
    first = [find_path(t, 'phx1', 'iad2', 50, capacity(t)) for _ in range(2)]
    again = find_path(topo('lumen-qts'), 'phx1', 'iad2', 50, capacity(topo('lumen-qts')))
    assert first[0] == first[1] == again
    assert find_protected(t, 'phx1', 'iad2', 50, capacity(t)) == find_protected(
        t, 'phx1', 'iad2', 50, capacity(t)
    )


def test_ties_go_to_fewer_hops_then_site_order():
    t = topo('triangle')
    t.record_delay(Link(A, C), 10, now=0)  # direct 10 ms == 4 + 6 ms via dcb
    assert find_path(t, A, C, 1, capacity(t)).sites == DIRECT
    square = Topology(
        'sdcb',
        [
            SpanState('s-c', 's', 'c', 10, 1),
            SpanState('c-d', 'c', 'd', 10, 1),
            SpanState('s-b', 's', 'b', 10, 1),
            SpanState('b-d', 'b', 'd', 10, 1),
        ],
    )
    assert find_path(square, 's', 'd', 1, capacity(square)).sites == ('s', 'b', 'd')


# --- properties ----------------------------------------------------------------------------


def simple_paths(t, src, dst):
    """Brute force: every simple path over up spans, by depth-first enumeration."""
    out = []

    def walk(site, links, seen):
        if site == dst:
            out.append(tuple(links))
            return
        for link in t.neighbours(site):
            if link.dst not in seen:
                walk(link.dst, links + [link], seen | {link.dst})

    walk(src, [], {src})
    return out


def reachable(t, src, dst, ok):
    seen, todo = {src}, [src]
    while todo:
        for link in t.neighbours(todo.pop()):
            if ok(link) and link.dst not in seen:
                seen.add(link.dst)
                todo.append(link.dst)
    return dst in seen


GBPS = st.sampled_from([0, 1, 4.5, 5, 10, 15, 25])
LUMEN = topo('lumen-qts')
LUMEN_LINKS = sorted(LUMEN.links(), key=lambda l: (l.src, l.dst))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    avail=st.lists(
        st.sampled_from([0, 1, 5, 10, 40, 100]), min_size=len(LUMEN_LINKS), max_size=len(LUMEN_LINKS)
    ),
    ends=st.lists(st.sampled_from(LUMEN.sites), min_size=2, max_size=2, unique=True),
    gbps=GBPS,
)
def test_lumen_paths_use_only_links_with_room(avail, ends, gbps):
    table = dict(zip(LUMEN_LINKS, avail))
    src, dst = ends
    ok = lambda link: table[link] >= gbps  # noqa: E731
    try:
        path = find_path(LUMEN, src, dst, gbps, table)
    except NoPath:
        assert not reachable(LUMEN, src, dst, ok)
        return
    assert (path.src, path.dst) == (src, dst)
    assert len(set(path.sites)) == len(path.sites)
    assert all(ok(link) for link in path.links)


SMALL = {name: (FABRICS[name], ends) for name, ends in (('triangle', (A, C)), ('thin-fat', ('west', 'east')))}


def small_case(name, avail, delays, swap):
    fabric, (src, dst) = SMALL[name]
    t = Topology.from_fabric(fabric)
    links = sorted(t.links(), key=lambda l: (l.src, l.dst))
    for link, ms in zip(links, delays):
        t.record_delay(link, ms, now=0)
    return t, dict(zip(links, avail)), (dst, src) if swap else (src, dst)


SMALL_CASE = dict(
    name=st.sampled_from(sorted(SMALL)),
    avail=st.lists(st.sampled_from([0, 1, 5, 10, 20, 40]), min_size=8, max_size=8),
    delays=st.lists(st.integers(0, 12), min_size=8, max_size=8),
    swap=st.booleans(),
    gbps=GBPS,
    bound=st.one_of(st.none(), st.integers(0, 30)),
)


@settings(max_examples=150, deadline=None)
@given(**SMALL_CASE)
def test_small_fabrics_match_brute_force(name, avail, delays, swap, gbps, bound):
    t, table, (src, dst) = small_case(name, avail, delays, swap)
    lat = lambda links: sum(t.delay_ms(l) for l in links)  # noqa: E731
    feasible = [
        p
        for p in simple_paths(t, src, dst)
        if all(table[l] >= gbps for l in p) and (bound is None or lat(p) <= bound)
    ]
    try:
        path = find_path(t, src, dst, gbps, table, max_latency_ms=bound)
    except NoPath:
        assert not feasible
        return
    assert feasible
    assert path.latency_ms(t) == pytest.approx(min(lat(p) for p in feasible))
    assert all(table[l] >= gbps for l in path.links)


@settings(max_examples=150, deadline=None)
@given(**SMALL_CASE)
def test_small_fabrics_protection_matches_brute_force(name, avail, delays, swap, gbps, bound):
    t, table, (src, dst) = small_case(name, avail, delays, swap)
    lat = lambda links: sum(t.delay_ms(l) for l in links)  # noqa: E731
    spans = lambda links: {t.span_of(l).span_id for l in links}  # noqa: E731
    ok = [p for p in simple_paths(t, src, dst) if all(table[l] >= gbps for l in p)]
    pairs = [
        (p, q)
        for p, q in itertools.combinations(ok, 2)
        if not spans(p) & spans(q) and (bound is None or max(lat(p), lat(q)) <= bound)
    ]
    try:
        primary, backup = find_protected(t, src, dst, gbps, table, max_latency_ms=bound)
    except NoPath:
        assert not pairs  # these fabrics have at most one disjoint pair: no limitation bites
        return
    assert pairs
    assert not set(primary.span_ids(t)) & set(backup.span_ids(t))
    assert primary.latency_ms(t) <= backup.latency_ms(t)
    assert primary.latency_ms(t) + backup.latency_ms(t) == pytest.approx(
        min(lat(p) + lat(q) for p, q in pairs)
    )


# --- sparse fabrics: leaves and chains, as most real ones have -----------------------------


@st.composite
def sparse_fabrics(draw):
    """A random tree (most sites leaves or on chains) plus a few more spans, some down, with
    random delays and availabilities: (topology, {link: Gb/s available}, src, dst)."""
    n = draw(st.integers(3, 9))
    sites = [f's{i}' for i in range(n)]
    pairs = [(sites[draw(st.integers(0, i - 1))], sites[i]) for i in range(1, n)]
    more = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=4))
    pairs += [(sites[a], sites[b]) for a, b in more if a < b and (sites[a], sites[b]) not in pairs]
    spans = [
        SpanState(f'{a}-{b}', a, b, 100.0, draw(st.integers(1, 9)), up=draw(st.integers(0, 9)) > 0)
        for a, b in pairs
    ]
    t = Topology(sites, spans)
    table = {
        link: draw(st.sampled_from([0, 1, 5, 10, 40]))
        for link in sorted(t.links(), key=lambda l: (l.src, l.dst))
    }
    src, dst = draw(st.lists(st.sampled_from(sites), min_size=2, max_size=2, unique=True))
    return t, table, src, dst


@settings(max_examples=200, deadline=None)
@given(sparse_fabrics(), GBPS, st.one_of(st.none(), st.integers(0, 40)))
def test_k_paths_on_sparse_fabrics_are_the_k_fastest_that_fit(case, gbps, bound):
    t, table, src, dst = case
    key = lambda links: (round(Path(links).latency_ms(t), 9), len(links), Path(links).sites)  # noqa: E731
    fitting = sorted(
        (p for p in simple_paths(t, src, dst) if all(table[l] >= gbps for l in p)),
        key=key,
    )
    fitting = [p for p in fitting if bound is None or Path(p).latency_ms(t) <= bound]
    assert [p.links for p in k_paths(t, src, dst, 4, gbps, table, bound)] == fitting[:4]


@settings(max_examples=200, deadline=None)
@given(sparse_fabrics(), st.one_of(st.none(), st.integers(0, 40)))
def test_widest_on_sparse_fabrics_matches_brute_force(case, bound):
    t, table, src, dst = case
    widths = [
        min(table[l] for l in p)
        for p in simple_paths(t, src, dst)
        if bound is None or Path(p).latency_ms(t) <= bound
    ]
    assert widest_gbps(t, src, dst, table, bound) == (max(widths) if widths else None)
