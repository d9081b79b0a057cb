"""Gray failures: spans whose carrier stays up while they drop frames. The switches' port
status says nothing (their fast-failover groups watch carrier only); the controller finds them
from what it already gathers, and treats a gray span as down until it is clear again.

- A stall: the LLDP probes sent on a link every probe round (0.5 s) stop coming back. A link
  is stalled once its last SILENT_PROBES probes never arrived though probes sent a grace later
  (three times the link's usual probe transit, at least ARRIVAL_MIN_S) have, and its far
  switch has handed in a probe since the link was last (re)set (a switch connecting, a port
  coming up), and the link itself carried one since: 0.8-1.2 s after the stall began
  (measured on triangle); a span that comes back already stalled is not seen so. Judged by
  what has arrived, not by the clock: a controller slow to take its packet-ins in (a busy
  machine), or a switch not yet programmed to hand probes in (starting), shows no stall.
- Loss: the span ports' packet counters (read every second, timed by each port's own clock):
  what the near end sent against what the far end received, as rates over each read's
  interval. The two ends are read at different moments, so a read counts only while the rate
  sent is steady (within STEADY of the interval before: traffic moving onto or off the span
  would look like loss). A link is lossy once LOSSY_READS such reads in a row show LOSSY_SHARE
  or more of at least MIN_FRAMES frames lost: in 2-3 s. Without traffic a lossy span hurts
  nobody and shows nothing.
- Clear again: a gray span carries no traffic once avoided, so only probes can clear it: every
  probe of the last CLEAR_PROBES[why] came through, both ways (10 s for a stall, 20 s after
  loss: a span losing 10% passes 40 probes in a row 1.5% of the time).

Pure: stamps come in (seconds, one monotonic clock); changes go out as (span id, gray, reason).
"""

from collections import deque
from collections.abc import Iterable

from controller.core.topology import Link

SILENT_PROBES = 2
ARRIVAL_MIN_S = 0.1
LOSSY_SHARE, LOSSY_READS, MIN_FRAMES = 0.05, 2, 100
STEADY = 0.1
CLEAR_PROBES = {'stall': 20, 'loss': 40}
KEPT = 64  # probes remembered per link
EVAL_EVERY_S = 0.1  # changes() looks at most this often (it is asked at every probe and read)


class _LinkProbes:
    def __init__(self) -> None:
        self.sent: deque[list] = deque(maxlen=KEPT)  # [sent s, arrived]
        self.transit_s: float | None = None  # the least a probe took to arrive
        self.seen = False  # one of its own probes arrived since it was (re)set


