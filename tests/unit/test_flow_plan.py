"""controller.core.flows and reconcile, checked by where packets go in a fake OpenFlow fabric."""

import itertools

import pytest

from controller.core import flows as fl
from controller.core import reconcile
from controller.core.controller import Controller
from controller.core.reconcile import Op, Phase
from tests.unit.fakeoftable import FakeFabric, Rejected
from topologies.model import addressing as addr
from topologies.model.fabric import load_fabric
from topologies.model.order import Order

TRIANGLE = load_fabric('triangle')


def ip(tenant, site, fabric=TRIANGLE):
    return addr.host_ip(fabric.tenants[tenant], fabric.sites[site])


def installed_fabric(core):
    fake = FakeFabric(core.fabric)
    fake.apply(reconcile.diff_all(core.plan(), fake.installed()))
    return fake


def test_without_an_intent_nothing_crosses_the_fabric():
    fake = installed_fabric(Controller(TRIANGLE))
    assert fake.send_ipv4('red', 'dca', ip('red', 'dcb'))[0] == ('drop', 'dca')
    assert fake.send_ipv4('blue', 'dca', ip('blue', 'dcc'))[0] == ('drop', 'dca')


def test_an_intent_carries_both_directions_over_one_path():
    core = Controller(TRIANGLE)
    core.create(Order('red', 'dca', 'dcc', 5), now=1)  # dca-dcc is 9 ms, dca-dcb-dcc 10 ms
    fake = installed_fabric(core)
    assert fake.send_ipv4('red', 'dca', ip('red', 'dcc')) == (('host', 'red', 'dcc'), ['dca', 'dcc'])
    assert fake.send_ipv4('red', 'dcc', ip('red', 'dca')) == (('host', 'red', 'dca'), ['dcc', 'dca'])
    # Only between the intent's two sites.
    assert fake.send_ipv4('red', 'dca', ip('red', 'dcb'))[0] == ('drop', 'dca')


def test_prefixes_narrow_an_intent_to_some_of_the_tenants_addresses():
    core = Controller(TRIANGLE)
    red, dca, dcc = TRIANGLE.tenants['red'], TRIANGLE.sites['dca'], TRIANGLE.sites['dcc']
    here, there = f'10.{red.number}.{dca.number}', f'10.{red.number}.{dcc.number}'
    core.create(
        Order(
            'red',
            'dca',
            'dcc',
            5,
            src_prefixes=[f'{here}.0/25'],
            dst_prefixes=[f'{there}.0/30', f'{there}.64/26'],
        ),
        now=1,
    )
    fake = installed_fabric(core)
    for src, dst, lands in [
        (f'{here}.1', f'{there}.1', True),
        (f'{here}.1', f'{there}.70', True),
        (f'{here}.200', f'{there}.1', False),
        (f'{here}.1', f'{there}.9', False),
    ]:
        assert (fake.send_ipv4('red', 'dca', dst, src_ip=src)[0] == ('host', 'red', 'dcc')) == lands, (
            src,
            dst,
        )
        back = fake.send_ipv4('red', 'dcc', src, src_ip=dst)[0]
        assert (back == ('host', 'red', 'dca')) == lands, (dst, src)
    ingress = [f for f in fake.tables[addr.dpid(dca)].values() if f.priority == fl.PRIO_INGRESS]
    assert len(ingress) == 2 and len({f.meter for f in ingress}) == 1  # a flow per pair, one meter


def test_transit_switches_forward_on_the_label():
    core = Controller(TRIANGLE)
    core.create(Order('red', 'dca', 'dcc', 5, max_latency_ms=20), now=1)
    core.topology.set_up('dca-dcc', False)  # force the detour through dcb
    core.update(core.list()[0].id, bandwidth_gbps=6, now=2)
    fake = installed_fabric(core)
    assert fake.send_ipv4('red', 'dca', ip('red', 'dcc')) == (('host', 'red', 'dcc'), ['dca', 'dcb', 'dcc'])
    transit = [
        f for f in fake.tables[addr.dpid(TRIANGLE.sites['dcb'])].values() if f.priority == fl.PRIO_LABEL
    ]
    assert len(transit) == 2 and all(dict(f.match)['eth_type'] == fl.ETH_MPLS for f in transit)


