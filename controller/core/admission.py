"""Admission: where an intent fits, reserved all at once; or why it does not, and what would.

An intent is an E-Line: its bandwidth is promised in both directions, over the same spans
(the return path is the primary's reverse), so a path fits only where both directions of
every span have the room, and both are reserved. The latency bound is checked src -> dst;
the emulated spans have the same delay both ways.

An intent holds up to two reservations in the ledger, `(intent id, 'primary')` and, when
protected, `(intent id, 'backup')` on a span-disjoint path: the backup carries the traffic
when the primary is cut, so its bandwidth is promised too (1+1, as the switches fail over
without asking). Re-placing an intent (a bandwidth change, a better path, a failure) may
reuse what the intent itself holds, and either all of it moves or nothing does.

An intent refused for lack of room may get in once placed intents move aside (make_room:
a bounded search, tried in the ledgers and undone, that the controller then carries out).

Excess bandwidth (an optional rate above the committed one, which the ingress meter lets
through) is held in a second ledger, `peak`, without headroom: committed plus excess of every
intent on a link must fit the link's whole capacity, so the excess rides in the headroom the
committed rates leave and can never take another intent's committed bandwidth.
"""

import contextlib
from dataclasses import dataclass, replace

from controller.core.ledger import AdmissionError
from controller.core.paths import EPS, NoPath, find_path, find_protected
from controller.core.planner import RANK
from topologies.model.order import Protection


@dataclass(frozen=True)
class Placement:
    primary: object  # paths.Path
    backup: object = None  # paths.Path when protected
    unprotected: str = ''  # why a protected intent runs without a backup for now
    over_bound: str = ''  # why an intent runs over its latency bound for now

    def latency_ms(self, topology):
        """What the intent's traffic sees now: the primary's measured latency."""
        return self.primary.latency_ms(topology)

    def for_now(self, intent):
        """What the intent lacks on this placement for now, as people read it ('' if nothing)."""
        return ''.join(
            [
                f' (unprotected for now: {self.unprotected})' if self.unprotected else '',
                f' (over its {intent.max_latency_ms:g} ms bound for now: {self.over_bound})'
                if self.over_bound
                else '',
            ]
        )


def holders(intent_id):
    return (intent_id, 'primary'), (intent_id, 'backup')


def compute(
    topology,
    ledger,
    intent,
    avoid_spans=frozenset(),
    peak=None,
    keep=None,
    degrade=False,
    also_free=None,
    over_bound=False,
):
    """The placement the intent would get now (a dry run: the ledgers are not touched).
    With `over_bound`, an intent no path within its latency bound can carry gets the
    lowest-latency path that has its bandwidth (`over_bound` says why): for an intent a cut
    just displaced, a slower path is better than no traffic; it moves back within its bound
    as soon as a path allows (Controller._keep_bounds). Otherwise as _compute."""
    try:
        return _compute(
            topology, ledger, intent, avoid_spans, peak, keep, degrade, also_free, intent.max_latency_ms
        )
    except NoPath as e:
        if not over_bound or e.constraint != 'latency':
            raise
        placement = _compute(topology, ledger, intent, avoid_spans, peak, keep, degrade, also_free, None)
        return replace(placement, over_bound=e.reason)


def _compute(topology, ledger, intent, avoid_spans, peak, keep, degrade, also_free, bound):
    """The placement the intent would get now, its latency at most `bound` ms (None: any).
    Raises paths.NoPath, whose figures say what would fit. `also_free(book, link)`, when
    given, is bandwidth counted as free on top of what a ledger has left (make_room's
    question: where would it fit if other intents moved?).

    For a protected intent, `keep` (a path) is tried first as the primary, with a new backup
    beside it: after a cut the switches already carry the traffic on the surviving path, so
    it stays there. With `degrade`, a protected intent that cannot get two disjoint paths
    gets one (`unprotected` says why) rather than none: for an intent that already runs,
    losing its backup is better than losing its traffic."""
    own = _own_gbps(ledger, intent.id)
    own_peak = _own_gbps(peak, intent.id) if peak is not None else {}
    excess = intent.excess_gbps

    def free(book, link):
        return 0.0 if also_free is None else also_free(book, link)

    def room(link):
        committed = ledger.available_gbps(link) + own.get(link, 0.0) + free(ledger, link)
        if peak is None:
            return committed
        # The path search asks for the committed rate: a link fits when it has that and,
        # in the peak ledger, committed plus excess.
        return min(committed, peak.available_gbps(link) + own_peak.get(link, 0.0) + free(peak, link) - excess)

    def available(link):  # both directions must carry the bandwidth
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
        return Placement(alone, unprotected=e.reason)


