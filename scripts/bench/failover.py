"""Benchmark the outage a tenant sees when a backbone span of its intent's path is cut
(the goal: under 50 ms on any single span cut, measured with a 1 kHz UDP probe).

Run as root from the repository (about 1 minute to start lumen-qts, then ~8 s a cut):

    .venv/bin/python scripts/bench/failover.py [--cuts 10] [--down-s 2] \
        [--modes unprotected protected] [--json] > /tmp/failover.md

On the emulated fabric with the real controller process (gRPC API, tenants' tokens), for
each mode and each of --cuts cuts:

1. order an intent between two campuses of one tenant (rotating through every campus pair
   of every tenant, all of which cross the backbone), protected or not, and wait until it
   is INSTALLED;
2. start the probe (topologies/emulation/probe.py: 1 kHz UDP, tenant host to tenant host), and after
   --lead-s cut a backbone span (PoP to PoP) of the intent's current path, the one cut
   least so far (so the cuts rotate through the backbone);
3. restore it after --down-s, wait until the span is up again in the controller's view and
   the intent is INSTALLED, let the probe run --settle-s more, stop it;
4. record the outages (see cut_figures: the first one, caused by the cut itself; the
   longest while the span was cut; the longest after it was restored, as the intent may
   move back) and all probes lost; then withdraw the intent.

A campus pair whose path crosses no backbone span (atl2->pclt->ric1) is skipped.

Protected intents reserve a span-disjoint backup. Whether the switches fail over by
themselves is read from the ingress switch (OpenFlow fast-failover groups): without them
the protected figures are the controller's reroute, like the unprotected ones, and the
table says so.

Prints Markdown (machine and date included); --json prints the per-cut records instead.
"""

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date

from mininet.log import setLogLevel

from naasctl.client import ApiError, IntentState
from topologies.emulation.net import Emulation
from topologies.emulation.probe import Probe
from topologies.lab.controller_process import ControllerProcess
from topologies.model import addressing as addr
from topologies.model.fabric import load_fabric

MODES = ('unprotected', 'protected')
INSTALLED = IntentState.INTENT_STATE_INSTALLED
# Probes lost to a cut may have left up to the path's one-way delay before it (in flight in
# the span emulator, as on a cut fiber); this much more for the machine's jitter.
IN_FLIGHT_SLACK_MS = 5
FIRST_WITHIN_MS = 20  # a cut's first lost probe is due this soon after the cut
GBPS = 10  # each intent: 2.5 Mb/s emulated on lumen-qts; the probe sends ~0.7 Mb/s


def campus_pairs(fabric):
    """(tenant, src, dst) for every pair of one tenant's data-center sites, interleaved over
    tenants so that consecutive cuts use different tenants and regions."""
    per_tenant = []
    for tenant in fabric.tenants.values():
        sites = [s for s in tenant.sites if fabric.sites[s].kind == 'datacenter']
        per_tenant.append([(tenant.id, a, b) for i, a in enumerate(sites) for b in sites[i + 1 :]])
    longest = max(map(len, per_tenant), default=0)
    return [p[i] for i in range(longest) for p in per_tenant if i < len(p)]


def backbone_spans(fabric, path):
    """The PoP-to-PoP spans of a path, in path order, as (a, b)."""
    pop = {s.id for s in fabric.sites.values() if s.kind == 'pop'}
    return [(a, b) for a, b in itertools.pairwise(path) if a in pop and b in pop]


