"""How late the span emulators delivered frames: per span, over a window of time.

A frame is late by (delivered - due); a span whose emulator is late beyond its tolerance
(0.5 ms + 5% of its delay), or dropped a frame because it was overdue, is not the span it
claims to be: whatever was measured across the fabric meanwhile is not evidence.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class SpanLateness:
    """One span's lateness over a window (Emulation.lateness)."""

    span_id: str
    delay_ms: float  # the span's configured one-way delay
    frames: int  # frames delivered in the window
    p50_ms: float | None  # lateness (delivered - due) over the window; None without frames
    p99_ms: float | None
    max_ms: float | None
    dropped_late: int  # frames dropped because they were overdue

    @property
    def tolerance_ms(self):
        return 0.5 + 0.05 * self.delay_ms

    @property
    def lying(self):
        return self.dropped_late > 0 or (self.p99_ms is not None and self.p99_ms > self.tolerance_ms)
