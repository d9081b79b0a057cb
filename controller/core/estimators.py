"""The estimators behind controller.core.measurement: one-way delay per link from LLDP
probes, round trips per switch, and load per link from port counters.

Pure: every timestamp is passed in; nothing here reads a clock.

Noise in these measurements (thread scheduling, queueing in the OpenFlow channels) only ever
adds time, so the least value over a short window is the best estimate: the delay estimate is a
windowed minimum, and so is the round trip it subtracts (see RoundTrips for why both must be).
"""

import math
from collections import deque

from controller.core.topology import Link

# A span's delay is the least of its last DELAY_WINDOW probes (20 s at the southbound's one
# round every 0.5 s): on a 50-switch fabric a probe reads 0.8 ms more than the span at the
# median and 1.9 ms at p90 (the switches' and the controller's scheduling), so the least of
# a few is still noise. A span that becomes slower shows sooner. It looks risen once the last
# RISE_SAMPLES probes of each direction are all more than RISE_MS above that direction's
# least, and all but RISE_MISSES of them still are less the round trips timed beside them
# (the switches' latest loops); if it still does RISE_CONFIRM_S later (the next probe: every
# other span has been probed meanwhile), the window restarts from them, 1.5-2 s after the
# rise: an intent whose bound it breaks moves within the 3 s the policy engine promises.
# Unless more than RISE_ALONE spans looked risen at once within the last RISE_QUIET_S: a
# fiber that slows down is one span, while the controller or the machine being busy (a burst
# of reprogramming after a cut) holds up the probes of many. Smaller rises show after the
# window. Why one miss among four: the far switch's latest loop was timed up to half a
# second from the probe, and one slow loop makes a probe of a risen span read as not risen
# less the loops: on germany50 a quarter of them did, so two in a row each way (the rule
# before) took 3-10 s to show a 0.5 -> 5 ms rise in 3 of 8 runs. Replayed on every probe of
# two runs (docs/benchmarks.md): that rule and this one showed no rise from noise while
# nothing happened; judged without the loops, 11-18 spans rose from noise a run.
DELAY_WINDOW = 40
RISE_SAMPLES = 4
RISE_MISSES = 1
RISE_MS = 2.0
RISE_CONFIRM_S = 0.4
RISE_ALONE = 2
RISE_QUIET_S = 1.0
ECHO_WINDOW = 40  # round trips: subtracted from every probe, so as long a window as DELAY_WINDOW
# Bounce probes, one every one to three probe rounds per switch (its neighbours take their
# peers in turn): a switch's crossing is the least of the last 40, 20-60 s of them, as a span's
# delay is the least of 20 s. A crossing that rises shows that much later. The least of 5
# (2.5 s) was still noise on a busy machine, and a path's latency sums the crossings of all
# its switches: on germany50, while nothing happened, an intent on a path of 8 switches moved
# to one that read 1.2 ms faster.
CROSSING_WINDOW = 40
CROSSING_SAMPLES = 3  # a crossing counts once this many bounce probes agree on it
ECHO_TIMEOUT_S = 10.0  # an echo unanswered this long is lost; its reply no longer counts


class WindowedMinimum:
    """The least of each key's last `window` values (noise that only ever adds is filtered)."""

    def __init__(self, window: int):
        if window < 1:
            raise ValueError(f'window must be >= 1 sample, got {window}')
        self.window = window
        self._recent: dict[object, deque[float]] = {}

    def add(self, key: object, value: float) -> float:
        recent = self._recent.setdefault(key, deque(maxlen=self.window))
        recent.append(value)
        return min(recent)

    def count(self, key: object) -> int:
        return len(self._recent.get(key, ()))

    def get(self, key: object) -> float | None:
        recent = self._recent.get(key)
        return min(recent) if recent else None

    def forget(self, key: object) -> None:
        self._recent.pop(key, None)


