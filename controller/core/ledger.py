"""The reservation ledger: how much of each link (one direction of a span) is promised to whom.

Admission must never over-book a link: a reservation is taken only if every link of the path
has room for it, all at once or not at all. A fraction of each link (`headroom`) is never
promised, so that make-before-break moves and measurement probes have scratch capacity
(as in SWAN).

Floating point: Gb/s are floats, and ten 0.1 Gb/s orders must fill a 1 Gb/s link exactly.
A request fits when it exceeds the room left by at most EPS_GBPS (1e-9 Gb/s, i.e. 1 b/s:
far below anything a switch can enforce). Per-link totals are kept as exact running sums,
rounded to a float when next asked after a change: the same figure as an fsum over the holders, correctly
rounded (ten 0.1 are 1.0, so a full link reports 0 left, not 1e-16), independent of order,
with no drift after reserve/release cycles; and a query is a dict look-up, not a sum over
hundreds of holders (path searches ask for every link they try). Exact as integers in units of
2**-1074 (the smallest float: every float is a whole number of them); Python's int division
rounds correctly. Fractions did the same, ten times slower: a restart with 100,000 intents
spent 12 s on them.
"""

import contextlib
import math
from collections.abc import Iterable, Iterator
from numbers import Real
from typing import Any

from controller.core.topology import Link, Topology

EPS_GBPS = 1e-9
_EXACT_BITS = 1074  # a float times 2**1074 is a whole number
_EXACT_ONE = 1 << _EXACT_BITS

Holder = tuple[Any, ...]  # (intent id, role, ...): JSON-friendly
Reservation = tuple[tuple[Link, ...], float]  # (links, Gb/s on each)


class AdmissionError(Exception):
    """A request the network cannot carry. When a link lacks room, `link` is the first such
    link on the path and `available_gbps` what this request could have had on it."""

    def __init__(self, reason: str, link: Link | None = None, available_gbps: float | None = None):
        super().__init__(reason)
        self.reason, self.link, self.available_gbps = reason, link, available_gbps


