"""The two ledgers every intent is booked in, kept by one object.

- `committed`: each intent's committed rate, with the spans' headroom never promised;
- `peak`: committed plus excess rate, against the whole capacity (no headroom), so the excess
  rides in the headroom the committed rates leave and can never take another intent's
  committed bandwidth.

An intent is an E-Line: it holds both directions of every span of its path. Per intent the
books hold up to four kinds of reservation (holders are tuples, roles named below):

- `(id, 'primary')` and `(id, 'backup')`: its placement (the backup when protected, 1+1);
- `(id, 'old')`: after a move, the links of the path the switches still carry that the new
  placement does not use, until the switches have flipped (make-before-break in the books);
- `(id, 'claim', src, dst)`: while it waits (COMPILING) for others to move aside for it, the
  room it is waiting for, link by link, as it becomes free, so no one else takes it.
"""

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from controller.core.intent import Intent
from controller.core.ledger import Ledger, Reservation
from controller.core.topology import Link, Topology

if TYPE_CHECKING:  # admission imports this module
    from controller.core.admission import Placement
    from controller.core.paths import Path

Holder = tuple[Any, ...]


@dataclass(frozen=True)
class Share:
    """What an intent held in both books before a change (see Books.share)."""

    committed: tuple
    peak: tuple


class Books:
    def __init__(self, topology: Topology, headroom: float = 0.0, span_headroom: dict | None = None):
        self.topology = topology
        self.committed = Ledger(topology, headroom, span_headroom)
        self.peak = Ledger(topology, 0.0)

    @property
    def headroom(self) -> float:
        return self.committed.headroom

    def both(self) -> tuple[Ledger, Ledger]:
        return self.committed, self.peak

    def rates(self, intent: Intent) -> list[tuple[Ledger, float]]:
        """[(ledger, Gb/s the intent takes in it)]: committed, and committed plus excess."""
        return [
            (self.committed, intent.bandwidth_gbps),
            (self.peak, intent.bandwidth_gbps + intent.excess_gbps),
        ]

    # --- placements ---------------------------------------------------------------------------

    def reserve(self, intent: Intent, placement: 'Placement') -> None:
        """Book a placement in place of what the intent held, in both books at once: raises
        ledger.AdmissionError and then changes nothing."""
        done = []
        try:
            for book, gbps in self.rates(intent):
                done.append((book, _replace(book, intent.id, placement, gbps)))
        except Exception:
            for book, old in done:
                _put_back(book, intent.id, old)
            raise

    def withdraw(self, intent_id: str) -> bool:
        """Release the intent's placement in both books; True if it held one."""
        released = [book.release(holder) for book in self.both() for holder in placed(intent_id)]
        return any(released)

    def share(self, intent_id: str) -> Share:
        """What the intent's placement holds now, for hold_old after a move."""
        return Share(*(tuple(book.reservation(h) for h in placed(intent_id)) for book in self.both()))

    def hold_old(self, intent_id: str, before: Share) -> None:
        """After a move, keep in each book the links of the primary the switches carry now
        (`before`) that the new placement does not use, as `(id, 'old')`, until the intent is
        installed on the new one: no span is over-booked mid-move. A hold from an earlier move
        still in flight stays as it is (it is what the switches carry); a backup carries no
        traffic, so it is not held."""
        for book, held in zip(self.both(), (before.committed, before.peak)):
            if book.reservation(old(intent_id)) is not None or held[0] is None:
                continue
            new: set[Link] = set()
            for holder in placed(intent_id):
                new.update((book.reservation(holder) or ((), 0))[0])
            links, gbps = held[0]
            gone = [link for link in links if link not in new]
            if gone:
                book.keep(old(intent_id), gone, gbps)

    def release_old(self, intent_id: str) -> bool:
        """The switches carry the new path only: the old one's links are free again."""
        released = [book.release(old(intent_id)) for book in self.both()]
        return any(released)

    def links_held(self, intent_id: str) -> set[Link]:
        """The links the intent's placement holds (committed book)."""
        links: set[Link] = set()
        for holder in placed(intent_id):
            held = self.committed.reservation(holder)
            if held:
                links.update(held[0])
        return links

    # --- claims of intents waiting for room ---------------------------------------------------

    def claim(self, intent: Intent, links: Iterable[Link]) -> None:
        """Claim for a waiting intent, on each link (both directions), what is free of what it
        needs; called again as movers leave, it claims what they freed."""
        links = set(links) | {link.reverse() for link in links}
        for book, need in self.rates(intent):
            for link in sorted(links, key=lambda l: (l.src, l.dst)):
                holder = claim_holder(intent.id, link)
                held = book.reservation(holder)
                mine = held[1] if held else 0.0
                more = min(need - mine, book.available_gbps(link))
                if more > 1e-9:
                    book.release(holder)
                    book.reserve(holder, (link,), mine + more)

    def release_claims(self, intent_id: str) -> None:
        for book in self.both():
            for holder in [h for h in book.holders() if h[:2] == (intent_id, 'claim')]:
                book.release(holder)

    # --- what-if and copies -------------------------------------------------------------------

    @contextlib.contextmanager
    def trial(self) -> Iterator['Books']:
        """Every change to either book made inside is undone on leaving."""
        with self.committed.trial(), self.peak.trial():
            yield self

    def copy(self, topology: Topology) -> 'Books':
        """Independent books with the same reservations over `topology` (a copy of this one's):
        to compute on off the runtime's lock."""
        other = Books.__new__(Books)
        other.topology = topology
        other.committed, other.peak = self.committed.copy(topology), self.peak.copy(topology)
        return other

    def keep(self, intent: Intent, placement: 'Placement') -> None:
        """Book a placement the switches already carry (a restored one), without asking for
        room: Restored builds the books this way, and `take` checks the result."""
        paths = [(placed(intent.id)[0], both_ways(placement.primary))]
        if placement.backup is not None:
            paths.append((placed(intent.id)[1], both_ways(placement.backup)))
        for book, gbps in self.rates(intent):
            for holder, links in paths:
                book.keep(holder, links, gbps)

    def take(self, other: 'Books') -> None:
        """Every reservation of `other` (restored ones) in place of these, under these books'
        limits: raises ValueError and changes nothing if that over-books a link (a span down
        now keeps its reservations: they come back with it)."""
        for mine, theirs in zip(self.both(), other.both()):
            mine.check_limits(theirs)
        for mine, theirs in zip(self.both(), other.both()):
            mine.take(theirs)


