"""The machine a benchmark ran on, as docs/benchmarks.md names it (one way for every script),
and the figures every script reads the same way (percentiles, a process's RSS)."""

import math
import os
import platform


def machine(*extras):
    """'2 cores (CPU model), 24 GiB, Linux 6.18, Python 3.11.7' and any extras, comma separated."""
    with open('/proc/cpuinfo') as f:
        models = (line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
        cpu = next(models, platform.processor())
    with open('/proc/meminfo') as f:
        mem = next(int(line.split()[1]) for line in f if line.startswith('MemTotal'))
    parts = [
        f'{os.cpu_count()} cores ({cpu})',
        f'{mem / 2**20:.0f} GiB',
        f'Linux {platform.release()}',
        f'Python {platform.python_version()}',
    ]
    return ', '.join(parts + list(extras))


def percentile(ordered, p):
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def rss_mb(pid):
    """Resident memory of process `pid`, in MB."""
    with open(f'/proc/{pid}/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith('VmRSS:')) / 1024
