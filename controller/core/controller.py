"""The controller's core behind one facade: the network as measured, the intents, their
reservations and routes, and the plan every switch should hold. Pure: callers pass the time
(`now`) and the events; it never sends, sleeps, reads the clock or locks (the runtime calls
it under one lock). Each part lives in its own module; this class wires them and is the
only way in:

- the in-process API the northbound calls: create, create_many (with packer), check, get,
  list, update, delete, subscribe, and the read model (view, views, topology_view);
- the southbound's events: switches, ports, confirmations (`synced(dpids, generation)` once a
  switch holds the plan of that generation), measurements, and `tick` about once a second;
  `plan()` is what every switch should hold.

Every call ends with a commit: what changed is saved in the store, then listeners hear the
events (intent events, and topology events when a switch or span changes state).
"""

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from controller.core import admission, packing
from controller.core.admission import Move, Placement
from controller.core.books import Books
from controller.core.candidates import Candidates
from controller.core.errors import FailedPrecondition, NotFound, Unplaceable
from controller.core.flows import COOKIE_INTENT, COOKIE_KIND_MASK, Plan
from controller.core.installs import Installs
from controller.core.intent import Intent, IntentEvent, State
from controller.core.journal import Changes, Journal, Saved, Store
from controller.core.liveness import Liveness
from controller.core.measurement import Measurement
from controller.core.orders import Orders
from controller.core.paths import NoPath
from controller.core.placement import Placer
from controller.core.planner import RANK, Planner
from controller.core.registry import Intents
from controller.core.restore import Restored
from controller.core.routes import BURST_MS, Routes
from controller.core.steering import Steering
from controller.core.telemetry import DEFAULT_WINDOW_S, IntentStatsView, Telemetry, Traffic, direction_of
from controller.core.topology import Link, Topology, TopologyEvent
from controller.core.views import (
    IntentView,
    PlacementView,
    TopologyView,
    intent_view,
    placement_view,
    topology_view,
)
from topologies.model.fabric import Fabric
from topologies.model.order import Order
from topologies.model.policy import Policy

Packed = list[tuple[int, Placement]]  # a batch placed together: (order index, placement)
DELAYS_TOLD_EVERY_S = 0.1  # the read model's delays, and so a path latency read, at most this old


