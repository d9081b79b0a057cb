"""How long a lab takes to be ready: from the emulation started until the controller reports
every switch connected and every span measured within 5% + 0.5 ms of its delay (the lab's
rule, topologies/lab/lab.py `unsettled`), and, for comparison, within the old 20% + 2 ms.

Run as root from the repository, through the lock that labs share:

    flock /tmp/naas-root.lock .venv/bin/python scripts/bench/readiness.py \
        [--fabrics triangle lumen-qts] [--runs 3]

Each run starts the controller process, then the emulation, and polls GetTopology every
0.1 s (as wait_ready does) for up to 120 s. Prints Markdown with the machine and the date;
per run: seconds to the old rule, to the new one, and the spans still off the new rule when
the old one was met.
"""

import argparse
import os
import tempfile
import time
from datetime import date

from machine import machine
from mininet.log import setLogLevel

from topologies.emulation.net import Emulation
from topologies.lab.controller_process import ControllerProcess
from topologies.lab.lab import unsettled
from topologies.model.fabric import load_fabric

TIMEOUT_S = 120.0


def old_rule_met(topology, spans):
    """The rule before: connected, up, measured, and at most 20% + 2 ms above the delay."""
    if not all(site.connected for site in topology.sites):
        return False
    return all(
        s.up and all(d.delay_measured and d.delay_ms <= spans[s.id][1] * 1.2 + 2.0 for d in s.directions)
        for s in topology.spans
    )


def one_run(fabric):
    spans = {s.id: (True, s.delay_ms) for s in fabric.spans}
    with tempfile.TemporaryDirectory(prefix='naas-bench-ready-') as tmp:
        ctl = ControllerProcess(
            fabric.source, os.path.join(tmp, 'naas.db'), os.path.join(tmp, 'controller.log')
        ).start()
        try:
            with Emulation(fabric, controller=ctl.address):
                started = time.monotonic()
                old = new = None
                off_at_old = []
                with ctl.client() as client:
                    while time.monotonic() - started < TIMEOUT_S and new is None:
                        topology = client.get_topology()
                        t = time.monotonic() - started
                        off = unsettled(topology, spans)
                        if old is None and old_rule_met(topology, spans):
                            old, off_at_old = t, off
                        if not off:
                            new = t
                        time.sleep(0.1)
                return {'old_s': old, 'new_s': new, 'off_at_old': off_at_old, 'off_at_end': off}
        finally:
            ctl.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--fabrics', nargs='+', default=['triangle', 'lumen-qts'])
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args()
    setLogLevel('warning')
    print(f'Readiness ({date.today().isoformat()}, {machine()}), seconds from the emulation started:\n')
    print(
        '| fabric | run | old rule (20% + 2 ms) | new rule (5% + 0.5 ms) '
        '| off the new rule when the old was met |'
    )
    print('|---|---|---|---|---|')
    for name in args.fabrics:
        fabric = load_fabric(name)
        for n in range(1, args.runs + 1):
            r = one_run(fabric)
            shown = '; '.join(r['off_at_old'][:3]) + (
                f' (+{len(r["off_at_old"]) - 3})' if len(r['off_at_old']) > 3 else ''
            )
            new = (
                f'{r["new_s"]:.1f}'
                if r['new_s'] is not None
                else f'not in {TIMEOUT_S:g} s: {"; ".join(r["off_at_end"][:3])}'
            )
            old = f'{r["old_s"]:.1f}' if r['old_s'] is not None else '-'
            print(f'| {name} | {n} | {old} | {new} | {shown or "none"} |', flush=True)


if __name__ == '__main__':
    main()
