"""The network as the controller knows it: sites, and spans with a state and a delay per
direction. Capacities come from the fabric file, never from the port speed OVS reports.

A span has two directions (links), `a->b` and `b->a`: reservations and measurements are
per direction, because traffic and queues are. A frame also spends time crossing each switch
on its way (measured per site, 0 until measured): a path's latency is what a tenant's frame
takes, every span and every switch of it.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple


class Link(NamedTuple):
    """One direction of a span. A named tuple rather than a dataclass: links key every ledger,
    delay and path, and a tuple hashes and compares in C (a frozen dataclass's __hash__ is
    Python; it took a quarter of a placement's time)."""

    src: str
    dst: str

    def reverse(self) -> 'Link':
        return Link(self.dst, self.src)


@dataclass
class SpanState:
    span_id: str
    a: str
    b: str
    capacity_gbps: float
    prior_delay_ms: float  # from the fabric file: used until measured
    up: bool = True
    measured_delay_ms: dict[Link, tuple[float, float]] = field(default_factory=dict)  # Link -> (ms, when)

    def links(self) -> tuple[Link, Link]:
        return Link(self.a, self.b), Link(self.b, self.a)


class Latencies:
    """What a path's latency is made of (`Path.latency_ms`): each direction's delay, and what
    a frame spends crossing each site's switch."""

    def delay_ms(self, link: Link) -> float:
        raise NotImplementedError

    def crossing_ms(self, site: str) -> float:
        raise NotImplementedError

    def weight_ms(self, link: Link) -> float:
        """What taking a link adds to a path's latency: the span's delay, then the switch at
        its far end (a path's latency is its first switch's crossing plus these)."""
        return self.delay_ms(link) + self.crossing_ms(link.dst)


@dataclass(frozen=True)
class Delays(Latencies):
    """The delays as they were at one moment (`Topology.delays`): what the read model computes
    the latency of intents' paths from, off the core."""

    links: Mapping[Link, float]
    crossings: Mapping[str, float]

    def delay_ms(self, link: Link) -> float:
        return self.links[link]

    def crossing_ms(self, site: str) -> float:
        return self.crossings.get(site, 0.0)


class Topology(Latencies):
    """Sites and spans; `neighbours` skips spans that are down."""

    def __init__(self, sites: Any, spans: list[SpanState]):
        self.sites: tuple[str, ...] = tuple(sites)
        self.spans = {s.span_id: s for s in spans}
        self._by_link = {link: s for s in spans for link in s.links()}
        self._out: dict[str, list[Link]] = {site: [] for site in self.sites}
        self.crossing: dict[
            str, tuple[float, float]
        ] = {}  # site -> (ms a frame takes through its switch, when)  # site -> links leaving it
        for link in self._by_link:
            self._out[link.src].append(link)

    @classmethod
    def from_fabric(cls, fabric: Any) -> 'Topology':
        return cls(
            fabric.sites, [SpanState(s.id, s.a, s.b, s.capacity_gbps, s.delay_ms) for s in fabric.spans]
        )

    def copy(self) -> 'Topology':
        """An independent copy (spans' states and delays), to compute on off the runtime's lock."""
        other = Topology(
            self.sites, [replace(s, measured_delay_ms=dict(s.measured_delay_ms)) for s in self.spans.values()]
        )
        other.crossing = dict(self.crossing)
        return other

    def span_of(self, link: Link) -> SpanState:
        return self._by_link[link]

    def has_link(self, link: object) -> bool:
        return link in self._by_link

    def links(self) -> list[Link]:
        return list(self._by_link)

    def neighbours(self, site: str) -> list[Link]:
        """Links leaving `site` over spans that are up."""
        return [link for link in self._out[site] if self._by_link[link].up]

    def set_up(self, span_id: str, up: bool) -> bool:
        """Returns True when the state changed."""
        span = self.spans[span_id]
        changed, span.up = span.up != up, up
        return changed

    def record_delay(self, link: Link, delay_ms: float, now: float) -> None:
        if delay_ms < 0:
            raise ValueError(f'delay of {link.src}->{link.dst} must be >= 0 ms, got {delay_ms}')
        self.span_of(link).measured_delay_ms[link] = (float(delay_ms), now)

    def delay_ms(self, link: Link) -> float:
        """Measured one-way delay of this direction, or the fabric's prior until measured."""
        span = self.span_of(link)
        measured = span.measured_delay_ms.get(link)
        return measured[0] if measured else span.prior_delay_ms

    def record_crossing(self, site: str, ms: float, now: float) -> None:
        if ms < 0:
            raise ValueError(f'crossing of {site} must be >= 0 ms, got {ms}')
        self.crossing[site] = (float(ms), now)

    def crossing_ms(self, site: str) -> float:
        """What a frame spends crossing the site's switch, as measured (0 until measured)."""
        measured = self.crossing.get(site)
        return measured[0] if measured else 0.0

    def delays(self) -> Delays:
        return Delays(
            {link: self.delay_ms(link) for link in self._by_link},
            {site: ms for site, (ms, _) in self.crossing.items()},
        )

    def capacity_gbps(self, link: Link) -> float:
        return self.span_of(link).capacity_gbps


@dataclass(frozen=True)
class TopologyEvent:
    """A switch or span changed state (for topology watchers); `reason` says which."""

    reason: str
    at: float
