"""Benchmark the quality of placement against the optimum:

    .venv/bin/python scripts/bench/placement.py [--quick] [--networks sndlib/abilene ...] \
        [--k 8] [--milp-seconds 5] [--json FILE] > /tmp/placement.md

About 12 minutes by default (13 networks; brain, the largest, only for the compute time: its
quality rows take half an hour, `--networks sndlib/brain`); `--quick` about 1 minute.

For every SNDlib network in `topohub` that the importer can take (real coordinates, so span
delays exist) and that has a demand matrix, and at several loads:

- fabric: `topologies.model.importer.import_topohub` (every span 100 Gb/s, delays from the
  coordinates) plus one tenant, `bench`, with a port at every site;
- intents: the demand matrix, one E-Line per unordered site pair carrying
  max(demand a->b, demand b->a) (an E-Line commits its bandwidth in both directions, so the
  larger direction is what the pair needs; a sum would count the pair's traffic twice),
  multiplied by one scale per load;
- loads: the scale at which the LP below admits 100%, 80% and 60% of the demand (100%: the
  largest scale at which it admits everything, a max-concurrent-flow LP; the others by
  bisection), computed on Yen's paths only;
- the core: the real `Controller(fabric, headroom=0.1).create(...)` one intent after the
  other (CSPF: the lowest-latency path with the bandwidth in both directions; where none
  has the room, it moves placed intents aside and the new one waits for them to flip),
  every switch confirming the plan after each create (so moves complete); a refusal
  (Unplaceable, or InvalidArgument when no path could ever carry it) counts as not admitted.
  Four orders: the matrix's own, largest first, smallest first, fewest hops first; and
  fewest hops first without making room (`greedy`: the core before it moved intents);
  and `together`: one `create_many` of the whole matrix (the core places the intents
  jointly: controller/core/packing.py);
- LP: per intent the k lowest-latency simple paths (Yen) plus every path a greedy run used;
  x[d,p] >= 0, sum_p x[d,p] <= demand[d], per span sum of x over paths crossing it <= its
  capacity x (1 - headroom) (one constraint per span: an E-Line takes the same Gb/s in both
  directions); maximise sum x. Splittable, so an upper bound on any single-path placement;
- MILP: the same with each intent admitted whole on one of its paths or not at all (binary
  y[d,p]); HiGHS with a time limit; when it stops early, its best placement and bound.

Also the compute time of the core placing 1,000 intents on the largest network (brain).
Prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import contextlib
import itertools
import json
import math
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import scipy
import topohub
from machine import machine
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_matrix

from controller.core.controller import Controller
from controller.core.errors import CoreError, InvalidArgument
from controller.core.intent import State
from controller.core.orders import MIN_BANDWIDTH_GBPS
from controller.core.paths import k_paths
from controller.core.topology import Topology
from topologies.model import addressing as addr
from topologies.model.config import ConfigError
from topologies.model.fabric import parse_fabric
from topologies.model.importer import import_topohub, list_networks
from topologies.model.order import Order
from topologies.model.policy import Policy

TENANT = 'bench'
HEADROOM = 0.1
ORDERS = ('matrix', 'largest-first', 'smallest-first', 'fewest-hops', 'greedy fewest-hops', 'together')
LOADS = (1.0, 0.8, 0.6)  # share of the demand the LP admits
QUICK_NETWORKS = ('sndlib/abilene', 'sndlib/polska', 'sndlib/nobel-us', 'sndlib/geant', 'sndlib/janos-us')
# The core takes about a minute per greedy run on brain's 7467 intents (four orders at three loads):
# not in the default run; `--networks sndlib/brain` measures it.
SLOW = ('sndlib/brain',)
TIMING_INTENTS = 1000
SEED = 5
K = 8  # Yen paths per intent: k = 16 or 32 adds < 1% to the LP here
MILP_SECONDS = 5.0  # most stop there; docs/benchmarks.md's figures took 20


# --- networks and demands --------------------------------------------------------------------


@dataclass(frozen=True)
class Demand:
    src: str
    dst: str
    volume: float  # the matrix's units; a load's scale turns it into Gb/s


@dataclass
class Network:
    key: str
    fabric: object
    demands: list  # matrix order
    topology: object = field(init=False)  # controller.core.topology.Topology
    span_of: dict = field(init=False)  # frozenset of two sites -> span index
    limits: list = field(init=False)  # span index -> Gb/s that may be committed

    def __post_init__(self):
        self.topology = Topology.from_fabric(self.fabric)
        self.span_of, self.limits = {}, []
        for span in self.fabric.spans:
            self.span_of[frozenset((span.a, span.b))] = len(self.limits)
            self.limits.append(span.capacity_gbps * (1 - HEADROOM))

    def spans(self, sites):
        """The span indexes of a path given as a sequence of sites."""
        return tuple(self.span_of[frozenset(pair)] for pair in itertools.pairwise(sites))


class Skipped(Exception):
    pass


def load_network(key):
    """The fabric (with tenant `bench` at every site) and the merged demands, or Skipped."""
    try:
        doc = import_topohub(key)
    except ConfigError as e:
        text = e.problems[0][1]
        if 'whole number' in text:  # see importer._check_positions
            text = (
                'the importer refuses it: its node positions are pixels of a drawing, '
                'not longitude/latitude, so span delays cannot be derived'
            )
        raise Skipped(text) from None
    data = topohub.get(key)
    nodes = data['nodes']
    names = [str(n.get('name') or n['id']) for n in nodes]
    if len(doc['sites']) != len(nodes) or [s['name'] for s in doc['sites']] != names:
        raise Skipped('the importer dropped nodes (not connected)')
    site_of = {n['id']: s['id'] for n, s in zip(nodes, doc['sites'])}
    if TENANT in site_of.values():
        raise Skipped(f'a site is called {TENANT}')
    doc['tenants'] = [{'id': TENANT, 'sites': list(site_of.values())}]
    fabric = parse_fabric(doc, source=f'topohub:{key}')
    merged = {}  # unordered pair -> (a, b, volume), in matrix order
    for a, row in (data['graph'].get('demands') or {}).items():
        for b, volume in row.items():
            src, dst = site_of[int(a)], site_of[int(b)]
            if src == dst or not volume > 0:
                continue
            pair = frozenset((src, dst))
            old = merged.get(pair)
            merged[pair] = (src, dst, volume) if old is None else (*old[:2], max(old[2], volume))
    if not merged:
        raise Skipped('no demand matrix')
    return Network(key, fabric, [Demand(*d) for d in merged.values()])


# --- paths -----------------------------------------------------------------------------------


def yen_paths(network, src, dst, k):
    """The core's k lowest-latency simple paths (controller/core/paths.py), as site tuples."""
    return [p.sites for p in k_paths(network.topology, src, dst, k, 0.0, lambda link: math.inf)]


