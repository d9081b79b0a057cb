"""TopologyService: the fabric as the controller sees it, now and as it changes."""

import threading

import grpc

from controller.northbound import convert
from controller.northbound.rpc import rpc
from naas.v1 import topology_service_pb2 as pb
from naas.v1 import topology_service_pb2_grpc

INTERVAL_MS, MIN_INTERVAL_MS = 2000, 200
POLL_S = 0.1  # how soon a span or switch state change is noticed


class TopologyService(topology_service_pb2_grpc.TopologyServiceServicer):
    def __init__(self, runtime, auth):
        self.runtime, self.auth = runtime, auth

    @rpc
    def GetTopology(self, request, context, caller):
        return pb.GetTopologyResponse(topology=self.runtime.call(convert.topology_message))

    @rpc
    def WatchTopology(self, request, context, caller):
        if request.interval_ms < 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, 'interval_ms: must be >= 0')
        interval_s = max(request.interval_ms or INTERVAL_MS, MIN_INTERVAL_MS) / 1000
        gone = threading.Event()
        context.add_callback(gone.set)
        while context.is_active():
            snapshot = self.runtime.call(convert.topology_message)
            yield pb.WatchTopologyResponse(topology=snapshot)
            states = _states(snapshot)
            waited = 0.0
            while waited < interval_s and not gone.wait(POLL_S):
                waited += POLL_S
                if self.runtime.call(lambda core, now: _core_states(core)) != states:
                    break


def _states(topology):
    return (tuple(s.connected for s in topology.sites), tuple(s.up for s in topology.spans))


def _core_states(core):
    return (
        tuple(core.connected(site) for site in core.fabric.sites),
        tuple(span.up for span in core.topology.spans.values()),
    )
