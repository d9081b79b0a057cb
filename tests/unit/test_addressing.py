"""topologies.model.addressing: the deterministic names, addresses and ports of the module docstring,
and Linux interface names that fit (IFNAMSIZ: at most 15 characters) for every shipped fabric."""

import re

import pytest

from topologies.emulation.net import FabricTopo, root_interfaces
from topologies.model import addressing as addr
from topologies.model.fabric import Site, Tenant, load_fabric, parse_fabric, shipped_fabrics

IFNAME_MAX = 15


@pytest.fixture(scope='module')
def triangle():
    return load_fabric('triangle')


@pytest.fixture(scope='module', params=shipped_fabrics())
def shipped(request):
    return load_fabric(request.param)


def hosts(fabric):
    """(name, ip, mac) of every tenant host and probe host."""
    rows = [(addr.probe_name(s), addr.probe_ip(s), addr.probe_mac(s)) for s in fabric.sites.values()]
    for t in fabric.tenants.values():
        for site_id in t.sites:
            s = fabric.sites[site_id]
            rows.append((addr.host_name(t, s), addr.host_ip(t, s), addr.host_mac(t, s)))
    return rows


# --- the scheme, on triangle (sites dca=1 dcb=2 dcc=3; tenants red=1 blue=2) -------------------


def test_triangle_numbers(triangle):
    assert [(s.id, s.number) for s in triangle.sites.values()] == [('dca', 1), ('dcb', 2), ('dcc', 3)]
    assert [(t.id, t.number) for t in triangle.tenants.values()] == [('red', 1), ('blue', 2)]


def test_tenant_host(triangle):
    blue, dcc = triangle.tenants['blue'], triangle.sites['dcc']
    assert addr.host_name(blue, dcc) == 'blue-dcc'
    assert addr.host_ip(blue, dcc) == '10.2.3.1'
    assert addr.host_mac(blue, dcc) == '02:00:00:02:03:01'
    assert addr.tenant_port(blue) == 1002
    assert addr.tenant_intf(blue, dcc) == 'dcc-blue'
    assert addr.tenant_subnet(blue) == '10.2.0.0/16'
    red, dcb = triangle.tenants['red'], triangle.sites['dcb']
    assert (
        addr.host_name(red, dcb),
        addr.host_ip(red, dcb),
        addr.host_mac(red, dcb),
        addr.tenant_port(red),
    ) == ('red-dcb', '10.1.2.1', '02:00:00:01:02:01', 1001)


def test_probe_host(triangle):
    dcb = triangle.sites['dcb']
    assert addr.probe_name(dcb) == 'probe-dcb'
    assert addr.probe_ip(dcb) == '10.255.2.1'
    assert addr.probe_mac(dcb) == '02:00:00:ff:02:01'
    assert addr.probe_intf(dcb) == 'dcb-probe'
    assert addr.PROBE_PORT == 4000
    assert addr.PREFIX_LEN == 16


def test_mac_octets_are_hex_ip_octets_decimal():
    tenant, where = Tenant('acme', 11, ('zz',)), Site('zz', 26, 'pop', 0.0, 0.0)
    assert addr.host_mac(tenant, where) == '02:00:00:0b:1a:01'
    assert addr.host_ip(tenant, where) == '10.11.26.1'
    assert addr.probe_mac(where) == '02:00:00:ff:1a:01'
    assert addr.probe_ip(where) == '10.255.26.1'
    assert addr.tenant_port(tenant) == 1011


def test_span_ports_are_peer_site_numbers(triangle):
    assert addr.span_port(triangle, 'dca', 'dcc') == 3
    assert addr.span_port(triangle, 'dcc', 'dca') == 1
    for span in triangle.spans:
        assert addr.span_port(triangle, span.a, span.b) == triangle.sites[span.b].number
        assert addr.span_port(triangle, span.b, span.a) == triangle.sites[span.a].number
        assert addr.span_intf(span.a, span.b) == f'{span.a}-{span.b}'


