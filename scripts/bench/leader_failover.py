"""Benchmark a controller leader's death (docs/ha.md): how long until a new leader accepts
writes, whether any acknowledged intent is lost, and whether reads stop meanwhile.

    .venv/bin/python scripts/bench/leader_failover.py [--kills 20] [--replicas 3] \
        [--held 10000] > /tmp/leader_failover.md

A real etcd cluster of 3 members and --replicas naas-controller processes on loopback
(`--southbound loopback`: no switches; the data plane across a leader's death is
tests/integration/test_replicas.py), on lumen-qts with --tenants tenants. --clients threads
create intents at --rate a second each through clients that know every replica (they follow
the leader); one reader per replica reads an intent every 10 ms. Every --every-s seconds the
leader is SIGKILLed and started again as a follower; --held intents are created first (of
tenants of their own, CreateIntents of 1,000), so that a new leader takes over that many and
more. For each kill:

- election: from the kill until a replica says it leads;
- writes: from the kill until the first create asked after it is acknowledged (by the new
  leader: what a client sees, its retries included);
- reads refused on the followers meanwhile.

At the end every acknowledged intent must be listed by the last leader. Prints a Markdown
section for docs/benchmarks.md.
"""

import argparse
import collections
import shutil
import sys
import tempfile
import threading
import time
from datetime import date

from machine import machine, percentile

