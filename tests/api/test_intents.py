"""IntentService over a real socket: the lifecycle, every refusal and its status code, tenant
isolation, idempotent retries, quotas, pagination and Watch."""

import itertools

import grpc
import pytest
from google.protobuf import field_mask_pb2

from naas.v1 import intent_pb2
from naas.v1 import intent_service_pb2 as service
from naasctl.client import ApiError, enum_name

IntentState = intent_pb2.IntentState
CODE = grpc.StatusCode


def refused(call, code, *words):
    """Run call(); it must raise ApiError with `code` and a message containing `words`."""
    with pytest.raises(ApiError) as error:
        call()
    assert error.value.code == code, error.value
    for word in words:
        assert word in error.value.message, error.value
    return error.value


def state(intent):
    return enum_name(IntentState, intent.state)


def everything(served):
    """What a refused request must leave unchanged: intents, reservations, plan generation
    (not states: INSTALLING becomes INSTALLED whenever the southbound confirms)."""
    return served.call(
        lambda core, now: (
            [(i.id, i.bandwidth_gbps, i.max_latency_ms, i.description, dict(i.labels)) for i in core.list()],
            sorted(map(str, core.books.committed.snapshot())),
            core.generation,
        )
    )


def test_an_intent_is_created_installed_reported_and_withdrawn(serve):
    served = serve()
    red = served.client('red')
    made = red.create_intent(
        'dca',
        'dcc',
        5,
        max_latency_ms=12,
        description='db sync',
        labels={'app': 'db'},
        src_prefixes=['10.1.1.0/25'],
    )
    assert made.id == 'i-1' and made.tenant == 'red' and state(made) in ('INSTALLING', 'INSTALLED')
    intent = red.wait_for_state(made.id, timeout_s=5)
    assert state(intent) == 'INSTALLED'
    assert list(intent.path) == ['dca', 'dcc'] and intent.path_latency_ms == pytest.approx(9)
    assert intent.reserved_gbps == 5 and intent.max_latency_ms == 12
    assert intent.description == 'db sync' and dict(intent.labels) == {'app': 'db'}
    assert list(intent.src_prefixes) == ['10.1.1.0/25'] and list(intent.dst_prefixes) == []
    assert (
        intent.create_time.seconds > 0
        and intent.update_time.ToNanoseconds() >= intent.create_time.ToNanoseconds()
    )
    span = next(s for s in red.get_topology().spans if s.id == 'dca-dcc')
    assert [d.reserved_gbps for d in span.directions] == [5, 5]  # an E-Line: both ways

    gone = red.delete_intent(made.id)
    assert state(gone) in ('WITHDRAWING', 'WITHDRAWN')
    red.wait_for_state(made.id, states=['WITHDRAWN'], timeout_s=5)
    refused(lambda: red.get_intent(made.id), CODE.NOT_FOUND, made.id)
    span = next(s for s in red.get_topology().spans if s.id == 'dca-dcc')
    assert [d.reserved_gbps for d in span.directions] == [0, 0]


def test_calls_without_a_valid_token_are_unauthenticated(serve):
    served = serve()
    for client in (served.client(None), served.client(None, token='not-a-token')):
        refused(
            lambda: client.create_intent('dca', 'dcc', 1, tenant='red'), CODE.UNAUTHENTICATED, 'authorization'
        )
        refused(lambda: client.get_topology(), CODE.UNAUTHENTICATED)
        refused(lambda: list(client.list_intents()), CODE.UNAUTHENTICATED)
        refused(lambda: next(iter(client.watch_intents())), CODE.UNAUTHENTICATED)
        assert client.health() == 'SERVING'  # health needs no token
    assert everything(served)[0] == []


