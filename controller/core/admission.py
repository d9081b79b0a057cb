"""Admission: where an intent fits, reserved all at once; or why it does not, and what would.

An intent is an E-Line: its bandwidth is promised in both directions, over the same spans
(the return path is the primary's reverse), so a path fits only where both directions of
every span have the room, and both are reserved. The latency bound is checked src -> dst;
the emulated spans have the same delay both ways.

An intent holds up to two reservations in the ledger, `(intent id, 'primary')` and, when
protected, `(intent id, 'backup')` on a span-disjoint path: the backup carries the traffic
when the primary is cut, so its bandwidth is promised too (1+1, as the switches fail over
without asking). Re-placing an intent (a bandwidth change, a better path, a failure) may
reuse what the intent itself holds, and either all of it moves or nothing does.

Excess bandwidth (an optional rate above the committed one, which the ingress meter lets
through) is held in a second ledger, `peak`, without headroom: committed plus excess of every
intent on a link must fit the link's whole capacity, so the excess rides in the headroom the
committed rates leave and can never take another intent's committed bandwidth.
"""
from dataclasses import dataclass

from controller.core.intent import Protection
from controller.core.paths import EPS, NoPath, find_path, find_protected


@dataclass(frozen=True)
class Placement:
    primary: object          # paths.Path
    backup: object = None    # paths.Path when protected
    unprotected: str = ''    # why a protected intent runs without a backup for now

    def latency_ms(self, topology):
        """What the intent's traffic sees now: the primary's measured latency."""
        return self.primary.latency_ms(topology)


def holders(intent_id):
    return (intent_id, 'primary'), (intent_id, 'backup')


def compute(topology, ledger, intent, avoid_spans=frozenset(), peak=None, keep=None,
            degrade=False):
    """The placement the intent would get now (a dry run: the ledgers are not touched).
    Raises paths.NoPath, whose figures say what would fit.

    For a protected intent, `keep` (a path) is tried first as the primary, with a new backup
    beside it: after a cut the switches already carry the traffic on the surviving path, so
    it stays there. With `degrade`, a protected intent that cannot get two disjoint paths
    gets one (`unprotected` says why) rather than none: for an intent that already runs,
    losing its backup is better than losing its traffic."""
    own = _own_gbps(ledger, intent.id)
    own_peak = _own_gbps(peak, intent.id) if peak is not None else {}
    excess = intent.excess_gbps

    def room(link):
        committed = ledger.available_gbps(link) + own.get(link, 0.0)
        if peak is None:
            return committed
        # The path search asks for the committed rate: a link fits when it has that and,
        # in the peak ledger, committed plus excess.
        return min(committed, peak.available_gbps(link) + own_peak.get(link, 0.0) - excess)

    def available(link):   # both directions must carry the bandwidth
        return min(room(link), room(link.reverse()))

    ends = (topology, intent.src, intent.dst, intent.bandwidth_gbps, available)
    if intent.protection is not Protection.PROTECTED:
        return Placement(find_path(*ends, intent.max_latency_ms, avoid_spans))
    keep = keep if keep is not None and _fits(topology, keep, intent, available, avoid_spans) else None
    if keep is not None:
        try:
            return Placement(keep, find_path(*ends, intent.max_latency_ms,
                                             frozenset(avoid_spans) | set(keep.span_ids(topology))))
        except NoPath:
            pass
    try:
        return Placement(*find_protected(*ends, intent.max_latency_ms, avoid_spans))
    except NoPath as e:
        if not degrade or e.constraint != 'protection':
            raise
        alone = keep or find_path(*ends, intent.max_latency_ms, avoid_spans)
        return Placement(alone, unprotected=e.reason)


def _fits(topology, path, intent, available, avoid_spans):
    """The path is up, avoids what it must, has the bandwidth and meets the bound."""
    return (all(topology.span_of(link).up for link in path.links)
            and not set(path.span_ids(topology)) & set(avoid_spans)
            and path.bottleneck_gbps(available) >= intent.bandwidth_gbps - EPS
            and (intent.max_latency_ms is None
                 or path.latency_ms(topology) <= intent.max_latency_ms + EPS))


def admit(topology, ledger, intent, avoid_spans=frozenset(), peak=None, keep=None, degrade=False):
    """Compute a placement and reserve it in place of what the intent held. Raises NoPath
    or ledger.AdmissionError, and then the ledgers are exactly as before."""
    placement = compute(topology, ledger, intent, avoid_spans, peak, keep, degrade)
    books = [(ledger, intent.bandwidth_gbps)]
    if peak is not None:
        books.append((peak, intent.bandwidth_gbps + intent.excess_gbps))
    done = []
    try:
        for book, gbps in books:
            done.append((book, _reserve(book, intent.id, placement, gbps)))
    except Exception:
        for book, old in done:
            _put_back(book, intent.id, old)
        raise
    return placement


def _reserve(ledger, intent_id, placement, gbps):
    """Reserve the placement in place of the intent's share; returns the old share."""
    old = [(h, ledger.reservation(h)) for h in holders(intent_id) if ledger.reservation(h)]
    withdraw(ledger, intent_id)   # the intent's own share is part of what compute() used
    primary, backup = holders(intent_id)
    try:
        ledger.reserve(primary, both_ways(placement.primary), gbps)
        if placement.backup is not None:
            ledger.reserve(backup, both_ways(placement.backup), gbps)
    except Exception:
        _put_back(ledger, intent_id, old)
        raise
    return old


def _put_back(ledger, intent_id, old):
    """Cannot be needed unless compute() and a ledger disagree: the intent's old share again
    (restore(), unlike reserve(), also accepts spans that went down meanwhile)."""
    withdraw(ledger, intent_id)
    ledger.restore(ledger.snapshot() + [
        {'holder': list(h), 'links': [[l.src, l.dst] for l in links], 'gbps': gbps}
        for h, (links, gbps) in old])


def both_ways(path):
    """The links a bidirectional intent holds on a path: forward, then the return."""
    return path.links + tuple(link.reverse() for link in reversed(path.links))


def withdraw(ledger, intent_id, peak=None):
    """Release everything the intent holds; True if it held something."""
    if peak is not None:
        withdraw(peak, intent_id)
    return any([ledger.release(holder) for holder in holders(intent_id)])


def _own_gbps(ledger, intent_id):
    own = {}
    for holder in holders(intent_id):
        held = ledger.reservation(holder)
        if held:
            links, gbps = held
            for link in links:
                own[link] = own.get(link, 0.0) + gbps
    return own
