"""/metrics: the controller's figures in the Prometheus text format, through prometheus-client
(docs/observability.md lists them). Base units, as Prometheus names them: seconds, bytes per
second (a Gb/s is 125,000,000 of them), ratios.

What happens is counted as it happens, in instruments on one registry per controller: API
calls (an interceptor, outermost, so refusals before authentication count too), placements,
moves, and the southbound's OpenFlow figures (southbound/figures.py). What is a state is read
at each scrape: spans from a copy of the topology taken under the runtime's lock (formatted
after it), intents from the read model (no lock). A follower replica reports its role and
its own API calls only: the leader reports the fabric."""

import re
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from controller.core.intent import IntentEvent, State
from controller.northbound.http import Reply, Request

BYTES_PER_GBIT = 1e9 / 8
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Why an intent moved, from its event's reason (controller/core/placement.py, steering.py,
# planner.py say them); the first that matches names it.
MOVE_REASONS = (
    ('span_down', re.compile(r'^span \S+ (down|stalled|loses)')),
    ('make_room', re.compile(r'make room')),
    ('preemption', re.compile(r'^preempted')),
    ('congestion', re.compile(r'congested')),
    ('latency', re.compile(r'latency|slowed down')),
    ('update', re.compile(r'^updated')),
    ('reoptimization', re.compile(r're-optimi[sz]ed')),
    ('retry', re.compile(r'^retried')),
)


def move_reason(reason: str) -> str:
    for name, pattern in MOVE_REASONS:
        if pattern.search(reason):
            return name
    return 'other'


def is_move(event: IntentEvent) -> bool:
    """A placed intent that left its path for another (not a first placement, nor a loss)."""
    return bool(event.old_path) and bool(event.new_path) and event.old_path != event.new_path


