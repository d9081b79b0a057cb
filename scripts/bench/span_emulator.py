"""Benchmark the span emulator under load: its CPU per frame, and how true the delays stay.

Run as root from the repository (through the shared lock, the machine has 2 cores):

    flock /tmp/naas-root.lock .venv/bin/python scripts/bench/span_emulator.py wire > /tmp/wire.md
    flock /tmp/naas-root.lock .venv/bin/python scripts/bench/span_emulator.py fabric \
        --fabric lumen-qts > /tmp/lumen.md
    ... fabric --fabric topohub:sndlib/germany50 > /tmp/germany50.md

`wire`: one span (10 ms) between two namespaces, nothing else on the path; iperf3 UDP of
1400-byte datagrams at each offered load plus a 100 Hz ping. CPU of the emulator over the
frames it relayed: microseconds of CPU per frame per span.

`fabric`: the emulated fabric without a controller. For each offered load and each path
length (hops), tenant traffic (iperf3 UDP, 1400-byte datagrams) runs along a path of that
many spans (temporary flows, `topologies/emulation/traffic.py`) while every span of the path
is measured probe to probe (`measure_spans`: the smallest RTT / 2, and the median RTT / 2).
Then, with two 3 Mb/s flows across the fabric, every span is measured. A fabric without
tenants (an import) gets a tenant at the ends of the paths it needs.

Prints Markdown (machine and date included) for docs/benchmarks.md.
"""

import argparse
import itertools
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from machine import machine
from mininet.log import setLogLevel

from topologies.emulation.lateness import LatenessMark, window
from topologies.emulation.measure import DELAY_TOLERANCE, measure_spans
from topologies.emulation.net import Emulation
from topologies.emulation.span import DIRECT_BELOW_MS, SpanEmulator
from topologies.emulation.traffic import TenantPath, UdpFlow, shortest_path
from topologies.model.fabric import load_fabric, parse_fabric


def cpu_seconds(pids):
    """CPU time of these processes so far, in ns resolution (the scheduler's own count)."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f'/proc/{pid}/schedstat').read_text().split()[0])
        except OSError:
            pass
    return total / 1e9


def log(message):
    print(message, file=sys.stderr, flush=True)


# --- the emulator -----------------------------------------------------------------------

EMULATOR = 'naas-spand (one native process for every relayed span)'


def frames_sent(stats):
    """Frames relayed so far, every span and direction, from the emulator's stats."""
    return sum(span[d]['sent'] for span in stats.values() for d in ('a_to_b', 'b_to_a'))


def worst(late):
    """(p50, p99, max) of the latest span, and how many spans were lying, over SpanLateness values."""
    carried = [v for v in late if v.frames]
    if not carried:
        return None
    return (
        max(v.p50_ms for v in carried),
        max(v.p99_ms for v in carried),
        max(v.max_ms for v in carried),
        sum(v.lying for v in late),
    )


class FabricEmulator:
    """The span emulator of a running Emulation."""

    def __init__(self, emu):
        self.emu = emu

    def pids(self):
        return [self.emu.span_emulator.pid]

    def frames(self):
        return frames_sent(self.emu.span_emulator.stats())

    def mark(self):
        return self.emu.lateness_mark()

    def lateness(self, since, spans):
        late = self.emu.lateness(since)
        return worst([late[s.id] for s in spans if s.id in late])


class WireEmulator:
    """The span emulator with one span between two interfaces."""

    def __init__(self, a, b, delay_ms):
        self.emulator = SpanEmulator('bench')
        self.emulator.add('wire', a, b, delay_ms)

    def pids(self):
        return [self.emulator.pid]

    def frames(self):
        return frames_sent(self.emulator.stats())

    def mark(self):
        return LatenessMark(self.emulator.stats())

    def lateness(self, since):
        return worst(window(self.emulator.stats(), since).values())

    def close(self):
        self.emulator.stop()


# --- wire: one span, nothing else ---------------------------------------------------------


