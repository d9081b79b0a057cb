"""Benchmark the emulated fabric: start-up, span fidelity, idle cost. Run as root:

    .venv/bin/python scripts/bench/emulation.py [--runs 3] > /tmp/bench.md

Prints a Markdown section for docs/benchmarks.md (machine and date included).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date

from machine import machine
from mininet.log import setLogLevel

from topologies.emulation.measure import measure_spans
from topologies.emulation.net import Emulation
from topologies.model.fabric import load_fabric

CLK_TCK = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open(f'/proc/{pid}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return total / CLK_TCK


def rss_mb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f'/proc/{pid}/status') as f:
                total += next(int(line.split()[1]) for line in f if line.startswith('VmRSS'))
        except (OSError, StopIteration):
            pass
    return total / 1024


def daemon_pids(emu):
    pids = []
    for switch in emu.net.switches:
        for daemon in ('ovs-vswitchd', 'ovsdb-server'):
            with open(os.path.join(switch.rundir, f'{daemon}.pid')) as f:
                pids.append(int(f.read()))
    return pids


def relayed_spans(emu):
    return sum(getattr(link, 'mode', None) == 'relay' for link in emu.net.links)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--runs', type=int, default=3, help='lumen-qts start/stop cycles')
    parser.add_argument('--idle-seconds', type=float, default=10.0)
    args = parser.parse_args()
    setLogLevel('warning')
    ovs = subprocess.run(['ovs-vswitchd', '--version'], capture_output=True, text=True).stdout.split('\n')[0]
    out = [f'## Emulated fabric ({date.today().isoformat()})', '', f'Machine: {machine(ovs)}.', '']
    lumen = load_fabric('lumen-qts')

    ups, downs = [], []
    for run in range(args.runs):
        emu = Emulation(lumen)
        t = time.monotonic()
        emu.start()
        ups.append(time.monotonic() - t)
        if run == args.runs - 1:
            time.sleep(2)
            relays, daemons = [emu.span_emulator.pid], daemon_pids(emu)
            n_relayed = relayed_spans(emu)
            c0r, c0d = cpu_seconds(relays), cpu_seconds(daemons)
            time.sleep(args.idle_seconds)
            idle_relays = 100 * (cpu_seconds(relays) - c0r) / args.idle_seconds
            idle_daemons = 100 * (cpu_seconds(daemons) - c0d) / args.idle_seconds
            mem_relays, mem_daemons = rss_mb(relays), rss_mb(daemons)
            delays = measure_spans(emu, throughput=False)
            sample = [
                s
                for s in lumen.spans
                if s.id in ('pphx-pelp', 'pden-pkc', 'pchi-pcmh', 'phx2-phx1', 'iad2-ric1', 'pdx2-psea')
            ]
            lumen_tp = measure_spans(emu, sample, throughput=True, seconds=3)
        t = time.monotonic()
        emu.stop()
        downs.append(time.monotonic() - t)

    with Emulation(load_fabric('triangle')) as emu:
        triangle = measure_spans(emu, throughput=True, seconds=5)

    out += [
        f'lumen-qts: {len(lumen.sites)} sites (one ovsdb-server + ovs-vswitchd each), '
        f'{len(lumen.spans)} spans ({n_relayed} through the span emulator, '
        'the others joined in the kernel), '
        f'{sum(len(t.sites) for t in lumen.tenants.values())} tenant hosts, {len(lumen.sites)} probes.',
        '',
        '| figure | value |',
        '|---|---|',
        f'| start-up, {args.runs} runs (median / max) | {statistics.median(ups):.1f} s / {max(ups):.1f} s |',
        f'| tear-down (median) | {statistics.median(downs):.1f} s |',
        f'| idle CPU, the span emulator ({n_relayed} spans), over {args.idle_seconds:g} s '
        f'| {idle_relays:.2f} % of one core |',
        f'| idle CPU, all {len(daemons)} OVS daemons together | {idle_daemons:.2f} % of one core |',
        f'| memory (RSS): span emulator / OVS daemons | {mem_relays:.0f} MB / {mem_daemons:.0f} MB |',
    ]
    errors = [f.measured_delay_ms - f.delay_ms for f in delays]
    out += [
        '',
        'One-way delay, every lumen-qts span (probe to probe, 40 pings at 5 ms, smallest RTT / 2):',
        '',
        '| | error (measured - configured) |',
        '|---|---|',
        f'| mean | {statistics.mean(errors):+.3f} ms |',
        f'| median | {statistics.median(errors):+.3f} ms |',
        f'| min / max | {min(errors):+.3f} / {max(errors):+.3f} ms |',
        f'| spans within 5 % + 0.5 ms | {sum(f.delay_ok for f in delays)} of {len(delays)} |',
        '',
        'TCP throughput (one iperf3 flow, A to B, first second omitted):',
        '',
        '| fabric | span | emulated Mb/s | measured Mb/s | ratio | delay ms | measured |',
        '|---|---|---|---|---|---|---|',
    ]
    for name, figures in (('triangle', triangle), ('lumen-qts', lumen_tp)):
        for f in figures:
            ratio = f'{f.measured_mbps / f.mbps:.3f}' if f.measured_mbps else 'failed'
            out.append(
                f'| {name} | {f.a}-{f.b} | {f.mbps:g} | {f.measured_mbps} | {ratio} | '
                f'{f.delay_ms:g} | {f.measured_delay_ms} |'
            )
    out += [
        '',
        'Per-span delays on lumen-qts (median: the median RTT / 2, i.e. with jitter):',
        '',
        '| span | configured ms | measured ms | error ms | median ms |',
        '|---|---|---|---|---|',
    ]
    out += [
        f'| {f.a}-{f.b} | {f.delay_ms:.3f} | {f.measured_delay_ms:.3f} | '
        f'{f.measured_delay_ms - f.delay_ms:+.3f} | {f.median_delay_ms:.3f} |'
        for f in delays
    ]
    print('\n'.join(out))


if __name__ == '__main__':
    sys.exit(main())
