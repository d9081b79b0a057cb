"""The policy engine: when a placed intent should move, and which intents give way.

Pure, like the rest of the core: the controller passes the time and the facts, the planner
answers with decisions, each with its reason; the controller carries them out (routes,
events, store). What it decides:

- **latency**: an intent whose path's measured latency breaks its bound moves to a path
  that meets it; an intent whose bound still holds stays put;
- **re-optimization**: on a timer and when the network gets better (a span back, capacity
  freed), intents are re-placed class by class (REALTIME, then PRIORITY, then BULK, as SWAN
  and B4 allocate), each only if it gets back its protection, or the move gains enough
  latency and the intent either has a latency bound (margin is what it buys) or was
  displaced (by a cut, congestion or preemption: it goes home once the span is back);
  an intent with no bound is not moved just because another path became faster;
- **hysteresis**: a span that came back is not used for such moves until it has stayed up
  `span_hold_s`, doubled for every other time it went down within `flap_window_s` (route
  flap damping), and an intent is moved for gain at most once per `move_hold_s`; so a span
  flapping every second moves an intent off it once, and back once when it has settled;
- **noise**: a move for gain counts what it gains on every reading of the last
  `move_hold_s` (`steady_gain_ms`), not on the latest: under load on germany50 the estimate
  of each span wanders by up to 0.8 ms for tens of seconds, and the latest readings made a
  path 0.2 ms slower read 1.1 ms faster;
- **congestion**: a span whose measured load stays above `congestion_ratio` of its capacity
  for `congestion_samples` readings sheds load, lowest class first: excess rates are
  squeezed to the committed ones, then intents move to paths avoiding it; REALTIME intents
  are never squeezed nor moved for congestion: theirs is the guarantee being kept;
- **making room**: an intent that does not fit may have placed intents of its class or a
  lower one moved aside onto other paths that keep their bound and protection (tried before
  preemption: nobody loses anything); never a higher class for a lower one;
- **preemption**: a higher-class intent that does not fit may take the bandwidth of
  lower-class ones, if the policy allows it and their tenants are not exempt; they are then
  re-placed elsewhere, or fail with the reason;
- **batch order**: intents placed together (retries, a restart, re-optimization) go class
  by class, then fewest hops first, then largest first.
"""

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from controller.core.estimators import Ranges
from controller.core.intent import Intent, State
from controller.core.paths import Path
from controller.core.topology import Link, Topology
from topologies.model.order import ServiceClass
from topologies.model.policy import Policy

if TYPE_CHECKING:  # admission imports this module
    from controller.core.admission import Placement

RANK = {ServiceClass.REALTIME: 0, ServiceClass.PRIORITY: 1, ServiceClass.BULK: 2}