class DelayEstimator:
    """One-way delay per link from LLDP probes.

    A probe leaves the controller at `sent_ns`, reaches the src switch (packet-out, about half
    the src switch's round trip), crosses the span, and comes back from the dst switch
    (packet-in, about half the dst switch's round trip) at `received_ns`. What remains after
    subtracting both halves is the span, plus noise that is never negative: so each
    direction's figure is the minimum over its last `window` samples, restarted when both
    directions rise together (see RISE_MS).

    A link's estimate is the mean of its span's two directions' figures, once both are
    measured: a span's fiber is the same both ways, and the halves subtracted are not exact
    (a switch's packet-out path and its packet-in path differ; measured up to 0.3 ms): what
    one direction reads too slow from that, the other reads too fast by as much.

    `received_ns` is the only clock: the quiet time after many spans looked risen is counted
    on it.
    """

    def __init__(
        self, window: int = DELAY_WINDOW, rise_samples: int = RISE_SAMPLES, rise_ms: float = RISE_MS
    ):
        if not 1 <= rise_samples < window:
            raise ValueError(f'need 1 <= rise_samples < window, got {rise_samples} and {window}')
        self.window, self.rise_samples, self.rise_ms = window, rise_samples, rise_ms
        self._recent: dict[Link, deque[float]] = {}  # per direction, ms
        self._beside: dict[Link, deque[float]] = {}  # the same less the latest round trips, ms
        self._risen: dict[frozenset[str], int] = {}  # span -> since when all its directions look risen
        self._crowded_ns: int | None = None  # when more than RISE_ALONE spans last looked risen
        self._rises: list[str] = []  # what each restart was taken from, until take_rises()

    def add(
        self,
        link: Link,
        sent_ns: int,
        received_ns: int,
        rtt_src_s: float | None,
        rtt_dst_s: float | None,
        latest_s: tuple[float, float] | None = None,
    ) -> float | None:
        """The link's new estimate in ms, or None (and nothing recorded) for a sample that
        cannot be used: received before sent, or a round trip not known yet or not a
        non-negative number. `latest_s`: the two switches' latest round trips (default: the
        ones given), which a rise is judged on: a busy controller or machine holds up a probe
        and the round trips timed beside it alike, a slower fiber only the probe."""
        if rtt_src_s is None or rtt_dst_s is None or received_ns < sent_ns:
            return None
        latest = latest_s or (rtt_src_s, rtt_dst_s)
        if not all(math.isfinite(r) and r >= 0 for r in (rtt_src_s, rtt_dst_s, *latest)):
            return None
        transit_ms = (received_ns - sent_ns) / 1e6
        recent = self._recent.setdefault(link, deque(maxlen=self.window))
        recent.append(max(0.0, transit_ms - (rtt_src_s + rtt_dst_s) / 2 * 1e3))
        beside = self._beside.setdefault(link, deque(maxlen=self.window))
        beside.append(transit_ms - sum(latest) / 2 * 1e3)
        directions = [d for d in (recent, self._recent.get(link.reverse())) if d is not None]
        judged = [d for d in (beside, self._beside.get(link.reverse())) if d is not None]
        span = frozenset((link.src, link.dst))
        since = None
        if all(self._looks_risen(r, b) for r, b in zip(directions, judged, strict=True)):
            since = self._risen.setdefault(span, received_ns)
        else:
            self._risen.pop(span, None)
        if len(self._risen) > RISE_ALONE:
            self._crowded_ns = received_ns
        quiet = self._crowded_ns is None or received_ns - self._crowded_ns > RISE_QUIET_S * 1e9
        if since is not None and received_ns - since >= RISE_CONFIRM_S * 1e9 and quiet:
            del self._risen[span]
            before = self.estimate_ms(link)
            for d in directions + judged:
                kept = list(d)[-self.rise_samples :]  # risen in each direction
                d.clear()
                d.extend(kept)
            self._rises.append(self._rise_text(link, before, directions, judged, since, received_ns))
        return self.estimate_ms(link)

    def _rise_text(
        self,
        link: Link,
        before: float | None,
        directions: list[deque[float]],
        judged: list[deque[float]],
        since_ns: int,
        now_ns: int,
    ) -> str:
        def ms(values: deque[float]) -> str:
            return '/'.join(f'{v:.2f}' for v in values)

        pairs = zip(directions, judged, strict=True)
        each = '; '.join(f'{ms(r)} ms ({ms(b)} less the latest loops)' for r, b in pairs)
        return (
            f'span {link.src}-{link.dst} slowed down: {before:.2f} -> {self.estimate_ms(link):.2f} ms, '
            f'risen for {(now_ns - since_ns) / 1e9:.1f} s; its last probes each way: {each}'
        )

    def take_rises(self) -> list[str]:
        """What each restart since the last call was taken from, for the operator's log: a
        span that slows down moves intents, so why the controller believed it is worth keeping."""
        rises, self._rises = self._rises, []
        return rises

    def _looks_risen(self, recent: deque[float], beside: deque[float]) -> bool:
        """Whether the last rise_samples samples are all more than rise_ms above the least of
        the samples before, and all but RISE_MISSES of them still are less the round trips
        timed beside them. (Not above the least of those less the round trips: one slow loop
        makes that the least by far.)"""
        k = self.rise_samples
        if len(recent) <= k:
            return False
        threshold = min(list(recent)[:-k]) + self.rise_ms
        under = sum(1 for b in list(beside)[-k:] if b <= threshold)
        return min(list(recent)[-k:]) > threshold and under <= min(RISE_MISSES, k - 1)

    def estimate_ms(self, link: Link) -> float | None:
        """The mean of the span's two directions' minima; the link's own until the other
        direction is measured; None before a sample."""
        figures = [min(d) for d in (self._recent.get(link), self._recent.get(link.reverse())) if d]
        if not self._recent.get(link):
            return None
        return sum(figures) / len(figures)

    def forget(self, link: Link) -> None:
        """Drop the link's history (its span went down): a restored span may have come back
        on another fiber route, so it is measured afresh."""
        self._recent.pop(link, None)
        self._beside.pop(link, None)
        self._risen.pop(frozenset((link.src, link.dst)), None)


