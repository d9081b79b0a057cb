"""Admission: where an intent fits, booked all at once; or why it does not, and what would.

An intent is an E-Line: its bandwidth is promised in both directions, over the same spans
(the return path is the primary's reverse), so a path fits only where both directions of
every span have the room in both books (controller/core/books.py), and both are reserved.
The latency bound is checked src -> dst; the emulated spans have the same delay both ways.

A protected intent also holds a span-disjoint backup: it carries the traffic when the
primary is cut, so its bandwidth is promised too (1+1, as the switches fail over without
asking). Re-placing an intent (a bandwidth change, a better path, a failure) may reuse what
the intent itself holds, and either all of it moves or nothing does.

An intent refused for lack of room may get in once placed intents move aside (make_room:
a bounded search, tried in the books and undone, that the placement then carries out).
"""

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace

from controller.core.books import Books, placed
from controller.core.intent import Intent
from controller.core.ledger import AdmissionError, Ledger
from controller.core.paths import EPS, NoPath, Path, find_path, find_protected
from controller.core.planner import RANK
from controller.core.topology import Link, Topology
from topologies.model.order import Protection

AlsoFree = Callable[[Ledger, Link], float]  # Gb/s of a link to count as free in a book


@dataclass(frozen=True)
class Placement:
    primary: Path
    backup: Path | None = None  # when protected
    unprotected: str = ''  # why a protected intent runs without a backup for now
    over_bound: str = ''  # why an intent runs over its latency bound for now

    def latency_ms(self, topology: Topology) -> float:
        """What the intent's traffic sees now: the primary's measured latency."""
        return self.primary.latency_ms(topology)

    def for_now(self, intent: Intent) -> str:
        """What the intent lacks on this placement for now, as people read it ('' if nothing)."""
        return ''.join(
            [
                f' (unprotected for now: {self.unprotected})' if self.unprotected else '',
                f' (over its {intent.max_latency_ms:g} ms bound for now: {self.over_bound})'
                if self.over_bound
                else '',
            ]
        )


def compute(
    topology: Topology,
    books: Books,
    intent: Intent,
    avoid_spans: AbstractSet[str] = frozenset(),
    keep: Path | None = None,
    degrade: bool = False,
    also_free: AlsoFree | None = None,
    over_bound: bool = False,
) -> Placement:
    """The placement the intent would get now (a dry run: the books are not touched).
    With `over_bound`, an intent no path within its latency bound can carry gets the
    lowest-latency path that has its bandwidth (`over_bound` says why): for an intent a cut
    just displaced, a slower path is better than no traffic; it moves back within its bound
    as soon as a path allows (Steering.keep_bounds). Otherwise as _compute."""
    try:
        return _compute(topology, books, intent, avoid_spans, keep, degrade, also_free, intent.max_latency_ms)
    except NoPath as e:
        if not over_bound or e.constraint != 'latency':
            raise
        placement = _compute(topology, books, intent, avoid_spans, keep, degrade, also_free, None)
        return replace(placement, over_bound=str(e))


