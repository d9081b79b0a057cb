"""The API fuzzed over a real socket: random messages of every request type (built from the
proto descriptors: any string, number, enum value, list and map) and random bytes, sent to
every method with and without a token. Whatever comes: no INTERNAL or UNKNOWN, every error a
canonical code with a short message (INVALID_ARGUMENT ones naming the field first), and a
refused call changes nothing."""

import re

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor as FD
from hypothesis import given, settings
from hypothesis import strategies as st

from naas.v1 import intent_service_pb2, topology_service_pb2
from tests.api.test_intents import CODE, everything

METHODS = [
    m
    for module, name in ((intent_service_pb2, 'IntentService'), (topology_service_pb2, 'TopologyService'))
    for m in module.DESCRIPTOR.services_by_name[name].methods
]
NEVER = {CODE.INTERNAL, CODE.UNKNOWN}
FIELD_FIRST = re.compile(r'[a-z_]+(\[\d+\])?(\.[a-z_]+(\[\d+\])?)*: ')  # orders[2].intent.tenant: ...
SETTINGS = settings(max_examples=150, deadline=None)

SITES = st.sampled_from(['dca', 'dcb', 'dcc', 'phx1', '', 'DCA'])
TEXT = st.one_of(SITES, st.text(max_size=30), st.text(min_size=60, max_size=2000))
NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1e-9, 0.001, 1.0, 5.0, 1e6]),
)


def _scalar(field):
    t = field.type
    if t == FD.TYPE_STRING:
        return TEXT
    if t == FD.TYPE_BYTES:
        return st.binary(max_size=50)
    if t in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        return NUMBER if t == FD.TYPE_DOUBLE else st.floats(width=32, allow_nan=True)
    if t == FD.TYPE_BOOL:
        return st.booleans()
    if t == FD.TYPE_ENUM:
        return st.integers(-3, len(field.enum_type.values) + 2)
    if t in (FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32):
        return st.integers(-(2**31), 2**31 - 1)
    if t in (FD.TYPE_UINT32, FD.TYPE_FIXED32):
        return st.integers(0, 2**32 - 1)
    if t in (FD.TYPE_UINT64, FD.TYPE_FIXED64):
        return st.integers(0, 2**64 - 1)
    return st.integers(-(2**63), 2**63 - 1)


@st.composite
def messages(draw, descriptor, depth=0):
    """A message of `descriptor`'s type with any of its fields set to anything."""
    message = message_factory.GetMessageClass(descriptor)()
    for field in descriptor.fields:
        if not draw(st.booleans()):
            continue
        if field.type == FD.TYPE_MESSAGE:
            entry = field.message_type
            if entry.GetOptions().map_entry:
                key, value = entry.fields_by_name['key'], entry.fields_by_name['value']
                for k, v in draw(st.dictionaries(_scalar(key), _scalar(value), max_size=3)).items():
                    getattr(message, field.name)[k] = v
            elif depth < 3:
                count = draw(st.integers(0, 3)) if field.is_repeated else 1
                for _ in range(count):
                    item = draw(messages(entry, depth + 1))
                    target = getattr(message, field.name)
                    (target.add() if field.is_repeated else target).CopyFrom(item)
        elif field.is_repeated:
            getattr(message, field.name).extend(draw(st.lists(_scalar(field), max_size=3)))
        else:
            setattr(message, field.name, draw(_scalar(field)))
    return message


def call(served, method, data, who):
    """-> (code, details) of one call of `method` with `data` (bytes), as `who`."""
    metadata = (('authorization', 'Bearer ' + served.tokens[who]),) if who else ()
    path = f'/{method.containing_service.full_name}/{method.name}'
    channel = grpc.insecure_channel(served.target)
    try:
        if method.server_streaming:
            stream = channel.unary_stream(path)(data, metadata=metadata, timeout=0.3)
            next(iter(stream))
        else:
            channel.unary_unary(path)(data, metadata=metadata, timeout=5)
        return CODE.OK, ''
    except grpc.RpcError as e:
        return e.code(), e.details() or ''
    finally:
        channel.close()


def check(served, method, data, who):
    before = everything(served)
    code, details = call(served, method, data, who)
    assert code not in NEVER, (method.name, code, details)
    assert len(details) < 2100, (method.name, code, len(details))
    if code == CODE.INVALID_ARGUMENT:
        assert FIELD_FIRST.match(details), (method.name, details)
    if code not in (CODE.OK, CODE.DEADLINE_EXCEEDED):
        assert everything(served) == before, (method.name, code, details)


@pytest.mark.parametrize('method', METHODS, ids=lambda m: m.name)
def test_random_messages(serve, method):
    served = serve()

    @SETTINGS
    @given(message=messages(method.input_type), who=st.sampled_from(['red', 'blue', 'operator', None]))
    def fuzz(message, who):
        check(served, method, message.SerializeToString(), who)

    fuzz()


def test_random_bytes(serve):
    served = serve()

    @SETTINGS
    @given(data=st.binary(max_size=200), method=st.sampled_from(METHODS), who=st.sampled_from(['red', None]))
    def fuzz(data, method, who):
        check(served, method, data, who)

    fuzz()
