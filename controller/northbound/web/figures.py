"""The fabric and the intents as the web page reads them: plain dicts for JSON, from the
core's immutable views (taken under the runtime's lock or from the read model, converted
after). Bandwidths in Gb/s and delays in ms, as the fabric file and the API say them."""

from controller.core.intent import IntentEvent
from controller.core.views import IntentView, TopologyView


def fabric(view: TopologyView, now: float) -> dict:
    return {
        'fabric': view.fabric,
        'at': now,
        'sites': [
            {
                'id': s.id,
                'name': s.name,
                'kind': s.kind,
                'region': s.region,
                'lat': s.lat,
                'lon': s.lon,
                'connected': s.connected,
            }
            for s in view.sites
        ],
        'spans': [
            {
                'id': span.id,
                'a': span.a,
                'b': span.b,
                'capacity_gbps': span.capacity_gbps,
                'up': span.up,
                'directions': [
                    {
                        'src': d.src,
                        'dst': d.dst,
                        'committed_gbps': d.reserved_gbps,
                        'peak_gbps': d.peak_gbps,
                        'utilization_gbps': d.utilization_gbps,
                        'delay_ms': d.delay_ms,
                        'delay_measured': d.delay_measured,
                    }
                    for d in span.directions
                ],
            }
            for span in view.spans
        ],
    }


def intent(v: IntentView) -> dict:
    return {
        'id': v.id,
        'number': v.number,
        'tenant': v.tenant,
        'src': v.src,
        'dst': v.dst,
        'state': v.state.value,
        'reason': v.reason,
        'class': v.service_class.value,
        'protection': v.protection.value,
        'gbps': v.bandwidth_gbps,
        'max_latency_ms': v.max_latency_ms,
        'path': list(v.path),
        'backup_path': list(v.backup_path),
        'latency_ms': v.path_latency_ms,
    }


def event(e: IntentEvent) -> dict:
    return {
        'intent': e.intent_id,
        'tenant': e.tenant,
        'state': e.state.value,
        'reason': e.reason,
        'at': e.at,
        'old_path': list(e.old_path),
        'new_path': list(e.new_path),
    }
