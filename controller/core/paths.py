"""Constrained shortest paths (CSPF): the lowest-latency path that has the bandwidth, and
protected pairs of span-disjoint paths.

Every function takes the topology and an `available_gbps(link) -> float` callable (or a
dict from Link to Gb/s), so path computation does not depend on how reservations are kept.
A link is usable for `gbps` when its span is up, is not avoided, and has
`available_gbps(link) >= gbps` (with a 1e-9 slack against float noise in the ledger).

Latency is never stored in a Path: delays are measured and move, so `Path.latency_ms`
asks the topology each time.

Ties are broken deterministically (lower latency, then fewer hops, then the sequence of
site ids), so the same inputs always give the same path and the controller does not flap
between equal paths.

When nothing fits, `NoPath` says which constraint failed and what would fit: the widest
path (within the latency bound when one exists) and the lowest latency at the requested
bandwidth and with no bandwidth constraint. These feed the API's feasibility check.
"""

import heapq
import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from controller.core.topology import Latencies, Link, Topology

Available = Callable[[Link], float] | Mapping[Link, float]  # Gb/s a link has for a new path
EPS = 1e-9  # slack for float noise in bandwidth sums and latency sums
_KEY_DIGITS = 9  # latency is rounded to this many decimals for tie-breaking only


@dataclass(frozen=True)
class Path:
    """A simple path: consecutive links, one direction of each span."""

    links: tuple[Link, ...]

    def __post_init__(self) -> None:
        links = tuple(self.links)
        object.__setattr__(self, 'links', links)
        if not links:
            raise ValueError('a path needs at least one link')
        for a, b in itertools.pairwise(links):
            if a.dst != b.src:
                raise ValueError(f'links {a.src}->{a.dst} and {b.src}->{b.dst} are not consecutive')
        if len(set(self.sites)) != len(self.sites):
            raise ValueError(f'path {"->".join(self.sites)} visits a site twice')

    @property
    def sites(self) -> tuple[str, ...]:
        return (self.links[0].src,) + tuple(link.dst for link in self.links)

    @property
    def src(self) -> str:
        return self.links[0].src

    @property
    def dst(self) -> str:
        return self.links[-1].dst

    @property
    def hops(self) -> int:
        return len(self.links)

    def span_ids(self, topology: Topology) -> tuple[str, ...]:
        return tuple(topology.span_of(link).span_id for link in self.links)

    def latency_ms(self, topology: Latencies) -> float:
        """Sum of the one-way delays measured now (or the fabric priors until measured)."""
        return topology.crossing_ms(self.src) + sum(topology.weight_ms(link) for link in self.links)

    def bottleneck_gbps(self, available_gbps: Available) -> float:
        available_gbps = _as_callable(available_gbps)
        return min(available_gbps(link) for link in self.links)

    def __str__(self) -> str:
        return '->'.join(self.sites)


class NoPath(Exception):
    """No path meets the constraints. `constraint` is 'connectivity', 'bandwidth',
    'latency' or 'protection'; the figures say what would fit (None when nothing does):

    - widest_gbps: the most bandwidth any single path could carry (ignoring the bound);
    - widest_within_bound_gbps: the most bandwidth a path meeting the latency bound could
      carry (equals widest_gbps when there is no bound);
    - min_latency_ms: the lowest latency of a path with the requested bandwidth;
    - min_latency_any_ms: the lowest latency of any path, whatever its bandwidth.
    """

    _LAZY = ('reason', 'widest_gbps', 'widest_within_bound_gbps')

    def __init__(
        self,
        reason: str | None = None,
        *,
        constraint: str,
        src: str,
        dst: str,
        gbps: float | None,
        max_latency_ms: float | None = None,
        widest_gbps: float | None = None,
        widest_within_bound_gbps: float | None = None,
        min_latency_ms: float | None = None,
        min_latency_any_ms: float | None = None,
        spans: Iterable[str] = (),
        explain: Callable[[], dict] | None = None,
    ):
        super().__init__()
        if explain is None:
            self.reason = reason
            self.widest_gbps = widest_gbps
            self.widest_within_bound_gbps = widest_within_bound_gbps
        else:
            self._explain = explain  # () -> {name: value} of the _LAZY attributes
        self.constraint = constraint
        self.src, self.dst, self.gbps, self.max_latency_ms = src, dst, gbps, max_latency_ms
        self.min_latency_ms = min_latency_ms
        self.min_latency_any_ms = min_latency_any_ms
        self.spans = tuple(spans)  # for 'protection': the spans every path must share

    def __getattr__(self, name: str) -> Any:
        """The widest figures take a dozen path searches (tens of ms on a large fabric), and
        most refusals are never explained (a trial move that fails, a refusal that moves
        then avoid): they and the reason quoting them are computed when first read, from
        the availability as it is then, so read them before the reservations change."""
        if name not in self._LAZY or '_explain' not in self.__dict__:
            raise AttributeError(name)
        self.__dict__.update(self.__dict__.pop('_explain')())
        return self.__dict__[name]

    def __str__(self) -> str:
        return str(self.reason)


