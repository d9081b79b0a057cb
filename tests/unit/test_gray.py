"""Gray failures (controller/core/gray.py): stalls from probes that stop arriving, loss from the
span ports' counters, crowds that are the controller's own stall, and spans clear again."""

from controller.core.gray import CLEAR_PROBES, CROWD, GrayFailures
from controller.core.topology import Link
from topologies.model.fabric import load_fabric

LUMEN = load_fabric('lumen-qts')
TRIANGLE = load_fabric('triangle')
AB, BA = Link('dca', 'dcb'), Link('dcb', 'dca')
ALL = [s.id for s in TRIANGLE.spans]


def probing(gray, links, start, end, lost=lambda link, t: False, transit=0.005, usable=None):
    """Probe every link every 0.5 s from `start` to `end`; returns the changes, with when."""
    usable = sorted({gray._span_of[link] for link in links}) if usable is None else usable
    seen, t = [], start
    while t < end:
        for link in links:
            gray.probe_sent(link, t)
            if not lost(link, t):
                gray.probe_arrived(link, t, t + transit)
        for step in range(10):  # the detector is asked often, as each switch is probed
            now = t + step * 0.05
            seen += [(now, *c) for c in gray.changes(now, usable)]
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


def test_a_crowd_falling_silent_is_the_controller_not_the_spans():
    gray = GrayFailures(LUMEN.spans)
    links = every_link(LUMEN)
    probing(gray, links, 0, 5)
    victims = set(links[: CROWD + 1])
    assert probing(gray, links, 5, 8, lost=lambda link, t: link in victims and t >= 5) == []
    assert probing(gray, links, 8, 10, lost=lambda link, t: link == links[0]) != []


def test_a_link_never_seen_is_not_silent():
    gray = GrayFailures(TRIANGLE.spans)
    assert probing(gray, [AB, BA], 0, 5, lost=lambda link, t: link == AB) == []


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
    assert probing(gray, links, 8, 10, lost=lambda link, t: link in (AB, BA)) != []


def test_a_link_forgotten_starts_over():
    gray = GrayFailures(TRIANGLE.spans)
    probing(gray, [AB, BA], 0, 5)
    gray.forget([AB])
    assert probing(gray, [AB, BA], 5, 8, lost=lambda link, t: link == AB) == []
