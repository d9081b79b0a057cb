"""What every request meets before any method, on every service (ours, health, reflection):
it must decode, and every string in it must be within its documented length (docs/api.md,
"Limits"). A request that fails either is refused with INVALID_ARGUMENT naming the field,
before authentication: anyone who can reach the port can send bytes, and they must reach
neither the code nor, beyond one short line now and then, the log.

Without this, grpcio answers bytes that do not decode with INTERNAL and logs a traceback for
each; and an over-long value would be echoed in an error message bigger than a client's
metadata limit (the client then sees RESOURCE_EXHAUSTED, not what was wrong)."""

import logging
import re

import grpc
from google.protobuf.descriptor import FieldDescriptor

from controller.core.errors import shown
from controller.logs import RateLimit

LOG = logging.getLogger('naas.northbound')
MAX_TEXT = 1024  # characters of any string field not in LIMITS
LIMITS = {  # field name -> characters (bytes for bytes fields) at most
    'id': 32,  # an intent id, i-<number>
    'intent_id': 32,
    'tenant': 64,
    'src_site': 64,
    'dst_site': 64,
    'site': 64,
    'request_id': 64,
    'page_token': 64,
    'src_prefixes': 43,  # an IPv6 CIDR at its longest
    'dst_prefixes': 43,
    'labels': 63,  # keys and values alike
    'paths': 64,  # update_mask
    'description': 1024,
}


class Refused:
    """What a request that cannot be served decodes to: the field and what is wrong."""

    def __init__(self, field, message):
        self.field, self.message = field, message

    def __str__(self):
        return f'{self.field}: {self.message}'


def too_long(message, prefix=''):
    """A Refused naming the first string in `message` over its limit, or None. A map entry is
    named by its map (`labels`), its key shown in the message: keys can be any text."""
    for field, value in message.ListFields():
        name = prefix + field.name
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                for key, item in value.items():
                    refused = _check_text(name, field.name, key, 'a key: ') or (
                        too_long(item, f'{name}.')
                        if hasattr(item, 'ListFields')
                        else _check_text(name, field.name, item, f'the value of {shown(key)}: ')
                    )
                    if refused:
                        return refused
            else:
                for i, item in enumerate(value) if field.is_repeated else [(None, value)]:
                    refused = too_long(item, f'{name}.' if i is None else f'{name}[{i}].')
                    if refused:
                        return refused
        elif field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
            for i, item in enumerate(value) if field.is_repeated else [(None, value)]:
                refused = _check_text(name if i is None else f'{name}[{i}]', field.name, item)
                if refused:
                    return refused
    return None


def _check_text(where, name, value, what=''):
    limit = LIMITS.get(name, MAX_TEXT)
    if len(value) > limit:
        unit = 'bytes' if isinstance(value, bytes) else 'characters'
        return Refused(_as_named(where), f'{what}at most {limit} {unit}, got {len(value)}')
    return None


def _as_named(path):
    """A field path as the API's other errors name it: an Intent's fields as the core names
    them (`description`, `orders[2].labels`), but its tenant as the request holds it
    (`intent.tenant`: the token decides it)."""
    return re.sub(r'(^|\.)intent\.(?!tenant\b)', r'\1', path)


class RequestGuard(grpc.ServerInterceptor):
    def __init__(self):
        self._refusals = RateLimit()

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or handler.request_deserializer is None:
            return handler
        method, parse = details.method, handler.request_deserializer

        def decode(data):
            try:
                message = parse(data)
            except Exception:  # any bytes at all may come: none may raise here
                return Refused(
                    'request', f'not a valid protobuf message for {method[:100]} ({len(data)} bytes)'
                )
            refused = too_long(message)
            return message if refused is None else refused

        def refuse(context, refused):
            allowed, left_out = self._refusals.allow()  # anyone can send these: one line now and then
            if allowed:
                more = f' ({left_out} more refused, not logged)' if left_out else ''
                LOG.info('%s refused before authentication: INVALID_ARGUMENT %s%s', method, refused, more)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(refused))

        def checked(requests, context):
            for request in requests:
                if isinstance(request, Refused):
                    refuse(context, request)
                yield request

        def one(behaviour):
            def run(request, context):
                if isinstance(request, Refused):
                    refuse(context, request)
                return behaviour(request, context)

            return run

        def many(behaviour):
            return lambda requests, context: behaviour(checked(requests, context), context)

        kind = (
            ('stream' if handler.request_streaming else 'unary')
            + '_'
            + ('stream' if handler.response_streaming else 'unary')
        )
        wrap = many if handler.request_streaming else one
        return handler._replace(request_deserializer=decode, **{kind: wrap(getattr(handler, kind))})
