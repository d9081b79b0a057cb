"""Per-intent telemetry: what each intent carries and drops, its path's latency and jitter,
and its SLA over a window, from the switches' counters and the core's own state.

Counters (cumulative, from the southbound once a second, already plain data; rates are
shown in Gb/s at the fabric's scale, as its intents' bandwidth is):
- an intent's ingress meter (id = its intent number, at its src site's switch for src->dst
  and at its dst site's switch for the way back): bytes in, and bytes and frames its drop
  band dropped;
- its egress flows (those that pop its label and output to the tenant port; a protected
  intent has one for the primary and one for the backup): bytes out.

A counter that went back, or whose age (the switch's duration) went back, was reset (a
meter re-created, a switch restarted): that sample is a new baseline and yields nothing, so
a reset never shows as a negative rate or a spike of drops. Totals of drops add up the
deltas seen, so they count what was dropped while the controller watched.

Status (AVAILABLE, RATE, LATENCY, see `status`) is kept as segments: a new one only when an
intent's status changes, at most MAX_SEGMENTS an intent and none ended more than HISTORY_S
ago. The SLA clock of an intent starts when it is first INSTALLED (setting up is not an
outage) and stops when it is withdrawn.

Jitter: the mean absolute difference of consecutive latency samples (one a second, the last
JITTER_SAMPLES), as RFC 3550 smooths it for packets; the latency is the core's estimate of
the path (min-filtered probes), so it moves when the path or the spans' delays change, not
with each frame's queueing.
"""

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from controller.core.admission import Placement
from controller.core.books import Books
from controller.core.intent import Intent, State
from controller.core.paths import Path
from controller.core.topology import Topology

HISTORY_S = 24 * 3600.0  # the longest window an SLA report covers
MAX_SEGMENTS = 10_000  # an intent's status segments kept at most (a flapping span: ~3 h of 1 s flaps)
DEFAULT_WINDOW_S = 300.0
JITTER_SAMPLES = 30
SAMPLE_EVERY_S = 1.0  # latency samples, and a look at every intent's status
STALE_S = 5.0  # a counter not heard of for this long no longer counts in a rate
FORGET_S = 60.0  # nor is it kept (a moved intent's old egress flows, a withdrawn one's meters)
AVAILABLE, RATE, LATENCY = 1, 2, 4  # status bits
FORWARD, REVERSE = 'forward', 'reverse'
EPS = 1e-9


@dataclass(frozen=True)
class DirectionStats:
    """One direction of an intent (forward: src -> dst)."""

    rate_in_gbps: float = 0.0  # entering its ingress meter
    rate_out_gbps: float = 0.0  # leaving its egress flows
    dropped_bytes: int = 0  # by its meter, since the controller watched
    dropped_frames: int = 0
    drop_rate_gbps: float = 0.0
    drop_frames_per_s: float = 0.0
    latency_ms: float | None = None  # of the path in use, as measured
    jitter_ms: float | None = None  # None until two samples


@dataclass(frozen=True)
class Outage:
    start: float
    duration_s: float
    ongoing: bool


@dataclass(frozen=True)
class SlaReport:
    window_s: float
    observed_s: float  # of the window, since the intent was first INSTALLED
    within_latency: float  # shares of observed_s (1.0 when nothing was observed)
    rate_available: float
    availability: float
    outages: tuple[Outage, ...]


@dataclass(frozen=True)
class IntentStatsView:
    intent_id: str
    tenant: str
    state: State
    at: float
    forward: DirectionStats
    reverse: DirectionStats
    sla: SlaReport | None  # None when not asked for


@dataclass(frozen=True)
class Traffic:
    """An intent's meters, both ends: what /metrics shows of its telemetry."""

    rate_in_forward_gbps: float
    rate_in_reverse_gbps: float
    dropped_bytes: int  # as the switches count them (the emulation's scale)
    dropped_frames: int


@dataclass
class _Counter:
    values: tuple[int, ...]
    age_ns: int
    stamp_ns: int


