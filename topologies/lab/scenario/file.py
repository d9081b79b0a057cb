"""Scenario files: a fabric, intents, and steps (events and expectations), loaded and validated
once, before anything starts (format in docs/scenarios.md).

    name: lumen-qts-demo
    fabric: lumen-qts                 # shipped name, a path (relative to this file) or topohub:KEY
    policy: {reoptimize_every_s: 10}  # optional: the controller's policy (docs/policy.md)
    replicas: 3                       # optional: controller replicas on etcd (docs/ha.md)
    intents:                          # a name and an order (keys as in orders files, docs/api.md)
      - {name: web, tenant: acme, src: phx1, dst: iad1, bandwidth: 20G, latency: 40ms,
         protected: true, class: realtime}
    order: one_by_one                 # optional: or `together` (each tenant's in one CreateIntents)
    steps:
      - expect_state: {intent: web, state: installed}
      - traffic_start: {name: bulk, from: acme@phx1, to: acme@iad1, rate_gbps: 5}
      - span_down: [chi1, nyc1]
        outage: {from: acme@phx1, to: acme@iad1, at_most_ms: 50}
      - expect_throughput: {from: acme@phx1, to: acme@iad1, at_least_gbps: 9}

Every problem is reported at once, each naming the file and the key, through ConfigError.
"""

from dataclasses import dataclass
from pathlib import Path

from topologies.lab.scenario.reader import Reader
from topologies.lab.scenario.steps import read_step
from topologies.model.config import ConfigError, Validator, read_yaml
from topologies.model.fabric import NAME_RULE, load_fabric
from topologies.model.order import Order, read_order
from topologies.model.policy import parse_policy

SHIPPED = Path(__file__).parent.parent.parent / 'scenarios'  # the demo and examples
ORDERS = ('one_by_one', 'together')  # how the intents are ordered
MAX_REPLICAS = 5


@dataclass(frozen=True)
class IntentSpec:
    """An intent of a scenario: the name steps call it by, and the order its tenant places."""

    name: str
    order: Order


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    source: str  # the file
    fabric: object  # topologies.model.fabric.Fabric
    policy: dict = None  # the policy file's mapping, already checked
    intents: tuple = ()  # IntentSpec
    steps: tuple = ()  # topologies.lab.scenario.steps.Step
    order: str = 'one_by_one'
    replicas: int = 0  # 0: one controller on SQLite; N: N replicas on an etcd cluster of 3

    def intent(self, name):
        return next(i for i in self.intents if i.name == name)


def load_scenario(path):
    """Read the scenario file at `path`, load its fabric and validate everything.

    Raises ConfigError listing every problem, each as `FILE: KEY: RULE`.
    """
    path = Path(path)
    return parse_scenario(read_yaml(path), source=str(path), base_dir=path.parent)


def parse_scenario(data, source='<scenario>', base_dir='.'):
    """Validate the decoded YAML document and build a Scenario; a fabric given as a path is
    read relative to `base_dir`. Raise ConfigError listing all problems."""
    v = Validator()
    top = v.mapping(
        data,
        '',
        required=('name', 'fabric', 'steps'),
        optional=('description', 'policy', 'intents', 'order', 'replicas'),
    )
    name = top.get('name')
    if 'name' in top and not (isinstance(name, str) and NAME_RULE.match(name)):
        v.problem(
            'name',
            'must be non-empty text of at most 64 letters, digits, ".", "_" or "-", '
            f'starting with a letter or digit, got {name!r}',
        )
    description = v.text(top, 'description', '')
    fabric = _fabric(v, top['fabric'], Path(base_dir)) if 'fabric' in top else None
    policy = top.get('policy')
    if 'policy' in top:
        _check_policy(v, policy, fabric)
    replicas = top.get('replicas', 0)
    if 'replicas' in top and (type(replicas) is not int or not 2 <= replicas <= MAX_REPLICAS):
        v.problem('replicas', f'must be a whole number from 2 to {MAX_REPLICAS}, got {replicas!r}')
        replicas = 0
    reader = Reader(v, fabric, _intent_names(top.get('intents')), replicas)
    intents = _intents(reader, top.get('intents', []))
    order = top.get('order', ORDERS[0])
    if order not in ORDERS:
        v.problem('order', f'must be one of {", ".join(ORDERS)}, got {order!r}')
    steps = [
        read_step(reader, raw, f'steps[{i}]')
        for i, raw in enumerate(v.sequence(top['steps'], 'steps') if 'steps' in top else [])
    ]
    if v.problems:
        raise ConfigError(source, v.problems)
    return Scenario(name, description, source, fabric, policy, tuple(intents), tuple(steps), order, replicas)


def _fabric(v, spec, base_dir):
    """The Fabric named by `spec` (shipped name, path relative to base_dir, topohub:KEY), or None."""
    if not isinstance(spec, str) or not spec:
        v.problem('fabric', f'must be a shipped fabric name, a path or topohub:KEY, got {spec!r}')
        return None
    if not spec.startswith('topohub:'):
        path = base_dir / spec
        if path.suffix or path.exists():
            spec = str(path)
    try:
        return load_fabric(spec)
    except ConfigError as e:
        v.problem('fabric', '; '.join(str(e).splitlines()))
        return None


def _check_policy(v, policy, fabric):
    if not isinstance(policy, dict):
        v.problem('policy', f'must be a mapping of policy keys (docs/policy.md), got {type(policy).__name__}')
    elif fabric is not None:
        try:
            parse_policy(policy, fabric)
        except ConfigError as e:
            for key, message in e.problems:
                v.problem('policy', f'{key}: {message}' if key else message)


def _intent_names(raw):
    """Every name the intents list declares, valid or not: steps naming one are not blamed for it."""
    if not isinstance(raw, list):
        return set()
    return {item['name'] for item in raw if isinstance(item, dict) and isinstance(item.get('name'), str)}


def _intents(r, raw):
    """Each intent: a `name` and an order (topologies.model.order.read_order) that its tenant
    may place: a tenant of the fabric, between two of its sites, one per pair of sites."""
    v = r.v
    intents, names, pairs = [], {}, {}
    for i, item in enumerate(v.sequence(raw, 'intents', allow_empty=True)):
        where = f'intents[{i}]'
        before = len(v.problems)
        order = read_order(v, item, where, required=('name', 'tenant'))
        if not isinstance(item, dict):
            continue
        name = r.short_name(item['name'], f'{where}.name') if 'name' in item else None
        if name and name in names:
            v.problem(f'{where}.name', f'duplicate intent name {name!r} (already {names[name]})')
        names.setdefault(name, where)
        tenant = item.get('tenant')
        tenant = r.tenant(tenant, f'{where}.tenant') if isinstance(tenant, str) else None
        src, dst = (_site(r, item, key, where, tenant) for key in ('src', 'dst'))
        if src and src == dst:
            v.problem(f'{where}.dst', f'must be another site than src ({src!r})')
        elif src and dst:
            pair = (tenant, frozenset((src, dst)))
            if pair in pairs:
                v.problem(
                    where,
                    f'tenant {tenant} already has an intent between {src} and {dst} '
                    f'({pairs[pair]}); the controller allows one per tenant and pair of sites',
                )
            pairs.setdefault(pair, where)
        if len(v.problems) == before:
            intents.append(IntentSpec(name, order))
    return intents


def _site(r, item, key, where, tenant):
    """The site at item[key] if `tenant` (known) has a port there, else None."""
    site = item.get(key)
    if tenant and isinstance(site, str) and r.has_port(f'{where}.{key}', tenant, site):
        return site
    return None
