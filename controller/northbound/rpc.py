"""What every API method does first and last: find the caller from its bearer token
(UNAUTHENTICATED without a valid one), and turn the core's refusals into status codes."""

import functools
import inspect
import logging

import grpc

from controller.core.errors import CoreError
from controller.northbound.convert import status_of

LOG = logging.getLogger('naas.northbound')


def rpc(method):
    """Decorate a servicer method `(self, request, context, caller)`; the servicer has `auth`."""

    def caller_of(self, context):
        caller = self.auth.caller(context.invocation_metadata())
        if caller is None:
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                'authorization: send a valid token as "authorization: Bearer <token>"',
            )
        return caller

    def refuse(context, caller, error):
        code = status_of(error)
        LOG.info('%s by %s refused: %s %s', method.__name__, caller.name, code.name, error)
        context.abort(code, str(error))

    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def stream(self, request, context):
            caller = caller_of(self, context)
            try:
                yield from method(self, request, context, caller)
            except CoreError as e:
                refuse(context, caller, e)

        return stream

    @functools.wraps(method)
    def unary(self, request, context):
        caller = caller_of(self, context)
        try:
            return method(self, request, context, caller)
        except CoreError as e:
            refuse(context, caller, e)

    return unary
