"""Benchmark install latency on an emulated fabric: from submitting CreateIntent to the intent
being INSTALLED (every switch on its path confirmed its flows by barrier), as a client sees it
on a WatchIntents stream. Run as root (Mininet, Open vSwitch):

    .venv/bin/python scripts/bench/install.py [--fabric lumen-qts] [--samples 60] \
        [--in-flight 1 8] > /tmp/install.md

The real naas-controller process and the emulated fabric (topologies/lab); 1 Mb/s intents
between every pair of each tenant's sites, created and, once installed, deleted (waiting for
WITHDRAWN) so the next round finds the pair free. `--in-flight K`: K intents submitted at once
by K threads, each timed on its own. Prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import itertools
import sys
import tempfile
import threading
import time
from datetime import date

from machine import machine, percentile

from naasctl.client import IntentState, enum_value, make_order
from topologies.lab.lab import Lab
from topologies.model.fabric import load_fabric

INSTALLED = enum_value(IntentState, 'INSTALLED')
WITHDRAWN = enum_value(IntentState, 'WITHDRAWN')


class Seen:
    """Every intent event of the fabric, stamped as it arrives (one operator watch)."""

    def __init__(self, client):
        self.stream = client.watch_intents()
        self.at, self.changed = {}, threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for event in self.stream:
            with self.changed:
                self.at.setdefault((event.intent_id, event.state), time.perf_counter())
                self.changed.notify_all()

    def wait(self, intent_id, state, timeout_s=30.0):
        with self.changed:
            if not self.changed.wait_for(lambda: (intent_id, state) in self.at, timeout_s):
                raise RuntimeError(f'{intent_id} not {IntentState.Name(state)} in {timeout_s:g} s')
            return self.at[(intent_id, state)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--fabric', default='lumen-qts')
    parser.add_argument('--samples', type=int, default=60, help='intents timed at each level')
    parser.add_argument('--in-flight', type=int, nargs='+', default=[1, 8])
    args = parser.parse_args()
    fabric = load_fabric(args.fabric)
    pairs = [(t.id, a, b) for t in fabric.tenants.values() for a, b in itertools.combinations(t.sites, 2)]
    if max(args.in_flight) > len(pairs):
        parser.error(f'--in-flight: {args.fabric} has {len(pairs)} tenant site pairs')
    out = [
        f'## Install latency on emulated {args.fabric} ({date.today().isoformat()})',
        '',
        f'Machine: {machine()}.',
        '',
        '| in flight | intents | submit -> INSTALLED p50 ms | p90 ms | p99 ms | max ms | path spans |',
        '|---|---|---|---|---|---|---|',
    ]
    with tempfile.TemporaryDirectory(prefix='bench-install-') as tmp, Lab(fabric, tmp) as lab:
        operator = lab.client()
        seen = Seen(operator)
        clients = {t: lab.client(t) for t in fabric.tenants}
        for k in args.in_flight:
            took, hops = [], []
            rounds = itertools.cycle(range(0, len(pairs) - k + 1, k))
            while len(took) < args.samples:
                start = next(rounds)
                batch = pairs[start : start + k]
                made = [None] * k

                def submit(i, tenant, a, b):
                    t0 = time.perf_counter()
                    intent = clients[tenant].create_intent(make_order(a, b, 0.001))
                    made[i] = (intent.id, t0, len(intent.path) - 1)

                threads = [threading.Thread(target=submit, args=(i, *p)) for i, p in enumerate(batch)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                for intent_id, t0, spans in made:
                    took.append((seen.wait(intent_id, INSTALLED) - t0) * 1000)
                    hops.append(spans)
                for (tenant, *_), (intent_id, _, _) in zip(batch, made):
                    clients[tenant].delete_intent(intent_id)
                for intent_id, _, _ in made:
                    seen.wait(intent_id, WITHDRAWN)
            took.sort()
            out.append(
                f'| {k} | {len(took)} | '
                + ' | '.join(f'{percentile(took, p):.1f}' for p in (50, 90, 99))
                + f' | {took[-1]:.1f} | {min(hops)}-{max(hops)} |'
            )
            print(out[-1], file=sys.stderr, flush=True)
        seen.stream.cancel()
        for c in (operator, *clients.values()):
            c.close()
    out += [
        '',
        "The real controller process (os-ken, gRPC) and Open vSwitch; the time is the client's, from "
        'just before CreateIntent to the INSTALLED event arriving on a WatchIntents stream (the '
        'controller tells it once the state is on disk).',
    ]
    print('\n'.join(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