from naasctl.client import ApiError, make_order
from topologies.lab.etcd import EtcdCluster
from topologies.lab.replicas import LEADS, Replicas
from topologies.lab.tenants import with_tenants


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--kills', type=int, default=20)
    parser.add_argument('--replicas', type=int, default=3)
    parser.add_argument('--tenants', type=int, default=150, help='each has one intent per site pair')
    parser.add_argument('--clients', type=int, default=4, help='creating at once')
    parser.add_argument('--rate', type=float, default=25.0, help='creates a second per client')
    parser.add_argument('--every-s', type=float, default=3.0, help='between kills')
    parser.add_argument('--held', type=int, default=0, help='intents created before the kills')
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix='naas-failover-')  # kept if it fails: the replicas' logs
    print(f'replicas and etcd in {tmp}', file=sys.stderr)
    probe = with_tenants('lumen-qts', 1, f'{tmp}/fabric.yaml')
    sites = next(iter(probe.tenants.values())).sites
    pairs = [(a, b) for i, a in enumerate(sites) for b in sites[i + 1 :]]
    holders = -(-args.held // len(pairs))  # tenants of the held intents, after the creators'
    fabric = with_tenants('lumen-qts', args.tenants + holders, f'{tmp}/fabric.yaml')
    with (
        EtcdCluster(workdir=f'{tmp}/etcd') as etcd,
        Replicas(
            f'{tmp}/fabric.yaml', etcd.url, tmp, args.replicas, ['--southbound', 'loopback']
        ) as replicas,
    ):
        figures = run(replicas, fabric, pairs, args)
    shutil.rmtree(tmp)
    report(figures, args)


def fill(replicas, fabric, pairs, args):
    """--held intents of the last tenants, 1,000 a call, through the leader."""
    slots = [(t, a, b) for t in sorted(fabric.tenants)[args.tenants :] for a, b in pairs][: args.held]
    with replicas.processes[replicas.leader()].client('operator', timeout_s=120) as operator:
        for k in range(0, len(slots), 1000):
            made = operator.create_intents(
                [make_order(a, b, 0.001, tenant=t) for t, a, b in slots[k : k + 1000]]
            )
            refused = [r.reason for r in made if r.code]
            if refused:
                raise SystemExit(f'refused while filling: {refused[0]}')
    print(f'{len(slots)} intents held', file=sys.stderr)


def run(replicas, fabric, pairs, args):
    fill(replicas, fabric, pairs, args)
    acknowledged, errors = [], []  # (monotonic when asked, when acknowledged, intent id)
    read_refusals = []  # monotonic when a follower refused or failed a read
    down = set()  # replicas killed and not yet serving again
    stop = threading.Event()

    def creator(j):
        """Client j: the intents of tenants j, j + clients, ... (one a site pair), at --rate/s."""
        tenants = sorted(fabric.tenants)[: args.tenants][j :: args.clients]
        due = time.monotonic()
        for tenant in tenants:
            with replicas.client(tenant, failover_s=15.0) as naas:
                for src, dst in pairs:
                    due += 1 / args.rate
                    time.sleep(max(0.0, due - time.monotonic()))
                    if stop.is_set():
                        return
                    started = time.monotonic()
                    try:
                        made = naas.create_intent(src, dst, 0.001)
                        acknowledged.append((started, time.monotonic(), made.id))
                    except ApiError as e:
                        errors.append(f'{e.code.name}: {e.message}')
        errors.append(f'client {j} ran out of tenants: give more --tenants')

    def reader(k):
        process = replicas.processes[k]
        while not stop.is_set():
            if not replicas.alive(k) or not acknowledged:
                time.sleep(0.05)
                continue
            try:
                with process.client('operator', timeout_s=1.0) as operator:
                    while not stop.is_set() and replicas.alive(k):
                        operator.get_intent(acknowledged[0][2])
                        time.sleep(0.01)
            except ApiError as e:
                if k not in down:  # killed, or starting again: not serving, as it should
                    read_refusals.append((time.monotonic(), f'{e.code.name}: {e.message[:80]}'))

    threads = [threading.Thread(target=creator, args=(j,), daemon=True) for j in range(args.clients)]
    threads += [
        threading.Thread(target=reader, args=(k,), daemon=True) for k in range(len(replicas.processes))
    ]
    for t in threads:
        t.start()
    kills = []
    for n in range(args.kills):
        time.sleep(args.every_s)
        lead = replicas.leader()
        seen = sum(1 for p in replicas.processes for _ in LEADS.finditer(p.log()))
        down.add(lead)
        replicas.kill(lead)
        killed = time.monotonic()
        elected = None
        while time.monotonic() - killed < 20:
            now_seen = sum(1 for p in replicas.processes for _ in LEADS.finditer(p.log()))
            if elected is None and now_seen > seen:
                elected = time.monotonic() - killed
            after = [done for asked, done, _ in acknowledged if asked > killed]  # not in flight before
            if elected is not None and after:
                kills.append((elected, min(after) - killed))
                break
            time.sleep(0.005)
        else:
            kills.append((elected, None))
        print(f'kill {n + 1}: {kills[-1]}', file=sys.stderr)
        replicas.restart(lead)
        down.discard(lead)
    stop.set()
    time.sleep(1.0)
    lead = replicas.leader()
    with replicas.processes[lead].client('operator') as operator:
        kept = {i.id for i in operator.list_intents()}
    lost = [i for *_, i in acknowledged if i not in kept]
    return kills, acknowledged, errors, read_refusals, lost


def report(figures, args):
    kills, acknowledged, errors, read_refusals, lost = figures
    elections = sorted(e for e, _ in kills if e is not None)
    writes = sorted(w for _, w in kills if w is not None)
    print(f'## A leader SIGKILLed under creates ({date.today().isoformat()})\n')
    print(
        f'{machine()}; `scripts/bench/leader_failover.py --kills {args.kills} --replicas {args.replicas} '
        f'--held {args.held}`'
    )
    print(
        f'(etcd 3 members, heartbeat 50 ms, election 500 ms; lease 1 s; {args.clients} clients creating '
        f'{args.rate:g}/s each; {args.held} intents held before the first kill, '
        f'{args.held + len(acknowledged)} at the last).\n'
    )
    print('| figure | p50 | p90 | max |')
    print('| --- | --- | --- | --- |')
    for name, values in (('new leader elected (s)', elections), ('writes accepted again (s)', writes)):
        if values:
            row = [percentile(values, q) for q in (50, 90)] + [values[-1]]
            print(f'| {name} | ' + ' | '.join(f'{v:.2f}' for v in row) + ' |')
    print(
        f'\n{len(acknowledged)} creates acknowledged, {len(lost)} of them lost; '
        f'{len(errors)} refused to the clients; {len(read_refusals)} reads refused by a serving replica; '
        f'{sum(1 for _, w in kills if w is None)} kills without writes accepted within 20 s.'
    )
    if errors:
        print(f'\nRefusals: {sorted(set(errors))[:5]}')
    if read_refusals:
        print(f'\nReads refused: {dict(collections.Counter(code for _, code in read_refusals))}')


if __name__ == '__main__':
    main()
