"""The emulation's figures (topologies/emulation/metrics.py): spand's lateness buckets folded
into Prometheus's, never earlier than a frame was."""

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from topologies.emulation.metrics import EmulationCollector

IDLE = dict.fromkeys(
    (
        'received',
        'sent',
        'queued',
        'dropped_loss',
        'dropped_queue',
        'dropped_send',
        'dropped_late',
        'dropped_size',
    ),
    0,
)


def test_lateness_buckets_hold_each_frame_at_or_above_its_lateness():
    a_to_b = {**IDLE, 'received': 12, 'sent': 11, 'queued': 1, 'dropped_late': 2, 'late_max_ns': 3_000_000}
    a_to_b['late_us'] = [[0, 1, 5], [9, 10, 1], [10, 11, 2], [24, 25, 1], [26, 27, 1], [2900, 3000, 1]]
    stats = {'x-y': {'a': 'x', 'b': 'y', 'delay_ms': 5.0, 'loss_pct': 2.0, 'serial': 1, 'a_to_b': a_to_b}}
    stats['x-y']['b_to_a'] = {**IDLE, 'late_max_ns': 0, 'late_us': []}
    registry = CollectorRegistry()
    registry.register(EmulationCollector(lambda: stats))
    samples = {
        (s.name, s.labels.get('from'), s.labels.get('le') or s.labels.get('outcome')): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    bucket = 'naas_emulation_span_lateness_seconds_bucket'
    assert samples[bucket, 'x', '1e-05'] == 6  # [0, 1) and [9, 10) us
    assert samples[bucket, 'x', '2.5e-05'] == 9  # and [10, 11) twice, [24, 25)
    assert samples[bucket, 'x', '5e-05'] == 10
    assert samples[bucket, 'x', '0.0025'] == 10
    assert samples[bucket, 'x', '0.005'] == samples[bucket, 'x', '+Inf'] == 11
    assert samples[bucket, 'y', '+Inf'] == 0
    assert samples['naas_emulation_span_frames_total', 'x', 'dropped_late'] == 2
    assert samples['naas_emulation_span_loss_ratio', None, None] == 0.02
    assert samples['naas_emulation_span_lateness_max_seconds', 'x', None] == 0.003