# --- linear programs -------------------------------------------------------------------------


def _columns(paths):
    """One column per (demand, path): lists of demand indexes and span tuples."""
    owner = [d for d, options in enumerate(paths) for _ in options]
    spans = [s for options in paths for s in options]
    return owner, spans


def _matrix(owner, spans, n_demands, n_spans, weights):
    """Rows 0..n_demands-1: one per demand (1 per own column); then one per span
    (`weights[column]` per column crossing it)."""
    rows, cols, vals = [], [], []
    for col, (d, crossing) in enumerate(zip(owner, spans)):
        rows.append(d)
        cols.append(col)
        vals.append(1.0)
        for s in crossing:
            rows.append(n_demands + s)
            cols.append(col)
            vals.append(weights[col])
    return csr_matrix((vals, (rows, cols)), shape=(n_demands + n_spans, len(owner)))


def lp_admitted(volumes, paths, limits):
    """Most Gb/s the intents can have, split over their paths (the fractional optimum).
    volumes[d]: Gb/s asked; paths[d]: tuples of span indexes; limits[s]: Gb/s of span s."""
    owner, spans = _columns(paths)
    a = _matrix(owner, spans, len(volumes), len(limits), [1.0] * len(owner))
    res = linprog(
        -np.ones(len(owner)),
        A_ub=a,
        b_ub=np.array(list(volumes) + list(limits)),
        bounds=(0, None),
        method='highs',
    )
    if res.status != 0:
        raise RuntimeError(f'LP failed: {res.message}')
    return -res.fun


