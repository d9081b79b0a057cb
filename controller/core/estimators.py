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

# A span that becomes slower shows in the delay estimate (the minimum of the last
# DELAY_WINDOW probes) after DELAY_WINDOW probe rounds: 1.5 s at the southbound's one round
# every 0.5 s, so an intent whose bound it breaks moves well within the 3 s the policy
# engine promises.
DELAY_WINDOW = 3
ECHO_WINDOW = 5  # round trips
CROSSING_WINDOW = 5  # bounce probes: a switch's crossing changes slowly, and it is small
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
    subtracting both halves is the span, plus noise that is never negative: so the estimate is
    the minimum over the link's last `window` samples, which still follows a span that becomes
    slower within `window` probes.
    """

    def __init__(self, window: int = DELAY_WINDOW):
        self._recent = WindowedMinimum(window)  # per Link, ms
        self.window = window

    def add(
        self, link: Link, sent_ns: int, received_ns: int, rtt_src_s: float | None, rtt_dst_s: float | None
    ) -> float | None:
        """The link's new estimate in ms, or None (and nothing recorded) for a sample that
        cannot be used: received before sent, or a round trip not known yet or not a
        non-negative number."""
        if rtt_src_s is None or rtt_dst_s is None or received_ns < sent_ns:
            return None
        if not all(math.isfinite(r) and r >= 0 for r in (rtt_src_s, rtt_dst_s)):
            return None
        channel_ns = (rtt_src_s + rtt_dst_s) / 2 * 1e9
        return self._recent.add(link, max(0.0, (received_ns - sent_ns - channel_ns) / 1e6))

    def estimate_ms(self, link: Link) -> float | None:
        return self._recent.get(link)

    def forget(self, link: Link) -> None:
        """Drop the link's history (its span went down): a restored span may have come back
        on another fiber route, so it is measured afresh."""
        self._recent.forget(link)


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
