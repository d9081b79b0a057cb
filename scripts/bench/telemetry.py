"""What per-intent telemetry costs the controller on an emulated fabric with many intents. Run
as root from the repository, through the shared lock (the machine has 2 cores):

    flock /tmp/naas-root.lock .venv/bin/python scripts/bench/telemetry.py [--intents 1000] \\
        [--window 30] > /tmp/telemetry.md

lumen-qts with enough tenants at every campus for `--intents` intents of 10 Mb/s (capacity
never binds), all INSTALLED, no traffic. The controller's CPU (utime + stime) is read over
`--window` seconds; py-spy then samples it for as long, and the samples whose stack holds the
telemetry (the meter and flow counters asked for once a second: os-ken parsing the replies,
the core taking them, the once-a-second look at every intent) say its share. Prints a
Markdown section for docs/benchmarks.md.
"""

import argparse
import collections
import itertools
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import date

from machine import machine

from naasctl.client import IntentState, enum_value, make_order
from topologies.lab.lab import Lab
from topologies.lab.tenants import with_tenants
from topologies.model.fabric import load_fabric

TICK_S = 1 / os.sysconf('SC_CLK_TCK')
INSTALLED = enum_value(IntentState, 'INSTALLED')
# A py-spy stack holding one of these is telemetry's work.
TELEMETRY = ('MeterStats', 'FlowStats', 'meter_counters', 'egress_counters', 'telemetry.py', '_counters')


def _thread_of(stack):
    """The thread a py-spy raw stack ran on, by the function its thread started in."""
    frames = stack.split(';')
    skip = ('(threading.py', 'thread', 'wrapper')  # threading's and fatal_on_error's frames
    first = next((f for f in frames[1:] if not any(k in f.lower() for k in skip)), frames[-1])
    return first.split(' (')[0].strip() or frames[0]


def cpu_s(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--intents', type=int, default=1000)
    parser.add_argument('--window', type=float, default=30.0)
    args = parser.parse_args()
    base = load_fabric('lumen-qts')
    campuses = sum(1 for s in base.sites.values() if s.kind == 'datacenter')
    tenants = math.ceil(args.intents / math.comb(campuses, 2))
    with tempfile.TemporaryDirectory(prefix='bench-telemetry-') as tmp:
        fabric = with_tenants('lumen-qts', tenants, os.path.join(tmp, 'fabric.yaml'))
        pairs = [(t.id, a, b) for t in fabric.tenants.values() for a, b in itertools.combinations(t.sites, 2)]
        orders = [make_order(a, b, 0.01, tenant=t) for t, a, b in pairs[: args.intents]]
        say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
        with Lab(fabric, tmp, say=say) as lab:
            with lab.client() as operator:
                for i in range(0, len(orders), 1000):
                    operator.create_intents(orders[i : i + 1000])
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline:
                    states = [i.state for i in operator.list_intents()]
                    if states.count(INSTALLED) == len(orders):
                        break
                    time.sleep(2)
                installed = states.count(INSTALLED)
            say(f'{installed} of {len(orders)} intents INSTALLED')
            time.sleep(5)
            pid = lab.controller.proc.pid
            before = cpu_s(pid)
            time.sleep(args.window)
            busy = (cpu_s(pid) - before) / args.window * 100
            raw = os.path.join(tmp, 'spy.txt')
            subprocess.run(
                ['py-spy', 'record', '--pid', str(pid), '--duration', str(int(args.window)), '--rate', '200']
                + ['--format', 'raw', '--output', raw, '--nonblocking', '--threads'],
                check=True,
                capture_output=True,
                executable=os.path.join(os.path.dirname(sys.executable), 'py-spy'),
            )
            total = ours = 0
            threads = collections.Counter()  # where the rest went: by thread
            with open(raw) as f:
                for line in f:
                    stack, _, count = line.rstrip().rpartition(' ')
                    if not count.isdigit():
                        continue
                    total += int(count)
                    ours += int(count) if any(k in stack for k in TELEMETRY) else 0
                    threads[_thread_of(stack)] += int(count)
    share = ours / total * busy if total else 0.0
    print(f'## Per-intent telemetry on emulated lumen-qts ({date.today().isoformat()})\n')
    print(f'Machine: {machine()}.\n')
    print(
        f'{installed} intents INSTALLED ({tenants} tenants at {campuses} campuses), no traffic; '
        f'`scripts/bench/telemetry.py --intents {args.intents} --window {args.window:g}`.\n'
    )
    print('| figure | value |')
    print('| --- | --- |')
    print(f'| controller CPU, idle fabric ({args.window:g} s) | {busy:.1f} % of a core |')
    print(f'| of which telemetry (py-spy: {ours} of {total} busy samples) | {share:.1f} % of a core |')
    for thread, n in threads.most_common(6):
        print(f'| of which thread {thread} | {n / total * busy:.1f} % of a core |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
