"""Whether the machine keeps within its budget: which spans' emulators were late beyond their
tolerance over a window (lateness.SpanLateness), in words and numbers, and a watch that says
so live while a fabric runs.

A span emulator late beyond its tolerance means the cores could not keep up: the span
emulators, the switches and the controller share them, so while any span lies nothing
measured across the fabric is evidence of the network it emulates.
"""

import threading
from dataclasses import asdict

WARN_EVERY_S = 5.0  # the live watch looks at this window, and warns at most once per window
SHOWN = 5  # spans named in one line; the rest are counted


def lying(lateness):
    """The spans of {span id: SpanLateness} that lied, the worst first (dropped frames, then
    p99 lateness as a share of its tolerance)."""
    return sorted(
        (s for s in lateness.values() if s.lying),
        key=lambda s: (-s.dropped_late, -((s.p99_ms or 0.0) / s.tolerance_ms), s.span_id),
    )


def describe(s):
    """One span's lateness in words: 'a-b: late p99 2.10 ms > 0.70 ms tolerance (p50 0.30,
    max 5.30 ms, 4000 frames), 12 dropped late'."""
    if s.p99_ms is None:
        text = f'{s.span_id}: no frame delivered'
    else:
        beyond = '>' if s.p99_ms > s.tolerance_ms else '<='
        text = (
            f'{s.span_id}: late p99 {s.p99_ms:.2f} ms {beyond} {s.tolerance_ms:.2f} ms tolerance '
            f'(p50 {s.p50_ms:.2f}, max {s.max_ms:.2f} ms, {s.frames} frames)'
        )
    return text + (f', {s.dropped_late} dropped late' if s.dropped_late else '')


def describe_lying(spans, shown=SHOWN):
    """'a-b p99 ...; c-d p99 ...; and 3 more spans' for a list from lying()."""
    text = '; '.join(describe(s) for s in spans[:shown])
    more = len(spans) - shown
    return text + (f'; and {more} more span{"s" if more > 1 else ""}' if more > 0 else '')


def as_dict(s):
    """A SpanLateness for JSON: its fields, its tolerance and whether it lied."""
    return {**asdict(s), 'tolerance_ms': round(s.tolerance_ms, 3), 'lying': s.lying}


def over_budget_line(spans, window_s):
    """The live warning for a non-empty list from lying()."""
    return (
        f'warning: the machine is over its budget: {len(spans)} span'
        f'{"s" if len(spans) > 1 else ""} late beyond tolerance over the last {window_s:.0f} s, '
        f'so what is measured now is not evidence: {describe_lying(spans, shown=3)}'
    )


class BudgetWatch:
    """While running, every `every_s` looks at the spans' lateness over the last window and
    calls warn(line) if any span lied in it: at most one line per window.

    `emulation` needs lateness_mark() and lateness(since=mark), callable from this thread."""

    def __init__(self, emulation, warn, every_s=WARN_EVERY_S):
        self.emulation, self.warn, self.every_s = emulation, warn, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name='budget-watch', daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.every_s + 5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _watch(self):
        mark = self.emulation.lateness_mark()
        while not self._stop.wait(self.every_s):
            try:
                lateness = self.emulation.lateness(since=mark)
                mark = self.emulation.lateness_mark()
            except Exception as e:  # the emulation is being torn down: nothing left to watch
                if not self._stop.is_set():
                    self.warn(f"warning: cannot read the span emulators' lateness: {e}")
                return
            spans = lying(lateness)
            if spans:
                self.warn(over_budget_line(spans, self.every_s))
