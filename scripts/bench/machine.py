"""The machine a benchmark ran on, as docs/benchmarks.md names it (one way for every script)."""

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
