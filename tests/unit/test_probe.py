"""The pure part of topologies.emulation.probe: what a run's records say about loss, outage and delay."""

import pytest

from topologies.emulation.probe import DATAGRAM, MAGIC, analyze, gap_stats_us, percentile

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
