"""A Python client for the naas.v1 API: intents, topology and health, over gRPC.

    with Client('127.0.0.1:50051', token=token) as naas:
        intent = naas.create_intent(Order('', 'phx1', 'iad1', 10, max_latency_ms=25))
        intent = naas.create_intent('phx1', 'iad1', 10, max_latency_ms=25, protected=True)  # short
        intent = naas.wait_for_state(intent.id)            # INSTALLED, or ApiError if it FAILED

Several controller replicas (docs/ha.md): Client('a:50051,b:50051,c:50051'), or a list; writes
find the leader, reads any replica, for up to failover_s (see Client).

An order is a topologies.model.order.Order (its tenant '' with a tenant's token: the token says
who it is), as orders files and scenario files are read; make_order builds one from the
client's keywords.

Methods return the protobuf messages (Intent, Topology, ...), not the Response wrappers;
a refused call raises ApiError with the gRPC status code and the server's message.
"""

import re
import threading
import time
import uuid
from pathlib import Path

import grpc
from google.protobuf import duration_pb2, field_mask_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from naas.v1 import intent_pb2, intent_service_pb2_grpc, topology_service_pb2, topology_service_pb2_grpc
from naas.v1 import intent_service_pb2 as service
from topologies.model.order import Order
from topologies.model.order import Protection as OrderProtection
from topologies.model.order import ServiceClass as OrderClass

LEADER_KEY = 'naas-leader'  # trailing metadata of a follower's refusal: the leader's address
FAILOVER_PAUSE_S = 0.1  # after trying every server in turn

# The API's enums, for enum_value and enum_name (an Order holds the model's: topologies.model.order).
IntentState = intent_pb2.IntentState
ServiceClass = intent_pb2.ServiceClass
Protection = intent_pb2.Protection


class ApiError(Exception):
    """A call the server refused or could not take: str() is 'NOT_FOUND: intent i-9 not found'."""

    def __init__(self, code, message):
        super().__init__(f'{code.name}: {message}')
        self.code = code
        self.message = message

    @classmethod
    def from_rpc(cls, error):
        return cls(error.code() or grpc.StatusCode.UNKNOWN, error.details() or '')


def enum_value(enum, value):
    """An enum number from 'installed', 'INSTALLED', 'INTENT_STATE_INSTALLED' or the number."""
    prefix = _enum_prefix(enum)
    if isinstance(value, int):
        enum.Name(value)  # ValueError when no such number
        return value
    name = str(value).strip().upper()
    try:
        return enum.Value(name if name.startswith(prefix) else prefix + name)
    except ValueError:
        what = re.sub(r'(?<!^)([A-Z])', r' \1', enum.DESCRIPTOR.name).lower()  # 'intent state'
        choices = ', '.join(enum_names(enum))
        raise ValueError(f'{value!r}: not a valid {what}; expected one of {choices}') from None


def enum_name(enum, number):
    """The name without its prefix, as people read it: IntentState 4 -> 'INSTALLED'."""
    return enum.Name(number).removeprefix(_enum_prefix(enum))


def enum_names(enum):
    """The names people may give, without prefix and UNSPECIFIED: 'ACCEPTED', 'COMPILING', ..."""
    return [enum_name(enum, n) for n in enum.values() if n != 0]


def _enum_prefix(enum):
    # Every enum's zero value is <PREFIX>UNSPECIFIED (STYLE.md).
    return enum.Name(0).removesuffix('UNSPECIFIED')


class Stream:
    """The messages of a server stream, as an iterator; cancel() ends it quietly (any thread)."""

    def __init__(self, call, unwrap):
        self._call = call
        self._unwrap = unwrap
        self._cancelled = False

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return self._unwrap(next(self._call))
        except grpc.RpcError as e:
            if self._cancelled and e.code() == grpc.StatusCode.CANCELLED:
                raise StopIteration from None
            raise ApiError.from_rpc(e) from e

    def cancel(self):
        self._cancelled = True
        self._call.cancel()

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.cancel()


# With several replicas, one that hangs (paused, its machine cut off) must not hold a call for
# its whole timeout: a connection whose pings go unanswered for a second is closed and a
# connection attempt given up after a second, so the call fails UNAVAILABLE and goes on to
# the next replica. The servers accept pings that often (controller/northbound/server.py).
REPLICA_CHANNEL = (
    ('grpc.keepalive_time_ms', 1000),
    ('grpc.keepalive_timeout_ms', 1000),
    ('grpc.keepalive_permit_without_calls', 1),
    ('grpc.http2.max_pings_without_data', 0),
    ('grpc.http2.min_time_between_pings_ms', 1000),
    ('grpc.http2.ping_timeout_ms', 1000),
    ('grpc.min_reconnect_backoff_ms', 1000),
)