def test_a_tenant_sees_and_changes_only_its_own_intents(serve):
    served = serve()
    red, blue, operator = served.client('red'), served.client('blue'), served.client('operator')
    reds = red.create_intent('dca', 'dcc', 2)
    blues = blue.create_intent('dca', 'dcc', 1)
    before = everything(served)
    refused(lambda: blue.get_intent(reds.id), CODE.NOT_FOUND)
    refused(lambda: blue.update_intent(reds.id, bandwidth_gbps=1), CODE.NOT_FOUND)
    refused(lambda: blue.delete_intent(reds.id), CODE.NOT_FOUND)
    refused(
        lambda: blue.create_intent('dca', 'dcc', 1, tenant='red'), CODE.PERMISSION_DENIED, 'intent.tenant'
    )
    refused(lambda: list(blue.list_intents(tenant='red')), CODE.PERMISSION_DENIED, 'tenant')
    refused(lambda: next(iter(blue.watch_intents(tenant='red'))), CODE.PERMISSION_DENIED)
    refused(lambda: next(iter(blue.watch_intents(intent_id=reds.id))), CODE.NOT_FOUND)
    assert everything(served) == before
    assert [i.id for i in blue.list_intents()] == [blues.id]
    assert [i.id for i in red.list_intents()] == [reds.id]
    # The operator sees and acts for every tenant, and must say which on create.
    assert [i.id for i in operator.list_intents()] == [reds.id, blues.id]
    assert [i.id for i in operator.list_intents(tenant='blue')] == [blues.id]
    refused(lambda: operator.create_intent('dca', 'dcb', 1), CODE.INVALID_ARGUMENT, 'intent.tenant')
    made = operator.create_intent('dca', 'dcb', 1, tenant='red')
    assert made.tenant == 'red' and red.get_intent(made.id).id == made.id
    operator.update_intent(blues.id, bandwidth_gbps=2)
    assert blue.get_intent(blues.id).bandwidth_gbps == 2


def _create(client, **change):
    order = dict(src_site='dca', dst_site='dcb', bandwidth_gbps=1) | change
    return lambda: client.create_intent(
        order.pop('src_site'), order.pop('dst_site'), order.pop('bandwidth_gbps'), **order
    )


@pytest.mark.parametrize(
    'change, field, rule',
    [
        (dict(src_site='nowhere'), 'src_site', 'unknown site'),
        (dict(dst_site='dca'), 'dst_site', 'must differ'),
        (dict(dst_site='dcb', tenant='blue'), 'dst_site', 'no port at site dcb'),  # operator for blue
        (dict(bandwidth_gbps=0), 'bandwidth_gbps', '> 0'),
        (dict(bandwidth_gbps=-3), 'bandwidth_gbps', '> 0'),
        (dict(bandwidth_gbps=float('inf')), 'bandwidth_gbps', '> 0'),
        (dict(bandwidth_gbps=50), 'bandwidth_gbps', 'more than any path'),
        (dict(max_latency_ms=-1), 'max_latency_ms', '> 0'),
        (dict(max_latency_ms=3), 'max_latency_ms', 'physical minimum'),
        (dict(labels={'App': 'x'}), 'labels', 'lower-case'),
        (dict(description='x' * 2000), 'description', '1024'),
        (dict(request_id='a b'), 'request_id', 'letters'),
        (dict(dst_prefixes=['10.2.2.0/25']), 'dst_prefixes', 'outside'),
        (dict(excess_gbps=-1), 'excess_gbps', '>= 0'),
    ],
)
def test_an_invalid_field_is_named_and_changes_nothing(serve, change, field, rule):
    served = serve()
    client = served.client('operator' if 'tenant' in change else 'red')
    before = everything(served)
    error = refused(_create(client, **change), CODE.INVALID_ARGUMENT, rule)
    assert error.message.startswith(field), error
    assert everything(served) == before
    if 'request_id' not in change:  # CheckIntent refuses the same way
        order = dict(src_site='dca', dst_site='dcb', bandwidth_gbps=1) | change
        refused(
            lambda: client.check_intent(
                order.pop('src_site'), order.pop('dst_site'), order.pop('bandwidth_gbps'), **order
            ),
            CODE.INVALID_ARGUMENT,
            rule,
        )


