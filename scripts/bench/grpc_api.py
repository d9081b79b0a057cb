"""Benchmark the gRPC API: CreateIntent, GetIntent and ListIntents latency and throughput with
1, 10 and 50 concurrent clients, against the real naas-controller process:

    .venv/bin/python scripts/bench/grpc_api.py [--clients 1 10 50] [--calls 100] \
        [--fabric-tenants 50] [--profile DIR] > /tmp/bench.md

`--profile DIR`: py-spy samples the controller over each level (DIR/clients-N.txt, collapsed
stacks: `flamegraph.pl` or speedscope.app read them; `scripts/bench/stacks.py` sums them).

The controller runs with `--southbound loopback` (no switches: each plan counts as installed at
once), so the figures are the API, the core and SQLite (WAL, synchronous=FULL), not switches.
It gets a fabric of its own: lumen-qts's sites and spans with `--fabric-tenants` tenants
(t01, t02, ...) at all 16 campuses, so each client is its own tenant, with its own token and
120 site pairs to order (the core allows one intent per tenant per site pair). Bandwidth is
0.001 Gb/s, so capacity never binds.

Per concurrency level: a fresh controller and database; each client is a process of its own
(so the clients' GILs are not the bottleneck); all start together behind a barrier, make
--calls CreateIntent calls (distinct pairs), meet at a second barrier, then GetIntent each
intent they made, meet again, then --calls ListIntents of their own intents (a page of 10).
Throughput is calls / wall time (first start to last finish of the phase).

Prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path

from machine import machine, percentile, rss_mb

from topologies.lab.controller_process import ControllerProcess
from topologies.lab.tenants import with_tenants
from topologies.model.fabric import MAX_TENANTS

BANDWIDTH_GBPS = 0.001
BARRIER_TIMEOUT_S = 600  # the slowest client's whole phase


def client(target, token, pairs, barrier, results):
    """One tenant: create an intent for each pair, then get each one; report latencies (s)."""
    from naasctl.client import ApiError, Client, IntentState, enum_name

    out = {'create': [], 'get': [], 'list': [], 'errors': Counter(), 'phases': {}, 'states': Counter()}
    try:
        with Client(target, token=token) as naas:
            naas.health()  # connect before the clock starts
            created = []
            barrier.wait(BARRIER_TIMEOUT_S)
            start = time.perf_counter()
            for src, dst in pairs:
                t0 = time.perf_counter()
                try:
                    intent = naas.create_intent(src, dst, BANDWIDTH_GBPS)
                except ApiError as e:
                    out['errors'][f'CreateIntent {e.code.name}'] += 1
                    continue
                out['create'].append(time.perf_counter() - t0)
                created.append(intent.id)
            out['phases']['create'] = (start, time.perf_counter())
            barrier.wait(BARRIER_TIMEOUT_S)
            start = time.perf_counter()
            for intent_id in created:
                t0 = time.perf_counter()
                try:
                    intent = naas.get_intent(intent_id)
                except ApiError as e:
                    out['errors'][f'GetIntent {e.code.name}'] += 1
                    continue
                out['get'].append(time.perf_counter() - t0)
                if intent.id != intent_id:
                    out['errors']['GetIntent wrong intent'] += 1
                out['states'][enum_name(IntentState, intent.state)] += 1
            out['phases']['get'] = (start, time.perf_counter())
            barrier.wait(BARRIER_TIMEOUT_S)
            start = time.perf_counter()
            for _ in pairs:
                t0 = time.perf_counter()
                try:
                    page, _token = naas.list_page(page_size=10)
                except ApiError as e:
                    out['errors'][f'ListIntents {e.code.name}'] += 1
                    continue
                out['list'].append(time.perf_counter() - t0)
                if len(page) != min(10, len(created)):
                    out['errors']['ListIntents short page'] += 1
            out['phases']['list'] = (start, time.perf_counter())
    except Exception as e:  # reported as an error, never hidden
        out['errors'][f'client failed: {type(e).__name__}: {e}'] += 1
        barrier.abort()
    results.put(out)


class CpuMeter(threading.Thread):
    """Samples a process's CPU seconds (/proc/PID/stat) and the machine's every 20 ms, so a
    phase's share of each can be read afterwards (`during`)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stop = pid, [], threading.Event()

    def run(self):
        tick = os.sysconf('SC_CLK_TCK')
        while not self.stop.wait(0.02):
            with open(f'/proc/{self.pid}/stat') as f:
                fields = f.read().rpartition(')')[2].split()
            with open('/proc/stat') as f:
                user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
            machine = user + nice + system + irq + softirq + steal
            process = int(fields[11]) + int(fields[12])  # utime + stime
            self.samples.append((time.perf_counter(), process / tick, machine / tick))

    def during(self, start, end):
        """(CPU seconds of the process, busy CPU seconds of the machine) from start to end."""
        inside = [s for s in self.samples if start <= s[0] <= end] or self.samples[-1:]
        first, last = inside[0], inside[-1]
        return last[1] - first[1], last[2] - first[2], last[0] - first[0]


