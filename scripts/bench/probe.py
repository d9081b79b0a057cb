"""Benchmark the 1 kHz UDP probe (topologies/emulation/probe.py): how regular its sends are and
what its sender and receiver cost, on an idle machine and on a loaded one.

Run as root from the repository, through the lock that labs share (a lab run meanwhile would
load the machine and collide on names):

    flock /tmp/naas-root.lock .venv/bin/python scripts/bench/probe.py [--probe FILE] [--label NAME] \
        [--seconds 20] [--loads idle hogs lab] [--fabric lumen-qts] [--json]

`--probe FILE` runs another version of probe.py (a file of its own, e.g. the one before a
change: `git show REV:topologies/emulation/probe.py > /tmp/probe_before.py`); its command
line must be `FILE send DST --port P --duration S --run R` and `FILE receive ...`.

Loads:
- idle: sender and receiver over loopback in the host's namespace, nothing else started;
- hogs: the same, with one busy loop per core at normal priority (the sender and receiver
  run under SCHED_FIFO, as they do by default);
- lab: the fabric (default lumen-qts) with the real controller, two intents between campuses
  of two tenants, each carrying constant UDP traffic (iperf3, --traffic-mbps emulated), and
  the probe between the hosts of the first intent, across the emulated fabric.

Figures: the gaps between consecutive sends (p50, p99, p99.9, max; the schedule is 1000 us)
as the sender reports them; the CPU of the sender and of the receiver (utime + stime from
/proc, over the probe's run, in % of one core); probes lost; the load average meanwhile.
Prints Markdown with the machine and the date; --json prints the records.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date

from machine import machine

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PORT = 9787
TICKS = os.sysconf('SC_CLK_TCK')
LOADS = ('idle', 'hogs', 'lab')


def cpu_s(pid):
    """utime + stime of a process so far, seconds."""
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def ready(proc):
    line = proc.stdout.readline()
    if not line.startswith('{"ready"'):
        proc.kill()
        raise RuntimeError(f'probe did not start: {line!r} {proc.stderr.read()[-500:]}')


def one_run(probe, seconds, popen_src, popen_dst, dst_ip):
    """Sender and receiver for `seconds`; the figures."""
    run_id = str(random.getrandbits(31))
    base = [sys.executable, probe]
    receiver = popen_dst(
        [*base, 'receive', '--port', str(PORT), '--run', run_id, '--duration', str(seconds + 2)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    ready(receiver)
    sender = popen_src(
        [*base, 'send', dst_ip, '--port', str(PORT), '--run', run_id, '--duration', str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    ready(sender)
    # From the first probe on (the sender starts 2 ms after it says it is ready), past start-up.
    time.sleep(0.5)
    started, load_before = time.monotonic(), os.getloadavg()[0]
    cpu = {'sender': cpu_s(sender.pid), 'receiver': cpu_s(receiver.pid)}
    time.sleep(seconds - 1.0)
    wall = time.monotonic() - started
    cpu = {k: (cpu_s(p.pid) - cpu[k]) / wall * 100 for k, p in (('sender', sender), ('receiver', receiver))}
    load_after = os.getloadavg()[0]
    report = json.loads(sender.communicate(timeout=30)[0].strip().splitlines()[-1])
    received = json.loads(receiver.communicate(timeout=30)[0].strip().splitlines()[-1])
    got = {seq for seq, _, _ in received['records']}
    return {
        'sent': report['sent'],
        'lost': report['sent'] - len(got & set(range(report['sent']))),
        'realtime': report['realtime'],
        'gap_us': report['gap_us'],
        'late_us': report['late_us'],
        'sender_cpu_pct': round(cpu['sender'], 2),
        'receiver_cpu_pct': round(cpu['receiver'], 2),
        'load': f'{load_before:.2f}-{load_after:.2f}',
    }


def run_idle(probe, seconds, hogs=0):
    busy = [
        subprocess.Popen(
            [
                sys.executable,
                '-c',
                f'import time\nend = time.time() + {seconds + 5}\nwhile time.time() < end: pass',
            ]
        )
        for _ in range(hogs)
    ]
    try:
        return one_run(probe, seconds, subprocess.Popen, subprocess.Popen, '127.0.0.1')
    finally:
        for p in busy:
            p.kill()
            p.wait()


def run_lab(probe, seconds, fabric_name, traffic_mbps, progress):
    from mininet.log import setLogLevel

    from naasctl.client import make_order
    from topologies.lab.lab import Lab
    from topologies.lab.scenario.events import TRAFFIC_PORT
    from topologies.model.fabric import load_fabric

    setLogLevel('warning')
    fabric = load_fabric(fabric_name)
    pairs = []
    for tenant in fabric.tenants.values():
        campuses = [s for s in tenant.sites if fabric.sites[s].kind == 'datacenter']
        if len(campuses) >= 2:
            pairs.append((tenant.id, campuses[0], campuses[-1]))
    pairs = pairs[:2]
    gbps = (traffic_mbps + 2) / (1000 * fabric.bandwidth_scale)  # the traffic and the probe fit
    with (
        tempfile.TemporaryDirectory(prefix='naas-bench-probe-') as tmp,
        Lab(fabric, tmp, say=progress) as lab,
    ):
        for tenant, src, dst in pairs:
            with lab.client(tenant) as client:
                intent = client.create_intent(make_order(src, dst, gbps, tenant=tenant))
                client.wait_for_state(intent.id, ('INSTALLED',), timeout_s=30)
            progress(f'{tenant}: {src} -> {dst} installed')
        traffic = []
        try:
            for n, (tenant, src, dst) in enumerate(pairs):
                server = lab.host((tenant, dst)).popen(
                    ['iperf3', '-s', '-p', str(TRAFFIC_PORT + n)], stdout=subprocess.DEVNULL
                )
                time.sleep(0.5)
                client = lab.host((tenant, src)).popen(
                    ['iperf3', '-c', lab.ip((tenant, dst)), '-p', str(TRAFFIC_PORT + n), '-u', '-b',
                     f'{traffic_mbps:g}M', '-l', '1400', '-t', str(seconds + 30)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
                traffic += [server, client]
            time.sleep(3)
            tenant, src, dst = pairs[0]
            progress(f'probe {tenant}: {src} -> {dst} under {len(pairs)} x {traffic_mbps:g} Mb/s of UDP')
            return one_run(
                probe,
                seconds,
                lab.host((tenant, src)).popen,
                lab.host((tenant, dst)).popen,
                lab.ip((tenant, dst)),
            )
        finally:
            for p in traffic:
                p.kill()
                p.wait()


def markdown(records, args):
    lines = [
        f'Probe benchmark ({date.today().isoformat()}, {machine()}), {args.seconds:g} s at 1 kHz per run:',
        '',
        '| probe | load | send gap p50 / p99 / p99.9 / max (us) | late p99 (us) | sender CPU '
        '| receiver CPU | lost | load avg |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for r in records:
        g = r['gap_us']
        lines.append(
            f'| {r["label"]} | {r["where"]} '
            f'| {g["p50"]:.0f} / {g["p99"]:.0f} / {g["p999"]:.0f} / {g["max"]:.0f} '
            f'| {r["late_us"]["p99"]:.0f} | {r["sender_cpu_pct"]:.1f}% | {r["receiver_cpu_pct"]:.1f}% '
            f'| {r["lost"]} of {r["sent"]} | {r["load"]} |'
        )
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--probe', default=os.path.join(REPO, 'topologies', 'emulation', 'probe.py'))
    parser.add_argument('--label', default='this tree')
    parser.add_argument('--seconds', type=float, default=20.0)
    parser.add_argument('--loads', nargs='+', choices=LOADS, default=list(LOADS))
    parser.add_argument('--fabric', default='lumen-qts')
    parser.add_argument('--traffic-mbps', type=float, default=8.0, help='UDP per intent, emulated Mb/s')
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args()

    def progress(message):
        print(message, file=sys.stderr, flush=True)

    records = []
    for load in args.loads:
        progress(f'{args.label}: {load}')
        if load == 'lab':
            r = run_lab(args.probe, args.seconds, args.fabric, args.traffic_mbps, progress)
            where = f'{args.fabric}, 2 x {args.traffic_mbps:g} Mb/s UDP'
        else:
            r = run_idle(args.probe, args.seconds, hogs=os.cpu_count() if load == 'hogs' else 0)
            where = 'idle' if load == 'idle' else f'{os.cpu_count()} busy loops'
        records.append({'label': args.label, 'where': where, **r})
        progress(json.dumps(records[-1]))
    print(json.dumps(records) if args.json else markdown(records, args))


if __name__ == '__main__':
    main()
