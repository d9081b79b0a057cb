"""When the emulation lies: how late the span emulator delivered frames, span by span.

The span emulator (spand.c) keeps, for each relayed span and direction, counters and a
histogram of every delivered frame's lateness (sent minus due: how much longer than its
delay the frame took inside the emulator) since the span was set up, plus the exact
largest lateness. A mark is those counters at one moment; the window since a mark is the
difference between them and the counters now, so that any number of readers can each keep
their own marks. Spans joined in the kernel have no emulator and add no delay of their own:
they are left out.

Percentiles are read from the histogram's buckets (1 us wide below 32 us, at most 6% wide
above) as the upper edge of the bucket they fall in, never more than the window's max: they
may overstate lateness by a bucket's width, never understate it. The window's max is exact
when the window holds the largest lateness since the span was set up (the emulator keeps
that one), else the upper edge of the highest bucket the window reached.
"""

import math
import time
from dataclasses import dataclass, field

TOLERANCE_MS = 0.5  # plus TOLERANCE_SHARE of the span's delay: as the measurement's tolerance
TOLERANCE_SHARE = 0.05
DIRECTIONS = ('a_to_b', 'b_to_a')
STALL_FRAMES = 2  # a percentile never rests on this many of a window's latest frames


@dataclass(frozen=True)
class SpanLateness:
    span_id: str  # fabric span id, 'a-b'
    delay_ms: float  # the span's one-way delay now
    frames: int  # frames delivered in the window, both directions
    p50_ms: float | None  # lateness percentiles over the window (None: no frames)
    p99_ms: float | None
    max_ms: float | None
    dropped_late: int  # frames dropped as overdue in the window

    @property
    def tolerance_ms(self) -> float:
        return TOLERANCE_MS + TOLERANCE_SHARE * self.delay_ms

    @property
    def lying(self) -> bool:  # late beyond tolerance: what was measured over it is not to be trusted
        late = self.p99_ms is not None and self.p99_ms > self.tolerance_ms
        return self.dropped_late > 0 or (late and self.frames > STALL_FRAMES)  # else: no evidence


@dataclass(frozen=True)
class LatenessMark:
    """The emulator's counters at one moment (opaque: pass it back to Emulation.lateness)."""

    stats: dict  # span id -> the emulator's stats of that span
    at: float = field(default_factory=time.monotonic)  # when


def window(now, since=None):
    """{span id: SpanLateness} from the emulator's stats now, over the window since `since`
    (a LatenessMark) or since each span was set up."""
    before = since.stats if since else {}
    result = {}
    for span_id, span in now.items():
        then = before.get(span_id)
        if then is not None and then['serial'] != span['serial']:
            then = None  # set up again since the mark (its counters started over)
        result[span_id] = _span_window(span_id, span, then)
    return result


def _span_window(span_id, span, then):
    buckets, frames, dropped_late, max_us = {}, 0, 0, None
    for direction in DIRECTIONS:
        d, old = span[direction], then[direction] if then else None
        sent = d['sent'] - (old['sent'] if old else 0)
        dropped_late += d['dropped_late'] - (old['dropped_late'] if old else 0)
        if sent <= 0:
            continue
        frames += sent
        old_counts = {(lo, hi): n for lo, hi, n in old['late_us']} if old else {}
        top = None
        for lo, hi, n in d['late_us']:
            n -= old_counts.get((lo, hi), 0)
            if n > 0:
                buckets[lo, hi] = buckets.get((lo, hi), 0) + n
                top = hi if top is None else max(top, hi)
        if old is None or d['late_max_ns'] > old['late_max_ns']:
            direction_max = d['late_max_ns'] / 1000  # reached in the window: exact
        else:
            direction_max = min(top, d['late_max_ns'] / 1000)
        max_us = direction_max if max_us is None else max(max_us, direction_max)
    p50 = p99 = None
    if frames:
        p50, p99 = (min(_percentile_us(buckets, frames, q), max_us) / 1000 for q in (0.5, 0.99))
    return SpanLateness(
        span_id=span_id,
        delay_ms=span['delay_ms'],
        frames=frames,
        p50_ms=p50,
        p99_ms=p99,
        max_ms=None if max_us is None else max_us / 1000,
        dropped_late=dropped_late,
    )


def _percentile_us(buckets, frames, q):
    """The upper edge of the bucket holding the q-quantile frame, leaving out the window's
    STALL_FRAMES latest frames when it has more. In a window of under 200 frames the 99th
    percentile would otherwise be one of them, and on these VMs the whole machine stops for
    0.3-1 ms now and then (both vCPUs at once, seen with a spinning real-time thread): each
    stop delays the frames in flight at that moment, moves no median and no minimum a
    measurement takes, and is no sign of an emulator over its budget. The max shows them."""
    rank, seen = max(1, min(frames - STALL_FRAMES, math.ceil(q * frames))), 0
    for (_lo, hi), n in sorted(buckets.items()):
        seen += n
        if seen >= rank:
            return hi
    raise AssertionError('buckets hold fewer frames than counted sent')
