"""Benchmark how late this machine wakes a sleeping real-time thread: the floor under every
span emulator's lateness (topologies/emulation/spand.c sleeps until EARLY_NS before each
departure, then spins to it).

Run as root (SCHED_FIFO), with nothing else of ours running:

    flock /tmp/naas-root.lock .venv/bin/python scripts/bench/wakeups.py [--seconds 30] \
        [--early-us 30 300] [--period-ms 5] [--runs 2]

Each run sleeps until `early` before a deadline every period (plus up to 1 ms at random, so
that no deadline falls on the timer tick's beat), spins to the deadline, and records how late
it got there: what a span emulator's frame waiting alone would have been. Also the steal
time the kernel counted meanwhile (/proc/stat), to tell the host taking the vCPU while it
runs from the host being slow to give back a halted one. Prints Markdown with the machine.
"""

import argparse
import ctypes
import os
import random
import time
from datetime import date

from machine import machine

PR_SET_TIMERSLACK = 29
EDGES_US = (50, 100, 300, 500, 800, 2000)  # 800: the tolerance of a 6 ms span


def steal_s():
    with open('/proc/stat') as f:
        fields = f.readline().split()
    return int(fields[8]) / os.sysconf('SC_CLK_TCK')


def run(seconds, early_us, period_ms):
    """Lateness (us) of every deadline over `seconds`, and the steal time counted meanwhile."""
    late, now = [], time.monotonic_ns
    steal, end = steal_s(), now() + int(seconds * 1e9)
    due = now() + int(period_ms * 1e6)
    while due < end:
        sleep_ns = due - early_us * 1000 - now()
        if sleep_ns > 0:
            time.sleep(sleep_ns / 1e9)
        while now() < due:
            pass
        late.append((now() - due) / 1000)
        due += int(period_ms * 1e6) + random.randrange(1_000_000)
    return late, steal_s() - steal


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=30)
    parser.add_argument('--early-us', type=int, nargs='+', default=[30, 300])
    parser.add_argument('--period-ms', type=float, default=5)
    parser.add_argument('--runs', type=int, default=2)
    args = parser.parse_args()
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(50))
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)  # as spand: wake when asked
    print(
        f'Wake-ups ({date.today().isoformat()}, {machine()}): SCHED_FIFO, a deadline every '
        f'{args.period_ms:g}-{args.period_ms + 1:g} ms for {args.seconds:g} s per run.\n'
    )
    head = ' | '.join(f'> {e} us' for e in EDGES_US)
    print(f'| spin (us) | run | wake-ups | p50 / p99 / max late (us) | {head} | steal (s) | load avg |')
    print('|---' * (6 + len(EDGES_US)) + '|')
    for run_no in range(1, args.runs + 1):
        for early in args.early_us:
            late, steal = run(args.seconds, early, args.period_ms)
            late.sort()
            p50, p99 = late[len(late) // 2], late[int(0.99 * (len(late) - 1))]
            over = ' | '.join(str(sum(v > e for v in late)) for e in EDGES_US)
            print(
                f'| {early} | {run_no} | {len(late)} | {p50:.0f} / {p99:.0f} / {late[-1]:.0f} | {over} '
                f'| {steal:.2f} | {os.getloadavg()[0]:.2f} |',
                flush=True,
            )


if __name__ == '__main__':
    main()
