"""DelayLine and control-command logic of the span relay; no root, no sockets."""

import json
import random

import pytest

from topologies.emulation.span_relay import DelayLine, handle_command, main


def drain(line: DelayLine, until: float, step: float = 0.0001) -> list[tuple[float, bytes]]:
    """Pop frames at every step up to `until`; return (pop time, frame) pairs."""
    out, t = [], 0.0
    while t <= until:
        out += [(t, f) for f in line.pop_due(t)]
        t = round(t + step, 6)
    return out


def test_delay_applied_exactly():
    line = DelayLine(delay_ms=12.5)
    line.push(100.0, b'x')
    assert line.next_due() == pytest.approx(100.0125, abs=1e-9)
    assert line.pop_due(100.0124) == []
    assert line.pop_due(100.0125) == [b'x']
    assert line.next_due() is None
    assert (line.received, line.sent) == (1, 1)


def test_next_due_none_when_empty():
    line = DelayLine(delay_ms=5)
    assert line.next_due() is None
    assert line.pop_due(1e9) == []


def test_fifo_order_kept_under_jitter():
    line = DelayLine(delay_ms=10, jitter_ms=5, rng=random.Random(1))
    frames = [i.to_bytes(4, 'big') for i in range(2000)]
    dues = []
    for i, frame in enumerate(frames):
        line.push(i * 0.0001, frame)  # 0.1 ms apart, much less than the jitter
        dues.append(line._queue[-1][0])
    assert dues == sorted(dues)
    # Jitter did act: some frames were held back behind a later-drawn predecessor
    # and due times are not all "push time + 10 ms".
    assert len({round(d - i * 0.0001, 9) for i, d in enumerate(dues)}) > 100
    popped = line.pop_due(10.0)
    assert popped == frames


def test_jitter_bounded_and_centred():
    line = DelayLine(delay_ms=10, jitter_ms=2, rng=random.Random(7))
    delays = []
    for i in range(500):
        now = i * 1.0  # far apart, so FIFO never holds a frame back
        line.push(now, b'f')
        delays.append((line.next_due() - now) * 1000)
        line.pop_due(now + 1)
    assert 8.0 - 1e-9 <= min(delays) < 8.2 and 11.8 < max(delays) <= 12.0 + 1e-9
    assert sum(delays) / len(delays) == pytest.approx(10, abs=0.2)


def test_jitter_never_makes_delay_negative():
    line = DelayLine(delay_ms=0.5, jitter_ms=5, rng=random.Random(3))
    for i in range(200):
        line.push(float(i), b'f')
        assert line.next_due() >= float(i)
        line.pop_due(float(i) + 1)


@pytest.mark.parametrize('percent', [1, 10, 50])
def test_loss_rate_with_seeded_random(percent):
    line = DelayLine(delay_ms=1, loss_percent=percent, rng=random.Random(42))
    n = 10000
    for i in range(n):
        line.push(i * 1e-5, b'f')
    expected = n * percent / 100
    assert abs(line.dropped_loss - expected) < 4 * (n * percent / 100 * (1 - percent / 100)) ** 0.5
    assert line.received == n
    assert len(line.pop_due(1e9)) == n - line.dropped_loss


@pytest.mark.parametrize('percent, lost', [(0, 0), (100, 1000)])
def test_loss_edges(percent, lost):
    line = DelayLine(loss_percent=percent, rng=random.Random(0))
    for i in range(1000):
        line.push(float(i), b'f')
    assert line.dropped_loss == lost
    assert len(line.pop_due(1e9)) == 1000 - lost


def test_loss_is_reproducible_with_same_seed():
    def lost_pattern(seed):
        line = DelayLine(loss_percent=30, rng=random.Random(seed))
        return [line.push(0.0, b'f') for _ in range(200)]

    assert lost_pattern(5) == lost_pattern(5)
    assert lost_pattern(5) != lost_pattern(6)


def test_queue_bound_drops_and_counts():
    line = DelayLine(delay_ms=100, max_frames=3)
    results = [line.push(0.0, bytes([i])) for i in range(5)]
    assert results == [True, True, True, False, False]
    assert line.dropped_queue == 2
    assert line.pop_due(1.0) == [b'\x00', b'\x01', b'\x02']  # the newest were dropped
    assert line.push(1.0, b'n')  # room again once the queue drained


def test_default_queue_bound_is_10000():
    line = DelayLine(delay_ms=1)
    for _ in range(10005):
        line.push(0.0, b'f')
    assert (line.counters()['queued'], line.dropped_queue) == (10000, 5)


