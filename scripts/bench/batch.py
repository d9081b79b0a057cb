"""Benchmark placing a batch: 1,000 orders of SNDlib brain's demand matrix in one
CreateIntents, in the core and through the real API:

    .venv/bin/python scripts/bench/batch.py [--runs 3] [--loads 1 0.6] [--api] [--profile DIR]

Brain (topohub sndlib/brain: 161 sites, 166 spans) is imported as scripts/bench/placement.py
does, with one tenant, `bench`, at every site; the orders are the 1,000 distinct random site
pairs of its matrix that placement.py times (seed 5), scaled so that the LP admits 100% and
60% of their demand (placement.py's loads).

- core: a fresh `Controller(fabric, headroom=0.1)` per run, then `packer(orders)()` (the joint
  placement, as the northbound computes it off the runtime's lock) and
  `create_many(orders, packed=...)` (taking each placement under the lock); total = both.
  `core, warm`: the same after one packing of the orders thrown away, as on a controller that
  has placed these pairs before (their candidate paths kept).
- `--api`: `naas-controller --southbound loopback` on a fresh database per run, and one
  `create_intents` of the 1,000 orders, timed at the client (the call answered).
- `--profile DIR`: one more core run of each load under py-spy (speedscope files in DIR).

Prints a Markdown table for docs/benchmarks.md.
"""

import argparse
import os
import pickle
import random
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml
from machine import machine
from placement import (
    HEADROOM,
    SEED,
    TENANT,
    TIMING_INTENTS,
    _quiet_stdout,
    candidate_paths,
    load_network,
    scale_for,
    scaled,
)

from controller.core.controller import Controller
from controller.core.errors import Unplaceable
from topologies.lab.controller_process import ControllerProcess
from topologies.model.importer import import_topohub
from topologies.model.order import Order

NETWORK = 'sndlib/brain'
K = 8


def batch(network, count, seed, share):
    """The orders: `count` distinct random site pairs of the matrix, scaled to the load."""
    chosen = random.Random(seed).sample(range(len(network.demands)), min(count, len(network.demands)))
    demands = [network.demands[d] for d in chosen]
    volumes = [d.volume for d in demands]
    scale = scale_for(volumes, candidate_paths(network, demands, K), network.limits, share)
    return [Order(TENANT, d.src, d.dst, gbps) for d, gbps in zip(demands, scaled(volumes, scale))]


def in_core(fabric, orders, warm=False):
    """(seconds packing, seconds taking, admitted, admitted Gb/s) on a fresh core; `warm`:
    after one packing of the same orders thrown away (the core has kept the pairs' candidate
    paths and each pair's limits, as a controller that placed them before has)."""
    core = Controller(fabric, headroom=HEADROOM, now=0.0)
    if warm:
        core.packer(orders)()
    started = time.perf_counter()
    packed = core.packer(orders)()
    packed_at = time.perf_counter()
    made = core.create_many(orders, now=0.0, packed=packed)
    taken_at = time.perf_counter()
    admitted = [o for o, r in zip(orders, made) if not isinstance(r, Unplaceable)]
    return packed_at - started, taken_at - packed_at, len(admitted), sum(o.bandwidth_gbps for o in admitted)


def fabric_file(path):
    """Brain as a fabric file, with the tenant placement.py adds."""
    doc = import_topohub(NETWORK)
    doc['tenants'] = [{'id': TENANT, 'sites': [s['id'] for s in doc['sites']]}]
    Path(path).write_text(yaml.safe_dump(doc, sort_keys=False))


def through_api(fabric_path, orders):
    """(seconds the CreateIntents call took, admitted, admitted Gb/s) on a fresh controller."""
    with tempfile.TemporaryDirectory(prefix='bench-batch-') as tmp:
        ctl = ControllerProcess(
            str(fabric_path),
            os.path.join(tmp, 'naas.db'),
            os.path.join(tmp, 'controller.log'),
            extra_args=['--southbound', 'loopback'],
        )
        ctl.start()
        try:
            with ctl.client(TENANT, timeout_s=600) as naas:
                naas.health()
                started = time.perf_counter()
                results = naas.create_intents(
                    [
                        {'src_site': o.src, 'dst_site': o.dst, 'bandwidth_gbps': o.bandwidth_gbps}
                        for o in orders
                    ]
                )
                took = time.perf_counter() - started
            problems = ctl.problems()
        finally:
            ctl.stop()
    if problems:
        raise RuntimeError('controller log: ' + '\n'.join(problems[:5]))
    admitted = [o for o, r in zip(orders, results) if not r.code]
    return took, len(admitted), sum(o.bandwidth_gbps for o in admitted)