def _compute(
    topology: Topology,
    books: Books,
    intent: Intent,
    avoid_spans: AbstractSet[str],
    keep: Path | None,
    degrade: bool,
    also_free: AlsoFree | None,
    bound: float | None,
) -> Placement:
    """The placement the intent would get now, its latency at most `bound` ms (None: any).
    Raises paths.NoPath, whose figures say what would fit. `also_free(book, link)`, when
    given, is bandwidth counted as free on top of what a book has left (make_room's
    question: where would it fit if other intents moved?).

    For a protected intent, `keep` (a path) is tried first as the primary, with a new backup
    beside it: after a cut the switches already carry the traffic on the surviving path, so
    it stays there. With `degrade`, a protected intent that cannot get two disjoint paths
    gets one (`unprotected` says why) rather than none: for an intent that already runs,
    losing its backup is better than losing its traffic."""
    # The path search asks for the committed rate: a link fits when each book has what the
    # intent takes in it (committed; committed plus excess), counting its own share as free.
    over = [
        (book, gbps - intent.bandwidth_gbps, _own_gbps(book, intent.id)) for book, gbps in books.rates(intent)
    ]

    def room(link: Link) -> float:
        return min(
            book.available_gbps(link)
            + own.get(link, 0.0)
            + (also_free(book, link) if also_free else 0.0)
            - extra
            for book, extra, own in over
        )

    def available(link: Link) -> float:  # both directions must carry the bandwidth
        return min(room(link), room(link.reverse()))

    ends = (topology, intent.src, intent.dst, intent.bandwidth_gbps, available)
    if intent.protection is not Protection.PROTECTED:
        return Placement(find_path(*ends, bound, avoid_spans))
    keep = keep if keep is not None and _fits(topology, keep, intent, available, avoid_spans, bound) else None
    if keep is not None:
        try:
            return Placement(
                keep, find_path(*ends, bound, frozenset(avoid_spans) | set(keep.span_ids(topology)))
            )
        except NoPath:
            pass
    try:
        return Placement(*find_protected(*ends, bound, avoid_spans))
    except NoPath as e:
        if not degrade or e.constraint != 'protection':
            raise
        alone = keep or find_path(*ends, bound, avoid_spans)
        return Placement(alone, unprotected=str(e))


def _fits(
    topology: Topology,
    path: Path,
    intent: Intent,
    available: Callable[[Link], float],
    avoid_spans: AbstractSet[str],
    bound: float | None,
) -> bool:
    """The path is up, avoids what it must, has the bandwidth and meets the bound."""
    return (
        all(topology.span_of(link).up for link in path.links)
        and not set(path.span_ids(topology)) & set(avoid_spans)
        and path.bottleneck_gbps(available) >= intent.bandwidth_gbps - EPS
        and (bound is None or path.latency_ms(topology) <= bound + EPS)
    )


def admit(
    topology: Topology,
    books: Books,
    intent: Intent,
    avoid_spans: AbstractSet[str] = frozenset(),
    keep: Path | None = None,
    degrade: bool = False,
    placement: Placement | None = None,
    over_bound: bool = False,
) -> Placement:
    """Reserve a placement (computed now unless given: a dry run just made) in place of
    what the intent held. Raises NoPath or ledger.AdmissionError, and then the books are
    exactly as before."""
    if placement is None:
        placement = compute(topology, books, intent, avoid_spans, keep, degrade, over_bound=over_bound)
    books.reserve(intent, placement)
    return placement


def _own_gbps(book: Ledger, intent_id: str) -> dict[Link, float]:
    own: dict[Link, float] = {}
    for holder in placed(intent_id):
        held = book.reservation(holder)
        if held:
            links, gbps = held
            for link in links:
                own[link] = own.get(link, 0.0) + gbps
    return own


# --- making room: moving placed intents aside so that a refused one fits ----------------------

TARGETS = 3  # paths tried for the newcomer
CANDIDATES = 4  # intents tried per span that lacks room
MOVES = 4  # intents moved at most to let one in


@dataclass(frozen=True)
class Move:
    intent: Intent  # the intent moved aside
    placement: Placement  # where it goes
    spans: tuple[str, ...]  # the span it frees for the newcomer