def test_tenants_are_isolated_even_with_spoofed_addresses():
    core = Controller(TRIANGLE)
    core.create(Order('red', 'dca', 'dcc', 5), now=1)
    core.create(Order('blue', 'dca', 'dcc', 2), now=1)
    fake = installed_fabric(core)
    assert fake.send_ipv4('blue', 'dca', ip('blue', 'dcc'))[0] == ('host', 'blue', 'dcc')
    # Blue aims at red's host, or pretends to be red: dropped at the ingress switch.
    assert fake.send_ipv4('blue', 'dca', ip('red', 'dcc'))[0] == ('drop', 'dca')
    assert fake.send_ipv4('blue', 'dca', ip('red', 'dcc'), src_ip=ip('red', 'dca'))[0] == ('drop', 'dca')
    # A labelled frame injected from a tenant port matches no label flow.
    red_label = core.routes.of('i-1').label_fwd
    packet = {
        'eth_type': fl.ETH_IPV4,
        'mpls': [red_label],
        'ipv4_src': ip('blue', 'dca'),
        'ipv4_dst': ip('red', 'dcc'),
    }
    port = addr.tenant_port(TRIANGLE.tenants['blue'])
    assert fake.send('dca', port, packet)[0] == ('drop', 'dca')
    assert fake.send('dcc', port, packet)[0] == ('drop', 'dcc')


def test_arp_and_lldp_go_to_the_controller_and_nothing_floods():
    """ARP from a tenant port (through the port's control meter) and LLDP from a span: a host's
    LLDP is dropped in the switch, so a host cannot flood the controller with it."""
    fake = installed_fabric(Controller(TRIANGLE))
    arp = {'eth_type': fl.ETH_ARP}
    red = TRIANGLE.tenants['red']
    assert fake.send('dca', addr.tenant_port(red), arp)[0] == ('controller', 'dca')
    arp_flow = next(
        f for f in fake.tables[addr.dpid(TRIANGLE.sites['dca'])].values() if f.priority == fl.PRIO_ARP
    )
    meter = fake.meters[addr.dpid(TRIANGLE.sites['dca'])][arp_flow.meter]
    assert arp_flow.meter == fl.control_meter_id(red) and meter.rate_kbps == fl.ARP_KBPS
    assert fake.send('dca', addr.span_port(TRIANGLE, 'dca', 'dcb'), arp)[0] == ('drop', 'dca')
    lldp = {'eth_type': fl.ETH_LLDP}
    assert fake.send('dcb', addr.span_port(TRIANGLE, 'dcb', 'dca'), lldp)[0] == ('controller', 'dcb')
    # A bounce probe from dca is turned back by dcb's fast path, and dca hands it to us.
    bounce = {'eth_type': fl.ETH_LLDP, 'eth_dst': fl.BOUNCE_MAC}
    assert fake.send('dcb', addr.span_port(TRIANGLE, 'dcb', 'dca'), bounce) == (
        ('controller', 'dca'),
        ['dcb', 'dca'],
    )
    host = addr.tenant_port(TRIANGLE.tenants['red'])
    assert fake.send('dca', host, bounce)[0] == ('drop', 'dca')  # never turned back, nor to us
    assert fake.send('dca', host, lldp)[0] == ('drop', 'dca')


def test_every_intent_flow_carries_its_intent_in_the_cookie():
    core = Controller(TRIANGLE)
    core.create(Order('red', 'dca', 'dcc', 5), now=1)
    core.create(Order('blue', 'dca', 'dcc', 2), now=1)
    for _dpid, (entries, _meters, _) in core.plan().items():
        for flow in entries.values():
            if flow.priority in (fl.PRIO_INGRESS, fl.PRIO_LABEL):
                assert flow.cookie in (fl.intent_cookie(1), fl.intent_cookie(2))
            else:
                assert flow.cookie == fl.COOKIE_BASE
            assert fl.is_ours(flow.cookie)
    assert not fl.is_ours(fl.COOKIE_MEASURE | 7)


def test_ingress_flows_are_metered_at_the_intents_rate():
    core = Controller(TRIANGLE, burst_ms=50)
    core.create(Order('red', 'dca', 'dcc', 5), now=1)  # 5 Gb/s at scale 0.001: 5000 kb/s
    ingress = [f for entries, _, _ in core.plan().values() for f in entries.values() if f.is_ingress]
    assert len(ingress) == 2
    for flow in ingress:
        meter = core.plan()[flow.dpid][1][flow.meter]
        assert (meter.rate_kbps, meter.burst_kbits) == (5000, 250)