@dataclass
class _Direction:
    rate_in: tuple[float, int] = (0.0, 0)  # (bytes/s, stamp ns of the sample)
    drops: tuple[float, float, int] = (0.0, 0.0, 0)  # (bytes/s, frames/s, stamp ns)
    dropped_bytes: int = 0
    dropped_frames: int = 0
    rate_out: dict[int, tuple[float, int]] = field(default_factory=dict)  # by egress label
    latency_ms: float | None = None  # of the path in use when last looked at; None: no live path
    last_sample: float | None = None
    steps: deque = field(default_factory=lambda: deque(maxlen=JITTER_SAMPLES - 1))  # |change| ms

    def sampled(self, latency_ms: float | None, sample: bool) -> None:
        self.latency_ms = latency_ms
        if sample and latency_ms is not None:
            if self.last_sample is not None:
                self.steps.append(abs(latency_ms - self.last_sample))
            self.last_sample = latency_ms

    def fresh_rate_in(self, stamp_ns: int) -> float:
        return _fresh(*self.rate_in, stamp_ns)

    def stats(self, stamp_ns: int, scale: float) -> DirectionStats:
        def fresh(rate: float, at: int) -> float:
            return _fresh(rate, at, stamp_ns)

        out = sum(fresh(r, at) for r, at in self.rate_out.values())
        jitter = sum(self.steps) / len(self.steps) if self.steps else None
        return DirectionStats(
            _gbps(fresh(*self.rate_in), scale),
            _gbps(out, scale),
            self.dropped_bytes,
            self.dropped_frames,
            _gbps(fresh(self.drops[0], self.drops[2]), scale),
            fresh(self.drops[1], self.drops[2]),
            self.latency_ms,
            jitter,
        )


@dataclass
class _Intent:
    directions: dict[str, _Direction] = field(
        default_factory=lambda: {FORWARD: _Direction(), REVERSE: _Direction()}
    )
    segments: deque = field(default_factory=lambda: deque(maxlen=MAX_SEGMENTS))  # (start, status | None)
    # The paths it was last INSTALLED on, while the switches carry them (None once FAILED).
    installed: tuple[Path | None, Path | None] | None = None


