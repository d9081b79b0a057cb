"""The controller's core: the network as measured, the intents, their reservations and
routes, and the plan every switch should hold. Pure: callers pass the time and the events;
it never sends, sleeps, reads the clock or locks (the runtime calls it under one lock).

The in-process API (create, get, list, update, delete, subscribe) is what the gRPC layer
calls. The southbound reports switches, ports and measurements, asks for `plan()` and
confirms with `synced(dpid, generation)` once a switch holds the plan of that generation;
an intent is INSTALLED when every switch on its route has confirmed it.

A span is usable while both its switches are connected and both its ports are up. Until a
switch first connects its spans count as up (so intents restored after a controller restart
keep their routes while the switches reconnect), and after `startup_grace_s` as down.
"""

import functools
import hashlib
import inspect
import ipaddress
import itertools
import json
import math
import re
from dataclasses import replace

from controller.core import admission, flows, packing
from controller.core.errors import (
    Conflict,
    CoreError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    QuotaExceeded,
    Unplaceable,
)
from controller.core.intent import Intent, State
from controller.core.ledger import Ledger
from controller.core.measurement import Measurement
from controller.core.paths import NoPath, Path, lowest_latency_path, widest_gbps
from controller.core.planner import RANK, Planner, batch_order
from controller.core.topology import Link, Topology
from topologies.model import addressing as addr
from topologies.model.order import Protection, ServiceClass

# Meter burst: 20 ms of the intent's rate, at least 120 kbit (ten full frames). Measured
# (scripts/bench/enforcement.py): 10 ms already gives one TCP flow 94-96% of its rate, 2 ms
# loses 5-19%, under one frame drops everything; 20 ms of every intent on a span stays
# within the span's 50 ms queue even if all bursts fire at once.
BURST_MS = 20.0
MIN_BURST_KBITS = 120
LATENCY_STEP_MS = 0.2  # a delay estimate rising more than this checks the bounds at once
UNSET = object()
MAX_DESCRIPTION = 1024
MAX_LABELS = 32
MAX_PREFIXES = 8  # per end: the ingress holds a flow per pair of prefixes
LABEL_KEY = re.compile(r'[a-z][a-z0-9_-]{0,62}')
REQUEST_ID = re.compile(r'[A-Za-z0-9._:-]{1,64}')