def _fits(topology, path, intent, available, avoid_spans, bound):
    """The path is up, avoids what it must, has the bandwidth and meets the bound."""
    return (
        all(topology.span_of(link).up for link in path.links)
        and not set(path.span_ids(topology)) & set(avoid_spans)
        and path.bottleneck_gbps(available) >= intent.bandwidth_gbps - EPS
        and (bound is None or path.latency_ms(topology) <= bound + EPS)
    )


def admit(
    topology,
    ledger,
    intent,
    avoid_spans=frozenset(),
    peak=None,
    keep=None,
    degrade=False,
    placement=None,
    over_bound=False,
):
    """Reserve a placement (computed now unless given: a dry run just made) in place of
    what the intent held. Raises NoPath or ledger.AdmissionError, and then the ledgers are
    exactly as before."""
    if placement is None:
        placement = compute(topology, ledger, intent, avoid_spans, peak, keep, degrade, over_bound=over_bound)
    done = []
    try:
        for book, gbps in rates(ledger, peak, intent):
            done.append((book, _reserve(book, intent.id, placement, gbps)))
    except Exception:
        for book, old in done:
            _put_back(book, intent.id, old)
        raise
    return placement


def rates(ledger, peak, intent):
    """[(ledger, Gb/s the intent takes in it)]: committed, and committed plus excess."""
    books = [(ledger, intent.bandwidth_gbps)]
    if peak is not None:
        books.append((peak, intent.bandwidth_gbps + intent.excess_gbps))
    return books


def shares(intent_id, *books):
    """[(book, [its reservation per holder of the intent])]: what hold_old needs."""
    return [(book, [book.reservation(h) for h in holders(intent_id)]) for book in books]


def hold_old(intent_id, before):
    """After a move, keep in each book the links of the primary the switches carry now
    (`before`, from shares()) that the new placement does not use, as `(intent id, 'old')`,
    until the intent is installed on the new one: make-before-break in the books too, so
    no span is over-booked mid-move. A hold from an earlier move still in flight stays as
    it is (it is what the switches carry); a backup carries no traffic, so it is not held."""
    for book, held in before:
        if book.reservation((intent_id, 'old')) is not None or held[0] is None:
            continue
        new = set()
        for holder in holders(intent_id):
            new.update((book.reservation(holder) or ((), 0))[0])
        links, gbps = held[0]
        gone = [link for link in links if link not in new]
        if gone:
            book.keep((intent_id, 'old'), gone, gbps)


def _reserve(ledger, intent_id, placement, gbps):
    """Reserve the placement in place of the intent's share; returns the old share."""
    old = [(h, ledger.reservation(h)) for h in holders(intent_id) if ledger.reservation(h)]
    withdraw(ledger, intent_id)  # the intent's own share is part of what compute() used
    primary, backup = holders(intent_id)
    try:
        ledger.reserve(primary, both_ways(placement.primary), gbps)
        if placement.backup is not None:
            ledger.reserve(backup, both_ways(placement.backup), gbps)
    except Exception:
        _put_back(ledger, intent_id, old)
        raise
    return old


def _put_back(ledger, intent_id, old):
    """Cannot be needed unless compute() and a ledger disagree: the intent's old share again
    (restore(), unlike reserve(), also accepts spans that went down meanwhile)."""
    withdraw(ledger, intent_id)
    ledger.restore(
        ledger.snapshot()
        + [
            {'holder': list(h), 'links': [[l.src, l.dst] for l in links], 'gbps': gbps}
            for h, (links, gbps) in old
        ]
    )


def both_ways(path):
    """The links a bidirectional intent holds on a path: forward, then the return."""
    return path.links + tuple(link.reverse() for link in reversed(path.links))


def withdraw(ledger, intent_id, peak=None):
    """Release everything the intent holds; True if it held something."""
    if peak is not None:
        withdraw(peak, intent_id)
    released = [ledger.release(holder) for holder in holders(intent_id)]  # every one, no short cut
    return any(released)


def _own_gbps(ledger, intent_id):
    own = {}
    for holder in holders(intent_id):
        held = ledger.reservation(holder)
        if held:
            links, gbps = held
            for link in links:
                own[link] = own.get(link, 0.0) + gbps
    return own


# --- making room: moving placed intents aside so that a refused one fits ----------------------

TARGETS = 3  # paths tried for the newcomer
CANDIDATES = 4  # intents tried per span that lacks room
MOVES = 4  # intents moved at most to let one in
CLAIM = ('make-room', 'claim')  # a trial's hold on the newcomer's room, for the movers to avoid