def make_room(
    topology: Topology,
    books: Books,
    intent: Intent,
    movable: Callable[[str], Intent | None],
    degrade: bool = False,
) -> tuple[list[Move], Placement | None]:
    """Moves of placed intents after which `intent`, refused now, fits, and where it would
    then go: ([Move] in the order to start them, its target Placement), or ([], None) when a
    bounded search finds none. `movable(intent id)` is the placed intent that may move for
    it, or None. The books end as they began.

    Each target is the lowest-latency placement the newcomer would get on empty spans (less
    those tried before); on each of its spans that lacks room, a few intents crossing it
    (lowest class first, then those whose bandwidth alone covers what is missing, smallest
    first) are tried on a path of their own that avoids the spans lacking room, leaves the
    newcomer's share of its other spans alone, meets their bound and keeps their protection.
    A move takes only room that is free while the intent still holds its old path
    (make-before-break: no span is over-booked while the switches carry both), so no move
    waits for another. The newcomer must fit once the moved intents have left their old
    paths. A target that cannot be cleared is avoided by the next one."""
    avoid: set[str] = set()
    for _ in range(TARGETS):
        try:
            target = compute(topology, books, intent, frozenset(avoid), degrade=degrade, also_free=_reserved)
        except NoPath:
            return [], None
        with books.trial():
            moves, stuck = _clear(topology, books, intent, target, movable, degrade)
        if moves:
            return moves, target
        if stuck is None:
            return [], None
        avoid.add(stuck)
    return [], None


def _reserved(book: Ledger, link: Link) -> float:
    """also_free for a target: as if the link were empty (a dict look-up per link; which
    holders may really move is asked only on the spans that lack room)."""
    return book.reserved_gbps(link)


def _clear(
    topology: Topology,
    books: Books,
    intent: Intent,
    target: Placement,
    movable: Callable[[str], Intent | None],
    degrade: bool,
) -> tuple[list[Move], str | None]:
    """Move intents (in the books: the caller undoes it) off the target's spans that lack
    room for `intent`. ([Move], None) if it fits afterwards; ([], span) naming the first
    span that could not be cleared; ([], None) when clearing every span was not enough."""
    needs = books.rates(intent)
    links = [l for p in (target.primary, target.backup) if p is not None for l in p.links]
    moves: list[Move] = []

    def leaving(book: Ledger, link: Link) -> float:  # what moved intents still hold there until they flip
        moved = {m.intent.id for m in moves}
        return sum(g for h, g in book.holders_on(link).items() if h[1] == 'old' and h[0] in moved)

    def short(link: Link) -> float:  # Gb/s missing on the span of `link` (both directions)
        return max(
            need - book.available_gbps(l) - leaving(book, l)
            for book, need in needs
            for l in (link, link.reverse())
        )

    blocked = [l for l in links if short(l) > EPS]
    avoid = frozenset(topology.span_of(l).span_id for l in blocked)
    claimed = [l for l in links if l not in blocked]
    if claimed:  # the room the newcomer has elsewhere is not for the movers
        books.claim(intent, claimed)
    for link in blocked:
        span = topology.span_of(link).span_id
        for mover in _candidates(books.committed, link, movable, short(link), moves)[:CANDIDATES]:
            if short(link) <= EPS or len(moves) == MOVES:
                break
            before = books.share(mover.id)
            try:
                placement = admit(topology, books, mover, avoid)
            except (NoPath, AdmissionError):
                continue
            books.hold_old(mover.id, before)
            moves.append(Move(mover, placement, (span,)))
        if short(link) > EPS:
            return [], span
    books.release_claims(intent.id)
    for move in moves:  # once installed, the moved intents leave their old paths
        books.release_old(move.intent.id)
    try:
        compute(topology, books, intent, degrade=degrade)
    except NoPath:
        return [], None
    return moves, None


def _candidates(
    ledger: Ledger, link: Link, movable: Callable[[str], Intent | None], missing: float, moves: list[Move]
) -> list[Intent]:
    """Intents holding `link` that may move, most worth trying first: lowest class first,
    then those whose bandwidth alone covers what is missing (smallest first: the least
    traffic to find room for), then the others, largest first."""
    moved = {m.intent.id for m in moves}
    ids = {h[0] for h in ledger.holders_on(link) if h[1] in ('primary', 'backup') and h[0] not in moved}
    return sorted(
        filter(None, map(movable, ids)),
        key=lambda m: (
            -RANK[m.service_class],
            m.bandwidth_gbps < missing - EPS,
            m.bandwidth_gbps if m.bandwidth_gbps >= missing - EPS else -m.bandwidth_gbps,
            m.number,
        ),
    )
