"""IntentService over a real socket: the lifecycle, every refusal and its status code, tenant
isolation, idempotent retries, quotas, pagination and Watch."""
import grpc
import pytest
from google.protobuf import field_mask_pb2

from naas.v1 import intent_pb2, intent_service_pb2 as service
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
    return served.call(lambda core, now: (
        [(i.id, i.bandwidth_gbps, i.max_latency_ms, i.description, dict(i.labels))
         for i in core.list()], sorted(map(str, core.ledger.snapshot())), core.generation))


def test_an_intent_is_created_installed_reported_and_withdrawn(serve):
    served = serve()
    red = served.client('red')
    made = red.create_intent('dca', 'dcc', 5, max_latency_ms=12, description='db sync',
                             labels={'app': 'db'}, src_prefixes=['10.1.1.0/25'])
    assert made.id == 'i-1' and made.tenant == 'red' and state(made) in ('INSTALLING', 'INSTALLED')
    intent = red.wait_for_state(made.id, timeout_s=5)
    assert state(intent) == 'INSTALLED'
    assert list(intent.path) == ['dca', 'dcc'] and intent.path_latency_ms == pytest.approx(9)
    assert intent.reserved_gbps == 5 and intent.max_latency_ms == 12
    assert intent.description == 'db sync' and dict(intent.labels) == {'app': 'db'}
    assert list(intent.src_prefixes) == ['10.1.1.0/25'] and list(intent.dst_prefixes) == []
    assert intent.create_time.seconds > 0 and intent.update_time.ToNanoseconds() >= intent.create_time.ToNanoseconds()
    span = next(s for s in red.get_topology().spans if s.id == 'dca-dcc')
    assert [d.reserved_gbps for d in span.directions] == [5, 5]       # an E-Line: both ways

    gone = red.delete_intent(made.id)
    assert state(gone) in ('WITHDRAWING', 'WITHDRAWN')
    red.wait_for_state(made.id, states=['WITHDRAWN'], timeout_s=5)
    refused(lambda: red.get_intent(made.id), CODE.NOT_FOUND, made.id)
    span = next(s for s in red.get_topology().spans if s.id == 'dca-dcc')
    assert [d.reserved_gbps for d in span.directions] == [0, 0]


def test_calls_without_a_valid_token_are_unauthenticated(serve):
    served = serve()
    for client in (served.client(None), served.client(None, token='not-a-token')):
        refused(lambda: client.create_intent('dca', 'dcc', 1, tenant='red'), CODE.UNAUTHENTICATED, 'authorization')
        refused(lambda: client.get_topology(), CODE.UNAUTHENTICATED)
        refused(lambda: list(client.list_intents()), CODE.UNAUTHENTICATED)
        refused(lambda: next(iter(client.watch_intents())), CODE.UNAUTHENTICATED)
        assert client.health() == 'SERVING'                   # health needs no token
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
    refused(lambda: blue.create_intent('dca', 'dcc', 1, tenant='red'), CODE.PERMISSION_DENIED, 'intent.tenant')
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
    return lambda: client.create_intent(order.pop('src_site'), order.pop('dst_site'),
                                        order.pop('bandwidth_gbps'), **order)


@pytest.mark.parametrize('change, field, rule', [
    (dict(src_site='nowhere'), 'src_site', 'unknown site'),
    (dict(dst_site='dca'), 'dst_site', 'must differ'),
    (dict(dst_site='dcb', tenant='blue'), 'dst_site', 'no port at site dcb'),   # operator for blue
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
])
def test_an_invalid_field_is_named_and_changes_nothing(serve, change, field, rule):
    served = serve()
    client = served.client('operator' if 'tenant' in change else 'red')
    before = everything(served)
    error = refused(_create(client, **change), CODE.INVALID_ARGUMENT, rule)
    assert error.message.startswith(field), error
    assert everything(served) == before
    if 'request_id' not in change:                  # CheckIntent refuses the same way
        order = dict(src_site='dca', dst_site='dcb', bandwidth_gbps=1) | change
        refused(lambda: client.check_intent(order.pop('src_site'), order.pop('dst_site'),
                                            order.pop('bandwidth_gbps'), **order), CODE.INVALID_ARGUMENT, rule)


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
    stub = red._intents                                        # masks the client would not build
    for paths, word in ((['src_site'], 'src_site'), ([], 'update_mask'), (['bogus'], 'bogus')):
        request = service.UpdateIntentRequest(intent=intent_pb2.Intent(id=made.id, src_site='dcb'),
                                              update_mask=field_mask_pb2.FieldMask(paths=paths))
        refused(lambda: red._unary(stub.UpdateIntent, request), CODE.INVALID_ARGUMENT, 'update_mask', word)
    request = service.UpdateIntentRequest(intent=intent_pb2.Intent(id=made.id),
                                          update_mask=field_mask_pb2.FieldMask(paths=['protection']))
    refused(lambda: red._unary(stub.UpdateIntent, request), CODE.INVALID_ARGUMENT, 'protection')
    refused(lambda: red.update_intent(made.id, bandwidth_gbps=0), CODE.INVALID_ARGUMENT, 'bandwidth_gbps')
    refused(lambda: red.get_intent('i-99'), CODE.NOT_FOUND, 'i-99')
    assert everything(served) == before


