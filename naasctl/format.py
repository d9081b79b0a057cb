"""What naasctl prints: aligned plain-text tables for people, JSON for scripts."""

import datetime
import json

from google.protobuf import json_format

from naasctl.client import IntentState, Protection, ServiceClass, enum_name
from topologies.model.units import format_bandwidth, format_latency


def to_dict(message):
    """The message as the canonical JSON mapping, with proto field names and every field."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def to_json(messages, *, one_line=False):
    """A message as one JSON object, or a list of messages as one JSON array."""
    data = [to_dict(m) for m in messages] if isinstance(messages, list) else to_dict(messages)
    return json.dumps(data, separators=(',', ':')) if one_line else json.dumps(data, indent=2)


def table(rows, headers=None):
    """Columns left-aligned, two spaces apart, no trailing spaces; headers on the first line."""
    rows = [[str(cell) for cell in row] for row in ([headers] if headers else []) + list(rows)]
    if not rows:
        return ''
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return '\n'.join('  '.join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def path_text(sites):
    """['phx1', 'dfw2', 'iad1'] -> 'phx1->dfw2->iad1'; '-' for no path."""
    return '->'.join(sites) or '-'


def time_text(timestamp):
    """A protobuf Timestamp in UTC, to the second: '2025-05-01 12:00:03Z'; '-' when unset."""
    if not timestamp.seconds and not timestamp.nanos:
        return '-'
    when = timestamp.ToDatetime(tzinfo=datetime.UTC)
    return when.strftime('%Y-%m-%d %H:%M:%SZ')


def state_text(state):
    return enum_name(IntentState, state)


def latency_bound_text(max_latency_ms):
    return format_latency(max_latency_ms) if max_latency_ms else 'any'


def intent_table(intents):
    """One row per intent."""
    rows = [
        [
            i.id,
            i.tenant,
            i.src_site,
            i.dst_site,
            format_bandwidth(i.bandwidth_gbps),
            latency_bound_text(i.max_latency_ms),
            _protection_text(i.protection),
            enum_name(ServiceClass, i.service_class).lower(),
            state_text(i.state),
            path_text(i.path),
        ]
        for i in intents
    ]
    return table(
        rows,
        ['ID', 'TENANT', 'SRC', 'DST', 'BANDWIDTH', 'MAX LATENCY', 'PROTECTION', 'CLASS', 'STATE', 'PATH'],
    )


def batch_text(orders, results):
    """What CreateIntents did with `orders` (Orders): a row per order (admitted: id, state
    and path; refused: the code and reason), then how many of each."""
    rows = []
    for i, (order, result) in enumerate(zip(orders, results)):
        sites = f'{order.src}<->{order.dst}'
        first = [i, result.intent.id or '-', sites, format_bandwidth(order.bandwidth_gbps)]
        if result.HasField('intent'):
            rows.append(first + [state_text(result.intent.state), path_text(result.intent.path)])
        else:
            rows.append(first + [result.code, result.reason])
    refused = sum(1 for r in results if not r.HasField('intent'))
    return (
        table(rows, ['ORDER', 'ID', 'SITES', 'BANDWIDTH', 'RESULT', 'PATH OR REASON'])
        + f'\n{len(results) - refused} admitted, {refused} refused'
    )


def intent_detail(intent):
    """One intent, a field per line."""
    state = state_text(intent.state) + (f' ({intent.state_reason})' if intent.state_reason else '')
    fields = [
        ('id', intent.id),
        ('tenant', intent.tenant),
        ('sites', f'{intent.src_site} <-> {intent.dst_site}'),
        (
            'bandwidth',
            format_bandwidth(intent.bandwidth_gbps)
            + (f' (+{format_bandwidth(intent.excess_gbps)} excess)' if intent.excess_gbps else ''),
        ),
        ('max latency', latency_bound_text(intent.max_latency_ms)),
        ('protection', _protection_text(intent.protection)),
        ('class', enum_name(ServiceClass, intent.service_class).lower()),
        ('state', state),
        ('path', path_text(intent.path)),
    ]
    if intent.backup_path:
        fields.append(('backup path', path_text(intent.backup_path)))
    if intent.path:
        fields += [
            ('path latency', format_latency(intent.path_latency_ms)),
            ('reserved', format_bandwidth(intent.reserved_gbps)),
        ]
    if intent.description:
        fields.append(('description', intent.description))
    for end in ('src_prefixes', 'dst_prefixes'):
        if getattr(intent, end):
            fields.append((end.replace('_', ' '), ', '.join(getattr(intent, end))))
    if intent.labels:
        fields.append(('labels', ', '.join(f'{k}={v}' for k, v in sorted(intent.labels.items()))))
    fields += [('created', time_text(intent.create_time)), ('updated', time_text(intent.update_time))]
    return table(fields)


def event_line(event):
    """'2025-05-01 12:00:03Z  i-3  acme  INSTALLED  placed  path phx1->iad1'."""
    parts = [
        time_text(event.time),
        event.intent_id,
        event.tenant or '-',
        state_text(event.state),
        event.reason or '-',
    ]
    if event.old_path and event.new_path:
        parts.append(f'moved {path_text(event.old_path)} => {path_text(event.new_path)}')
    elif event.new_path:
        parts.append(f'path {path_text(event.new_path)}')
    elif event.old_path:
        parts.append(f'left {path_text(event.old_path)}')
    return '  '.join(parts)


def check_text(check, bandwidth_gbps):
    """What CheckIntent said: the path it would take, or why not and what would fit."""
    if check.admissible:
        lines = [f'admissible: path {path_text(check.path)} ({format_latency(check.latency_ms)})']
        if check.backup_path:
            lines.append(f'backup path {path_text(check.backup_path)}')
        return '\n'.join(lines)
    within = (
        format_bandwidth(check.max_bandwidth_gbps)
        if check.max_bandwidth_gbps
        else 'none (no path meets the latency bound and protection)'
    )
    lowest = (
        format_latency(check.min_latency_ms)
        if check.min_latency_ms
        else f'none (no path has {format_bandwidth(bandwidth_gbps)})'
    )
    rows = [['max bandwidth', within], [f'min latency at {format_bandwidth(bandwidth_gbps)}', lowest]]
    if check.quota_left_gbps:
        rows.append(['quota left', format_bandwidth(check.quota_left_gbps)])
    return f'not admissible: {check.reason}\n' + table(rows)


def topology_text(topology):
    """The spans, a row per direction, then the sites."""
    span_rows, configured = [], False
    for span in topology.spans:
        first = [span.id, format_bandwidth(span.capacity_gbps), 'up' if span.up else 'DOWN']
        for direction in span.directions:
            delay = format_latency(direction.delay_ms)
            if not direction.delay_measured:
                delay += ' *'
                configured = True
            span_rows.append(
                first
                + [
                    f'{direction.from_site}->{direction.to_site}',
                    format_bandwidth(direction.reserved_gbps),
                    format_bandwidth(direction.utilization_gbps),
                    delay,
                ]
            )
            first = ['', '', '']
        if not span.directions:
            span_rows.append(first + ['', '', '', ''])
    site_rows = [[s.id, s.name, s.kind, s.region, 'yes' if s.connected else 'NO'] for s in topology.sites]
    parts = [
        f'fabric {topology.fabric or "-"} at {time_text(topology.time)}',
        '',
        table(span_rows, ['SPAN', 'CAPACITY', 'STATE', 'DIRECTION', 'RESERVED', 'UTILIZATION', 'DELAY']),
    ]
    if configured:
        parts.append("* the fabric file's delay: not measured yet")
    parts += ['', table(site_rows, ['SITE', 'NAME', 'KIND', 'REGION', 'CONNECTED'])]
    return '\n'.join(parts)


def _protection_text(protection):
    return 'protected' if protection == Protection.PROTECTION_PROTECTED else 'none'


def stats_text(stats):
    """An intent's IntentStats: a row per direction, then its SLA report and outages."""
    head = f'intent {stats.intent_id} ({stats.tenant}) {state_text(stats.state)} at {time_text(stats.time)}'
    rows = [
        [
            name,
            format_bandwidth(d.rate_in_gbps),
            format_bandwidth(d.rate_out_gbps),
            f'{d.dropped_frames} frames, {d.dropped_bytes} B',
            f'{format_bandwidth(d.drop_rate_gbps)} ({d.dropped_frames_per_second:g}/s)',
            format_latency(d.latency_ms) if d.HasField('latency_ms') else '-',
            format_latency(d.jitter_ms) if d.HasField('jitter_ms') else '-',
        ]
        for name, d in (('forward', stats.forward), ('reverse', stats.reverse))
    ]
    directions = table(rows, ['DIRECTION', 'RATE IN', 'RATE OUT', 'DROPPED', 'DROPPING', 'LATENCY', 'JITTER'])
    sla = stats.sla
    report = (
        f'SLA over {_seconds(sla.window):g} s (observed {_seconds(sla.observed):g} s): '
        f'availability {_percent(sla.availability)}, committed rate {_percent(sla.committed_rate_share)}, '
        f'within latency {_percent(sla.within_latency_share)}'
    )
    outages = [
        f'  outage at {time_text(o.start_time)} for {_seconds(o.duration):.3f} s'
        + (' (ongoing)' if o.ongoing else '')
        for o in sla.outages
    ]
    return '\n'.join([head, directions, report, *(outages or ['  no outage'])])


def _seconds(duration):
    return duration.seconds + duration.nanos / 1e9


def _percent(share):
    return f'{share * 100:.3f}'.rstrip('0').rstrip('.') + '%'