class Controller:
    def __init__(
        self,
        fabric: Fabric,
        *,
        headroom: float = 0.1,
        burst_ms: float = BURST_MS,
        startup_grace_s: float = 10.0,
        store: Store | None = None,
        quotas: dict[str, float] | None = None,
        policy: Policy | None = None,
        now: float = 0.0,
        restored: Restored | None = None,
    ):
        self.fabric, self.store = fabric, store
        self.topology = Topology.from_fabric(fabric)
        self.planner = Planner(policy, now)
        self.books = Books(self.topology, headroom, self.planner.policy.span_headroom)
        self.intents = Intents()
        self.orders = Orders(fabric, self.intents, headroom, quotas)
        self.liveness = Liveness(fabric, self.topology, now, startup_grace_s)
        self.measurement = Measurement(fabric)
        self.routes = Routes(fabric, burst_ms)
        self.installs = Installs()
        self.journal = Journal()
        self.placer = Placer(
            self.topology,
            self.books,
            self.routes,
            self.intents,
            self.installs,
            self.liveness,
            self.planner,
            self.journal,
            hops=lambda i: self.orders.limits(i.src, i.dst)[2],
        )
        self.steering = Steering(self.topology, self.books, self.placer, self.planner, self.journal)
        self.candidates = Candidates(packing.K)  # paths per site pair, kept for batches
        self.telemetry = Telemetry(fabric.bandwidth_scale)
        self._flipped_at: float | None = None  # the switches' latest confirmed ingress flows (synced)
        self._listeners: list[tuple[type, Callable[[Any], None]]] = []
        self._delays_due, self._delays_told_at = False, float('-inf')
        if restored is None and store is not None:
            restored = Restored.loaded(fabric, burst_ms, *store.load())
        if restored is not None:
            restored.into(self, now)
            self._commit()

    @property
    def generation(self) -> int:
        return self.routes.generation

    # --- in-process API -----------------------------------------------------------------------

    def create(self, order: Order, *, now: float) -> Intent:
        """Admit and place a new intent, or raise (InvalidArgument, Conflict, QuotaExceeded,
        Unplaceable) and change nothing. Where no path has the room, placed intents of its
        class or lower may be moved aside (it then waits, COMPILING, until they have flipped
        to their new paths), else lower classes preempted. A request id the tenant used
        before returns the intent it made, if the order is the same (else Conflict)."""
        intent, prior = self.orders.admissible(order)
        if prior is not None:
            return prior
        self.orders.check_quota(intent.tenant, intent.bandwidth_gbps)
        self._admit(intent, now)
        self._commit()
        return intent

    def create_many(
        self, orders: Sequence[Order], *, now: float, packed: Packed | None = None
    ) -> Sequence[Intent | Unplaceable]:
        """Admit and place many intents together (a tenant's demand matrix, say): placed
        jointly (controller/core/packing.py), they get more of the fabric than one after the
        other would.

        Every order is checked first: a bad one refuses the whole call and changes nothing
        (InvalidArgument naming `orders[i].<field>`; Conflict; QuotaExceeded when a tenant's
        orders together pass its quota). Then each order is admitted or refused on its own;
        those the joint placement leaves out are tried as create() would (making room,
        preempting), class by class (REALTIME first). Returns, per order, its Intent
        (numbered in the order admitted; a request id used before gives the intent it made)
        or the Unplaceable saying why.

        `packed`: the result of packer(orders)'s function, computed off the runtime's lock
        (a big batch takes seconds); each of its placements is taken only if it still fits."""
        results, fresh = self.orders.admissible_many(orders)
        if packed is None:
            packed = self._pack(fresh, self.topology, self.books)
        at = {id(intent): i for i, intent in fresh.items()}
        for rank in sorted({RANK[intent.service_class] for intent in fresh.values()}):
            # Class by class, as packed: a higher-class order left out may then make room or
            # preempt, but never against an order of this batch it outranks.
            members = {i for i, intent in fresh.items() if RANK[intent.service_class] == rank}
            for i, placement in packed:
                if i in members and packing.fits(self.topology, self.books, fresh[i], placement):
                    self._admit(fresh[i], now, placement)
                    results[i] = fresh[i]
            for intent in self.placer.batch(fresh[i] for i in members if results[i] is None):
                try:
                    self._admit(intent, now)
                    results[at[id(intent)]] = intent
                except Unplaceable as e:
                    results[at[id(intent)]] = e
        self._commit()
        return results

    def packer(self, orders: Sequence[Order]) -> Callable[[], Packed]:
        """create_many's joint placement, to compute off the runtime's lock: checks the
        orders (raising as create_many would) and returns a function of no arguments that
        places them on copies of the topology and books as they are now; create_many takes
        its result as `packed`."""
        _, fresh = self.orders.admissible_many(orders)
        topology = self.topology.copy()
        return functools.partial(self._pack, fresh, topology, self.books.copy(topology))

    def check(self, order: Order) -> PlacementView:
        """Where a new intent would go now, or raise as create() would (but for a clash with
        an intent the tenant has: that one could be updated)."""
        intent = self.orders.intent(order)
        self.orders.check_quota(intent.tenant, intent.bandwidth_gbps)
        return placement_view(self.placer.dry_run(intent), self.topology)

    def quota_left_gbps(self, tenant: str) -> float:
        return self.orders.quota_left_gbps(tenant)

    def get(self, intent_id: str, tenant: str | None = None) -> Intent:
        """The intent; NotFound if there is none or it is another tenant's (when `tenant`)."""
        intent = self.intents.get(intent_id)
        if intent is None or (tenant is not None and intent.tenant != tenant):
            raise NotFound(f'intent {intent_id} not found')
        return intent

    def list(
        self, tenant: str | None = None, state: State | str | None = None, site: str | None = None
    ) -> Sequence[Intent]:
        """Intents by number (creation order), optionally of one tenant, in one state, or
        with an endpoint at one site."""
        return self.intents.select(tenant, State(state) if state is not None else None, site)

    def update(self, intent_id: str, *, now: float, tenant: str | None = None, **fields: Any) -> Intent:
        """Change an intent's order (fields of an Order; max_latency_ms=None drops the bound);
        re-placed (make-before-break) when its route must change. An intent whose new order
        does not fit keeps its old one (Unplaceable)."""
        intent = self.get(intent_id, tenant)
        if intent.state is State.WITHDRAWING:
            raise FailedPrecondition(f'intent {intent_id} is being withdrawn')
        changes = self.orders.changes(intent, fields)
        if not changes:
            return intent
        order = {k: v for k, v in changes.items() if k not in ('description', 'labels')}
        if order and intent.state is not State.FAILED:
            self.placer.dry_run(replace(intent, **order, history=[]))
        for key, value in changes.items():
            setattr(intent, key, value)
        if order:
            what = ', '.join(f'{k} {_show(v)}' for k, v in order.items())
            self.placer.place(intent, f'updated: {what}', now)
        else:
            intent.updated_at = now
            self.journal.touched(intent.id)
        self._commit()
        return intent

    def delete(self, intent_id: str, *, now: float, tenant: str | None = None) -> Intent:
        """Withdraw: WITHDRAWING until the switches no longer carry it, then WITHDRAWN."""
        intent = self.get(intent_id, tenant)
        if intent.state is State.WITHDRAWING:
            return intent
        self.placer.withdraw(intent, now)
        self.placer.settle(now)
        self.placer.retry_failed(now, f'retried: intent {intent.id} withdrawn')
        self._commit()
        return intent

    def subscribe(self, listener: Callable[[Any], None], kind: type = IntentEvent) -> Callable[[], None]:
        """Call `listener(event)` for every event of `kind` (IntentEvent, TopologyEvent, or
        Changes: every commit) from now on, after it is saved; returns an unsubscribe.
        Listeners run on whichever thread writes the store's group (under the runtime's lock
        without a store), one commit after the other: they must not block, nor call the
        runtime."""
        entry = (kind, listener)
        self._listeners.append(entry)
        return lambda: self._listeners.remove(entry) if entry in self._listeners else None

    # --- read model ---------------------------------------------------------------------------

    def view(self, intent_id: str, tenant: str | None = None) -> IntentView:
        return intent_view(self.get(intent_id, tenant), self.placer.placements.get(intent_id), self.topology)

    def views(
        self,
        tenant: str | None = None,
        state: State | str | None = None,
        site: str | None = None,
        measured: bool = True,
    ) -> Sequence[IntentView]:
        """Views of the intents; `measured=False` leaves their paths' latency to be filled in
        (`IntentView.measured`) by whoever reads them."""
        topology = self.topology if measured else None
        return [
            intent_view(i, self.placer.placements.get(i.id), topology) for i in self.list(tenant, state, site)
        ]

    def intent_stats(
        self, now: float, window_s: float | None = DEFAULT_WINDOW_S
    ) -> dict[str, IntentStatsView]:
        """Every intent's telemetry and its SLA report over the last `window_s` (None: without,
        for less), as immutable views: some 15 us an intent with the report."""
        return {i.id: self.telemetry.view(i, now, window_s) for i in self.intents}

    def traffic(self) -> dict[str, Traffic]:
        """What every intent's meters counted (intents the switches reported on), for /metrics."""
        return self.telemetry.traffic()

    def stats(
        self, intent_id: str, now: float, window_s: float = DEFAULT_WINDOW_S, tenant: str | None = None
    ) -> IntentStatsView:
        """One intent's telemetry; NotFound as get()."""
        return self.telemetry.view(self.get(intent_id, tenant), now, window_s)

    def topology_view(self) -> TopologyView:
        return topology_view(self.fabric, self.topology, self.liveness, self.books, self.steering.utilization)

    # --- southbound ---------------------------------------------------------------------------

    def plan(self) -> Plan:
        """{dpid: (flows by key, meters by id, groups by id)} for the current generation."""
        return self.routes.plan()

    def switch_connected(self, dpid: int, now: float) -> None:
        self.telemetry.switch_gone(dpid)
        self.measurement.switch_gone(dpid)  # (again: what it measured before the connection is old)
        self._refresh(now, self.liveness.switch_connected(dpid), switch_changed=True)

    def switch_disconnected(self, dpid: int, now: float) -> None:
        reason = self.liveness.switch_disconnected(dpid)
        self.telemetry.switch_gone(dpid)
        self.measurement.switch_gone(dpid)
        self._refresh(now, reason, switch_changed=True)

    def port_state(self, dpid: int, port_no: int, up: bool, now: float) -> None:
        """A port's link state; ports that are not span ports are ignored."""
        if not up:
            self.measurement.port_down(dpid, port_no)  # measured afresh once restored
        reason = self.liveness.port_state(dpid, port_no, up)
        if reason is not None:
            self._refresh(now, reason)

    def synced(
        self, dpids: Iterable[int], generation: int, now: float, flipped_at: float | None = None
    ) -> None:
        """These switches hold the plan of `generation`; `flipped_at`: when they confirmed its
        ingress flows, if it changed any. Traffic takes an intent's new path then, before the
        clean-up that waits for the old one to drain: its SLA counts it in service from the
        latest such flip, not from when it is INSTALLED."""
        for dpid in dpids:
            self.liveness.synced(dpid, generation)
        if flipped_at is not None:
            self._flipped_at = max(flipped_at, self._flipped_at or flipped_at)
        self.placer.settle(now)
        self._commit(durable=False)

    def delay_measured(self, link: Link, delay_ms: float, now: float) -> None:
        """A new estimate of a link's delay; intents whose bound it breaks move at once."""
        before = self.topology.delay_ms(link)
        self.topology.record_delay(link, delay_ms, now)
        self.planner.measured(link, delay_ms, now)
        self._delays_changed(now)
        if delay_ms > before:  # only a rise can break a bound
            self.steering.keep_bounds(now, self._reserved_on(self.topology.span_of(link).links()))
        self._commit(durable=False)

    def crossing_measured(self, site: str, ms: float, now: float) -> None:
        """A new estimate of what a frame spends crossing a site's switch; it counts in the
        latency of every path through the site, so bounds are checked again when it rises."""
        before = self.topology.crossing_ms(site)
        self.topology.record_crossing(site, ms, now)
        self.planner.measured(site, ms, now)
        self._delays_changed(now)
        if ms > before:
            self.steering.keep_bounds(now, self._reserved_on(l for l in self.topology.links() if site in l))
        self._commit(durable=False)

    def utilization_measured(self, link: Link, gbps: float, now: float) -> None:
        """A link's measured load; a span loaded over the policy's threshold sheds load."""
        self.steering.load_measured(link, gbps, now)
        self._commit(durable=False)

    def measured(self) -> tuple[dict[Link, float], dict[str, float]]:
        """The delays of the directions measured so far, and the switches' crossings: what a
        leader publishes for its followers' reads and its successor (controller/replica.py)."""
        links = {
            link: ms
            for span in self.topology.spans.values()
            for link, (ms, _) in span.measured_delay_ms.items()
        }
        return links, {site: ms for site, (ms, _) in self.topology.crossing.items()}

    def start_from(self, links: dict[Link, float], crossings: dict[str, float], now: float) -> None:
        """Delays another replica measured (the leader before this one), until this one's own
        probes replace them: a new leader does not begin from the fabric's priors."""
        for link, ms in links.items():
            if self.topology.has_link(link):
                self.topology.record_delay(link, ms, now)
        for site, ms in crossings.items():
            if site in self.fabric.sites:
                self.topology.record_crossing(site, ms, now)
        self._delays_changed(now)
        self._commit(durable=False)

    def tick(self, now: float) -> None:
        """About once a second: ends the start-up grace for switches never seen, re-optimizes
        when due, and gives squeezed intents their excess back when there is room again."""
        if self.liveness.end_grace(now):
            self._refresh(now, 'start-up grace over')
        if not self.installs.any_installing():  # a pass moves only settled intents
            if self.steering.pass_left:
                self.steering.go_on(now)
            elif self.planner.reoptimize_due(now):
                self.steering.reoptimize(now)
        self.steering.unsqueeze(now)
        if self.telemetry.due(now):
            self._observe(self.intents, now, sample=True)
        self._commit(durable=False)

    # --- inside -------------------------------------------------------------------------------

    def _admit(self, intent: Intent, now: float, placement: Placement | None = None) -> None:
        """Number, keep and place a checked intent: on `placement` (computed on the books as
        they are) or the lowest-latency path with the room, else after moving others aside,
        else by preempting lower classes; or raise Unplaceable and keep nothing."""
        moves: list[Move] = []
        target: Placement | None = None
        victims: list[Intent] = []
        try:
            placement = placement or admission.compute(self.topology, self.books, intent)
        except NoPath as refused:
            moves, target = self.placer.room_for(intent)
            victims = [] if moves else self.steering.victims(intent)
            if not moves and not victims:
                raise Unplaceable(refused) from None
        self.intents.number(intent, now)
        if moves and target is not None:
            self.placer.make_room(intent, moves, target, 'placing', now)
        for victim in victims:
            self.books.withdraw(victim.id)
        if not moves:
            self.placer.place(intent, 'placing', now, placement=placement)
        why = f'preempted by intent {intent.id} ({intent.service_class.value}) of tenant {intent.tenant}'
        for victim in victims:
            self.planner.displaced.add(victim.id)
            self.placer.reclaim()  # what the victims before it freed may be a waiting intent's
            self.placer.place(victim, why, now)

    def _pack(self, fresh: dict[int, Intent], topology: Topology, books: Books) -> Packed:
        """[(order index, Placement)] of packing.pack for the checked orders `fresh`."""
        indexes = list(fresh)
        return [
            (indexes[n], placement)
            for n, placement in packing.pack(
                topology, books, list(fresh.values()), self.planner.policy.batch_seconds, self.candidates
            )
        ]

    def _refresh(self, now: float, reason: str, switch_changed: bool = False) -> None:
        """Bring span states up to date; move what a down span broke, retry what failed."""
        went_down, came_up = self.liveness.refresh()
        for span_id in went_down:
            self.planner.span_changed(span_id, False, now)
        for span_id in came_up:
            self.planner.span_changed(span_id, True, now)
        if switch_changed or went_down or came_up:
            self.journal.emit(TopologyEvent(reason, now))
        if went_down or came_up:  # before any move: a cut is an outage from now
            self._observe(self.intents, now)
        self.placer.spans_down(went_down, reason, now)
        if came_up:  # only what has nothing now; moving back onto the span waits until it is trusted
            avoid = self.planner.untrusted_spans(self.topology, now)
            self.placer.retry_failed(now, f'retried: span {", ".join(came_up)} up', avoid)
        self._commit(durable=False)

    def _commit(self, durable: bool = True) -> None:
        """Save what changed, then tell the listeners (a crash in between loses no state). With
        a store, the listeners hear it once the store has it written (whoever writes the group
        calls them, in commit order); without one, at once. What a tenant asked for is
        `durable` (synced to disk before the answer); what the controller observed (the
        switches, measurements, a cut and what it moved) is not: after a restart it observes
        it again (see controller/store/sqlite.py)."""
        events, dirty, deleted = self.journal.take()
        self._observe_events(events)
        self.telemetry.forget(deleted)
        kept = [self.intents[i] for i in sorted(dirty) if i in self.intents]
        delays = self.topology.delays() if self._delays_due else None
        self._delays_due = False
        if not (events or kept or deleted or delays):
            return
        views = tuple(intent_view(i, self.placer.placements.get(i.id), None) for i in kept)
        changes = Changes(views, tuple(sorted(deleted)), tuple(events), delays)
        listeners = list(self._listeners)

        def tell() -> None:
            for item in (changes, *events):
                for kind, listener in listeners:
                    if isinstance(item, kind):
                        listener(item)

        if self.store is None:
            tell()
            return
        meta = {
            'fabric': self.fabric.name,
            'next_number': self.intents.next_number,
            'next_label': self.routes.next_label,
        }
        saved = [self._saved(i) for i in kept]
        self.store.save(saved, sorted(deleted), meta if kept or deleted else {}, after=tell, durable=durable)

    def _observe(self, intents: Iterable[Intent], now: float, sample: bool = False) -> None:
        """Note each intent's status for its telemetry (and, with `sample`, its latency)."""
        for intent in intents:
            placement = self.placer.placements.get(intent.id)
            self.telemetry.observe(intent, placement, self.topology, self.books, now, sample)

    def _observe_events(self, events: Iterable[IntentEvent | TopologyEvent]) -> None:
        """The intents that changed state: their status from when it changed (back INSTALLED
        after an outage: from the switches' latest flip, if that came after the outage began)."""
        for event in events:
            if isinstance(event, IntentEvent) and event.intent_id in self.intents:
                intent = self.intents[event.intent_id]
                placement = self.placer.placements.get(intent.id)
                since = self._flipped_at if event.state is State.INSTALLED else None
                self.telemetry.observe(intent, placement, self.topology, self.books, event.at, since=since)

    def _reserved_on(self, links: Iterable[Link]) -> Sequence[Intent]:
        """The intents holding bandwidth on any of `links` (their paths, primary or backup, and
        moves under way), by number: read from the committed book, not found by looking at
        every intent (a delay measured is a probe's worth of work, hundreds a second)."""
        ids = {holder[0] for link in links for holder in self.books.committed.holders_on(link)}
        return sorted((self.intents[i] for i in ids if i in self.intents), key=lambda i: i.number)

    def _delays_changed(self, now: float) -> None:
        """The next commit tells the read model the delays, if it has not for 0.1 s (probes
        come hundreds of times a second; a path's latency as shown may be that old)."""
        if now - self._delays_told_at >= DELAYS_TOLD_EVERY_S:
            self._delays_due, self._delays_told_at = True, now

    def _saved(self, intent: Intent) -> Saved:
        placement, route = self.placer.placements.get(intent.id), self.routes.of(intent.id)
        if placement is None:
            return Saved(intent)
        return Saved(
            intent,
            placement.primary.sites,
            placement.backup.sites if placement.backup else None,
            route.labels if route else None,
        )

    # --- measurement: raw facts from the southbound shim ---------------------------------------
    # Stamps (`*_ns`) are the shim's monotonic clock; `now` is the runtime's. What is measured
    # feeds delay_measured and utilization_measured; the notices returned are for the shim to
    # log as warnings.

    def echo_sent(self, dpid: int, xid: int, stamp_ns: int) -> None:
        self.measurement.echo_sent(dpid, xid, stamp_ns)

    def echo_replied(self, dpid: int, xid: int, stamp_ns: int) -> None:
        self.measurement.echo_replied(dpid, xid, stamp_ns)

    def loop_returned(self, dpid: int, sent_ns: int, received_ns: int) -> None:
        self.measurement.loop_returned(dpid, sent_ns, received_ns)

    def programming(self, dpid: int, start_ns: int, end_ns: int | None) -> None:
        """The switch takes flow changes from `start_ns` (until `end_ns`, None: still now)."""
        self.measurement.programming(dpid, start_ns, end_ns)

    def probe_received(
        self,
        dpid: int,
        in_port: int,
        sender_dpid: int,
        sender_port: int,
        sent_ns: int,
        received_ns: int,
        now: float,
    ) -> Sequence[str]:
        """An LLDP probe came in at `dpid`; returns notices."""
        estimates, notices = self.measurement.probe_received(
            dpid, in_port, sender_dpid, sender_port, sent_ns, received_ns
        )
        for link, ms in estimates:
            self.delay_measured(link, ms, now)
        return notices

    def bounce_returned(self, dpid: int, port_no: int, sent_ns: int, received_ns: int, now: float) -> None:
        """A bounce probe came back to `dpid` from the switch across the span on `port_no`."""
        crossing = self.measurement.bounce_returned(dpid, port_no, sent_ns, received_ns)
        if crossing is not None:
            self.crossing_measured(*crossing, now)

    def port_counters(
        self,
        dpid: int,
        port_no: int,
        tx_bytes: int,
        stamp_ns: int,
        now: float,
        tx_packets: int = 0,
        rx_packets: int = 0,
        port_ns: int | None = None,
    ) -> None:
        load = self.measurement.port_counters(
            dpid, port_no, tx_bytes, stamp_ns, tx_packets, rx_packets, port_ns
        )
        if load is not None:
            self.utilization_measured(*load, now)
        self._gray_check(stamp_ns, now)

    def meter_counters(
        self, dpid: int, meters: Sequence[tuple[int, int, int, int, int]], stamp_ns: int
    ) -> None:
        """A switch's meters: (meter id, bytes in, bytes and frames dropped by its band, age
        ns), cumulative; those of intents' ingress meters count in their telemetry."""
        site = self.liveness.site(dpid)
        for meter_id, bytes_in, band_bytes, band_frames, age_ns in meters:
            intent = self.intents.by_number(meter_id)
            direction = direction_of(intent, site, ingress=True) if intent else None
            if intent is not None and direction is not None:
                self.telemetry.meter(
                    intent.id, direction, dpid, meter_id, bytes_in, band_bytes, band_frames, age_ns, stamp_ns
                )

    def egress_counters(self, dpid: int, flows: Sequence[tuple[int, int, int, int]], stamp_ns: int) -> None:
        """A switch's egress flows of intents (popping a label to the tenant port): (cookie,
        label, bytes out, age ns), cumulative."""
        site = self.liveness.site(dpid)
        for cookie, label, bytes_out, age_ns in flows:
            if cookie & COOKIE_KIND_MASK != COOKIE_INTENT:
                continue
            intent = self.intents.by_number(cookie & ~COOKIE_KIND_MASK)
            direction = direction_of(intent, site, ingress=False) if intent else None
            if intent is not None and direction is not None:
                self.telemetry.egress(intent.id, direction, dpid, label, bytes_out, age_ns, stamp_ns)

    def probes_sent(self, dpid: int, sent: Sequence[tuple[int, int]], now: float) -> None:
        """Switch `dpid` was asked to send an LLDP probe out of each (span port, stamped ns)."""
        self.measurement.probes_sent(dpid, sent)
        if sent:
            self._gray_check(max(stamp for _, stamp in sent), now)

    def _gray_check(self, stamp_ns: int, now: float) -> None:
        """Spans that turned gray (their carrier up, frames lost) are down until clear again."""
        usable = [s.id for s in self.fabric.spans if self.liveness.carrier(s)]
        for span_id, gray, reason in self.measurement.gray.changes(stamp_ns / 1e9, usable):
            self.liveness.set_gray(span_id, gray)
            self._refresh(now, reason)

    def discovery_notices(self, connected_ns: dict[int, int], stamp_ns: int) -> Sequence[str]:
        """Notices for spans LLDP has not crossed; `connected_ns` is {dpid: connected at}."""
        spans = {span.id: span for span in self.fabric.spans}
        # Carrier, not `up`: a span LLDP never crosses is gray (down) too, and still to be told.
        return self.measurement.discovery(
            connected_ns, stamp_ns, lambda span_id: self.liveness.carrier(spans[span_id])
        )


def _show(value: object) -> str:
    return (
        value.value if hasattr(value, 'value') else f'{value:g}' if isinstance(value, float) else str(value)
    )
