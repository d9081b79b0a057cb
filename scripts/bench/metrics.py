"""What /metrics costs the controller (no root needed):

    .venv/bin/python scripts/bench/metrics.py [--intents 1000] [--window 60] > /tmp/bench.md

A naas-controller process on lumen-qts (loopback southbound: what a scrape costs does not
depend on the switches) holding `--intents` intents of 20 tenants. Its CPU time (utime + stime
from /proc) is read over `--window` seconds without scrapes, then over as long with one scrape
a second, as Prometheus would; the difference is what scraping costs, as a share of one core.
Then 200 scrapes back to back give the CPU time of one scrape, and its size; and, in this
process, the CPU time of a scrape when every intent's meters counted something new since the
last (the loopback has no traffic: synthetic counters at both ends of every intent).

Prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import os
import sys
import tempfile
import time
import urllib.request
from datetime import date

from machine import machine, percentile

from controller.assemble import assemble
from naasctl.client import make_order
from topologies.lab.controller_process import ControllerProcess, free_port
from topologies.lab.tenants import with_tenants
from topologies.model import addressing as addr
from topologies.model.auth import Auth
from topologies.model.fabric import load_fabric
from topologies.model.order import Order

TICK_S = 1 / os.sysconf('SC_CLK_TCK')


def cpu_s(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S  # utime, stime


def orders(fabric, count):
    every = []
    for tenant in fabric.tenants.values():
        sites = tenant.sites
        every.append([(tenant.id, a, b) for i, a in enumerate(sites) for b in sites[i + 1 :]])
    spread = [p for group in zip(*every) for p in group]  # tenants first
    return [Order(t, a, b, 0.01) for t, a, b in spread[:count]]


def scrape(url):
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as answer:
        body = answer.read()
    return time.perf_counter() - started, len(body)


def busy_scrape_ms(fabric_path, todo, scrapes=30):
    """The CPU time of one scrape when every intent's meters counted something new since the
    last (traffic everywhere): in this process, a controller on the loopback southbound fed
    synthetic meter counters at both ends of every intent before each scrape."""
    fabric = load_fabric(fabric_path)
    controller = assemble(fabric, None, Auth({}, {}), southbound='loopback')
    try:
        packed = controller.runtime.call(lambda core, now: core.packer(todo))()
        controller.runtime.call(lambda core, now: core.create_many(todo, now=now, packed=packed))
        intents = controller.runtime.call(lambda core, now: [(i.number, i.src, i.dst) for i in core.intents])
        ends = {}
        for number, src, dst in intents:
            for site in (src, dst):
                ends.setdefault(addr.dpid(fabric.sites[site]), []).append(number)
        took = []
        for k in range(1, scrapes + 2):
            stamp = k * 10**9
            for dpid, numbers in ends.items():
                rows = [(n, k * 10**6, k * 1000, k, stamp) for n in numbers]
                controller.runtime.call(
                    lambda core, now, d=dpid, r=rows, t=stamp: core.meter_counters(d, r, t)
                )
            started = time.process_time()
            controller.metrics.route(None)
            took.append(time.process_time() - started)
        return sum(took[1:]) / scrapes * 1000  # the first only sets the counters' baseline
    finally:
        controller.stop(grace_s=None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--intents', type=int, default=1000)
    parser.add_argument('--window', type=float, default=60.0, help='seconds of each measurement')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fabric_path = os.path.join(tmp, 'fabric.yaml')
        fabric = with_tenants('lumen-qts', 20, fabric_path)
        port = free_port()
        ctl = ControllerProcess(
            fabric_path,
            os.path.join(tmp, 'naas.db'),
            os.path.join(tmp, 'controller.log'),
            extra_args=['--southbound', 'loopback', '--http-port', str(port)],
        ).start()
        try:
            todo = orders(fabric, args.intents)
            with ctl.client() as client:
                for i in range(0, len(todo), 1000):
                    client.create_intents(
                        [
                            make_order(o.src, o.dst, o.bandwidth_gbps, tenant=o.tenant)
                            for o in todo[i : i + 1000]
                        ]
                    )
                held = sum(1 for _ in client.list_intents())
            url = f'http://127.0.0.1:{port}/metrics'
            _, size = scrape(url)
            time.sleep(5)  # the batch's aftermath settles
            pid = ctl.proc.pid

            before = cpu_s(pid)
            time.sleep(args.window)
            idle_s = cpu_s(pid) - before

            latencies = []
            before, due = cpu_s(pid), time.monotonic()
            end = due + args.window
            while due < end:
                latencies.append(scrape(url)[0])
                due += 1.0
                time.sleep(max(0.0, due - time.monotonic()))
            scraped_s = cpu_s(pid) - before

            before = cpu_s(pid)
            burst = [scrape(url)[0] for _ in range(200)]
            per_scrape_s = (cpu_s(pid) - before) / len(burst)
        finally:
            ctl.stop()
        busy_ms = busy_scrape_ms(fabric_path, todo)
    latencies.sort()
    burst.sort()
    share = (scraped_s - idle_s) / args.window * 100
    print(f'## /metrics scraped once a second ({date.today().isoformat()})\n')
    print(f'Machine: {machine()}.\n')
    print(
        f'naas-controller on lumen-qts (loopback southbound), {held} intents of 20 tenants; '
        f'`scripts/bench/metrics.py --intents {args.intents} --window {args.window:g}`.\n'
    )
    print('| figure | value |')
    print('| --- | --- |')
    idle = f'{idle_s:.2f} s ({idle_s / args.window * 100:.2f} % of a core)'
    print(f'| controller CPU, {args.window:g} s without scrapes | {idle} |')
    print(f'| controller CPU, {args.window:g} s with a scrape a second | {scraped_s:.2f} s |')
    print(f'| **cost of scraping once a second** | **{share:.2f} % of a core** |')
    print(f'| CPU time of one scrape (200 back to back) | {per_scrape_s * 1000:.1f} ms |')
    print(f'| size of one scrape | {size / 1024:.0f} KiB |')
    print(f"| CPU time of one scrape, every intent's meters changed since the last | {busy_ms:.1f} ms |")
    print(
        f'| scrape latency, p50 / p99 (once a second) | {percentile(latencies, 50) * 1000:.1f} / '
        f'{percentile(latencies, 99) * 1000:.1f} ms |'
    )
    print(f'| scrape latency, p50 (back to back) | {percentile(burst, 50) * 1000:.1f} ms |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