@dataclass(frozen=True)
class Integer:
    admitted: float  # best whole-intent placement found (Gb/s)
    bound: float  # no placement admits more
    optimal: bool
    seconds: float


def milp_admitted(volumes, paths, limits, time_limit=60.0):
    """The best placement with each intent whole on one of its paths or refused."""
    owner, spans = _columns(paths)
    weights = [volumes[d] for d in owner]
    a = _matrix(owner, spans, len(volumes), len(limits), weights)
    upper = np.array([1.0] * len(volumes) + list(limits))
    started = time.perf_counter()
    with _quiet_stdout():
        res = milp(
            -np.array(weights),
            constraints=LinearConstraint(a, -np.inf, upper),
            integrality=np.ones(len(owner)),
            bounds=Bounds(0, 1),
            options={'time_limit': time_limit, 'mip_rel_gap': 1e-6},
        )
    seconds = time.perf_counter() - started
    if res.x is None:
        return Integer(0.0, float('inf'), False, seconds)
    bound = -res.mip_dual_bound if res.mip_dual_bound is not None else float('inf')
    return Integer(-res.fun, max(bound, -res.fun), res.status == 0, seconds)


@contextlib.contextmanager
def _quiet_stdout():
    """HiGHS's MIP solver prints debug lines on file descriptor 1 even when asked not to
    (`HighsMipSolverData::transformNewIntegerFeasibleSolution`): keep them out of the Markdown."""
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def max_concurrent_scale(volumes, paths, limits):
    """The largest t such that t x every volume fits at once (split over the paths)."""
    owner, spans = _columns(paths)
    n, m = len(volumes), len(limits)
    a = _matrix(owner, spans, n, m, [1.0] * len(owner)).tolil()
    a.resize((n + m, len(owner) + 1))
    for d, volume in enumerate(volumes):
        a[d, len(owner)] = -volume  # sum_p x[d,p] - t volume[d] = 0
    a = a.tocsr()
    c = np.zeros(len(owner) + 1)
    c[-1] = -1.0
    res = linprog(
        c, A_ub=a[n:], b_ub=np.array(limits), A_eq=a[:n], b_eq=np.zeros(n), bounds=(0, None), method='highs'
    )
    if res.status != 0:
        raise RuntimeError(f'LP failed: {res.message}')
    return res.x[-1]


def scaled(volumes, scale):
    """Gb/s of each intent at a scale: at least what the core accepts (1 Mb/s; brain's
    matrix has pairs asking a millionth of that, which the core would refuse as invalid)."""
    return [max(float(v * scale), MIN_BANDWIDTH_GBPS) for v in volumes]


def scale_for(volumes, paths, limits, share, iterations=10):
    """The scale at which the LP admits `share` of the scaled demand (bisection: the share
    only falls as the scale grows)."""
    low = max_concurrent_scale(volumes, paths, limits)
    if share >= 1:
        return low
    total = sum(volumes)

    def admitted_share(s):
        return lp_admitted([v * s for v in volumes], paths, limits) / (s * total)

    high = low * 2
    while admitted_share(high) > share:
        low, high = high, high * 2
    for _ in range(iterations):
        mid = (low + high) / 2
        low, high = (mid, high) if admitted_share(mid) > share else (low, mid)
    return (low + high) / 2


# --- the core, greedily ----------------------------------------------------------------------


@dataclass
class Greedy:
    admitted_gbps: float = 0.0
    admitted: int = 0
    unplaceable: int = 0  # no path had the room
    too_big: int = 0  # more than any path could ever carry (InvalidArgument)
    paths: dict = field(default_factory=dict)  # demand index -> sites
    create_ms: list = field(default_factory=list)
    seconds: float = 0.0


