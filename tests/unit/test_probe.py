"""The pure parts of topologies.emulation.probe: what a run's records say about loss, outage and
delay, and how the sender paces its probes (on a fake clock)."""

import time

import pytest

from topologies.emulation.probe import (
    DATAGRAM,
    MAGIC,
    absolute_sleeper,
    analyze,
    gap_stats_us,
    pace,
    percentile,
)

MS = 1_000_000
START = 5_000 * MS  # CLOCK_MONOTONIC when probe 0 was due


def run(seqs, delay_ns=2 * MS, late=None):
    """Records of probes sent on schedule (probe n at START + n ms, or n ms + late[n] ns)
    and arriving delay_ns later, in the order given."""
    late = late or {}
    return [(s, START + s * MS + late.get(s, 0), START + s * MS + late.get(s, 0) + delay_ns) for s in seqs]


def test_no_loss_means_no_outage():
    r = analyze(run(range(1000)), MS, START, sent=1000)
    assert (r.sent, r.received, r.lost, r.duplicates, r.reordered) == (1000, 1000, 0, 0, 0)
    assert r.longest_outage_ms == 0.0 and r.longest_outage_start_ms is None
    assert r.outages == [] and r.lost_ms == 0.0
    assert r.delay_ms == {'min': 2.0, 'p50': 2.0, 'p90': 2.0, 'p99': 2.0, 'max': 2.0}
    assert r.outage_start_ns() is None


def test_one_gap_counts_the_lost_probes_interval():
    seqs = [s for s in range(1000) if not 300 <= s < 350]  # 50 lost from 300 ms on
    r = analyze(run(seqs), MS, START, sent=1000)
    assert (r.received, r.lost) == (950, 50)
    assert r.longest_outage_ms == 50.0 == r.lost_ms
    assert r.longest_outage_start_ms == 300.0
    assert r.outage_start_ns() == START + 300 * MS
    (gap,) = r.outages
    assert (gap.lost, gap.first_seq, gap.open) == (50, 300, False)


def test_the_longest_of_several_gaps_and_late_sends_inside_it():
    seqs = [s for s in range(1000) if s not in (10, 11) and not 500 <= s < 520]
    # Probe 520, the first one back, left 0.4 ms late: the outage lasted until it left.
    r = analyze(run(seqs, late={520: 400_000}), MS, START, sent=1000)
    assert [o.lost for o in r.outages] == [2, 20]
    assert r.longest_outage_ms == 20.4 and r.longest_outage_start_ms == 500.0
    assert r.lost_ms == 22.0


def test_a_stalled_sender_without_loss_is_no_outage():
    # The sender was held back 5 ms and sent probes 100-104 back to back: nothing was lost.
    late = {100: 4 * MS, 101: 3 * MS, 102: 2 * MS, 103: MS}
    r = analyze(run(range(200), late=late), MS, START, sent=200)
    assert r.lost == 0 and r.longest_outage_ms == 0.0


def test_loss_at_the_end_is_an_open_outage_until_the_sender_stopped():
    r = analyze(run(range(900)), MS, START, sent=1000)
    assert r.lost == 100 and r.lost_ms == 100.0
    (gap,) = r.outages
    assert gap.open and gap.first_seq == 900 and gap.lost == 100
    assert r.longest_outage_ms == 100.0 and r.longest_outage_start_ms == 900.0


def test_loss_at_the_start_counts_from_the_start():
    r = analyze(run(range(30, 100)), MS, START, sent=100)
    (gap,) = r.outages
    assert (gap.start_ms, gap.duration_ms, gap.lost, gap.open) == (0.0, 30.0, 30, False)


def test_without_the_senders_count_losses_at_the_end_are_unseen():
    r = analyze(run(range(900)), MS, START)
    assert (r.sent, r.lost, r.longest_outage_ms) == (900, 0, 0.0)


def test_reordering_is_counted_and_is_no_loss():
    seqs = list(range(100))
    seqs[40], seqs[41] = seqs[41], seqs[40]  # 41 overtakes 40
    seqs.remove(70)
    seqs.insert(75, 70)  # 70 arrives after 71-75
    r = analyze(run(seqs), MS, START, sent=100)
    assert (r.lost, r.reordered, r.duplicates) == (0, 2, 0)
    assert r.longest_outage_ms == 0.0


def test_duplicates_are_counted_once():
    records = run(range(100))
    records[50:50] = run([49, 49])  # two extra copies of 49
    r = analyze(records, MS, START, sent=100)
    assert (r.received, r.lost, r.duplicates, r.reordered) == (100, 0, 2, 0)
    assert r.delay_ms['max'] == 2.0  # the first copy's delay only


def test_nothing_received_is_one_open_outage_over_the_whole_run():
    r = analyze([], MS, START, sent=500)
    assert (r.sent, r.received, r.lost) == (500, 0, 500)
    assert r.longest_outage_ms == 500.0 == r.lost_ms
    assert r.outages[0].open and r.delay_ms == {}


def test_empty_run():
    r = analyze([], MS, START, sent=0)
    assert (r.sent, r.lost, r.longest_outage_ms, r.outages, r.delay_ms) == (0, 0, 0.0, [], {})
    r = analyze([], MS, START)
    assert (r.sent, r.lost) == (0, 0)


def test_records_beyond_what_was_sent_are_ignored():
    r = analyze(run(range(12)), MS, START, sent=10)
    assert (r.sent, r.received, r.lost) == (10, 10, 0)