class Controller:
    def __init__(
        self,
        fabric,
        *,
        headroom=0.1,
        burst_ms=BURST_MS,
        startup_grace_s=10.0,
        store=None,
        quotas=None,
        policy=None,
        now=0.0,
    ):
        self.fabric = fabric
        self.quotas = dict(quotas or {})  # tenant -> most Gb/s it may commit in all
        self.topology = Topology.from_fabric(fabric)
        self.planner = Planner(policy, now)
        self.ledger = Ledger(self.topology, headroom, self.planner.policy.span_headroom)  # committed
        self.peak = Ledger(self.topology, 0.0)  # committed + excess rates
        self.burst_ms = burst_ms
        self.store = store
        self.intents = {}  # id -> Intent (until WITHDRAWN)
        self._by_pair = {}  # (tenant, frozenset of its two sites) -> {ids}
        self._by_request = {}  # (tenant, request id) -> id
        self.placements = {}  # id -> admission.Placement
        self.routes = {}  # id -> flows.Route (what the switches carry)
        self._labels = set()  # labels of those routes
        self.generation = 0  # bumped whenever the plan changes
        self.utilization = {}  # Link -> (Gb/s, when)
        self.measurement = Measurement(fabric)  # measurement
        self._next_number = 1
        self._next_label = flows.FIRST_LABEL
        self._dpids = {addr.dpid(site): site.id for site in fabric.sites.values()}
        self._switch = dict.fromkeys(self._dpids)  # None: not seen yet, then True/False
        self._port_up = {}  # (dpid, port) -> bool, span ports
        self._synced = dict.fromkeys(self._dpids, 0)
        self._installing = {}  # id -> generation its route needs
        self._withdrawing = {}  # id -> (generation, dpids its old route used)
        self._waiting = {}  # id -> (ids of the intents moving aside for it, reason)
        self._grace_until = now + startup_grace_s
        self._grace_over = False
        self._listeners = []
        self._events = []
        self._dirty, self._deleted = set(), set()
        self._physical = Topology.from_fabric(fabric)  # all spans up, fabric delays
        self._limits = {}  # (src, dst) -> (widest Gb/s, min ms, hops)
        self._plan = None
        self._route_flows = {}  # flows.plan's cache
        if store is not None:
            self._restore(store.load(), now)

    # --- in-process API ---------------------------------------------------------------------

    def create(
        self,
        tenant,
        src,
        dst,
        bandwidth_gbps,
        *,
        now,
        max_latency_ms=None,
        protection=Protection.NONE,
        service_class=ServiceClass.PRIORITY,
        description='',
        labels=None,
        src_prefixes=(),
        dst_prefixes=(),
        excess_gbps=0.0,
        request_id='',
    ):
        """Admit and place a new intent, or raise (InvalidArgument, Conflict, QuotaExceeded,
        Unplaceable) and change nothing. Where no path has the room, placed intents of its
        class or lower may be moved aside (it then waits, COMPILING, until they have flipped
        to their new paths), else lower classes preempted. A `request_id` the tenant used
        before returns the intent it made, if the order is the same (else Conflict)."""
        intent, prior = self._admissible(
            tenant,
            src,
            dst,
            bandwidth_gbps,
            max_latency_ms,
            protection,
            service_class,
            description,
            labels,
            src_prefixes,
            dst_prefixes,
            excess_gbps,
            request_id,
        )
        if prior is not None:
            return prior
        self._check_quota(intent.tenant, intent.bandwidth_gbps)
        self._admit(intent, now)
        self._commit()
        return intent

    def create_many(self, orders, *, now, packed=None):
        """Admit and place many intents together (a tenant's demand matrix, say): placed
        jointly (controller/core/packing.py), they get more of the fabric than one after the
        other would. `orders`: create()'s keyword arguments, one dict per intent.

        Every order is checked first: a bad one refuses the whole call and changes nothing
        (InvalidArgument naming `orders[i].<field>`; Conflict; QuotaExceeded when a tenant's
        orders together pass its quota). Then each order is admitted or refused on its own;
        those the joint placement leaves out are tried as create() would (making room,
        preempting), class by class (REALTIME first). Returns, per order, its Intent
        (numbered in the order admitted; a request_id used before gives the intent it made)
        or the Unplaceable saying why.

        `packed`: the result of packer(orders)'s function, computed off the runtime's lock
        (a big batch takes seconds); each of its placements is taken only if it still fits."""
        results, fresh = self._check_many(orders)
        if packed is None:
            packed = self._pack(fresh, self.topology, self.ledger, self.peak)
        at = {id(intent): i for i, intent in fresh.items()}
        for rank in sorted({RANK[intent.service_class] for intent in fresh.values()}):
            # Class by class, as packed: a higher-class order left out may then make room or
            # preempt, but never against an order of this batch it outranks.
            members = {i for i, intent in fresh.items() if RANK[intent.service_class] == rank}
            for i, placement in packed:
                if i in members and packing.fits(self.topology, self.ledger, self.peak, fresh[i], placement):
                    self._admit(fresh[i], now, placement)
                    results[i] = fresh[i]
            for intent in self._batch(fresh[i] for i in members if results[i] is None):
                try:
                    self._admit(intent, now)
                    results[at[id(intent)]] = intent
                except Unplaceable as e:
                    results[at[id(intent)]] = e
        self._commit()
        return results

    def packer(self, orders):
        """create_many's joint placement, to compute off the runtime's lock: checks the
        orders (raising as create_many would) and returns a function of no arguments that
        places them on copies of the topology and ledgers as they are now; create_many
        takes its result as `packed`."""
        _, fresh = self._check_many(orders)
        topology = self.topology.copy()
        return functools.partial(
            self._pack, fresh, topology, self.ledger.copy(topology), self.peak.copy(topology)
        )

    def _pack(self, fresh, topology, ledger, peak):
        """[(order index, Placement)] of packing.pack for the checked orders `fresh`."""
        indexes = list(fresh)
        return [
            (indexes[n], placement)
            for n, placement in packing.pack(
                topology, ledger, peak, list(fresh.values()), self.planner.policy.batch_seconds
            )
        ]

    def _check_many(self, orders):
        """(results with the intents request_ids replay, {order index: new Intent}) for
        create_many's orders, or raise naming the first bad one."""
        if isinstance(orders, (str, bytes, dict)) or not orders:
            raise InvalidArgument('orders', 'must be a list of at least one order')
        results, fresh, seen, gbps = [None] * len(orders), {}, {}, {}
        for i, order in enumerate(orders):
            try:
                intent, prior = self._admissible(**_order_args(order))
            except CoreError as e:
                raise _in_order(i, e) from None
            if prior is not None:
                results[i] = prior
                continue
            keys = [('the same tenant and sites', _pair(intent))]
            if intent.request_id:
                keys.append(('the same request_id', (intent.tenant, intent.request_id)))
            for what, key in keys:
                if key in seen:
                    raise Conflict(f'orders[{i}]: {what} as orders[{seen[key]}]')
                seen[key] = i
            fresh[i] = intent
            gbps[intent.tenant] = gbps.get(intent.tenant, 0.0) + intent.bandwidth_gbps
        for tenant, more in gbps.items():
            try:
                self._check_quota(tenant, more)
            except QuotaExceeded as e:
                raise QuotaExceeded(f'orders: {e}', e.left_gbps) from None
        return results, fresh

    def _admissible(
        self,
        tenant,
        src,
        dst,
        bandwidth_gbps,
        max_latency_ms,
        protection,
        service_class,
        description,
        labels,
        src_prefixes,
        dst_prefixes,
        excess_gbps,
        request_id,
    ):
        """(the new Intent, not numbered yet; None), or (None, the intent a request_id
        used before made for the same order); raises InvalidArgument or Conflict."""
        intent = self._order(
            tenant,
            src,
            dst,
            bandwidth_gbps,
            max_latency_ms,
            protection,
            service_class,
            description,
            labels,
            src_prefixes,
            dst_prefixes,
            excess_gbps,
        )
        if request_id:
            intent.request_id = _check_request_id(request_id)
            intent.request_digest = _digest(intent)
            prior = self.intents.get(self._by_request.get((intent.tenant, request_id)))
            if prior is not None:
                if prior.request_digest != intent.request_digest:
                    raise Conflict(
                        f'request_id: {request_id!r} was used for another order (intent {prior.id})'
                    )
                return None, prior
        clash = next(
            (
                self.intents[i]
                for i in self._by_pair.get(_pair(intent), ())
                if self.intents[i].state is not State.WITHDRAWING
            ),
            None,
        )
        if clash is not None:
            raise Conflict(
                f'tenant {intent.tenant} already has intent {clash.id} between '
                f'{intent.src} and {intent.dst}: update it instead'
            )
        return intent, None

    def _admit(self, intent, now, placement=None):
        """Number, store and place a checked intent: on `placement` (computed on the ledgers
        as they are) or the lowest-latency path with the room, else after moving others
        aside, else by preempting lower classes; or raise Unplaceable and store nothing."""
        moves, victims = [], []
        try:
            placement = placement or admission.compute(self.topology, self.ledger, intent, peak=self.peak)
        except NoPath as refused:
            placement, moves = None, self._room_for(intent)
            victims = [] if moves else self._victims(intent)
            if not moves and not victims:
                raise Unplaceable(refused) from None
        intent.number, intent.id = self._next_number, f'i-{self._next_number}'
        intent.created_at = intent.updated_at = now
        self._next_number += 1
        self._add(intent)
        if moves:
            self._make_room(intent, moves, 'placing', now)
        for victim in victims:
            admission.withdraw(self.ledger, victim.id, self.peak)
        if not moves:
            self._place(intent, 'placing', now, placement=placement)
        why = f'preempted by intent {intent.id} ({intent.service_class.value}) of tenant {intent.tenant}'
        for victim in victims:
            self.planner.displaced.add(victim.id)
            self._place(victim, why, now)

    def check(
        self,
        tenant,
        src,
        dst,
        bandwidth_gbps,
        *,
        max_latency_ms=None,
        protection=Protection.NONE,
        service_class=ServiceClass.PRIORITY,
        description='',
        labels=None,
        src_prefixes=(),
        dst_prefixes=(),
        excess_gbps=0.0,
    ):
        """Where a new intent would go now (a Placement), or raise as create() would
        (but for a clash with an intent the tenant has: that one could be updated)."""
        intent = self._order(
            tenant,
            src,
            dst,
            bandwidth_gbps,
            max_latency_ms,
            protection,
            service_class,
            description,
            labels,
            src_prefixes,
            dst_prefixes,
            excess_gbps,
        )
        self._check_quota(intent.tenant, intent.bandwidth_gbps)
        return self._dry_run(intent)

    def quota_left_gbps(self, tenant):
        """What the tenant may still commit (inf without a quota)."""
        quota = self.quotas.get(tenant)
        if quota is None:
            return math.inf
        return quota - sum(
            i.bandwidth_gbps
            for i in self.intents.values()
            if i.tenant == tenant and i.state is not State.WITHDRAWING
        )

    def get(self, intent_id, tenant=None):
        """The intent; NotFound if there is none or it is another tenant's (when `tenant`)."""
        intent = self.intents.get(intent_id)
        if intent is None or (tenant is not None and intent.tenant != tenant):
            raise NotFound(f'intent {intent_id} not found')
        return intent

    def list(self, tenant=None, state=None, site=None):
        """Intents by number (creation order), optionally of one tenant, in one state, or
        with an endpoint at one site."""
        return [
            i
            for i in self.intents.values()
            if (tenant is None or i.tenant == tenant)
            and (state is None or i.state is State(state))
            and (site is None or site in (i.src, i.dst))
        ]

    def update(
        self,
        intent_id,
        *,
        now,
        tenant=None,
        bandwidth_gbps=None,
        max_latency_ms=UNSET,
        protection=None,
        service_class=None,
        description=None,
        labels=None,
        excess_gbps=None,
    ):
        """Change an intent's order; re-placed (make-before-break) when its route must change.
        An INSTALLED intent whose new order does not fit keeps its old one (Unplaceable)."""
        intent = self.get(intent_id, tenant)
        if intent.state is State.WITHDRAWING:
            raise FailedPrecondition(f'intent {intent_id} is being withdrawn')
        changes = {}
        if bandwidth_gbps is not None:
            changes['bandwidth_gbps'] = self._check_bandwidth(intent.src, intent.dst, bandwidth_gbps)
        if excess_gbps is not None:
            changes['excess_gbps'] = self._check_excess(
                intent.src, intent.dst, changes.get('bandwidth_gbps', intent.bandwidth_gbps), excess_gbps
            )
        if max_latency_ms is not UNSET:
            changes['max_latency_ms'] = self._check_latency(intent.src, intent.dst, max_latency_ms)
        if protection is not None:
            changes['protection'] = _enum(Protection, protection, 'protection')
        if service_class is not None:
            changes['service_class'] = _enum(ServiceClass, service_class, 'service_class')
        if description is not None:
            changes['description'] = _check_text(description)
        if labels is not None:
            changes['labels'] = _check_labels(labels)
        changes = {k: v for k, v in changes.items() if getattr(intent, k) != v}
        if not changes:
            return intent
        if changes.get('bandwidth_gbps', 0) > intent.bandwidth_gbps:
            self._check_quota(intent.tenant, changes['bandwidth_gbps'] - intent.bandwidth_gbps)
        order = {k: v for k, v in changes.items() if k not in ('description', 'labels')}
        if order and intent.state is not State.FAILED:
            self._dry_run(replace(intent, **order, history=[]))
        for key, value in changes.items():
            setattr(intent, key, value)
        if order:
            what = ', '.join(f'{k} {_show(v)}' for k, v in order.items())
            self._place(intent, f'updated: {what}', now)
        else:
            intent.updated_at = now
            self._dirty.add(intent.id)
        self._commit()
        return intent

    def delete(self, intent_id, *, now, tenant=None):
        """Withdraw: WITHDRAWING until the switches no longer carry it, then WITHDRAWN."""
        intent = self.get(intent_id, tenant)
        if intent.state is State.WITHDRAWING:
            return intent
        route = self.routes.get(intent.id)
        self._unplace(intent)
        self.planner.forget(intent.id)
        self._emit(intent.move_to(State.WITHDRAWING, 'deleted', now))
        self._withdrawing[intent.id] = (self.generation, self._route_dpids(route))
        self._settle(now)
        self._retry_failed(now, f'retried: intent {intent.id} withdrawn')
        self._commit()
        return intent

    def subscribe(self, listener):
        """Call `listener(IntentEvent)` for every event from now on; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # --- southbound -------------------------------------------------------------------------

    def plan(self):
        """{dpid: (flows by key, meters by id)} for the current generation."""
        if self._plan is None or self._plan[0] != self.generation:
            self._plan = (self.generation, flows.plan(self.fabric, self.routes.values(), self._route_flows))
        return self._plan[1]

    def switch_connected(self, dpid, now):
        self._known(dpid)
        self._switch[dpid], self._synced[dpid] = True, 0
        self._refresh(now, f'switch {self._dpids[dpid]} connected')

    def switch_disconnected(self, dpid, now):
        self._known(dpid)
        self._switch[dpid], self._synced[dpid] = False, 0
        for key in [k for k in self._port_up if k[0] == dpid]:
            del self._port_up[key]
        self.measurement.switch_gone(dpid)  # measurement
        self._refresh(now, f'switch {self._dpids[dpid]} disconnected')

    def port_state(self, dpid, port_no, up, now):
        """A port's link state; ports that are not span ports are ignored."""
        self._known(dpid)
        site = self._dpids[dpid]
        peer = addr.span_peer(self.fabric, site, port_no)
        if peer is None:
            return
        if not up:
            self.measurement.port_down(dpid, port_no)  # measurement
        if self._port_up.get((dpid, port_no)) != bool(up):
            self._port_up[(dpid, port_no)] = bool(up)
            self._refresh(now, f'port {site}-{peer} {"up" if up else "down"}')

    def synced(self, dpid, generation, now):
        """The switch holds the plan of `generation`."""
        self._known(dpid)
        self._synced[dpid] = max(self._synced[dpid], generation)
        self._settle(now)
        self._commit()

    def delay_measured(self, link, delay_ms, now):
        """A new estimate of a link's delay; intents whose bound it breaks move at once."""
        before = self.topology.delay_ms(link)
        self.topology.record_delay(link, delay_ms, now)
        if delay_ms > before + LATENCY_STEP_MS:
            span_id = self.topology.span_of(link).span_id
            self._keep_bounds(now, [i for i in self.intents.values() if span_id in self._spans_used(i.id)])

    def utilization_measured(self, link, gbps, now):
        """A link's measured load; a span loaded over the policy's threshold sheds load."""
        self.utilization[link] = (gbps, now)
        step = self.planner.load_measured(self.topology, link, gbps)
        if step:
            self._relieve(self.topology.span_of(link).span_id, step, now)
            self._commit()

    def tick(self, now):
        """Called about once a second: ends the start-up grace for switches never seen,
        re-optimizes when due, and gives squeezed intents their excess back when there is
        room again."""
        if not self._grace_over and now >= self._grace_until:
            self._grace_over = True
            self._refresh(now, 'start-up grace over')
        if self.planner.reoptimize_due(now) and not self._installing:
            self.reoptimize(now)
        self._unsqueeze(now)
        self._commit()

    def connected(self, site_id):
        """Whether the site's switch is connected now."""
        return self._switch[addr.dpid(self.fabric.sites[site_id])] is True

    def span_up(self, span_id):
        return self.topology.spans[span_id].up

    def route_of(self, intent_id):
        return self.routes.get(intent_id)

    # --- placing ----------------------------------------------------------------------------

    def _dry_run(self, intent):
        try:
            return admission.compute(self.topology, self.ledger, intent, peak=self.peak)
        except NoPath as e:
            raise Unplaceable(e) from None

    # --- the policy engine's decisions (controller/core/planner.py) -------------------------

    def reoptimize(self, now):
        """Re-place every intent, class by class, where that gains enough (the planner says
        what is enough); spans back too recently or congested are not used for such moves."""
        self.planner.last_reoptimized, self.planner.wanted = now, False
        avoid = self.planner.untrusted_spans(self.topology, now) | self.planner.congested(self.topology)
        self._retry_failed(now, 'retried: re-optimization', avoid)
        for intent in self._batch(self.intents.values()):
            if intent.state is not State.INSTALLED:
                continue  # mid-move or leaving: the next round sees it
            try:
                better = admission.compute(self.topology, self.ledger, intent, avoid, self.peak, degrade=True)
            except NoPath:
                continue
            reason = self.planner.worth_moving(
                self.topology, intent, self.placements.get(intent.id), better, now
            )
            if reason is not None:
                self.planner.moved(intent.id, now)
                self.planner.displaced.discard(intent.id)
                self._place(intent, reason, now, placement=better)
        settles = self.planner.settling(self.topology, now)
        if settles is not None:  # look again once the last span back is trusted
            self.planner.last_reoptimized = min(
                self.planner.last_reoptimized, settles - self.planner.policy.reoptimize_every_s
            )

    def _keep_bounds(self, now, intents):
        """Move the intents whose measured latency breaks their bound; those that nowhere
        meets it stay where they are, and say so."""
        for intent, why in self.planner.latency_broken(self.topology, intents, self.placements):
            try:
                placement = admission.compute(
                    self.topology, self.ledger, intent, peak=self.peak, degrade=True
                )
            except NoPath as e:
                note = f'{why}; no path meets it ({e.reason}): staying'
                if intent.reason != note:
                    self._emit(intent.note(note, now))
                continue
            self._place(intent, why, now, placement=placement)
        self._commit()

    def _relieve(self, span_id, step, now):
        """A congested span sheds load, lowest class first: step 1 squeezes excess rates to
        the committed ones, step 2 moves BULK intents off it, step 3 PRIORITY ones."""
        span = self.topology.spans[span_id]
        load = ' and '.join(
            f'{self.utilization[link][0]:.1f}' for link in span.links() if link in self.utilization
        )
        why = f'span {span_id} congested ({load} of {span.capacity_gbps:g} Gb/s measured)'
        on_span = [
            i
            for i in self.intents.values()
            if i.state in (State.INSTALLED, State.INSTALLING)
            and span_id in self._spans_used(i.id, backup=False)
        ]
        moving = {2: ServiceClass.BULK, 3: ServiceClass.PRIORITY}.get(step)
        for intent in self.planner.shed_order(on_span):
            if step == 1 and intent.excess_gbps and intent.id not in self.planner.squeezed:
                self.planner.squeezed.add(intent.id)
                self._resize(intent)
                self._emit(intent.note(f'excess squeezed to the committed rate: {why}', now))
            elif intent.service_class is moving:
                try:
                    placement = admission.compute(
                        self.topology, self.ledger, intent, {span_id}, self.peak, degrade=True
                    )
                except NoPath:
                    continue  # nowhere else: it stays, metered to its rate
                self.planner.moved(intent.id, now)
                self.planner.displaced.add(intent.id)
                self._place(intent, f'moved off: {why}', now, placement=placement)

    def _unsqueeze(self, now):
        """Give excess rates back once every link of the intent has room for them again."""
        congested = self.planner.congested(self.topology)
        for intent_id in sorted(self.planner.squeezed):
            intent, placement = self.intents.get(intent_id), self.placements.get(intent_id)
            if intent is None or placement is None:
                self.planner.squeezed.discard(intent_id)
                continue
            links = placement.primary.links
            room = all(
                self.topology.span_of(link).span_id not in congested
                and self.utilization.get(link, (0.0, 0))[0] + intent.excess_gbps
                <= self.planner.policy.congestion_ratio * self.topology.capacity_gbps(link)
                for link in links
            )
            if room:
                self.planner.squeezed.discard(intent_id)
                self._resize(intent)
                self._emit(intent.note('excess rate given back: its path has room again', now))

    def _resize(self, intent):
        """The intent's meters to the rate it is allowed now (squeezed or not)."""
        route = self.routes.get(intent.id)
        if route is not None:
            rate, burst = self._meter_size(intent)
            self._set_route(intent.id, replace(route, rate_kbps=rate, burst_kbits=burst))
            self.generation += 1

    def _victims(self, intent):
        """Lower-class intents whose bandwidth would let `intent` in, if the policy allows
        preemption: lowest class and newest first, only those on the links it would take,
        and no more than it needs. [] when preempting would not help."""
        lower = [
            i
            for i in self.intents.values()
            if i.id in self.placements and self.planner.may_preempt(intent, i)
        ]
        if not lower:
            return []
        saved = self.ledger.snapshot(), self.peak.snapshot()
        try:
            for victim in lower:
                admission.withdraw(self.ledger, victim.id, self.peak)
            placement = admission.compute(self.topology, self.ledger, intent, peak=self.peak)
            self.ledger.restore(saved[0])
            self.peak.restore(saved[1])
            links = set(admission.both_ways(placement.primary))
            if placement.backup is not None:
                links.update(admission.both_ways(placement.backup))
            victims = []
            for victim in self.planner.shed_order(lower) or lower:
                if not links & self._links_held(victim.id, self.ledger):
                    continue
                victims.append(victim)
                admission.withdraw(self.ledger, victim.id, self.peak)
                try:
                    admission.compute(self.topology, self.ledger, intent, peak=self.peak)
                    return victims
                except NoPath:
                    continue
            return []
        except NoPath:
            return []
        finally:
            self.ledger.restore(saved[0])
            self.peak.restore(saved[1])

    def _links_held(self, intent_id, book):
        links = set()
        for holder in admission.holders(intent_id):
            held = book.reservation(holder)
            if held:
                links.update(held[0])
        return links

    def _spans_used(self, intent_id, backup=True):
        placement = self.placements.get(intent_id)
        if placement is None:
            return set()
        if backup:
            return _spans_of(self.topology, placement)
        return set(placement.primary.span_ids(self.topology))

    def _place(self, intent, reason, now, keep=None, placement=None, over_bound=False):
        """(Re)place an intent: INSTALLING on its route, or FAILED with why; on `placement`
        if given (just computed on the ledgers as they are). Where the route the switches
        carry works, the ledgers keep its links that the new route does not use until the
        switches have flipped (admission.hold_old). A protected intent keeps `keep` as its
        primary if it can."""
        self._waiting.pop(intent.id, None)
        old = self.routes.get(intent.id)
        old_sites = old.sites if old else ()
        working = (
            old is not None
            and intent.state in (State.INSTALLED, State.INSTALLING)
            and all(self.topology.spans[s].up for s in self._spans_used(intent.id, backup=False))
        )
        before = admission.shares(intent.id, self.ledger, self.peak)
        if intent.state is not State.COMPILING:
            self._emit(intent.move_to(State.COMPILING, reason, now))
        try:
            placement = admission.admit(
                self.topology,
                self.ledger,
                intent,
                peak=self.peak,
                keep=keep,
                degrade=True,
                placement=placement,
                over_bound=over_bound,
            )
        except NoPath as e:
            self._unplace(intent)
            self._emit(intent.move_to(State.FAILED, f'{reason}: {e.reason}', now, old_sites))
            return False
        if working:
            admission.hold_old(intent.id, before)
        self.placements[intent.id] = placement
        reason += placement.for_now(intent)

        rate, burst = self._meter_size(intent)
        sites = placement.primary.sites
        backup = placement.backup.sites if placement.backup else ()
        if old is not None and (old.sites, old.backup) == (sites, backup):
            route = replace(old, rate_kbps=rate, burst_kbits=burst)
        else:
            route = flows.Route(
                intent.number,
                intent.tenant,
                sites,
                self._label(),
                self._label(),
                rate,
                burst,
                *_matches(intent),
                backup=backup,
                backup_labels=tuple(self._label() for _ in range(4)) if backup else (),
            )
        if route != old:
            self._set_route(intent.id, route)
            self.generation += 1
            self._installing[intent.id] = (self.generation, self._route_dpids(route))
        else:
            self._installing.setdefault(intent.id, (0, self._route_dpids(route)))
        moved = ' '.join(
            filter(None, [reason, f'(from {"->".join(old_sites)})' if old and old.sites != sites else ''])
        )
        self._emit(intent.move_to(State.INSTALLING, moved, now, old_sites, sites))
        self._settle(now, [intent.id])
        return True

    def _meter_size(self, intent):
        """(rate kb/s, burst kbit) of the intent's ingress meters, at the emulation's scale."""
        squeezed = intent.id in self.planner.squeezed
        gbps = intent.bandwidth_gbps + (0.0 if squeezed else intent.excess_gbps)
        rate = max(1, round(gbps * 1e6 * self.fabric.bandwidth_scale))
        return rate, max(MIN_BURST_KBITS, round(rate * self.burst_ms / 1000))

    def _release_old(self, intent_id):
        released = [book.release((intent_id, 'old')) for book in (self.ledger, self.peak)]
        if any(released):
            self.planner.capacity_freed()

    def _unplace(self, intent):
        self._waiting.pop(intent.id, None)
        self._release_old(intent.id)
        admission.withdraw(self.ledger, intent.id, self.peak)
        self.placements.pop(intent.id, None)
        self._installing.pop(intent.id, None)
        if self._set_route(intent.id, None) is not None:
            self.generation += 1
        self._dirty.add(intent.id)

    def _set_route(self, intent_id, route):
        """Set (or drop, with None) an intent's route, keeping the labels in use; returns the old."""
        old = self.routes.pop(intent_id, None)
        if old is not None:
            self._labels.difference_update(old.labels)
        if route is not None:
            self.routes[intent_id] = route
            self._labels.update(route.labels)
        return old

    def _label(self):
        for _ in range(flows.LAST_LABEL):
            label = self._next_label
            self._next_label = label + 1 if label < flows.LAST_LABEL else flows.FIRST_LABEL
            if label not in self._labels:
                self._labels.add(label)  # taken now: the route's other label must differ
                return label
        raise RuntimeError('no MPLS label left')

    def _refresh(self, now, reason):
        """Bring span states up to date; move what a down span broke, retry what failed."""
        went_down, came_up = [], []
        for span in self.fabric.spans:
            live = self._live(span)
            if self.topology.set_up(span.id, live):
                (came_up if live else went_down).append(span.id)
                self.planner.span_changed(span.id, live, now)
        for span_id in went_down:
            reason_span = f'span {span_id} down ({reason})'
            for intent in list(self.intents.values()):
                placement = self.placements.get(intent.id)
                if placement and span_id in _spans_of(self.topology, placement):
                    self.planner.displaced.add(intent.id)
                    # A slower path rather than none: it moves within its bound once one has room.
                    self._place(intent, reason_span, now, keep=self._survivor(placement), over_bound=True)
        if came_up:
            # Only what has nothing now; moving back onto the span waits until it is trusted.
            avoid = self.planner.untrusted_spans(self.topology, now)
            self._retry_failed(now, f'retried: span {", ".join(came_up)} up', avoid)
        self._commit()

    def _survivor(self, placement):
        """The path of a protected placement that is still whole (the switches carry the
        traffic there now), the primary first; None if neither is."""
        for path in (placement.primary, placement.backup):
            if path is not None and all(self.topology.span_of(l).up for l in path.links):
                return path
        return None

    def _retry_failed(self, now, reason, avoid=frozenset()):
        """Place FAILED intents again (in batch order); off the `avoid` spans if they can,
        but on them rather than nowhere."""
        for intent in self._batch(i for i in self.intents.values() if i.state is State.FAILED):
            self._place_again(intent, reason, now, avoid)

    def _place_again(self, intent, reason, now, avoid=frozenset()):
        """Place an intent that failed or was stopped half-way, moving others aside if it
        does not fit (it then waits for them), or FAILED with why."""
        for spans in dict.fromkeys([frozenset(avoid), frozenset()]):
            try:
                placement = admission.compute(
                    self.topology, self.ledger, intent, spans, self.peak, degrade=True
                )
                return self._place(intent, reason, now, placement=placement)
            except NoPath:
                pass
        moves = self._room_for(intent, degrade=True)
        if moves:
            return self._make_room(intent, moves, reason, now)
        return self._place(intent, reason, now)  # FAILED, with the reason

    def _batch(self, intents):
        return batch_order(intents, lambda i: self._physical_limits(i.src, i.dst)[2])

    def _room_for(self, intent, degrade=False):
        """Moves that would let a refused intent in (admission.make_room), or []."""

        def movable(intent_id):
            other = self.intents.get(intent_id)
            return other if other is not None and self.planner.may_move_for(intent, other) else None

        return admission.make_room(self.topology, self.ledger, intent, movable, self.peak, degrade)

    def _make_room(self, intent, moves, reason, now):
        """Start the moves (make-before-break each); the intent waits, COMPILING, until the
        moved intents are installed on their new paths and have left the old ones: then
        _settle places it."""
        spans = ', '.join(dict.fromkeys(s for move in moves for s in move.spans))
        for move in moves:
            self._place(
                move.intent,
                f'moved off span {", ".join(move.spans)} to make room for '
                f'intent {intent.id} ({intent.service_class.value}) of tenant '
                f'{intent.tenant}',
                now,
                placement=move.placement,
            )
        movers = ', '.join(move.intent.id for move in moves)
        waiting = f'{reason}: waiting for intent {movers} to move off span {spans} (make-before-break)'
        if intent.state is State.COMPILING:
            self._emit(intent.note(waiting, now))
        else:
            self._emit(intent.move_to(State.COMPILING, waiting, now))
        self._waiting[intent.id] = (
            {move.intent.id for move in moves},
            f'{reason}: room made by moving intent {movers}',
        )
        return True

    def _place_waiting(self, now):
        """Place the intents whose room is made: every intent moved for them has flipped."""
        for intent_id, (movers, reason) in list(self._waiting.items()):
            if not movers & self._installing.keys():
                self._place(self.intents[intent_id], reason, now)

    def _live(self, span):
        for site, peer in ((span.a, span.b), (span.b, span.a)):
            dpid = addr.dpid(self.fabric.sites[site])
            state = self._switch[dpid]
            if state is False or (state is None and self._grace_over):
                return False
            if self._port_up.get((dpid, addr.span_port(self.fabric, site, peer))) is False:
                return False
        return True

    def _settle(self, now, installing=None):
        """Move intents whose switches have confirmed: INSTALLING -> INSTALLED, WITHDRAWING
        -> WITHDRAWN (all of them, or only the `installing` ids given). A disconnected switch
        confirms nothing but blocks no withdrawal (it is reconciled when it comes back)."""
        for intent_id in list(self._installing if installing is None else installing):
            generation, dpids = self._installing[intent_id]
            if all(self._synced[d] >= generation for d in dpids):
                del self._installing[intent_id]
                intent = self.intents[intent_id]
                self._release_old(intent_id)
                if intent.state is State.INSTALLING:
                    route, placement = self.routes[intent_id], self.placements[intent_id]
                    self._emit(
                        intent.move_to(
                            State.INSTALLED,
                            f'installed on {"->".join(route.sites)}{placement.for_now(intent)}',
                            now,
                        )
                    )
        if installing is not None:
            return
        self._place_waiting(now)
        for intent_id, (generation, dpids) in list(self._withdrawing.items()):
            if all(self._synced[d] >= generation or self._switch[d] is False for d in dpids):
                del self._withdrawing[intent_id]
                intent = self.intents.pop(intent_id)
                self._by_pair[_pair(intent)].discard(intent_id)
                self._by_request.pop((intent.tenant, intent.request_id), None)
                self._emit(intent.move_to(State.WITHDRAWN, 'withdrawn from the switches', now))
                self._dirty.discard(intent_id)
                self._deleted.add(intent_id)

    def _route_dpids(self, route):
        if route is None:
            return ()
        return tuple(addr.dpid(self.fabric.sites[s]) for s in dict.fromkeys(route.sites + route.backup))

    # --- validation -------------------------------------------------------------------------

    def _order(
        self,
        tenant,
        src,
        dst,
        gbps,
        max_latency_ms,
        protection,
        service_class,
        description,
        labels,
        src_prefixes=(),
        dst_prefixes=(),
        excess_gbps=0.0,
    ):
        """A new Intent from a checked order (InvalidArgument naming the first bad field)."""
        tenant, src, dst = self._check_ends(tenant, src, dst)
        gbps = self._check_bandwidth(src, dst, gbps)
        return Intent(
            '',
            tenant,
            src,
            dst,
            gbps,
            self._check_latency(src, dst, max_latency_ms),
            _enum(Protection, protection, 'protection'),
            _enum(ServiceClass, service_class, 'service_class'),
            description=_check_text(description),
            labels=_check_labels(labels or {}),
            src_prefixes=self._check_prefixes(tenant, src, src_prefixes, 'src_prefixes'),
            dst_prefixes=self._check_prefixes(tenant, dst, dst_prefixes, 'dst_prefixes'),
            excess_gbps=self._check_excess(src, dst, gbps, excess_gbps),
        )

    def _check_prefixes(self, tenant, site, prefixes, field):
        """Canonical CIDRs, each within the tenant's subnet at the site, none overlapping."""
        subnet = ipaddress.IPv4Network(addr.site_subnet(self.fabric.tenants[tenant], self.fabric.sites[site]))
        if isinstance(prefixes, str) or len(prefixes) > MAX_PREFIXES:
            raise InvalidArgument(field, f'must be a list of at most {MAX_PREFIXES} prefixes')
        networks = []
        for text in prefixes:
            try:
                network = ipaddress.IPv4Network(text)
            except (ValueError, TypeError):
                raise InvalidArgument(
                    field,
                    f'{text!r} is not an IPv4 prefix such as {subnet.network_address}/25 '
                    '(with no host bits set)',
                ) from None
            if not network.subnet_of(subnet):
                raise InvalidArgument(
                    field, f"{network} is outside tenant {tenant}'s subnet at {site} ({subnet})"
                )
            clash = next((n for n in networks if n.overlaps(network)), None)
            if clash is not None:
                raise InvalidArgument(field, f'{network} overlaps {clash}')
            networks.append(network)
        return tuple(str(n) for n in networks)

    def _check_quota(self, tenant, more_gbps):
        left = self.quota_left_gbps(tenant)
        if more_gbps > left + 1e-9:
            raise QuotaExceeded(
                f'quota: tenant {tenant} may commit {self.quotas[tenant]:g} Gb/s in '
                f'all, {max(left, 0):g} Gb/s of it left; {more_gbps:g} Gb/s more '
                f'is over quota_gbps',
                max(left, 0.0),
            )

    def _check_ends(self, tenant, src, dst):
        t = self.fabric.tenants.get(tenant)
        if t is None:
            raise InvalidArgument('tenant', f'unknown tenant {tenant!r}')
        for field, site in (('src_site', src), ('dst_site', dst)):
            if site not in self.fabric.sites:
                raise InvalidArgument(field, f'unknown site {site!r}')
            if site not in t.sites:
                raise InvalidArgument(
                    field, f'tenant {tenant} has no port at site {site} (its sites: {", ".join(t.sites)})'
                )
        if src == dst:
            raise InvalidArgument('dst_site', f'must differ from src_site ({src})')
        return tenant, src, dst

    def _check_bandwidth(self, src, dst, gbps):
        gbps = _number(gbps, 'bandwidth_gbps', 'Gb/s')
        limit = self._physical_limits(src, dst)[0] * (1 - self.ledger.headroom)
        if gbps > limit + 1e-9:
            raise InvalidArgument(
                'bandwidth_gbps',
                f'{gbps:g} Gb/s is more than any path from {src} '
                f'to {dst} can carry ({limit:g} Gb/s after headroom)',
            )
        return gbps

    def _check_excess(self, src, dst, committed_gbps, excess_gbps):
        excess_gbps = _number(excess_gbps, 'excess_gbps', 'Gb/s', zero=True)
        widest = self._physical_limits(src, dst)[0]
        if committed_gbps + excess_gbps > widest + 1e-9:
            raise InvalidArgument(
                'excess_gbps',
                f'committed plus excess ({committed_gbps + excess_gbps:g} '
                f'Gb/s) is more than any path from {src} to {dst} '
                f'carries ({widest:g} Gb/s)',
            )
        return excess_gbps

    def _check_latency(self, src, dst, ms):
        if ms is None:
            return None
        ms = _number(ms, 'max_latency_ms', 'ms')
        floor = self._physical_limits(src, dst)[1]
        if ms < floor - 1e-9:
            raise InvalidArgument(
                'max_latency_ms',
                f'{ms:g} ms is below the physical minimum from {src} to {dst} ({floor:.3f} ms of fiber)',
            )
        return ms

    def _physical_limits(self, src, dst):
        """What the fabric could carry between two sites at best, on the fabric file's
        figures: the widest path's Gb/s (whole capacity), the lowest latency and the hops
        of that lowest-latency path."""
        if (src, dst) not in self._limits:
            fastest = lowest_latency_path(self._physical, src, dst)
            self._limits[(src, dst)] = (
                widest_gbps(self._physical, src, dst, self._physical.capacity_gbps),
                fastest and fastest.latency_ms(self._physical),
                fastest.hops if fastest else math.inf,
            )
        return self._limits[(src, dst)]

    def _add(self, intent):
        self.intents[intent.id] = intent
        self._by_pair.setdefault(_pair(intent), set()).add(intent.id)
        if intent.request_id:
            self._by_request[(intent.tenant, intent.request_id)] = intent.id

    def _known(self, dpid):
        if dpid not in self._dpids:
            raise ValueError(f'datapath {dpid} is not a site of fabric {self.fabric.name}')

    # --- events and persistence -------------------------------------------------------------

    def _emit(self, event):
        self._events.append(event)
        self._dirty.add(event.intent_id)

    def _commit(self):
        """Persist what changed, then tell the listeners (a crash in between loses no state)."""
        if self.store is not None and (self._dirty or self._deleted):
            records = [self._record(self.intents[i]) for i in sorted(self._dirty) if i in self.intents]
            self.store.save(records, sorted(self._deleted), self._meta())
        self._dirty, self._deleted = set(), set()
        events, self._events = self._events, []
        for event in events:
            for listener in list(self._listeners):
                listener(event)

    def _meta(self):
        return {'fabric': self.fabric.name, 'next_number': self._next_number, 'next_label': self._next_label}

    def _record(self, intent):
        placement, route = self.placements.get(intent.id), self.routes.get(intent.id)
        return {
            'id': intent.id,
            'number': intent.number,
            'tenant': intent.tenant,
            'src': intent.src,
            'dst': intent.dst,
            'bandwidth_gbps': intent.bandwidth_gbps,
            'excess_gbps': intent.excess_gbps,
            'max_latency_ms': intent.max_latency_ms,
            'protection': intent.protection.value,
            'service_class': intent.service_class.value,
            'description': intent.description,
            'user_labels': intent.labels,
            'request': [intent.request_id, intent.request_digest],
            'prefixes': [list(intent.src_prefixes), list(intent.dst_prefixes)],
            'state': intent.state.value,
            'reason': intent.reason,
            'created_at': intent.created_at,
            'updated_at': intent.updated_at,
            'primary': list(placement.primary.sites) if placement else None,
            'backup': list(placement.backup.sites) if placement and placement.backup else None,
            'labels': list(route.labels) if route else None,
        }

    def _restore(self, loaded, now):
        meta, records = loaded
        if meta and meta.get('fabric') != self.fabric.name:
            raise ValueError(
                f'the store holds intents of fabric {meta.get("fabric")!r}, not {self.fabric.name!r}'
            )
        self._next_number = meta.get('next_number', 1) if meta else 1
        self._next_label = meta.get('next_label', flows.FIRST_LABEL) if meta else flows.FIRST_LABEL
        reservations, peaks, retry = [], [], []
        for r in sorted(records, key=lambda r: r['number']):
            intent = Intent(
                r['id'],
                r['tenant'],
                r['src'],
                r['dst'],
                r['bandwidth_gbps'],
                r['max_latency_ms'],
                Protection(r['protection']),
                ServiceClass(r['service_class']),
                State(r['state']),
                r['reason'],
                r['created_at'],
                r['updated_at'],
                r['number'],
                r['description'],
                labels=r['user_labels'],
                request_id=r['request'][0],
                request_digest=r['request'][1],
                src_prefixes=tuple(r['prefixes'][0]),
                dst_prefixes=tuple(r['prefixes'][1]),
                excess_gbps=r['excess_gbps'],
            )
            self._add(intent)
            if r['primary'] and intent.state in (State.INSTALLED, State.INSTALLING):
                primary = _path(r['primary'])
                backup = _path(r['backup']) if r['backup'] else None
                self.placements[intent.id] = admission.Placement(primary, backup)
                for role, path in (('primary', primary), ('backup', backup)):
                    if path is not None:
                        reservations.append(
                            {
                                'holder': [intent.id, role],
                                'links': [[l.src, l.dst] for l in admission.both_ways(path)],
                                'gbps': intent.bandwidth_gbps,
                            }
                        )
                        peaks.append(dict(reservations[-1], gbps=intent.bandwidth_gbps + intent.excess_gbps))
                labels = r['labels']
                protected = backup is not None and len(labels) == 6
                self._set_route(
                    intent.id,
                    flows.Route(
                        intent.number,
                        intent.tenant,
                        primary.sites,
                        *labels[:2],
                        *self._meter_size(intent),
                        *_matches(intent),
                        backup=backup.sites if protected else (),
                        backup_labels=tuple(labels[2:]),
                    ),
                )
                if backup is not None and not protected:
                    retry.append(intent)  # stored before backups were installed: install it
                elif intent.state is State.INSTALLING:
                    self._installing[intent.id] = (1, self._route_dpids(self.routes[intent.id]))
            elif intent.state is State.WITHDRAWING:
                self._withdrawing[intent.id] = (1, tuple(self._dpids))
            elif intent.state is not State.FAILED:
                retry.append(intent)  # stopped half-way through placing
        self.ledger.restore(reservations)
        self.peak.restore(peaks)
        self.generation = 1
        for intent in self._batch(retry):
            self._place_again(intent, 'placing again after a restart', now)
        self._commit()

    # --- measurement: raw facts from the southbound shim (helper block) ---
    # Stamps (`*_ns`) are the shim's monotonic clock; `now` is the runtime's. What is measured
    # feeds delay_measured and utilization_measured; the notices returned are for the shim to
    # log as warnings.

    def echo_sent(self, dpid, xid, stamp_ns):
        self.measurement.echo_sent(dpid, xid, stamp_ns)

    def echo_replied(self, dpid, xid, stamp_ns):
        self.measurement.echo_replied(dpid, xid, stamp_ns)

    def loop_returned(self, dpid, sent_ns, received_ns):
        self.measurement.loop_returned(dpid, sent_ns, received_ns)

    def programming(self, dpid, start_ns, end_ns):
        self.measurement.programming(dpid, start_ns, end_ns)

    def probe_received(self, dpid, in_port, sender_dpid, sender_port, sent_ns, received_ns, now):
        """An LLDP probe came in; returns notices."""
        estimate, notices = self.measurement.probe_received(
            dpid, in_port, sender_dpid, sender_port, sent_ns, received_ns
        )
        if estimate is not None:
            self.delay_measured(*estimate, now)
        return notices

    def port_counters(self, dpid, port_no, tx_bytes, stamp_ns, now):
        load = self.measurement.port_counters(dpid, port_no, tx_bytes, stamp_ns)
        if load is not None:
            self.utilization_measured(*load, now)

    def discovery_notices(self, connected_ns, stamp_ns):
        """Notices for spans LLDP has not crossed; `connected_ns` is {dpid: connected at}."""
        return self.measurement.discovery(connected_ns, stamp_ns, self.span_up)

    # --- end of measurement block ---