def test_malformed_ids_tokens_and_masks_are_invalid_arguments(serve):
    served = serve()
    red = served.client('red')
    made = red.create_intent('dca', 'dcc', 1)
    before = everything(served)
    for bad in ('x', 'i-', 'i-0', 'i-1 ', '../i-1', 'I-1'):
        refused(lambda: red.get_intent(bad), CODE.INVALID_ARGUMENT, 'id')
        refused(lambda: red.delete_intent(bad), CODE.INVALID_ARGUMENT, 'id')
    refused(lambda: red.list_page(page_token='garbage!'), CODE.INVALID_ARGUMENT, 'page_token')
    refused(lambda: red.list_page(page_size=-1), CODE.INVALID_ARGUMENT, 'page_size')
    # masks the client would not build
    for paths, word in ((['src_site'], 'src_site'), ([], 'update_mask'), (['bogus'], 'bogus')):
        request = service.UpdateIntentRequest(
            intent=intent_pb2.Intent(id=made.id, src_site='dcb'),
            update_mask=field_mask_pb2.FieldMask(paths=paths),
        )
        refused(lambda: red._unary('UpdateIntent', request), CODE.INVALID_ARGUMENT, 'update_mask', word)
    request = service.UpdateIntentRequest(
        intent=intent_pb2.Intent(id=made.id), update_mask=field_mask_pb2.FieldMask(paths=['protection'])
    )
    refused(lambda: red._unary('UpdateIntent', request), CODE.INVALID_ARGUMENT, 'protection')
    refused(lambda: red.update_intent(made.id, bandwidth_gbps=0), CODE.INVALID_ARGUMENT, 'bandwidth_gbps')
    refused(lambda: red.get_intent('i-99'), CODE.NOT_FOUND, 'i-99')
    # Enum numbers this server does not know (a client built from a newer .proto):
    for field, value in (('protection', 7), ('service_class', 99)):
        order = intent_pb2.Intent(src_site='dca', dst_site='dcb', bandwidth_gbps=1, **{field: value})
        refused(
            lambda: red._unary('CreateIntent', service.CreateIntentRequest(intent=order)),
            CODE.INVALID_ARGUMENT,
            f'{field}: {value} is not a value',
        )
        batch = service.CreateIntentsRequest(orders=[service.CreateIntentRequest(intent=order)])
        refused(
            lambda: red._unary('CreateIntents', batch),
            CODE.INVALID_ARGUMENT,
            f'orders[0].{field}: {value} is not a value',
        )
    refused(
        lambda: red._unary('ListIntents', service.ListIntentsRequest(state=42)),
        CODE.INVALID_ARGUMENT,
        'state: 42 is not a value',
    )
    assert everything(served) == before


def test_a_retry_with_the_same_request_id_makes_nothing_new(serve):
    served = serve()
    red = served.client('red')
    first = red.create_intent('dca', 'dcc', 3, request_id='order-42')
    again = red.create_intent('dca', 'dcc', 3, request_id='order-42')
    assert again.id == first.id and len(list(red.list_intents())) == 1
    before = everything(served)
    refused(
        lambda: red.create_intent('dca', 'dcc', 4, request_id='order-42'), CODE.ALREADY_EXISTS, 'request_id'
    )
    refused(lambda: red.create_intent('dcc', 'dca', 1), CODE.ALREADY_EXISTS, first.id)  # same pair
    assert everything(served) == before


def test_no_path_says_what_would_fit(serve):
    served = serve()
    red, blue = served.client('red'), served.client('blue')
    before = everything(served)
    # 12 Gb/s within 9.5 ms: the detour has the bandwidth but takes 10 ms; the 9 ms direct
    # span carries 9 Gb/s (10 less headroom). The network cannot meet the bound.
    error = refused(
        lambda: blue.create_intent('dca', 'dcc', 12, max_latency_ms=9.5), CODE.FAILED_PRECONDITION, '9.5 ms'
    )
    assert 'within 9.5 ms carries 9 Gb/s' in error.message
    answer = blue.check_intent('dca', 'dcc', 12, max_latency_ms=9.5)
    assert not answer.admissible and answer.max_bandwidth_gbps == pytest.approx(9)
    assert answer.min_latency_ms == pytest.approx(10)
    answer = blue.check_intent('dca', 'dcc', 9, max_latency_ms=9.5)
    assert answer.admissible and list(answer.path) == ['dca', 'dcc'] and answer.latency_ms == pytest.approx(9)
    answer = blue.check_intent('dca', 'dcc', 5, protected=True)
    assert answer.admissible and {tuple(answer.path), tuple(answer.backup_path)} == {
        ('dca', 'dcc'),
        ('dca', 'dcb', 'dcc'),
    }
    assert everything(served) == before
    # With dca-dcb nearly full, 10 Gb/s fits nowhere: the direct span has 9, the detour 1.
    red.create_intent('dca', 'dcb', 17)
    before = everything(served)
    refused(lambda: blue.create_intent('dca', 'dcc', 10), CODE.RESOURCE_EXHAUSTED, '9 Gb/s')
    assert everything(served) == before


