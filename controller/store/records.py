"""The persistence mapping: a saved intent (controller.core.journal.Saved) to the JSON record a
store keeps, and back. The records' format is the store's schema (SCHEMA_VERSION in sqlite.py):
change both together."""

from controller.core.intent import Intent, State
from controller.core.journal import Saved
from topologies.model.order import Protection, ServiceClass


def to_record(saved: Saved) -> dict:
    intent = saved.intent
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
        'primary': list(saved.primary) if saved.primary else None,
        'backup': list(saved.backup) if saved.backup else None,
        'labels': list(saved.labels) if saved.labels else None,
    }


def from_record(r: dict) -> Saved:
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
    return Saved(
        intent,
        tuple(r['primary']) if r['primary'] else None,
        tuple(r['backup']) if r['backup'] else None,
        tuple(r['labels']) if r['labels'] else None,
    )