def test_delay_change_applies_to_later_frames_only():
    line = DelayLine(delay_ms=20)
    line.push(0.0, b'old')
    line.delay_ms = 5
    line.push(0.1, b'new')
    assert line.pop_due(0.0199) == []
    assert line.pop_due(0.020) == [b'old']
    assert line.next_due() == pytest.approx(0.105, abs=1e-9)
    assert line.pop_due(0.1049) == []
    assert line.pop_due(0.10501) == [b'new']


def test_shorter_delay_cannot_overtake_queued_frames():
    line = DelayLine(delay_ms=20)
    line.push(0.0, b'old')
    line.delay_ms = 5
    line.push(0.001, b'new')  # would be due at 6 ms, but "old" leaves at 20 ms
    assert line.pop_due(0.010) == []
    assert line.pop_due(0.020) == [b'old', b'new']


def test_send_failure_moves_frame_from_sent_to_dropped():
    line = DelayLine()
    line.push(0.0, b'a')
    line.push(0.0, b'b')
    assert len(line.pop_due(0.0)) == 2
    line.send_failed()
    c = line.counters()
    assert (c['sent'], c['dropped_send'], c['received']) == (1, 1, 2)


def test_pacing_over_time():
    line = DelayLine(delay_ms=3)
    for i in range(10):
        line.push(i * 0.001, bytes([i]))
    popped = drain(line, 0.02)
    assert [f for _, f in popped] == [bytes([i]) for i in range(10)]
    for t, f in popped:
        assert t == pytest.approx(f[0] * 0.001 + 0.003, abs=1.01e-4)


# --- control commands -------------------------------------------------------

NAMES = ('xr', 'yr')


def lines():
    return [DelayLine(delay_ms=1), DelayLine(delay_ms=1)]


def test_command_sets_both_directions():
    ls = lines()
    assert handle_command(b'{"jitter_ms": 1, "loss_percent": 0.5}', ls, NAMES) is None
    assert handle_command(b'{"delay_ms": 20}', ls, NAMES) is None
    for line in ls:
        assert (line.delay_ms, line.jitter_ms, line.loss_percent) == (20, 1, 0.5)


def test_stats_reply():
    ls = lines()
    ls[0].push(0.0, b'f')
    ls[0].pop_due(1.0)
    reply = handle_command(b'{"stats": true}', ls, NAMES)
    json.dumps(reply)  # must be serialisable
    assert reply['a'] == 'xr' and reply['b'] == 'yr'
    assert reply['settings'] == {'delay_ms': 1, 'jitter_ms': 0.0, 'loss_percent': 0.0}
    assert reply['a_to_b']['sent'] == 1 and reply['b_to_a']['sent'] == 0


@pytest.mark.parametrize(
    'text',
    [
        b'{"delay_ms": -1}',
        b'{"loss_percent": 101}',
        b'{"delay_ms": "5"}',
        b'{"delay_ms": true}',
        b'{"jitter_ms": NaN}',
        b'{"delay_ms": Infinity}',
        b'{"bogus": 1}',
        b'[1, 2]',
        b'not json',
        b'{"delay_ms": 5, "loss_percent": 200}',
        b'\xff\xfe',
    ],
)
def test_invalid_commands_reply_error_and_change_nothing(text):
    ls = lines()
    reply = handle_command(text, ls, NAMES)
    assert set(reply) == {'error'}
    assert [(l.delay_ms, l.jitter_ms, l.loss_percent) for l in ls] == [(1, 0.0, 0.0)] * 2


@pytest.mark.parametrize(
    'extra',
    [
        ['--delay-ms', '-1'],
        ['--delay-ms', 'nan'],
        ['--delay-ms', '1', '--loss-percent', '100.5'],
        ['--delay-ms', '1', '--jitter-ms', 'inf'],
    ],
)
def test_cli_rejects_bad_settings_before_opening_sockets(extra):
    with pytest.raises(SystemExit) as exc:
        main(['--a', 'nonexistent0', '--b', 'nonexistent1', *extra])
    assert exc.value.code == 2


def test_frames_overdue_by_more_than_max_late_are_dropped_not_delivered():
    line = DelayLine(delay_ms=10, max_late_ms=100)
    line.push(0.0, b'late')  # due at 0.010
    line.push(0.1, b'on time')  # due at 0.110
    assert line.pop_due(0.2) == [b'on time']  # 'late' is 190 ms overdue: a full buffer drops it
    assert (line.sent, line.dropped_late) == (1, 1)
    assert line.counters()['dropped_late'] == 1