def test_a_quota_bounds_a_tenants_committed_bandwidth(serve):
    served = serve(quotas={'blue': 6})
    blue = served.client('blue')
    made = blue.create_intent('dca', 'dcc', 5)
    before = everything(served)
    refused(lambda: blue.update_intent(made.id, bandwidth_gbps=7), CODE.RESOURCE_EXHAUSTED, 'quota_gbps')
    assert everything(served) == before
    answer = blue.check_intent('dca', 'dcc', 2)
    assert not answer.admissible and answer.quota_left_gbps == 1 and 'quota' in answer.reason
    blue.update_intent(made.id, bandwidth_gbps=6)


def test_an_update_moves_the_intent_when_its_path_cannot_carry_it(serve):
    served = serve()
    red = served.client('red')
    made = red.wait_for_state(red.create_intent('dca', 'dcc', 5).id, timeout_s=5)
    with red.watch_intents(intent_id=made.id, timeout_s=10) as events:
        moved = red.update_intent(made.id, bandwidth_gbps=12)  # the direct span carries 9
        assert moved.bandwidth_gbps == 12 and list(moved.path) == ['dca', 'dcb', 'dcc']
        seen = []
        for event in events:
            seen.append(event)
            if event.state == IntentState.INTENT_STATE_INSTALLED:
                break
    move = next(e for e in seen if e.new_path)
    assert list(move.old_path) == ['dca', 'dcc'] and list(move.new_path) == ['dca', 'dcb', 'dcc']
    assert 'bandwidth_gbps 12' in move.reason
    # An order that fits nowhere is refused; the intent keeps the old one.
    before = everything(served)
    refused(
        lambda: red.update_intent(made.id, bandwidth_gbps=18, max_latency_ms=9.5), CODE.FAILED_PRECONDITION
    )
    assert everything(served) == before
    after = red.update_intent(
        made.id, bandwidth_gbps=5, max_latency_ms=0, description='no bound', protected=True, excess_gbps=2
    )
    assert after.max_latency_ms == 0 and after.description == 'no bound' and len(after.backup_path) > 1
    assert after.excess_gbps == 2 and after.reserved_gbps == 5


def test_list_pages_through_everything_once_with_filters(serve):
    served = serve('lumen-qts')
    operator = served.client('operator')
    fabric = served.fabric
    made = []
    for tenant in fabric.tenants.values():
        sites = list(tenant.sites)
        for a, b in itertools.pairwise(sites):
            made.append(operator.create_intent(a, b, 1, tenant=tenant.id).id)
    assert len(made) >= 10
    pages, token = [], ''
    while True:
        page, token = operator.list_page(page_size=3, page_token=token)
        pages.append([i.id for i in page])
        if not token:
            break
    assert [i for page in pages for i in page] == made and all(len(p) == 3 for p in pages[:-1])
    assert [i.id for i in operator.list_intents(page_size=4)] == made
    site = fabric.tenants['acme'].sites[1]
    at_site = [i.id for i in operator.list_intents(site=site)]
    assert at_site and all(site in (i.src_site, i.dst_site) for i in operator.list_intents(site=site))
    _first, token = operator.list_page(site=site, page_size=1)
    if token:
        refused(lambda: operator.list_page(page_token=token), CODE.INVALID_ARGUMENT, 'other filters')
    installed = list(operator.list_intents(state='INSTALLED'))
    assert all(state(i) == 'INSTALLED' for i in installed)
    assert [i.id for i in operator.list_intents(tenant='acme')] == [
        i for i in made if operator.get_intent(i).tenant == 'acme'
    ]


def test_watch_streams_only_the_callers_events(serve):
    served = serve()
    red, blue = served.client('red'), served.client('blue')
    early = red.create_intent('dca', 'dcb', 1)
    red.wait_for_state(early.id, timeout_s=5)
    with (
        red.watch_intents(include_current=True, timeout_s=10) as reds,
        blue.watch_intents(timeout_s=10) as blues,
    ):
        current = next(reds)
        assert (current.intent_id, current.reason, enum_name(IntentState, current.state)) == (
            early.id,
            'current',
            'INSTALLED',
        )
        blue_intent = blue.create_intent('dca', 'dcc', 1)
        red_intent = red.create_intent('dca', 'dcc', 1)
        for event in blues:
            assert event.tenant == 'blue', event
            if event.state == IntentState.INTENT_STATE_INSTALLED:
                break
        for event in reds:
            assert event.tenant == 'red' and event.intent_id == red_intent.id, event
            if event.state == IntentState.INTENT_STATE_INSTALLED:
                break
    assert blue.get_intent(blue_intent.id).state == IntentState.INTENT_STATE_INSTALLED


