"""The web view's data: the fabric (read under the runtime's lock, as a copy, converted after),
the intents (from the read model: no lock) and, for each open page, a stream of server-sent
events: `intents` (a batch of intent events with the intents they changed), `topology` at once
when a switch or span changes state, `fabric` every REFRESH_S with the spans' figures, and
`resync` when the page fell so far behind that it must read the intents again.

A follower replica has no core: its routes say so (503, naming the leader it knows) and its
streams end at once, so a page keeps retrying until this replica leads."""

import json
import threading
import time
from collections.abc import Callable
from http import HTTPStatus

from controller.core.errors import NotFound
from controller.core.intent import IntentEvent
from controller.core.topology import TopologyEvent
from controller.northbound.http import Reply, Request, Stream, sse
from controller.northbound.web import figures
from controller.northbound.web.feed import Feed

REFRESH_S = 1.0  # the spans' figures (utilization, reservations, delay), pushed to each page
GATHER_S = 0.1  # after a batch of intent events is sent, let the next gather: at most 10 frames a second
RETRY = b'retry: 2000\n\n'  # how soon a page's EventSource tries again once a stream ends
JSON = 'application/json'


class Web:
    def __init__(self, leader: Callable[[], tuple[str, str] | None] = lambda: None) -> None:
        """`leader()`: on a follower replica, (name, gRPC address) of the leader it knows."""
        self.runtime = self.reads = None
        self._leader = leader
        self._feeds: set[Feed] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def lead(self, runtime, reads) -> None:
        """From now on this controller leads: show its core's fabric and the read model's intents."""
        reads.watch(self._heard, None, None, False, 0.0)
        runtime.call(lambda core, now: core.subscribe(self._changed, TopologyEvent))
        self.runtime, self.reads = runtime, reads

    def stop(self) -> None:
        """End every stream (the controller stops)."""
        self._stopping.set()
        with self._lock:
            feeds = list(self._feeds)
        for feed in feeds:
            feed.close()

    def _heard(self, event: IntentEvent) -> None:  # under the read model's lock: quick
        with self._lock:
            for feed in self._feeds:
                feed.intent(event)

    def _changed(self, _event: TopologyEvent) -> None:  # on the store's group thread: quick
        with self._lock:
            for feed in self._feeds:
                feed.topology()

    # --- routes -------------------------------------------------------------------------------

    def fabric(self, request: Request) -> Reply:
        if self.runtime is None:
            return self._follower()
        return _json(self._fabric())

    def intents(self, request: Request) -> Reply:
        if self.reads is None:
            return self._follower()
        tenant = request.query.get('tenant') or None
        views, delays = self.reads.snapshot()  # by number
        shown = [figures.intent(v.measured(delays)) for v in views if tenant in (None, v.tenant)]
        return _json({'intents': shown})

    def events(self, request: Request) -> Stream:
        if self._stopping.is_set():
            return Stream(iter([]))
        if self.runtime is None:
            return Stream(iter([RETRY, sse(json.dumps(self._role()), 'follower')]))
        feed = Feed()
        with self._lock:
            self._feeds.add(feed)

        def close() -> None:
            with self._lock:
                self._feeds.discard(feed)

        return Stream(self._stream(feed), close)

    def _stream(self, feed: Feed):
        yield RETRY + sse(json.dumps(self._fabric()), 'fabric')
        refresh = time.monotonic() + REFRESH_S
        while not self._stopping.is_set():
            events, lost, topology = feed.take(max(0.0, refresh - time.monotonic()))
            if self._stopping.is_set():
                return
            if lost:
                yield sse('{}', 'resync')
            elif events:
                yield sse(json.dumps(self._batch(events)), 'intents')
            if topology or time.monotonic() >= refresh:
                yield sse(json.dumps(self._fabric()), 'topology' if topology else 'fabric')
                refresh = time.monotonic() + REFRESH_S
            if events:
                self._stopping.wait(GATHER_S)

    def _fabric(self) -> dict:
        view, now = self.runtime.call(lambda core, now: (core.topology_view(), now))
        return figures.fabric(view, now)

    def _batch(self, events: list[IntentEvent]) -> dict:
        """The events, and each intent they name as it is now (or gone: withdrawn)."""
        intents, gone = [], []
        for intent_id in dict.fromkeys(e.intent_id for e in events):
            try:
                intents.append(figures.intent(self.reads.get(intent_id)))
            except NotFound:
                gone.append(intent_id)
        return {'events': [figures.event(e) for e in events], 'intents': intents, 'gone': gone}

    def _role(self) -> dict:
        leader = self._leader()
        return {
            'role': 'follower',
            'leader': {'name': leader[0], 'grpc': leader[1]} if leader else None,
            'message': 'this controller follows: the leader shows the fabric'
            + (f' ({leader[0]}, gRPC {leader[1]})' if leader else ' (none elected yet)'),
        }

    def _follower(self) -> Reply:
        return _json(self._role(), HTTPStatus.SERVICE_UNAVAILABLE)


def _json(doc: dict, status: int = HTTPStatus.OK) -> Reply:
    return Reply(json.dumps(doc, separators=(',', ':')).encode(), JSON, status)