def _order_args(order):
    """create()'s arguments (its defaults, then the order's) for _admissible from one order
    of create_many (a dict)."""
    if not isinstance(order, dict):
        raise InvalidArgument('', 'must be an order (tenant, src, dst, bandwidth_gbps, ...)')
    fields = {
        name: p.default
        for name, p in inspect.signature(Controller.create).parameters.items()
        if name not in ('self', 'now')
    }
    unknown = sorted(set(order) - set(fields))
    if unknown:
        raise InvalidArgument(unknown[0], 'is not a field of an order')
    missing = [
        name for name, default in fields.items() if default is inspect.Parameter.empty and name not in order
    ]
    if missing:
        raise InvalidArgument(missing[0], 'required')
    return {**fields, **order}


def _in_order(i, error):
    """The error of the i-th order of a batch, naming it."""
    if isinstance(error, InvalidArgument):
        return InvalidArgument(f'orders[{i}]' + (f'.{error.field}' if error.field else ''), error.message)
    return type(error)(f'orders[{i}]: {error}')


def _pair(intent):
    return intent.tenant, frozenset((intent.src, intent.dst))


def _spans_of(topology, placement):
    spans = set(placement.primary.span_ids(topology))
    if placement.backup is not None:
        spans.update(placement.backup.span_ids(topology))
    return spans


