"""Checking the files people write before anything starts: `naas-lab check` and
`naas-controller --check`. Each file is read as the program that uses it reads it, every
problem is printed as `FILE: KEY: RULE`, and each good file gets one `FILE: ok: ...` line."""

import dataclasses
import sys

from topologies.model.auth import load_auth
from topologies.model.config import ConfigError
from topologies.model.fabric import load_fabric
from topologies.model.order import load_orders
from topologies.model.policy import Policy, load_policy


def check_files(fabrics=(), *, policy=None, auth=None, orders=(), out=None, err=None):
    """Check fabric specs (shipped name, path or topohub:KEY), and a policy and an auth file
    against the one fabric given with them, and orders files; True when every file is good.
    Good files are reported on `out`, problems on `err` (default stdout and stderr)."""
    out, err = out or sys.stdout, err or sys.stderr
    if (policy or auth) and len(fabrics) != 1:
        raise ValueError('a policy or auth file is checked against one fabric: give exactly one')
    good = True

    def check(read):
        nonlocal good
        try:
            print(read(), file=out)
        except ConfigError as e:
            print(e, file=err)
            good = False

    loaded = []
    for spec in fabrics:
        check(lambda: fabric_summary(_keep(loaded, load_fabric(spec))))
    for path, summary, load in ((policy, policy_summary, load_policy), (auth, auth_summary, load_auth)):
        if path and not loaded:
            print(f'{path}: not checked: its fabric {fabrics[0]} has problems', file=err)
            good = False
        elif path:
            check(lambda: f'{path}: ok: ' + summary(load(path, loaded[0]), loaded[0]))
    for path in orders:
        check(lambda: f'{path}: ok: {len(load_orders(path))} orders')
    return good


def fabric_summary(fabric):
    delays = [s.delay_ms for s in fabric.spans]
    return (
        f'{fabric.source}: ok: {len(fabric.sites)} sites, {len(fabric.spans)} spans '
        f'({min(delays):.3f}..{max(delays):.3f} ms one way), {len(fabric.tenants)} tenants, '
        f'1 Gb/s = {fabric.bandwidth_scale * 1000:g} Mb/s emulated'
    )


def policy_summary(policy, fabric):
    default = Policy()
    changed = [
        f.name for f in dataclasses.fields(Policy) if getattr(policy, f.name) != getattr(default, f.name)
    ]
    return f'policy for fabric {fabric.name}: ' + (
        f'{", ".join(changed)} set, the rest default' if changed else 'every key at its default'
    )


def auth_summary(auth, fabric):
    callers = auth.callers
    operators = sum(1 for c in callers if c.operator)
    return (
        f'{operators} operators and {len(callers) - operators} tenants of fabric {fabric.name} '
        f'with tokens, {len(auth.quotas)} with a quota'
    )


def _keep(loaded, fabric):
    loaded.append(fabric)
    return fabric
