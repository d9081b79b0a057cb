"""TopologyService: the fabric as the controller sees it, now and as it changes.

A watcher gets a snapshot at once, then whenever a switch or span changes state (the core's
topology events wake it: nothing polls) and at least every `interval_ms` for the measured
figures (delays, utilization, reservations) that change all the time."""

import threading

import grpc

from controller.core.topology import TopologyEvent
from controller.northbound import convert
from controller.northbound.rpc import rpc
from naas.v1 import topology_service_pb2 as pb
from naas.v1 import topology_service_pb2_grpc

INTERVAL_MS, MIN_INTERVAL_MS = 2000, 200


class TopologyService(topology_service_pb2_grpc.TopologyServiceServicer):
    def __init__(self, runtime, auth):
        self.runtime, self.auth = runtime, auth

    @rpc
    def GetTopology(self, request, context, caller):
        view, now = self.runtime.call(lambda core, now: (core.topology_view(), now))
        return pb.GetTopologyResponse(topology=convert.topology_message(view, now))

    @rpc
    def WatchTopology(self, request, context, caller):
        if request.interval_ms < 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, 'interval_ms: must be >= 0')
        interval_s = max(request.interval_ms or INTERVAL_MS, MIN_INTERVAL_MS) / 1000
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
