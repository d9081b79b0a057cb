"""The fabric files shipped in topologies/fabrics: they load, and the big ones keep their promises.

Pure graph checks on the loaded Fabric (no Mininet, no root): resilience is checked by
removing one span (or one PoP) at a time and testing that every data center still reaches
every other, which for "every pair has two span-disjoint paths" is the same as 2-edge-connectivity.
"""

import heapq
import itertools

import pytest

from topologies.model.fabric import load_fabric, shipped_fabrics

RESILIENT = ('lumen-qts', 'azure-lumen')


def datacenters(fabric):
    return [s.id for s in fabric.sites.values() if s.kind == 'datacenter']


def pops(fabric):
    return [s.id for s in fabric.sites.values() if s.kind == 'pop']


def reachable(fabric, start, spans, without_sites=()):
    """Sites reached from `start` over `spans`, never entering a site in `without_sites`."""
    adjacency = {}
    for s in spans:
        if s.a in without_sites or s.b in without_sites:
            continue
        adjacency.setdefault(s.a, set()).add(s.b)
        adjacency.setdefault(s.b, set()).add(s.a)
    reached, todo = {start}, [start]
    while todo:
        for n in adjacency.get(todo.pop(), ()):
            if n not in reached:
                reached.add(n)
                todo.append(n)
    return reached


def shortest_delay_ms(fabric, src, dst):
    """One-way delay of the lowest-delay path (Dijkstra over span.delay_ms)."""
    best, queue = {src: 0.0}, [(0.0, src)]
    while queue:
        cost, here = heapq.heappop(queue)
        if here == dst:
            return cost
        if cost > best[here]:
            continue
        for span in fabric.spans_of(here):
            there, total = span.other(here), cost + span.delay_ms
            if total < best.get(there, float('inf')):
                best[there] = total
                heapq.heappush(queue, (total, there))
    return float('inf')


@pytest.fixture(scope='module')
def lumen():
    return load_fabric('lumen-qts')


def test_the_big_fabrics_are_shipped():
    assert set(RESILIENT) <= set(shipped_fabrics())


@pytest.mark.parametrize('name', shipped_fabrics())
def test_every_shipped_fabric_loads(name):
    fabric = load_fabric(name)
    assert fabric.name == name
    assert fabric.sites and fabric.spans


def test_lumen_qts_has_16_campuses_in_six_states(lumen):
    campuses = datacenters(lumen)
    assert len(campuses) == 16
    assert {lumen.sites[c].region for c in campuses} == {'AZ', 'GA', 'OH', 'TX', 'VA', 'OR'}


def test_lumen_qts_stays_within_the_emulation_budget(lumen):
    assert 12 <= len(pops(lumen)) <= 16
    assert len(lumen.sites) <= 32
    assert len(lumen.spans) <= 50  # each span is a process when emulated


@pytest.mark.parametrize('name', RESILIENT)
def test_every_datacenter_pair_survives_any_single_span_cut(name):
    fabric = load_fabric(name)
    dcs = datacenters(fabric)
    for cut in fabric.spans:
        left = [s for s in fabric.spans if s is not cut]
        reached = reachable(fabric, dcs[0], left)
        assert set(dcs) <= reached, f'{name}: cutting {cut.id} isolates {sorted(set(dcs) - reached)}'


@pytest.mark.parametrize('name', RESILIENT)
def test_every_datacenter_pair_survives_losing_any_single_pop(name):
    fabric = load_fabric(name)
    dcs = datacenters(fabric)
    for pop in pops(fabric):
        reached = reachable(fabric, dcs[0], fabric.spans, without_sites={pop})
        assert set(dcs) <= reached, f'{name}: losing PoP {pop} isolates {sorted(set(dcs) - reached)}'


def test_lumen_qts_backbone_is_two_edge_connected(lumen):
    backbone = [s for s in lumen.spans if lumen.sites[s.a].kind == 'pop' and lumen.sites[s.b].kind == 'pop']
    points = pops(lumen)
    assert reachable(lumen, points[0], backbone) == set(points)
    for cut in backbone:
        left = [s for s in backbone if s is not cut]
        assert reachable(lumen, points[0], left) == set(points), f'backbone cut at {cut.id}'


@pytest.mark.parametrize('name', RESILIENT)
def test_tenants_have_ports_only_at_datacenters(name):
    fabric = load_fabric(name)
    assert 2 <= len(fabric.tenants) <= 4
    for tenant in fabric.tenants.values():
        assert 2 <= len(tenant.sites) <= 5, tenant.id
        kinds = {fabric.sites[s].kind for s in tenant.sites}
        assert kinds == {'datacenter'}, f'{tenant.id} has a port at a PoP'


def test_lumen_qts_pdx_to_iad_takes_25_to_45_ms(lumen):
    west = [c for c in datacenters(lumen) if c.startswith('pdx')]
    east = [c for c in datacenters(lumen) if c.startswith('iad')]
    assert west and east
    for a, b in itertools.product(west, east):
        assert 25.0 <= shortest_delay_ms(lumen, a, b) <= 45.0, (a, b)


def test_lumen_qts_speeds(lumen):
    assert lumen.bandwidth_scale == 0.00025
    assert {s.capacity_gbps for s in lumen.spans} <= {100.0, 200.0, 400.0}


def test_azure_lumen_capacities_and_scale():
    fabric = load_fabric('azure-lumen')
    assert len(datacenters(fabric)) == 9
    assert all(400 <= s.capacity_gbps <= 800 for s in fabric.spans)
    assert max(s.emulated_mbps for s in fabric.spans) <= 200