class Client:
    """Channels to the controller; TLS when ca_cert (a PEM CA certificate's path) is given.

    `server`: one address, or every replica's (a list, or 'a:50051,b:50051'; docs/ha.md).
    Calls go to the current server, the first at the start. A call refused UNAVAILABLE with
    the leader's address in the trailing metadata `naas-leader` (a follower refusing a write:
    CreateIntent(s), UpdateIntent, DeleteIntent, CheckIntent) goes there at once, and the
    leader becomes the current server. With several servers, any other UNAVAILABLE (a replica
    down, no leader yet) goes on to the next server, pausing 0.1 s after each round of them,
    until `failover_s` has passed: then ApiError UNAVAILABLE with the last message. Reads
    (GetIntent, ListIntents, GetTopology, health) go the same way: any replica serves them.
    With one server only a named leader is followed; a server down is an ApiError at once.
    A replica that hangs is found by pings (REPLICA_CHANNEL): its call fails UNAVAILABLE after
    about 2 s and goes on as above. No other code is retried, DEADLINE_EXCEEDED neither.

    Retries are safe. A create carries a request id, the order's or else a fresh one
    ('naasctl-' and a uuid4) made before the first attempt, so that every attempt carries the
    same: one retried after a connection lost mid-call gets the intent the first attempt made,
    not a second (the server keeps the id as long as the intent). An update sets the same
    values again and answers with the intent. A delete of an intent already WITHDRAWING answers
    with it again; of one already WITHDRAWN (gone), NOT_FOUND.

    Streams (watch_intents, watch_topology) start on the first server that takes them (sends
    its headers), chosen as above; one that breaks later (ApiError UNAVAILABLE while
    iterating) is the caller's to start again, and the new one is placed the same way. Every
    channel stays open until close(), so a stream keeps its replica while calls move to
    another."""

    def __init__(self, server='127.0.0.1:50051', token=None, ca_cert=None, timeout_s=10.0, failover_s=5.0):
        self.servers = split_servers(server)
        if not self.servers:
            raise ValueError('server: give at least one HOST:PORT')
        self.server = self.servers[0]
        self.timeout_s, self.failover_s = timeout_s, failover_s
        self._credentials = grpc.ssl_channel_credentials(Path(ca_cert).read_bytes()) if ca_cert else None
        # The token lives only here, and goes only into this header.
        self._metadata = (('authorization', f'Bearer {token}'),) if token else ()
        self._lock = threading.Lock()
        self._channels = {}  # address -> (channel, its stubs)
        self._stubs(self.server)

    def _stubs(self, server):
        """The stubs on `server`'s channel, opened the first time it is asked for."""
        with self._lock:
            if self._channels is None:
                raise ValueError(f'{self!r} is closed')
            if server not in self._channels:
                options = REPLICA_CHANNEL if len(self.servers) > 1 else ()
                if self._credentials is not None:
                    channel = grpc.secure_channel(server, self._credentials, options)
                else:
                    channel = grpc.insecure_channel(server, options)
                stubs = (
                    intent_service_pb2_grpc.IntentServiceStub(channel),
                    topology_service_pb2_grpc.TopologyServiceStub(channel),
                    health_pb2_grpc.HealthStub(channel),
                )
                self._channels[server] = (channel, stubs)
            return self._channels[server][1]

    def __repr__(self):
        return f'Client({",".join(self.servers)!r})'

    def close(self):
        with self._lock:
            channels, self._channels = self._channels or {}, None
        for channel, _stubs in channels.values():
            channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.close()

    # Intents

    def create_intent(self, order, *args, **keywords):
        """Admits and places a new intent (usually INSTALLING); see wait_for_state.

        `order`: an Order; or, for short, make_order's arguments:
        create_intent('phx1', 'iad1', 10, max_latency_ms=25, protected=True)."""
        order = _as_order(order, args, keywords)
        request = service.CreateIntentRequest(intent=order_message(order), request_id=self._request_id(order))
        return self._unary('CreateIntent', request).intent

    @staticmethod
    def _request_id(order):
        """The order's own, or a fresh one: every attempt of the call sends the same."""
        return order.request_id or f'naasctl-{uuid.uuid4().hex}'  # 40 of the 64 characters allowed

    def create_intents(self, orders):
        """Admits and places many intents together. `orders`: Orders, or dicts of make_order's
        arguments (src_site, dst_site, bandwidth_gbps and any of its keywords). Returns a
        CreateIntentsResult per order, in order: `intent` when admitted, else `code` (the
        status create_intent would have raised), `reason` and what would fit. A bad order
        raises ApiError naming it (orders[i]...) and creates nothing."""
        orders = [order if isinstance(order, Order) else make_order(**order) for order in orders]
        request = service.CreateIntentsRequest(
            orders=[
                service.CreateIntentRequest(intent=order_message(o), request_id=self._request_id(o))
                for o in orders
            ]
        )
        return list(self._unary('CreateIntents', request).results)

    def check_intent(self, order, *args, **keywords):
        """A dry run of create_intent (same arguments): the CheckIntentResponse (admissible,
        path, what would fit)."""
        order = _as_order(order, args, keywords)
        return self._unary('CheckIntent', service.CheckIntentRequest(intent=order_message(order)))

    def get_intent(self, intent_id):
        return self._unary('GetIntent', service.GetIntentRequest(id=intent_id)).intent

    def list_page(self, *, tenant='', state=None, site='', page_size=0, page_token=''):
        """One page: (intents, next_page_token); the token is empty on the last page."""
        state = IntentState.INTENT_STATE_UNSPECIFIED if state is None else enum_value(IntentState, state)
        request = service.ListIntentsRequest(
            tenant=tenant, state=state, site=site, page_size=page_size, page_token=page_token
        )
        response = self._unary('ListIntents', request)
        return list(response.intents), response.next_page_token

    def list_intents(self, *, tenant='', state=None, site='', page_size=0):
        """Every matching intent, in creation order, fetching page after page."""
        token = ''
        while True:
            intents, token = self.list_page(
                tenant=tenant, state=state, site=site, page_size=page_size, page_token=token
            )
            yield from intents
            if not token:
                return

    def update_intent(
        self,
        intent_id,
        *,
        bandwidth_gbps=None,
        max_latency_ms=None,
        protected=None,
        service_class=None,
        description=None,
        labels=None,
        excess_gbps=None,
    ):
        """Changes the fields given (max_latency_ms=0: no bound; labels replace all labels)."""
        intent = intent_pb2.Intent(id=intent_id)
        fields = []
        if bandwidth_gbps is not None:
            intent.bandwidth_gbps = bandwidth_gbps
            fields.append('bandwidth_gbps')
        if excess_gbps is not None:
            intent.excess_gbps = excess_gbps
            fields.append('excess_gbps')
        if max_latency_ms is not None:
            intent.max_latency_ms = max_latency_ms
            fields.append('max_latency_ms')
        if protected is not None:
            intent.protection = _protection(protected)
            fields.append('protection')
        if service_class is not None:
            intent.service_class = enum_value(ServiceClass, service_class)
            fields.append('service_class')
        if description is not None:
            intent.description = description
            fields.append('description')
        if labels is not None:
            intent.labels.update(labels)
            fields.append('labels')
        if not fields:
            raise ValueError(f'update_intent({intent_id!r}): nothing to change')
        request = service.UpdateIntentRequest(
            intent=intent, update_mask=field_mask_pb2.FieldMask(paths=fields)
        )
        return self._unary('UpdateIntent', request).intent

    def delete_intent(self, intent_id):
        """Withdraws an intent: WITHDRAWING, or WITHDRAWN when no switch carried it."""
        request = service.DeleteIntentRequest(id=intent_id)
        return self._unary('DeleteIntent', request).intent

    def watch_intents(self, *, tenant='', intent_id='', include_current=False, timeout_s=None):
        """A Stream of IntentEvent as they happen, until cancel() (or timeout_s, then ApiError)."""
        request = service.WatchIntentsRequest(
            tenant=tenant, intent_id=intent_id, include_current=include_current
        )
        return self._stream('WatchIntents', request, lambda response: response.event, timeout_s)

    def get_intent_stats(self, intent_id, window_s=None):
        """The intent's IntentStats now: rates, drops, latency, jitter, and its SLA report over
        the last `window_s` (None: the server's default, 300 s)."""
        request = service.GetIntentStatsRequest(id=intent_id, window=_duration(window_s))
        return self._unary('GetIntentStats', request).stats

    def watch_intent_stats(self, intent_id, *, window_s=None, interval_s=None, timeout_s=None):
        """A Stream of IntentStats, one at once and then every `interval_s` (None: 1 s)."""
        request = service.WatchIntentStatsRequest(
            id=intent_id, window=_duration(window_s), interval=_duration(interval_s)
        )
        return self._stream('WatchIntentStats', request, lambda response: response.stats, timeout_s)

    def wait_for_state(self, intent_id, states=('INSTALLED',), timeout_s=30.0):
        """Waits until the intent is in one of `states`, and returns it.

        TimeoutError after timeout_s; ApiError (FAILED_PRECONDITION) as soon as it is FAILED or
        withdrawn and that is not among `states`. An intent already gone (NOT_FOUND) counts as
        WITHDRAWN when WITHDRAWN is among `states`.
        """
        wanted = {enum_value(IntentState, s) for s in states}
        with self.watch_intents(
            intent_id=intent_id, include_current=True, timeout_s=timeout_s
        ) as events:  # first, so nothing is missed
            try:
                intent, fresh = self.get_intent(intent_id), True
            except ApiError as e:
                if e.code == grpc.StatusCode.NOT_FOUND and _WITHDRAWN in wanted:
                    return intent_pb2.Intent(
                        id=intent_id, state=_WITHDRAWN, state_reason='gone from the controller'
                    )
                raise
            try:
                while True:
                    if intent.state in wanted:
                        if fresh:
                            return intent
                        intent, fresh = self._latest(intent), True  # it may have moved on
                        continue
                    _raise_if_never(intent, wanted)
                    event = next(events)
                    if event.intent_id == intent_id:
                        intent.state, intent.state_reason, fresh = event.state, event.reason, False
            except StopIteration:
                raise ApiError(
                    grpc.StatusCode.ABORTED,
                    f'the server ended the watch while intent {intent_id} is {_state_and_reason(intent)}',
                ) from None
            except ApiError as e:
                if e.code != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise
                names = ' or '.join(enum_name(IntentState, s) for s in sorted(wanted))
                raise TimeoutError(
                    f'intent {intent_id} is not {names} after {timeout_s:g} s: '
                    f'it is {_state_and_reason(intent)}'
                ) from None

    def _latest(self, intent):
        """The intent as the server has it now; as last known when it is gone."""
        try:
            return self.get_intent(intent.id)
        except ApiError as e:
            if e.code != grpc.StatusCode.NOT_FOUND:
                raise
            return intent

    # Topology and health

    def get_topology(self):
        request = topology_service_pb2.GetTopologyRequest()
        return self._unary('GetTopology', request).topology

    def watch_topology(self, interval_ms=0):
        """A Stream of Topology: at once, on every change, and at least every interval_ms."""
        request = topology_service_pb2.WatchTopologyRequest(interval_ms=interval_ms)
        return self._stream('WatchTopology', request, lambda response: response.topology)

    def health(self):
        """The server's grpc.health.v1 status for service '': 'SERVING', 'NOT_SERVING', ..."""
        response = self._unary('Check', health_pb2.HealthCheckRequest(service=''))
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def _unary(self, name, request):
        """Call method `name`, on the current server and then wherever _elsewhere says."""
        deadline, attempts, server = time.monotonic() + self.failover_s, 0, self.server
        while True:
            try:
                return self._method(server, name)(request, metadata=self._metadata, timeout=self.timeout_s)
            except grpc.RpcError as e:
                attempts += 1
                server = self._elsewhere(e, server, attempts, deadline)
                if server is None:
                    raise ApiError.from_rpc(e) from e

    def _stream(self, name, request, unwrap, timeout_s=None):
        """A Stream of method `name` once a server took it (its headers came), found as
        `_unary` finds one."""
        deadline, attempts, server = time.monotonic() + self.failover_s, 0, self.server
        while True:
            call = self._method(server, name)(request, metadata=self._metadata, timeout=timeout_s)
            call.initial_metadata()  # the server subscribed it, or the call ended
            if not call.done() or call.code() is not grpc.StatusCode.UNAVAILABLE:
                return Stream(call, unwrap)
            attempts += 1
            server = self._elsewhere(call, server, attempts, deadline)
            if server is None:
                return Stream(call, unwrap)  # iterating it raises the ApiError

    def _method(self, server, name):
        stub = next(s for s in self._stubs(server) if hasattr(s, name))
        return getattr(stub, name)

    def _elsewhere(self, call, server, attempts, deadline):
        """Where to try again a call that ended as `call` did on `server` (it becomes the
        current server), or None: not UNAVAILABLE, failover_s is over, or nowhere else to go.
        Each call keeps its own `server`: others may move the current one meanwhile."""
        if call.code() is not grpc.StatusCode.UNAVAILABLE or time.monotonic() >= deadline:
            return None
        leader = dict(call.trailing_metadata() or ()).get(LEADER_KEY)
        if leader and leader != server:
            after = leader  # a follower named the leader: at once
        elif len(self.servers) == 1:
            return None  # nowhere else to go (a server that restarts: call again)
        else:
            if attempts % len(self.servers) == 0:  # a round of them: no hammering an election
                time.sleep(min(FAILOVER_PAUSE_S, max(0.0, deadline - time.monotonic())))
            later = self.servers[self.servers.index(server) + 1 :] if server in self.servers else []
            after = (later or self.servers)[0]
        self.server = after
        return after


