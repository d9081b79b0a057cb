"""How true the controller's span delays are, from the start: a lab without the wait for
readiness, the controller's figure for each direction of every span (GetTopology) minus
the configured delay, every few seconds, and the controller's CPU.

Run as root from the repository (through the shared lock: the machine has 2 cores):

    flock /tmp/naas-root.lock .venv/bin/python scripts/bench/span_estimates.py germany50 > /tmp/e.md

Prints Markdown (machine and date included) for docs/benchmarks.md: per snapshot, the
error's mean, p10, p90, max and min, and how many directions are off (beyond 5% + 0.5 ms,
the lab's readiness rule), then the switches' crossings.
"""

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from mininet.log import setLogLevel

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine

from topologies.emulation.measure import delay_within
from topologies.lab.lab import Lab
from topologies.model.fabric import load_fabric


def cpu_seconds(pid):
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('fabric', nargs='?', default='germany50')
    parser.add_argument('--seconds', type=float, default=60)
    parser.add_argument('--every', type=float, default=5)
    args = parser.parse_args()
    setLogLevel('warning')
    fabric = load_fabric(args.fabric)
    configured = {s.id: s.delay_ms for s in fabric.spans}
    out = [
        f"### The controller's span delays on {fabric.name} ({date.today().isoformat()})",
        '',
        f'Machine: {machine()}. {len(fabric.sites)} switches, {len(fabric.spans)} spans; nothing but '
        'the controller and its probes. Error: measured minus configured one-way delay, ms.',
        '',
        '| s after the emulation started | directions measured | mean | p10 | p90 | max | min | off | '
        'controller CPU % |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    with tempfile.TemporaryDirectory() as tmp, Lab(fabric, tmp, ready=False) as lab:
        pid, started = lab.controller.proc.pid, time.monotonic()
        cpu0 = cpu_seconds(pid)
        while time.monotonic() - started < args.seconds:
            time.sleep(args.every)
            with lab.client() as client:
                topology = client.get_topology()
            errors, off = [], 0
            for span in topology.spans:
                for d in span.directions:
                    if d.delay_measured:
                        errors.append(d.delay_ms - configured[span.id])
                        off += not delay_within(configured[span.id], d.delay_ms)
            if not errors:
                continue
            errors.sort()
            at = time.monotonic() - started
            cpu = 100 * (cpu_seconds(pid) - cpu0) / at
            p10, p90 = errors[len(errors) // 10], errors[9 * len(errors) // 10]
            figures = (statistics.mean(errors), p10, p90, errors[-1], errors[0])
            cells = ' | '.join(f'{x:+.3f}' for x in figures)
            out.append(f'| {at:.0f} | {len(errors)} | {cells} | {off} | {cpu:.0f} |')
        crossings = sorted(site.crossing_ms for site in topology.sites)
    out += [
        '',
        f'Crossings at the end (ms): least {crossings[0]:.3f}, median {crossings[len(crossings) // 2]:.3f}, '
        f'most {crossings[-1]:.3f}.',
    ]
    print('\n'.join(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