class Wire:
    """ns A: host A <-veth-> end A  [span emulator]  end B <-veth-> host B :ns B"""

    def __init__(self):
        pid = os.getpid()
        self.ns = (f'bw-a-{pid}', f'bw-b-{pid}')
        self.hosts = (f'bwha{pid}', f'bwhb{pid}')
        self.ends = (f'bwxa{pid}', f'bwxb{pid}')
        self.ips = ('10.97.0.1', '10.97.0.2')

    def sh(self, *cmd, check=True):
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=60)

    def in_ns(self, i, *cmd, check=True):
        return self.sh('ip', 'netns', 'exec', self.ns[i], *cmd, check=check)

    def __enter__(self):
        self.close()
        for i in (0, 1):
            self.sh('ip', 'netns', 'add', self.ns[i])
            self.sh('ip', 'link', 'add', self.ends[i], 'type', 'veth', 'peer', 'name', self.hosts[i])
            self.sh('ip', 'link', 'set', self.hosts[i], 'netns', self.ns[i])
            Path(f'/proc/sys/net/ipv6/conf/{self.ends[i]}/disable_ipv6').write_text('1')
            self.sh('ip', 'link', 'set', self.ends[i], 'up')
            self.in_ns(i, 'ip', 'link', 'set', 'lo', 'up')
            self.in_ns(i, 'ip', 'addr', 'add', f'{self.ips[i]}/24', 'dev', self.hosts[i])
            self.in_ns(i, 'ip', 'link', 'set', self.hosts[i], 'up')
            self.in_ns(i, 'ethtool', '-K', self.hosts[i], 'tx', 'off')
        macs = [
            self.in_ns(i, 'cat', f'/sys/class/net/{self.hosts[i]}/address').stdout.strip() for i in (0, 1)
        ]
        for i in (0, 1):  # static neighbours: no ARP in the figures
            self.in_ns(
                i,
                'ip',
                'neigh',
                'replace',
                self.ips[1 - i],
                'lladdr',
                macs[1 - i],
                'dev',
                self.hosts[i],
                'nud',
                'permanent',
            )
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for ns in self.ns:
            self.sh('ip', 'netns', 'del', ns, check=False)

    def load(self, emulator, mbps, seconds, delay_ms):
        """Offer `mbps` of UDP A to B with a 100 Hz ping beside it; the figures of one run."""
        server = subprocess.Popen(
            ['ip', 'netns', 'exec', self.ns[1], 'iperf3', '-s', '-1'],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        pings = int(seconds * 90)
        ping = subprocess.Popen(
            ['ip', 'netns', 'exec', self.ns[0], 'ping', '-n', '-i', '0.01', '-c', str(pings), self.ips[1]],
            stdout=subprocess.PIPE,
            text=True,
        )
        mark, frames0, cpu0, t0 = (
            emulator.mark(),
            emulator.frames(),
            cpu_seconds(emulator.pids()),
            time.monotonic(),
        )
        if mbps:
            self.in_ns(
                0, 'iperf3', '-c', self.ips[1], '-u', '-b', f'{mbps}M', '-l', '1400', '-t', str(seconds)
            )
        out = ping.communicate(timeout=seconds + 30)[0]
        frames, cpu, wall = (
            emulator.frames() - frames0,
            cpu_seconds(emulator.pids()) - cpu0,
            time.monotonic() - t0,
        )
        late = emulator.lateness(mark)
        if server.poll() is None:
            server.terminate()
        server.wait(5)
        rtt_min, rtt_avg = map(float, re.search(r'= ([\d.]+)/([\d.]+)/', out).groups())
        rtts = sorted(float(m) for m in re.findall(r'time=([\d.]+) ms', out))
        return {
            'mbps': mbps,
            'fps': frames / wall,
            'cpu_percent': 100 * cpu / wall,
            'us_per_frame': 1e6 * cpu / max(frames, 1),
            'error_min_ms': rtt_min / 2 - delay_ms,
            'error_avg_ms': rtt_avg / 2 - delay_ms,
            'error_p99_ms': rtts[int(len(rtts) * 0.99)] / 2 - delay_ms,
            'late': late,
        }


def wire(args):
    out = [
        f'### One span, nothing else on the path ({date.today().isoformat()})',
        '',
        f'Machine: {machine()}. Emulator: {EMULATOR}. Span delay {args.delay_ms:g} ms; iperf3 UDP '
        f'(1400-byte datagrams) plus a 100 Hz ping, {args.seconds:g} s each; frames counted both ways. '
        'Delay error: RTT / 2 minus the delay (ping: 1 us for min and avg, 0.1 ms for each reply).',
        '',
        '| offered Mb/s | frames/s relayed | emulator CPU (% of a core) | CPU µs per frame | '
        'delay error: min / avg / p99 of RTT/2 (ms) | lateness p50 / p99 / max (ms) |',
        '|---|---|---|---|---|---|',
    ]
    with Wire() as w:
        for mbps in args.loads:
            emulator = WireEmulator(w.ends[0], w.ends[1], args.delay_ms)
            try:
                r = w.load(emulator, mbps, args.seconds, args.delay_ms)
            finally:
                emulator.close()
            log(json.dumps(r))
            out.append(
                f'| {mbps:g} | {r["fps"]:.0f} | {r["cpu_percent"]:.1f} | {r["us_per_frame"]:.1f} | '
                f'{r["error_min_ms"]:+.3f} / {r["error_avg_ms"]:+.3f} / {r["error_p99_ms"]:+.3f} | '
                f'{late_text(r["late"])} |'
            )
    print('\n'.join(out))


# --- fabric: tenant traffic along paths of several hops -----------------------------------


def relayed(span):
    return span.delay_ms >= DIRECT_BELOW_MS


def tenant_paths(fabric):
    """{hops: (tenant id, sites)} over every pair of one tenant's sites, preferring paths with
    more spans relayed (those the emulator delays)."""
    best = {}
    for tenant in fabric.tenants.values():
        for i, a in enumerate(tenant.sites):
            for b in tenant.sites[i + 1 :]:
                sites = shortest_path(fabric, a, b)
                hops = len(sites) - 1
                score = sum(relayed(fabric.span(x, y)) for x, y in itertools.pairwise(sites))
                if hops not in best or score > best[hops][0]:
                    best[hops] = (score, tenant.id, sites)
    return {hops: (t, sites) for hops, (_, t, sites) in best.items()}


def with_bench_tenant(spec, hops_wanted):
    """An imported fabric has no tenants: add one at the ends of a path of each length."""
    from topologies.model.importer import import_topohub

    fabric = load_fabric(spec)
    if fabric.tenants:
        return fabric
    ends = []
    ids = list(fabric.sites)
    for hops in hops_wanted:
        pair = next(
            ((a, b) for a in ids for b in ids if a < b and len(shortest_path(fabric, a, b)) - 1 == hops),
            None,
        )
        if pair:
            ends += [s for s in pair if s not in ends]
    doc = import_topohub(spec.split(':', 1)[1], tenants=[('bench', ends)])
    return parse_fabric(doc, source=spec)


def pick(paths, hops):
    """The path of `hops` spans, or of the nearest length there is."""
    return paths[min(paths, key=lambda h: (abs(h - hops), h))]


def summary(figures):
    def err(f, attr):
        return getattr(f, attr) - f.delay_ms

    off = [f for f in figures if not f.delay_ok]
    return {
        'spans': len(figures),
        'err_min_mean': statistics.mean(err(f, 'measured_delay_ms') for f in figures),
        'err_min_max': max(err(f, 'measured_delay_ms') for f in figures),
        'err_med_mean': statistics.mean(err(f, 'median_delay_ms') for f in figures),
        'err_med_max': max(err(f, 'median_delay_ms') for f in figures),
        'within': len(figures) - len(off),
    }


def sample(emulator, emu):
    ovs = []
    for switch in emu.net.switches:
        for daemon in ('ovs-vswitchd', 'ovsdb-server'):
            ovs.append(int(Path(switch.rundir, f'{daemon}.pid').read_text()))
    return {
        'emulator': cpu_seconds(emulator.pids()),
        'ovs': cpu_seconds(ovs),
        'frames': emulator.frames(),
        't': time.monotonic(),
        'mark': emulator.mark(),
    }


def costs(emulator, before, after, spans):
    wall = after['t'] - before['t']
    frames = after['frames'] - before['frames']
    used = after['emulator'] - before['emulator']
    late = emulator.lateness(before['mark'], spans)
    return {
        'emulator_percent': 100 * used / wall,
        'ovs_percent': 100 * (after['ovs'] - before['ovs']) / wall,
        'us_per_frame': 1e6 * used / max(frames, 1),
        'fps': frames / wall,
        'late': late,
    }


def late_text(late):
    if late is None:
        return 'no frames'
    p50, p99, top, lying = late
    return f'{p50:.3f} / {p99:.3f} / {top:.3f}' + (f' ({lying} lying)' if lying else '')


def fabric_bench(args):
    fabric = with_bench_tenant(args.fabric, args.hops)
    paths = tenant_paths(fabric)
    n_relayed = sum(map(relayed, fabric.spans))
    rows, whole = [], None
    log(f'{fabric.name}: paths {paths}')
    with Emulation(fabric) as emu:
        emulator = FabricEmulator(emu)
        for mbps in args.loads:
            for hops in args.hops:
                tenant, sites = pick(paths, hops)
                with TenantPath(emu, tenant, sites) as path:
                    spans = [s for s in path.spans if relayed(s)] or path.spans
                    flow = UdpFlow(path, mbps, seconds=3 + 1.2 * len(spans)).start()
                    time.sleep(1.0)
                    before = sample(emulator, emu)
                    figures = measure_spans(emu, spans, throughput=False)
                    after = sample(emulator, emu)
                    got, lost = flow.result()
                row = {'mbps': mbps, 'hops': len(sites) - 1, 'received': got, 'lost': lost}
                row.update(summary(figures), **costs(emulator, before, after, spans))
                log(json.dumps(row))
                rows.append(row)
        # The whole fabric with two 3 Mb/s flows across it (the longest paths).
        longest = sorted(paths)[-2:]
        with TenantPath(emu, *paths[longest[-1]]) as p1, TenantPath(emu, *paths[longest[0]]) as p2:
            seconds = 5 + 0.8 * len(fabric.spans)
            flows = [UdpFlow(p, 3, seconds=seconds).start() for p in (p1, p2)]
            time.sleep(1.0)
            before = sample(emulator, emu)
            figures = measure_spans(emu, throughput=False)
            after = sample(emulator, emu)
            for flow in flows:
                flow.stop()
        whole = summary(figures)
        whole.update(costs(emulator, before, after, fabric.spans))
        log(json.dumps(whole))
    tol = f'{DELAY_TOLERANCE[0] * 100:g} % + {DELAY_TOLERANCE[1]:g} ms'
    out = [
        f'### {fabric.name} under load ({date.today().isoformat()})',
        '',
        f'Machine: {machine()}. Emulator: {EMULATOR}. {len(fabric.sites)} sites, '
        f'{len(fabric.spans)} spans ({n_relayed} relayed, the others joined in the kernel); no controller, '
        'temporary flows. Delay error: measured minus configured one-way delay of each relayed span '
        'on the path, probe to probe while the load runs (min: smallest RTT / 2; median: median '
        'RTT / 2). Lateness: sent minus due in the emulator over the measurement, p50 / p99 / max in '
        'ms of the latest span (spans lying: p99 beyond 0.5 ms + 5 % of the delay). CPU in % of one '
        "core over the measurement; µs per frame: the emulator's CPU over the frames it relayed.",
        '',
        '| offered Mb/s | hops | spans measured | delay error min: mean / max (ms) | '
        f'median: mean / max (ms) | within {tol} | lateness p50 / p99 / max (ms) | emulator CPU % | '
        'µs per frame | OVS CPU % | UDP received Mb/s (loss %) |',
        '|---|---|---|---|---|---|---|---|---|---|---|',
    ]
    for r in rows:
        out.append(
            f'| {r["mbps"]:g} | {r["hops"]} | {r["spans"]} | '
            f'{r["err_min_mean"]:+.3f} / {r["err_min_max"]:+.3f} | '
            f'{r["err_med_mean"]:+.3f} / {r["err_med_max"]:+.3f} | {r["within"]} of {r["spans"]} | '
            f'{late_text(r["late"])} | {r["emulator_percent"]:.1f} | {r["us_per_frame"]:.1f} | '
            f'{r["ovs_percent"]:.1f} | {r["received"]:g} ({r["lost"]:.2g}) |'
        )
    out += [
        '',
        f'Every span of {fabric.name} measured while two 3 Mb/s UDP flows cross the fabric: '
        f'delay error min {whole["err_min_mean"]:+.3f} / {whole["err_min_max"]:+.3f} ms (mean / max), '
        f'median {whole["err_med_mean"]:+.3f} / {whole["err_med_max"]:+.3f} ms; '
        f'{whole["within"]} of {whole["spans"]} spans within {tol}; lateness {late_text(whole["late"])} ms; '
        f'emulator {whole["emulator_percent"]:.1f} % of a core, {whole["us_per_frame"]:.1f} µs per frame; '
        f'OVS daemons {whole["ovs_percent"]:.1f} %.',
    ]
    print('\n'.join(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='part', required=True)
    w = sub.add_parser('wire', help='one span between two namespaces')
    w.add_argument('--loads', type=float, nargs='+', default=[0, 1, 5, 20, 50, 100])
    w.add_argument('--seconds', type=float, default=10.0)
    w.add_argument('--delay-ms', type=float, default=10.0)
    f = sub.add_parser('fabric', help='tenant traffic on an emulated fabric')
    f.add_argument('--fabric', default='lumen-qts')
    f.add_argument('--loads', type=float, nargs='+', default=[5, 10, 20])
    f.add_argument('--hops', type=int, nargs='+', default=[1, 3, 6])
    args = parser.parse_args()
    setLogLevel('warning')
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # tear the emulation down
    wire(args) if args.part == 'wire' else fabric_bench(args)


if __name__ == '__main__':
    sys.exit(main())