class Telemetry:
    def __init__(self, bandwidth_scale: float = 1.0) -> None:
        """`bandwidth_scale`: the emulation's (fabric file): rates are shown at the fabric's
        scale, as intents' bandwidth_gbps are; byte and frame counts as the switches count."""
        self.scale = bandwidth_scale
        self._intents: dict[str, _Intent] = {}
        self._counters: dict[tuple, _Counter] = {}  # (dpid, 'meter' | 'flow', id) -> last sample
        self._stamp_ns = 0  # the latest counter stamp: what rates are judged fresh against
        self._sampled_at = float('-inf')
        self._counted = 0  # samples, to forget old counters now and then

    # --- counters -------------------------------------------------------------------------

    def meter(
        self,
        intent_id: str,
        direction: str,
        dpid: int,
        meter_id: int,
        bytes_in: int,
        band_bytes: int,
        band_frames: int,
        age_ns: int,
        stamp_ns: int,
    ) -> None:
        """An intent's ingress meter's counters (cumulative) as the switch gave them."""
        d = self._of(intent_id).directions[direction]
        step = self._step((dpid, 'meter', meter_id), (bytes_in, band_bytes, band_frames), age_ns, stamp_ns)
        if step is None:
            return
        (in_delta, bytes_delta, frames_delta), seconds = step
        d.dropped_bytes += bytes_delta
        d.dropped_frames += frames_delta
        d.rate_in = (in_delta / seconds, stamp_ns)
        d.drops = (bytes_delta / seconds, frames_delta / seconds, stamp_ns)

    def egress(
        self,
        intent_id: str,
        direction: str,
        dpid: int,
        label: int,
        bytes_out: int,
        age_ns: int,
        stamp_ns: int,
    ) -> None:
        """An egress flow's byte counter (the flow that pops `label` at the far end)."""
        d = self._of(intent_id).directions[direction]
        step = self._step((dpid, 'flow', label), (bytes_out,), age_ns, stamp_ns)
        if step is not None:
            d.rate_out[label] = (step[0][0] / step[1], stamp_ns)

    def switch_gone(self, dpid: int) -> None:
        """A switch (re)connected or left: its next counters are a new baseline."""
        for key in [k for k in self._counters if k[0] == dpid]:
            del self._counters[key]

    def _step(
        self, key: tuple, values: tuple[int, ...], age_ns: int, stamp_ns: int
    ) -> tuple[tuple[int, ...], float] | None:
        """(deltas, seconds) since the counter's last sample, or None for a first sample, a
        reset, or no time passed."""
        self._stamp_ns = max(self._stamp_ns, stamp_ns)
        last = self._counters.get(key)
        self._counters[key] = _Counter(values, age_ns, stamp_ns)
        went_back = last is not None and any(v < u for v, u in zip(values, last.values, strict=True))
        if last is None or age_ns < last.age_ns or went_back:
            return None
        seconds = (age_ns - last.age_ns if age_ns > last.age_ns else stamp_ns - last.stamp_ns) / 1e9
        if seconds <= 0:
            return None
        return tuple(v - u for v, u in zip(values, last.values, strict=True)), seconds

    # --- status -----------------------------------------------------------------------------

    def due(self, now: float) -> bool:
        """Whether a sample of every intent is due (once a second); forgets old counters."""
        if now - self._sampled_at < SAMPLE_EVERY_S:
            return False
        self._sampled_at = now
        self._counted += 1
        if self._counted % int(FORGET_S / SAMPLE_EVERY_S) == 0:
            self._forget_counters(self._stamp_ns - int(FORGET_S * 1e9))
        return True

    def _forget_counters(self, before_ns: int) -> None:
        """Counters last heard of before `before_ns` are gone from the switches."""
        self._counters = {k: c for k, c in self._counters.items() if c.stamp_ns >= before_ns}
        for t in self._intents.values():
            for d in t.directions.values():
                for label in [label for label, (_, at) in d.rate_out.items() if at < before_ns]:
                    del d.rate_out[label]

    def observe(
        self,
        intent: Intent,
        placement: Placement | None,
        topology: Topology,
        books: Books,
        now: float,
        sample: bool = False,
        since: float | None = None,
    ) -> None:
        """Note the intent's status at `now` (a segment when it changed); with `sample`, also
        a latency sample of each direction. `since`: when its traffic may have taken its path
        already (the switches' latest flip): an outage it ends ended then, if that came after
        the outage began."""
        t = self._intents.get(intent.id)
        if intent.state is State.INSTALLED and placement is not None:
            t = t or self._of(intent.id)
            t.installed = (placement.primary, placement.backup)
        if t is None or (t.installed is None and not t.segments):
            return  # never INSTALLED yet: its SLA has not started
        if not intent.active or intent.state is State.WITHDRAWING:
            t.installed = None  # its flows are gone: no path carries it until INSTALLED again
        in_use = self._in_use(intent, t, topology)
        latency = (in_use[0].latency_ms(topology), in_use[1].latency_ms(topology)) if in_use else (None, None)
        if intent.state in (State.WITHDRAWING, State.WITHDRAWN):
            status = None
        else:
            status = status_of(intent, in_use, latency, books)
        if since is not None and _available(status):
            now = _outage_end(t.segments, since, now)
            while t.segments and t.segments[-1][0] > now:  # noted during the outage, after its end
                t.segments.pop()
        if not t.segments or t.segments[-1][1] != status:
            t.segments.append((now, status))
        while len(t.segments) > 1 and t.segments[1][0] < now - HISTORY_S:
            t.segments.popleft()
        t.directions[FORWARD].sampled(latency[0], sample)
        t.directions[REVERSE].sampled(latency[1], sample)

    def _in_use(self, intent: Intent, t: _Intent, topology: Topology) -> tuple[Path, Path] | None:
        """The path the traffic takes (forward, reverse) if one is live, else None. While an
        intent moves make-before-break (COMPILING, INSTALLING) its traffic is still on the
        paths it was last INSTALLED on; a protected intent whose primary is cut is on its backup."""
        if t.installed is None or intent.state not in (State.INSTALLED, State.INSTALLING, State.COMPILING):
            return None
        for path in t.installed:
            if path is not None and all(topology.span_of(link).up for link in path.links):
                return path, reverse(path)
        return None

    def forget(self, intent_ids: Iterable[str]) -> None:
        for intent_id in intent_ids:
            self._intents.pop(intent_id, None)

    # --- reading ------------------------------------------------------------------------------

    def view(self, intent: Intent, now: float, window_s: float | None = DEFAULT_WINDOW_S) -> IntentStatsView:
        """The intent's figures at `now`, with its SLA report over `window_s` (None: without)."""
        t = self._intents.get(intent.id) or _Intent()
        return IntentStatsView(
            intent.id,
            intent.tenant,
            intent.state,
            now,
            t.directions[FORWARD].stats(self._stamp_ns, self.scale),
            t.directions[REVERSE].stats(self._stamp_ns, self.scale),
            None if window_s is None else sla(t.segments, now, window_s),
        )

    def traffic(self) -> dict[str, Traffic]:
        """What every intent's meters counted, for /metrics (a few us an intent: no views)."""
        scale, stamp_ns = self.scale, self._stamp_ns
        out = {}
        for intent_id, t in self._intents.items():
            f, r = t.directions[FORWARD], t.directions[REVERSE]
            out[intent_id] = Traffic(
                _gbps(f.fresh_rate_in(stamp_ns), scale),
                _gbps(r.fresh_rate_in(stamp_ns), scale),
                f.dropped_bytes + r.dropped_bytes,
                f.dropped_frames + r.dropped_frames,
            )
        return out

    def _of(self, intent_id: str) -> _Intent:
        t = self._intents.get(intent_id)
        if t is None:
            t = self._intents[intent_id] = _Intent()
        return t