class RoundTrips:
    """Round trips per switch (datapath id), to correct LLDP delays: OpenFlow echoes (matched
    by xid) or loop probes (which carry their own send time).

    `rtt_s` is the minimum of the last `window` round trips, not the latest one:
    DelayEstimator subtracts it, so a single slow echo would make every probe look faster than
    the span and the delay's windowed minimum would keep that wrong value. With the minimum,
    noise on either measurement can only make the delay look larger, never smaller.
    """

    def __init__(self, window: int = ECHO_WINDOW, timeout_s: float = ECHO_TIMEOUT_S):
        if window < 1:
            raise ValueError(f'window must be >= 1 round trip, got {window}')
        self.window, self.timeout_s = window, timeout_s
        self._pending: dict[int, dict[int, float]] = {}  # dpid -> {xid: sent at}
        self._rtts: dict[int, deque[float]] = {}  # dpid -> its last round trips, s

    def sent(self, dpid: int, xid: int, now: float) -> None:
        pending = self._expire(dpid, now)
        pending[xid] = now

    def replied(self, dpid: int, xid: int, now: float) -> None:
        """Ignored for an xid we did not send, or sent longer than `timeout_s` ago, or already
        answered."""
        sent_at = self._expire(dpid, now).pop(xid, None)
        if sent_at is not None and now >= sent_at:
            self.measured(dpid, now - sent_at)

    def measured(self, dpid: int, rtt_s: float) -> None:
        """A round trip timed without an xid (a loop probe carries its own send time)."""
        if rtt_s >= 0 and math.isfinite(rtt_s):
            self._rtts.setdefault(dpid, deque(maxlen=self.window)).append(rtt_s)

    def latest_s(self, dpid: int) -> float | None:
        """The last round trip timed, None until the switch has answered once."""
        rtts = self._rtts.get(dpid)
        return rtts[-1] if rtts else None

    def rtt_s(self, dpid: int) -> float | None:
        """None until the switch has answered once."""
        rtts = self._rtts.get(dpid)
        return min(rtts) if rtts else None

    def forget(self, dpid: int) -> None:
        """The switch disconnected: a new connection may take another route."""
        self._pending.pop(dpid, None)
        self._rtts.pop(dpid, None)

    def _expire(self, dpid: int, now: float) -> dict[int, float]:
        pending = self._pending.setdefault(dpid, {})
        for xid in [x for x, at in pending.items() if now - at > self.timeout_s]:
            del pending[xid]
        return pending


class UtilizationMeter:
    """Load per link, from the tx_bytes counter of the src switch's span port.

    The rate is taken over the interval between two readings. A counter that goes backwards
    was reset (switch restart, port re-added): that reading starts a new interval.
    """

    def __init__(self) -> None:
        self._reading: dict[Link, tuple[int, float]] = {}  # Link -> (tx_bytes, at)

    def add(self, link: Link, tx_bytes: int, now: float) -> float | None:
        """The rate in Mb/s since the previous reading; None on the first reading and after a
        reset. A reading not later than the previous one is ignored (None)."""
        previous = self._reading.get(link)
        if previous is not None and now <= previous[1]:
            return None
        self._reading[link] = (tx_bytes, now)
        if previous is None or tx_bytes < previous[0]:
            return None
        return (tx_bytes - previous[0]) * 8 / 1e6 / (now - previous[1])

    def forget(self, link: Link) -> None:
        self._reading.pop(link, None)


class Ranges:
    """The least and the most of each key's readings over the last `keep_s` seconds, kept as
    one (second, least, most) bucket per second it was read in: a link is read twice a
    second, and a range over a minute is then 60 buckets, not 120 readings."""

    def __init__(self, keep_s: float):
        if keep_s < 0:
            raise ValueError(f'keep_s must be >= 0, got {keep_s}')
        self.keep_s = keep_s
        self._buckets: dict[object, deque[list[float]]] = {}

    def add(self, key: object, value: float, now: float) -> None:
        buckets = self._buckets.setdefault(key, deque())
        second = math.floor(now)
        if buckets and buckets[-1][0] == second:
            bucket = buckets[-1]
            bucket[1], bucket[2] = min(bucket[1], value), max(bucket[2], value)
        else:
            buckets.append([second, value, value])
        while buckets[0][0] < second - self.keep_s:
            buckets.popleft()

    def range(self, key: object, now: float) -> tuple[float, float] | None:
        """(least, most) of the key's readings within `keep_s` before `now` (to the second),
        or None if there were none."""
        since = math.floor(now) - self.keep_s
        kept = [b for b in self._buckets.get(key, ()) if b[0] >= since]
        if not kept:
            return None
        return min(b[1] for b in kept), max(b[2] for b in kept)