# ---------------------------------------------------------------------------------------
# Search primitives


def latency_order(path: Path, latency_ms: float) -> tuple[float, int, tuple[str, ...]]:
    """The order paths are taken in: lower latency (rounded against float noise), then fewer
    hops, then the sequence of site ids."""
    return round(latency_ms, _KEY_DIGITS), path.hops, path.sites


def _as_callable(available_gbps: Available) -> Callable[[Link], float]:
    if callable(available_gbps):
        return available_gbps
    table = available_gbps
    return lambda link: table[link]


def _check_ends(topology: Topology, src: str, dst: str) -> None:
    for site in (src, dst):
        if site not in topology.sites:
            raise ValueError(f'unknown site {site!r}')
    if src == dst:
        raise ValueError(f'source and destination are the same site ({src!r})')


def _usable(
    topology: Topology,
    gbps: float | None,
    available_gbps: Callable[[Link], float],
    avoid_spans: AbstractSet[str],
) -> Callable[[Link], bool]:
    """The link filter: `neighbours` already skips down spans; prune avoided and thin links.
    gbps=None means no bandwidth constraint at all (not even a non-negative availability)."""

    def ok(link: Link) -> bool:
        if topology.span_of(link).span_id in avoid_spans:
            return False
        return gbps is None or available_gbps(link) >= gbps - EPS

    return ok


def _shortest(
    topology: Topology,
    src: str,
    dst: str,
    usable: Callable[[Link], bool],
    dead: AbstractSet[str] | None = None,
) -> 'Path | None':
    """The lowest-latency Path over usable links, or None. `dead`: _dead_ends(src, dst),
    when the caller searches the same ends again."""
    dead = _dead_ends(topology, src, dst) if dead is None else dead
    links = _lowest(
        src,
        dst,
        lambda site: (
            (link, topology.weight_ms(link))
            for link in topology.neighbours(site)
            if link.dst not in dead and usable(link)
        ),
    )
    return None if links is None else Path(links)


def _dead_ends(topology: Topology, src: str, dst: str) -> frozenset[str]:
    """Sites no simple path from src to dst crosses: those with one span up at most (a path
    entering one could only leave the way it came). Most of a sparse fabric's sites are
    such leaves (152 of brain's 161): skipping them spares a search most of its work."""
    return frozenset(
        site for site in topology.sites if site != src and site != dst and len(topology.neighbours(site)) < 2
    )


def _pruned(
    graph: dict[str, list[tuple[Link, float]]], src: str, dst: str
) -> dict[str, list[tuple[Link, float]]]:
    """The graph less every site but src and dst whose usable links all join one neighbour,
    again until none is left (a leaf, then the chain that led to it): no simple path from
    src to dst crosses them, so a search over what is left finds the same paths."""
    near: dict[str, set[str]] = {site: set() for site in graph}
    for site, arcs in graph.items():
        for link, _ in arcs:
            near[site].add(link.dst)
            near[link.dst].add(site)
    gone: set[str] = set()
    todo = [site for site, sites in near.items() if len(sites) < 2 and site != src and site != dst]
    while todo:
        site = todo.pop()
        if site in gone:
            continue
        gone.add(site)
        for other in near[site]:
            near[other].discard(site)
            if len(near[other]) < 2 and other != src and other != dst and other not in gone:
                todo.append(other)
    return {
        site: [(link, w) for link, w in arcs if link.dst not in gone]
        for site, arcs in graph.items()
        if site not in gone
    }


