"""The gRPC server: IntentService and TopologyService, plus standard health checking and
server reflection (unauthenticated, so generic gRPC tools work), in or out of TLS."""

from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from controller.northbound.guard import RequestGuard
from controller.northbound.intents import IntentService
from controller.northbound.topology import TopologyService
from naas.v1 import (
    intent_service_pb2,
    intent_service_pb2_grpc,
    topology_service_pb2,
    topology_service_pb2_grpc,
)

# Watch streams hold a thread each for as long as they last: leave room for them.
MAX_WORKERS = 128
DESCRIPTORS = (
    intent_service_pb2.DESCRIPTOR.services_by_name['IntentService'],
    topology_service_pb2.DESCRIPTOR.services_by_name['TopologyService'],
)
SERVICES = tuple(d.full_name for d in DESCRIPTORS)


def create_server(runtime, auth, address, reads, metrics, tls=None, published=None):
    """A started server on `address` ('127.0.0.1:0' picks a port) -> (server, port). `reads`:
    the read model (fed by the core, or by a replica's mirror); `metrics`: where its calls are
    counted. `tls`: (certificate PEM bytes, private key PEM bytes) or None. `published`: a
    follower's topology (seat.Published), served while it follows."""
    # No SO_REUSEPORT: a second controller on the same port must fail, not share it.
    server = grpc.server(
        futures.ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix='grpc'),
        # Counted first: what the guard refuses is a call answered too.
        interceptors=[
            metrics.interceptor((*DESCRIPTORS, health_pb2.DESCRIPTOR.services_by_name['Health'])),
            RequestGuard(),
        ],
        options=[
            ('grpc.so_reuseport', 0),
            # Clients of replicas ping every second to find one that hangs (naasctl.client).
            ('grpc.http2.min_ping_interval_without_data_ms', 500),
            ('grpc.keepalive_permit_without_calls', 1),
            ('grpc.http2.max_ping_strikes', 0),
        ],
    )
    intent_service_pb2_grpc.add_IntentServiceServicer_to_server(
        IntentService(runtime, auth, reads, metrics), server
    )
    topology_service_pb2_grpc.add_TopologyServiceServicer_to_server(
        TopologyService(runtime, auth, published), server
    )
    checker = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    for name in ('', *SERVICES):
        checker.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection((*SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    if tls is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, grpc.ssl_server_credentials([(tls[1], tls[0])]))
    if port == 0:
        raise OSError(f'cannot listen for gRPC on {address}')
    server.start()
    return server, port