def status_of(
    intent: Intent,
    in_use: tuple[Path, Path] | None,
    latency_ms: tuple[float | None, float | None],
    books: Books,
) -> int:
    """AVAILABLE: on a live path (INSTALLED, or moving make-before-break off a live one);
    RATE: and the path's committed reservation holds (booked at the intent's rate);
    LATENCY: within max_latency_ms both ways (always, without a bound, while available)."""
    if in_use is None:
        return 0
    status = AVAILABLE
    links = set(in_use[0].links) | set(in_use[1].links)
    held = [books.committed.reservation((intent.id, role)) for role in ('primary', 'backup')]
    if any(r is not None and links <= set(r[0]) and r[1] >= intent.bandwidth_gbps - EPS for r in held):
        status |= RATE
    bound = intent.max_latency_ms
    if bound is None or max(ms or 0.0 for ms in latency_ms) <= bound + EPS:
        status |= LATENCY
    return status


def sla(segments: Iterable[tuple[float, int | None]], now: float, window_s: float) -> SlaReport:
    """The SLA report of status segments over [now - window_s, now]."""
    start = now - window_s
    observed, shares = 0.0, {AVAILABLE: 0.0, RATE: 0.0, LATENCY: 0.0}
    outages: list[Outage] = []
    down_since: float | None = None
    items = list(segments)
    for i, (begin, status) in enumerate(items):
        end = items[i + 1][0] if i + 1 < len(items) else now
        lo, hi = max(begin, start), min(end, now)
        if status is not None and not status & AVAILABLE:
            down_since = begin if down_since is None else down_since
        else:
            if down_since is not None and begin > start:
                outages.append(Outage(max(down_since, start), begin - max(down_since, start), False))
            down_since = None
        if hi <= lo or status is None:
            continue
        observed += hi - lo
        for bit in shares:
            if status & bit:
                shares[bit] += hi - lo
    if down_since is not None and now > start:
        outages.append(Outage(max(down_since, start), now - max(down_since, start), True))

    def share(bit: int) -> float:
        return shares[bit] / observed if observed > 0 else 1.0

    return SlaReport(window_s, observed, share(LATENCY), share(RATE), share(AVAILABLE), tuple(outages))


def reverse(path: Path) -> Path:
    return Path(tuple(link.reverse() for link in reversed(path.links)))


def _available(status: int | None) -> bool:
    return status is not None and bool(status & AVAILABLE)


def _outage_end(segments: deque, since: float, now: float) -> float:
    """When an outage that ends by `now` ended: `since`, if it came after the outage began
    (the segments not available at their end), else `now`."""
    k = len(segments)
    while k > 0 and not _available(segments[k - 1][1]):
        k -= 1
    if k == len(segments):
        return now  # no outage to end
    return since if segments[k][0] < since < now else now


def _fresh(rate: float, at: int, stamp_ns: int) -> float:
    """A rate, or 0 once its counter was not heard of for STALE_S (of the newest stamp)."""
    return rate if at and stamp_ns - at <= STALE_S * 1e9 else 0.0


def _gbps(bytes_per_s: float, scale: float) -> float:
    return bytes_per_s * 8 / 1e9 / scale


def direction_of(intent: Intent, site: str, ingress: bool) -> str | None:
    """Which direction a counter at `site` measures: an ingress meter at src (an egress flow
    at dst) is forward."""
    if site not in (intent.src, intent.dst):
        return None
    return FORWARD if (site == intent.src) == ingress else REVERSE