def _lowest(
    src: str, dst: str, arcs: Callable[[str], Iterable[tuple[Link, float]]]
) -> tuple[Link, ...] | None:
    """Dijkstra on latency: the links of the lowest-latency simple path, or None; `arcs(site)`
    gives the (link, delay) that may be taken from a site. The heap key (latency, hops,
    sites) is a total order that extending both paths by the same link preserves, so the
    first time dst is popped its path is the unique minimum under that order: deterministic."""
    heap: list[tuple[float, int, tuple[str, ...], float, tuple[Link, ...]]] = [(0.0, 0, (src,), 0.0, ())]
    settled: set[str] = set()
    while heap:
        _, hops, sites, latency, links = heapq.heappop(heap)
        site = sites[-1]
        if site in settled:
            continue
        settled.add(site)
        if site == dst:
            return links
        for link, delay in arcs(site):
            if link.dst in settled or link.dst in sites:
                continue
            total = latency + delay
            heapq.heappush(
                heap, (round(total, _KEY_DIGITS), hops + 1, sites + (link.dst,), total, links + (link,))
            )
    return None


def lowest_latency_path(
    topology: Topology,
    src: str,
    dst: str,
    gbps: float | None = None,
    available_gbps: Available | None = None,
    avoid_spans: AbstractSet[str] = frozenset(),
) -> Path | None:
    """The lowest-latency path from src to dst over up spans, using only links with `gbps`
    available (no bandwidth constraint when gbps is None); None when no such path exists."""
    _check_ends(topology, src, dst)
    if gbps is None or available_gbps is None:
        usable = _usable(topology, None, _unlimited, avoid_spans)
    else:
        usable = _usable(topology, gbps, _as_callable(available_gbps), avoid_spans)
    return _shortest(topology, src, dst, usable)


def _unlimited(link: Link) -> float:
    return float('inf')


def min_latency_ms(
    topology: Topology,
    src: str,
    dst: str,
    gbps: float | None = None,
    available_gbps: Available | None = None,
    avoid_spans: AbstractSet[str] = frozenset(),
) -> float | None:
    """The latency of that path; None when there is none."""
    path = lowest_latency_path(topology, src, dst, gbps, available_gbps, avoid_spans)
    return None if path is None else path.latency_ms(topology)


def widest_gbps(
    topology: Topology,
    src: str,
    dst: str,
    available_gbps: Available,
    max_latency_ms: float | None = None,
    avoid_spans: AbstractSet[str] = frozenset(),
) -> float | None:
    """The largest bandwidth a single path from src to dst could carry, among paths within
    `max_latency_ms` when given; None when no path (within the bound) exists.

    Without a bound, one widest-path search (Dijkstra on the bottleneck). With a bound the
    widest path may be too slow: the lowest latency at bandwidth c only grows with c, so
    binary-search the distinct link availabilities up to the widest for the largest c whose
    shortest path meets the bound."""
    _check_ends(topology, src, dst)
    available_gbps = _as_callable(available_gbps)
    dead = _dead_ends(topology, src, dst)
    widest = _widest(topology, src, dst, available_gbps, avoid_spans, dead)
    if widest is None or max_latency_ms is None:
        return None if widest is None else max(widest, 0.0)  # an over-booked link carries nothing, not less

    def fits(c: float) -> bool:
        path = _shortest(topology, src, dst, _usable(topology, c, available_gbps, avoid_spans), dead)
        return path is not None and path.latency_ms(topology) <= max_latency_ms + EPS

    candidates = sorted(
        {
            available_gbps(link)
            for link in topology.links()
            if topology.span_of(link).up
            and topology.span_of(link).span_id not in avoid_spans
            and available_gbps(link) <= widest
        }
    )
    if not candidates or not fits(candidates[0]):
        return None
    lo, hi = 0, len(candidates) - 1  # invariant: fits(candidates[lo])
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(candidates[mid]):
            lo = mid
        else:
            hi = mid - 1
    return max(candidates[lo], 0.0)


def _widest(
    topology: Topology,
    src: str,
    dst: str,
    available_gbps: Callable[[Link], float],
    avoid_spans: AbstractSet[str],
    dead: AbstractSet[str],
) -> float | None:
    """The largest bottleneck (least availability of its links) of any path from src to dst
    over up spans not avoided, or None when there is none."""
    best = {src: math.inf}
    heap = [(-math.inf, src)]
    while heap:
        width, site = heapq.heappop(heap)
        width = -width
        if site == dst:
            return width
        if width < best[site]:
            continue  # a wider way here was found since
        for link in topology.neighbours(site):
            if link.dst in dead or topology.span_of(link).span_id in avoid_spans:
                continue
            through = min(width, available_gbps(link))
            if through > best.get(link.dst, -math.inf):
                best[link.dst] = through
                heapq.heappush(heap, (-through, link.dst))
    return None