def test_dpid(triangle):
    for s in triangle.sites.values():
        text = addr.dpid_str(s)
        assert re.fullmatch(r'[0-9a-f]{16}', text)
        assert int(text, 16) == addr.dpid(s) == s.number
    assert addr.dpid_str(Site('zz', 250, 'pop', 0.0, 0.0)) == '00000000000000fa'


def test_triangle_addresses_unique(triangle):
    rows = hosts(triangle)
    assert len(rows) == 3 + 3 + 2
    for column in range(3):
        values = [row[column] for row in rows]
        assert len(values) == len(set(values)), values


# --- every shipped fabric ----------------------------------------------------------------------


def test_addresses_unique(shipped):
    rows = hosts(shipped)
    for column in range(3):
        values = [row[column] for row in rows]
        assert len(values) == len(set(values))
    assert all(re.fullmatch(r'02:00:00(:[0-9a-f]{2}){3}', mac) for _, _, mac in rows)


def test_ports_on_each_switch_unique(shipped):
    for s in shipped.sites.values():
        ports = [addr.PROBE_PORT]
        ports += [addr.span_port(shipped, s.id, span.other(s.id)) for span in shipped.spans_of(s.id)]
        ports += [addr.tenant_port(t) for t in shipped.tenants.values() if s.id in t.sites]
        assert len(ports) == len(set(ports)), (s.id, ports)


def interface_names(fabric):
    """Every interface name the emulation gives Linux, as FabricTopo and root_interfaces say:
    switch ports (probe, tenant, span) and the span emulators' ends in the host's namespace.
    Host-side names (eth0) live in each host's own namespace and are left out."""
    topo = FabricTopo(fabric, datapath='netdev')
    names = []
    for _a, _b, info in topo.links(withInfo=True):
        for end in ('1', '2'):
            if info['node' + end] in fabric.sites:  # the switch end
                names.append(info['intfName' + end])
    return names, root_interfaces(fabric)


def test_interface_names_fit_and_are_unique(shipped):
    switch_side, root_side = interface_names(shipped)
    expected = (
        [addr.probe_intf(s) for s in shipped.sites.values()]
        + [addr.tenant_intf(t, shipped.sites[s]) for t in shipped.tenants.values() for s in t.sites]
        + [addr.span_intf(a, b) for sp in shipped.spans for a, b in ((sp.a, sp.b), (sp.b, sp.a))]
    )
    assert sorted(switch_side) == sorted(expected)
    assert len(root_side) == 2 * len(shipped.spans)
    everything = switch_side + root_side
    too_long = [n for n in everything if len(n) > IFNAME_MAX]
    assert not too_long
    assert len(everything) == len(set(everything))


def test_longest_ids_still_fit():
    """Ids are at most 6 characters, so any valid fabric's names fit in 15."""
    doc = {
        'name': 'long',
        'sites': [
            {'id': 'aaaaaa', 'kind': 'pop', 'lat': 0, 'lon': 0},
            {'id': 'bbbbbb', 'kind': 'pop', 'lat': 1, 'lon': 1},
        ],
        'spans': [{'between': ['aaaaaa', 'bbbbbb'], 'capacity_gbps': 10}],
        'tenants': [{'id': 'tttttt', 'sites': ['aaaaaa', 'bbbbbb']}],
    }
    switch_side, root_side = interface_names(parse_fabric(doc))
    assert max(len(n) for n in switch_side + root_side) <= IFNAME_MAX
    assert 'aaaaaa-bbbbbbr' in root_side


def test_span_peer_is_the_inverse_of_span_port():
    from topologies.model.fabric import load_fabric

    fabric = load_fabric('triangle')
    for span in fabric.spans:
        for site, peer in ((span.a, span.b), (span.b, span.a)):
            assert addr.span_peer(fabric, site, addr.span_port(fabric, site, peer)) == peer
    assert addr.span_peer(fabric, 'dca', addr.PROBE_PORT) is None
    assert addr.span_peer(fabric, 'dca', fabric.sites['dca'].number) is None  # itself