def cut_figures(result, cut_ns, cut_done_ns, restore_ns):
    """The outages of one probe run around a cut (times on CLOCK_MONOTONIC):
    first_outage_ms: the run of lost probes the cut itself caused (it began between the
        path's one-way delay before the cut, probes in flight, and FIRST_WITHIN_MS after the
        cut was done): the switches' failover or the controller's reroute; 0: none lost;
    outage_ms: the longest run that began from then until the span was restored (the
        first one, or a later move of the intent while the span was down);
    restore_outage_ms: the longest that began after the span was restored."""
    cut, cut_done, restore = ((t - result.start_ns) / 1e6 for t in (cut_ns, cut_done_ns, restore_ns))
    since = cut - result.delay_ms.get('p99', 0) - IN_FLIGHT_SLACK_MS
    first = [o for o in result.outages if since <= o.start_ms <= cut_done + FIRST_WITHIN_MS]
    down = [o for o in result.outages if since <= o.start_ms < restore]
    longest = max(down, key=lambda o: o.duration_ms, default=None)
    return dict(
        first_outage_ms=max((o.duration_ms for o in first), default=0.0),
        outage_ms=longest.duration_ms if longest else 0.0,
        outage_after_cut_ms=round(longest.start_ms - cut, 1) if longest else None,
        restore_outage_ms=max((o.duration_ms for o in result.outages if o.start_ms >= restore), default=0.0),
    )


def wait_until(what, condition, timeout_s, poll_s=0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll_s)
    raise TimeoutError(f'{what}: not within {timeout_s:g} s')


class Bench:
    def __init__(self, ctl, emu, args):
        self.ctl, self.emu, self.fabric, self.args = ctl, emu, emu.fabric, args
        self.cut_count = {}  # frozenset span -> times cut
        self.operator = ctl.client()

    def spans_up(self, *spans):
        topo = self.operator.get_topology()
        up = {frozenset((s.site_a, s.site_b)) for s in topo.spans if s.up}
        wanted = [frozenset(s) for s in spans] or [frozenset((s.a, s.b)) for s in self.fabric.spans]
        return all(s in up for s in wanted)

    def switches_connected(self):
        return all(s.connected for s in self.operator.get_topology().sites)

    def fast_failover(self, site):
        """Whether the site's switch holds any OpenFlow fast-failover group."""
        out = self.emu.switch(site).ofctl('dump-groups').stdout
        return 'type=ff' in out or 'type=fast_failover' in out

    def choose_span(self, path, n):
        spans = backbone_spans(self.fabric, path)
        if not spans:
            return None
        return min(
            spans, key=lambda s: (self.cut_count.get(frozenset(s), 0), (spans.index(s) - n) % len(spans))
        )

    def path_while_down(self, intent_id, path, down_s):
        """Wait down_s; the path the intent was INSTALLED on meanwhile, if it moved."""
        until = time.monotonic() + down_s
        moved = None
        with self.ctl.client() as client:
            while time.monotonic() < until:
                intent = client.get_intent(intent_id)
                if moved is None and list(intent.path) != path and intent.state == INSTALLED:
                    moved = list(intent.path)
                time.sleep(0.1)
        return moved

    def one_cut(self, mode, n, tenant, src, dst):
        args = self.args
        try:
            with self.ctl.client(tenant) as client:
                intent = client.create_intent(src, dst, GBPS, protected=mode == 'protected')
            with self.ctl.client() as client:
                intent = client.wait_for_state(intent.id, timeout_s=30)
        except (ApiError, TimeoutError) as e:
            return dict(mode=mode, tenant=tenant, src=src, dst=dst, span=None, error=f'order: {e}')
        path, backup = list(intent.path), list(intent.backup_path)
        record = dict(
            mode=mode,
            tenant=tenant,
            src=src,
            dst=dst,
            intent=intent.id,
            path=path,
            backup=backup,
            span=None,
            fast_failover=None,
        )
        try:
            span = self.choose_span(path, n)
            if span is None:
                record.update(skip=True, error='no backbone span on the path')
                return record
            self.cut_count[frozenset(span)] = self.cut_count.get(frozenset(span), 0) + 1
            record['span'] = '-'.join(span)
            record['fast_failover'] = self.fast_failover(src)
            src_host, dst_host = self.emu.host(tenant, src), self.emu.host(tenant, dst)
            dst_ip = addr.host_ip(self.fabric.tenants[tenant], self.fabric.sites[dst])
            src_host.cmd(f'ping -n -c 2 -i 0.2 -W 1 {dst_ip}')  # ARP resolved before the probe
            with Probe(src_host, dst_host, dst_ip) as probe:
                time.sleep(args.lead_s)
                cut_ns = time.monotonic_ns()
                self.emu.span_up(*span, False)
                cut_done_ns = time.monotonic_ns()  # both ends down: 0.5-25 ms under load
                try:
                    record['path_during'] = self.path_while_down(intent.id, path, args.down_s)
                finally:
                    self.emu.span_up(*span, True)
                restored, restore_ns = time.monotonic(), time.monotonic_ns()
                wait_until(f'span {record["span"]} up again', lambda: self.spans_up(span), 30)
                with self.ctl.client() as client:
                    after = client.wait_for_state(intent.id, timeout_s=30)
                record['back_s'] = round(time.monotonic() - restored, 2)
                record['path_after'] = list(after.path)
                time.sleep(args.settle_s)
            r = probe.result()
            record.update(cut_figures(r, cut_ns, cut_done_ns, restore_ns))
            record.update(
                cut_took_ms=round((cut_done_ns - cut_ns) / 1e6, 1),
                outages=[
                    dict(o.__dict__, start_after_cut_ms=round(o.start_ms - (cut_ns - r.start_ns) / 1e6, 1))
                    for o in r.outages
                ],
                longest_outage_ms=r.longest_outage_ms,
                lost=r.lost,
                lost_ms=r.lost_ms,
                sent=r.sent,
                gaps=len(r.outages),
                open=any(o.open for o in r.outages),
                delay_p50_ms=r.delay_ms.get('p50'),
                send_gap_us=r.sender.get('gap_us'),
            )
        except (ApiError, TimeoutError, RuntimeError) as e:
            record['error'] = f'{type(e).__name__}: {e}'
        finally:
            try:
                with self.ctl.client() as client:
                    client.delete_intent(intent.id)
                    client.wait_for_state(intent.id, states=('WITHDRAWN',), timeout_s=30)
            except Exception as e:
                record.setdefault('error', f'withdraw: {e}')
        return record

    def run(self, progress):
        records = []
        pairs = campus_pairs(self.fabric)
        for mode in self.args.modes:
            n = skipped = 0
            while n < self.args.cuts:
                tenant, src, dst = pairs[(n + skipped) % len(pairs)]
                rec = self.one_cut(mode, n, tenant, src, dst)
                if rec.get('skip') and skipped < len(pairs):
                    skipped += 1  # no backbone span on its path: the next pair
                    continue
                progress(
                    f'{mode} {n + 1}/{self.args.cuts}: {tenant} {src}->{dst} cut {rec.get("span")}: '
                    f'outage {rec.get("outage_ms")} ms, lost {rec.get("lost")} '
                    f'{rec.get("error", "")}'
                )
                records.append(rec)
                n += 1
        return records