def _duration(seconds):
    """A Duration of `seconds`, or None (the field unset: the server's default)."""
    if seconds is None:
        return None
    value = duration_pb2.Duration()
    value.FromNanoseconds(round(seconds * 1e9))
    return value


def split_servers(server):
    """The addresses of 'a:50051,b:50051' (or a list of them), blanks left out."""
    servers = server.split(',') if isinstance(server, str) else list(server)
    return [s.strip() for s in servers if s.strip()]


def make_order(
    src_site,
    dst_site,
    bandwidth_gbps,
    *,
    tenant='',
    max_latency_ms=0.0,
    protected=False,
    service_class=None,
    description='',
    labels=None,
    src_prefixes=(),
    dst_prefixes=(),
    excess_gbps=0.0,
    request_id='',
):
    """The Order of the client's long-standing keywords: max_latency_ms 0 for no bound,
    protected a bool, service_class a name ('realtime', 'REALTIME', ...) or None for the
    default (priority)."""
    return Order(
        tenant=tenant,
        src=src_site,
        dst=dst_site,
        bandwidth_gbps=bandwidth_gbps,
        max_latency_ms=max_latency_ms or None,
        protection=OrderProtection.PROTECTED if protected else OrderProtection.NONE,
        service_class=_order_class(service_class),
        excess_gbps=excess_gbps,
        description=description,
        labels=dict(labels or {}),
        src_prefixes=tuple(src_prefixes),
        dst_prefixes=tuple(dst_prefixes),
        request_id=request_id,
    )


