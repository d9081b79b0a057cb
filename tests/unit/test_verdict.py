"""Knowing when the emulation lied: a span's lateness against its tolerance, the verdict on a
promise measured meanwhile (PASS, FAIL, INCONCLUSIVE), a run's verdict and exit code, the
live warning, and the lab's readiness rule (relative to each span)."""

import threading
import time

import pytest

from naas.v1 import topology_pb2
from topologies.emulation import budget
from topologies.emulation.lateness import SpanLateness
from topologies.lab import verdict as v
from topologies.lab.lab import unsettled


def late(span_id='a-b', delay_ms=10.0, p99_ms=0.2, dropped=0, frames=5000, p50_ms=None, max_ms=None):
    """A span's lateness as an emulator would report it (figures in ms after due)."""
    if p99_ms is None:
        return SpanLateness(span_id, delay_ms, 0, None, None, None, dropped)
    return SpanLateness(
        span_id,
        delay_ms,
        frames,
        p50_ms if p50_ms is not None else p99_ms / 4,
        p99_ms,
        max_ms if max_ms is not None else p99_ms * 2,
        dropped,
    )


def fabric(*spans):
    return {s.span_id: s for s in spans}


# --- a span's tolerance --------------------------------------------------------------------------


@pytest.mark.parametrize(
    'delay_ms, p99_ms, dropped, lying',
    [
        (10.0, 1.0, 0, False),  # 10 ms: 0.5 + 0.5 = 1.0 ms of tolerance, p99 at it
        (10.0, 1.01, 0, True),
        (0.4, 0.52, 0, False),  # a short span: the absolute part dominates
        (0.4, 0.53, 0, True),
        (100.0, 5.5, 0, False),
        (100.0, 5.51, 0, True),
        (10.0, 0.0, 1, True),  # one frame dropped because it was overdue is a lie
        (10.0, None, 0, False),  # no frame: nothing to be late
        (10.0, None, 2, True),
    ],
)
def test_a_span_lies_beyond_half_a_ms_and_five_percent_or_when_it_drops_overdue_frames(
    delay_ms, p99_ms, dropped, lying
):
    s = late(delay_ms=delay_ms, p99_ms=p99_ms, dropped=dropped)
    assert s.tolerance_ms == pytest.approx(0.5 + 0.05 * delay_ms)
    assert s.lying is lying


def test_the_spans_that_lied_come_worst_first_and_read_as_figures():
    lateness = fabric(
        late('a-b', 10.0, p99_ms=2.0),  # twice its tolerance
        late('b-c', 2.0, p99_ms=1.8),  # three times
        late('c-d', 10.0, p99_ms=0.3),  # honest
        late('d-e', 10.0, p99_ms=0.1, dropped=4),  # dropped frames first
    )
    assert [s.span_id for s in budget.lying(lateness)] == ['d-e', 'b-c', 'a-b']
    assert budget.describe(lateness['a-b']) == (
        'a-b: late p99 2.00 ms > 1.00 ms tolerance (p50 0.50, max 4.00 ms, 5000 frames)'
    )
    assert budget.describe(lateness['d-e']).endswith(
        '0.10 ms <= 1.00 ms tolerance (p50 0.03, max 0.20 ms, 5000 frames), 4 dropped late'
    )
    assert budget.describe(late('e-f', p99_ms=None, dropped=3)) == 'e-f: no frame delivered, 3 dropped late'
    many = [late(f's{i}', p99_ms=5.0) for i in range(7)]
    assert budget.describe_lying(many).endswith('; and 2 more spans')
    assert budget.describe_lying(many[:6]).endswith('; and 1 more span')
    d = budget.as_dict(lateness['a-b'])
    assert (d['span_id'], d['p99_ms'], d['dropped_late'], d['tolerance_ms'], d['lying']) == (
        'a-b',
        2.0,
        0,
        1.0,
        True,
    )


# --- verdicts ------------------------------------------------------------------------------------


def test_a_promise_measured_on_an_honest_emulation_passes_or_fails_on_its_figures():
    honest = fabric(late('a-b', p99_ms=0.2), late('b-c', p99_ms=0.9), late('c-d', p99_ms=None))
    assert v.judge(True, honest) == v.Judgement(v.PASS, ())
    assert v.judge(False, honest) == v.Judgement(v.FAIL, ())
    assert v.judge(True, {}) == v.Judgement(v.PASS, ())  # every span joined in the kernel


@pytest.mark.parametrize('held', [True, False])
def test_a_promise_measured_while_any_span_lied_is_inconclusive_whatever_it_measured(held):
    lateness = fabric(late('a-b', p99_ms=0.2), late('x-y', p99_ms=3.0), late('y-z', dropped=1))
    j = v.judge(held, lateness)
    assert j.verdict == v.INCONCLUSIVE
    assert [s.span_id for s in j.lying] == ['y-z', 'x-y']  # the spans and figures that made it so