def place(fabric, demands, gbps, order, make_room=True, together=False):
    """Create the intents in `order` (demand indexes) on a fresh core, every switch confirming
    the plan after each create; without `make_room`, the core never moves intents aside;
    `together`: one create_many of them all (the core places them jointly)."""
    core = Controller(fabric, headroom=HEADROOM, policy=Policy(make_room=make_room), now=0.0)
    result = Greedy()
    dpids = [addr.dpid(site) for site in fabric.sites.values()]
    created, started = {}, time.perf_counter()
    if together:
        fits = [
            d
            for d in order
            if gbps[d] <= core.orders.limits(demands[d].src, demands[d].dst)[0] * (1 - HEADROOM) + 1e-9
        ]
        result.too_big = len(order) - len(fits)
        answers = core.create_many(
            [Order(TENANT, demands[d].src, demands[d].dst, gbps[d]) for d in fits],
            now=0.0,
        )
        created = {d: a for d, a in zip(fits, answers) if not isinstance(a, CoreError)}
        result.create_ms.append((time.perf_counter() - started) * 1000)
        core.synced(dpids, core.generation, now=0.0)
    for d in order if not together else ():
        t = time.perf_counter()
        try:
            created[d] = core.create(Order(TENANT, demands[d].src, demands[d].dst, gbps[d]), now=0.0)
        except InvalidArgument:
            result.too_big += 1
        except CoreError:
            result.unplaceable += 1
        result.create_ms.append((time.perf_counter() - t) * 1000)
        core.synced(dpids, core.generation, now=0.0)
    result.seconds = time.perf_counter() - started
    for d, intent in created.items():
        if intent.state is State.INSTALLED:
            result.admitted += 1
            result.admitted_gbps += gbps[d]
            result.paths[d] = core.placer.placements[intent.id].primary.sites
        else:
            result.unplaceable += 1
    result.unplaceable += len(order) - result.too_big - len(created) if together else 0
    return result


def orders(demands, yen_paths):
    """Demand indexes in each greedy order (sorts are stable: ties keep matrix order)."""
    index = range(len(demands))
    fewest_hops = sorted(index, key=lambda d: (len(yen_paths[d][0]), -demands[d].volume))
    return {
        'matrix': list(index),
        'largest-first': sorted(index, key=lambda d: -demands[d].volume),
        'smallest-first': sorted(index, key=lambda d: demands[d].volume),
        'fewest-hops': fewest_hops,
        'greedy fewest-hops': fewest_hops,
        'together': list(index),
    }


# --- the benchmark ---------------------------------------------------------------------------


def candidate_paths(network, demands, k):
    """Per demand, Yen's k paths as tuples of span indexes."""
    return [[network.spans(p) for p in yen_paths(network, d.src, d.dst, k)] for d in demands]