class Ledger:
    """Reservations per holder (a tuple such as (intent id, role)): a path (tuple of links)
    and a bandwidth taken on each of its links."""

    def __init__(
        self, topology: Topology, headroom: float = 0.0, span_headroom: dict[str, float] | None = None
    ):
        for value in [headroom, *(span_headroom or {}).values()]:
            if not isinstance(value, Real) or isinstance(value, bool) or not 0 <= float(value) < 1:
                raise ValueError(f'headroom must be a fraction 0 <= h < 1, got {value!r}')
        self.topology = topology
        self.headroom = float(headroom)
        self.span_headroom = {k: float(v) for k, v in (span_headroom or {}).items()}
        self._held: dict[Holder, Reservation] = {}  # holder -> (links, gbps)
        self._on: dict[Link, dict[Holder, float]] = {}  # link -> {holder: gbps}
        self._total: dict[Link, int] = {}  # link -> exact sum of _on[link]
        self._gbps: dict[Link, float] = {}  # link -> its _total as a float, once asked (the division is dear)
        self._touched: set[Holder] | None = None  # holders changed during a trial()

    # --- questions -------------------------------------------------------------------------

    def reserved_gbps(self, link: Link) -> float:
        gbps = self._gbps.get(link)
        if gbps is None:
            gbps = self._gbps[link] = self._total.get(link, 0) / _EXACT_ONE
        return gbps

    def available_gbps(self, link: Link) -> float:
        """Room left for a new reservation; 0 on a down span (nothing is admitted there).
        Capacity is read from the topology each time, so capacity changes are seen."""
        return max(0.0, self._limit(link) - self.reserved_gbps(link))

    def holders(self) -> list[Holder]:
        return list(self._held)

    def holders_on(self, link: Link) -> dict[Holder, float]:
        """{holder: gbps} of the reservations that take `link` (do not change it)."""
        return self._on.get(link, {})

    def reservation(self, holder: Holder) -> Reservation | None:
        """(links, gbps), or None."""
        return self._held.get(holder)

    # --- changes ---------------------------------------------------------------------------

    def reserve(self, holder: Holder, links: Iterable[Link], gbps: float) -> None:
        """Take `gbps` on every link of `links` for a new holder, or raise and take nothing."""
        links, gbps = self._checked(holder, links, gbps)
        if holder in self._held:
            raise ValueError(f'{holder!r} already holds a reservation: release it first')
        self._admit(holder, links, gbps)
        self._put(holder, links, gbps)

    def keep(self, holder: Holder, links: Iterable[Link], gbps: float) -> None:
        """Hold links that already carry this traffic, without asking for room: a move keeps
        what its old path carries until the switches have flipped to the new one, so no new
        reservation can take it meanwhile."""
        links, gbps = self._checked(holder, links, gbps)
        if holder in self._held:
            raise ValueError(f'{holder!r} already holds a reservation')
        self._put(holder, links, gbps)

    def release(self, holder: Holder) -> bool:
        """Returns whether there was something to release."""
        held = self._held.pop(holder, None)
        if held is None:
            return False
        self._note(holder)
        self._unindex(holder, held)
        return True

    @contextlib.contextmanager
    def trial(self) -> Iterator['Ledger']:
        """What-if: every change made inside is undone on leaving, and the ledger ends exactly
        as it began (the same reservations in the same order). Costs a copy of the holder
        table, not a rebuild: cheap enough to try moves on every refusal."""
        held, self._touched = dict(self._held), set()
        try:
            yield self
        finally:
            touched, self._touched = self._touched, None
            for holder in touched:
                now, then = self._held.get(holder), held.get(holder)
                if now != then:
                    if now is not None:
                        self._unindex(holder, now)
                    if then is not None:
                        self._index(holder, then)
            self._held = held

    def copy(self, topology: Topology) -> 'Ledger':
        """An independent ledger with the same reservations, over `topology` (a copy of this
        one's): to compute on off the runtime's lock."""
        other = Ledger(topology, self.headroom, self.span_headroom)
        other._held = dict(self._held)
        other._on = {link: dict(holders) for link, holders in self._on.items()}
        other._total, other._gbps = dict(self._total), dict(self._gbps)
        return other

    # --- persistence -----------------------------------------------------------------------

    def snapshot(self) -> list[dict]:
        """Plain JSON-serialisable data, in reservation order."""
        return [
            {'holder': list(holder), 'links': [[link.src, link.dst] for link in links], 'gbps': gbps}
            for holder, (links, gbps) in self._held.items()
        ]

    def restore(self, data: Iterable[dict]) -> None:
        """Replace every reservation with those of a snapshot (`snapshot`'s JSON form), or
        raise ValueError and change nothing."""
        try:
            self.replace(
                (tuple(item['holder']), [Link(*pair) for pair in item['links']], item['gbps'])
                for item in data
            )
        except (TypeError, KeyError) as e:
            raise ValueError(f'not a ledger snapshot: {e!r}') from e

    def replace(self, reservations: Iterable[tuple[Holder, Iterable[Link], float]]) -> None:
        """Replace every reservation with these (holder, links, Gb/s), or raise ValueError and
        change nothing. Spans that are down now still get their reservations back (the ledger
        keeps them while a span is down), but no link may end up over-booked."""
        scratch = Ledger(self.topology, self.headroom, self.span_headroom)
        exact: dict[Link, int] = {}  # summed here and rounded once per link (the division is dear)
        for holder, path, gbps in reservations:
            links, gbps = scratch._checked(holder, path, gbps)
            if holder in scratch._held:
                raise ValueError(f'{holder!r} appears twice')
            scratch._held[holder] = (links, gbps)
            amount = _exact(gbps)
            for link in links:
                scratch._on.setdefault(link, {})[holder] = gbps
                exact[link] = exact.get(link, 0) + amount
        scratch._total = exact
        self.take(scratch)

    def check_limits(self, other: 'Ledger') -> None:
        """Raise ValueError if `other`'s reservations over-book a link under this ledger's
        limits (capacity less headroom; a span down now counts as up: it keeps them)."""
        for link in other._on:
            if other.reserved_gbps(link) > self._limit(link, ignore_state=True) + EPS_GBPS:
                raise ValueError(
                    f'snapshot over-books {link.src}->{link.dst}: {other.reserved_gbps(link):g} Gb/s reserved'
                )

    def take(self, other: 'Ledger') -> None:
        """`other`'s reservations (over the same links) in place of these, or raise ValueError
        and change nothing (see check_limits); `other` must not be used after."""
        self.check_limits(other)
        self._held, self._on, self._total, self._gbps = other._held, other._on, other._total, other._gbps

    # --- inside ----------------------------------------------------------------------------

    def _limit(self, link: Link, ignore_state: bool = False) -> float:
        """What may be reserved on `link` in all: capacity less headroom, 0 while down."""
        span = self.topology.span_of(link)
        if not span.up and not ignore_state:
            return 0.0
        return span.capacity_gbps * (1.0 - self.span_headroom.get(span.span_id, self.headroom))

    def _checked(self, holder: Holder, links: Iterable[Link], gbps: object) -> Reservation:
        """Validate a request; the holder must round-trip through JSON (see snapshot)."""
        if not isinstance(holder, tuple) or not holder or not all(isinstance(x, (str, int)) for x in holder):
            raise ValueError(f'holder must be a non-empty tuple of str/int, got {holder!r}')
        links = tuple(links)
        if not links:
            raise ValueError('a reservation needs at least one link')
        for link in links:
            if not isinstance(link, Link) or not self.topology.has_link(link):
                raise ValueError(f'unknown link {link!r}')
        if len(set(links)) != len(links):
            raise ValueError('a path lists a link twice')
        if not isinstance(gbps, Real) or isinstance(gbps, bool) or not math.isfinite(gbps) or gbps <= 0:
            raise ValueError(f'bandwidth must be a finite number > 0 Gb/s, got {gbps!r}')
        return links, float(gbps)

    def _admit(self, holder: Holder, links: tuple[Link, ...], gbps: float) -> None:
        """Raise AdmissionError for the first link that cannot carry `gbps`: a link passes
        only if up (the epsilon must not let crumbs onto a down span) and the sum stays
        within the limit (unclamped: an over-booked link gets nothing)."""
        for link in links:
            up = self.topology.span_of(link).up
            room = self._limit(link) - self.reserved_gbps(link)
            if not up or gbps > room + EPS_GBPS:
                room, state = max(0.0, room), '' if up else ' (span down)'
                raise AdmissionError(
                    f'{link.src}->{link.dst}{state} has {room:g} Gb/s left for {holder!r}, '
                    f'{gbps:g} Gb/s asked',
                    link=link,
                    available_gbps=room,
                )

    def _put(self, holder: Holder, links: tuple[Link, ...], gbps: float) -> None:
        self._note(holder)
        self._held[holder] = (links, gbps)
        self._index(holder, (links, gbps))

    def _note(self, holder: Holder) -> None:
        if self._touched is not None:
            self._touched.add(holder)

    def _index(self, holder: Holder, reservation: Reservation) -> None:
        links, gbps = reservation
        amount = _exact(gbps)
        for link in links:
            self._on.setdefault(link, {})[holder] = gbps
            self._total[link] = self._total.get(link, 0) + amount
            self._gbps.pop(link, None)

    def _unindex(self, holder: Holder, reservation: Reservation) -> None:
        links, gbps = reservation
        amount = _exact(gbps)
        for link in links:
            del self._on[link][holder]
            self._total[link] -= amount
            self._gbps.pop(link, None)


def _exact(gbps: float) -> int:
    """`gbps` in units of 2**-1074, exactly."""
    n, d = gbps.as_integer_ratio()  # d is a power of two, at most 2**1074
    return n << (_EXACT_BITS + 1 - d.bit_length())
