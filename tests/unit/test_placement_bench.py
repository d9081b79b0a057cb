"""scripts/bench/placement.py: Yen's paths, the LP, the MILP and the load search, on the
triangle fabric where the optimum is known by hand.

triangle: dca-dcb 20 Gb/s 4 ms, dcb-dcc 20 Gb/s 6 ms, dca-dcc 10 Gb/s 9 ms; with 10% headroom
18, 18 and 9 Gb/s may be committed. Intent A: dca-dcc 15 Gb/s, intent B: dca-dcb 10 Gb/s.
Each of their two paths crosses exactly one of dca-dcb and dca-dcc, so together they get at
most 18 + 9 = 27 Gb/s, split; whole, A fits only via dcb (18 Gb/s spans) and then B fits
nowhere (3 Gb/s left on dca-dcb, 9 on dca-dcc), so the integer optimum is 15 Gb/s.
"""

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from topologies.model.fabric import Tenant, load_fabric

SCRIPT = Path(__file__).resolve().parents[2] / 'scripts' / 'bench' / 'placement.py'
sys.path.insert(0, str(SCRIPT.parent))  # as when it runs as a script: its folder's modules (machine.py)
spec = importlib.util.spec_from_file_location('placement_bench', SCRIPT)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


@pytest.fixture(scope='module')
def triangle():
    fabric = replace(
        load_fabric('triangle'), tenants={bench.TENANT: Tenant(bench.TENANT, 1, ('dca', 'dcb', 'dcc'))}
    )
    demands = [bench.Demand('dca', 'dcc', 15.0), bench.Demand('dca', 'dcb', 10.0)]
    return bench.Network('triangle', fabric, demands)


def paths_of(network, k=4):
    return bench.candidate_paths(network, network.demands, k)


def test_yen_lists_every_simple_path_by_latency(triangle):
    assert bench.yen_paths(triangle, 'dca', 'dcc', 4) == [('dca', 'dcc'), ('dca', 'dcb', 'dcc')]
    assert bench.yen_paths(triangle, 'dca', 'dcb', 4) == [('dca', 'dcb'), ('dca', 'dcc', 'dcb')]
    assert bench.yen_paths(triangle, 'dcc', 'dca', 1) == [('dcc', 'dca')]


def test_lp_splits_and_milp_keeps_intents_whole(triangle):
    paths = paths_of(triangle)
    assert bench.lp_admitted([15, 10], paths, triangle.limits) == pytest.approx(25)
    assert bench.lp_admitted([30, 10], paths, triangle.limits) == pytest.approx(27)
    integer = bench.milp_admitted([15, 10], paths, triangle.limits, time_limit=10)
    assert integer.optimal and integer.admitted == pytest.approx(15)


def test_load_scales(triangle):
    paths, volumes = paths_of(triangle), [15, 10]
    # Everything fits up to 27 / 25 = 1.08 times the demand; then the LP keeps 27 Gb/s.
    assert bench.scale_for(volumes, paths, triangle.limits, 1.0) == pytest.approx(1.08)
    assert bench.scale_for(volumes, paths, triangle.limits, 0.8) == pytest.approx(27 / 20, rel=1e-3)


def test_together_the_core_finds_the_integer_optimum(triangle):
    together = bench.place(triangle.fabric, triangle.demands, [15, 10], [1, 0], together=True)
    assert together.admitted_gbps == 15 and together.paths == {0: ('dca', 'dcb', 'dcc')}
    assert together.unplaceable == 1 and together.too_big == 0


def test_the_core_greedily_depends_on_the_order(triangle):
    # A first: the core puts it via dcb (dca-dcc lacks 15 Gb/s) and then refuses B.
    first_a = bench.place(triangle.fabric, triangle.demands, [15, 10], [0, 1])
    assert first_a.admitted_gbps == 15 and first_a.paths == {0: ('dca', 'dcb', 'dcc')}
    # B first takes dca-dcb, then A fits nowhere: 10 Gb/s.
    first_b = bench.place(triangle.fabric, triangle.demands, [15, 10], [1, 0])
    assert first_b.admitted_gbps == 10 and first_b.unplaceable == 1


def test_sndlib_demands_become_one_intent_per_site_pair():
    network = bench.load_network('sndlib/abilene')
    assert len(network.demands) == 66  # 132 matrix entries, both directions
    assert set(network.fabric.tenants[bench.TENANT].sites) == set(network.fabric.sites)
    with pytest.raises(bench.Skipped, match='pixels'):
        bench.load_network('sndlib/atlanta')
