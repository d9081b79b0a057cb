"""One function puts a controller together from its parts: the core on a fabric and a store,
the runtime (its lock and clock), the gRPC API with its auth, and a southbound (os-ken's
OpenFlow app, or the loopback). naas-controller, the API tests and the benchmarks all use it.

    controller = assemble(load_fabric('triangle'), Store(path), auth, southbound='loopback')
    ...                                   # controller.grpc_port, controller.runtime
    controller.stop()

With `http_address`, it also serves /metrics (and the web view) over HTTP (northbound/http.py).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from controller.core.controller import Controller
from controller.core.restore import Restored
from controller.core.routes import BURST_MS
from controller.northbound.http import HttpServer
from controller.northbound.metrics import Metrics
from controller.northbound.reads import Reads
from controller.northbound.seat import Seat
from controller.northbound.server import create_server
from controller.northbound.web import Web, routes
from controller.runtime import Clock, Runtime

LOG = logging.getLogger('naas.controller')


@dataclass
class FollowerApi:
    """What a follower ran that its core takes over when it leads: its API (server, read model
    fed by the mirror until `unfollow`, seat, metrics, HTTP server and web view) and its OpenFlow
    connections."""

    server: object
    port: int
    seat: Seat
    reads: Reads
    unfollow: Callable[[], None]
    southbound: object | None  # os-ken's FabricApp, following; None: loopback
    generation: int  # the lead's (etcd), for the switches
    metrics: Metrics
    http: HttpServer | None
    web: Web

    def lead(self, runtime: Runtime) -> tuple[object, int]:
        """Serve from `runtime`'s core from now on: reads from its commits, calls through it."""
        self.unfollow()
        runtime.call(lambda core, now: self.reads.attach(core))
        self.seat.runtime = runtime
        return self.server, self.port


@dataclass
class Assembly:
    core: Controller
    runtime: Runtime
    grpc_server: object
    grpc_port: int
    southbound: object
    store: object
    metrics: Metrics
    http: HttpServer | None
    web: Web

    def stop(self, grace_s: float | None = 1.0) -> None:
        """The APIs first (no new calls, the web view's streams ended), then the southbound,
        then the store."""
        if self.http is not None:
            self.http.stop()
        self.web.stop()
        self.grpc_server.stop(grace=grace_s).wait()
        self.southbound.stop()
        if self.store is not None:
            self.store.close()


def assemble(
    fabric,
    store,
    auth,
    *,
    policy=None,
    headroom=0.1,
    burst_ms=BURST_MS,
    grpc_address='127.0.0.1:0',
    http_address: tuple[str, int] | None = None,
    tls=None,
    southbound='loopback',
    openflow_address=('127.0.0.1', 6653),
    on_fatal=None,
    api: 'FollowerApi | None' = None,
    restored: Restored | None = None,
) -> Assembly:
    """A running controller. `store`: a Store (or None: nothing kept); `auth`: who may call the
    API and each tenant's quota; `tls`: (certificate PEM, key PEM) or None; `southbound`:
    'openflow' (listening on `openflow_address`; `on_fatal` is called if a handler fails) or
    'loopback' (no switches: every plan counts as installed at once). `api`: the API a replica
    served while it followed, which the new leader's core now serves (controller/replica.py);
    by default a new server on `grpc_address`. `restored`: the intents the core starts from
    (a replica's, kept while it followed); by default what `store` loads. `http_address`:
    (host, port) to serve /metrics and the web view on (the follower's server, if `api`)."""
    clock = Clock()
    core = Controller(
        fabric,
        headroom=headroom,
        burst_ms=burst_ms,
        store=store,
        quotas=auth.quotas,
        policy=policy,
        now=clock(),
        restored=restored,
    )
    core.subscribe(_log_event)
    runtime = Runtime(core, clock)
    if api is None:
        reads, metrics, web = Reads(), Metrics(), Web()
        runtime.call(lambda core, now: reads.attach(core))
        server, port, http = *create_server(runtime, auth, grpc_address, reads, metrics, tls), None
    else:
        server, port = api.lead(runtime)
        reads, metrics, http, web = api.reads, api.metrics, api.http, api.web
    metrics.fabric.lead(runtime, reads)
    web.lead(runtime, reads)
    try:
        if api is None and http_address is not None:
            http = serve_http(http_address, metrics, web, auth)
        if api is not None and api.southbound is not None:  # a follower's switches, kept
            south = api.southbound.lead(runtime, api.generation)
        elif southbound == 'openflow':
            south = start_os_ken(
                openflow_address,
                runtime=runtime,
                on_fatal=on_fatal or (lambda: None),
                registry=metrics.registry,
            )
        elif southbound == 'loopback':
            from controller.southbound.loopback import Loopback

            south = Loopback(runtime).start()
        else:
            raise ValueError(f'southbound must be openflow or loopback, got {southbound!r}')
    except BaseException:
        if http is not None:
            http.stop()
        server.stop(grace=None)
        raise
    return Assembly(core, runtime, server, port, south, store, metrics, http, web)


def serve_http(address: tuple[str, int], metrics: Metrics, web: Web, auth) -> HttpServer:
    """The HTTP server of a controller (or of a follower, before it leads): /metrics and the
    web view (northbound/web)."""
    return HttpServer(address, {'/metrics': metrics.route, **routes(web)}, auth)


ANSWERED = ('placing', 'deleted')  # reasons of events that only restate an API call's log line


def _log_event(e):
    level = logging.DEBUG if e.reason in ANSWERED else logging.INFO
    LOG.log(level, 'intent %s (%s): %s, %s', e.intent_id, e.tenant, e.state.value, e.reason)


def start_os_ken(address, **app_kwargs):
    """os-ken listening on `address` (host, port) with our app (FabricApp(**app_kwargs)) as its
    only app besides its OpenFlow handshake handler, on native threads (no eventlet): cfg.CONF
    is os-ken's process-wide configuration, so once a process."""
    from os_ken import cfg
    from os_ken.base.app_manager import AppManager

    host, port = address
    cfg.CONF(args=[], project='os_ken')
    cfg.CONF.set_override('ofp_listen_host', host)
    cfg.CONF.set_override('ofp_tcp_listen_port', port)
    manager = AppManager.get_instance()
    manager.load_apps(['controller.southbound.app'])
    contexts = manager.create_contexts()
    manager.instantiate_apps(**app_kwargs, **contexts)
    return manager.applications['FabricApp']
