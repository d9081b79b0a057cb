"""Candidate paths per site pair, kept from one placement to the next: each pair's K
lowest-latency simple paths over the spans up, with no bandwidth constraint (Yen's
algorithm, paths.k_paths). A batch of orders (packing.py) weighs them for each intent; the
room each has is read from the books at every use, so only the topology can make them stale.

What they are kept on (a `Basis`): the set of spans up, and each link's weight (its delay
plus the crossing of its far switch) as it was when the basis was made. A span down or up
again, or a weight moved by more than DRIFT_MS and DRIFT (either), makes a new basis, empty:
the fastest paths may then be others. Delays are measured all the time and move by
microseconds; that keeps the basis. Capacity plays no part (no bandwidth here).

A candidate's latency is never kept: callers compute it from the delays of now
(`Path.latency_ms`), so a bound is checked on what the path takes now whatever the basis.

Computed on copies off the runtime's lock too (Controller.packer): a basis is only replaced,
never changed but for adding a pair's paths, so a thread on an older one stays consistent.
"""

from collections.abc import Mapping

from controller.core.paths import Path, arcs, yen
from controller.core.topology import Link, Topology

DRIFT_MS = 0.1  # a link's weight may move this much (ms) ...
DRIFT = 0.05  # ... or this share of it, whichever is more, and the basis holds


class Basis:
    """Paths per (src, dst) over one topology as it was (see the module doc)."""

    def __init__(self, topology: Topology, k: int):
        self.k = k
        self.up = frozenset(span_id for span_id, span in topology.spans.items() if span.up)
        self.weights: Mapping[Link, float] = {link: topology.weight_ms(link) for link in topology.links()}
        self.arcs = arcs(topology, 0.0, _unlimited)
        self._paths: dict[tuple[str, str], list[Path]] = {}

    def holds(self, topology: Topology) -> bool:
        """Whether `topology` has the same spans up and its weights within the drift."""
        if frozenset(span_id for span_id, span in topology.spans.items() if span.up) != self.up:
            return False
        return all(
            abs(topology.weight_ms(link) - ms) <= max(DRIFT_MS, DRIFT * ms)
            for link, ms in self.weights.items()
        )

    def paths(self, topology: Topology, src: str, dst: str) -> list[Path]:
        """The pair's K fastest paths (computed on `topology` the first time it is asked),
        fastest first as the basis had them."""
        found = self._paths.get((src, dst))
        if found is None:
            found = self._paths[(src, dst)] = yen(topology, self.arcs, src, dst, self.k)
        return found


class Candidates:
    """The basis the topology holds now, made afresh when it no longer holds."""

    def __init__(self, k: int):
        self.k = k
        self._basis: Basis | None = None

    def on(self, topology: Topology) -> Basis:
        basis = self._basis
        if basis is None or not basis.holds(topology):
            basis = self._basis = Basis(topology, self.k)
        return basis


def _unlimited(link: Link) -> float:
    return float('inf')
