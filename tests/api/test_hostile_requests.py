"""What anyone who reaches the port may send, over a real socket: forged page tokens, bytes
that do not decode, strings of any length, repeated or padded credentials, rates too small to
count. Each gets a canonical error naming the field, a short message, and changes nothing."""

import base64
import logging

import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from controller.core.orders import MIN_BANDWIDTH_GBPS
from controller.logs import RATE
from controller.northbound.guard import LIMITS
from naas.v1 import intent_pb2, intent_service_pb2, topology_service_pb2
from naas.v1 import intent_service_pb2 as service
from tests.api.test_intents import CODE, everything, refused

SERVICES = [
    intent_service_pb2.DESCRIPTOR.services_by_name['IntentService'],
    topology_service_pb2.DESCRIPTOR.services_by_name['TopologyService'],
    health_pb2.DESCRIPTOR.services_by_name['Health'],
    reflection_pb2.DESCRIPTOR.services_by_name['ServerReflection'],
]
NOT_PROTOBUF = b'\xff\xff\xff'  # a field tag that never ends


def raw_call(served, method, data, metadata=()):
    """Call `method` (a MethodDescriptor) with `data` as its request's bytes -> (code, details)."""
    channel = grpc.insecure_channel(served.target)
    path = f'/{method.containing_service.full_name}/{method.name}'
    kinds = (
        ('stream' if method.client_streaming else 'unary')
        + '_'
        + ('stream' if method.server_streaming else 'unary')
    )
    call = getattr(channel, kinds)(path)  # no serializers: bytes go as they are
    try:
        request = iter([data]) if method.client_streaming else data
        answer = call(request, metadata=metadata, timeout=5)
        if method.server_streaming:
            next(iter(answer))
        return CODE.OK, ''
    except grpc.RpcError as e:
        return e.code(), e.details()
    finally:
        channel.close()


def test_forged_page_tokens_are_invalid_arguments(serve):
    served, other = serve(), serve()
    red = served.client('red')
    for sites in (('dca', 'dcb'), ('dca', 'dcc'), ('dcb', 'dcc')):
        red.create_intent(*sites, 1)
    _page, token = red.list_page(page_size=1)
    assert token and len(token) <= LIMITS['page_token']
    elsewhere = other.client('red')
    elsewhere.create_intent('dca', 'dcb', 1)
    elsewhere.create_intent('dca', 'dcc', 1)
    _page, foreign = elsewhere.list_page(page_size=1)
    before = everything(served)

    def old(data):  # the JSON tokens of before, as a forger would write them
        return base64.urlsafe_b64encode(data.encode()).decode().rstrip('=')

    flipped = token[:10] + ('A' if token[10] != 'A' else 'B') + token[11:]
    forged = [
        old('{"after": 1e999, "query": ["red", 0, ""]}'),
        old('[' * 5000 + ']' * 5000),
        old('{"after": 1, "query": ["red", 0, ""]}'),
        flipped,
        token[:-1],
        token + 'A',
        foreign,  # another server's: another key
        'é' * len(token),
        '=' * len(token),
    ]
    for bad in forged:
        error = refused(
            lambda: red.list_page(page_size=1, page_token=bad), CODE.INVALID_ARGUMENT, 'page_token'
        )
        assert error.message.startswith('page_token:') and len(error.message) < 200, error
    refused(lambda: red.list_page(page_token='x' * 10_000), CODE.INVALID_ARGUMENT, 'page_token', 'at most')
    assert everything(served) == before
    page, _next = red.list_page(page_size=1, page_token=token)  # the real one still works
    assert len(page) == 1


def test_bytes_that_do_not_decode_are_invalid_arguments_before_authentication(serve, caplog):
    served = serve()
    before = everything(served)
    caplog.set_level(logging.INFO)
    methods = [m for s in SERVICES for m in s.methods]
    for method in methods:
        for metadata in ((), (('authorization', 'Bearer ' + served.tokens['operator']),)):
            code, details = raw_call(served, method, NOT_PROTOBUF, metadata)
            assert code == CODE.INVALID_ARGUMENT, (method.full_name, code, details)
            assert details.startswith('request: not a valid protobuf message'), details
    assert everything(served) == before
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING], caplog.text
    refusals = [r for r in caplog.records if 'refused before authentication' in r.getMessage()]
    assert 1 <= len(refusals) <= RATE < 2 * len(methods)  # one line each, a few at most
    assert all('\n' not in r.getMessage() and len(r.getMessage()) < 300 for r in refusals)


