"""What /metrics costs the controller (no root needed):

    .venv/bin/python scripts/bench/metrics.py [--intents 1000] [--window 60] > /tmp/bench.md

A naas-controller process on lumen-qts (loopback southbound: what a scrape costs does not
depend on the switches) holding `--intents` intents of 20 tenants. Its CPU time (utime + stime
from /proc) is read over `--window` seconds without scrapes, then over as long with one scrape
a second, as Prometheus would; the difference is what scraping costs, as a share of one core.
Then 200 scrapes back to back give the CPU time of one scrape, and its size.

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

from naasctl.client import make_order
from topologies.lab.controller_process import ControllerProcess, free_port
from topologies.lab.tenants import with_tenants

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
    return [make_order(a, b, 0.01, tenant=t) for t, a, b in spread[:count]]


def scrape(url):
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as answer:
        body = answer.read()
    return time.perf_counter() - started, len(body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--intents', type=int, default=1000)
    parser.add_argument('--window', type=float, default=60.0, help='seconds of each measurement')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fabric = with_tenants('lumen-qts', 20, os.path.join(tmp, 'fabric.yaml'))
        port = free_port()
        ctl = ControllerProcess(
            os.path.join(tmp, 'fabric.yaml'),
            os.path.join(tmp, 'naas.db'),
            os.path.join(tmp, 'controller.log'),
            extra_args=['--southbound', 'loopback', '--http-port', str(port)],
        ).start()
        try:
            todo = orders(fabric, args.intents)
            with ctl.client() as client:
                for i in range(0, len(todo), 1000):
                    client.create_intents(todo[i : i + 1000])
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
    print(
        f'| scrape latency, p50 / p99 (once a second) | {percentile(latencies, 50) * 1000:.1f} / '
        f'{percentile(latencies, 99) * 1000:.1f} ms |'
    )
    print(f'| scrape latency, p50 (back to back) | {percentile(burst, 50) * 1000:.1f} ms |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