def test_delay_percentiles_and_other_rates():
    records = [(s, START + s * 10 * MS, START + s * 10 * MS + (s + 1) * MS) for s in range(100)]
    r = analyze(records, 10 * MS, START, sent=100)  # 100 Hz, delays 1..100 ms
    assert r.interval_ms == 10.0
    assert r.delay_ms == {'min': 1.0, 'p50': 50.0, 'p90': 90.0, 'p99': 99.0, 'max': 100.0}


@pytest.mark.parametrize(
    'values, q, expected',
    [([], 50, None), ([7], 99, 7), ([1, 2, 3, 4], 50, 2), ([1, 2, 3, 4], 100, 4), ([1, 2, 3, 4], 0, 1)],
)
def test_percentile(values, q, expected):
    assert percentile(values, q) == expected


def test_gap_stats():
    assert gap_stats_us([]) == {} and gap_stats_us([5]) == {}
    stats = gap_stats_us([0, 1000_000, 2000_000, 4000_000])
    assert (stats['min'], stats['p50'], stats['max'], stats['mean']) == (1000.0, 1000.0, 2000.0, 1333.3)


def test_the_datagram_is_small():
    assert DATAGRAM.size == 36 and len(MAGIC) == 4


# --- pacing ---------------------------------------------------------------------------------------

US = 1_000


class FakeTime:
    """A clock that only moves when the sender sleeps (waking `wake_late` ns after the time
    asked) or when a test stalls it; it counts the reads, sleeps and sends."""

    def __init__(self, now=START - 2 * MS, wake_late=50 * US):
        self.now, self.wake_late = now, wake_late
        self.reads = 0
        self.sleeps = []  # the absolute times asked for
        self.sent = []  # (seq, due, sent)
        self.stall_at = {}  # seq -> ns the sender is held back after sending it
        self.cut_short = set()  # sleeps (by index) that a signal ends at once

    def clock(self):
        self.reads += 1
        return self.now

    def sleep_until(self, t_ns):
        self.sleeps.append(t_ns)
        if len(self.sleeps) - 1 in self.cut_short:
            self.now += 10 * US  # woken by a signal, before the time asked
            return True
        self.now = max(self.now, t_ns) + self.wake_late
        return False

    def send(self, seq, due):
        self.sent.append((seq, due, self.now))
        self.now += 5 * US + self.stall_at.get(seq, 0)  # the send itself, and any stall after it
        return self.sent[-1][2]


def pace_for(t, probes, stopped=lambda: False):
    return pace(START, MS, START + probes * MS, t.clock, t.sleep_until, t.send, stopped)


def test_each_probe_sleeps_once_until_its_due_time_and_never_polls():
    t = FakeTime()
    sent_at = pace_for(t, 1000)
    assert [seq for seq, _, _ in t.sent] == list(range(1000))
    assert t.sleeps == [START + n * MS for n in range(1000)]  # absolute: errors never add up
    assert sent_at == [START + n * MS + 50 * US for n in range(1000)]  # the wake-up's lateness
    assert t.reads == 1000  # once before each sleep: no polling loop
    assert gap_stats_us(sent_at)['p99'] == 1000.0


def test_after_a_stall_the_missed_probes_go_at_once_and_the_schedule_stays():
    t = FakeTime()
    t.stall_at[10] = 4_500 * US  # the sender is held back 4.5 ms after probe 10
    pace_for(t, 30)
    by_seq = {seq: (due, sent) for seq, due, sent in t.sent}
    assert len(by_seq) == 30  # nothing skipped
    # Probes 11-14 were due during the stall: sent back to back (5 us apart), without sleeping.
    assert [by_seq[n][1] - by_seq[11][1] for n in range(11, 15)] == [0, 5 * US, 10 * US, 15 * US]
    assert START + 11 * MS not in t.sleeps and START + 14 * MS not in t.sleeps
    # Then on schedule again: probe 15 sleeps until its own due time, not 1 ms after probe 14.
    assert by_seq[15] == (START + 15 * MS, START + 15 * MS + 50 * US)
    assert all(due == START + seq * MS for seq, (due, _) in by_seq.items())


def test_a_sleep_cut_short_by_a_signal_sleeps_again_and_never_sends_early():
    t = FakeTime()
    t.cut_short = {3, 4}
    pace_for(t, 10)
    assert t.sleeps[3:6] == [START + 3 * MS] * 3  # twice cut short, then the full sleep
    assert all(sent >= due for _, due, sent in t.sent)


def test_it_stops_when_told_and_at_the_end():
    t = FakeTime()
    assert len(pace(START, MS, None, t.clock, t.sleep_until, t.send, lambda: len(t.sent) >= 25)) == 25
    t = FakeTime()
    assert len(pace_for(t, 7)) == 7  # due times START .. START + 6 ms, before the end
    assert len(pace(START, MS, START, t.clock, t.sleep_until, t.send, lambda: False)) == 0


def test_the_absolute_sleeper_sleeps_until_the_monotonic_time_asked():
    sleep_until = absolute_sleeper()
    for _ in range(3):
        target = time.monotonic_ns() + 2 * MS
        sleep_until(target)
        assert time.monotonic_ns() >= target
    before = time.monotonic_ns()
    assert sleep_until(before - 5 * MS) is False  # in the past: returns at once
    assert time.monotonic_ns() - before < 50 * MS