def _path(sites):
    return Path(tuple(Link(a, b) for a, b in itertools.pairwise(sites)))


def _enum(kind, value, field):
    try:
        return kind(value.value if isinstance(value, kind) else value)
    except ValueError:
        raise InvalidArgument(
            field, f'must be one of {", ".join(k.value for k in kind)}, got {value!r}'
        ) from None


def _matches(intent):
    """The intent's prefixes as flow matches: (src, dst) tuples of (address, netmask)."""
    return tuple(
        tuple(map(flows.prefix_match, prefixes)) for prefixes in (intent.src_prefixes, intent.dst_prefixes)
    )


def _number(value, field, unit, zero=False):
    """A finite number > 0 (>= 0 with `zero`) as a float, or InvalidArgument naming the field."""
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not zero)
    ):
        raise InvalidArgument(field, f'must be a number {">=" if zero else ">"} 0 {unit}, got {value!r}')
    return float(value)


def _check_labels(labels):
    if not isinstance(labels, dict) or len(labels) > MAX_LABELS:
        raise InvalidArgument('labels', f'must be at most {MAX_LABELS} key: value pairs')
    for key, value in labels.items():
        if not isinstance(key, str) or not LABEL_KEY.fullmatch(key):
            raise InvalidArgument(
                'labels',
                f"key {key!r} must be 1-63 lower-case letters, digits, '-' or '_', starting with a letter",
            )
        if not isinstance(value, str) or len(value) > 63:
            raise InvalidArgument('labels', f'value of {key!r} must be text of at most 63 characters')
    return dict(labels)


def _check_request_id(request_id):
    if not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id):
        raise InvalidArgument(
            'request_id', f"{request_id!r} must be 1-64 letters, digits, '.', '_', ':' or '-'"
        )
    return request_id


def _digest(intent):
    """A digest of an intent's order, to tell a retry from another order with the same key."""
    order = [
        intent.tenant,
        intent.src,
        intent.dst,
        intent.bandwidth_gbps,
        intent.max_latency_ms,
        intent.protection.value,
        intent.service_class.value,
        intent.description,
        intent.labels,
        intent.src_prefixes,
        intent.dst_prefixes,
        intent.excess_gbps,
    ]
    return hashlib.sha256(json.dumps(order, sort_keys=True).encode()).hexdigest()[:32]


def _check_text(text):
    if not isinstance(text, str) or len(text) > MAX_DESCRIPTION:
        raise InvalidArgument('description', f'must be text of at most {MAX_DESCRIPTION} characters')
    return text


def _show(value):
    return value.value if hasattr(value, 'value') else f'{value:g}' if isinstance(value, float) else value