class Planner:
    def __init__(self, policy: Policy | None = None, now: float = 0.0):
        self.policy = policy or Policy()
        self._downs: dict[str, deque[float]] = {}  # span id -> when it went down
        self._up_since: dict[str, float] = {}  # span id -> when it last came up
        self._moved_at: dict[str, float] = {}  # intent id -> when it last moved
        self._left: dict[
            str, dict[tuple[str, ...], deque[float]]
        ] = {}  # intent id -> path -> when it left it
        self._left_for_bound: dict[str, dict[tuple[str, ...], float]] = {}  # ... for its bound: when
        self._hot: dict[Link, int] = {}  # link -> consecutive readings above the threshold
        self.squeezed: set[str] = set()  # intent ids whose excess is squeezed
        self.displaced: set[str] = set()  # intent ids moved off their path by the network, not by choice
        self._readings = Ranges(self.policy.move_hold_s)  # link or site -> its estimates lately
        self.last_reoptimized = now
        self.wanted = False  # a re-optimization is due (the network got better)

    # --- facts ------------------------------------------------------------------------------

    def span_changed(self, span_id: str, up: bool, now: float) -> None:
        if up:
            self._up_since[span_id] = now
            self.wanted = True
        else:
            downs = self._downs.setdefault(span_id, deque())
            downs.append(now)
            while downs and downs[0] < now - self.policy.flap_window_s:
                downs.popleft()

    def measured(self, what: Link | str, ms: float, now: float) -> None:
        """A new estimate of a link's delay or of a site's crossing: what a path's latency sums."""
        self._readings.add(what, ms, now)

    def capacity_freed(self) -> None:
        self.wanted = True

    def untrusted_spans(self, topology: Topology, now: float) -> set[str]:
        """Spans up but not yet trusted: back too recently for their flap history."""
        out = set()
        for span_id, since in self._up_since.items():
            downs = [t for t in self._downs.get(span_id, ()) if t >= now - self.policy.flap_window_s]
            if topology.spans[span_id].up and now - since < self.policy.hold_s(len(downs)):
                out.add(span_id)
        return out

    def settling(self, topology: Topology, now: float) -> float | None:
        """The earliest time an untrusted span becomes trusted, or None."""
        times = []
        for span_id in self.untrusted_spans(topology, now):
            downs = [t for t in self._downs.get(span_id, ()) if t >= now - self.policy.flap_window_s]
            times.append(self._up_since[span_id] + self.policy.hold_s(len(downs)))
        return min(times, default=None)

    def moved(self, intent_id: str, now: float, left: tuple[str, ...] = (), for_bound: bool = False) -> None:
        """The intent moved (for gain, its bound, congestion), leaving the path of sites `left`
        (`for_bound`: because that path read over the intent's latency bound)."""
        self._moved_at[intent_id] = now
        if left:
            times = self._left.setdefault(intent_id, {}).setdefault(left, deque())
            times.append(now)
            while times[0] < now - self.policy.flap_window_s:
                times.popleft()
        if left and for_bound:
            paths = self._left_for_bound.setdefault(intent_id, {})
            for path in [p for p, at in paths.items() if at < now - self.policy.move_hold_s]:
                del paths[path]
            paths[left] = now

    def left_for_bound(self, intent_id: str, path: tuple[str, ...], now: float) -> bool:
        """Whether the intent left `path` within `move_hold_s` because it read over its bound.
        Then it does not go back there for its bound: with two paths near the bound, noise
        makes each read over in turn, and the intent would bounce between them."""
        at = self._left_for_bound.get(intent_id, {}).get(path)
        return at is not None and now - at < self.policy.move_hold_s

    def return_hold_s(self, intent_id: str, path: tuple[str, ...], now: float) -> float:
        """How long an intent must still wait before it moves back, for gain, onto a path it
        left: `move_hold_s` after it last left it, doubled per other time within the flap window."""
        times = [
            t for t in self._left.get(intent_id, {}).get(path, ()) if t >= now - self.policy.flap_window_s
        ]
        if not times:
            return 0.0
        hold = min(self.policy.max_hold_s, self.policy.move_hold_s * 2 ** (len(times) - 1))
        return max(0.0, times[-1] + hold - now)

    def forget(self, intent_id: str) -> None:
        self._moved_at.pop(intent_id, None)
        self._left.pop(intent_id, None)
        self._left_for_bound.pop(intent_id, None)
        self.squeezed.discard(intent_id)
        self.displaced.discard(intent_id)

    # --- latency ------------------------------------------------------------------------------

    def latency_broken(
        self, topology: Topology, intents: Iterable[Intent], placements: Mapping[str, 'Placement']
    ) -> list[tuple[Intent, str]]:
        """[(intent, reason)] for placed intents whose primary's measured latency is over
        the bound beyond the margin, most urgent class first. The delays are windowed minima
        (controller/core/estimators.py): a breach has held on every probe of the window."""
        out = []
        for intent in by_class(intents):
            placement = placements.get(intent.id)
            if intent.max_latency_ms is None or placement is None or not intent.active:
                continue
            ms = placement.primary.latency_ms(topology)
            if ms > intent.max_latency_ms + self.margin_ms(intent.max_latency_ms):
                slow = max(placement.primary.links, key=topology.delay_ms)
                out.append(
                    (
                        intent,
                        f'latency {ms:.1f} ms over the {intent.max_latency_ms:g} ms '
                        f'bound (span {topology.span_of(slow).span_id} measured '
                        f'{topology.delay_ms(slow):.1f} ms)',
                    )
                )
        return out

    # --- re-optimization ------------------------------------------------------------------------

    def margin_ms(self, bound_ms: float) -> float:
        """How far over its bound a path's measured latency may read before the bound counts
        as broken: what measurement noise adds, not what a tenant would notice."""
        return self.policy.bound_margin_ms + self.policy.bound_margin_ratio * bound_ms

    def reoptimize_due(self, now: float) -> bool:
        return self.wanted or now - self.last_reoptimized >= self.policy.reoptimize_every_s

    def worth_moving(
        self, topology: Topology, intent: Intent, current: 'Placement | None', better: 'Placement', now: float
    ) -> str | None:
        """The reason to move an intent from `current` to `better` (placements), or None."""
        if current is None:
            return 'placed again'
        if current.unprotected and better.backup is not None:
            return 'protected again'
        if intent.max_latency_ms is None and intent.id not in self.displaced:
            return None
        if now - self._moved_at.get(intent.id, -math.inf) < self.policy.move_hold_s:
            return None
        if self.return_hold_s(intent.id, better.primary.sites, now) > 0:
            return None  # it left that path recently: noise must not bounce it back and forth
        old, new = current.primary.latency_ms(topology), better.primary.latency_ms(topology)
        bound = intent.max_latency_ms
        moves = better.primary.sites != current.primary.sites and new < old
        if moves and current.over_bound and bound is not None and new <= bound - self.margin_ms(bound):
            return f'within its {bound:g} ms bound again: {new:.1f} ms instead of {old:.1f} ms'
        if self.gains(old, new):  # first on the latest estimates: the steady gain is at most theirs
            steady = self.steady_gain_ms(topology, current.primary, better.primary, now)
            if self.gains(old, old - steady):
                return f're-optimized: {new:.1f} ms instead of {old:.1f} ms'
        return None

    def steady_gain_ms(self, topology: Topology, old: Path, new: Path, now: float) -> float:
        """What path `new` saves on path `old` on every reading of the last `move_hold_s`:
        the least that the spans and switches only `old` takes read then, less the most that
        those only `new` takes read (what both take counts the same on either). At most what
        the latest estimates say it saves."""

        def sums(links: set[Link], sites: set[str], fastest: bool) -> float:
            total = 0.0
            for what, now_ms in [(l, topology.delay_ms(l)) for l in links] + [
                (s, topology.crossing_ms(s)) for s in sites
            ]:
                seen = self._readings.range(what, now)
                low, high = seen if seen is not None else (now_ms, now_ms)
                total += min(low, now_ms) if fastest else max(high, now_ms)
            return total

        old_links, new_links = set(old.links), set(new.links)
        old_sites, new_sites = set(old.sites), set(new.sites)
        return sums(old_links - new_links, old_sites - new_sites, fastest=True) - sums(
            new_links - old_links, new_sites - old_sites, fastest=False
        )

    def gains(self, old_ms: float, new_ms: float) -> bool:
        """Whether a path of `new_ms` saves enough on one of `old_ms` to move for it."""
        gain = old_ms - new_ms
        return gain >= self.policy.min_gain_ms and gain >= self.policy.min_gain_ratio * old_ms

    def clears(self, bound_ms: float, new_ms: float, old_ms: float) -> bool:
        """Whether a move for a broken bound onto a path of `new_ms` is worth it: that path
        meets the bound by more than the margin, or saves enough (`gains`). Not onto one that
        meets it only within noise: on germany50 every path left to an intent read within
        0.4 ms of its bound, noise made each read over in turn, and it moved every few seconds."""
        return new_ms <= bound_ms - self.margin_ms(bound_ms) or self.gains(old_ms, new_ms)

    # --- congestion ---------------------------------------------------------------------------

    def load_measured(self, topology: Topology, link: Link, gbps: float) -> int:
        """Record a reading. Returns the step of relief due now (1 after `congestion_samples`
        readings in a row over the threshold, 2 after twice as many, ...), else 0."""
        limit = self.policy.congestion_ratio * topology.capacity_gbps(link)
        if gbps <= limit:
            self._hot.pop(link, None)
            return 0
        n = self._hot[link] = self._hot.get(link, 0) + 1
        return n // self.policy.congestion_samples if n % self.policy.congestion_samples == 0 else 0

    def congested(self, topology: Topology) -> set[str]:
        return {
            topology.span_of(link).span_id
            for link, n in self._hot.items()
            if n >= self.policy.congestion_samples
        }

    def shed_order(self, intents_on_span: Iterable[Intent]) -> list[Intent]:
        """Who gives way on a congested span: lowest class first, newest first; never REALTIME."""
        return sorted(
            (i for i in intents_on_span if i.service_class is not ServiceClass.REALTIME),
            key=lambda i: (-RANK[i.service_class], -i.number),
        )

    # --- preemption ---------------------------------------------------------------------------

    def may_move_for(self, newcomer: Intent, intent: Intent) -> bool:
        """Whether a placed intent may be moved aside to make room for `newcomer`: installed
        (not mid-move), and not of a higher class."""
        return (
            intent.state is State.INSTALLED
            and intent.id != newcomer.id
            and RANK[intent.service_class] >= RANK[newcomer.service_class]
        )

    def may_preempt(self, winner: Intent, loser: Intent) -> bool:
        return (
            self.policy.preemption
            and loser.tenant not in self.policy.exempt_tenants
            and RANK[loser.service_class] > RANK[winner.service_class]
            and loser.state is not State.WITHDRAWING
        )


def by_class(intents: Iterable[Intent]) -> list[Intent]:
    """Intents in allocation order: REALTIME, PRIORITY, BULK; oldest first within a class."""
    return sorted(intents, key=lambda i: (RANK[i.service_class], i.number))


def batch_order(intents: Iterable[Intent], hops: Callable[[Intent], float]) -> list[Intent]:
    """Intents to place together, in an order that packs the spans well: class by class,
    then fewest hops on the lowest-latency path (`hops(intent)`: a short path takes fewer
    spans per Gb/s), then largest first (the small ones fill the gaps), then oldest."""
    return sorted(intents, key=lambda i: (RANK[i.service_class], hops(i), -i.bandwidth_gbps, i.number))