def order_message(order):
    """The Intent message an Order is sent as (CreateIntent, CreateIntents, CheckIntent): the
    only place that turns an Order into protobuf."""
    return intent_pb2.Intent(
        tenant=order.tenant,
        src_site=order.src,
        dst_site=order.dst,
        bandwidth_gbps=order.bandwidth_gbps,
        excess_gbps=order.excess_gbps,
        max_latency_ms=order.max_latency_ms or 0.0,
        protection=f'PROTECTION_{OrderProtection(order.protection).value}',
        service_class=f'SERVICE_CLASS_{OrderClass(order.service_class).value}',
        description=order.description,
        labels=order.labels,
        src_prefixes=order.src_prefixes,
        dst_prefixes=order.dst_prefixes,
    )


def _as_order(order, args, keywords):
    """create_intent's and check_intent's `order`: an Order as given, or make_order's."""
    if not isinstance(order, Order):
        return make_order(order, *args, **keywords)
    if args or keywords:
        raise TypeError('an Order comes alone: it holds every field of the order')
    return order


def _order_class(service_class):
    if isinstance(service_class, OrderClass):
        return service_class
    if service_class is None:
        return OrderClass.PRIORITY
    return OrderClass(enum_name(ServiceClass, enum_value(ServiceClass, service_class)))


def _protection(protected):
    return Protection.PROTECTION_PROTECTED if protected else Protection.PROTECTION_NONE


_FAILED = IntentState.INTENT_STATE_FAILED
_WITHDRAWN = IntentState.INTENT_STATE_WITHDRAWN
_GONE = {IntentState.INTENT_STATE_WITHDRAWING, _WITHDRAWN}


def _raise_if_never(intent, wanted):
    """FAILED, or withdrawing, while waiting for another state it may never reach: say so."""
    never = (intent.state == _FAILED and not ({_FAILED} | _GONE) & wanted) or (
        intent.state in _GONE and not _GONE & wanted
    )
    if never:
        raise ApiError(
            grpc.StatusCode.FAILED_PRECONDITION, f'intent {intent.id} is {_state_and_reason(intent)}'
        )


def _state_and_reason(intent):
    state = enum_name(IntentState, intent.state)
    return f'{state}: {intent.state_reason}' if intent.state_reason else state