class Metrics:
    """One controller's registry, its instruments, and `route` for the HTTP server."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            'naas_api_requests',
            'gRPC calls answered, by method and status code',
            ['method', 'code'],
            registry=self.registry,
        )
        self.latency = Histogram(
            'naas_api_request_duration_seconds',
            'time to answer a unary gRPC call, by method',
            ['method'],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.placement = Histogram(
            'naas_placement_duration_seconds',
            "time the core spent placing an API call's intents, by call",
            ['operation'],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.fabric = FabricCollector()
        self.registry.register(self.fabric)
        self.methods: frozenset[str] = frozenset()  # the API's, named in full: others count as 'other'

    def route(self, request: Request) -> Reply:
        return Reply(generate_latest(self.registry) + self.fabric.intent_text(), CONTENT_TYPE_LATEST)

    def placing(self, operation: str, fn: Callable, off_lock_s: float = 0.0):
        """fn(core, now) for runtime.call, timed as a placement of `operation` (with
        `off_lock_s` of it done before, off the lock: a batch's joint placement)."""

        def timed(core, now):
            started = time.perf_counter()
            try:
                return fn(core, now)
            finally:
                self.placement.labels(operation).observe(off_lock_s + time.perf_counter() - started)

        return timed

    def interceptor(self, services: Iterable) -> grpc.ServerInterceptor:
        self.methods = frozenset(
            f'/{service.full_name}/{method.name}' for service in services for method in service.methods
        )
        return _ApiMetrics(self)


class FabricCollector:
    """The role, and while leading the spans and intents, read at each scrape."""

    def __init__(self) -> None:
        self.runtime = self.reads = None
        self._moves: dict[str, Tally] = {}  # intent id -> reason -> moves, while it exists
        self._moved: Tally = Tally()  # reason -> moves, fabric-wide
        self._lock = threading.Lock()
        self._families = intent_families()

    def lead(self, runtime, reads) -> None:
        """From now on this controller leads: report its core's fabric and the read model's intents."""
        reads.watch(self._heard, None, None, False, 0.0)
        self.runtime, self.reads = runtime, reads

    def _heard(self, event: IntentEvent) -> None:  # under the read model's lock: quick
        if event.state is State.WITHDRAWN:
            with self._lock:
                self._moves.pop(event.intent_id, None)
        elif is_move(event):
            reason = move_reason(event.reason)
            with self._lock:
                self._moves.setdefault(event.intent_id, Tally())[reason] += 1
                self._moved[reason] += 1

    def describe(self):
        return []

    def collect(self):
        leader = GaugeMetricFamily(
            'naas_controller_leader', '1 while this controller leads (replicas: the others 0)'
        )
        leader.add_metric([], 1.0 if self.runtime is not None else 0.0)
        yield leader
        if self.runtime is None:
            return
        topology = self.runtime.call(lambda core, now: core.topology_view())
        yield from _sites(topology)
        yield from _spans(topology)
        yield from self._intents(self.reads.snapshot()[0])

    def _intents(self, views):
        count = GaugeMetricFamily(
            'naas_intents', 'intents by state and class of service', labels=['state', 'class']
        )
        by = Tally((v.state.value, v.service_class.value) for v in views)
        for (state, cls), n in sorted(by.items()):
            count.add_metric([state, cls], n)
        total = CounterMetricFamily(
            'naas_moves', 'intents moved to another path, by reason', labels=['reason']
        )
        with self._lock:
            moved = dict(self._moved)
        for reason, n in sorted(moved.items()):
            total.add_metric([reason], n)
        yield from (count, total)

    def intent_text(self) -> bytes:
        """The per-intent families, in the text format (empty unless leading)."""
        if self.reads is None:
            return b''
        version = self.reads.version  # before the views: at worst a text is made again
        views, delays = self.reads.snapshot()
        traffic = self.runtime.call(lambda core, now: core.traffic())
        with self._lock:
            moves = {i: sorted(t.items()) for i, t in self._moves.items()}
        latency_s: dict[tuple, float] = {}  # by path: many intents share one

        def latency(path) -> float | None:
            if path is None:
                return None
            if path.links not in latency_s:
                latency_s[path.links] = path.latency_ms(delays) / 1e3
            return latency_s[path.links]

        rows = [(v, latency(v.primary), moves.get(v.id, ()), traffic.get(v.id)) for v in views]
        return b''.join(family.text(rows, version) for family in self._families)


class PerIntent:
    """One per-intent family, its text as prometheus-client wrote it kept for as long as its
    samples stay the same: with 1,000 intents, formatting every sample of every family each
    second cost 4-5 % of a core; most of them change only when an intent does. A family of
    what the read model holds (`of_reads`) is kept while the read model's version stays (no
    samples made to compare); the others compare their samples."""

    def __init__(
        self,
        name: str,
        documentation: str,
        value,
        kind=GaugeMetricFamily,
        labels=('intent',),
        of_reads: bool = False,
    ):
        self.of_reads = of_reads
        self.name, self.documentation, self.value, self.kind, self.labels = (
            name,
            documentation,
            value,
            kind,
            labels,
        )
        self._kept: tuple[tuple | None, bytes] = (None, b'')  # (key, text): one attribute, so
        # that two scrapes at once never leave one's key beside the other's text

    def text(self, rows, version: int) -> bytes:
        kept_key, kept_text = self._kept
        if self.of_reads and kept_key == ('version', version):
            return kept_text
        samples = tuple(sample for row in rows for sample in self.value(*row))
        key = ('version', version) if self.of_reads else samples
        if key == kept_key:
            return kept_text
        family = self.kind(self.name, self.documentation, labels=list(self.labels))
        for labels, value in samples:
            family.add_metric(list(labels), value)
        text = generate_latest(_One(family))
        self._kept = (key, text)
        return text


class _One:
    """A registry of one family, for generate_latest."""

    def __init__(self, family) -> None:
        self.family = family

    def collect(self):
        yield self.family


def _info(v, latency_s, moves, traffic):
    yield (v.id, v.tenant, v.src, v.dst, v.service_class.value, v.protection.value), 1.0


def _committed(v, latency_s, moves, traffic):
    yield (v.id,), v.bandwidth_gbps * BYTES_PER_GBIT


def _installed(v, latency_s, moves, traffic):
    yield (v.id,), 1.0 if v.state is State.INSTALLED else 0.0


def _latency(v, latency_s, moves, traffic):
    if latency_s is not None:
        yield (v.id,), latency_s


def _moves(v, latency_s, moves, traffic):
    for reason, n in moves:
        yield (v.id, reason), float(n)


def _rate_in(v, latency_s, moves, traffic):
    if traffic is not None:
        yield (v.id, 'forward'), traffic.rate_in_forward_gbps * BYTES_PER_GBIT
        yield (v.id, 'reverse'), traffic.rate_in_reverse_gbps * BYTES_PER_GBIT


def _dropped_bytes(v, latency_s, moves, traffic):
    if traffic is not None:
        yield (v.id,), float(traffic.dropped_bytes)


def _dropped_frames(v, latency_s, moves, traffic):
    if traffic is not None:
        yield (v.id,), float(traffic.dropped_frames)


def intent_families() -> list[PerIntent]:
    return [
        PerIntent(
            'naas_intent_info',
            'every intent, with its tenant, ends, class of service and protection (join on intent)',
            _info,
            labels=('intent', 'tenant', 'src', 'dst', 'class', 'protection'),
            of_reads=True,
        ),
        PerIntent(
            'naas_intent_committed_bytes_per_second',
            'committed bandwidth, each direction',
            _committed,
            of_reads=True,
        ),
        PerIntent('naas_intent_installed', '1 while INSTALLED', _installed, of_reads=True),
        PerIntent(
            'naas_intent_path_latency_seconds',
            "its path's one-way latency as measured now (placed intents)",
            _latency,
            of_reads=True,  # the read model's delays count in its version
        ),
        PerIntent(
            'naas_intent_rate_in_bytes_per_second',
            'traffic entering its ingress meter, measured (forward: src to dst), of intents the switches '
            'reported on',
            _rate_in,
            labels=('intent', 'direction'),
        ),
        PerIntent(
            'naas_intent_dropped_bytes',
            "bytes its meters dropped, both ends, as the switches count them (the emulation's scale)",
            _dropped_bytes,
            CounterMetricFamily,
        ),
        PerIntent(
            'naas_intent_dropped_frames',
            'frames its meters dropped, both ends',
            _dropped_frames,
            CounterMetricFamily,
        ),
        PerIntent(
            'naas_intent_moves',
            'moves to another path, by reason (intents that moved)',
            _moves,
            CounterMetricFamily,
            ('intent', 'reason'),
        ),
    ]


def _sites(topology):
    connected = GaugeMetricFamily(
        'naas_site_connected', "1 while the site's switch is connected", labels=['site']
    )
    crossing = GaugeMetricFamily(
        'naas_site_crossing_seconds',
        "what a frame spends crossing the site's switch, measured",
        labels=['site'],
    )
    for s in topology.sites:
        connected.add_metric([s.id], 1.0 if s.connected else 0.0)
        crossing.add_metric([s.id], s.crossing_ms / 1e3)
    switches = GaugeMetricFamily('naas_openflow_switches_connected', 'switches connected to the controller')
    switches.add_metric([], sum(s.connected for s in topology.sites))
    yield from (connected, crossing, switches)


def _spans(topology):
    capacity = GaugeMetricFamily(
        'naas_span_capacity_bytes_per_second', 'capacity, each direction', labels=['span']
    )
    up = GaugeMetricFamily(
        'naas_span_up', '1 while both ends are connected and both ports up', labels=['span']
    )
    labels = ['span', 'from', 'to']
    committed = GaugeMetricFamily(
        'naas_span_committed_bytes_per_second', 'committed bandwidth reserved by intents', labels=labels
    )
    peak = GaugeMetricFamily(
        'naas_span_peak_reserved_bytes_per_second', 'committed plus excess bandwidth reserved', labels=labels
    )
    utilization = GaugeMetricFamily(
        'naas_span_utilization_bytes_per_second', 'traffic measured from the port counters', labels=labels
    )
    delay = GaugeMetricFamily(
        'naas_span_delay_seconds', "one-way delay, measured (else the fabric file's figure)", labels=labels
    )
    measured = GaugeMetricFamily('naas_span_delay_measured', '1 once the delay is measured', labels=labels)
    for span in topology.spans:
        capacity.add_metric([span.id], span.capacity_gbps * BYTES_PER_GBIT)
        up.add_metric([span.id], 1.0 if span.up else 0.0)
        for d in span.directions:
            key = [span.id, d.src, d.dst]
            committed.add_metric(key, d.reserved_gbps * BYTES_PER_GBIT)
            peak.add_metric(key, d.peak_gbps * BYTES_PER_GBIT)
            utilization.add_metric(key, d.utilization_gbps * BYTES_PER_GBIT)
            delay.add_metric(key, d.delay_ms / 1e3)
            measured.add_metric(key, 1.0 if d.delay_measured else 0.0)
    yield from (capacity, up, committed, peak, utilization, delay, measured)


class _ApiMetrics(grpc.ServerInterceptor):
    """Counts every call by method and status code, and times unary ones."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        method = details.method if details.method in self.metrics.methods else 'other'
        if handler is None:
            self.metrics.requests.labels(method, grpc.StatusCode.UNIMPLEMENTED.name).inc()
            return None
        requests, latency = self.metrics.requests, self.metrics.latency

        def unary(behaviour):
            def run(request, context):
                started = time.perf_counter()
                code = grpc.StatusCode.OK
                try:
                    return behaviour(request, context)
                except BaseException:
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                finally:
                    requests.labels(method, _name(code, context)).inc()
                    latency.labels(method).observe(time.perf_counter() - started)

            return run

        def streaming(behaviour):
            def run(request, context):
                code = grpc.StatusCode.OK
                try:
                    yield from behaviour(request, context)
                except BaseException:
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                finally:
                    requests.labels(method, _name(code, context)).inc()

            return run

        kind = (
            ('stream' if handler.request_streaming else 'unary')
            + '_'
            + ('stream' if handler.response_streaming else 'unary')
        )
        wrap = streaming if handler.response_streaming else unary
        return handler._replace(**{kind: wrap(getattr(handler, kind))})


def _name(code, context) -> str:
    """The call's status: what it raised with, else what it set, else OK."""
    if code is grpc.StatusCode.OK:
        code = context.code() or grpc.StatusCode.OK
    return code.name if isinstance(code, grpc.StatusCode) else str(code)
