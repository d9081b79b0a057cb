"""Benchmark the controller holding many intents, through its API (the real naas-controller
process, `--southbound loopback`, SQLite):

    .venv/bin/python scripts/bench/scale.py [--fabric germany50] [--held 100 10000 100000] \
        [--samples 200] > /tmp/scale.md

The fabric gets enough tenants (topologies/lab/tenants.py) that every intent is its own
(tenant, site pair), 1 Mb/s each, so capacity never binds. The controller is filled with
CreateIntents of 1,000 orders at a time (operator token); at each level of --held, --samples
single CreateIntent calls (one client) are timed, and the controller's RSS read. Then it is
stopped (SIGTERM) and started again on its database: the time from starting the process to
its first answered ListIntents, and its RSS then. Prints a Markdown section.
"""

import argparse
import itertools
import math
import os
import sys
import tempfile
import time
from datetime import date

from machine import machine, percentile, rss_mb

from naasctl.client import make_order
from topologies.lab.controller_process import ControllerProcess
from topologies.lab.tenants import with_tenants

GBPS = 0.001
BATCH = 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--fabric', default='germany50', help='a shipped fabric')
    parser.add_argument('--held', type=int, nargs='+', default=[100, 10000, 100000])
    parser.add_argument('--samples', type=int, default=200, help='timed creates at each level')
    args = parser.parse_args()
    levels = sorted(args.held)
    out = [
        f'## Many intents held ({date.today().isoformat()})',
        '',
        f'Machine: {machine()}.',
        '',
    ]
    with tempfile.TemporaryDirectory(prefix='bench-scale-') as tmp:
        path = os.path.join(tmp, 'fabric.yaml')
        probe = with_tenants(args.fabric, 1, path)
        sites = next(iter(probe.tenants.values())).sites
        pairs = list(itertools.combinations(sites, 2))
        total = levels[-1] + args.samples * len(levels)
        fabric = with_tenants(args.fabric, math.ceil(total / len(pairs)), path)
        slots = ((t, a, b) for t in fabric.tenants for a, b in pairs)  # every (tenant, pair) once
        out += [
            f'Fabric: {args.fabric} ({len(fabric.sites)} sites, {len(fabric.spans)} spans) with '
            f'{len(fabric.tenants)} tenants at {len(sites)} sites each; {GBPS * 1000:g} Mb/s an '
            'intent; naas-controller --southbound loopback.',
            '',
            '| intents held | CreateIntent p50 ms | p99 ms | controller RSS | filled in |',
            '|---|---|---|---|---|',
        ]
        ctl = ControllerProcess(
            path, os.path.join(tmp, 'naas.db'), os.path.join(tmp, 'controller.log'),
            extra_args=['--southbound', 'loopback'],
        )  # fmt: skip
        ctl.start()
        held = 0
        try:
            with ctl.client(timeout_s=600) as operator:
                for level in levels:
                    started = time.monotonic()
                    while held < level:
                        batch = list(itertools.islice(slots, min(BATCH, level - held)))
                        results = operator.create_intents(
                            [make_order(a, b, GBPS, tenant=t) for t, a, b in batch]
                        )
                        refused = [r.reason for r in results if r.code]
                        if refused:
                            raise SystemExit(f'refused while filling: {refused[0]}')
                        held += len(batch)
                    filled = time.monotonic() - started
                    lat = []
                    for t, a, b in itertools.islice(slots, args.samples):
                        t0 = time.perf_counter()
                        operator.create_intent(make_order(a, b, GBPS, tenant=t))
                        lat.append(time.perf_counter() - t0)
                    held += len(lat)
                    lat.sort()
                    out.append(
                        f'| {held} | {percentile(lat, 50) * 1000:.2f} | {percentile(lat, 99) * 1000:.2f} | '
                        f'{rss_mb(ctl.proc.pid):.0f} MB | {filled:.0f} s |'
                    )
                    print(out[-1], file=sys.stderr, flush=True)
            if ctl.stop() != 0:
                raise SystemExit('the controller did not stop cleanly')
            started = time.monotonic()
            ctl.start(timeout_s=600)
            with ctl.client(timeout_s=600) as operator:
                operator.list_page(page_size=10)
            ready = time.monotonic() - started
            out += [
                '',
                f'Restart with {held} intents: serving (a ListIntents answered) {ready:.1f} s after '
                f'the process started; RSS then {rss_mb(ctl.proc.pid):.0f} MB; '
                f'database {os.path.getsize(ctl.db) / 1e6:.0f} MB.',
            ]
        finally:
            ctl.stop()
    print('\n'.join(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
