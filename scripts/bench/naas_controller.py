"""Benchmark the controller. Run as root (the fabric part starts lumen-qts):

    .venv/bin/python scripts/bench/naas_controller.py [--intents 1000] [--memory-intents 10000] \
        [--samples 40] > /tmp/bench.md

- core: intents admitted per second (placement, reservation, flow plan and the SQLite write
  of each), and the memory of a core holding 10,000 intents, on lumen-qts's backbone with
  100 synthetic tenants at every campus (so there are enough site pairs);
- fabric: on the emulated lumen-qts with the real controller (os-ken, in this process), the
  time from submitting one intent to every switch on its path confirming it by barrier.

Prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from datetime import date

from controller.core.controller import Controller
from controller.core.intent import State
from controller.store.sqlite import Store
from topologies.model.fabric import Tenant, load_fabric
from topologies.model.order import Order


def many_tenants(fabric, count):
    campuses = tuple(s.id for s in fabric.sites.values() if s.kind == 'datacenter')
    tenants = {f't{n}': Tenant(f't{n}', n, campuses) for n in range(1, count + 1)}
    return dataclasses.replace(fabric, tenants=tenants)


def orders(fabric):
    """Every (tenant, src, dst) once, spread over tenants first."""
    pairs = []
    for tenant in fabric.tenants.values():
        sites = tenant.sites
        pairs.append([(tenant.id, a, b) for i, a in enumerate(sites) for b in sites[i + 1 :]])
    return [p for group in zip(*pairs) for p in group]


def rss_mb():
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith('VmRSS:')) / 1024


def bench_core(n_rate, n_memory):
    fabric = many_tenants(load_fabric('lumen-qts'), 100)
    todo = orders(fabric)
    with tempfile.TemporaryDirectory() as tmp:
        before = rss_mb()
        core = Controller(fabric, headroom=0.0, store=Store(os.path.join(tmp, 'naas.db')))
        started = time.perf_counter()
        for tenant, a, b in todo[:n_rate]:
            core.create(Order(tenant, a, b, 0.001), now=time.time())
        rate = n_rate / (time.perf_counter() - started)
        for tenant, a, b in todo[n_rate:n_memory]:
            core.create(Order(tenant, a, b, 0.001), now=time.time())
        started = time.perf_counter()
        plan = core.plan()
        plan_s = time.perf_counter() - started
        flows = sum(len(f) for f, _, _ in plan.values())
        memory = rss_mb() - before
        db_mb = os.path.getsize(os.path.join(tmp, 'naas.db')) / 2**20
        held = len(core.intents)
    return [
        f'Core ({len(fabric.sites)} sites, {len(fabric.spans)} spans, {len(fabric.tenants)} tenants; '
        'each intent placed, reserved both ways, planned and written to SQLite before the next):',
        '',
        '| figure | value |',
        '|---|---|',
        f'| intents admitted per second, first {n_rate} | {rate:.0f} /s |',
        f'| memory of the core holding {held} intents (RSS growth, with its plan) | {memory:.0f} MB |',
        f'| flow plan for {held} intents | {flows} flows, computed in {plan_s:.2f} s |',
        f'| SQLite file for {held} intents | {db_mb:.1f} MB |',
    ]


def bench_fabric(samples):
    from mininet.log import setLogLevel

    from controller import main
    from controller.runtime import Runtime
    from topologies.emulation.net import Emulation
    from topologies.lab.controller_process import free_port

    setLogLevel('warning')
    fabric = load_fabric('lumen-qts')
    core = Controller(fabric, store=None)
    runtime = Runtime(core)
    port = free_port()
    main._start_os_ken(runtime, lambda: os._exit(3), '127.0.0.1', port)
    done = {}
    core.subscribe(
        lambda e: (
            done[e.intent_id].set()
            if e.state in (State.INSTALLED, State.WITHDRAWN) and e.intent_id in done
            else None
        )
    )
    times, hops = [], []
    with Emulation(fabric, controller=('127.0.0.1', port)):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(
            runtime.call(lambda c, now: [d for d, s in c._switch.items() if s])
        ) < len(fabric.sites):
            time.sleep(0.2)
        time.sleep(2)
        todo = orders(fabric)
        for n in range(samples):
            tenant, a, b = todo[n % len(todo)]
            event = threading.Event()
            started = time.perf_counter()

            def create(c, now):
                intent = c.create(Order(tenant, a, b, 1), now=now)
                done[intent.id] = event
                return intent

            intent = runtime.call(create)
            if not event.wait(10):
                raise RuntimeError(f'{intent.id} not installed: {intent.state} {intent.reason}')
            times.append((time.perf_counter() - started) * 1000)
            hops.append(len(core.routes.of(intent.id).sites) - 1)
            gone = threading.Event()
            done[intent.id] = gone
            runtime.call(lambda c, now: c.delete(intent.id, now=now))
            gone.wait(10)
    times.sort()
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    return [
        '',
        f'Fabric (lumen-qts emulated, real controller in-process; {samples} intents one at a '
        'time, each created, confirmed by barrier on every switch of its path, then deleted):',
        '',
        '| figure | value |',
        '|---|---|',
        f'| submission to flows confirmed, p50 / p99 / max | {statistics.median(times):.1f} / '
        f'{p99:.1f} / {times[-1]:.1f} ms |',
        f'| path length | {min(hops)}-{max(hops)} spans |',
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--intents', type=int, default=1000)
    parser.add_argument('--memory-intents', type=int, default=10000)
    parser.add_argument('--samples', type=int, default=40)
    parser.add_argument('--skip-fabric', action='store_true')
    args = parser.parse_args()
    out = [
        f'## Controller ({date.today().isoformat()}, {platform.node()}, {os.cpu_count()} cores, '
        f'Python {platform.python_version()})',
        '',
    ]
    out += bench_core(args.intents, args.memory_intents)
    if not args.skip_fabric:
        out += bench_fabric(args.samples)
    print('\n'.join(out), flush=True)
    os._exit(0)  # os-ken's threads do not stop (see controller/main.py)


if __name__ == '__main__':
    sys.exit(main())