def placed(intent_id: str) -> tuple[Holder, Holder]:
    return (intent_id, 'primary'), (intent_id, 'backup')


def old(intent_id: str) -> Holder:
    return (intent_id, 'old')


def claim_holder(intent_id: str, link: Link) -> Holder:
    return (intent_id, 'claim', link.src, link.dst)


def both_ways(path: 'Path') -> tuple[Link, ...]:
    """The links a bidirectional intent holds on a path: forward, then the return."""
    return path.links + tuple(link.reverse() for link in reversed(path.links))


def _replace(
    book: Ledger, intent_id: str, placement: 'Placement', gbps: float
) -> list[tuple[Holder, Reservation]]:
    """Reserve the placement in place of the intent's share of one book; returns the old share."""
    before = [(h, held) for h in placed(intent_id) if (held := book.reservation(h)) is not None]
    for holder in placed(intent_id):
        book.release(holder)
    primary, backup = placed(intent_id)
    try:
        book.reserve(primary, both_ways(placement.primary), gbps)
        if placement.backup is not None:
            book.reserve(backup, both_ways(placement.backup), gbps)
    except Exception:
        _put_back(book, intent_id, before)
        raise
    return before


def _put_back(book: Ledger, intent_id: str, before: list[tuple[Holder, Reservation]]) -> None:
    """Cannot be needed unless compute() and a book disagree: the intent's old share again
    (keep(), unlike reserve(), also accepts spans that went down meanwhile)."""
    for holder in placed(intent_id):
        book.release(holder)
    for holder, (links, gbps) in before:
        book.keep(holder, links, gbps)
