"""IntentService: protobuf requests to Orders and core calls under the runtime's lock, the views
they return back to protobuf after it; reads (Get, List, Watch) from the read model (reads.py),
without the lock."""

import logging
import queue
import re
import threading
import time

import grpc

from controller.core.errors import InvalidArgument, QuotaExceeded, Unplaceable, shown
from controller.core.orders import UPDATABLE
from controller.core.telemetry import DEFAULT_WINDOW_S, HISTORY_S
from controller.northbound import convert
from controller.northbound.pages import PageTokens
from controller.northbound.rpc import rpc
from naas.v1 import intent_service_pb2 as pb
from naas.v1 import intent_service_pb2_grpc

LOG = logging.getLogger('naas.northbound')
INTENT_ID = re.compile(r'i-[1-9][0-9]{0,17}')
PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000
MAX_ORDERS = 1000  # per CreateIntents: its answer (~400 bytes an intent) must fit 4 MB
WATCH_BACKLOG = 10000  # events a slow watcher may fall behind before it is cut off
STATS_WINDOW_S = (1.0, HISTORY_S)  # an SLA report's window, at least and at most
STATS_INTERVAL_S = (0.1, 60.0)  # between two messages of WatchIntentStats


class IntentService(intent_service_pb2_grpc.IntentServiceServicer):
    def __init__(self, runtime, auth, reads, metrics):
        self.runtime, self.auth, self.reads, self.metrics = runtime, auth, reads, metrics
        self.pages = PageTokens()

    @rpc
    def CreateIntent(self, request, context, caller):
        order = _order(request.intent, request.request_id, caller, context)
        view = self.runtime.call(
            self.metrics.placing('create', lambda core, now: core.view(core.create(order, now=now).id))
        )
        LOG.info(
            '%s created %s (%s) %s->%s %g Gb/s',
            caller.name,
            view.id,
            view.tenant,
            view.src,
            view.dst,
            view.bandwidth_gbps,
        )
        return pb.CreateIntentResponse(intent=convert.intent_message(view))

    @rpc
    def CreateIntents(self, request, context, caller):
        if len(request.orders) > MAX_ORDERS:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f'orders: at most {MAX_ORDERS} per call, got {len(request.orders)}: split the matrix',
            )
        orders = [
            _order(o.intent, o.request_id, caller, context, f'orders[{i}].')
            for i, o in enumerate(request.orders)
        ]
        # The joint placement takes seconds for a big batch: computed off the runtime's lock
        # (the controller keeps handling the network meanwhile), on a copy of its state.
        pack = self.runtime.call(lambda core, now: core.packer(orders))
        started = time.perf_counter()
        packed = pack()
        packing_s = time.perf_counter() - started
        outcomes = self.runtime.call(
            self.metrics.placing(
                'create_many',
                lambda core, now: [
                    outcome if isinstance(outcome, Unplaceable) else core.view(outcome.id)
                    for outcome in core.create_many(orders, now=now, packed=packed)
                ],
                off_lock_s=packing_s,
            )
        )
        results = [_result(outcome) for outcome in outcomes]
        refused = sum(1 for r in results if r.code)
        LOG.info(
            '%s ordered %d intents together: %d admitted, %d refused',
            caller.name,
            len(results),
            len(results) - refused,
            refused,
        )
        return pb.CreateIntentsResponse(results=results)

    @rpc
    def GetIntent(self, request, context, caller):
        intent_id = _intent_id(request.id, context)
        view = self.reads.get(intent_id, caller.tenant)
        return pb.GetIntentResponse(intent=convert.intent_message(view))

    @rpc
    def ListIntents(self, request, context, caller):
        tenant = _tenant_filter(request.tenant, caller, context)
        if request.page_size < 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, 'page_size: must be >= 0')
        size = min(request.page_size or PAGE_SIZE, MAX_PAGE_SIZE)
        state = convert.core_state(request.state)
        query = [tenant, request.state, request.site]
        after = self.pages.start(request.page_token, query)
        views, last = self.reads.page(tenant, state, request.site or None, after, size)
        return pb.ListIntentsResponse(
            intents=[convert.intent_message(v) for v in views],
            next_page_token='' if last is None else self.pages.token(last, query),
        )

    @rpc
    def UpdateIntent(self, request, context, caller):
        intent_id = _intent_id(request.intent.id, context)
        paths = list(request.update_mask.paths)
        if not paths:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f'update_mask: name the fields to change (any of {", ".join(UPDATABLE)})',
            )
        for path in paths:
            if path not in UPDATABLE:
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f'update_mask: {shown(path)} cannot be changed (only {", ".join(UPDATABLE)})',
                )
        new = request.intent
        changes = {}
        if 'bandwidth_gbps' in paths:
            changes['bandwidth_gbps'] = new.bandwidth_gbps
        if 'excess_gbps' in paths:
            changes['excess_gbps'] = new.excess_gbps
        if 'max_latency_ms' in paths:
            changes['max_latency_ms'] = new.max_latency_ms or None
        if 'protection' in paths:
            changes['protection'] = _required_enum(
                convert.core_protection(new.protection, None), 'protection', context
            )
        if 'service_class' in paths:
            changes['service_class'] = _required_enum(
                convert.core_class(new.service_class, None), 'service_class', context
            )
        if 'description' in paths:
            changes['description'] = new.description
        if 'labels' in paths:
            changes['labels'] = dict(new.labels)
        view = self.runtime.call(
            self.metrics.placing(
                'update',
                lambda core, now: core.view(
                    core.update(intent_id, now=now, tenant=caller.tenant, **changes).id
                ),
            )
        )
        LOG.info('%s updated %s: %s', caller.name, intent_id, ', '.join(paths))
        return pb.UpdateIntentResponse(intent=convert.intent_message(view))

    @rpc
    def DeleteIntent(self, request, context, caller):
        intent_id = _intent_id(request.id, context)
        view = self.runtime.call(
            lambda core, now: core.view(core.delete(intent_id, now=now, tenant=caller.tenant).id)
        )
        LOG.info('%s deleted %s', caller.name, intent_id)
        return pb.DeleteIntentResponse(intent=convert.intent_message(view))

    @rpc
    def WatchIntents(self, request, context, caller):
        tenant = _tenant_filter(request.tenant, caller, context)
        intent_id = _intent_id(request.intent_id, context) if request.intent_id else None
        events, behind = queue.Queue(WATCH_BACKLOG), []

        def wanted(event):
            return (tenant is None or event.tenant == tenant) and intent_id in (None, event.intent_id)

        def listener(event):  # called under the read model's lock: never block
            if wanted(event):
                try:
                    events.put_nowait(event)
                except queue.Full:
                    behind.append(True)

        if intent_id is not None:
            self.reads.get(intent_id, caller.tenant)  # NOT_FOUND rather than silence
        current, unsubscribe = self.reads.watch(
            listener, tenant, intent_id, request.include_current, self.runtime.clock()
        )
        context.add_callback(lambda: events.put(None))  # wake up when the client goes
        context.send_initial_metadata(())  # tells the client it is subscribed: nothing is missed
        try:
            for event in current:
                yield pb.WatchIntentsResponse(event=convert.event_message(event))
            while context.is_active():
                try:
                    event = events.get(timeout=1.0)
                except queue.Empty:
                    continue
                if behind:
                    context.abort(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f'watcher fell more than {WATCH_BACKLOG} events behind: watch again',
                    )
                if event is None:
                    break
                yield pb.WatchIntentsResponse(event=convert.event_message(event))
        finally:
            unsubscribe()

    @rpc
    def CheckIntent(self, request, context, caller):
        order = _order(request.intent, '', caller, context)

        def check(core, now):
            try:
                return core.check(order)
            except (QuotaExceeded, Unplaceable) as refused:
                return refused

        answer = self.runtime.call(check)
        if isinstance(answer, QuotaExceeded):
            return pb.CheckIntentResponse(reason=str(answer), quota_left_gbps=answer.left_gbps)
        if isinstance(answer, Unplaceable):
            return pb.CheckIntentResponse(reason=str(answer), **_what_would_fit(answer))
        return pb.CheckIntentResponse(
            admissible=True, path=answer.path, backup_path=answer.backup_path, latency_ms=answer.latency_ms
        )

    @rpc
    def GetIntentStats(self, request, context, caller):
        intent_id = _intent_id(request.id, context)
        window = _seconds(request, 'window', DEFAULT_WINDOW_S, STATS_WINDOW_S, context)
        view = self.runtime.call(lambda core, now: core.stats(intent_id, now, window, caller.tenant))
        return pb.GetIntentStatsResponse(stats=convert.stats_message(view))

    @rpc
    def WatchIntentStats(self, request, context, caller):
        """A message at once, then every interval; NOT_FOUND once the intent is gone."""
        intent_id = _intent_id(request.id, context)
        window = _seconds(request, 'window', DEFAULT_WINDOW_S, STATS_WINDOW_S, context)
        interval = _seconds(request, 'interval', 1.0, STATS_INTERVAL_S, context)
        gone = threading.Event()
        context.add_callback(gone.set)  # wake up when the client goes
        while True:  # the lock only while the figures are read, never while waiting
            view = self.runtime.call(lambda core, now: core.stats(intent_id, now, window, caller.tenant))
            yield pb.WatchIntentStatsResponse(stats=convert.stats_message(view))
            if gone.wait(interval) or not context.is_active():
                return