class GrayFailures:
    def __init__(self, spans: Iterable) -> None:
        self._span_of: dict[Link, str] = {}
        for span in spans:
            self._span_of[Link(span.a, span.b)] = self._span_of[Link(span.b, span.a)] = span.id
        self._probes = {link: _LinkProbes() for link in self._span_of}
        self._reads: dict[Link, deque] = {link: deque(maxlen=LOSSY_READS + 1) for link in self._span_of}
        # link -> its last reads (s, packets): sent at its near end (three: a rate and the one
        # before it), received at its far end (two)
        self._tx: dict[Link, deque] = {link: deque(maxlen=3) for link in self._span_of}
        self._rx: dict[Link, deque] = {link: deque(maxlen=2) for link in self._span_of}
        self.gray: dict[str, str] = {}  # span id -> 'stall' or 'loss'
        self._horizon_s = float('-inf')  # the latest send of a probe that has arrived
        self._into: dict[str, float] = {}  # site -> the latest send of a probe that arrived there
        self._looked_s = float('-inf')

    # --- facts --------------------------------------------------------------------------------

    def probe_sent(self, link: Link, sent_s: float) -> None:
        if link in self._probes:
            self._probes[link].sent.append([sent_s, False])

    def probe_arrived(self, link: Link, sent_s: float, received_s: float) -> None:
        probes = self._probes.get(link)
        if probes is None:
            return
        for probe in reversed(probes.sent):
            if abs(probe[0] - sent_s) < 1e-6:
                probe[1] = True
                break
        transit = received_s - sent_s
        probes.transit_s = transit if probes.transit_s is None else min(probes.transit_s, transit)
        probes.seen = True
        self._horizon_s = max(self._horizon_s, sent_s)
        self._into[link.dst] = max(self._into.get(link.dst, sent_s), sent_s)

    def counters(self, link: Link, end: str, stamp_s: float, packets: int) -> None:
        """A packet counter of `link`: 'tx' at its near end's port, 'rx' at its far end's. Each
        far-end read, with the near end's last two, is one read of the link's loss."""
        if link not in self._reads:
            return
        (self._tx if end == 'tx' else self._rx)[link].append((stamp_s, packets))
        tx, rx = self._tx[link], self._rx[link]
        if end != 'rx' or len(tx) < 3 or len(rx) < 2:
            return
        (tb, txb), (t0, tx0), (t1, tx1) = tx
        (r0, rx0), (r1, rx1) = rx
        if not (tb < t0 < t1 and r0 < r1 and txb <= tx0 <= tx1 and rx0 <= rx1):
            return  # counters restarted (a switch reconnected, a port came back)
        tx_rate, rx_rate = (tx1 - tx0) / (t1 - t0), (rx1 - rx0) / (r1 - r0)
        before = (tx0 - txb) / (t0 - tb)
        if tx_rate <= 0 or abs(tx_rate - before) > STEADY * tx_rate:
            self._reads[link].append((0, 0.0))  # not steady: no read of its loss
            return
        self._reads[link].append((tx1 - tx0, 1 - rx_rate / tx_rate))

    def forget(self, links: Iterable[Link]) -> None:
        """These links start over (their switch reconnected, their port went down)."""
        for link in links:
            if link in self._probes:
                self._probes[link] = _LinkProbes()
                self._reads[link].clear()
                self._tx[link].clear()
                self._rx[link].clear()

    # --- verdicts -----------------------------------------------------------------------------

    def changes(self, now_s: float, usable: Iterable[str]) -> list[tuple[str, bool, str]]:
        """What turned gray or clear since the last call: (span id, gray, reason). `usable`: the
        spans whose carrier and switches are up (the others are down for plainer reasons)."""
        if now_s - self._looked_s < EVAL_EVERY_S:
            return []
        self._looked_s = now_s
        usable = set(usable)
        # A span that is down for a plainer reason (cut, a switch gone) starts over once back:
        # what was lost while it was down says nothing of how it carries now.
        # (A gray span stays gray: back up, it must show its probes come through again.)
        self.forget(l for l, s in self._span_of.items() if s not in usable and self._probes[l].sent)
        out: list[tuple[str, bool, str]] = []
        for link in [l for l, s in self._span_of.items() if s in usable and self._silent(l)]:
            span = self._span_of[link]
            if span not in self.gray:
                self.gray[span] = 'stall'
                why = f'span {span} stalled: {link.src}->{link.dst} carries no probe (carrier up)'
                out.append((span, True, why))
        for link, reads in self._reads.items():
            span = self._span_of[link]
            recent = list(reads)[-LOSSY_READS:]
            if (
                span in usable
                and span not in self.gray
                and len(recent) == LOSSY_READS
                and all(frames >= MIN_FRAMES and loss >= LOSSY_SHARE for frames, loss in recent)
            ):
                self.gray[span] = 'loss'
                share = min(loss for _, loss in recent)
                why = f'span {span} loses {share:.0%} of frames {link.src}->{link.dst} (carrier up)'
                out.append((span, True, why))
        for span, why in list(self.gray.items()):
            need = CLEAR_PROBES[why]
            if all(self._came_through(l, need) for l, s in self._span_of.items() if s == span):
                del self.gray[span]
                for link in (l for l, s in self._span_of.items() if s == span):
                    self._reads[link].clear()
                why = f'span {span} clear again: its last {need} probes came through both ways'
                out.append((span, False, why))
        return out

    def _grace_s(self, probes: _LinkProbes) -> float:
        return max(ARRIVAL_MIN_S, 3 * (probes.transit_s or 0.0))

    def _last_due(self, link: Link, n: int) -> list[bool]:
        """Whether each of the link's last `n` probes that would have arrived by now did (fewer
        if it has fewer). A probe would have: probes sent a grace after it have, and the far
        switch hands probes in (one sent since the link's history began arrived)."""
        probes = self._probes[link]
        if not probes.sent or self._into.get(link.dst, float('-inf')) < probes.sent[0][0]:
            return []
        by = self._horizon_s - self._grace_s(probes)
        last = []
        for sent_s, arrived in reversed(probes.sent):
            if sent_s < by:
                last.append(arrived)
                if len(last) == n:
                    break
        return last

    def _silent(self, link: Link) -> bool:
        if not self._probes[link].seen:
            return False  # not carrying since it was (re)set: starting, or reconnected
        last = self._last_due(link, SILENT_PROBES)
        return len(last) == SILENT_PROBES and not any(last)

    def _came_through(self, link: Link, need: int) -> bool:
        last = self._last_due(link, need)
        return len(last) == need and all(last)
