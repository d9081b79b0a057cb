"""What every API method does first and last: find the caller from its bearer token
(UNAUTHENTICATED without a valid one), and turn the core's refusals into status codes."""

import functools
import inspect
import logging

import grpc

from controller.core.errors import CoreError
from controller.northbound.convert import status_of
from controller.northbound.seat import LEADER_KEY, NotLeader

LOG = logging.getLogger('naas.northbound')
MAX_DETAILS = 2000  # characters of an error message: far under a client's 16 KB of metadata


def rpc(method):
    """Decorate a servicer method `(self, request, context, caller)`; the servicer has `auth`."""

    def caller_of(self, context):
        caller = self.auth.caller(context.invocation_metadata())
        if caller is None:
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                'authorization: send one valid token as "authorization: Bearer <token>"',
            )
        return caller

    def refuse(context, caller, error):
        code, details = status_of(error), str(error)
        if len(details) > MAX_DETAILS:
            details = details[: MAX_DETAILS - 3] + '...'
        leader = getattr(error, 'leader_address', None)  # a follower names the leader (seat.py)
        level = logging.DEBUG if isinstance(error, NotLeader) else logging.INFO  # clients follow it
        LOG.log(level, '%s by %s refused: %s %s', method.__name__, caller.name, code.name, details)
        if leader:
            context.set_trailing_metadata(((LEADER_KEY, leader),))
        context.abort(code, details)

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
