"""The read model: what the northbound shows, as immutable values taken under the runtime's
lock and read (converted to protobuf, sent) after it is released. The northbound sees the
core only through these and the in-process API's errors, never its internals."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from controller.core.admission import Placement
from controller.core.books import Books
from controller.core.intent import Intent, IntentEvent, State
from controller.core.liveness import Liveness
from controller.core.paths import Path
from controller.core.topology import Latencies, Link, Topology
from topologies.model.fabric import Fabric
from topologies.model.order import Protection, ServiceClass


@dataclass(frozen=True)
class IntentView:
    id: str
    tenant: str
    src: str
    dst: str
    bandwidth_gbps: float
    excess_gbps: float
    max_latency_ms: float | None
    protection: Protection
    service_class: ServiceClass
    description: str
    labels: dict
    src_prefixes: tuple[str, ...]
    dst_prefixes: tuple[str, ...]
    state: State
    reason: str
    created_at: float
    updated_at: float
    path: tuple[str, ...] = ()  # sites of the primary, while placed
    backup_path: tuple[str, ...] = ()
    path_latency_ms: float | None = None  # measured now
    reserved_gbps: float = 0.0
    number: int = 0  # creation order (listing, pages)
    primary: Path | None = field(default=None, compare=False, repr=False)

    def measured(self, delays: Latencies) -> 'IntentView':
        """The view with its path's latency as `delays` have it (the read model's latest)."""
        if self.primary is None:
            return self
        return replace(self, path_latency_ms=self.primary.latency_ms(delays))

    def current_event(self, now: float) -> IntentEvent:
        """An event that says where the intent is now (what a new watcher sees first)."""
        return IntentEvent(self.id, self.tenant, self.state, 'current', now, (), self.path)


@dataclass(frozen=True)
class PlacementView:
    """Where a new intent would go now (CheckIntent)."""

    path: tuple[str, ...]
    backup_path: tuple[str, ...]
    latency_ms: float


@dataclass(frozen=True)
class DirectionView:
    src: str
    dst: str
    reserved_gbps: float
    utilization_gbps: float
    delay_ms: float
    delay_measured: bool
    peak_gbps: float = 0.0  # committed plus excess reserved (the peak book)


@dataclass(frozen=True)
class SpanView:
    id: str
    a: str
    b: str
    capacity_gbps: float
    up: bool
    directions: tuple[DirectionView, DirectionView]


@dataclass(frozen=True)
class SiteView:
    id: str
    name: str
    kind: str
    region: str
    lat: float
    lon: float
    connected: bool
    crossing_ms: float  # what a frame spends crossing its switch, as measured


@dataclass(frozen=True)
class TopologyView:
    fabric: str
    sites: tuple[SiteView, ...]
    spans: tuple[SpanView, ...]

    def states(self) -> tuple:
        """What a topology watcher must be told about at once: switches and spans up or not."""
        return tuple(s.connected for s in self.sites), tuple(s.up for s in self.spans)


def intent_view(intent: Intent, placement: Placement | None, topology: Latencies | None) -> IntentView:
    """The intent as the API shows it; its path's latency as `topology` has it (None: left for
    whoever reads it to fill in with `measured`, as the read model does)."""
    primary = placement.primary if placement is not None else None
    backup = placement.backup if placement is not None else None
    return IntentView(
        intent.id,
        intent.tenant,
        intent.src,
        intent.dst,
        intent.bandwidth_gbps,
        intent.excess_gbps,
        intent.max_latency_ms,
        intent.protection,
        intent.service_class,
        intent.description,
        dict(intent.labels),
        intent.src_prefixes,
        intent.dst_prefixes,
        intent.state,
        intent.reason,
        intent.created_at,
        intent.updated_at,
        primary.sites if primary else (),
        backup.sites if backup else (),
        primary.latency_ms(topology) if primary and topology is not None else None,
        intent.bandwidth_gbps if primary else 0.0,
        intent.number,
        primary,
    )


def placement_view(placement: Placement, topology: Topology) -> PlacementView:
    return PlacementView(
        placement.primary.sites,
        placement.backup.sites if placement.backup else (),
        placement.latency_ms(topology),
    )


def topology_view(
    fabric: Fabric,
    topology: Topology,
    liveness: Liveness,
    books: Books,
    utilization: Mapping[Link, tuple[float, float]],
) -> TopologyView:
    sites = tuple(
        SiteView(
            s.id, s.name, s.kind, s.region, s.lat, s.lon, liveness.connected(s.id), topology.crossing_ms(s.id)
        )
        for s in fabric.sites.values()
    )
    spans = []
    for span in topology.spans.values():
        forward, back = (
            DirectionView(
                link.src,
                link.dst,
                books.committed.reserved_gbps(link),
                utilization.get(link, (0.0, 0.0))[0],
                topology.delay_ms(link),
                link in span.measured_delay_ms,
                books.peak.reserved_gbps(link),
            )
            for link in (Link(span.a, span.b), Link(span.b, span.a))
        )
        spans.append(SpanView(span.span_id, span.a, span.b, span.capacity_gbps, span.up, (forward, back)))
    return TopologyView(fabric.name, sites, tuple(spans))