def test_moving_an_intent_is_make_before_break():
    """At every step of the move (each phase applied on its own) traffic still arrives."""
    core = Controller(TRIANGLE)
    intent = core.create(Order('red', 'dca', 'dcc', 5), now=1)
    fake = installed_fabric(core)
    before = core.routes.of(intent.id)
    core.update(intent.id, bandwidth_gbps=9.5, now=2)  # dca-dcc (10 Gb/s, 10% headroom) too thin
    after = core.routes.of(intent.id)
    assert after.sites == ('dca', 'dcb', 'dcc') and after.label_fwd not in (
        before.label_fwd,
        before.label_rev,
    )
    changes = reconcile.diff_all(core.plan(), fake.installed())
    ops = [op for phase in changes.phases.values() for ops in phase.values() for op, _ in ops]
    assert ops.count(Op.DELETE_FLOW) > 0
    for phase, crossed in (
        (Phase.PREPARE, ['dca', 'dcc']),
        (Phase.FLIP, ['dca', 'dcb', 'dcc']),
        (Phase.CLEAN_UP, ['dca', 'dcb', 'dcc']),
    ):
        fake.apply(changes, phases=(phase,))
        assert fake.send_ipv4('red', 'dca', ip('red', 'dcc')) == (('host', 'red', 'dcc'), crossed)
        assert fake.send_ipv4('red', 'dcc', ip('red', 'dca'))[0] == ('host', 'red', 'dca')
    assert not reconcile.diff_all(core.plan(), fake.installed())


def test_meters_come_before_the_flows_that_use_them():
    core = Controller(TRIANGLE)
    core.create(Order('red', 'dca', 'dcc', 5), now=1)
    changes = reconcile.diff_all(core.plan(), {})
    fake = FakeFabric(TRIANGLE)
    fake.apply(changes)  # would raise Rejected otherwise
    backwards = FakeFabric(TRIANGLE)
    with pytest.raises(Rejected):
        backwards.apply(changes, phases=(Phase.FLIP,))  # ingress flows before their meters


def test_reconcile_removes_strays_and_adds_what_is_missing():
    core = Controller(TRIANGLE)
    core.create(Order('red', 'dca', 'dcc', 5), now=1)
    fake = installed_fabric(core)
    dca = addr.dpid(TRIANGLE.sites['dca'])
    stray = fl.Flow(dca, 100, fl.match(in_port=1), (('output', 2),))
    fake.apply_one(dca, Op.ADD_FLOW, stray)
    missing = next(f for f in fake.tables[dca].values() if f.is_ingress)
    fake.apply_one(dca, Op.DELETE_FLOW, missing)
    changes = reconcile.diff_all(core.plan(), fake.installed())
    assert changes.count() == 2
    assert changes.phases[Phase.CLEAN_UP][dca] == [(Op.DELETE_FLOW, stray)]
    assert changes.phases[Phase.FLIP][dca] == [(Op.ADD_FLOW, missing)]
    fake.apply(changes)
    assert not reconcile.diff_all(core.plan(), fake.installed())


def test_a_changed_meter_is_modified_in_place():
    core = Controller(TRIANGLE)
    intent = core.create(Order('red', 'dca', 'dcc', 5), now=1)
    fake = installed_fabric(core)
    core.update(intent.id, bandwidth_gbps=4, now=2)
    changes = reconcile.diff_all(core.plan(), fake.installed())
    assert [op for phase in changes.phases.values() for ops in phase.values() for op, _ in ops] == [
        Op.MODIFY_METER,
        Op.MODIFY_METER,
    ]


def test_route_validation():
    with pytest.raises(ValueError):
        fl.Route(1, 'red', ('dca',), 16, 17, 1, 1)
    with pytest.raises(ValueError):
        fl.Route(1, 'red', ('dca', 'dcb'), 16, 16, 1, 1)
    with pytest.raises(ValueError):
        fl.Route(1, 'red', ('dca', 'dcb'), 3, 17, 1, 1)


LUMEN = load_fabric('lumen-qts')


def protected_fabric(src='phx1', dst='iad1'):
    core = Controller(LUMEN)
    intent = core.create(Order('acme', src, dst, 10, protection='PROTECTED'), now=1)
    return core, intent, installed_fabric(core)


@pytest.mark.parametrize('src, dst', [('phx1', 'iad1'), ('dfw1', 'pdx1'), ('pdx1', 'iad1')])
def test_the_switches_repair_a_cut_of_any_span_of_a_protected_primary_by_themselves(src, dst):
    core, intent, fake = protected_fabric(src, dst)
    route = core.routes.of(intent.id)
    assert route.backup and not set(zip(route.sites, route.sites[1:])) & set(
        zip(route.backup, route.backup[1:])
    )
    there, back = ip('acme', dst, LUMEN), ip('acme', src, LUMEN)
    assert fake.send_ipv4('acme', src, there) == (('host', 'acme', dst), list(route.sites))
    primary_spans = [LUMEN.span(a, b).id for a, b in zip(route.sites, route.sites[1:])]
    for span_id in primary_spans:  # the controller is not told: switches only
        fake.down = {span_id}
        for frm, to, addr_ in ((src, dst, there), (dst, src, back)):
            where, crossed = fake.send_ipv4('acme', frm, addr_)
            assert where == ('host', 'acme', to), (span_id, frm, crossed)
            assert crossed[-len(route.backup) :] in (list(route.backup), list(route.backup[::-1]))
    # A cut of the backup leaves the primary alone.
    fake.down = {LUMEN.span(route.backup[0], route.backup[1]).id}
    assert fake.send_ipv4('acme', src, there) == (('host', 'acme', dst), list(route.sites))


