"""Run a scenario and say where the CPU went: span emulator, Open vSwitch daemons, probes,
traffic generators, controller and the lab itself, sampled from /proc while it runs.

Run as root from the repository (through the shared lock: the machine has 2 cores):

    flock /tmp/naas-root.lock .venv/bin/python scripts/bench/scenario_cpu.py \\
        topologies/scenarios/germany50-load.yaml > /tmp/germany50-load.md

Every process descended from the scenario run is sampled every SAMPLE_S (utime + stime from
/proc/PID/stat, so a process that lives shorter than a sample is missed: iperf3 clients and
pings that come and go are undercounted, never overcounted). Prints Markdown (machine and
date included) for docs/benchmarks.md: each step's verdict and what it measured, then the CPU
of each group in % of one core over the run, and the 1-minute load average at the end.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine

from topologies.emulation.switch import fabric_rundir
from topologies.lab.scenario import load_scenario

SAMPLE_S = 0.5
TICK = os.sysconf('SC_CLK_TCK')
GROUPS = (  # (group, test on (comm, cmdline)), first match wins
    ('span emulator', lambda comm, cmd: comm == 'naas-spand'),
    ('ovs-vswitchd', lambda comm, cmd: comm == 'ovs-vswitchd'),
    ('ovsdb-server', lambda comm, cmd: comm == 'ovsdb-server'),
    ('controller', lambda comm, cmd: 'naas-controller' in cmd or 'controller.main' in cmd),
    ('probes', lambda comm, cmd: 'emulation.probe' in cmd or comm == 'ping'),
    ('traffic (iperf3)', lambda comm, cmd: comm == 'iperf3'),
    ('lab (scenario runner)', lambda comm, cmd: 'topologies.lab' in cmd or 'naas-lab' in cmd),
)


def descendants(root):
    children = {}
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / 'stat').read_text().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def sample(pid):
    """(group, cpu seconds so far) of one process, or None when it is gone."""
    try:
        stat = Path(f'/proc/{pid}/stat').read_text()
        cmd = Path(f'/proc/{pid}/cmdline').read_bytes().replace(b'\0', b' ').decode(errors='replace')
    except OSError:
        return None
    comm = stat[stat.index('(') + 1 : stat.rindex(')')]
    fields = stat.rsplit(')', 1)[1].split()
    seconds = (int(fields[11]) + int(fields[12])) / TICK
    group = next((name for name, test in GROUPS if test(comm, cmd)), 'other')
    return group, seconds


def ovs_daemons(fabric):
    """The pids of the fabric's Open vSwitch daemons: they detach, so they are no one's child."""
    pids = []
    for pidfile in Path(fabric_rundir(fabric)).glob('*/*.pid'):
        try:
            pids.append(int(pidfile.read_text()))
        except (OSError, ValueError):
            pass
    return pids


def run(path):
    fabric = load_scenario(path).fabric.name
    proc = subprocess.Popen(
        [sys.executable, '-m', 'topologies.lab.main', 'scenario', '--json', path],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    first, last = {}, {}  # pid -> (group, cpu seconds) at its first and its last sample
    started = time.monotonic()
    while proc.poll() is None:
        for pid in descendants(proc.pid) + ovs_daemons(fabric):
            got = sample(pid)
            if got:
                first.setdefault(pid, got)
                last[pid] = got
        time.sleep(SAMPLE_S)
    wall = time.monotonic() - started
    report = json.loads(proc.stdout.read())
    used = {}
    for pid, (group, seconds) in last.items():
        # From its first sample: a process started before the run began (none here) counts
        # only from then; one started during it counts from 0.
        base = first[pid][1] if pid == proc.pid else 0.0
        used[group] = used.get(group, 0.0) + seconds - base
    return report, used, wall, proc.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('scenario')
    args = parser.parse_args()
    report, used, wall, code = run(args.scenario)
    out = [
        f'### Scenario {report.get("scenario", args.scenario)} ({date.today().isoformat()})',
        '',
        f'Machine: {machine()}. Exit code {code}; {wall:.0f} s; 1-minute load average at the end '
        f'{os.getloadavg()[0]:.1f}.',
        '',
        '| step | verdict | measured | expected |',
        '|---|---|---|---|',
    ]
    for r in report.get('expectations', []):
        out.append(f'| {r["name"]} | {r["verdict"]} | {r["measured"]} | {r["expected"]} |')
    late = [s for s in report.get('lateness') or [] if s['frames']]
    if late:
        worst = max(late, key=lambda s: s['p99_ms'])
        out += [
            '',
            f'Verdict {report["verdict"]}; {sum(bool(m["old_path"]) for m in report.get("moves", []))} moves '
            'over the run. '
            f'Lateness over the run: {sum(s["lying"] for s in late)} of {len(late)} relayed spans late '
            f'beyond tolerance; the worst p99 {worst["p99_ms"]:.3f} ms ({worst["span_id"]}), the worst max '
            f'{max(s["max_ms"] for s in late):.3f} ms.',
        ]
    total = sum(used.values())
    out += ['', '| process group | CPU (% of one core, over the run) |', '|---|---|']
    for group, seconds in sorted(used.items(), key=lambda kv: -kv[1]):
        out.append(f'| {group} | {100 * seconds / wall:.1f} |')
    out.append(f'| all | {100 * total / wall:.1f} |')
    print('\n'.join(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