def _fmt(x: float | None, unit: str) -> str:
    return 'none' if x is None else f'{x:g} {unit}'


def _no_path(
    topology: Topology,
    src: str,
    dst: str,
    gbps: float,
    available_gbps: Callable[[Link], float],
    max_latency_ms: float | None,
    avoid_spans: AbstractSet[str],
    shortest: Path | None,
) -> NoPath:
    """Build the NoPath for find_path: which constraint failed, and what would fit.
    `shortest` is the lowest-latency path with the bandwidth, or None."""
    at_gbps = None if shortest is None else shortest.latency_ms(topology)
    any_bw = min_latency_ms(topology, src, dst, None, None, avoid_spans)
    constraint = 'connectivity' if any_bw is None else 'bandwidth' if at_gbps is None else 'latency'

    def explain() -> dict:
        widest = widest_gbps(topology, src, dst, available_gbps, None, avoid_spans)
        within = (
            widest
            if max_latency_ms is None
            else widest_gbps(topology, src, dst, available_gbps, max_latency_ms, avoid_spans)
        )
        where = f'from {src} to {dst}'
        if avoid_spans:
            where += f' avoiding {", ".join(sorted(avoid_spans))}'
        if constraint == 'connectivity':
            reason = f'no path {where} over spans that are up'
            cut_off = [site for site in (src, dst) if not topology.neighbours(site)]
            if cut_off:  # the commonest case by far: a site down, or its switch gone
                reason += f': every span of {" and ".join(cut_off)} is down (the site or its switch is down)'
        elif constraint == 'bandwidth':
            reason = f'no path {where} has {gbps:g} Gb/s available; the widest carries {_fmt(widest, "Gb/s")}'
            if max_latency_ms is not None:
                reason += f' (within the {max_latency_ms:g} ms bound: {_fmt(within, "Gb/s")})'
        else:
            reason = (
                f'the lowest-latency path {where} with {gbps:g} Gb/s takes {at_gbps:g} ms, '
                f'over the {max_latency_ms:g} ms bound; the widest path within '
                f'{max_latency_ms:g} ms carries {_fmt(within, "Gb/s")}; the lowest latency '
                f'at any bandwidth is {any_bw:g} ms'
            )
        return {'reason': reason, 'widest_gbps': widest, 'widest_within_bound_gbps': within}

    return NoPath(
        constraint=constraint,
        src=src,
        dst=dst,
        gbps=gbps,
        max_latency_ms=max_latency_ms,
        min_latency_ms=at_gbps,
        min_latency_any_ms=any_bw,
        explain=explain,
    )


# ---------------------------------------------------------------------------------------
# Public path computation


def find_path(
    topology: Topology,
    src: str,
    dst: str,
    gbps: float,
    available_gbps: Available,
    max_latency_ms: float | None = None,
    avoid_spans: AbstractSet[str] = frozenset(),
) -> Path:
    """The lowest-latency path from src to dst using only links with `gbps` available,
    over up spans, not using `avoid_spans`; NoPath when none, or when it exceeds the bound
    (the lowest-latency feasible path is over the bound, so every feasible path is)."""
    _check_ends(topology, src, dst)
    if gbps < 0:
        raise ValueError(f'bandwidth must be >= 0 Gb/s, got {gbps}')
    available_gbps = _as_callable(available_gbps)
    avoid_spans = frozenset(avoid_spans)
    path = _shortest(topology, src, dst, _usable(topology, gbps, available_gbps, avoid_spans))
    if path is None or (max_latency_ms is not None and path.latency_ms(topology) > max_latency_ms + EPS):
        raise _no_path(topology, src, dst, gbps, available_gbps, max_latency_ms, avoid_spans, path)
    return path


def k_paths(
    topology: Topology,
    src: str,
    dst: str,
    k: int,
    gbps: float,
    available_gbps: Available,
    max_latency_ms: float | None = None,
    avoid_spans: AbstractSet[str] = frozenset(),
) -> list[Path]:
    """Up to k simple paths from src to dst, lowest latency first (Yen's algorithm), each
    with `gbps` available on every link, over up spans, within the bound: the choices a
    joint placement weighs (controller/core/packing.py). [] when none fits. Ties as in
    _shortest."""
    _check_ends(topology, src, dst)
    return yen(topology, arcs(topology, gbps, available_gbps, avoid_spans), src, dst, k, max_latency_ms)


