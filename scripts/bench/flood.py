"""Benchmark a control-plane flood: one tenant host sending ARP and LLDP as fast as it can,
against the real controller on an emulated fabric with intents installed.

Run as root from the repository, through the lock that labs share:

    flock /tmp/naas-root.lock .venv/bin/python scripts/bench/flood.py [--fabric triangle] \
        [--seconds 15] [--runs 2] [--label NAME]

It uses only the lab's public parts (Lab, the API, the switches' own counters), so the same
file can be run from a checkout of an older commit to get the "before" figures.

Figures per run: frames per second the host sent; the controller's CPU (% of one core, from
/proc) over as long without the flood and then with it; packet-ins the flood's switch sent
(its OpenFlow port statistics cannot tell, so the controller's share: ARP let through by the
port's control meter, when there is one); the largest change of any span delay the controller
reports (ms, before against after); intents moved (update_time changed); whether the intents'
traffic still flows.
"""

import argparse
import re
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from machine import machine
from mininet.log import setLogLevel

from topologies.emulation.traffic import ControlFlood
from topologies.lab.lab import Lab, pings
from topologies.model import addressing as addr
from topologies.model.fabric import load_fabric

CONTROL_METERS = 0xFFFF0000 - 256  # controller.core.flows.CONTROL_METER_BASE (older checkouts lack it)


def cpu_s(pid):
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def snapshot(lab, ids):
    with lab.client() as client:
        delays = {(s.id, d.from_site): d.delay_ms for s in client.get_topology().spans for d in s.directions}
        intents = {i: client.get_intent(i).update_time.ToNanoseconds() for i in ids}
    return delays, intents


def one_run(fabric, seconds):
    tenants = [t for t in fabric.tenants.values() if len(t.sites) >= 2][:2]
    with tempfile.TemporaryDirectory() as tmp, Lab(fabric, tmp) as lab:
        ids = []
        for tenant in tenants:
            with lab.client(tenant.id) as client:
                ids.append(client.create_intent(tenant.sites[0], tenant.sites[1], 1).id)
        with lab.client() as client:
            for i in ids:
                client.wait_for_state(i, timeout_s=30)
        flooder, victim = tenants[-1], tenants[0]
        site = flooder.sites[0]
        pid = lab.controller.proc.pid
        delays0, intents0 = snapshot(lab, ids)
        idle = cpu_s(pid)
        time.sleep(seconds)
        idle = (cpu_s(pid) - idle) / seconds
        switch = lab.emulation.switch(site)
        before = _meters(switch)
        busy = cpu_s(pid)
        flood = ControlFlood(lab.emulation, flooder.id, site, seconds).start()
        sent = flood.result()
        busy = (cpu_s(pid) - busy) / seconds
        passed = _meter_passed(switch, before)
        time.sleep(2)
        delays1, intents1 = snapshot(lab, ids)
        moved = sum(intents0[i] != intents1[i] for i in ids)
        shift = max(abs(delays1[k] - delays0[k]) for k in delays0)
        host = lab.emulation.host(victim.id, victim.sites[0])
        target = addr.host_ip(victim, fabric.sites[victim.sites[1]])
        flows = pings(host, target, count=5)[1] == 5
    return dict(
        sent_fps=sent / seconds,
        idle=idle,
        busy=busy,
        to_controller=passed,
        shift=shift,
        moved=moved,
        flows=flows,
    )


def _meters(switch):
    """{meter id: (packets in, packets dropped)} of the switch (empty without meters)."""
    out = switch.ofctl('meter-stats', '-O', 'OpenFlow13').stdout
    return {
        int(m): (int(i), int(d))
        for m, i, d in re.findall(r'meter:(\d+) .*?packet_in_count:(\d+).*?0: packet_count:(\d+)', out, re.S)
    }


def _meter_passed(switch, before):
    """ARP let through to the controller by control meters since `before` (None: no such meters)."""
    after = {m: v for m, v in _meters(switch).items() if m >= CONTROL_METERS}
    if not after:
        return None
    return sum(
        (a[0] - a[1]) - (before.get(m, (0, 0))[0] - before.get(m, (0, 0))[1]) for m, a in after.items()
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--fabric', default='triangle')
    parser.add_argument('--seconds', type=float, default=15)
    parser.add_argument('--runs', type=int, default=2)
    parser.add_argument('--label', default='this checkout')
    args = parser.parse_args()
    setLogLevel('warning')
    fabric = load_fabric(args.fabric)
    print(
        f'Control-plane flood ({date.today().isoformat()}, {machine()}): {fabric.name}, one host flooding '
        f'ARP and LLDP for {args.seconds:g} s, two intents installed.\n'
    )
    print(
        '| version | run | frames/s sent | controller CPU idle / flooded | ARP to the controller | '
        'largest span delay change (ms) | intents moved | traffic flows |'
    )
    print('|---|---|---|---|---|---|---|---|')
    for run in range(1, args.runs + 1):
        r = one_run(fabric, args.seconds)
        to_ctl = (
            'all (no meter)' if r['to_controller'] is None else f'{r["to_controller"] / args.seconds:.0f}/s'
        )
        print(
            f'| {args.label} | {run} | {r["sent_fps"]:,.0f} | {r["idle"]:.1%} / {r["busy"]:.1%} | {to_ctl} | '
            f'{r["shift"]:.3f} | {r["moved"]} | {"yes" if r["flows"] else "NO"} |',
            flush=True,
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