@pytest.mark.parametrize(
    ('change', 'field'),
    [
        ({'src_site': 'x' * 17_000}, 'src_site'),
        ({'dst_site': 'é' * 70}, 'dst_site'),
        ({'description': 'd' * 1025}, 'description'),
        ({'labels': {'k' * 64: 'v'}}, 'labels'),
        ({'labels': {'app': 'v' * 64}}, 'labels'),
        ({'src_prefixes': ['1' * 44]}, 'src_prefixes[0]'),
    ],
)
def test_strings_over_their_limit_are_refused_naming_the_field(serve, change, field):
    served = serve()
    red = served.client('red')
    before = everything(served)
    order = {'src_site': 'dca', 'dst_site': 'dcb', 'bandwidth_gbps': 1} | change
    request = service.CreateIntentRequest(intent=intent_pb2.Intent(**order))
    error = refused(lambda: red._unary('CreateIntent', request), CODE.INVALID_ARGUMENT, 'at most')
    assert error.message.startswith(field + ':') and len(error.message) < 200, error
    batch = service.CreateIntentsRequest(orders=[service.CreateIntentRequest(), request])
    error = refused(lambda: red._unary('CreateIntents', batch), CODE.INVALID_ARGUMENT, 'at most')
    assert error.message.startswith(f'orders[1].{field}:'), error
    assert everything(served) == before


def test_long_values_are_cut_short_where_they_are_echoed(serve, caplog):
    """Within their limits, wrong values are echoed in a few dozen characters at most."""
    served = serve()
    red = served.client('red')
    caplog.set_level(logging.INFO)
    error = refused(lambda: red.create_intent('x' * 64, 'dcb', 1), CODE.INVALID_ARGUMENT, 'src_site')
    assert 'x' * 40 not in error.message and len(error.message) < 120, error
    error = refused(
        lambda: red.create_intent('dca', 'dcb', 1, request_id='!' * 64), CODE.INVALID_ARGUMENT, 'request_id'
    )
    assert '!' * 40 not in error.message, error
    bad = service.CreateIntentRequest(request_id='r' * 1_000_000)
    error = refused(lambda: red._unary('CreateIntent', bad), CODE.INVALID_ARGUMENT, 'request_id')
    assert len(error.message) < 200
    assert max(len(r.getMessage()) for r in caplog.records) < 400


def test_credentials_must_be_one_header_with_exactly_the_token(serve):
    served = serve()
    token = served.tokens['red']
    method = intent_service_pb2.DESCRIPTOR.services_by_name['IntentService'].methods_by_name['ListIntents']
    for metadata in (  # (a tab or a space at the end: gRPC itself refuses the header)
        (('authorization', f'Bearer {token}'), ('authorization', f'Bearer {token}')),
        (('authorization', f'Bearer {token}'), ('authorization', 'Bearer not-a-token')),
        (('authorization', 'Bearer not-a-token'), ('authorization', f'Bearer {token}')),
        (('authorization', f'Bearer  {token}'),),
        (('authorization', f'Basic {token}'),),
    ):
        method = intent_service_pb2.DESCRIPTOR.services_by_name['IntentService'].methods_by_name[
            'ListIntents'
        ]
        code, details = raw_call(served, method, b'', metadata)
        assert code == CODE.UNAUTHENTICATED and 'authorization' in details, (metadata, code, details)
    assert raw_call(served, method, b'', (('authorization', f'bearer {token}'),))[0] == CODE.OK


def test_rates_below_a_megabit_are_refused_and_a_full_quota_admits_nothing_more(serve):
    served = serve(quotas={'red': 1.0})
    red = served.client('red')
    before = everything(served)
    for gbps in (1e-9, MIN_BANDWIDTH_GBPS / 2):
        refused(
            lambda: red.create_intent('dca', 'dcb', gbps), CODE.INVALID_ARGUMENT, 'bandwidth_gbps', '1 Mb/s'
        )
    refused(
        lambda: red.create_intent('dca', 'dcb', 1, excess_gbps=1e-9), CODE.INVALID_ARGUMENT, 'excess_gbps'
    )
    assert everything(served) == before
    # Ten tenths make the quota exactly, though their float sum is 0.9999999999999999.
    sites = [('dca', 'dcb'), ('dca', 'dcc'), ('dcb', 'dcc')]
    made = [red.create_intent(*sites[0], 0.1), red.create_intent(*sites[1], 0.1)]
    made.append(red.create_intent(*sites[2], 0.8))
    assert sum(i.bandwidth_gbps for i in made) == pytest.approx(1.0)
    full = everything(served)
    answer = red.check_intent('dca', 'dcb', MIN_BANDWIDTH_GBPS)
    assert not answer.admissible and answer.quota_left_gbps == 0 and 'quota' in answer.reason, answer
    red.update_intent(made[0].id, bandwidth_gbps=0.1)  # no change: no quota needed
    refused(
        lambda: red.update_intent(made[0].id, bandwidth_gbps=0.101), CODE.RESOURCE_EXHAUSTED, 'quota_gbps'
    )
    assert everything(served)[:2] == full[:2]