@pytest.mark.parametrize(
    'verdicts, broke_off, run, code',
    [
        ([], False, v.PASSED, 0),
        ([v.PASS, v.PASS], False, v.PASSED, 0),
        ([v.PASS, v.FAIL], False, v.FAILED, 1),
        ([v.PASS, v.INCONCLUSIVE], False, v.INCONCLUSIVE, 3),
        ([v.FAIL, v.INCONCLUSIVE], False, v.FAILED, 1),  # one promise broken on an honest emulation
        ([v.PASS], True, v.FAILED, 1),  # the run broke off
        ([v.INCONCLUSIVE], True, v.FAILED, 1),
    ],
)
def test_a_runs_verdict_and_exit_code(verdicts, broke_off, run, code):
    assert v.overall(verdicts, broke_off) == run
    assert v.exit_code(run) == code


def test_the_exit_codes_are_the_documented_ones():
    assert (v.EXIT_PASSED, v.EXIT_FAILED, v.EXIT_BAD_FILE, v.EXIT_INCONCLUSIVE, v.EXIT_INTERRUPTED) == (
        0,
        1,
        2,
        3,
        130,
    )


# --- the live warning ----------------------------------------------------------------------------


class FakeEmulation:
    """lateness_mark()/lateness(since) as Emulation offers them: `windows` is what each call
    of lateness() returns in turn (then {}); the marks handed out are counted."""

    def __init__(self, windows=()):
        self.windows = list(windows)
        self.marks = 0
        self.asked = []  # the marks lateness() was asked since
        self.lock = threading.Lock()

    def lateness_mark(self):
        with self.lock:
            self.marks += 1
            return self.marks

    def lateness(self, since=None):
        with self.lock:
            self.asked.append(since)
            return self.windows.pop(0) if self.windows else {}


def test_the_watch_warns_once_per_window_while_some_span_lies_and_is_quiet_otherwise():
    emu = FakeEmulation([fabric(late('a-b', p99_ms=0.1)), fabric(late('a-b', p99_ms=3.0)), {}])
    lines = []
    with budget.BudgetWatch(emu, lines.append, every_s=0.05):
        time.sleep(0.4)
    assert len(lines) == 1  # the second window only
    assert lines[0].startswith('warning: the machine is over its budget: 1 span late beyond tolerance')
    assert 'a-b: late p99 3.00 ms > 1.00 ms tolerance' in lines[0]
    # Each window runs from the mark taken at the end of the one before.
    assert emu.asked[:3] == [1, 2, 3]


def test_the_warning_names_a_few_spans_and_counts_the_rest():
    line = budget.over_budget_line([late(f's{i}', p99_ms=9.0) for i in range(5)], 5.0)
    assert line.startswith(
        'warning: the machine is over its budget: 5 spans late beyond tolerance over the last 5 s'
    )
    assert line.endswith('; and 2 more spans')


# --- readiness: relative to each span ------------------------------------------------------------


def topology(spans, connected=('a', 'b', 'c')):
    """A Topology as GetTopology returns it: spans {id: (up, (a->b ms, measured), (b->a ms, measured))}."""
    t = topology_pb2.Topology(fabric='f')
    for site in ('a', 'b', 'c'):
        t.sites.add(id=site, connected=site in connected)
    for span_id, (up, *directions) in spans.items():
        a, b = span_id.split('-')
        s = t.spans.add(id=span_id, site_a=a, site_b=b, up=up)
        for (src, dst), (ms, measured) in zip(((a, b), (b, a)), directions):
            s.directions.add(from_site=src, to_site=dst, delay_ms=ms, delay_measured=measured)
    return t


@pytest.mark.parametrize(
    'configured, measured, settled',
    [
        (0.4, 2.4, False),  # what the old rule (20% + 2 ms) accepted
        (0.4, 0.92, True),  # 0.4 ms: within 0.52 ms
        (0.4, 0.93, False),
        (0.1, 0.0, True),  # a span joined in the kernel, measured as nothing
        (9.0, 9.95, True),  # 9 ms: within 0.95 ms
        (9.0, 9.96, False),
        (9.0, 8.04, False),  # too fast is as wrong as too slow
        (40.0, 42.49, True),  # 40 ms: within 2.5 ms
        (40.0, 42.51, False),
    ],
)
def test_a_span_is_settled_within_five_percent_and_half_a_ms_of_its_delay(configured, measured, settled):
    t = topology({'a-b': (True, (measured, True), (configured, True))})
    off = unsettled(t, {'a-b': (True, configured)})
    assert (off == []) is settled
    if not settled:
        assert off == [
            f'span a-b a->b {measured:.3f} ms, configured {configured:g} ms '
            f'(within {0.05 * configured + 0.5:.3f} ms is settled)'
        ]


def test_readiness_needs_every_switch_every_span_as_it_is_and_each_direction_measured():
    spans = {'a-b': (True, 4.0), 'b-c': (False, 6.0), 'a-c': (True, 9.0)}
    t = topology(
        {
            'a-b': (True, (4.1, True), (4.0, False)),  # b->a still the fabric file's figure
            'b-c': (True, (6.0, True), (6.0, True)),  # cut, but the controller sees it up
            'a-c': (False, (9.0, True), (9.0, True)),  # and the other way round
        },
        connected=('a', 'b'),
    )
    assert unsettled(t, spans) == [
        'switch c not connected',
        'span a-b b->a not measured yet',
        'span b-c up, expected down',
        'span a-c down, expected up',
    ]
    settled = topology(
        {'a-b': (True, (4.1, True), (4.0, True)), 'b-c': (False,), 'a-c': (True, (9.2, True), (8.9, True))}
    )
    assert unsettled(settled, spans) == []
