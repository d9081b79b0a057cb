"""Does an intent's SLA report say what its tenant's own probe saw? Run as root from the
repository, through the shared lock (the machine has 2 cores):

    flock /tmp/naas-root.lock .venv/bin/python scripts/bench/sla.py [--rounds 3] > /tmp/sla.md

On emulated triangle, an intent of red's from dca to dcc (unprotected, then protected) and a
1 kHz UDP probe between red's hosts there (topologies/emulation/probe.py). Each round: 10 s
of calm, the span under the intent's path cut for 10 s, then restored, 10 s more; then the
intent's SLA report over exactly the probe's run (GetIntentStats with the tenant's token)
is set beside the probe's figures: availability against the share of probes that arrived,
each outage's length against the probe's, the path latency against the probe's one-way
delay (median). Prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import sys
import tempfile
import time
from datetime import date

from machine import machine

from naasctl.client import make_order
from topologies.emulation.probe import Probe
from topologies.lab.lab import Lab
from topologies.model.fabric import load_fabric

CALM_S, CUT_S = 10.0, 10.0


def one_round(lab, red, protected):
    intent = red.create_intent(make_order('dca', 'dcc', 1, protected=protected))
    deadline = time.monotonic() + 30
    while red.get_intent(intent.id).state != 4:  # INSTALLED
        if time.monotonic() > deadline:
            raise RuntimeError(f'{intent.id} not INSTALLED in 30 s')
        time.sleep(0.1)
    a, b = list(red.get_intent(intent.id).path)[:2]
    time.sleep(2)  # its first latency samples
    probe = Probe(lab.host(('red', 'dca')), lab.host(('red', 'dcc')), lab.ip(('red', 'dcc'))).start()
    started = time.monotonic()
    try:
        time.sleep(CALM_S)
        lab.span_down(a, b)
        time.sleep(CUT_S)
        lab.span_up(a, b)
        time.sleep(CALM_S)
        result = probe.stop()
    finally:
        probe.kill()
    window_s = time.monotonic() - started
    stats = red.get_intent_stats(intent.id, window_s=window_s)
    red.delete_intent(intent.id)
    time.sleep(2)
    probe_s = result.sent * result.interval_ms / 1000
    sla = stats.sla
    outages = [(o.duration.seconds + o.duration.nanos / 1e9) * 1000 for o in sla.outages]
    return {
        'protected': protected,
        'span': f'{a}-{b}',
        'window_s': window_s,
        'probe_availability': result.received / result.sent,
        'sla_availability': sla.availability,
        'probe_outages_ms': [o.duration_ms for o in result.outages if o.duration_ms >= 5],
        'sla_outages_ms': outages,
        'probe_lost_ms': result.lost_ms,
        'probe_s': probe_s,
        'probe_delay_p50_ms': result.delay_ms.get('p50'),
        'sla_latency_ms': stats.forward.latency_ms,
        'within_latency': sla.within_latency_share,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rounds', type=int, default=3)
    args = parser.parse_args()
    fabric = load_fabric('triangle')
    rows = []
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix='bench-sla-') as tmp, Lab(fabric, tmp, say=say) as lab:
        with lab.client('red') as red:
            for protected in (False, True):
                for _ in range(args.rounds):
                    rows.append(one_round(lab, red, protected))
                    say(str(rows[-1]))
    print(f"## SLA reports against the tenant's own 1 kHz probe ({date.today().isoformat()})\n")
    print(f'Machine: {machine()}.\n')
    print(
        f'Emulated triangle, red dca->dcc, {CALM_S:g} s calm, the span under its path cut {CUT_S:g} s, '
        f"{CALM_S:g} s calm; the SLA report over the probe's run; `scripts/bench/sla.py "
        f'--rounds {args.rounds}`.\n'
    )
    print(
        '| intent | span cut | availability: SLA / probe (diff) | outages, ms: SLA / probe '
        '| latency, ms: SLA / probe p50 |'
    )
    print('| --- | --- | --- | --- | --- |')
    for r in rows:
        diff = r['sla_availability'] - r['probe_availability']
        sla_out = ', '.join(f'{ms:.0f}' for ms in r['sla_outages_ms']) or 'none'
        probe_out = ', '.join(f'{ms:.0f}' for ms in r['probe_outages_ms']) or 'none'
        print(
            f'| {"protected" if r["protected"] else "unprotected"} | {r["span"]} | '
            f'{r["sla_availability"]:.4f} / {r["probe_availability"]:.4f} ({diff:+.4f}) | '
            f'{sla_out} / {probe_out} | {r["sla_latency_ms"]:.2f} / {r["probe_delay_p50_ms"]:.2f} |'
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
