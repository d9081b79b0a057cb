"""controller.core.controller: the in-process API, lifecycle, failures, restart from the store."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core import reconcile
from controller.core.controller import Controller
from controller.core.errors import (
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    QuotaExceeded,
    Unplaceable,
)
from controller.core.intent import State
from controller.core.topology import Link
from controller.store.sqlite import Store
from tests.unit.fakeoftable import FakeFabric
from topologies.model import addressing as addr
from topologies.model.fabric import load_fabric
from topologies.model.order import Order

TRIANGLE = load_fabric('triangle')
LUMEN = load_fabric('lumen-qts')
DPIDS = [addr.dpid(s) for s in TRIANGLE.sites.values()]


def connected(fabric=TRIANGLE, **kw):
    core = Controller(fabric, **kw)
    for site in fabric.sites.values():
        core.switch_connected(addr.dpid(site), now=0)
    return core


def sync(core, now=1):
    """What the southbound does: every switch confirms the current plan."""
    for dpid in core.plan():
        core.synced([dpid], core.generation, now)


def states(core):
    return {i.id: i.state.value for i in core.list()}


def test_an_intent_is_installed_once_every_switch_on_its_route_confirmed():
    core = connected()
    events = []
    core.subscribe(events.append)
    intent = core.create(Order('red', 'dca', 'dcc', 5, max_latency_ms=12, description='db sync'), now=1)
    assert intent.state is State.INSTALLING and intent.id == 'i-1'
    assert [e.state.value for e in events] == ['COMPILING', 'INSTALLING']
    assert events[-1].new_path == ('dca', 'dcc')
    core.synced([addr.dpid(TRIANGLE.sites['dca'])], core.generation, now=2)
    assert intent.state is State.INSTALLING  # dcc has not confirmed yet
    core.synced([addr.dpid(TRIANGLE.sites['dcc'])], core.generation, now=2)
    assert intent.state is State.INSTALLED and 'dca->dcc' in intent.reason
    assert core.books.committed.reserved_gbps(Link('dcc', 'dca')) == 5


def test_bad_orders_name_the_field_and_change_nothing():
    core = connected()
    core.create(Order('red', 'dca', 'dcc', 5), now=1)
    before = (states(core), core.books.committed.snapshot(), core.generation)
    cases = [
        (dict(tenant='green'), 'tenant'),
        (dict(src='nowhere'), 'src_site'),
        (dict(dst='dcb', tenant='blue'), 'dst_site'),  # blue has no port at dcb
        (dict(dst='dca'), 'dst_site'),
        (dict(bandwidth_gbps=0), 'bandwidth_gbps'),
        (dict(bandwidth_gbps=float('nan')), 'bandwidth_gbps'),
        (dict(bandwidth_gbps='5'), 'bandwidth_gbps'),
        (dict(bandwidth_gbps=50), 'bandwidth_gbps'),  # more than any path carries
        (dict(max_latency_ms=-1), 'max_latency_ms'),
        (dict(max_latency_ms=3), 'max_latency_ms'),  # dca-dcb is 4 ms of fiber
        (dict(protection='SOMETIMES'), 'protection'),
        (dict(service_class='GOLD'), 'service_class'),
        (dict(description='x' * 5000), 'description'),
        (dict(labels={'App': 'db'}), 'labels'),
        (dict(labels={'app': 'x' * 64}), 'labels'),
        (dict(labels={f'l{i}': '' for i in range(33)}), 'labels'),
        (dict(request_id='has space'), 'request_id'),
        (dict(request_id='x' * 65), 'request_id'),
        (dict(src_prefixes=['10.1.1.0/33']), 'src_prefixes'),
        (dict(src_prefixes=['10.1.1.1/24']), 'src_prefixes'),  # host bits set
        (dict(src_prefixes=['10.1.2.0/25']), 'src_prefixes'),  # dcb's subnet, not dca's
        (dict(dst_prefixes=['10.2.2.0/25']), 'dst_prefixes'),  # blue's subnet
        (dict(dst_prefixes=['10.1.2.0/25', '10.1.2.64/26']), 'dst_prefixes'),  # overlapping
        (dict(dst_prefixes=[f'10.1.2.{i * 16}/28' for i in range(9)]), 'dst_prefixes'),
    ]
    for change, field in cases:
        order = dict(tenant='red', src='dca', dst='dcb', bandwidth_gbps=1) | change
        with pytest.raises(InvalidArgument) as bad:
            core.create(
                Order(
                    order.pop('tenant'),
                    order.pop('src'),
                    order.pop('dst'),
                    order.pop('bandwidth_gbps'),
                    **order,
                ),
                now=2,
            )
        assert bad.value.field == field, change
    with pytest.raises(Conflict):
        core.create(Order('red', 'dcc', 'dca', 1), now=2)  # same pair, other way round
    with pytest.raises(Unplaceable) as full:
        core.create(Order('blue', 'dca', 'dcc', 9, max_latency_ms=9.5), now=2)
    assert full.value.no_path.widest_within_bound_gbps == pytest.approx(4)
    assert (states(core), core.books.committed.snapshot(), core.generation) == before


def test_a_retry_with_the_same_request_id_gets_the_same_intent():
    core = connected()
    first = core.create(Order('red', 'dca', 'dcc', 5, request_id='order-7', labels={'app': 'db'}), now=1)
    assert (
        core.create(Order('red', 'dca', 'dcc', 5, request_id='order-7', labels={'app': 'db'}), now=2) is first
    )
    core.update(first.id, bandwidth_gbps=6, now=3)
    # The retry of the original order still gets it, though the intent changed since.
    assert (
        core.create(Order('red', 'dca', 'dcc', 5, request_id='order-7', labels={'app': 'db'}), now=4) is first
    )
    with pytest.raises(Conflict, match='request_id'):
        core.create(Order('red', 'dca', 'dcc', 4, request_id='order-7', labels={'app': 'db'}), now=4)
    # Keys are per tenant: blue's order-7 is its own.
    assert core.create(Order('blue', 'dca', 'dcc', 1, request_id='order-7'), now=5).id == 'i-2'
    assert len(core.list()) == 2
    # The key is the withdrawing intent's until it is gone; the pair is free at once.
    core.delete(first.id, now=6)
    with pytest.raises(Conflict, match='request_id'):
        core.create(Order('red', 'dcc', 'dca', 2, request_id='order-7'), now=6)
    sync(core, now=7)
    again = core.create(Order('red', 'dcc', 'dca', 2, request_id='order-7'), now=8)
    assert (
        again.id == 'i-3' and core.create(Order('red', 'dcc', 'dca', 2, request_id='order-7'), now=9) is again
    )


def test_quotas_bound_what_a_tenant_commits_in_all():
    core = connected(quotas={'red': 8})
    a = core.create(Order('red', 'dca', 'dcc', 5), now=1)
    assert core.quota_left_gbps('red') == 3 and core.quota_left_gbps('blue') == float('inf')
    before = (states(core), core.books.committed.snapshot())
    with pytest.raises(QuotaExceeded, match='quota_gbps') as over:
        core.create(Order('red', 'dca', 'dcb', 4), now=2)
    assert over.value.left_gbps == 3
    with pytest.raises(QuotaExceeded):
        core.update(a.id, bandwidth_gbps=9, now=2)
    with pytest.raises(QuotaExceeded):
        core.check(Order('red', 'dca', 'dcb', 4))
    assert (states(core), core.books.committed.snapshot()) == before and a.bandwidth_gbps == 5
    core.update(a.id, bandwidth_gbps=8, now=3)  # up to the quota is fine
    core.delete(a.id, now=4)  # withdrawing frees it
    assert core.quota_left_gbps('red') == 8


def order(tenant='red', src='dca', dst='dcb', bandwidth_gbps=1, **more):
    """One order of create_many."""
    return Order(tenant, src, dst, bandwidth_gbps, **more)


def test_create_many_refuses_a_bad_order_whole_and_changes_nothing():
    core = connected(quotas={'red': 8})
    core.create(Order('red', 'dca', 'dcc', 5, request_id='r-1'), now=1)  # 3 Gb/s of quota left
    before = (states(core), core.books.committed.snapshot(), core.books.peak.snapshot(), core.generation)
    good = [order(), order(src='dcb', dst='dcc')]
    for orders, field in [
        ([*good, order(bandwidth_gbps=0)], 'orders[2].bandwidth_gbps'),
        ([*good, order(dst='dca')], 'orders[2].dst_site'),
        ([order(), order('blue', dst='dcb')], 'orders[1].dst_site'),  # blue has no port at dcb
        ([order(request_id='a b')], 'orders[0].request_id'),
        ([order(), order(bandwidth_gbps=None)], 'orders[1].bandwidth_gbps'),
        ([order(), 'dca-dcb'], 'orders[1]'),
        ([], 'orders'),
        (order(), 'orders'),  # an order, not a list of them
    ]:
        with pytest.raises(InvalidArgument) as bad:
            core.create_many(orders, now=2)
        assert bad.value.field == field and str(bad.value).startswith(f'{field}: '), orders
    for orders, message in [
        ([*good, order(src='dcb', dst='dca')], r'orders\[2\]: the same tenant and sites as orders\[0\]'),
        ([order(), order(src='dcc', dst='dca')], r'orders\[1\]: tenant red already has intent i-1'),
        (
            [order(request_id='x'), order(dst='dcc', src='dcb', request_id='x')],
            r'orders\[1\]: the same request_id as orders\[0\]',
        ),
        ([order(dst='dcc', bandwidth_gbps=4, request_id='r-1')], r'orders\[0\]: request_id'),  # another body
    ]:
        with pytest.raises(Conflict, match=message):
            core.create_many(orders, now=2)
    # Red's orders fit its quota one by one, not together.
    with pytest.raises(QuotaExceeded, match=r'^orders: .*quota_gbps') as over:
        core.create_many(
            [
                order(bandwidth_gbps=2),
                order('blue', 'dca', 'dcc', 5),
                order(src='dcb', dst='dcc', bandwidth_gbps=2),
            ],
            now=2,
        )
    assert over.value.left_gbps == 3
    assert (
        states(core),
        core.books.committed.snapshot(),
        core.books.peak.snapshot(),
        core.generation,
    ) == before


def test_create_many_admits_each_order_or_says_why_not():
    core = connected()
    first = core.create(Order('red', 'dca', 'dcb', 4), now=1)
    placed, no_room, too_slow = core.create_many(
        [
            order(src='dcb', dst='dcc', bandwidth_gbps=5, description='backup', labels={'app': 'db'}),
            # Direct: 9 Gb/s. Via dcb: 13 or 14 whatever goes where; never 15.
            order('blue', 'dca', 'dcc', 15),
            order(src='dcc', dst='dca', bandwidth_gbps=12, max_latency_ms=9.5),  # via dcb: 10 ms
        ],
        now=2,
    )
    assert placed.state is State.INSTALLING and core.get(placed.id) is placed
    assert (placed.tenant, placed.description, placed.labels) == ('red', 'backup', {'app': 'db'})
    assert core.placer.placements[placed.id].primary.sites == ('dcb', 'dcc')
    assert isinstance(no_room, Unplaceable) and no_room.no_path.constraint == 'bandwidth'
    assert 'has 15 Gb/s available' in str(no_room)
    assert isinstance(too_slow, Unplaceable) and too_slow.no_path.constraint == 'latency'
    assert too_slow.no_path.widest_within_bound_gbps == pytest.approx(9) and '9.5 ms' in str(too_slow)
    assert core.list() == [first, placed] and {h for h, _ in core.books.committed.holders()} == {
        first.id,
        placed.id,
    }


def test_create_many_replays_request_ids():
    core = connected()
    orders = [order(request_id='a'), order(src='dcb', dst='dcc', request_id='b')]
    first = core.create_many(orders, now=1)
    assert sorted(i.id for i in first) == ['i-1', 'i-2'] and [i.request_id for i in first] == ['a', 'b']
    again = core.create_many([*orders, order(dst='dcc', bandwidth_gbps=2)], now=2)
    assert again[0] is first[0] and again[1] is first[1] and again[2].id == 'i-3'
    assert len(core.list()) == 3
    assert core.create(Order('red', 'dca', 'dcb', 1, request_id='a'), now=3) is first[0]  # and CreateIntent


def test_check_says_where_an_intent_would_go_and_changes_nothing():
    core = connected()
    before = (core.books.committed.snapshot(), core.generation)
    placement = core.check(Order('red', 'dca', 'dcc', 9, max_latency_ms=12))
    assert placement.path == ('dca', 'dcc') and placement.latency_ms == 9  # direct
    assert core.check(Order('red', 'dca', 'dcc', 12)).path == ('dca', 'dcb', 'dcc')  # direct is 10G
    protected = core.check(Order('red', 'dca', 'dcc', 5, protection='PROTECTED'))
    assert protected.backup_path and protected.path != protected.backup_path
    with pytest.raises(Unplaceable) as no:
        core.check(Order('red', 'dca', 'dcc', 12, max_latency_ms=9.5))
    assert no.value.no_path.widest_within_bound_gbps == pytest.approx(9)
    assert no.value.no_path.min_latency_ms == pytest.approx(10)
    with pytest.raises(InvalidArgument):
        core.check(Order('red', 'dca', 'dca', 1))
    assert (core.books.committed.snapshot(), core.generation, core.list()) == (*before, [])


def test_description_and_labels_change_without_moving_the_intent():
    core = connected()
    intent = core.create(Order('red', 'dca', 'dcc', 5), now=1)
    sync(core)
    generation = core.generation
    core.update(intent.id, description='replication', labels={'team': 'storage'}, now=2)
    assert intent.state is State.INSTALLED and core.generation == generation
    assert (intent.description, intent.labels, intent.updated_at) == ('replication', {'team': 'storage'}, 2)
    core.delete(intent.id, now=3)
    with pytest.raises(FailedPrecondition):
        core.update(intent.id, bandwidth_gbps=1, now=4)


def test_excess_rides_in_the_headroom_and_never_over_books_a_span():
    core = connected()
    # dca-dcc: 10 Gb/s, 9 of them committable (10% headroom); committed + excess up to 10.
    a = core.create(Order('red', 'dca', 'dcc', 5, excess_gbps=1), now=1)
    assert core.routes.of(a.id).rate_kbps == 6000  # the meter lets C + E through
    assert (
        core.books.committed.reserved_gbps(Link('dca', 'dcc')),
        core.books.peak.reserved_gbps(Link('dca', 'dcc')),
    ) == (
        5,
        6,
    )
    # 4 Gb/s committed still fits the committed 9, but 4 + 1 excess would pass the span's 10.
    assert core.check(Order('blue', 'dca', 'dcc', 4)).path == ('dca', 'dcc')
    assert core.check(Order('blue', 'dca', 'dcc', 4, excess_gbps=1)).path == ('dca', 'dcb', 'dcc')
    with pytest.raises(InvalidArgument) as bad:
        core.create(Order('blue', 'dca', 'dcc', 1, excess_gbps=-1), now=2)
    assert bad.value.field == 'excess_gbps'
    with pytest.raises(InvalidArgument, match='more than any path'):
        core.create(Order('blue', 'dca', 'dcc', 10, excess_gbps=11), now=2)
    core.update(a.id, excess_gbps=0, now=3)
    assert core.routes.of(a.id).rate_kbps == 5000 and core.books.peak.reserved_gbps(Link('dca', 'dcc')) == 5


def test_list_filters_by_site():
    core = connected()
    a = core.create(Order('red', 'dca', 'dcc', 1), now=1)
    b = core.create(Order('red', 'dcb', 'dcc', 1), now=1)
    assert core.list(site='dcc') == [a, b] and core.list(site='dcb') == [b]
    assert core.list(tenant='red', site='dca', state='INSTALLING') == [a]


def test_tenants_see_only_their_own_intents():
    core = connected()
    red = core.create(Order('red', 'dca', 'dcc', 1), now=1)
    blue = core.create(Order('blue', 'dca', 'dcc', 1), now=1)
    assert core.list(tenant='red') == [red] and core.list() == [red, blue]
    with pytest.raises(NotFound):
        core.get(red.id, tenant='blue')
    with pytest.raises(NotFound):
        core.delete(red.id, tenant='blue', now=2)
    with pytest.raises(NotFound):
        core.update(red.id, tenant='blue', bandwidth_gbps=2, now=2)
    assert red.state is State.INSTALLING and red.bandwidth_gbps == 1


def test_a_span_cut_moves_the_intent_and_it_fails_when_nothing_is_left():
    core = connected()
    intent = core.create(Order('red', 'dca', 'dcc', 5), now=1)
    sync(core)
    events = []
    core.subscribe(events.append)
    dca = addr.dpid(TRIANGLE.sites['dca'])
    core.port_state(dca, addr.span_port(TRIANGLE, 'dca', 'dcc'), False, now=2)
    assert not core.topology.spans['dca-dcc'].up
    assert core.routes.of(intent.id).sites == ('dca', 'dcb', 'dcc')
    moved = events[-1]
    assert moved.state is State.INSTALLING and 'span dca-dcc down' in moved.reason
    assert (moved.old_path, moved.new_path) == (('dca', 'dcc'), ('dca', 'dcb', 'dcc'))
    sync(core, now=3)
    assert intent.state is State.INSTALLED
    core.switch_disconnected(addr.dpid(TRIANGLE.sites['dcb']), now=4)
    assert intent.state is State.FAILED and 'switch dcb disconnected' in intent.reason
    assert core.routes.of(intent.id) is None and core.books.committed.holders() == []
    core.port_state(dca, addr.span_port(TRIANGLE, 'dca', 'dcc'), True, now=5)  # comes back
    assert intent.state is State.INSTALLING and core.routes.of(intent.id).sites == ('dca', 'dcc')
    assert 'retried' in intent.reason


def test_an_intent_a_cut_leaves_no_path_within_its_bound_runs_over_it_until_one_is_back():
    core = connected()
    intent = core.create(Order('red', 'dca', 'dcc', 5, max_latency_ms=9.5), now=1)  # dca-dcc: 9 ms
    sync(core)
    dca = addr.dpid(TRIANGLE.sites['dca'])
    core.port_state(dca, addr.span_port(TRIANGLE, 'dca', 'dcc'), False, now=2)
    assert core.routes.of(intent.id).sites == ('dca', 'dcb', 'dcc')  # 10 ms: traffic
    assert intent.state is State.INSTALLING and 'over its 9.5 ms bound for now' in intent.reason
    sync(core, now=3)
    assert intent.state is State.INSTALLED and 'over its 9.5 ms bound for now' in intent.reason
    with pytest.raises(Unplaceable):  # a new order is still held to its bound
        core.create(Order('blue', 'dca', 'dcc', 1, max_latency_ms=9.5), now=3)
    core.port_state(dca, addr.span_port(TRIANGLE, 'dca', 'dcc'), True, now=5)
    core.tick(now=100)  # once the span is trusted again
    assert core.routes.of(intent.id).sites == ('dca', 'dcc')
    sync(core, now=101)
    assert intent.state is State.INSTALLED and 'bound' not in intent.reason


def test_switches_never_seen_count_as_down_after_the_grace():
    core = Controller(TRIANGLE, startup_grace_s=5, now=0)
    intent = core.create(Order('red', 'dca', 'dcc', 5), now=1)  # optimistic until then
    for site in ('dca', 'dcb'):
        core.switch_connected(addr.dpid(TRIANGLE.sites[site]), now=2)
    core.tick(now=6)
    assert intent.state is State.FAILED  # dcc never came


def test_delete_withdraws_after_the_switches_confirm_and_retries_the_failed():
    core = connected()
    red = core.create(Order('red', 'dca', 'dcc', 9), now=1)  # fills dca-dcc (10 Gb/s less 10%)
    blue = core.create(Order('blue', 'dca', 'dcc', 4), now=1)  # so: dca->dcb->dcc
    sync(core)
    core.port_state(addr.dpid(TRIANGLE.sites['dcb']), addr.span_port(TRIANGLE, 'dcb', 'dca'), False, now=2)
    assert blue.state is State.FAILED and red.state is State.INSTALLED
    assert 'span dca-dcb down' in blue.reason
    core.delete(red.id, now=3)
    assert red.state is State.WITHDRAWING
    assert blue.state is State.INSTALLING and core.routes.of(blue.id).sites == ('dca', 'dcc')
    sync(core, now=4)
    assert red.state is State.WITHDRAWN and blue.state is State.INSTALLED
    with pytest.raises(NotFound):
        core.get(red.id)


def test_what_a_tenant_asked_is_synced_to_disk_and_what_was_observed_is_not(tmp_path):
    """Creates, updates and deletes are durable commits (an fsync before the answer); the
    switches' confirmations and a cut's moves are written without one (observed again after
    a restart), so a create pays one fsync, not two."""
    store = Store(tmp_path / 'naas.db')
    core = connected(store=store)
    kinds = []
    save = store.save
    store.save = lambda *a, durable=True, **kw: (kinds.append(durable), save(*a, durable=durable, **kw))[1]
    red = core.create(Order('red', 'dca', 'dcc', 2), now=1)
    assert kinds == [True]
    sync(core, now=1)
    core.port_state(addr.dpid(TRIANGLE.sites['dca']), addr.span_port(TRIANGLE, 'dca', 'dcc'), False, now=2)
    assert red.state is State.INSTALLING and set(kinds[1:]) == {False}
    del kinds[:]
    core.update(red.id, now=3, description='x')
    core.delete(red.id, now=4)
    assert kinds == [True, True]
    store.close()


def test_a_restart_loses_nothing(tmp_path):
    db = tmp_path / 'naas.db'
    core = connected(store=Store(db))
    order = Order(
        'red',
        'dca',
        'dcc',
        5,
        max_latency_ms=20,
        description='a',
        labels={'app': 'db'},
        request_id='r-1',
        src_prefixes=['10.1.1.0/25'],
        excess_gbps=1,
    )
    a = core.create(order, now=1)
    b = core.create(Order('blue', 'dca', 'dcc', 3, protection='PROTECTED'), now=1)
    sync(core)
    c = core.create(Order('red', 'dca', 'dcb', 2), now=2)  # still INSTALLING at the crash
    plan = core.plan()
    snapshot = sorted(map(str, core.books.committed.snapshot()))
    peaks = sorted(map(str, core.books.peak.snapshot()))
    core.store.close()

    again = Controller(TRIANGLE, store=Store(db), now=10)
    assert states(again) == {a.id: 'INSTALLED', b.id: 'INSTALLED', c.id: 'INSTALLING'}
    assert sorted(map(str, again.books.committed.snapshot())) == snapshot
    assert again.plan() == plan  # same routes, same labels
    assert again.get(a.id).description == 'a' and again.get(b.id).protection.value == 'PROTECTED'
    assert again.get(a.id).labels == {'app': 'db'}
    assert again.get(a.id).src_prefixes == ('10.1.1.0/25',) and again.get(a.id).excess_gbps == 1
    assert sorted(map(str, again.books.peak.snapshot())) == peaks
    assert again.create(order, now=10) is again.get(a.id)  # the retry still replays
    # The switches still hold the old plan: reconciling changes nothing.
    fake = FakeFabric(TRIANGLE)
    fake.apply(reconcile.diff_all(plan, {}))
    assert not reconcile.diff_all(again.plan(), fake.installed())
    d = again.create(Order('red', 'dcb', 'dcc', 1), now=11)
    assert d.id == 'i-4'  # numbers are never reused
    routes = [again.routes.of(i.id) for i in again.list()]
    labels = {l for r in routes for l in (r.label_fwd, r.label_rev)}
    assert len(labels) == 2 * len(routes)


def test_a_batch_survives_a_restart(tmp_path):
    db = tmp_path / 'naas.db'
    core = connected(store=Store(db))
    made = core.create_many(
        [order(request_id='a'), order('blue', 'dca', 'dcc', 3, protection='PROTECTED')], now=1
    )
    plan, ledger = core.plan(), sorted(map(str, core.books.committed.snapshot()))
    core.store.close()
    again = Controller(TRIANGLE, store=Store(db), now=10)
    assert states(again) == {made[0].id: 'INSTALLING', made[1].id: 'INSTALLING'}
    assert again.plan() == plan and sorted(map(str, again.books.committed.snapshot())) == ledger
    assert again.create_many([order(request_id='a')], now=11)[0] is again.get(made[0].id)


def test_a_store_of_another_fabric_is_refused(tmp_path):
    db = tmp_path / 'naas.db'
    core = connected(store=Store(db))
    core.create(Order('red', 'dca', 'dcc', 5), now=1)
    core.store.close()
    with pytest.raises(ValueError, match='triangle'):
        Controller(load_fabric('thin-fat'), store=Store(db))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(['create', 'delete', 'update', 'cut', 'heal', 'sync']),
            st.integers(0, 10_000),
            st.floats(0.1, 120),
        ),
        max_size=40,
    )
)
def test_no_sequence_of_orders_and_cuts_over_books_a_span(ops):
    core = connected(LUMEN)
    tenants = list(LUMEN.tenants.values())
    spans = list(LUMEN.spans)
    for now, (op, n, gbps) in enumerate(ops, start=1):
        intents = [i for i in core.list() if i.state is not State.WITHDRAWING]
        try:
            if op == 'create':
                t = tenants[n % len(tenants)]
                src, dst = t.sites[n % len(t.sites)], t.sites[(n // 7 + 1) % len(t.sites)]
                core.create(
                    Order(
                        t.id,
                        src,
                        dst,
                        gbps,
                        protection=['NONE', 'PROTECTED'][n % 2],
                        excess_gbps=[0, gbps / 2, 40][n % 3],
                    ),
                    now=now,
                )
            elif op == 'delete' and intents:
                core.delete(intents[n % len(intents)].id, now=now)
            elif op == 'update' and intents:
                core.update(
                    intents[n % len(intents)].id,
                    bandwidth_gbps=gbps,
                    now=now,
                    excess_gbps=[None, 0, gbps][n % 3],
                )
            elif op in ('cut', 'heal'):
                span = spans[n % len(spans)]
                core.port_state(
                    addr.dpid(LUMEN.sites[span.a]),
                    addr.span_port(LUMEN, span.a, span.b),
                    op == 'heal',
                    now=now,
                )
            elif op == 'sync':
                sync(core, now=now)
        except (InvalidArgument, Conflict, Unplaceable):
            pass
        for link in core.topology.links():
            limit = core.topology.capacity_gbps(link) * (1 - core.books.committed.headroom)
            assert core.books.committed.reserved_gbps(link) <= limit + 1e-6
            assert core.books.peak.reserved_gbps(link) <= core.topology.capacity_gbps(link) + 1e-6
        for intent in core.list():
            route, placement = core.routes.of(intent.id), core.placer.placements.get(intent.id)
            if intent.state in (State.INSTALLING, State.INSTALLED):
                assert route.sites == placement.primary.sites
                assert all(core.topology.spans[s].up for s in placement.primary.span_ids(core.topology))
            else:
                assert route is None and placement is None


def test_a_new_leader_starts_from_what_its_predecessor_measured():
    """Controller.measured is what a leader publishes; start_from, what the next one begins
    with: the directions measured (and only those) read as measured, at once."""
    old = Controller(TRIANGLE, now=0.0)
    old.topology.record_delay(Link('dca', 'dcb'), 4.2, 1.0)
    old.topology.record_crossing('dcb', 0.3, 1.0)
    links, crossings = old.measured()
    assert links == {Link('dca', 'dcb'): 4.2} and crossings == {'dcb': 0.3}
    new = Controller(TRIANGLE, now=5.0)
    new.start_from(links, crossings, now=5.0)
    spans = {s.id: s for s in new.topology_view().spans}
    forward, back = spans['dca-dcb'].directions
    assert (forward.delay_ms, forward.delay_measured) == (4.2, True)
    assert back.delay_measured is False  # never measured by the old leader: still the prior
    assert new.topology.crossing_ms('dcb') == 0.3
