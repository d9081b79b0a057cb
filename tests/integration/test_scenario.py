"""`naas-lab scenario` as users run it: a real lab from a scenario file, a JSON report with what
was measured, exit 0 only if every expectation holds, and nothing left behind, also on Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from tests.integration.helpers import conclusive
from topologies.emulation.net import existing_names
from topologies.lab.scenario import SHIPPED
from topologies.model.fabric import load_fabric

pytestmark = pytest.mark.root

NAAS_LAB = [sys.executable, '-m', 'topologies.lab.main']
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def naas_lab(*args, timeout=300, **kw):
    return subprocess.run(
        [*NAAS_LAB, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        **kw,
    )


def test_the_shipped_triangle_scenario_passes_with_evidence(tmp_path):
    svg = tmp_path / 'map.svg'
    done = conclusive(
        lambda: naas_lab('scenario', str(SHIPPED / 'triangle-smoke.yaml'), '--json', '--map', str(svg))
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report['passed'] is True and report['error'] is None
    assert len(report['expectations']) == 10
    for e in report['expectations']:
        assert set(e) >= {'name', 'passed', 'measured', 'expected'} and e['passed'], e
    outage = next(e for e in report['expectations'] if 'outage' in e['name'])
    assert outage['measured'].endswith('probes lost)') and outage['expected'] == 'at most 100 ms'

    # Every intent on the cut span moved off it, as the controller announced, and none is left
    # there. (Which intents the 9 ms span carries rather than the 10 ms path via dcb is up to
    # measurement noise, and may change between the first snapshot and the cut: CI saw one
    # move onto it in between, so more may move off than the first snapshot shows.)
    def on_cut(sites):
        return {'dca', 'dcc'} <= set(sites) and abs(sites.index('dca') - sites.index('dcc')) == 1

    crossed = {p['name'] for p in report['paths_before'] if on_cut(p['sites'])}
    assert crossed <= {m['intent'] for m in report['moves'] if on_cut(m['old_path'])}
    assert not any(on_cut(p['sites']) for p in report['paths_after'])
    assert ET.parse(svg).getroot().tag == '{http://www.w3.org/2000/svg}svg'
    assert 'checking: red-web installed' in done.stderr  # progress goes to stderr
    assert existing_names(load_fabric('triangle')) == []


FAILING = """\
name: must-fail
fabric: triangle
intents:
  - {name: red-web, tenant: red, src: dca, dst: dcc, bandwidth_gbps: 2}
steps:
  - expect_state: {intent: red-web, state: installed}
  - restart_controller: true
  - expect_state: {intent: red-web, state: installed}
  - expect_reachable: {from: red@dca, to: red@dcc}
  - expect_throughput: {from: red@dca, to: red@dcc, at_least_gbps: 8, seconds: 3}
  - span_down: [dca, dcc]
  - expect_unreachable: {from: red@dca, to: red@dcc}
"""


def test_a_scenario_whose_promises_fail_exits_1_and_says_which(tmp_path):
    path = tmp_path / 'must-fail.yaml'
    path.write_text(FAILING)
    done = conclusive(lambda: naas_lab('scenario', str(path)), each=True)  # 8 Gb/s measured late: again
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert sum(line.startswith('  PASS') for line in lines) == 3  # installed before and after
    failed = [line for line in lines if line.startswith('  FAIL')]  # the restart, reachable
    assert len(failed) == 2 and 'at least 8 Gb/s' in failed[0] and 'does not reach' in failed[1]
    assert 'verdict: FAILED: 3 of 5 expectations hold' in done.stdout
    assert existing_names(load_fabric('triangle')) == []


TOGETHER = """\
name: together
fabric: triangle
order: together
intents:
  - {name: red-ab, tenant: red, src: dca, dst: dcb, bandwidth_gbps: 2}
  - {name: blue-ac, tenant: blue, src: dca, dst: dcc, bandwidth_gbps: 2}
  - {name: red-bc, tenant: red, src: dcb, dst: dcc, bandwidth_gbps: 2, max_latency_ms: 8}
steps:
  - expect_state: {intent: red-ab, state: installed}
  - expect_state: {intent: red-bc, state: installed, avoids: [[dca, dcb]]}
  - expect_state: {intent: blue-ac, state: installed}
  - expect_reachable: {from: red@dca, to: red@dcb}
  - expect_reachable: {from: blue@dcc, to: blue@dca}
  - expect_isolated: {}
