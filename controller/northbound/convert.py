"""Core objects to protobuf messages and core errors to gRPC status codes: the only place
that knows both. Call under the runtime's lock (core objects change under other threads)."""

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from controller.core import errors
from controller.core.intent import State
from controller.core.topology import Link
from naas.v1 import intent_pb2, topology_pb2
from topologies.model.order import Protection, ServiceClass


def intent_message(core, intent):
    placement = core.placements.get(intent.id)
    message = intent_pb2.Intent(
        id=intent.id,
        tenant=intent.tenant,
        src_site=intent.src,
        dst_site=intent.dst,
        bandwidth_gbps=intent.bandwidth_gbps,
        excess_gbps=intent.excess_gbps,
        max_latency_ms=intent.max_latency_ms or 0.0,
        protection=f'PROTECTION_{intent.protection.value}',
        service_class=f'SERVICE_CLASS_{intent.service_class.value}',
        description=intent.description,
        labels=intent.labels,
        src_prefixes=intent.src_prefixes,
        dst_prefixes=intent.dst_prefixes,
        state=state_enum(intent.state),
        state_reason=intent.reason,
        create_time=timestamp(intent.created_at),
        update_time=timestamp(intent.updated_at),
    )
    if placement is not None:
        message.path.extend(placement.primary.sites)
        if placement.backup is not None:
            message.backup_path.extend(placement.backup.sites)
        message.path_latency_ms = placement.latency_ms(core.topology)
        message.reserved_gbps = intent.bandwidth_gbps
    return message


def event_message(event):
    return intent_pb2.IntentEvent(
        intent_id=event.intent_id,
        tenant=event.tenant,
        state=state_enum(event.state),
        reason=event.reason,
        time=timestamp(event.at),
        old_path=event.old_path,
        new_path=event.new_path,
    )


def current_event(core, intent, now):
    """An event that says where an intent is now (what a new watcher sees first)."""
    placement = core.placements.get(intent.id)
    return intent_pb2.IntentEvent(
        intent_id=intent.id,
        tenant=intent.tenant,
        state=state_enum(intent.state),
        reason='current',
        time=timestamp(now),
        new_path=placement.primary.sites if placement is not None else (),
    )


def topology_message(core, now):
    fabric = core.fabric
    message = topology_pb2.Topology(fabric=fabric.name, time=timestamp(now))
    for site in fabric.sites.values():
        message.sites.add(
            id=site.id,
            name=site.name,
            kind=site.kind,
            region=site.region,
            latitude=site.lat,
            longitude=site.lon,
            connected=core.connected(site.id),
        )
    for span in core.topology.spans.values():
        out = message.spans.add(
            id=span.span_id, site_a=span.a, site_b=span.b, capacity_gbps=span.capacity_gbps, up=span.up
        )
        for link in (Link(span.a, span.b), Link(span.b, span.a)):
            used = core.utilization.get(link)
            out.directions.add(
                from_site=link.src,
                to_site=link.dst,
                reserved_gbps=core.ledger.reserved_gbps(link),
                utilization_gbps=used[0] if used else 0.0,
                delay_ms=core.topology.delay_ms(link),
                delay_measured=link in span.measured_delay_ms,
            )
    return message


def state_enum(state):
    return intent_pb2.IntentState.Value(f'INTENT_STATE_{state.value}')


def core_state(value):
    """An IntentState to a core State (None for UNSPECIFIED)."""
    name = _name(intent_pb2.IntentState, value, 'state', 'INTENT_STATE_')
    return None if name == 'UNSPECIFIED' else State(name)


def core_protection(value, default=Protection.NONE):
    name = _name(intent_pb2.Protection, value, 'protection', 'PROTECTION_')
    return default if name == 'UNSPECIFIED' else Protection(name)


def core_class(value, default=ServiceClass.PRIORITY):
    name = _name(intent_pb2.ServiceClass, value, 'service_class', 'SERVICE_CLASS_')
    return default if name == 'UNSPECIFIED' else ServiceClass(name)


def _name(enum, value, field, prefix):
    """The enum value's name without its prefix; InvalidArgument for a number the enum does
    not have (a client built from a newer .proto, or a raw one)."""
    try:
        return enum.Name(value).removeprefix(prefix)
    except ValueError:
        raise errors.InvalidArgument(
            field, f'{value} is not a value of {enum.DESCRIPTOR.name} ({", ".join(enum.keys())})'
        ) from None


def timestamp(seconds):
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def status_of(error):
    """The gRPC status code of a core error."""
    if isinstance(error, errors.InvalidArgument):
        return grpc.StatusCode.INVALID_ARGUMENT
    if isinstance(error, errors.NotFound):
        return grpc.StatusCode.NOT_FOUND
    if isinstance(error, errors.Conflict):
        return grpc.StatusCode.ALREADY_EXISTS
    if isinstance(error, errors.FailedPrecondition):
        return grpc.StatusCode.FAILED_PRECONDITION
    if isinstance(error, errors.QuotaExceeded):
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    if isinstance(error, errors.Unplaceable):
        # Too little bandwidth left is a resource running out; a bound or a protection that
        # no path meets now is a precondition of the network.
        if error.no_path.constraint == 'bandwidth':
            return grpc.StatusCode.RESOURCE_EXHAUSTED
        return grpc.StatusCode.FAILED_PRECONDITION
    raise TypeError(f'not a core error: {error!r}')
