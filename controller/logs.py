"""The controller's log: bounded, and never a token.

Every record passes Hygiene on its way out: a bearer token in it is left out, whatever logged
it and at whatever level; a line is cut to MAX_LINE characters; and what grpcio itself logs
about requests (anyone who reaches the port can make it log) comes at most RATE lines per
RATE_S seconds, one line each, without a traceback for what clients sent. grpcio logs a
header value that is not UTF-8 in full, `authorization: Bearer <token>` included: that line
says so without the value.
"""

import logging
import re
import threading
import time

MAX_LINE = 2000
RATE, RATE_S = 10, 10.0
BEARER = re.compile(r'(?i)(bearer\s+)\S+')
CLIENT_INPUT = ('grpc._cython', 'grpc._common')  # loggers whose errors are about what a client sent


class RateLimit:
    """At most `burst` events per `every_s` seconds; `allow()` -> (allowed, left out since the
    last one allowed)."""

    def __init__(self, burst=RATE, every_s=RATE_S):
        self.burst, self.every_s = burst, every_s
        self._lock = threading.Lock()
        self._start, self._count, self._left_out = float('-inf'), 0, 0

    def allow(self):
        with self._lock:
            now = time.monotonic()
            if now - self._start >= self.every_s:
                self._start, self._count = now, 0
            if self._count >= self.burst:
                self._left_out += 1
                return False, 0
            self._count += 1
            left_out, self._left_out = self._left_out, 0
            return True, left_out


class Hygiene(logging.Filter):
    def __init__(self):
        super().__init__()
        self._grpc = RateLimit()

    def filter(self, record):
        message = record.getMessage()
        if record.name.startswith('grpc'):
            allowed, left_out = self._grpc.allow()
            if not allowed:
                return False
            if record.name.startswith(CLIENT_INPUT):
                if message.startswith('Invalid encoding'):
                    message = 'a request header value is not UTF-8 (the value is left out)'
                record.exc_info, record.exc_text, record.stack_info = None, None, None
                message = message.replace('\n', ' ')
            if left_out:
                message += f' ({left_out} more from grpc left out)'
        message = BEARER.sub(r'\1<token left out>', message)
        if len(message) > MAX_LINE:
            message = message[: MAX_LINE - 3] + '...'
        record.msg, record.args = message, None
        return True


def install():
    """Put Hygiene on every handler of the root logger (after logging.basicConfig)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(Hygiene())