"""


def test_the_shipped_replicas_scenario_loses_no_frame_to_a_leader_or_etcd_failure():
    """triangle-replicas: 3 replicas on etcd; the leader killed, then paused past its lease,
    then an etcd member killed, each with a 1 kHz probe that must lose nothing; the new
    leader still moves an intent off a cut span. Nothing of the lab is left behind."""
    done = conclusive(lambda: naas_lab('scenario', str(SHIPPED / 'triangle-replicas.yaml'), '--json'))
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report['passed'] and len(report['expectations']) == 7
    assert sum('probes lost' in e['measured'] for e in report['expectations']) == 3
    assert 'replica r' in done.stderr and 'killed' in done.stderr
    assert existing_names(load_fabric('triangle')) == []


def test_a_scenario_may_order_each_tenants_intents_together(tmp_path):
    """`order: together`: one CreateIntents per tenant (red's two, blue's one); installed,
    within red-bc's bound, carrying traffic, tenants isolated. (Refusals within a batch are
    covered by tests/api.)"""
    path = tmp_path / 'together.yaml'
    path.write_text(TOGETHER)
    done = conclusive(lambda: naas_lab('scenario', str(path), '--json'))
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report['passed'] and all(e['passed'] for e in report['expectations'])
    assert 'ordering red-ab: red dca -> dcb 2 Gb/s, together' in done.stderr
    assert existing_names(load_fabric('triangle')) == []


def test_ctrl_c_tears_everything_down(tmp_path):
    path = tmp_path / 'long.yaml'
    path.write_text('name: long\nfabric: triangle\nsteps:\n  - wait: 300\n')
    proc = subprocess.Popen(
        [*NAAS_LAB, 'scenario', str(path)],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        for line in proc.stdout:  # until the wait begins
            if 'wait 300 s' in line or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out
    assert 'everything this run created has been removed' in out
    assert existing_names(load_fabric('triangle')) == []


def test_the_demo_keeps_every_promise(tmp_path):
    """The README's main command, as users run it (about 50 s on lumen-qts). On two shared
    cores an expectation is now and then measured while a span emulator was late beyond
    tolerance: INCONCLUSIVE, exit 3, which is the emulation being honest; none may FAIL."""
    svg = tmp_path / 'demo.svg'
    done = naas_lab('demo', '--json', '--map', str(svg))
    report = json.loads(done.stdout)
    broken = [
        f'{e["name"]}: {e["verdict"]} {e["measured"]} (expected {e["expected"]})'
        for e in report['expectations']
        if e['verdict'] == 'FAIL'
    ]
    assert done.returncode in (0, 3) and not broken and not report['error'], (broken, done.stderr[-3000:])
    assert len(report['expectations']) == 20
    moved = {m['intent'] for m in report['moves'] if m['old_path']}
    assert 'globex-atl-cmh' in moved  # off the slowed span (its only fast path before)
    assert ET.parse(svg).getroot().tag == '{http://www.w3.org/2000/svg}svg'
    assert existing_names(load_fabric('lumen-qts')) == []


def test_germany50_under_load_is_steady_and_reacts(tmp_path):
    """The fidelity-under-load scenario (about 3.5 min): 50 sites with traffic and probes,
    nothing moves while nothing happens (the first re-optimization, before the scenario
    watches, may still move an intent ordered on young figures), a delay rise and a cut are
    handled within 3 s. On two shared cores the span emulator is sometimes late beyond
    tolerance for 1% of a short span's frames: what was measured meanwhile is INCONCLUSIVE
    (exit 3), which this test accepts; no expectation may FAIL, and nothing may move while
    nothing happens, inconclusive or not."""
    done = naas_lab('scenario', str(SHIPPED / 'germany50-load.yaml'), '--json', timeout=600)
    report = json.loads(done.stdout)
    failed = [
        f'{e["name"]}: {e["measured"]} (expected {e["expected"]})'
        for e in report['expectations']
        if e['verdict'] == 'FAIL'
    ]
    assert done.returncode in (0, 3) and not failed and not report['error'], (failed, done.stderr[-3000:])
    steady = [e for e in report['expectations'] if e['name'].startswith('steady for')]
    assert len(steady) == 2 and all(e['measured'].startswith('0 changes') for e in steady), steady
    assert existing_names(load_fabric('germany50')) == []


OVERLOADED = """\
name: overloaded
fabric: triangle
intents:
  - {name: red-ac, tenant: red, src: dca, dst: dcc, bandwidth_gbps: 2, max_latency_ms: 20}
steps:
  - expect_state: {intent: red-ac, state: installed}
  - wait: 1
  - expect_latency: {from: red@dca, to: red@dcc, at_most_ms: 20}
"""


def descendant_named(root, name):
    """The pid of a process called `name` under `root` (by parent pids), or None."""
    children = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as f:
                    stat = f.read()
            except OSError:
                continue
            comm, rest = stat[stat.index('(') + 1 : stat.rindex(')')], stat[stat.rindex(')') + 2 :]
            children.setdefault(int(rest.split()[1]), []).append((int(entry), comm))
    todo = [root]
    while todo:
        for pid, comm in children.get(todo.pop(), []):
            if comm == name:
                return pid
            todo.append(pid)
    return None


def test_a_measurement_taken_while_the_emulation_was_late_is_inconclusive(tmp_path):
    """The machine gives the span emulator no CPU now and then (SIGSTOP for 30 ms, ten times
    while the latency probe runs): the latency measured meanwhile is no evidence, so the
    expectation is INCONCLUSIVE with the spans that lied, and the run exits 3, not 0 nor 1."""
    path = tmp_path / 'overloaded.yaml'
    path.write_text(OVERLOADED)
    proc = subprocess.Popen(
        [*NAAS_LAB, 'scenario', str(path), '--json'],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        for line in proc.stderr:  # progress: until the latency check begins
            if 'checking: red@dca -> red@dcc at most' in line or time.monotonic() > deadline:
                break
        spand = descendant_named(proc.pid, 'naas-spand')
        assert spand is not None
        for _ in range(10):
            os.kill(spand, signal.SIGSTOP)
            time.sleep(0.03)
            os.kill(spand, signal.SIGCONT)
            time.sleep(0.1)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    report = json.loads(out)
    latency = report['expectations'][-1]
    assert proc.returncode == 3 and report['verdict'] == 'INCONCLUSIVE', (out, err[-2000:])
    assert latency['verdict'] == 'INCONCLUSIVE' and latency['lying'], latency
    assert all(s['p99_ms'] > s['tolerance_ms'] or s['dropped_late'] for s in latency['lying'])
    assert [e['verdict'] for e in report['expectations'][:-1]] == ['PASS']
    assert existing_names(load_fabric('triangle')) == []