@dataclass(frozen=True)
class Move:
    intent: object  # the intent moved aside
    placement: Placement  # where it goes
    spans: tuple  # the span it frees for the newcomer


def make_room(topology, ledger, intent, movable, peak=None, degrade=False):
    """Moves of placed intents after which `intent`, refused now, fits: [Move] in the order
    to start them, or [] when a bounded search finds none. `movable(intent id)` is the
    placed intent that may move for it, or None. The ledgers end as they began.

    Each target is the lowest-latency placement the newcomer would get on empty spans (less
    those tried before); on each of its spans that lacks room, a few intents crossing it
    (lowest class first, then those whose bandwidth alone covers what is missing, smallest
    first) are tried on a path of their own that avoids the spans lacking room, leaves the
    newcomer's share of its other spans alone, meets their bound and keeps their protection.
    A move takes only room that is free while the intent still holds its old path
    (make-before-break: no span is over-booked while the switches carry both), so no move
    waits for another. The newcomer must fit once the moved intents have left their old
    paths. A target that cannot be cleared is avoided by the next one."""
    avoid = set()
    for _ in range(TARGETS):
        try:
            target = compute(
                topology, ledger, intent, frozenset(avoid), peak, degrade=degrade, also_free=_reserved
            )
        except NoPath:
            return []
        with ledger.trial(), _trial(peak):
            moves, stuck = _clear(topology, ledger, peak, intent, target, movable, degrade)
        if moves or stuck is None:
            return moves
        avoid.add(stuck)
    return []


def _reserved(book, link):
    """also_free for a target: as if the link were empty (a dict look-up per link; which
    holders may really move is asked only on the spans that lack room)."""
    return book.reserved_gbps(link)


def _trial(book):
    return book.trial() if book is not None else contextlib.nullcontext()


def _clear(topology, ledger, peak, intent, target, movable, degrade):
    """Move intents (in the ledgers: the caller undoes it) off the target's spans that lack
    room for `intent`. ([Move], None) if it fits afterwards; ([], span) naming the first
    span that could not be cleared; ([], None) when clearing every span was not enough."""
    books = rates(ledger, peak, intent)
    links = [l for p in (target.primary, target.backup) if p is not None for l in p.links]
    moves = []

    def leaving(book, link):  # what moved intents still hold there until they flip
        moved = {m.intent.id for m in moves}
        return sum(g for (i, role), g in book.holders_on(link).items() if role == 'old' and i in moved)

    def short(link):  # Gb/s missing on the span of `link` (both directions)
        return max(
            need - book.available_gbps(l) - leaving(book, l)
            for book, need in books
            for l in (link, link.reverse())
        )

    blocked = [l for l in links if short(l) > EPS]
    avoid = frozenset(topology.span_of(l).span_id for l in blocked)
    claimed = [l for l in links if l not in blocked]
    for book, need in books:  # the room the newcomer has elsewhere is not for the movers
        if claimed:
            book.keep(CLAIM, claimed + [l.reverse() for l in claimed], need)
    for link in blocked:
        span = topology.span_of(link).span_id
        for mover in _candidates(ledger, link, movable, short(link), moves)[:CANDIDATES]:
            if short(link) <= EPS or len(moves) == MOVES:
                break
            before = shares(mover.id, *(book for book, _ in books))
            try:
                placement = admit(topology, ledger, mover, avoid, peak)
            except (NoPath, AdmissionError):
                continue
            hold_old(mover.id, before)
            moves.append(Move(mover, placement, (span,)))
        if short(link) > EPS:
            return [], span
    for book, _ in books:  # once installed, the moved intents leave their old paths
        book.release(CLAIM)
        for move in moves:
            book.release((move.intent.id, 'old'))
    try:
        compute(topology, ledger, intent, peak=peak, degrade=degrade)
    except NoPath:
        return [], None
    return moves, None


def _candidates(ledger, link, movable, missing, moves):
    """Intents holding `link` that may move, most worth trying first: lowest class first,
    then those whose bandwidth alone covers what is missing (smallest first: the least
    traffic to find room for), then the others, largest first."""
    moved = {m.intent.id for m in moves}
    ids = {i for (i, role) in ledger.holders_on(link) if role != 'old' and i not in moved}
    return sorted(
        filter(None, map(movable, ids)),
        key=lambda m: (
            -RANK[m.service_class],
            m.bandwidth_gbps < missing - EPS,
            m.bandwidth_gbps if m.bandwidth_gbps >= missing - EPS else -m.bandwidth_gbps,
            m.number,
        ),
    )
