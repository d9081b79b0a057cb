"""TopologyService: the fabric as the controller sees it, now and as it changes.

A watcher gets a snapshot at once, then whenever a switch or span changes state (the core's
topology events wake it: nothing polls) and at least every `interval_ms` for the measured
figures (delays, utilization, reservations) that change all the time."""

import threading
import time

import grpc

from controller.core.topology import TopologyEvent
from controller.northbound import convert
from controller.northbound.rpc import rpc
from naas.v1 import topology_service_pb2 as pb
from naas.v1 import topology_service_pb2_grpc

INTERVAL_MS, MIN_INTERVAL_MS = 2000, 200


class TopologyService(topology_service_pb2_grpc.TopologyServiceServicer):
    def __init__(self, runtime, auth, published=None):
        """`published`: on a replica, the topology the leader published (seat.Published),
        served while this replica follows."""
        self.runtime, self.auth, self.published = runtime, auth, published

    @rpc
    def GetTopology(self, request, context, caller):
        return pb.GetTopologyResponse(topology=self._topology())

    def _topology(self):
        message = self.published.message() if self.published is not None else None
        if message is not None:
            return message
        view, now = self.runtime.call(lambda core, now: (core.topology_view(), now))
        return convert.topology_message(view, now)

    @rpc
    def WatchTopology(self, request, context, caller):
        if request.interval_ms < 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, 'interval_ms: must be >= 0')
        interval_s = max(request.interval_ms or INTERVAL_MS, MIN_INTERVAL_MS) / 1000
        if self.published is not None and self.published.message() is not None:
            yield from self._watch_published(context, interval_s)
            return
        changed, gone = threading.Event(), threading.Event()

        def wake(_event=None):  # under the runtime's lock: never block
            changed.set()

        def leave():
            gone.set()
            changed.set()

        unsubscribe = self.runtime.call(lambda core, now: core.subscribe(wake, TopologyEvent))
        context.add_callback(leave)
        try:
            while context.is_active() and not gone.is_set():
                changed.clear()
                view, now = self.runtime.call(lambda core, now: (core.topology_view(), now))
                yield pb.WatchTopologyResponse(topology=convert.topology_message(view, now))
                changed.wait(interval_s)
        finally:
            self.runtime.call(lambda core, now: unsubscribe())

    def _watch_published(self, context, interval_s):
        """A follower's watch: each topology the leader publishes (at most every `interval_s`
        unless a switch or span changed state), until this replica leads: then the stream
        ends, and a watch started again is the core's."""
        sent = None  # (states, the leader's time of the message, when it was sent)
        while context.is_active():
            message = self.published.message()
            if message is None:
                return
            states = ([s.connected for s in message.sites], [s.up for s in message.spans])
            taken = message.time.ToNanoseconds()
            newer = sent is None or (taken > sent[1] and time.monotonic() - sent[2] >= interval_s)
            if newer or states != sent[0]:
                yield pb.WatchTopologyResponse(topology=message)
                sent = (states, taken, time.monotonic())
            self.published.wait(interval_s)