def test_intents_and_request_ids_survive_a_restart(serve, tmp_path):
    db = tmp_path / 'kept.db'
    served = serve(db=db)
    red = served.client('red')
    made = red.create_intent('dca', 'dcc', 4, request_id='keep-me', labels={'app': 'db'})
    red.wait_for_state(made.id, timeout_s=5)
    served.stop()
    again = serve(db=db)
    red = again.client('red')
    # The tokens are new (a new auth), the intents are not.
    kept = red.get_intent(made.id)
    assert (kept.bandwidth_gbps, dict(kept.labels), list(kept.path)) == (4, {'app': 'db'}, ['dca', 'dcc'])
    assert red.create_intent('dca', 'dcc', 4, request_id='keep-me', labels={'app': 'db'}).id == made.id


# CreateIntents: many orders in one call, placed together.


def _orders(*orders):
    """create_intents' orders from (src, dst, Gb/s, {more}) tuples."""
    return [
        dict(src_site=o[0], dst_site=o[1], bandwidth_gbps=o[2], **(o[3] if len(o) > 3 else {}))
        for o in orders
    ]


def test_create_intents_admits_a_batch(serve):
    served = serve()
    red = served.client('red')
    results = red.create_intents(
        _orders(
            ('dca', 'dcc', 5, dict(max_latency_ms=12)),
            ('dca', 'dcb', 2),
            ('dcb', 'dcc', 3, dict(labels={'app': 'db'}, protected=True)),
        )
    )
    assert all(r.HasField('intent') and not r.code and not r.reason for r in results)
    made = [r.intent for r in results]
    assert sorted(i.id for i in made) == ['i-1', 'i-2', 'i-3']
    assert [(i.tenant, i.src_site, i.dst_site, i.bandwidth_gbps) for i in made] == [
        ('red', 'dca', 'dcc', 5),
        ('red', 'dca', 'dcb', 2),
        ('red', 'dcb', 'dcc', 3),
    ]
    assert [list(i.path) for i in made] == [['dca', 'dcc'], ['dca', 'dcb'], ['dcb', 'dcc']]
    assert made[0].max_latency_ms == 12 and dict(made[2].labels) == {'app': 'db'}
    assert list(made[2].backup_path) == ['dcb', 'dca', 'dcc']
    assert all(state(i) in ('INSTALLING', 'INSTALLED') for i in made)
    for intent in made:
        assert state(red.wait_for_state(intent.id, timeout_s=5)) == 'INSTALLED'
    assert sorted(i.id for i in red.list_intents()) == ['i-1', 'i-2', 'i-3']


def test_create_intents_admits_what_fits_and_says_why_not_for_the_rest(serve):
    served = serve()
    operator = served.client('operator')
    first = operator.create_intent('dca', 'dcb', 4, tenant='red')
    placed, no_room, too_slow = operator.create_intents(
        _orders(
            ('dcb', 'dcc', 5, dict(tenant='red')),
            ('dca', 'dcc', 15, dict(tenant='blue')),  # direct: 9 Gb/s; via dcb: 13 or 14
            ('dcc', 'dca', 12, dict(tenant='red', max_latency_ms=9.5)),
        )
    )  # via dcb: 10 ms
    assert placed.intent.tenant == 'red' and list(placed.intent.path) == ['dcb', 'dcc'] and not placed.code
    assert not no_room.HasField('intent') and no_room.code == 'RESOURCE_EXHAUSTED'
    assert '15 Gb/s' in no_room.reason and 13 <= no_room.max_bandwidth_gbps <= 14
    assert no_room.min_latency_ms == 0  # no path has 15 Gb/s
    assert not too_slow.HasField('intent') and too_slow.code == 'FAILED_PRECONDITION'
    assert '9.5 ms' in too_slow.reason
    assert (too_slow.max_bandwidth_gbps, too_slow.min_latency_ms) == (pytest.approx(9), pytest.approx(10))
    assert [i.id for i in operator.list_intents()] == [first.id, placed.intent.id]
    # CreateIntent refuses the same orders with the same codes.
    refused(lambda: operator.create_intent('dca', 'dcc', 15, tenant='blue'), CODE[no_room.code])
    refused(
        lambda: operator.create_intent('dcc', 'dca', 12, tenant='red', max_latency_ms=9.5),
        CODE[too_slow.code],
    )