def median_max(values):
    return (statistics.median(values), max(values)) if values else (None, None)


def markdown(records, args, fabric):
    out = [
        f'## Outage on a span cut ({date.today().isoformat()}, {platform.node()}, '
        f'{os.cpu_count()} cores, Python {platform.python_version()})',
        '',
        f'{fabric.name}: {len(fabric.sites)} sites, {len(fabric.spans)} spans; real controller '
        f'process; one {GBPS} Gb/s intent at a time between two campuses of a tenant; a backbone '
        f"span of its path cut for {args.down_s:g} s; 1 kHz UDP probe between the tenant's hosts. "
        "Outage: a run of lost probes, from the first lost probe's due time to the departure "
        'of the first one that arrived again. First: the one the cut caused at once (failover '
        'or reroute); while cut: the longest from the cut until the span was restored (the '
        'first, or a later move of the intent); when back: the longest after it was restored.',
        '',
        '| mode | cuts | first outage, median / max | longest while cut, median / max | '
        'when back, max | lost probes, median / max | span back to INSTALLED, median |',
        '|---|---|---|---|---|---|---|',
    ]
    for mode in args.modes:
        done = [r for r in records if r['mode'] == mode and 'outage_ms' in r]
        if not done:
            out.append(f'| {mode} | 0 | | | | | |')
            continue
        label = mode
        if mode == 'protected':
            ff = [r['fast_failover'] for r in done]
            label = (
                'protected (switch fast failover)'
                if all(ff)
                else 'protected (no fast-failover groups in the switches yet: controller reroute)'
                if not any(ff)
                else 'protected (fast-failover groups on some ingress switches)'
            )
        fmed, fmx = median_max([r['first_outage_ms'] for r in done])
        med, mx = median_max([r['outage_ms'] for r in done])
        lmed, lmx = median_max([r['lost'] for r in done])
        back = statistics.median(r['back_s'] for r in done)
        restore = max(r['restore_outage_ms'] for r in done)
        out.append(
            f'| {label} | {len(done)} | {fmed:.1f} / {fmx:.1f} ms | {med:.1f} / {mx:.1f} ms | '
            f'{restore:.1f} ms | {lmed:g} / {lmx} | {back:.2f} s |'
        )
    failed = [r for r in records if 'error' in r]
    out += [
        '',
        '| mode | intent path | span cut | path while cut | first outage, ms | '
        'longest while cut, ms | it began after the cut, ms | when back, ms | moved when back '
        '| lost | gaps |',
        '|---|---|---|---|---|---|---|---|---|---|---|',
    ]
    for r in records:
        if 'outage_ms' in r:
            during = '->'.join(r['path_during']) if r.get('path_during') else '(did not move)'
            out.append(
                f'| {r["mode"]} | {r["tenant"]} {"->".join(r["path"])} | {r["span"]} | {during} | '
                f'{r["first_outage_ms"]:.1f} | {r["outage_ms"]:.1f} | {r["outage_after_cut_ms"]} | '
                f'{r["restore_outage_ms"]:.1f} | '
                f'{"yes" if r["path_after"] != (r["path_during"] or r["path"]) else "no"} | '
                f'{r["lost"]} | {r["gaps"]} |'
            )
    if failed:
        out += ['', 'Cuts that did not complete:', '']
        out += [
            f'- {r["mode"]} {r["tenant"]} {r["src"]}->{r["dst"]} span {r["span"]}: {r["error"]}'
            for r in failed
        ]
    return '\n'.join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--fabric', default='lumen-qts')
    parser.add_argument('--cuts', type=int, default=10, help='cuts per mode (default 10)')
    parser.add_argument('--modes', nargs='+', choices=MODES, default=list(MODES))
    parser.add_argument('--down-s', type=float, default=2.0, help='how long a span stays cut')
    parser.add_argument('--lead-s', type=float, default=1.0, help='probe time before the cut')
    parser.add_argument(
        '--settle-s', type=float, default=1.0, help='probe time after the intent is INSTALLED again'
    )
    parser.add_argument('--json', action='store_true', help='print the per-cut records as JSON')
    args = parser.parse_args()
    setLogLevel('warning')
    fabric = load_fabric(args.fabric)

    def progress(message):
        print(message, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix='naas-failover-') as tmp:
        ctl = ControllerProcess(
            args.fabric, os.path.join(tmp, 'naas.db'), os.path.join(tmp, 'controller.log')
        )
        with ctl:
            with Emulation(fabric, controller=ctl.address) as emu:
                bench = Bench(ctl, emu, args)
                progress('waiting for every switch and span')
                wait_until('every switch connected', bench.switches_connected, 120, 0.5)
                wait_until('every span up', bench.spans_up, 120, 0.5)
                time.sleep(2)
                records = bench.run(progress)
                bench.operator.close()
        problems = ctl.problems()
        if problems:
            progress('controller log problems:\n' + '\n'.join(problems[-20:]))
    if args.json:
        print(json.dumps(records, indent=1))
    else:
        print(markdown(records, args, fabric), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
