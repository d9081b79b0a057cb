"""IntentService: protobuf requests to core calls, under the runtime's lock, and back."""

import base64
import binascii
import json
import logging
import queue
import re

import grpc

from controller.core.errors import InvalidArgument, QuotaExceeded, Unplaceable
from controller.northbound import convert
from controller.northbound.rpc import rpc
from naas.v1 import intent_service_pb2 as pb
from naas.v1 import intent_service_pb2_grpc

LOG = logging.getLogger('naas.northbound')
INTENT_ID = re.compile(r'i-[1-9][0-9]{0,17}')
PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000
MAX_ORDERS = 1000  # per CreateIntents: its answer (~400 bytes an intent) must fit 4 MB
WATCH_BACKLOG = 10000  # events a slow watcher may fall behind before it is cut off
UPDATABLE = (
    'bandwidth_gbps',
    'excess_gbps',
    'max_latency_ms',
    'protection',
    'service_class',
    'description',
    'labels',
)


class IntentService(intent_service_pb2_grpc.IntentServiceServicer):
    def __init__(self, runtime, auth):
        self.runtime, self.auth = runtime, auth

    @rpc
    def CreateIntent(self, request, context, caller):
        order = _order(request.intent, caller, context)

        def create(core, now):
            return convert.intent_message(core, core.create(**order, now=now, request_id=request.request_id))

        intent = self.runtime.call(create)
        LOG.info(
            '%s created %s (%s) %s->%s %g Gb/s',
            caller.name,
            intent.id,
            intent.tenant,
            intent.src_site,
            intent.dst_site,
            intent.bandwidth_gbps,
        )
        return pb.CreateIntentResponse(intent=intent)

    @rpc
    def CreateIntents(self, request, context, caller):
        if len(request.orders) > MAX_ORDERS:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f'orders: at most {MAX_ORDERS} per call, got {len(request.orders)}: split the matrix',
            )
        orders = [
            dict(_order(o.intent, caller, context, f'orders[{i}].'), request_id=o.request_id)
            for i, o in enumerate(request.orders)
        ]

        # The joint placement takes seconds for a big batch: computed off the runtime's lock
        # (the controller keeps handling the network meanwhile), on a copy of its state.
        pack = self.runtime.call(lambda core, now: core.packer(orders))
        packed = pack()
        results = self.runtime.call(
            lambda core, now: [
                _result(core, outcome) for outcome in core.create_many(orders, now=now, packed=packed)
            ]
        )
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
        return pb.GetIntentResponse(
            intent=self.runtime.call(
                lambda core, now: convert.intent_message(core, core.get(intent_id, caller.tenant))
            )
        )

    @rpc
    def ListIntents(self, request, context, caller):
        tenant = _tenant_filter(request.tenant, caller, context)
        if request.page_size < 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, 'page_size: must be >= 0')
        size = min(request.page_size or PAGE_SIZE, MAX_PAGE_SIZE)
        state = convert.core_state(request.state)
        query = [tenant, request.state, request.site]
        after = _page_start(request.page_token, query, context)

        def page(core, now):
            matching = [i for i in core.list(tenant, state, request.site or None) if i.number > after]
            return (
                [convert.intent_message(core, i) for i in matching[:size]],
                matching[size - 1].number if len(matching) > size else None,
            )

        intents, last = self.runtime.call(page)
        return pb.ListIntentsResponse(
            intents=intents, next_page_token='' if last is None else _page_token(last, query)
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
                    f'update_mask: {path!r} cannot be changed (only {", ".join(UPDATABLE)})',
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
        intent = self.runtime.call(
            lambda core, now: convert.intent_message(
                core, core.update(intent_id, now=now, tenant=caller.tenant, **changes)
            )
        )
        LOG.info('%s updated %s: %s', caller.name, intent_id, ', '.join(paths))
        return pb.UpdateIntentResponse(intent=intent)

    @rpc
    def DeleteIntent(self, request, context, caller):
        intent_id = _intent_id(request.id, context)
        intent = self.runtime.call(
            lambda core, now: convert.intent_message(
                core, core.delete(intent_id, now=now, tenant=caller.tenant)
            )
        )
        LOG.info('%s deleted %s', caller.name, intent_id)
        return pb.DeleteIntentResponse(intent=intent)

    @rpc
    def WatchIntents(self, request, context, caller):
        tenant = _tenant_filter(request.tenant, caller, context)
        intent_id = _intent_id(request.intent_id, context) if request.intent_id else None
        events, behind = queue.Queue(WATCH_BACKLOG), []

        def wanted(event):
            return (tenant is None or event.tenant == tenant) and intent_id in (None, event.intent_id)

        def listener(event):  # called under the runtime's lock: never block
            if wanted(event):
                try:
                    events.put_nowait(event)
                except queue.Full:
                    behind.append(True)

        def subscribe(core, now):
            if intent_id is not None:
                core.get(intent_id, caller.tenant)  # NOT_FOUND rather than silence
            current = [
                convert.current_event(core, i, now)
                for i in core.list(tenant)
                if request.include_current and intent_id in (None, i.id)
            ]
            return core.subscribe(listener), current

        unsubscribe, current = self.runtime.call(subscribe)
        context.add_callback(lambda: events.put(None))  # wake up when the client goes
        context.send_initial_metadata(())  # tells the client it is subscribed: nothing is missed
        try:
            for event in current:
                yield pb.WatchIntentsResponse(event=event)
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
            self.runtime.call(lambda core, now: unsubscribe())

    @rpc
    def CheckIntent(self, request, context, caller):
        order = _order(request.intent, caller, context)

        def check(core, now):
            answer = pb.CheckIntentResponse()
            try:
                placement = core.check(**order)
            except QuotaExceeded as e:
                answer.reason, answer.quota_left_gbps = str(e), e.left_gbps
                return answer
            except Unplaceable as e:
                return pb.CheckIntentResponse(reason=str(e), **_what_would_fit(e))
            answer.admissible = True
            answer.path.extend(placement.primary.sites)
            if placement.backup is not None:
                answer.backup_path.extend(placement.backup.sites)
            answer.latency_ms = placement.latency_ms(core.topology)
            return answer

        return self.runtime.call(check)


def _order(intent, caller, context, where=''):
    """The core's create() arguments from an Intent message (output-only fields ignored).
    Errors name the field as the core's do (`protection`), but the tenant as the request
    holds it (`intent.tenant`: the token decides it); `where` prefixes both (`orders[2].`)."""
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
        protection = convert.core_protection(intent.protection)
        service_class = convert.core_class(intent.service_class)
    except InvalidArgument as e:
        raise InvalidArgument(f'{where}{e.field}', e.message) from None
    return dict(
        tenant=tenant,
        src=intent.src_site,
        dst=intent.dst_site,
        bandwidth_gbps=intent.bandwidth_gbps,
        excess_gbps=intent.excess_gbps,
        max_latency_ms=intent.max_latency_ms or None,
        protection=protection,
        service_class=service_class,
        description=intent.description,
        labels=dict(intent.labels),
        src_prefixes=tuple(intent.src_prefixes),
        dst_prefixes=tuple(intent.dst_prefixes),
    )


def _result(core, outcome):
    """One order's CreateIntentsResult: the Intent admitted, or why not and what would fit."""
    if isinstance(outcome, Unplaceable):
        return pb.CreateIntentsResult(
            code=convert.status_of(outcome).name, reason=str(outcome), **_what_would_fit(outcome)
        )
    return pb.CreateIntentsResult(intent=convert.intent_message(core, outcome))


def _what_would_fit(unplaceable):
    """CheckIntentResponse's and CreateIntentsResult's figures of a refusal (0: none)."""
    return dict(
        max_bandwidth_gbps=unplaceable.no_path.widest_within_bound_gbps or 0.0,
        min_latency_ms=unplaceable.no_path.min_latency_ms or 0.0,
    )


def _intent_id(value, context):
    if not INTENT_ID.fullmatch(value):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f'id: {value!r} is not an intent id (i-<number>)')
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


def _page_token(after, query):
    raw = json.dumps({'after': after, 'query': query}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip('=')


def _page_start(token, query, context):
    """The intent number a page token resumes after (0 without a token)."""
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token + '=' * (-len(token) % 4)))
        after, same = int(data['after']), data['query'] == query
    except (ValueError, KeyError, TypeError, binascii.Error):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, 'page_token: not a token this server gave')
    if not same:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            'page_token: was given for other filters; list again from the first page',
        )
    return after
