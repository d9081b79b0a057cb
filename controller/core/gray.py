"""Gray failures: spans whose carrier stays up while they drop frames. The switches' port
status says nothing (their fast-failover groups watch carrier only); the controller finds them
from what it already gathers, and treats a gray span as down until it is clear again.

- A stall: the LLDP probes sent on a link every probe round (0.5 s) stop coming back. A link
  is stalled once its last SILENT_PROBES probes, each sent more than a grace ago (three times
  the link's usual probe transit, at least ARRIVAL_MIN_S), never arrived: 0.6-1.1 s after the
  stall began.
- Loss: the span ports' packet counters (read every second): what the near end sent against
  what the far end received, as rates over each read's interval. A link is lossy once
  LOSSY_READS reads in a row show LOSSY_SHARE or more of at least MIN_FRAMES frames lost: in
  2-3 s. Without traffic a lossy span hurts nobody and shows nothing.
- A crowd: when more than CROWD links fall silent at once, what stalled is the controller or
  the machine (a pause, a packet-in backlog), not the spans: nothing is declared.
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
CROWD = 3
CLEAR_PROBES = {'stall': 20, 'loss': 40}
KEPT = 64  # probes remembered per link
STALE_S = 3.0  # a near-end read older than this, beside a far-end one, is not compared


class _LinkProbes:
    def __init__(self) -> None:
        self.sent: deque[list] = deque(maxlen=KEPT)  # [sent s, arrived]
        self.transit_s: float | None = None  # the least a probe took to arrive
        self.seen = False  # a probe arrived since the link was (re)set


class GrayFailures:
    def __init__(self, spans: Iterable) -> None:
        self._span_of: dict[Link, str] = {}
        for span in spans:
            self._span_of[Link(span.a, span.b)] = self._span_of[Link(span.b, span.a)] = span.id
        self._probes = {link: _LinkProbes() for link in self._span_of}
        self._reads: dict[Link, deque] = {link: deque(maxlen=LOSSY_READS + 1) for link in self._span_of}
        # link -> its last two reads (s, packets): sent at its near end, received at its far end
        self._tx: dict[Link, deque] = {link: deque(maxlen=2) for link in self._span_of}
        self._rx: dict[Link, deque] = {link: deque(maxlen=2) for link in self._span_of}
        self.gray: dict[str, str] = {}  # span id -> 'stall' or 'loss'

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

    def counters(self, link: Link, end: str, stamp_s: float, packets: int) -> None:
        """A packet counter of `link`: 'tx' at its near end's port, 'rx' at its far end's. Each
        far-end read, with the near end's last two, is one read of the link's loss."""
        if link not in self._reads:
            return
        (self._tx if end == 'tx' else self._rx)[link].append((stamp_s, packets))
        tx, rx = self._tx[link], self._rx[link]
        if end != 'rx' or len(tx) < 2 or len(rx) < 2 or stamp_s - tx[-1][0] > STALE_S:
            return
        (t0, tx0), (t1, tx1) = tx
        (r0, rx0), (r1, rx1) = rx
        if t1 <= t0 or r1 <= r0 or tx1 < tx0 or rx1 < rx0:
            return  # counters restarted (a switch reconnected)
        tx_rate, rx_rate = (tx1 - tx0) / (t1 - t0), (rx1 - rx0) / (r1 - r0)
        self._reads[link].append((tx1 - tx0, 1 - rx_rate / tx_rate if tx_rate > 0 else 0.0))

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
        usable = set(usable)
        out: list[tuple[str, bool, str]] = []
        silent = [l for l, s in self._span_of.items() if s in usable and self._silent(l, now_s)]
        if len(silent) > CROWD:
            silent = []  # the controller or the machine stalled, not these spans
        for link in silent:
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
            if all(self._came_through(l, need, now_s) for l, s in self._span_of.items() if s == span):
                del self.gray[span]
                for link in (l for l, s in self._span_of.items() if s == span):
                    self._reads[link].clear()
                why = f'span {span} clear again: its last {need} probes came through both ways'
                out.append((span, False, why))
        return out

    def _grace_s(self, probes: _LinkProbes) -> float:
        return max(ARRIVAL_MIN_S, 3 * (probes.transit_s or 0.0))

    def _silent(self, link: Link, now_s: float) -> bool:
        probes = self._probes[link]
        if not probes.seen:
            return False  # not discovered yet: a missing span is discovery's to report
        due = [p for p in probes.sent if p[0] < now_s - self._grace_s(probes)]
        return len(due) >= SILENT_PROBES and not any(arrived for _, arrived in due[-SILENT_PROBES:])

    def _came_through(self, link: Link, need: int, now_s: float) -> bool:
        probes = self._probes[link]
        due = [p for p in probes.sent if p[0] < now_s - self._grace_s(probes)]
        return len(due) >= need and all(arrived for _, arrived in due[-need:])