def test_a_retry_with_the_same_request_id_makes_nothing_new(serve):
    served = serve()
    red = served.client('red')
    first = red.create_intent('dca', 'dcc', 3, request_id='order-42')
    again = red.create_intent('dca', 'dcc', 3, request_id='order-42')
    assert again.id == first.id and len(list(red.list_intents())) == 1
    before = everything(served)
    refused(lambda: red.create_intent('dca', 'dcc', 4, request_id='order-42'), CODE.ALREADY_EXISTS, 'request_id')
    refused(lambda: red.create_intent('dcc', 'dca', 1), CODE.ALREADY_EXISTS, first.id)   # same pair
    assert everything(served) == before


def test_no_path_says_what_would_fit(serve):
    served = serve()
    red, blue = served.client('red'), served.client('blue')
    before = everything(served)
    # 12 Gb/s within 9.5 ms: the detour has the bandwidth but takes 10 ms; the 9 ms direct
    # span carries 9 Gb/s (10 less headroom). The network cannot meet the bound.
    error = refused(lambda: blue.create_intent('dca', 'dcc', 12, max_latency_ms=9.5),
                    CODE.FAILED_PRECONDITION, '9.5 ms')
    assert 'within 9.5 ms carries 9 Gb/s' in error.message
    answer = blue.check_intent('dca', 'dcc', 12, max_latency_ms=9.5)
    assert not answer.admissible and answer.max_bandwidth_gbps == pytest.approx(9)
    assert answer.min_latency_ms == pytest.approx(10)
    answer = blue.check_intent('dca', 'dcc', 9, max_latency_ms=9.5)
    assert answer.admissible and list(answer.path) == ['dca', 'dcc'] and answer.latency_ms == pytest.approx(9)
    answer = blue.check_intent('dca', 'dcc', 5, protected=True)
    assert answer.admissible and {tuple(answer.path), tuple(answer.backup_path)} == {
        ('dca', 'dcc'), ('dca', 'dcb', 'dcc')}
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
        moved = red.update_intent(made.id, bandwidth_gbps=12)      # the direct span carries 9
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
    refused(lambda: red.update_intent(made.id, bandwidth_gbps=18, max_latency_ms=9.5),
            CODE.FAILED_PRECONDITION)
    assert everything(served) == before
    after = red.update_intent(made.id, bandwidth_gbps=5, max_latency_ms=0, description='no bound',
                             protected=True, excess_gbps=2)
    assert after.max_latency_ms == 0 and after.description == 'no bound' and len(after.backup_path) > 1
    assert after.excess_gbps == 2 and after.reserved_gbps == 5


def test_list_pages_through_everything_once_with_filters(serve):
    served = serve('lumen-qts')
    operator = served.client('operator')
    fabric = served.fabric
    made = []
    for tenant in fabric.tenants.values():
        sites = list(tenant.sites)
        for a, b in zip(sites, sites[1:]):
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
    assert at_site and all(site in (i.src_site, i.dst_site)
                           for i in operator.list_intents(site=site))
    first, token = operator.list_page(site=site, page_size=1)
    if token:
        refused(lambda: operator.list_page(page_token=token), CODE.INVALID_ARGUMENT, 'other filters')
    installed = list(operator.list_intents(state='INSTALLED'))
    assert all(state(i) == 'INSTALLED' for i in installed)
    assert [i.id for i in operator.list_intents(tenant='acme')] == [
        i for i in made if operator.get_intent(i).tenant == 'acme']


def test_watch_streams_only_the_callers_events(serve):
    served = serve()
    red, blue = served.client('red'), served.client('blue')
    early = red.create_intent('dca', 'dcb', 1)
    red.wait_for_state(early.id, timeout_s=5)
    with red.watch_intents(include_current=True, timeout_s=10) as reds, \
            blue.watch_intents(timeout_s=10) as blues:
        current = next(reds)
        assert (current.intent_id, current.reason, enum_name(IntentState, current.state)) == (
            early.id, 'current', 'INSTALLED')
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