@pytest.mark.parametrize('src, dst, hop', [('phx1', 'iad1', 2), ('dfw1', 'pdx1', 1)])
def test_after_a_cut_the_controller_keeps_the_surviving_path_and_reprotects_without_a_gap(src, dst, hop):
    """The controller re-places the intent with a new backup: beside the path the switches
    already use where one exists, else on another disjoint pair, else unprotected on the
    survivor (saying why); every phase of that move keeps the traffic arriving while the
    span is still cut."""
    core, intent, fake = protected_fabric(src, dst)
    route = core.routes.of(intent.id)
    a, b = route.sites[hop - 1], route.sites[hop]
    cut = LUMEN.span(a, b).id
    fake.down = {cut}
    core.port_state(addr.dpid(LUMEN.sites[a]), addr.span_port(LUMEN, a, b), False, now=2)
    new = core.routes.of(intent.id)
    assert cut not in {
        LUMEN.span(x, y).id for path in (new.sites, new.backup) for x, y in itertools.pairwise(path)
    }
    assert new.backup or (new.sites == route.backup and 'unprotected for now' in intent.reason)
    changes = reconcile.diff_all(core.plan(), fake.installed())
    for phase in Phase:
        fake.apply(changes, phases=(phase,))
        assert fake.send_ipv4('acme', src, ip('acme', dst, LUMEN))[0] == ('host', 'acme', dst)
        assert fake.send_ipv4('acme', dst, ip('acme', src, LUMEN))[0] == ('host', 'acme', src)
    assert not reconcile.diff_all(core.plan(), fake.installed())
    assert not any(fake.groups[d].get(route.label_fwd) for d in fake.groups)  # old groups gone


def test_groups_come_before_the_flows_that_use_them():
    core, _, _ = protected_fabric()
    changes = reconcile.diff_all(core.plan(), {})
    assert any(op is Op.ADD_GROUP for ops in changes.phases[Phase.PREPARE].values() for op, _ in ops)
    with pytest.raises(Rejected):
        FakeFabric(LUMEN).apply(changes, phases=(Phase.FLIP,))


def test_protected_route_validation():
    with pytest.raises(ValueError):  # a backup without its labels
        fl.Route(1, 'red', ('dca', 'dcc'), 16, 17, 1, 1, backup=('dca', 'dcb', 'dcc'))
    with pytest.raises(ValueError):  # labels used twice
        fl.Route(
            1,
            'red',
            ('dca', 'dcc'),
            16,
            17,
            1,
            1,
            backup=('dca', 'dcb', 'dcc'),
            backup_labels=(18, 19, 20, 16),
        )
    with pytest.raises(ValueError):  # not between the same ends
        fl.Route(
            1, 'red', ('dca', 'dcc'), 16, 17, 1, 1, backup=('dca', 'dcb'), backup_labels=(18, 19, 20, 21)
        )


def test_only_a_clean_up_after_a_flip_waits_for_the_old_path_to_empty():
    core = Controller(TRIANGLE)
    intent = core.create(Order('red', 'dca', 'dcc', 5), now=1)
    first = reconcile.diff_all(core.plan(), {})
    fake = installed_fabric(core)
    assert first.phases[Phase.FLIP] and not first.drains  # a new intent: nothing to clean up
    core.update(intent.id, bandwidth_gbps=9.5, now=2)  # moves (see the make-before-break test)
    assert reconcile.diff_all(core.plan(), fake.installed()).drains
    fake.apply(reconcile.diff_all(core.plan(), fake.installed()))
    core.delete(intent.id, now=3)
    assert not reconcile.diff_all(core.plan(), fake.installed()).drains  # withdrawn: no flip


@pytest.mark.parametrize('src, dst', [('phx1', 'iad1'), ('dfw1', 'pdx1'), ('pdx1', 'iad1')])
def test_the_drain_outlasts_the_longest_journey_on_a_protected_route(src, dst):
    """Cut at the primary's last span: a frame goes nearly all the way, comes back to the
    ingress and takes the backup. The drain outlasts that, with margin, and stays short."""
    core, intent, _ = protected_fabric(src, dst)
    route = core.routes.of(intent.id)

    def delay_ms(sites):
        return sum(LUMEN.span(a, b).delay_ms for a, b in itertools.pairwise(sites))

    cranked_ms = 2 * delay_ms(route.sites[:-1]) + delay_ms(route.backup)
    assert cranked_ms / 1000 + reconcile.DRAIN_MARGIN_S <= reconcile.drain_s(LUMEN) <= reconcile.DRAIN_MAX_S