def bench_network(network, k, loads, milp_seconds, log):
    """The rows of one network: per load, the greedy in every order, the LP and the MILP."""
    started = time.perf_counter()
    yen = [yen_paths(network, d.src, d.dst, k) for d in network.demands]
    paths = [[network.spans(p) for p in options] for options in yen]
    volumes = [d.volume for d in network.demands]
    yen_s = time.perf_counter() - started
    rows = []
    for share in loads:
        scale = scale_for(volumes, paths, network.limits, share)
        gbps = scaled(volumes, scale)
        runs = {
            name: place(
                network.fabric,
                network.demands,
                gbps,
                order,
                make_room=not name.startswith('greedy'),
                together=name == 'together',
            )
            for name, order in orders(network.demands, yen).items()
        }
        options, added = [list(p) for p in paths], 0
        for run in runs.values():
            for d, sites in run.paths.items():
                if network.spans(sites) not in options[d]:
                    options[d].append(network.spans(sites))
                    added += 1
        t = time.perf_counter()
        lp = lp_admitted(gbps, options, network.limits)
        lp_s = time.perf_counter() - t
        integer = milp_admitted(gbps, options, network.limits, milp_seconds)
        best = max(r.admitted_gbps for r in runs.values())
        if best > integer.bound * (1 + 1e-6) or integer.admitted > lp * (1 + 1e-6):
            raise RuntimeError(
                f'{network.key}: greedy {best}, MILP {integer}, LP {lp}: '
                'a placement beat a bound, so the programs are wrong'
            )
        rows.append(
            {
                'network': network.key,
                'sites': len(network.fabric.sites),
                'spans': len(network.fabric.spans),
                'intents': len(gbps),
                'load': share,
                'scale': scale,
                'demand_gbps': sum(gbps),
                'largest_gbps': max(gbps),
                'paths': sum(map(len, options)),
                'greedy_paths_added': added,
                'lp_gbps': lp,
                'lp_s': lp_s,
                'yen_s': yen_s,
                'milp_gbps': integer.admitted,
                'milp_bound_gbps': integer.bound,
                'milp_optimal': integer.optimal,
                'milp_s': integer.seconds,
                'greedy': {
                    name: {
                        'gbps': r.admitted_gbps,
                        'admitted': r.admitted,
                        'unplaceable': r.unplaceable,
                        'too_big': r.too_big,
                        'seconds': r.seconds,
                    }
                    for name, r in runs.items()
                },
            }
        )
        log(
            f'{network.key} load {share:.0%}: LP {lp:.1f}, MILP {integer.admitted:.1f}'
            f'{"" if integer.optimal else f" (bound {integer.bound:.1f})"}, greedy '
            + ', '.join(f'{n} {r.admitted_gbps:.1f}' for n, r in runs.items())
        )
    return rows


def bench_timing(network, k, count, runs, seed, loads=(1.0, 0.6)):
    """The core placing `count` intents (distinct random site pairs of the matrix, fixed seed,
    in that random order) at the scales where the LP admits 100% and 60% of those intents'
    demand; a fresh core per run."""
    chosen = random.Random(seed).sample(range(len(network.demands)), min(count, len(network.demands)))
    demands = [network.demands[d] for d in chosen]
    paths = candidate_paths(network, demands, k)
    volumes = [d.volume for d in demands]
    out = []
    for share in loads:
        scale = scale_for(volumes, paths, network.limits, share)
        gbps = scaled(volumes, scale)
        results = [place(network.fabric, demands, gbps, range(len(demands))) for _ in range(runs)]
        together = [
            place(network.fabric, demands, gbps, range(len(demands)), together=True) for _ in range(runs)
        ]
        out.append(
            {
                'load': share,
                'intents': len(demands),
                'demand_gbps': sum(gbps),
                'together': [
                    {'seconds': r.seconds, 'admitted': r.admitted, 'admitted_gbps': r.admitted_gbps}
                    for r in together
                ],
                'runs': [
                    {
                        'seconds': r.seconds,
                        'admitted': r.admitted,
                        'admitted_gbps': r.admitted_gbps,
                        'median_ms': statistics.median(r.create_ms),
                        'p99_ms': _p99(r.create_ms),
                        'max_ms': max(r.create_ms),
                    }
                    for r in results
                ],
            }
        )
    return {
        'network': network.key,
        'sites': len(network.fabric.sites),
        'spans': len(network.fabric.spans),
        'loads': out,
    }


def _p99(values):
    values = sorted(values)
    return values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]


def _vs_integer(gbps, row):
    """gbps as a % of the best whole-intent placement: (low, high), low against the MILP's
    bound, high against the best placement known (the MILP's or a greedy one, whichever is
    larger); equal when the MILP was solved."""
    best_known = max([row['milp_gbps']] + [g['gbps'] for g in row['greedy'].values()])
    bound = row['milp_bound_gbps']
    return (100 * gbps / bound if bound else 100.0, 100 * gbps / best_known if best_known else 100.0)


def _pct(part, whole):
    return f'{100 * part / whole:.1f}' if whole else '-'


