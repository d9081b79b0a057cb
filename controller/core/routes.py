"""What the switches should carry: each placed intent's route (its paths, MPLS labels and
meter size), the labels in use, and the plan of every switch that follows from them.

`generation` counts plan changes: the southbound syncs every switch to the plan of a
generation and confirms it (Controller.synced); an intent is installed once every switch on
its route has confirmed the generation that put it there.
"""

from dataclasses import replace
from typing import TYPE_CHECKING

from controller.core import flows
from controller.core.intent import Intent
from topologies.model import addressing as addr
from topologies.model.fabric import Fabric

if TYPE_CHECKING:
    from controller.core.admission import Placement

# Meter burst: 20 ms of the intent's rate, at least 120 kbit (ten full frames). Measured
# (scripts/bench/enforcement.py): 10 ms already gives one TCP flow 94-96% of its rate, 2 ms
# loses 5-19%, under one frame drops everything; 20 ms of every intent on a span stays
# within the span's 50 ms queue even if all bursts fire at once.
BURST_MS = 20.0
MIN_BURST_KBITS = 120


class Routes:
    def __init__(self, fabric: Fabric, burst_ms: float = BURST_MS, next_label: int = flows.FIRST_LABEL):
        self.fabric, self.burst_ms = fabric, burst_ms
        self.generation = 0
        self.next_label = next_label
        self._routes: dict[str, flows.Route] = {}  # intent id -> its route
        self._labels: set[int] = set()  # labels of those routes
        self._plan: tuple[int, flows.Plan] | None = None  # (generation, plan)
        self._flows: dict = {}  # flows.plan's cache of each route's flows

    def of(self, intent_id: str) -> flows.Route | None:
        return self._routes.get(intent_id)

    def plan(self) -> flows.Plan:
        """{dpid: (flows by key, meters by id, groups by id)} for the current generation."""
        if self._plan is None or self._plan[0] != self.generation:
            self._plan = (self.generation, flows.plan(self.fabric, self._routes.values(), self._flows))
        return self._plan[1]

    def route(self, intent: Intent, placement: 'Placement', squeezed: bool) -> flows.Route:
        """The route for a placement: the intent's current one resized when its paths stay
        the same, else a new one with new labels (make-before-break: the new path's flows go
        in beside the old ones)."""
        rate, burst = self.meter_size(intent, squeezed)
        sites = placement.primary.sites
        backup = placement.backup.sites if placement.backup else ()
        old = self._routes.get(intent.id)
        if old is not None and (old.sites, old.backup) == (sites, backup):
            return replace(old, rate_kbps=rate, burst_kbits=burst)
        src_prefixes, dst_prefixes = matches(intent)
        return flows.Route(
            intent.number,
            intent.tenant,
            sites,
            self._label(),
            self._label(),
            rate,
            burst,
            src_prefixes,
            dst_prefixes,
            backup=backup,
            backup_labels=tuple(self._label() for _ in range(4)) if backup else (),
        )

    def put(self, intent_id: str, route: flows.Route | None) -> bool:
        """Set (or drop, with None) an intent's route; True, and a new generation, if it changed."""
        old = self._routes.pop(intent_id, None)
        if old is not None:
            self._labels.difference_update(old.labels)
        if route is not None:
            self._routes[intent_id] = route
            self._labels.update(route.labels)
        if route != old:
            self.generation += 1
            return True
        return False

    def resize(self, intent: Intent, squeezed: bool) -> None:
        """The intent's meters to the rate it is allowed now (squeezed or not)."""
        route = self._routes.get(intent.id)
        if route is not None:
            rate, burst = self.meter_size(intent, squeezed)
            self.put(intent.id, replace(route, rate_kbps=rate, burst_kbits=burst))

    def meter_size(self, intent: Intent, squeezed: bool) -> tuple[int, int]:
        """(rate kb/s, burst kbit) of the intent's ingress meters, at the emulation's scale."""
        gbps = intent.bandwidth_gbps + (0.0 if squeezed else intent.excess_gbps)
        rate = max(1, round(gbps * 1e6 * self.fabric.bandwidth_scale))
        return rate, max(MIN_BURST_KBITS, round(rate * self.burst_ms / 1000))

    def dpids(self, route: flows.Route | None) -> tuple[int, ...]:
        """The switches a route's flows are on."""
        if route is None:
            return ()
        return tuple(addr.dpid(self.fabric.sites[s]) for s in dict.fromkeys(route.sites + route.backup))

    def all_dpids(self) -> tuple[int, ...]:
        return tuple(addr.dpid(site) for site in self.fabric.sites.values())

    def restore(self, intent: Intent, primary: tuple, backup: tuple, labels: tuple) -> flows.Route:
        """A stored route again: its labels as they were (the switches hold them)."""
        rate, burst = self.meter_size(intent, squeezed=False)
        src_prefixes, dst_prefixes = matches(intent)
        route = flows.Route(
            intent.number,
            intent.tenant,
            primary,
            labels[0],
            labels[1],
            rate,
            burst,
            src_prefixes,
            dst_prefixes,
            backup=backup,
            backup_labels=tuple(labels[2:]),
        )
        self._routes[intent.id] = route
        self._labels.update(route.labels)
        return route

    def take(self, other: 'Routes') -> None:
        """`other`'s routes (restored ones) in place of these; `other` must not be used after."""
        self._routes, self._labels = other._routes, other._labels
        self._plan, self._flows = None, {}

    def _label(self) -> int:
        for _ in range(flows.LAST_LABEL):
            label = self.next_label
            self.next_label = label + 1 if label < flows.LAST_LABEL else flows.FIRST_LABEL
            if label not in self._labels:
                self._labels.add(label)  # taken now: the route's other labels must differ
                return label
        raise RuntimeError('no MPLS label left')


def matches(intent: Intent) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """The intent's prefixes as flow matches: (src, dst) tuples of (address, netmask)."""
    return tuple(map(flows.prefix_match, intent.src_prefixes)), tuple(
        map(flows.prefix_match, intent.dst_prefixes)
    )
