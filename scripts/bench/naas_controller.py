"""Benchmark the controller's core in-process (no root needed):

    .venv/bin/python scripts/bench/naas_controller.py [--intents 1000] [--memory-intents 10000] \
        > /tmp/bench.md

Intents admitted per second (placement, reservation, flow plan and the SQLite write of each),
and the memory of a core holding 10,000 intents, on lumen-qts's backbone with 100 synthetic
tenants at every campus (so there are enough site pairs). Install latency on an emulated
fabric is scripts/bench/install.py's; through the API, grpc_api.py and scale.py.

Prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
from datetime import date

from machine import rss_mb

from controller.core.controller import Controller
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


def bench_core(n_rate, n_memory):
    fabric = many_tenants(load_fabric('lumen-qts'), 100)
    todo = orders(fabric)
    with tempfile.TemporaryDirectory() as tmp:
        before = rss_mb(os.getpid())
        core = Controller(fabric, headroom=0.0, store=Store(os.path.join(tmp, 'naas.db')))
        started = time.perf_counter()
        store = core.store
        for tenant, a, b in todo[:n_rate]:
            core.create(Order(tenant, a, b, 0.001), now=time.time())
            store.wait(store.queued)  # on disk before the next, as the runtime answers
        rate = n_rate / (time.perf_counter() - started)
        for tenant, a, b in todo[n_rate:n_memory]:
            core.create(Order(tenant, a, b, 0.001), now=time.time())
        store.wait(store.queued)
        started = time.perf_counter()
        plan = core.plan()
        plan_s = time.perf_counter() - started
        flows = sum(len(f) for f, _, _ in plan.values())
        memory = rss_mb(os.getpid()) - before
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--intents', type=int, default=1000)
    parser.add_argument('--memory-intents', type=int, default=10000)
    args = parser.parse_args()
    out = [
        f'## Controller ({date.today().isoformat()}, {platform.node()}, {os.cpu_count()} cores, '
        f'Python {platform.python_version()})',
        '',
    ]
    out += bench_core(args.intents, args.memory_intents)
    print('\n'.join(out), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