Arcs = dict[str, list[tuple[Link, float]]]  # site -> [(link leaving it, what it adds to latency)]


def arcs(
    topology: Topology, gbps: float, available_gbps: Available, avoid_spans: AbstractSet[str] = frozenset()
) -> Arcs:
    """The links a search may take from each site (over up spans, not avoided, with `gbps`
    available) and their weights, read once: Yen runs a search per site of every path it
    finds, and a batch asks for hundreds of pairs (candidates.py reads them once for all)."""
    usable = _usable(topology, gbps, _as_callable(available_gbps), frozenset(avoid_spans))
    return {
        site: [(link, topology.weight_ms(link)) for link in topology.neighbours(site) if usable(link)]
        for site in topology.sites
    }


def yen(
    topology: Topology, graph: Arcs, src: str, dst: str, k: int, max_latency_ms: float | None = None
) -> list[Path]:
    """k_paths over the links of `graph` (arcs()), src and dst checked."""
    graph = _pruned(graph, src, dst)
    found: list[Path] = []
    candidates: list[tuple] = []
    seen: set[tuple[Link, ...]] = set()

    def consider(links: tuple[Link, ...]) -> None:
        if links not in seen:
            seen.add(links)
            path = Path(links)
            heapq.heappush(candidates, (latency_order(path, path.latency_ms(topology)), len(seen), path))

    first = _lowest(src, dst, graph.__getitem__)
    if first is not None:
        consider(first)
    while candidates and len(found) < k:
        (latency, _, _), _, path = heapq.heappop(candidates)
        if max_latency_ms is not None and latency > max_latency_ms + EPS:
            break  # the rest are slower still
        found.append(path)
        for i in range(path.hops):
            root = path.links[:i]
            banned = {p.links[i] for p in found if p.links[:i] == root}
            root_sites = frozenset(path.sites[:i])
            spur = _lowest(
                path.sites[i],
                dst,
                lambda site: [
                    (link, delay)
                    for link, delay in graph[site]
                    if link not in banned and link.dst not in root_sites
                ],
            )
            if spur is not None:
                consider(root + spur)
    return found


def find_protected(
    topology: Topology,
    src: str,
    dst: str,
    gbps: float,
    available_gbps: Available,
    max_latency_ms: float | None = None,
    avoid_spans: AbstractSet[str] = frozenset(),
) -> tuple[Path, Path]:
    """(primary, backup): two span-disjoint paths (no span in common in either direction),
    each with `gbps` available on every link and within the bound; the primary is the one
    with the lower latency.

    Bhandari's algorithm finds the pair with the least total latency on the bandwidth-pruned
    graph. Limitation: the bound is checked on that pair only; if its longer path is over
    the bound while some other disjoint pair (with a larger total) would meet it, this
    raises NoPath (constraint 'protection') rather than search further. The caller reserves
    `gbps` separately on the primary and the backup (they share no span, so no link counts
    twice)."""
    _check_ends(topology, src, dst)
    if gbps < 0:
        raise ValueError(f'bandwidth must be >= 0 Gb/s, got {gbps}')
    available_gbps = _as_callable(available_gbps)
    avoid_spans = frozenset(avoid_spans)
    usable = _usable(topology, gbps, available_gbps, avoid_spans)
    first = _shortest(topology, src, dst, usable)
    if first is None:
        # Not even one path: same diagnosis as an unprotected request.
        raise _no_path(topology, src, dst, gbps, available_gbps, max_latency_ms, avoid_spans, None)
    pair = _bhandari(topology, src, dst, usable, first)
    if pair is None:
        # Spans of the shortest path without which dst is unreachable: every path needs them.
        cut = [
            sid
            for sid in first.span_ids(topology)
            if _shortest(topology, src, dst, _usable(topology, gbps, available_gbps, avoid_spans | {sid}))
            is None
        ]
        named = (
            f'every path with {gbps:g} Gb/s crosses span {", ".join(cut)}'
            if cut
            else 'the paths that have the bandwidth cannot avoid sharing a span'
        )
        raise NoPath(
            f'no two span-disjoint paths from {src} to {dst} for protection: {named}',
            constraint='protection',
            src=src,
            dst=dst,
            gbps=gbps,
            max_latency_ms=max_latency_ms,
            spans=cut,
            min_latency_ms=first.latency_ms(topology),
        )
    primary, backup = sorted(
        pair, key=lambda p: (round(p.latency_ms(topology), _KEY_DIGITS), p.hops, p.sites)
    )
    if max_latency_ms is not None:
        if first.latency_ms(topology) > max_latency_ms + EPS:
            # Even the fastest path with the bandwidth is too slow: not a protection issue.
            raise _no_path(topology, src, dst, gbps, available_gbps, max_latency_ms, avoid_spans, first)
        if backup.latency_ms(topology) > max_latency_ms + EPS:
            raise _protection_over_bound(topology, src, dst, gbps, max_latency_ms, primary, backup)
    return primary, backup