def test_a_bad_order_refuses_the_whole_batch_and_changes_nothing(serve):
    served = serve(quotas={'red': 6})
    red, operator = served.client('red'), served.client('operator')
    red.create_intent('dca', 'dcc', 1)
    before, listed = everything(served), [i.id for i in operator.list_intents()]
    good = _orders(('dca', 'dcb', 1), ('dcb', 'dcc', 1))
    for client, orders, code, words in [
        (red, good + _orders(('dca', 'dcb', 0)), CODE.INVALID_ARGUMENT, ['orders[2].bandwidth_gbps', '> 0']),
        (red, [], CODE.INVALID_ARGUMENT, ['orders: ']),
        (red, good * 501, CODE.INVALID_ARGUMENT, ['orders: at most 1000 per call, got 1002']),
        (red, good + _orders(('dca', 'nowhere', 1)), CODE.INVALID_ARGUMENT, ['orders[2].dst_site']),
        (red, [good[0], dict(good[1], tenant='blue')], CODE.PERMISSION_DENIED, ['orders[1].intent.tenant']),
        (
            operator,
            [dict(good[0], tenant='red'), good[1]],
            CODE.INVALID_ARGUMENT,
            ['orders[1].intent.tenant'],
        ),
        (red, good + _orders(('dcb', 'dca', 2)), CODE.ALREADY_EXISTS, ['orders[2]', 'orders[0]']),
        (red, good + _orders(('dcc', 'dca', 1)), CODE.ALREADY_EXISTS, ['orders[2]', 'i-1']),
        (
            red,
            _orders(('dca', 'dcb', 3), ('dcb', 'dcc', 3)),
            CODE.RESOURCE_EXHAUSTED,
            ['orders: ', 'quota_gbps'],
        ),
        (served.client(None), good, CODE.UNAUTHENTICATED, ['authorization']),
    ]:
        error = refused(lambda: client.create_intents(orders), code, *words)
        assert error.message.startswith(words[0]), error
        assert everything(served) == before
        assert [i.id for i in operator.list_intents()] == listed
    assert len(red.create_intents(good)) == 2  # the good orders alone are fine


def test_a_tenant_sees_only_its_own_batch_intents(serve):
    served = serve()
    red, blue = served.client('red'), served.client('blue')
    reds = [r.intent for r in red.create_intents(_orders(('dca', 'dcc', 1), ('dca', 'dcb', 1)))]
    blues = [r.intent for r in blue.create_intents(_orders(('dcc', 'dca', 1)))]
    assert [i.tenant for i in reds + blues] == ['red', 'red', 'blue']
    assert [i.id for i in blue.list_intents()] == [blues[0].id]
    assert sorted(i.id for i in red.list_intents()) == sorted(i.id for i in reds)
    for intent in reds:
        refused(lambda: blue.get_intent(intent.id), CODE.NOT_FOUND)


def test_create_intents_with_request_ids_replays(serve):
    served = serve()
    red = served.client('red')
    orders = _orders(
        ('dca', 'dcc', 3, dict(request_id='batch-1.a')), ('dca', 'dcb', 2, dict(request_id='batch-1.b'))
    )
    first = [r.intent.id for r in red.create_intents(orders)]
    again = [r.intent.id for r in red.create_intents(orders + _orders(('dcb', 'dcc', 1)))]
    assert again[:2] == first and again[2] not in first and len(list(red.list_intents())) == 3
    assert red.create_intent('dca', 'dcc', 3, request_id='batch-1.a').id == first[0]
    before = everything(served)
    changed = [orders[0], dict(orders[1], bandwidth_gbps=4)]
    refused(lambda: red.create_intents(changed), CODE.ALREADY_EXISTS, 'orders[1]', 'request_id')
    assert everything(served) == before