def run_level(fabric_path, tenants, n_clients, calls, profile=None):
    """One controller, n_clients client processes -> ({op: (latencies, wall_s, cpu)}, errors,
    rss, states); cpu: (controller's CPU s, machine's busy CPU s, seconds they were read over)."""
    campuses = tenants[0].sites
    pairs = [(a, b) for i, a in enumerate(campuses) for b in campuses[i + 1 :]][:calls]
    ctx = multiprocessing.get_context('spawn')  # no fork of a process that imported grpc
    with tempfile.TemporaryDirectory(prefix='bench-grpc-') as tmp:
        ctl = ControllerProcess(
            str(fabric_path),
            os.path.join(tmp, 'naas.db'),
            os.path.join(tmp, 'controller.log'),
            extra_args=['--southbound', 'loopback'],
        )
        procs, spy = [], None
        try:
            ctl.start()
            if profile:
                spy = subprocess.Popen(
                    [os.path.join(os.path.dirname(sys.executable), 'py-spy'), 'record', '--nonblocking',
                     '--gil', '--format', 'raw', '--rate', '500', '--pid', str(ctl.proc.pid),
                     '-o', os.path.join(profile, f'clients-{n_clients}.txt')],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            meter = CpuMeter(ctl.proc.pid)
            meter.start()
            barrier, results = ctx.Barrier(n_clients), ctx.Queue()
            procs = [
                ctx.Process(target=client, args=(ctl.grpc_target, ctl.tokens[t.id], pairs, barrier, results))
                for t in tenants[:n_clients]
            ]
            for p in procs:
                p.start()
            outs = [results.get(timeout=3 * BARRIER_TIMEOUT_S) for _ in procs]
            for p in procs:
                p.join()
            meter.stop.set()
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
                spy.wait(60)
            rss = rss_mb(ctl.proc.pid)
            problems = ctl.problems()
        finally:
            for p in procs:
                if p.is_alive():
                    p.kill()
            ctl.stop()
    errors = sum((o['errors'] for o in outs), Counter())
    errors.update(f'controller log: {line[:120]}' for line in problems)
    figures = {}
    for op in ('create', 'get', 'list'):
        spans = [o['phases'][op] for o in outs if op in o['phases']]
        # perf_counter is CLOCK_MONOTONIC on Linux: the same clock in every process.
        start, end = min(s for s, _ in spans), max(e for _, e in spans)
        figures[op] = (sorted(x for o in outs for x in o[op]), end - start, meter.during(start, end))
    return figures, errors, rss, sum((o['states'] for o in outs), Counter())


def cpu_s():
    """(CPU seconds the whole machine has been busy, CPU seconds of this process and its reaped children)."""
    with open('/proc/stat') as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    mine = sum(
        r.ru_utime + r.ru_stime
        for r in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf('SC_CLK_TCK'), mine


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--clients',
        type=int,
        nargs='+',
        default=[1, 10, 50],
        help='concurrency levels: client processes, each its own tenant',
    )
    parser.add_argument(
        '--calls', type=int, default=100, help='CreateIntent (then GetIntent) calls per client, at most 120'
    )
    parser.add_argument(
        '--fabric-tenants',
        type=int,
        default=50,
        help=f'tenants in the fabric (at least the largest --clients, at most {MAX_TENANTS})',
    )
    parser.add_argument('--profile', metavar='DIR', help='py-spy the controller: DIR/clients-N.txt')
    args = parser.parse_args()
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
    if not 1 <= args.calls <= 120:
        parser.error('--calls: 1..120 (a tenant has 120 site pairs)')
    if not max(args.clients) <= args.fabric_tenants <= MAX_TENANTS or min(args.clients) < 1:
        parser.error(f'need 1 <= --clients <= --fabric-tenants <= {MAX_TENANTS}')

    out = [
        f'## gRPC API: CreateIntent, GetIntent and ListIntents ({date.today().isoformat()})',
        '',
        f'Machine: {machine()}; 1-minute load average {os.getloadavg()[0]:.2f} before the run.',
        '',
    ]
    run_started = time.monotonic()
    rows, rss_rows, failures, seen = [], [], [], Counter()
    with tempfile.TemporaryDirectory(prefix='bench-grpc-') as tmp:
        fabric_path = Path(tmp) / 'fabric.yaml'
        fabric = with_tenants('lumen-qts', args.fabric_tenants, fabric_path)
        tenants = list(fabric.tenants.values())
        out += [
            f"Fabric: lumen-qts's {len(fabric.sites)} sites and {len(fabric.spans)} spans, "
            f'{len(tenants)} tenants at all {len(tenants[0].sites)} campuses; '
            f'{args.calls} calls of each kind per client, {BANDWIDTH_GBPS:g} Gb/s each; '
            'naas-controller --southbound loopback, a fresh database per level.',
            '',
        ]
        for n in args.clients:
            started, (busy0, mine0) = time.monotonic(), cpu_s()
            figures, errors, rss, states = run_level(fabric_path, tenants, n, args.calls, args.profile)
            took, (busy1, mine1) = time.monotonic() - started, cpu_s()
            others = max(0.0, (busy1 - busy0) - (mine1 - mine0))
            print(f'{n} clients: {took:.1f} s, {sum(errors.values())} errors', file=sys.stderr, flush=True)
            for op, name in (('create', 'CreateIntent'), ('get', 'GetIntent'), ('list', 'ListIntents')):
                lat, wall, (ctl_cpu, busy, over) = figures[op]
                err = sum(c for k, c in errors.items() if k.startswith(name))
                if lat:
                    ms = [percentile(lat, p) * 1000 for p in (50, 90, 99)] + [lat[-1] * 1000]
                    cpu = (
                        f'{1000 * ctl_cpu / len(lat):.2f} | {100 * busy / over / os.cpu_count():.0f} %'
                        if over > 0
                        else '- | -'
                    )
                    rows.append(
                        f'| {n} | {name} | {len(lat)} | {err} | {len(lat) / wall:.0f} | '
                        + ' | '.join(f'{x:.1f}' for x in ms)
                        + f' | {cpu} |'
                    )
                else:
                    rows.append(f'| {n} | {name} | 0 | {err} | - | - | - | - | - | - | - |')
            rss_rows.append(
                f'| {n} | {len(figures["create"][0])} | {rss:.0f} MB | {took:.0f} s | '
                f'{others:.1f} s ({100 * others / took / os.cpu_count():.0f} %) |'
            )
            seen += states
            failures += [f'{n} clients: {k} x{c}' for k, c in sorted(errors.items())]
    out += [
        '| clients | operation | calls | errors | calls/s | p50 ms | p90 ms | p99 ms | max ms '
        '| controller CPU ms a call | machine busy |',
        '|---|---|---|---|---|---|---|---|---|---|---|',
        *rows,
        '',
        '| clients | intents held | controller RSS at the end | level took | CPU of other processes '
        '(% of the machine) |',
        '|---|---|---|---|---|',
        *rss_rows,
        '',
    ]
    out += [
        f'The whole run took {time.monotonic() - run_started:.0f} s. "Level took" includes '
        'starting the controller and the client processes; "CPU of other processes" is the '
        "machine's busy time (/proc/stat) less this benchmark's own (its processes' rusage): "
        'what else ran meanwhile.',
        '',
    ]
    out += ['States GetIntent saw: ' + ', '.join(f'{s} {c}' for s, c in seen.most_common()) + '.', '']
    out += (
        ['Errors (these figures are not clean):', *[f'- {f}' for f in failures]]
        if failures
        else ['Every call succeeded.']
    )
    print('\n'.join(out), flush=True)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