def _protection_over_bound(
    topology: Topology, src: str, dst: str, gbps: float, max_latency_ms: float, primary: Path, backup: Path
) -> NoPath:
    lat_p, lat_b = primary.latency_ms(topology), backup.latency_ms(topology)
    return NoPath(
        f'protection from {src} to {dst} with {gbps:g} Gb/s: the span-disjoint '
        f'pair with the least total latency takes {lat_p:g} ms and {lat_b:g} ms, '
        f'over the {max_latency_ms:g} ms bound (other pairs are not searched)',
        constraint='protection',
        src=src,
        dst=dst,
        gbps=gbps,
        max_latency_ms=max_latency_ms,
        min_latency_ms=lat_p,
    )


def _bhandari(
    topology: Topology, src: str, dst: str, usable: Callable[[Link], bool], first: Path
) -> tuple[Path, Path] | None:
    """Two span-disjoint paths with the least total latency, or None.

    Residual graph: the first path's links are replaced by their reverse with negated
    delay (taking one "cancels" the first path's use of that span), and the other direction
    of those spans is removed so the second path cannot share them. Bellman-Ford (negative
    arcs, no negative cycle since `first` is shortest) finds the second path; the union
    minus cancelled pairs splits into the two disjoint paths."""
    on_first = set(first.links)
    first_spans = {topology.span_of(link).span_id for link in on_first}
    arcs = []  # (from, to, weight, link, cancels)
    for site in topology.sites:
        for link in sorted(topology.neighbours(site), key=lambda l: l.dst):
            if topology.span_of(link).span_id in first_spans or not usable(link):
                continue
            arcs.append((link.src, link.dst, topology.weight_ms(link), link, False))
    for link in first.links:
        arcs.append((link.dst, link.src, -topology.weight_ms(link), link, True))

    dist, via = {src: 0.0}, {}
    for _ in range(len(topology.sites) - 1):
        changed = False
        for a, b, w, link, cancels in arcs:
            if a in dist and dist[a] + w < dist.get(b, float('inf')) - EPS:
                dist[b], via[b], changed = dist[a] + w, (a, link, cancels), True
        if not changed:
            break
    if dst not in dist:
        return None

    chosen: list[Link] = []
    cancelled: set[Link] = set()
    seen: set[str] = set()
    site = dst
    while site != src:
        if site in seen:  # cannot happen without a negative cycle; fail safe
            return None
        seen.add(site)
        a, link, cancels = via[site]
        (cancelled.add if cancels else chosen.append)(link)
        site = a
    remaining = [link for link in first.links if link not in cancelled] + chosen
    return _split(src, dst, remaining)


def _split(src: str, dst: str, links: list[Link]) -> tuple[Path, Path] | None:
    """Decompose a union of links (two units of flow from src to dst) into two simple
    paths, walking deterministically and cutting out any loop met on the way."""
    out: dict[str, list[Link]] = {}
    for link in sorted(links, key=lambda l: (l.src, l.dst)):
        out.setdefault(link.src, []).append(link)
    paths = []
    for _ in range(2):
        walk: list[Link] = []
        site = src
        while site != dst:
            if not out.get(site):
                return None
            link = out[site].pop(0)
            visited = [l.src for l in walk]
            if link.dst in visited:  # a loop back: drop it, the flow is still valid
                walk = walk[: visited.index(link.dst)]
            else:
                walk.append(link)
            site = link.dst
        paths.append(Path(tuple(walk)))
    return paths[0], paths[1]