def profile(fabric, orders, out):
    """One core run under py-spy (its packer and create_many, and the start of the child
    process), as a speedscope file."""
    script = 'import pickle, sys; from batch import in_core; print(in_core(*pickle.load(sys.stdin.buffer)))'
    spy = Path(sys.executable).with_name('py-spy')
    root = str(Path(__file__).resolve().parents[2])
    subprocess.run(
        [
            str(spy),
            'record',
            '-r',
            '200',
            '-f',
            'speedscope',
            '-o',
            str(out),
            '--',
            sys.executable,
            '-c',
            script,
        ],
        input=pickle.dumps((fabric, orders)),
        stdout=sys.stderr,  # the Markdown on stdout stays clean
        check=True,
        cwd=Path(__file__).parent,
        env={**os.environ, 'PYTHONPATH': os.pathsep.join(filter(None, [root, os.environ.get('PYTHONPATH')]))},
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--loads', type=float, nargs='+', default=[1.0, 0.6])
    parser.add_argument('--intents', type=int, default=TIMING_INTENTS)
    parser.add_argument('--seed', type=int, default=SEED)
    parser.add_argument('--api', action='store_true', help='also through the API')
    parser.add_argument('--profile', metavar='DIR', help='also one py-spy profile per load')
    args = parser.parse_args()

    def log(text):
        print(text, file=sys.stderr, flush=True)

    network = load_network(NETWORK)
    rows = []
    with tempfile.TemporaryDirectory(prefix='bench-batch-') as tmp:
        fabric_path = Path(tmp) / 'brain.yaml'
        fabric_file(fabric_path)
        for share in args.loads:
            orders = batch(network, args.intents, args.seed, share)
            demand = sum(o.bandwidth_gbps for o in orders)
            for where, warm in (('core', False), ('core, warm', True)):
                for run in range(args.runs):
                    with _quiet_stdout():  # HiGHS's MIP solver prints on fd 1 (see placement.py)
                        packing_s, taking_s, admitted, gbps = in_core(network.fabric, orders, warm)
                    log(f'{share:.0%} {where} run {run + 1}: {packing_s + taking_s:.2f} s')
                    rows.append(
                        f'| {share:.0%} | {demand:.1f} | {where} | {run + 1} | {packing_s + taking_s:.2f} | '
                        f'{packing_s:.2f} | {taking_s:.2f} | {admitted} ({gbps:.1f} Gb/s) |'
                    )
            for run in range(args.runs if args.api else 0):
                took, admitted, gbps = through_api(fabric_path, orders)
                log(f'{share:.0%} API run {run + 1}: {took:.2f} s')
                rows.append(
                    f'| {share:.0%} | {demand:.1f} | API | {run + 1} | {took:.2f} | - | - | '
                    f'{admitted} ({gbps:.1f} Gb/s) |'
                )
            if args.profile:
                Path(args.profile).mkdir(parents=True, exist_ok=True)
                profile(network.fabric, orders, Path(args.profile) / f'batch-{share:.0%}.speedscope.json')
    out = [
        f'Batch placement: {args.intents} orders on {NETWORK} in one CreateIntents '
        f'(`scripts/bench/batch.py`, {date.today().isoformat()})',
        '',
        f'Machine: {machine()}; 1-minute load average {os.getloadavg()[0]:.2f} at the end.',
        '',
        '| LP load | demand Gb/s | where | run | total s | packing s | taking s | admitted |',
        '|---|---|---|---|---|---|---|---|',
        *rows,
    ]
    print('\n'.join(out), flush=True)


if __name__ == '__main__':
    sys.exit(main())
