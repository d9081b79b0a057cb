"""Placing intents: where each one goes (its Placement, booked in both books, and its route),
moving it make-before-break, making room for a refused one by moving others aside, and
following each through INSTALLING to INSTALLED (or WITHDRAWING to WITHDRAWN) as the switches
confirm. The policy engine's moves (controller/core/steering.py) go through `place` too.
"""

from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from controller.core import admission
from controller.core.admission import Move, Placement
from controller.core.books import Books, both_ways
from controller.core.errors import Unplaceable
from controller.core.installs import Installs
from controller.core.intent import Intent, State
from controller.core.journal import Journal
from controller.core.liveness import Liveness
from controller.core.paths import NoPath, Path
from controller.core.planner import Planner, batch_order
from controller.core.registry import Intents
from controller.core.routes import Routes
from controller.core.topology import Topology


@dataclass
class Waiting:
    """An intent waiting (COMPILING) for others to move aside: it claims its `target`'s room
    in the books as the movers free it, and is placed once none of them is installing."""

    movers: set[str]
    reason: str
    target: Placement


class Placer:
    def __init__(
        self,
        topology: Topology,
        books: Books,
        routes: Routes,
        intents: Intents,
        installs: Installs,
        liveness: Liveness,
        planner: Planner,
        journal: Journal,
        hops: Callable[[Intent], float],
    ):
        self.topology, self.books, self.routes, self.intents = topology, books, routes, intents
        self.installs, self.liveness, self.planner, self.journal = installs, liveness, planner, journal
        self.hops = hops  # hops(intent): of its lowest-latency path on the whole fabric (batch order)
        self.placements: dict[str, Placement] = {}
        self.waiting: dict[str, Waiting] = {}

    # --- placing ------------------------------------------------------------------------------

    def dry_run(self, intent: Intent) -> Placement:
        """Where the intent would go now, or Unplaceable saying why and what would fit."""
        try:
            return admission.compute(self.topology, self.books, intent)
        except NoPath as e:
            raise Unplaceable(e) from None

    def place(
        self,
        intent: Intent,
        reason: str,
        now: float,
        keep: Path | None = None,
        placement: Placement | None = None,
        over_bound: bool = False,
    ) -> bool:
        """(Re)place an intent: INSTALLING on its route, or FAILED with why; on `placement` if
        given (just computed on the books as they are). Where the route the switches carry
        works, the books keep its links that the new route does not use until the switches
        have flipped (Books.hold_old). A protected intent keeps `keep` as its primary if it can."""
        self._stop_waiting(intent.id)
        old = self.routes.of(intent.id)
        old_sites = old.sites if old else ()
        working = (
            old is not None
            and intent.state in (State.INSTALLED, State.INSTALLING)
            and all(self.topology.spans[s].up for s in self.spans_used(intent.id, backup=False))
        )
        before = self.books.share(intent.id)
        if intent.state is not State.COMPILING:
            self.journal.emit(intent.move_to(State.COMPILING, reason, now))
        try:
            placement = admission.admit(
                self.topology,
                self.books,
                intent,
                keep=keep,
                degrade=True,
                placement=placement,
                over_bound=over_bound,
            )
        except NoPath as e:
            self.unplace(intent)
            self.journal.emit(intent.move_to(State.FAILED, f'{reason}: {e.reason}', now, old_sites))
            return False
        if working:
            self.books.hold_old(intent.id, before)
        self.placements[intent.id] = placement
        reason += placement.for_now(intent)
        route = self.routes.route(intent, placement, intent.id in self.planner.squeezed)
        if self.routes.put(intent.id, route):
            self.installs.installing(intent.id, self.routes.generation, self.routes.dpids(route))
        else:
            self.installs.still_installing(intent.id, self.routes.dpids(route))
        moved = f' (from {"->".join(old_sites)})' if old and old.sites != route.sites else ''
        self.journal.emit(intent.move_to(State.INSTALLING, reason + moved, now, old_sites, route.sites))
        self.settle(now, [intent.id])
        return True

    def unplace(self, intent: Intent) -> None:
        """Take the intent off the network: its books, route and pending install."""
        self._stop_waiting(intent.id)
        self._release_old(intent.id)
        self.books.withdraw(intent.id)
        self.placements.pop(intent.id, None)
        self.installs.forget(intent.id)
        self.routes.put(intent.id, None)
        self.journal.touched(intent.id)

    def withdraw(self, intent: Intent, now: float) -> None:
        """WITHDRAWING until the switches its route used no longer carry it."""
        route = self.routes.of(intent.id)
        self.unplace(intent)
        self.planner.forget(intent.id)
        self.journal.emit(intent.move_to(State.WITHDRAWING, 'deleted', now))
        self.installs.withdrawing(intent.id, self.routes.generation, self.routes.dpids(route))

    def place_again(
        self, intent: Intent, reason: str, now: float, avoid: AbstractSet[str] = frozenset()
    ) -> bool:
        """Place an intent that failed or was stopped half-way, moving others aside if it does
        not fit (it then waits for them), or FAILED with why; off the `avoid` spans if it can,
        but on them rather than nowhere."""
        for spans in dict.fromkeys([frozenset(avoid), frozenset()]):
            try:
                placement = admission.compute(self.topology, self.books, intent, spans, degrade=True)
                return self.place(intent, reason, now, placement=placement)
            except NoPath:
                pass
        moves, target = self.room_for(intent, degrade=True)
        if moves and target is not None:
            return self.make_room(intent, moves, target, reason, now)
        return self.place(intent, reason, now)  # FAILED, with the reason

    def retry_failed(self, now: float, reason: str, avoid: AbstractSet[str] = frozenset()) -> None:
        """Place FAILED intents again (in batch order), off the `avoid` spans if they can."""
        for intent in self.batch(i for i in self.intents if i.state is State.FAILED):
            self.place_again(intent, reason, now, avoid)

    def batch(self, intents: Iterable[Intent]) -> list[Intent]:
        return batch_order(intents, self.hops)

    def spans_down(self, span_ids: list[str], why: str, now: float) -> None:
        """Move what spans gone down broke: a protected intent stays on its surviving path
        (the switches already carry it there) with a new backup; an intent that no path
        within its bound can carry now takes a slower one rather than none, and moves back
        within its bound once a path allows."""
        for span_id in span_ids:
            for intent in self.intents:
                placement = self.placements.get(intent.id)
                if placement and span_id in self.spans_used(intent.id):
                    self.planner.displaced.add(intent.id)
                    self.place(
                        intent,
                        f'span {span_id} down ({why})',
                        now,
                        keep=self._survivor(placement),
                        over_bound=True,
                    )

    # --- making room --------------------------------------------------------------------------

    def room_for(self, intent: Intent, degrade: bool = False) -> tuple[list[Move], Placement | None]:
        """Moves that would let a refused intent in, and where it would go (admission.make_room)."""
        if not self.planner.policy.make_room:
            return [], None

        def movable(intent_id: str) -> Intent | None:
            other = self.intents.get(intent_id)
            return other if other is not None and self.planner.may_move_for(intent, other) else None

        return admission.make_room(self.topology, self.books, intent, movable, degrade)

    def make_room(
        self, intent: Intent, moves: list[Move], target: Placement, reason: str, now: float
    ) -> bool:
        """Start the moves (make-before-break each); the intent waits, COMPILING, holding a claim
        on its target's room, until the moved intents are installed on their new paths and have
        left the old ones: then `settle` places it."""
        spans = ', '.join(dict.fromkeys(s for move in moves for s in move.spans))
        for move in moves:
            self.place(
                move.intent,
                f'moved off span {", ".join(move.spans)} to make room for intent '
                f'{intent.id} ({intent.service_class.value}) of tenant {intent.tenant}',
                now,
                placement=move.placement,
            )
        movers = ', '.join(move.intent.id for move in moves)
        waiting = f'{reason}: waiting for intent {movers} to move off span {spans} (make-before-break)'
        if intent.state is State.COMPILING:
            self.journal.emit(intent.note(waiting, now))
        else:
            self.journal.emit(intent.move_to(State.COMPILING, waiting, now))
        self.waiting[intent.id] = Waiting(
            {move.intent.id for move in moves}, f'{reason}: room made by moving intent {movers}', target
        )
        self._claim(intent.id)
        return True

    def _claim(self, intent_id: str) -> None:
        wait = self.waiting[intent_id]
        links = [l for p in (wait.target.primary, wait.target.backup) if p is not None for l in both_ways(p)]
        self.books.claim(self.intents[intent_id], links)

    def reclaim(self) -> None:
        """Room freed on what waiting intents wait for is theirs before anything else is placed
        there: a preempted intent that was moving aside for one must not take it back."""
        for intent_id in self.waiting:
            self._claim(intent_id)

    def _stop_waiting(self, intent_id: str) -> None:
        if self.waiting.pop(intent_id, None) is not None:
            self.books.release_claims(intent_id)

    # --- the switches confirm -----------------------------------------------------------------

    def settle(self, now: float, ids: Iterable[str] | None = None) -> None:
        """Move intents whose switches have confirmed: INSTALLING -> INSTALLED, WITHDRAWING ->
        WITHDRAWN (all of them, or only the `ids` given); then place the intents whose room is
        made: every intent moved for them has flipped."""
        for intent_id in self.installs.installed(self.liveness, ids):
            intent = self.intents[intent_id]
            self._release_old(intent_id)
            route, placement = self.routes.of(intent_id), self.placements.get(intent_id)
            if intent.state is State.INSTALLING and route is not None and placement is not None:
                self.journal.emit(
                    intent.move_to(
                        State.INSTALLED,
                        f'installed on {"->".join(route.sites)}{placement.for_now(intent)}',
                        now,
                    )
                )
        if ids is not None:
            return
        for intent_id, wait in list(self.waiting.items()):
            self._claim(intent_id)  # what the movers freed is its, not anyone's
            if not any(self.installs.is_installing(m) for m in wait.movers):
                self.place(self.intents[intent_id], wait.reason, now)
        for intent_id in self.installs.withdrawn(self.liveness):
            intent = self.intents.remove(intent_id)
            self.journal.emit(intent.move_to(State.WITHDRAWN, 'withdrawn from the switches', now))
            self.journal.gone(intent_id)

    # --- what placements use ------------------------------------------------------------------

    def spans_used(self, intent_id: str, backup: bool = True) -> set[str]:
        placement = self.placements.get(intent_id)
        if placement is None:
            return set()
        paths = (placement.primary, placement.backup) if backup else (placement.primary,)
        return {s for p in paths if p is not None for s in p.span_ids(self.topology)}

    def sites_used(self, intent_id: str) -> set[str]:
        """The sites of the intent's primary: whose switches its traffic crosses."""
        placement = self.placements.get(intent_id)
        return set(placement.primary.sites) if placement else set()

    def _survivor(self, placement: Placement) -> Path | None:
        """The path of a protected placement that is still whole (the switches carry the
        traffic there now), the primary first; None if neither is."""
        for path in (placement.primary, placement.backup):
            if path is not None and all(self.topology.span_of(l).up for l in path.links):
                return path
        return None

    def _release_old(self, intent_id: str) -> None:
        if self.books.release_old(intent_id):
            self.planner.capacity_freed()
