"""Gray failures (controller/core/gray.py): stalls from probes that stop arriving, loss from the
span ports' counters (a controller slow to take its probes in stalls nothing), and clear again."""

from controller.core.gray import CLEAR_PROBES, GrayFailures
from controller.core.topology import Link
from topologies.model.fabric import load_fabric

LUMEN = load_fabric('lumen-qts')
TRIANGLE = load_fabric('triangle')
AB, BA = Link('dca', 'dcb'), Link('dcb', 'dca')
ALL = [s.id for s in TRIANGLE.spans]


def probing(gray, links, start, end, lost=lambda link, t: False, transit=0.005, usable=None):
    """Probe every link every 0.5 s from `start` to `end`, spread over each round as the prober
    spreads its switches; returns the changes, with when."""
    usable = sorted({gray._span_of[link] for link in links}) if usable is None else usable
    seen, t = [], start
    while t < end:
        for k, link in enumerate(links):
            sent = t + k * 0.5 / len(links)
            gray.probe_sent(link, sent)
            if not lost(link, sent):
                gray.probe_arrived(link, sent, sent + transit)
            seen += [(sent + transit, *c) for c in gray.changes(sent + transit, usable)]
        t += 0.5
    return seen


def every_link(fabric):
    return [Link(s.a, s.b) for s in fabric.spans] + [Link(s.b, s.a) for s in fabric.spans]


def test_a_stall_is_found_within_a_second_and_cleared_once_probes_come_through():
    gray = GrayFailures(TRIANGLE.spans)
    links = every_link(TRIANGLE)
    assert probing(gray, links, 0, 10) == []
    stalled_at = 10.2  # between two probe rounds
    changes = probing(gray, links, 10, 20, lost=lambda link, t: link == AB and t >= stalled_at)
    (when, span, is_gray, reason), *rest = changes
    assert span == 'dca-dcb' and is_gray and 'stalled' in reason and 'dca->dcb' in reason
    assert 0.5 < when - stalled_at <= 1.1, when
    assert rest == [] and gray.gray == {'dca-dcb': 'stall'}
    changes = probing(gray, links, 20, 40)
    (when, span, is_gray, reason), *rest = changes
    assert span == 'dca-dcb' and not is_gray and f'last {CLEAR_PROBES["stall"]} probes' in reason
    assert 19.5 + CLEAR_PROBES['stall'] * 0.5 <= when <= 20.5 + CLEAR_PROBES['stall'] * 0.5 and rest == []


def test_a_controller_slow_to_take_its_probes_in_sees_no_stall():
    """Probes keep being sent, none taken in for 2 s (the controller busy), then all at once:
    what arrived is judged, not the clock."""
    gray = GrayFailures(LUMEN.spans)
    links = every_link(LUMEN)
    probing(gray, links, 0, 5)
    backlog = []
    for t in (5.0, 5.5, 6.0, 6.5):
        for k, link in enumerate(links):
            sent = t + k * 0.5 / len(links)
            gray.probe_sent(link, sent)
            backlog.append((link, sent))
            assert gray.changes(sent, [s.id for s in LUMEN.spans]) == []
    for link, sent in backlog:
        gray.probe_arrived(link, sent, 7.1)
    assert gray.changes(7.1, [s.id for s in LUMEN.spans]) == []
    assert probing(gray, links, 7.5, 9) == []


def test_a_switch_that_hands_no_probe_in_yet_shows_no_stall():
    """Starting, dcb is not yet programmed to hand probes in: nothing into it arrives."""
    gray = GrayFailures(TRIANGLE.spans)
    into_dcb = {AB, Link('dcc', 'dcb')}
    assert probing(gray, every_link(TRIANGLE), 0, 5, lost=lambda link, t: link in into_dcb) == []


def counting(gray, link, seconds, tx_per_s, loss, start=0.0):
    """Counter reads of `link` every second: `tx_per_s` sent, `loss` of them lost."""
    changes = []
    for i in range(int(seconds) + 1):
        t = start + i
        gray.counters(link, 'tx', t, int(tx_per_s * t))
        gray.counters(link, 'rx', t + 0.3, int(tx_per_s * (1 - loss) * (t + 0.3)))
        changes += [(t, *c) for c in gray.changes(t + 0.3, ALL)]
    return changes


def test_loss_under_traffic_is_found_in_two_to_three_seconds():
    gray = GrayFailures(TRIANGLE.spans)
    assert counting(gray, AB, 5, 1000, 0.0) == []
    assert counting(gray, AB, 5, 1000, 0.02, start=6) == []  # under 5%: noise, not a failure
    changes = counting(gray, AB, 5, 1000, 0.10, start=12)
    (when, span, is_gray, reason), *_ = changes
    assert span == 'dca-dcb' and is_gray and 'loses 10% of frames dca->dcb' in reason
    assert when - 12 <= 3, when


def test_traffic_moving_onto_a_span_is_not_loss():
    """Its two ends are read 0.3 s apart: while the rate sent ramps up, the far end lags."""
    gray = GrayFailures(TRIANGLE.spans)
    changes, sent, received = [], 0, 0
    for i in range(12):
        rate = [0, 0, 0, 300, 900, 1000, 1000, 1000, 1000, 400, 0, 0][i]
        sent += rate
        gray.counters(AB, 'tx', i, sent)
        received += [0, 0, 0, 0, 300 * 0.7, 900 * 0.7, 1000, 1000, 1000, 1000, 400, 0][i]
        gray.counters(AB, 'rx', i + 0.3, int(received))
        changes += gray.changes(i + 0.3, ALL)
    assert changes == []


def test_loss_without_traffic_hurts_nobody_and_shows_nothing():
    gray = GrayFailures(TRIANGLE.spans)
    assert counting(gray, AB, 10, 20, 0.5) == []


def test_spans_not_usable_for_plainer_reasons_are_not_judged():
    """dca-dcb is cut (or a switch of it gone): its probes are lost, but that is no gray failure."""
    gray = GrayFailures(TRIANGLE.spans)
    links = every_link(TRIANGLE)
    probing(gray, links, 0, 5)
    usable = [s for s in ALL if s != 'dca-dcb']
    assert probing(gray, links, 5, 8, lost=lambda link, t: link in (AB, BA), usable=usable) == []
    # Back up but carrying nothing since: not judged (it never carried since it came back).
    assert probing(gray, links, 8, 10, lost=lambda link, t: link in (AB, BA)) == []


def test_a_span_back_up_is_judged_on_what_it_carries_since():
    """Probes lost while dca-dcb was cut say nothing; once it is back, a stall shows again."""
    gray = GrayFailures(TRIANGLE.spans)
    links = every_link(TRIANGLE)
    probing(gray, links, 0, 5)
    usable = [s for s in ALL if s != 'dca-dcb']
    assert probing(gray, links, 5, 8, lost=lambda link, t: link in (AB, BA), usable=usable) == []
    assert probing(gray, links, 8, 10) == []  # back, and carrying
    changes = probing(gray, links, 10, 12, lost=lambda link, t: link == AB)
    assert [(span, is_gray) for _, span, is_gray, _ in changes] == [('dca-dcb', True)]
