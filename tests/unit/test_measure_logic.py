"""The pure part of topologies.emulation.measure: tolerances, and the span table."""

import json

import pytest

from topologies.emulation.cli import lateness_note, span_table
from topologies.emulation.lateness import SpanLateness
from topologies.emulation.measure import DELAY_TOLERANCE, THROUGHPUT_RANGE, SpanFigures

# --- tolerances ---------------------------------------------------------------------------------


def test_tolerance_constants():
    assert DELAY_TOLERANCE == (0.05, 0.5)
    assert THROUGHPUT_RANGE == (0.90, 1.05)


@pytest.mark.parametrize(
    'configured, measured, ok',
    [
        (20.0, 20.0, True),
        (20.0, 21.49, True),  # 20 ms: 5% + 0.5 ms = 1.5 ms
        (20.0, 21.51, False),
        (20.0, 18.51, True),
        (20.0, 18.49, False),
        (0.0, 0.49, True),  # the absolute part alone
        (0.0, 0.51, False),
        (100.0, 105.49, True),  # the relative part dominates
        (100.0, 105.51, False),
        (100.0, 94.51, True),
        (100.0, 94.49, False),
    ],
)
def test_delay_ok_edges(configured, measured, ok):
    f = SpanFigures('aa', 'bb', configured, 10.0, measured_delay_ms=measured)
    assert f.delay_ok is ok
    assert f.ok is ok  # throughput not measured: only delay counts


def test_unmeasured_delay():
    assert SpanFigures('aa', 'bb', 5.0, 10.0, up=False).delay_ok is True
    assert SpanFigures('aa', 'bb', 5.0, 10.0, up=False).ok is True
    assert SpanFigures('aa', 'bb', 5.0, 10.0, up=True).delay_ok is False
    assert SpanFigures('aa', 'bb', 5.0, 10.0).ok is False


@pytest.mark.parametrize(
    'measured, ok',
    [
        (None, True),
        (100.0, True),
        (89.9, False),
        (90.1, True),
        (104.9, True),
        (105.1, False),
        (0.0, False),
    ],
)
def test_throughput_ok_edges(measured, ok):
    f = SpanFigures('aa', 'bb', 5.0, 100.0, measured_delay_ms=5.0, measured_mbps=measured)
    assert f.throughput_ok is ok
    assert f.ok is ok


def test_as_dict():
    f = SpanFigures('aa', 'bb', 5.0, 100.0, measured_delay_ms=5.2, measured_mbps=80.0)
    d = f.as_dict()
    assert set(d) >= {'a', 'b', 'delay_ms', 'measured_delay_ms', 'mbps', 'measured_mbps', 'ok'}
    assert (d['a'], d['b'], d['delay_ms'], d['measured_delay_ms'], d['mbps'], d['measured_mbps']) == (
        'aa',
        'bb',
        5.0,
        5.2,
        100.0,
        80.0,
    )
    assert d['ok'] is False
    assert json.loads(json.dumps(d)) == d
    assert SpanFigures('aa', 'bb', 5.0, 100.0, up=False).as_dict()['ok'] is True


# --- span_table -----------------------------------------------------------------------------------


def test_span_table_marks():
    figures = [
        SpanFigures(
            'aa', 'bb', 4.0, 20.0, measured_delay_ms=4.1, median_delay_ms=4.3, measured_mbps=19.5
        ),  # fine
        SpanFigures('bb', 'cc', 6.0, 20.0, measured_delay_ms=9.0, measured_mbps=19.5),  # delay off
        SpanFigures('aa', 'cc', 9.0, 10.0, measured_delay_ms=9.0, measured_mbps=5.0),  # throughput off
        SpanFigures('cc', 'dd', 2.0, 10.0, up=False),  # down, not measured: fine
        SpanFigures('dd', 'ee', 2.0, 10.0),  # up, not measured: off
    ]
    lines = span_table(figures).splitlines()
    assert len(lines) == 1 + len(figures)
    header, fine, delay_off, mbps_off, down, unmeasured = lines
    assert header.split()[:2] == ['span', 'state']
    assert '!' not in header
    assert fine.startswith('aa-bb') and '!' not in fine
    assert delay_off.startswith('bb-cc') and delay_off.count('!') == 1
    assert '9.000!' in delay_off
    assert mbps_off.startswith('aa-cc') and mbps_off.count('!') == 1 and mbps_off.endswith('5.00!')
    assert down.split()[:2] == ['cc-dd', 'down'] and '!' not in down
    assert unmeasured.split()[:2] == ['dd-ee', 'up'] and unmeasured.count('!') == 1
    assert fine.split()[:2] == ['aa-bb', 'up'] and '4.300' in fine


def test_span_table_empty():
    assert len(span_table([]).splitlines()) == 1


# --- lateness -------------------------------------------------------------------------------------

LATE = SpanLateness('bb-cc', 6.0, 900, 0.2, 1.4, 3.0, 2)  # tolerance 0.8 ms
HONEST = SpanLateness('aa-bb', 4.0, 800, 0.01, 0.05, 0.3, 0)


def test_a_span_measured_while_the_emulation_lied_is_inconclusive_in_its_figures():
    f = SpanFigures('aa', 'bb', 4.0, 20.0, measured_delay_ms=4.1, lateness=HONEST, lying=(LATE,))
    assert f.ok and f.inconclusive  # its figures look right, but they are no evidence
    d = json.loads(json.dumps(f.as_dict()))
    assert d['inconclusive'] is True and d['ok'] is True
    assert d['lateness'] == {
        'span_id': 'aa-bb',
        'delay_ms': 4.0,
        'frames': 800,
        'p50_ms': 0.01,
        'p99_ms': 0.05,
        'max_ms': 0.3,
        'dropped_late': 0,
        'tolerance_ms': 0.7,
        'lying': False,
    }
    assert [s['span_id'] for s in d['lying']] == ['bb-cc']
    plain = SpanFigures('aa', 'bb', 4.0, 20.0, measured_delay_ms=4.1).as_dict()
    assert plain['lateness'] is None and plain['lying'] == [] and plain['inconclusive'] is False


def test_span_table_shows_each_emulators_lateness_and_marks_a_liar():
    figures = [
        SpanFigures('aa', 'bb', 4.0, 20.0, measured_delay_ms=4.1, measured_mbps=19.5, lateness=HONEST),
        SpanFigures('bb', 'cc', 6.0, 20.0, measured_delay_ms=6.2, measured_mbps=19.5, lateness=LATE),
        SpanFigures('cc', 'dd', 0.1, 10.0, measured_delay_ms=0.1),  # joined in the kernel
        SpanFigures('dd', 'ee', 2.0, 10.0, lateness=SpanLateness('dd-ee', 2.0, 0, None, None, None, 0)),
    ]
    header, honest, liar, kernel, quiet = span_table(figures).splitlines()
    assert header.split() == [
        'span', 'state', 'delay', 'ms', 'measured', 'median', 'late', 'p50', 'p99', 'max', 'dropped',
        'Mb/s', 'measured',
    ]  # fmt: skip
    assert honest.split()[4:8] == ['0.010', '0.050', '0.300', '0']
    assert liar.split()[4:8] == ['0.200', '1.400', '3.000', '2?'] and '!' not in liar
    assert kernel.split()[4] == '(kernel)'
    assert quiet.split()[3:8] == ['!', '-', '-', '-', '0']  # up, not measured yet, nothing delivered
    assert len({len(row) for row in (honest, liar, kernel)}) == 1  # the columns line up
    assert lateness_note(figures).startswith('? late beyond tolerance')
    assert lateness_note(figures[:1]) == ''
