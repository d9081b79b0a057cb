"""The policy engine at work: the planner (controller/core/planner.py) decides, this carries
its decisions out through the placer: latency bounds kept, congested spans relieved, excess
rates squeezed and given back, re-optimization class by class, and which lower-class intents
a higher class preempts. Every move is make-before-break and a Watch event with its reason.
"""

from collections.abc import Iterable

from controller.core import admission
from controller.core.admission import Placement
from controller.core.books import Books, both_ways
from controller.core.intent import Intent, State
from controller.core.journal import Journal
from controller.core.paths import NoPath
from controller.core.placement import Placer
from controller.core.planner import Planner
from controller.core.topology import Link, Topology
from topologies.model.order import ServiceClass

REOPTIMIZE_SLICE = 250  # intents a re-optimization looks at per tick (~50 ms under the lock)


class Steering:
    def __init__(self, topology: Topology, books: Books, placer: Placer, planner: Planner, journal: Journal):
        self.topology, self.books, self.placer = topology, books, placer
        self.planner, self.journal = planner, journal
        self.utilization: dict[Link, tuple[float, float]] = {}  # link -> (Gb/s measured, when)
        self.pass_left: list[str] = []  # intents the re-optimization under way has yet to look at

    def reoptimize(self, now: float) -> None:
        """Start a re-optimization pass: every intent, class by class, re-placed where that
        gains enough (the planner says what is enough); spans back too recently or congested
        are not used for such moves. A pass looks at REOPTIMIZE_SLICE intents per call
        (`go_on` does the rest, a tick at a time): with 100,000 intents a whole pass under the
        runtime's lock held every write for half a minute."""
        planner = self.planner
        planner.last_reoptimized, planner.wanted = now, False
        avoid = planner.untrusted_spans(self.topology, now) | planner.congested(self.topology)
        self.placer.retry_failed(now, 'retried: re-optimization', avoid)
        self.pass_left = [i.id for i in self.placer.batch(self.placer.intents)]
        self.go_on(now)

    def go_on(self, now: float) -> None:
        """The next slice of the re-optimization pass under way, if any."""
        if not self.pass_left:
            return
        planner = self.planner
        avoid = planner.untrusted_spans(self.topology, now) | planner.congested(self.topology)
        ids, self.pass_left = self.pass_left[:REOPTIMIZE_SLICE], self.pass_left[REOPTIMIZE_SLICE:]
        for intent_id in ids:
            intent = self.placer.intents.get(intent_id)
            if intent is None or intent.state is not State.INSTALLED:
                continue  # gone, mid-move or leaving: the next pass sees it
            try:
                better = admission.compute(self.topology, self.books, intent, avoid, degrade=True)
            except NoPath:
                continue
            reason = planner.worth_moving(
                self.topology, intent, self.placer.placements.get(intent.id), better, now
            )
            if reason is not None:
                planner.displaced.discard(intent.id)
                self._move(intent, reason, now, better)
        if self.pass_left:
            return
        settles = planner.settling(self.topology, now)
        if settles is not None:  # look again once the last span back is trusted
            planner.last_reoptimized = min(
                planner.last_reoptimized, settles - planner.policy.reoptimize_every_s
            )

    def keep_bounds(self, now: float, intents: Iterable[Intent]) -> None:
        """Move the intents whose measured latency breaks their bound: onto a path that meets
        it, else onto the fastest path with their bandwidth, saying they are over their bound
        for now (as after a cut: a path 2 ms over is better than one 5 ms over). They stay,
        and say so, where no path has their bandwidth, where the way to meet it is back onto
        a path they left lately as over it (Planner.left_for_bound; they go back once the
        hold is over, for gain), and where the other path meets it only within noise or is
        over it too, and saves little (Planner.clears)."""
        for intent, why in self.planner.latency_broken(self.topology, intents, self.placer.placements):
            try:  # within the bound, else the fastest path with the bandwidth (over_bound)
                placement = admission.compute(
                    self.topology, self.books, intent, degrade=True, over_bound=True
                )
            except NoPath as e:
                self._stay(intent, f'{why}; no path meets it ({e.reason}): staying', now)
                continue
            if self.planner.left_for_bound(intent.id, placement.primary.sites, now):
                path = '->'.join(placement.primary.sites)
                self._stay(intent, f'{why}; it left the path that meets it ({path}) lately: staying', now)
                continue
            current = self.placer.placements[intent.id].primary.latency_ms(self.topology)
            bound = intent.max_latency_ms
            if bound is not None and not self.planner.clears(
                bound, placement.primary.latency_ms(self.topology), current
            ):
                self._stay(intent, f'{why}; no path meets it by the margin or saves enough: staying', now)
                continue
            self._move(intent, why, now, placement, for_bound=True)

    def _stay(self, intent: Intent, note: str, now: float) -> None:
        if intent.reason != note:
            self.journal.emit(intent.note(note, now))

    def load_measured(self, link: Link, gbps: float, now: float) -> None:
        """A link's measured load; a span loaded over the policy's threshold sheds load."""
        self.utilization[link] = (gbps, now)
        step = self.planner.load_measured(self.topology, link, gbps)
        if step:
            self._relieve(self.topology.span_of(link).span_id, step, now)

    def _relieve(self, span_id: str, step: int, now: float) -> None:
        """A congested span sheds load, lowest class first: step 1 squeezes excess rates to
        the committed ones, step 2 moves BULK intents off it, step 3 PRIORITY ones."""
        span = self.topology.spans[span_id]
        load = ' and '.join(
            f'{self.utilization[link][0]:.1f}' for link in span.links() if link in self.utilization
        )
        why = f'span {span_id} congested ({load} of {span.capacity_gbps:g} Gb/s measured)'
        on_span = [
            i
            for i in self.placer.intents
            if i.state in (State.INSTALLED, State.INSTALLING)
            and span_id in self.placer.spans_used(i.id, backup=False)
        ]
        moving = {2: ServiceClass.BULK, 3: ServiceClass.PRIORITY}.get(step)
        for intent in self.planner.shed_order(on_span):
            if step == 1 and intent.excess_gbps and intent.id not in self.planner.squeezed:
                self.planner.squeezed.add(intent.id)
                self.placer.routes.resize(intent, squeezed=True)
                self.journal.emit(intent.note(f'excess squeezed to the committed rate: {why}', now))
            elif intent.service_class is moving:
                try:
                    placement = admission.compute(self.topology, self.books, intent, {span_id}, degrade=True)
                except NoPath:
                    continue  # nowhere else: it stays, metered to its rate
                self.planner.displaced.add(intent.id)
                self._move(intent, f'moved off: {why}', now, placement)

    def _move(
        self, intent: Intent, reason: str, now: float, placement: Placement, for_bound: bool = False
    ) -> None:
        """A move the policy engine chose: the planner remembers when, and the path left (a
        move back onto it for gain waits, and for the bound if it left it `for_bound`; see
        Planner.return_hold_s and Planner.left_for_bound)."""
        current = self.placer.placements.get(intent.id)
        left = current.primary.sites if current else ()
        self.planner.moved(intent.id, now, left=left, for_bound=for_bound)
        self.placer.place(intent, reason, now, placement=placement)

    def unsqueeze(self, now: float) -> None:
        """Give excess rates back once every link of the intent has room for them again."""
        congested = self.planner.congested(self.topology)
        for intent_id in sorted(self.planner.squeezed):
            intent, placement = self.placer.intents.get(intent_id), self.placer.placements.get(intent_id)
            if intent is None or placement is None:
                self.planner.squeezed.discard(intent_id)
                continue
            room = all(
                self.topology.span_of(link).span_id not in congested
                and self.utilization.get(link, (0.0, 0))[0] + intent.excess_gbps
                <= self.planner.policy.congestion_ratio * self.topology.capacity_gbps(link)
                for link in placement.primary.links
            )
            if room:
                self.planner.squeezed.discard(intent_id)
                self.placer.routes.resize(intent, squeezed=False)
                self.journal.emit(intent.note('excess rate given back: its path has room again', now))

    def victims(self, intent: Intent) -> list[Intent]:
        """Lower-class intents whose bandwidth would let `intent` in, if the policy allows
        preemption: lowest class and newest first, only those on the links it would take,
        and no more than it needs. [] when preempting would not help."""
        lower = [
            i
            for i in self.placer.intents
            if i.id in self.placer.placements and self.planner.may_preempt(intent, i)
        ]
        if not lower:
            return []
        with self.books.trial():
            for victim in lower:
                self.books.withdraw(victim.id)
            try:
                placement = admission.compute(self.topology, self.books, intent)
            except NoPath:
                return []
        links = set(both_ways(placement.primary))
        if placement.backup is not None:
            links.update(both_ways(placement.backup))
        with self.books.trial():
            victims = []
            for victim in self.planner.shed_order(lower) or lower:
                if not links & self.books.links_held(victim.id):
                    continue
                victims.append(victim)
                self.books.withdraw(victim.id)
                try:
                    admission.compute(self.topology, self.books, intent)
                    return victims
                except NoPath:
                    continue
            return []
