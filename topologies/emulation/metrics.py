"""The emulation's own figures for Prometheus (docs/observability.md): what the span emulator
did with each relayed span's frames, and how late it delivered them. `naas-lab up
--metrics-port PORT` serves them on loopback; the controller's figures are its own /metrics.

Read from the span emulator's counters at each scrape (spand.c keeps them since the span was
set up: a span set up again starts over, which Prometheus takes as a counter reset). The
lateness histogram is spand's, folded into fixed buckets: a frame counts in the first bucket
whose bound is at or above the top of spand's bucket (1 us wide below 32 us, at most 6 % wide
above), so it never reads earlier than it was. No _sum: spand keeps none."""

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

DIRECTIONS = ('a_to_b', 'b_to_a')
OUTCOMES = ('sent', 'dropped_loss', 'dropped_queue', 'dropped_send', 'dropped_late', 'dropped_size')
LATE_BOUNDS_S = (10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 100e-3)


class EmulationCollector:
    """Reads `stats()` ({span id: spand's stats}, topologies/emulation/span.py) at each scrape."""

    def __init__(self, stats) -> None:
        self.stats = stats

    def describe(self):
        return []

    def collect(self):
        labels = ['span', 'from', 'to']
        delay = GaugeMetricFamily(
            'naas_emulation_span_delay_seconds', 'the delay the span emulator gives the span', labels=['span']
        )
        loss = GaugeMetricFamily(
            'naas_emulation_span_loss_ratio',
            'the share of frames it drops on purpose (gray failure)',
            labels=['span'],
        )
        received = CounterMetricFamily(
            'naas_emulation_span_received_frames', 'frames taken in', labels=labels
        )
        frames = CounterMetricFamily(
            'naas_emulation_span_frames', 'frames sent on, or dropped and why', labels=[*labels, 'outcome']
        )
        queued = GaugeMetricFamily('naas_emulation_span_queued_frames', 'frames held now', labels=labels)
        late = HistogramMetricFamily(
            'naas_emulation_span_lateness_seconds',
            'how much longer than its delay each frame sent took inside the span emulator',
            labels=labels,
        )
        worst = GaugeMetricFamily(
            'naas_emulation_span_lateness_max_seconds',
            'the latest frame since the span was set up',
            labels=labels,
        )
        for span_id, span in sorted(self.stats().items()):
            delay.add_metric([span_id], span['delay_ms'] / 1e3)
            loss.add_metric([span_id], span.get('loss_pct', 0.0) / 100)
            for direction in DIRECTIONS:
                d = span[direction]
                ends = (span['a'], span['b']) if direction == 'a_to_b' else (span['b'], span['a'])
                key = [span_id, *ends]
                received.add_metric(key, d['received'])
                for outcome in OUTCOMES:
                    frames.add_metric([*key, outcome], d[outcome])
                queued.add_metric(key, d['queued'])
                late.add_metric(key, _buckets(d['late_us']), None)
                worst.add_metric(key, d['late_max_ns'] / 1e9)
        yield from (delay, loss, received, frames, queued, late, worst)


def _buckets(late_us):
    counts = [0] * (len(LATE_BOUNDS_S) + 1)
    for _lo, hi, n in late_us:
        i = next((i for i, bound in enumerate(LATE_BOUNDS_S) if hi / 1e6 <= bound), len(LATE_BOUNDS_S))
        counts[i] += n
    cumulative, out = 0, []
    for bound, n in zip((*(f'{b:g}' for b in LATE_BOUNDS_S), '+Inf'), counts):
        cumulative += n
        out.append((bound, cumulative))
    return out


def serve(stats, port: int, host: str = '127.0.0.1'):
    """Serve the figures of `stats` on http://host:port/metrics from a thread; returns the
    server (`shutdown()` it)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EmulationCollector(stats))
    server, _thread = start_http_server(port, host, registry)
    return server
