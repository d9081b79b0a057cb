"""The lateness window over the span emulator's counters: pure, on stats as the emulator gives them."""

import pytest

from topologies.emulation.lateness import LatenessMark, SpanLateness, window


def direction(buckets=(), max_ns=0, dropped_late=0):
    """One direction's stats: buckets as (lo_us, hi_us, count)."""
    return {
        'received': sum(n for _, _, n in buckets) + dropped_late,
        'sent': sum(n for _, _, n in buckets),
        'queued': 0,
        'dropped_queue': 0,
        'dropped_send': 0,
        'dropped_late': dropped_late,
        'dropped_size': 0,
        'late_max_ns': max_ns,
        'late_us': [list(b) for b in buckets],
    }


def span(a_to_b=None, b_to_a=None, delay_ms=10.0, serial=1):
    return {
        'a': 'x-yr',
        'b': 'y-xr',
        'delay_ms': delay_ms,
        'serial': serial,
        'a_to_b': a_to_b or direction(),
        'b_to_a': b_to_a or direction(),
    }


def test_since_start_percentiles_are_bucket_upper_edges_and_max_is_exact():
    a_to_b = direction([(3, 4, 60), (40, 42, 39), (1024, 1088, 1)], max_ns=1_050_300)
    late = window({'x-y': span(a_to_b)})['x-y']
    assert (late.span_id, late.delay_ms, late.frames, late.dropped_late) == ('x-y', 10.0, 100, 0)
    assert (late.p50_ms, late.p99_ms) == (0.004, 0.042)
    assert late.max_ms == pytest.approx(1.0503)


def test_both_directions_count_together():
    late = window({'x-y': span(direction([(1, 2, 50)], 1500), direction([(100, 104, 50)], 101_000))})['x-y']
    assert (late.frames, late.p50_ms, late.p99_ms, late.max_ms) == (100, 0.002, 0.101, 0.101)


def test_a_percentile_never_exceeds_the_max():
    late = window({'x-y': span(direction([(1024, 1088, 10)], max_ns=1_030_000))})['x-y']
    assert late.p50_ms == late.p99_ms == late.max_ms == pytest.approx(1.03)


def test_two_late_frames_in_a_small_window_are_not_its_p99():
    late = window({'x-y': span(direction([(20, 21, 80), (1088, 1152, 2)], max_ns=1_100_000))})['x-y']
    assert (late.frames, late.p99_ms, late.max_ms) == (82, 0.021, 1.1)
    assert not late.lying
    three = window({'x-y': span(direction([(20, 21, 79), (1088, 1152, 3)], max_ns=1_100_000))})['x-y']
    assert three.p99_ms == 1.1 and three.lying
    alone = window({'x-y': span(direction([(1088, 1152, 2)], max_ns=1_100_000))})['x-y']
    assert alone.p99_ms == 1.1 and not alone.lying  # two frames say nothing
    thrice = window({'x-y': span(direction([(1088, 1152, 3)], max_ns=1_100_000))})['x-y']
    assert thrice.p99_ms == 1.1 and thrice.lying
    # From 200 frames on, the p99 is the p99.
    many = window({'x-y': span(direction([(20, 21, 197), (1088, 1152, 3)], max_ns=1_100_000))})['x-y']
    assert many.p99_ms == 1.1 and many.lying


def test_window_since_a_mark_counts_only_what_came_after():
    then = span(direction([(2, 3, 100), (4096, 4352, 5)], max_ns=4_200_000, dropped_late=3))
    now = span(direction([(2, 3, 180), (4096, 4352, 5), (20, 21, 20)], max_ns=4_200_000, dropped_late=3))
    late = window({'x-y': now}, LatenessMark({'x-y': then}))['x-y']
    assert (late.frames, late.dropped_late) == (100, 0)
    assert (late.p50_ms, late.p99_ms) == (0.003, 0.021)
    # The run's max (4.2 ms) came before the mark: the window's is bounded by its top bucket.
    assert late.max_ms == 0.021
    assert not late.lying


def test_max_is_exact_when_the_window_sets_a_new_one():
    then = span(direction([(2, 3, 10)], max_ns=2_500))
    now = span(direction([(2, 3, 10), (640, 672, 1)], max_ns=651_234))
    assert window({'x-y': now}, LatenessMark({'x-y': then}))['x-y'].max_ms == pytest.approx(0.651234)


def test_a_span_set_up_again_since_the_mark_counts_from_its_start():
    then = span(direction([(2, 3, 500)], max_ns=2_900), serial=4)
    now = span(direction([(5, 6, 7)], max_ns=5_100), serial=9)
    late = window({'x-y': now}, LatenessMark({'x-y': then}))['x-y']
    assert late.frames == 7 and late.max_ms == pytest.approx(0.0051)


def test_a_span_missing_from_the_mark_counts_from_its_start():
    late = window({'x-y': span(direction([(5, 6, 7)], 5_100))}, LatenessMark({}))['x-y']
    assert late.frames == 7


def test_no_frames_no_figures():
    late = window({'x-y': span()})['x-y']
    assert (late.frames, late.p50_ms, late.p99_ms, late.max_ms, late.dropped_late) == (0, None, None, None, 0)
    assert not late.lying


def test_only_spans_the_emulator_serves():
    assert window({}) == {}


@pytest.mark.parametrize(
    'delay_ms, p99_ms, dropped, lying',
    [
        (10, 0.99, 0, False),  # tolerance 0.5 + 5% of 10 = 1.0 ms
        (10, 1.01, 0, True),
        (0.3, 0.515, 0, False),
        (0.3, 0.516, 0, True),
        (10, 0.001, 1, True),  # a frame dropped overdue: late beyond any tolerance
    ],
)
def test_lying_is_late_beyond_half_a_ms_and_five_percent(delay_ms, p99_ms, dropped, lying):
    late = SpanLateness('x-y', delay_ms, 100, 0.001, p99_ms, p99_ms, dropped)
    assert late.tolerance_ms == pytest.approx(0.5 + 0.05 * delay_ms)
    assert late.lying is lying


def test_an_overloaded_window_reads_as_lying():
    """Frames delivered 40 ms late (the emulator held off the CPU) and some dropped overdue."""
    late = window({'x-y': span(direction([(2, 3, 900), (40960, 43008, 100)], 41_000_000, dropped_late=2))})
    assert late['x-y'].p99_ms == 41.0 and late['x-y'].dropped_late == 2 and late['x-y'].lying