def _seconds(request, field, default, bounds, context):
    """A Duration field in seconds (`default` when unset), INVALID_ARGUMENT out of `bounds`."""
    if not request.HasField(field):
        return default
    value = getattr(request, field)
    seconds = value.seconds + value.nanos / 1e9
    low, high = bounds
    if not low <= seconds <= high:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT, f'{field}: must be {low:g} s to {high:g} s, got {seconds:g} s'
        )
    return seconds


def _order(intent, request_id, caller, context, where=''):
    """The Order an Intent message asks for (output-only fields ignored). Errors name the
    field as the core's do (`protection`), but the tenant as the request holds it
    (`intent.tenant`: the token decides it); `where` prefixes both (`orders[2].`)."""
    if caller.operator:
        if not intent.tenant:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f'{where}intent.tenant: required with an operator token'
            )
        tenant = intent.tenant
    else:
        if intent.tenant not in ('', caller.tenant):
            context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{where}intent.tenant: the token is tenant {caller.tenant}'s, not {intent.tenant}'s",
            )
        tenant = caller.tenant
    try:
        return convert.order_of(intent, tenant, request_id)
    except InvalidArgument as e:
        raise InvalidArgument(f'{where}{e.field}', e.message) from None


def _result(outcome):
    """One order's CreateIntentsResult: the Intent admitted, or why not and what would fit."""
    if isinstance(outcome, Unplaceable):
        return pb.CreateIntentsResult(
            code=convert.status_of(outcome).name, reason=str(outcome), **_what_would_fit(outcome)
        )
    return pb.CreateIntentsResult(intent=convert.intent_message(outcome))


def _what_would_fit(unplaceable):
    """CheckIntentResponse's and CreateIntentsResult's figures of a refusal (0: none)."""
    return dict(
        max_bandwidth_gbps=unplaceable.no_path.widest_within_bound_gbps or 0.0,
        min_latency_ms=unplaceable.no_path.min_latency_ms or 0.0,
    )


def _intent_id(value, context):
    if not INTENT_ID.fullmatch(value):
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT, f'id: {shown(value)} is not an intent id (i-<number>)'
        )
    return value


def _tenant_filter(tenant, caller, context):
    if caller.operator:
        return tenant or None
    if tenant not in ('', caller.tenant):
        context.abort(
            grpc.StatusCode.PERMISSION_DENIED,
            f"tenant: the token is tenant {caller.tenant}'s, not {tenant}'s",
        )
    return caller.tenant


def _required_enum(value, field, context):
    if value is None:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f'intent.{field}: must be set when in update_mask')
    return value