def report(rows, skipped, left_out, timing, args, header):
    out = list(header)
    if rows:
        out += [
            '',
            '| network | sites | spans | intents | of them > any path | LP load | demand Gb/s '
            '| LP Gb/s | MILP Gb/s | ' + ' | '.join(ORDERS) + ' | best / LP | best / integer optimum |',
            '|---|' + '---|' * (10 + len(ORDERS)),
        ]
    for r in rows:
        greedy = r['greedy']
        best = max(g['gbps'] for g in greedy.values())
        milp_text = (
            f'{r["milp_gbps"]:.1f}'
            if r['milp_optimal']
            else f'{r["milp_gbps"]:.1f}..{r["milp_bound_gbps"]:.1f}'
        )
        low, high = _vs_integer(best, r)
        vs_integer = f'{low:.1f} %' if f'{low:.1f}' == f'{high:.1f}' else f'{low:.1f}..{high:.1f} %'
        out.append(
            f'| {r["network"].split("/", 1)[1]} | {r["sites"]} | {r["spans"]} | {r["intents"]} | '
            f'{greedy[ORDERS[0]]["too_big"]} | {r["load"]:.0%} | {r["demand_gbps"]:.1f} | '
            f'{r["lp_gbps"]:.1f} | {milp_text} | '
            + ' | '.join(f'{greedy[o]["gbps"]:.1f} ({_pct(greedy[o]["gbps"], r["lp_gbps"])})' for o in ORDERS)
            + f' | {_pct(best, r["lp_gbps"])} % | {vs_integer} |'
        )
    whole = [r for r in rows if not r['greedy'][ORDERS[0]]['too_big']]
    for group, what in ((rows, 'all rows'), (whole, 'rows where every intent fits one path')):
        if not group or (group is whole and len(whole) == len(rows)):
            continue
        out += [
            '',
            f"Per order, {what} ({len(group)}); the integer optimum is taken at the MILP's "
            'upper bound, so shares of it are lower bounds:',
            '',
            '| order | mean % of LP | min % of LP | rows >= 99% of LP | mean % of integer optimum '
            '| min | rows >= 99% of integer optimum |',
            '|---|---|---|---|---|---|---|',
        ]
        for o in ORDERS:
            lp = [r['greedy'][o]['gbps'] / r['lp_gbps'] for r in group]
            mip = [_vs_integer(r['greedy'][o]['gbps'], r)[0] / 100 for r in group]
            out.append(
                f'| {o} | {100 * statistics.mean(lp):.1f} | {100 * min(lp):.1f} | '
                f'{sum(x >= 0.99 for x in lp)} of {len(lp)} | {100 * statistics.mean(mip):.1f} | '
                f'{100 * min(mip):.1f} | {sum(x >= 0.99 for x in mip)} of {len(mip)} |'
            )
        capped = [r for r in group if r['milp_bound_gbps'] < 0.99 * r['lp_gbps']]
        if capped:
            out += [
                '',
                f"In {len(capped)} of these rows the MILP's upper bound is below 99% of the LP, "
                'so no single-path placement reaches 99% of the LP there: '
                + ', '.join(f'{r["network"].split("/", 1)[1]} {r["load"]:.0%}' for r in capped)
                + '.',
            ]
    reasons = {}
    for key, why in skipped:
        reasons.setdefault(why, []).append(key.split('/', 1)[1])
    for why, keys in reasons.items():
        out += ['', f'Skipped ({why}): {", ".join(keys)}.']
    if left_out:
        names = ', '.join(k.split('/', 1)[1] for k in left_out)
        out += ['', f'Not in this run (`--networks` adds them): {names}.']
    if timing:
        out += [
            '',
            f'Compute time: the core placing {timing["loads"][0]["intents"]} intents one by one on '
            f'{timing["network"].split("/", 1)[1]} ({timing["sites"]} sites, {timing["spans"]} spans; '
            f'distinct random site pairs of its matrix, seed {args.seed}), a fresh core per run:',
            '',
            '| LP load | demand Gb/s | run | total s | per intent: median ms | p99 ms | max ms | admitted |',
            '|---|---|---|---|---|---|---|---|',
        ]
        for level in timing['loads']:
            out += [
                f'| {level["load"]:.0%} | {level["demand_gbps"]:.1f} | {i + 1} | {r["seconds"]:.2f} | '
                f'{r["median_ms"]:.2f} | {r["p99_ms"]:.2f} | {r["max_ms"]:.1f} | {r["admitted"]} '
                f'({r["admitted_gbps"]:.1f} Gb/s) |'
                for i, r in enumerate(level['runs'])
            ]
        out += [
            '',
            'The same intents in one create_many (placed together), a fresh core per run:',
            '',
            '| LP load | run | total s | admitted |',
            '|---|---|---|---|',
        ]
        for level in timing['loads']:
            out += [
                f'| {level["load"]:.0%} | {i + 1} | {r["seconds"]:.2f} | {r["admitted"]} '
                f'({r["admitted_gbps"]:.1f} Gb/s) |'
                for i, r in enumerate(level['together'])
            ]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--quick',
        action='store_true',
        help=f'{len(QUICK_NETWORKS)} small networks at one load (80%%), MILP limit 10 s, one timing run',
    )
    parser.add_argument(
        '--networks',
        nargs='+',
        metavar='KEY',
        help='topohub keys (default: every SNDlib network that can be used but brain)',
    )
    parser.add_argument(
        '--loads',
        nargs='+',
        type=float,
        default=list(LOADS),
        help='shares of the demand the LP admits (default: 1 0.8 0.6)',
    )
    parser.add_argument('--k', type=int, default=K, help=f'Yen paths per intent (default {K})')
    parser.add_argument(
        '--milp-seconds',
        type=float,
        default=MILP_SECONDS,
        help=f'time limit of each MILP (default {MILP_SECONDS:g})',
    )
    parser.add_argument('--timing-runs', type=int, default=3)
    parser.add_argument('--timing-intents', type=int, default=TIMING_INTENTS)
    parser.add_argument('--seed', type=int, default=SEED)
    parser.add_argument('--json', metavar='FILE', help='also write the raw figures as JSON')
    args = parser.parse_args()
    if args.quick:
        args.networks = args.networks or list(QUICK_NETWORKS)
        args.loads, args.milp_seconds, args.timing_runs = [0.8], min(args.milp_seconds, 10), 1

    def log(text):
        print(text, file=sys.stderr, flush=True)

    header = [
        f'## Placement quality against a linear program: `scripts/bench/placement.py` '
        f'({date.today().isoformat()})',
        '',
        f'Machine: {machine(f"SciPy {scipy.__version__} (HiGHS)")}; '
        f'1-minute load average {os.getloadavg()[0]:.2f} before the run.',
        '',
        f'Yen k = {args.k}, headroom {HEADROOM:.0%}, every span 100 Gb/s, MILP time limit '
        f'{args.milp_seconds:g} s. Greedy columns: Gb/s admitted by the core (% of the LP).',
    ]
    started = time.perf_counter()
    sndlib, skipped = {}, []
    for key in list_networks('sndlib'):
        try:
            sndlib[key] = load_network(key)
        except Skipped as e:
            skipped.append((key, str(e)))
    keys = args.networks or [k for k in sndlib if k not in SLOW]
    rows = []
    for key in keys:
        network = sndlib.get(key) or load_network(key)
        rows += bench_network(network, args.k, args.loads, args.milp_seconds, log)
    timing = None
    if args.timing_runs > 0:
        largest = max(sndlib.values(), key=lambda n: (len(n.fabric.sites), len(n.fabric.spans)))
        log(f'timing on {largest.key}')
        timing = bench_timing(largest, args.k, args.timing_intents, args.timing_runs, args.seed)
    left_out = [k for k in sndlib if k not in keys]
    out = report(rows, skipped, left_out, timing, args, header)
    out += ['', f'The run took {time.perf_counter() - started:.0f} s.']
    print('\n'.join(out), flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'rows': rows, 'skipped': skipped, 'timing': timing}, f, indent=1)


if __name__ == '__main__':
    sys.exit(main())
