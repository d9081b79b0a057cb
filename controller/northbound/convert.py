"""The read model's views to protobuf messages, protobuf to Orders, and core errors to gRPC
status codes: the only place that knows both sides. Views are immutable, so conversion runs
outside the runtime's lock."""

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from controller.core import errors
from controller.core.intent import State
from naas.v1 import intent_pb2, topology_pb2
from topologies.model.order import Order, Protection, ServiceClass


def intent_message(view):
    """An IntentView as the API's Intent."""
    message = intent_pb2.Intent(
        id=view.id,
        tenant=view.tenant,
        src_site=view.src,
        dst_site=view.dst,
        bandwidth_gbps=view.bandwidth_gbps,
        excess_gbps=view.excess_gbps,
        max_latency_ms=view.max_latency_ms or 0.0,
        protection=f'PROTECTION_{view.protection.value}',
        service_class=f'SERVICE_CLASS_{view.service_class.value}',
        description=view.description,
        labels=view.labels,
        src_prefixes=view.src_prefixes,
        dst_prefixes=view.dst_prefixes,
        state=state_enum(view.state),
        state_reason=view.reason,
        create_time=timestamp(view.created_at),
        update_time=timestamp(view.updated_at),
        path=view.path,
        backup_path=view.backup_path,
        reserved_gbps=view.reserved_gbps,
    )
    if view.path_latency_ms is not None:
        message.path_latency_ms = view.path_latency_ms
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


def stats_message(view):
    """An IntentStats of the core's IntentStatsView."""
    sla = view.sla
    return intent_pb2.IntentStats(
        intent_id=view.intent_id,
        tenant=view.tenant,
        state=state_enum(view.state),
        time=timestamp(view.at),
        forward=_direction_message(view.forward),
        reverse=_direction_message(view.reverse),
        sla=intent_pb2.SlaReport(
            window=duration(sla.window_s),
            observed=duration(sla.observed_s),
            within_latency_share=sla.within_latency,
            committed_rate_share=sla.rate_available,
            availability=sla.availability,
            outages=[
                intent_pb2.Outage(
                    start_time=timestamp(o.start), duration=duration(o.duration_s), ongoing=o.ongoing
                )
                for o in sla.outages
            ],
        ),
    )


def _direction_message(d):
    message = intent_pb2.IntentDirectionStats(
        rate_in_gbps=d.rate_in_gbps,
        rate_out_gbps=d.rate_out_gbps,
        dropped_bytes=d.dropped_bytes,
        dropped_frames=d.dropped_frames,
        drop_rate_gbps=d.drop_rate_gbps,
        dropped_frames_per_second=d.drop_frames_per_s,
    )
    if d.latency_ms is not None:
        message.latency_ms = d.latency_ms
    if d.jitter_ms is not None:
        message.jitter_ms = d.jitter_ms
    return message


def topology_message(view, now):
    """A TopologyView as the API's Topology, stamped `now`."""
    message = topology_pb2.Topology(fabric=view.fabric, time=timestamp(now))
    for site in view.sites:
        message.sites.add(
            id=site.id,
            name=site.name,
            kind=site.kind,
            region=site.region,
            latitude=site.lat,
            longitude=site.lon,
            connected=site.connected,
            crossing_ms=site.crossing_ms,
        )
    for span in view.spans:
        out = message.spans.add(
            id=span.id, site_a=span.a, site_b=span.b, capacity_gbps=span.capacity_gbps, up=span.up
        )
        for d in span.directions:
            out.directions.add(
                from_site=d.src,
                to_site=d.dst,
                reserved_gbps=d.reserved_gbps,
                utilization_gbps=d.utilization_gbps,
                delay_ms=d.delay_ms,
                delay_measured=d.delay_measured,
            )
    return message


def order_of(intent, tenant, request_id=''):
    """The Order an API Intent asks for, for `tenant` (the caller's token decides it)."""
    return Order(
        tenant,
        intent.src_site,
        intent.dst_site,
        intent.bandwidth_gbps,
        max_latency_ms=intent.max_latency_ms or None,
        protection=core_protection(intent.protection),
        service_class=core_class(intent.service_class),
        excess_gbps=intent.excess_gbps,
        description=intent.description,
        labels=dict(intent.labels),
        src_prefixes=tuple(intent.src_prefixes),
        dst_prefixes=tuple(intent.dst_prefixes),
        request_id=request_id,
    )


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


def duration(seconds):
    value = Duration()
    value.FromNanoseconds(int(seconds * 1e9))
    return value


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
    if isinstance(error, errors.Unavailable):
        return grpc.StatusCode.UNAVAILABLE
    if isinstance(error, errors.Unplaceable):
        # Too little bandwidth left is a resource running out; a bound or a protection that
        # no path meets now is a precondition of the network.
        if error.no_path.constraint == 'bandwidth':
            return grpc.StatusCode.RESOURCE_EXHAUSTED
        return grpc.StatusCode.FAILED_PRECONDITION
    raise TypeError(f'not a core error: {error!r}')
