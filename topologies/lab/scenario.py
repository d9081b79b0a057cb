"""Scenario files: a fabric, intents, and steps (events and expectations), loaded and validated
once, before anything starts (format in docs/scenarios.md; run by topologies/lab/scenario_run.py).

    name: lumen-qts-demo
    fabric: lumen-qts                 # shipped name, a path (relative to this file) or topohub:KEY
    policy: {reoptimize_every_s: 10}  # optional: the controller's policy (docs/policy.md)
    intents:
      - {name: web, tenant: acme, src: phx1, dst: iad1, bandwidth_gbps: 20, max_latency_ms: 40,
         protected: true, service_class: realtime}
    order: one_by_one                 # optional: or `together` (each tenant's in one CreateIntents)
    steps:
      - expect_state: {intent: web, state: installed}
      - traffic_start: {name: bulk, from: acme@phx1, to: acme@iad1, rate_gbps: 5}
      - span_down: [chi1, nyc1]
        outage: {from: acme@phx1, to: acme@iad1, at_most_ms: 50}
      - expect_throughput: {from: acme@phx1, to: acme@iad1, at_least_gbps: 9}

Every problem is reported at once, each naming the file and the key, through ScenarioError.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from topologies.model.fabric import NAME_RULE, FabricError, Validator, load_fabric, read_yaml
from topologies.model.policy import PolicyFileError, policy_from

SHIPPED = Path(__file__).parent.parent / 'scenarios'  # the demo and examples
EVENTS = ('wait', 'span_down', 'span_up', 'span_delay', 'traffic_start', 'traffic_stop', 'restart_controller')
EXPECTATIONS = (
    'expect_state',
    'expect_reachable',
    'expect_unreachable',
    'expect_throughput',
    'expect_latency',
    'expect_isolated',
)
STATES = ('INSTALLED', 'FAILED', 'WITHDRAWN')  # the API's states worth waiting for
SERVICE_CLASSES = ('realtime', 'priority', 'bulk')
ORDERS = ('one_by_one', 'together')  # how the intents are ordered
OUTAGE_EVENTS = ('span_down', 'span_up', 'span_delay', 'restart_controller')  # may carry `outage`
KINDS = EVENTS + EXPECTATIONS
SHORT_NAME_RULE = re.compile(r'^[a-z0-9][a-z0-9-]{0,31}$')  # intent and traffic names
MAX_WAIT_S = 600
MAX_SPAN_DELAY_MS = 10000
MAX_MEASURE_S = 60  # throughput `seconds`, outage `settle_s`
DEFAULT_WITHIN_S = 15.0  # expect_state
DEFAULT_THROUGHPUT_S = 5.0  # expect_throughput
DEFAULT_SETTLE_S = 3.0  # outage


class ScenarioError(FabricError):
    """A scenario file that cannot be run; `problems` lists (key, message) pairs."""


class Host(NamedTuple):
    """A tenant's host at a site, written `tenant@site` in a scenario file; a (tenant, site)
    pair, as topologies.lab.lab.Lab takes hosts."""

    tenant: str
    site: str

    def __str__(self):
        return f'{self.tenant}@{self.site}'


@dataclass(frozen=True)
class IntentSpec:
    name: str  # the scenario's name for it, used by steps
    tenant: str
    src: str
    dst: str
    bandwidth_gbps: float
    max_latency_ms: float = None
    protected: bool = False
    service_class: str = None  # None: the API's default


@dataclass(frozen=True)
class Outage:
    """Outage at most `at_most_ms` between two hosts across the step's event, measured by the
    1 kHz probe from before the event until `settle_s` after it."""

    src: Host
    dst: Host
    at_most_ms: float
    settle_s: float = 3.0


@dataclass(frozen=True)
class Step:
    """One step: `kind` is one of EVENTS or EXPECTATIONS; `args` holds its validated fields:

    wait                {'seconds': float}
    span_down, span_up  {'span': (site, site)}
    span_delay          {'span': (site, site), 'ms': float}
    traffic_start       {'traffic': name, 'src': Host, 'dst': Host, 'rate_gbps': float}
    traffic_stop        {'traffic': name}
    restart_controller  {}
    expect_state        {'intent': name, 'state': one of STATES, 'within_s': float,
                         'avoids': ((site, site), ...)}
    expect_reachable    {'src': Host, 'dst': Host}
    expect_unreachable  {'src': Host, 'dst': Host}
    expect_throughput   {'src': Host, 'dst': Host, 'at_least_gbps': float, 'seconds': float}
    expect_latency      {'src': Host, 'dst': Host, 'at_most_ms': float}
    expect_isolated     {'tenants': (tenant, ...)}
    """

    kind: str
    args: dict
    where: str  # 'steps[3]': for messages
    name: str  # what the report calls it
    outage: Outage = None  # events only


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    source: str  # the file
    fabric: object  # topologies.model.fabric.Fabric
    policy: dict = None  # the policy file's mapping, already checked
    intents: tuple = ()
    steps: tuple = field(default=())
    order: str = 'one_by_one'

    def intent(self, name):
        return next(i for i in self.intents if i.name == name)


def load_scenario(path):
    """Read the scenario file at `path`, load its fabric and validate everything.

    Raises ScenarioError listing every problem, each as `FILE: KEY: RULE`.
    """
    path = Path(path)
    return parse_scenario(read_yaml(path, ScenarioError), source=str(path), base_dir=path.parent)


def parse_scenario(data, source='<scenario>', base_dir='.'):
    """Validate the decoded YAML document and build a Scenario; a fabric given as a path is
    read relative to `base_dir`. Raise ScenarioError listing all problems."""
    v = Validator()
    top = v.mapping(
        data, '', required=('name', 'fabric', 'steps'), optional=('description', 'policy', 'intents', 'order')
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
    intents = _intents(v, top.get('intents', []), fabric)
    order = top.get('order', ORDERS[0])
    if order not in ORDERS:
        v.problem('order', f'must be one of {", ".join(ORDERS)}, got {order!r}')
    reader = _StepReader(v, fabric, _intent_names(top.get('intents')))
    steps = [
        reader.read(raw, f'steps[{i}]')
        for i, raw in enumerate(v.sequence(top['steps'], 'steps') if 'steps' in top else [])
    ]
    if v.problems:
        raise ScenarioError(source, v.problems)
    return Scenario(name, description, source, fabric, policy, tuple(intents), tuple(steps), order)


def step_name(kind, args):
    """The name a step gets when the file gives none: `span dca-dcb down`, `web installed`,
    `red@dca -> red@dcc at least 9 Gb/s`."""
    fields = dict(args)
    if 'span' in args:
        fields['span'] = '-'.join(args['span'])
    if kind == 'expect_state':
        avoiding = ', '.join('-'.join(span) for span in args['avoids'])
        fields['state'] = args['state'].lower() + (f' avoiding {avoiding}' if avoiding else '')
    if kind == 'expect_isolated':
        fields['tenants'] = ', '.join(args['tenants'])
    return _STEP_NAMES[kind].format_map(fields)


_STEP_NAMES = {
    'wait': 'wait {seconds:g} s',
    'span_down': 'span {span} down',
    'span_up': 'span {span} up',
    'span_delay': 'span {span} delay {ms:g} ms',
    'traffic_start': 'traffic {traffic} {src} -> {dst} at {rate_gbps:g} Gb/s',
    'traffic_stop': 'traffic {traffic} stopped',
    'restart_controller': 'controller restarted',
    'expect_state': '{intent} {state}',
    'expect_reachable': '{src} -> {dst} reachable',
    'expect_unreachable': '{src} -> {dst} unreachable',
    'expect_throughput': '{src} -> {dst} at least {at_least_gbps:g} Gb/s',
    'expect_latency': '{src} -> {dst} at most {at_most_ms:g} ms',
    'expect_isolated': 'tenants {tenants} isolated',
}


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
    except FabricError as e:
        v.problem('fabric', '; '.join(str(e).splitlines()))
        return None


def _check_policy(v, policy, fabric):
    if not isinstance(policy, dict):
        v.problem('policy', f'must be a mapping of policy keys (docs/policy.md), got {type(policy).__name__}')
    elif fabric is not None:
        try:
            policy_from(policy, fabric, 'policy')
        except PolicyFileError as e:
            v.problem('policy', str(e).removeprefix('policy: '))


def _intent_names(raw):
    """Every name the intents list declares, valid or not: steps naming one are not blamed for it."""
    if not isinstance(raw, list):
        return set()
    return {item['name'] for item in raw if isinstance(item, dict) and isinstance(item.get('name'), str)}


def _intents(v, raw, fabric):
    intents, names, pairs = [], {}, {}
    for i, item in enumerate(v.sequence(raw, 'intents', allow_empty=True)):
        where = f'intents[{i}]'
        before = len(v.problems)
        item = v.mapping(
            item,
            where,
            required=('name', 'tenant', 'src', 'dst', 'bandwidth_gbps'),
            optional=('max_latency_ms', 'protected', 'service_class'),
        )
        name = _short_name(v, item, 'name', where)
        if name and name in names:
            v.problem(f'{where}.name', f'duplicate intent name {name!r} (already {names[name]})')
        names.setdefault(name, where)
        tenant = _tenant(v, item, 'tenant', where, fabric)
        src, dst = (_tenant_site(v, item, key, where, tenant, fabric) for key in ('src', 'dst'))
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
        bandwidth = v.number(item, 'bandwidth_gbps', where, None, positive=True)
        latency = v.number(item, 'max_latency_ms', where, None, positive=True)
        protected = item.get('protected', False)
        if not isinstance(protected, bool):
            v.problem(f'{where}.protected', f'must be true or false, got {protected!r}')
        service_class = item.get('service_class')
        if 'service_class' in item and service_class not in SERVICE_CLASSES:
            v.problem(
                f'{where}.service_class',
                f'must be one of {", ".join(SERVICE_CLASSES)}, got {service_class!r}',
            )
        if len(v.problems) == before:
            intents.append(IntentSpec(name, tenant, src, dst, bandwidth, latency, protected, service_class))
    return intents


def _short_name(v, item, key, where):
    """An intent's or traffic's name at item[key] (^[a-z0-9][a-z0-9-]{0,31}$), or None."""
    value = item.get(key)
    if key in item and not (isinstance(value, str) and SHORT_NAME_RULE.match(value)):
        v.problem(
            f'{where}.{key}',
            f'must be 1-32 lowercase letters, digits or "-", starting with a letter or digit, got {value!r}',
        )
        return None
    return value


def _tenant(v, item, key, where, fabric):
    """The tenant id at item[key] if the fabric has it (any text without a fabric), or None."""
    if key not in item:
        return None
    return _known_tenant(v, item[key], f'{where}.{key}', fabric)


def _known_tenant(v, value, key, fabric):
    if not isinstance(value, str):
        v.problem(key, f'must be a tenant id, got {value!r}')
        return None
    if fabric is not None and value not in fabric.tenants:
        v.problem(
            key,
            f'unknown tenant {value!r} (tenants of fabric {fabric.name}: '
            f'{", ".join(fabric.tenants) or "none"})',
        )
        return None
    return value


def _tenant_site(v, item, key, where, tenant, fabric):
    """The site id at item[key] where `tenant` has a port, or None."""
    if key not in item:
        return None
    value = item[key]
    if not isinstance(value, str):
        v.problem(f'{where}.{key}', f'must be a site id, got {value!r}')
        return None
    return value if tenant and _has_port(v, f'{where}.{key}', tenant, value, fabric) else None


def _has_port(v, key, tenant, site, fabric):
    if fabric is None or site in fabric.tenants[tenant].sites:
        return True
    v.problem(
        key,
        f'tenant {tenant} has no port at site {site!r} '
        f'(its sites: {", ".join(fabric.tenants[tenant].sites) or "none"})',
    )
    return False


def _number(v, value, key, **rule):
    """Validator.number for a value that is not under a mapping key (`wait: 5`)."""
    return v.number({key: value}, key, '', None, **rule)


class _StepReader:
    """Reads the steps in order: one method per step kind takes the kind's value and its key
    (`steps[3].span_delay`) and returns the Step's args. Knows the fabric, the intents' names
    and which traffic is running at each step."""

    def __init__(self, v, fabric, intent_names):
        self.v, self.fabric, self.intent_names = v, fabric, intent_names
        self.running, self.stopped = {}, {}  # traffic name -> the step that started/stopped it

    def read(self, raw, where):
        v = self.v
        before = len(v.problems)
        step = v.mapping(raw, where, required=(), optional=(*KINDS, 'name', 'outage'))
        kinds = [key for key in step if key in KINDS]
        if len(kinds) != 1:
            if isinstance(raw, dict):
                v.problem(
                    where, f'must have exactly one of {", ".join(KINDS)}; got {", ".join(kinds) or "none"}'
                )
            return None
        kind = kinds[0]
        args = getattr(self, kind)(step[kind], f'{where}.{kind}')
        outage = None
        if 'outage' in step:
            if kind in OUTAGE_EVENTS:
                outage = self.outage(step['outage'], f'{where}.outage')
            else:
                v.problem(
                    f'{where}.outage', f'only {", ".join(OUTAGE_EVENTS)} steps have an outage, not {kind}'
                )
        name = step.get('name')
        if 'name' in step and not (isinstance(name, str) and name.strip()):
            v.problem(f'{where}.name', f'must be non-empty text, got {name!r}')
        if len(v.problems) > before:
            return None
        return Step(kind, args, where, name or step_name(kind, args), outage)

    # --- events -----------------------------------------------------------------------------

    def wait(self, value, key):
        return {'seconds': _number(self.v, value, key, positive=True, minimum=0, maximum=MAX_WAIT_S)}

    def span_down(self, value, key):
        return {'span': self.span(value, key)}

    span_up = span_down

    def span_delay(self, value, key):
        item = self.v.mapping(value, key, required=('span', 'ms'), optional=())
        return {
            'span': self.span(item['span'], f'{key}.span') if 'span' in item else None,
            'ms': self.v.number(item, 'ms', key, None, minimum=0, maximum=MAX_SPAN_DELAY_MS),
        }

    def traffic_start(self, value, key):
        item = self.v.mapping(value, key, required=('name', 'from', 'to', 'rate_gbps'), optional=())
        name = _short_name(self.v, item, 'name', key)
        if name in self.running:
            self.v.problem(
                f'{key}.name',
                f'traffic {name!r} is already running (started at '
                f'{self.running[name]}); stop it first or use another name',
            )
        elif name:
            self.running[name] = key.rsplit('.', 1)[0]
        src, dst = self.hosts(item, key, same_tenant=True)
        return {
            'traffic': name,
            'src': src,
            'dst': dst,
            'rate_gbps': self.v.number(item, 'rate_gbps', key, None, positive=True),
        }

    def traffic_stop(self, value, key):
        if not isinstance(value, str) or not value:
            self.v.problem(key, f'must be the name of running traffic, got {value!r}')
        elif value in self.running:
            del self.running[value]
            self.stopped[value] = key.rsplit('.', 1)[0]
        elif value in self.stopped:
            self.v.problem(key, f'traffic {value!r} was already stopped at {self.stopped[value]}')
        else:
            self.v.problem(
                key,
                f'no traffic {value!r} is running here (running: '
                f'{", ".join(self.running) or "none"}); traffic_start starts it',
            )
        return {'traffic': value}

    def restart_controller(self, value, key):
        if value is not True and value != {}:
            self.v.problem(key, f'must be true or {{}}, got {value!r}')
        return {}

    # --- expectations -----------------------------------------------------------------------

    def expect_state(self, value, key):
        v = self.v
        item = v.mapping(value, key, required=('intent', 'state'), optional=('within_s', 'avoids'))
        intent, state = item.get('intent'), item.get('state')
        if 'intent' in item and intent not in self.intent_names:
            v.problem(
                f'{key}.intent',
                f'unknown intent {intent!r} (intents: {", ".join(sorted(self.intent_names)) or "none"})',
            )
        if 'state' in item:
            if isinstance(state, str) and state.upper() in STATES:
                state = state.upper()
            else:
                v.problem(
                    f'{key}.state', f'must be one of {", ".join(s.lower() for s in STATES)}, got {state!r}'
                )
        avoids = v.sequence(item.get('avoids', []), f'{key}.avoids', allow_empty=True)
        return {
            'intent': intent,
            'state': state,
            'within_s': v.number(item, 'within_s', key, DEFAULT_WITHIN_S, positive=True),
            'avoids': tuple(self.span(span, f'{key}.avoids[{j}]') for j, span in enumerate(avoids)),
        }

    def expect_reachable(self, value, key):
        item = self.v.mapping(value, key, required=('from', 'to'), optional=())
        src, dst = self.hosts(item, key, same_tenant=True, hint='; expect_unreachable checks that')
        return {'src': src, 'dst': dst}

    def expect_unreachable(self, value, key):
        item = self.v.mapping(value, key, required=('from', 'to'), optional=())
        src, dst = self.hosts(item, key, same_tenant=False)
        return {'src': src, 'dst': dst}

    def expect_throughput(self, value, key):
        item = self.v.mapping(value, key, required=('from', 'to', 'at_least_gbps'), optional=('seconds',))
        src, dst = self.hosts(item, key, same_tenant=True)
        return {
            'src': src,
            'dst': dst,
            'at_least_gbps': self.v.number(item, 'at_least_gbps', key, None, positive=True),
            'seconds': self.v.number(
                item, 'seconds', key, DEFAULT_THROUGHPUT_S, positive=True, minimum=0, maximum=MAX_MEASURE_S
            ),
        }

    def expect_latency(self, value, key):
        item = self.v.mapping(value, key, required=('from', 'to', 'at_most_ms'), optional=())
        src, dst = self.hosts(item, key, same_tenant=True)
        return {
            'src': src,
            'dst': dst,
            'at_most_ms': self.v.number(item, 'at_most_ms', key, None, positive=True),
        }

    def expect_isolated(self, value, key):
        v, fabric = self.v, self.fabric
        if value is not True and not isinstance(value, dict):
            v.problem(key, f'must be true or {{tenants: [TENANT, ...]}}, got {value!r}')
            return {'tenants': ()}
        item = {} if value is True else v.mapping(value, key, required=(), optional=('tenants',))
        if 'tenants' not in item:
            tenants = tuple(fabric.tenants) if fabric else ()
            if fabric and len(tenants) < 2:
                v.problem(key, f'needs two tenants or more; fabric {fabric.name} has {len(tenants)}')
            return {'tenants': tenants}
        tenants = []
        for j, tenant in enumerate(v.sequence(item['tenants'], f'{key}.tenants')):
            tenant = _known_tenant(v, tenant, f'{key}.tenants[{j}]', fabric)
            if tenant in tenants:
                v.problem(f'{key}.tenants[{j}]', f'tenant {tenant!r} listed twice')
            elif tenant:
                tenants.append(tenant)
        if isinstance(item['tenants'], list) and len(set(map(str, item['tenants']))) < 2:
            v.problem(f'{key}.tenants', f'needs two tenants or more, got {item["tenants"]!r}')
        return {'tenants': tuple(tenants)}

    def outage(self, value, key):
        item = self.v.mapping(value, key, required=('from', 'to', 'at_most_ms'), optional=('settle_s',))
        src, dst = self.hosts(item, key, same_tenant=True)
        return Outage(
            src,
            dst,
            self.v.number(item, 'at_most_ms', key, None, positive=True),
            self.v.number(
                item, 'settle_s', key, DEFAULT_SETTLE_S, positive=True, minimum=0, maximum=MAX_MEASURE_S
            ),
        )

    # --- values -----------------------------------------------------------------------------

    def span(self, value, key):
        """A span written [SITE, SITE] in either order, as the fabric's (span.a, span.b)."""
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(s, str) for s in value)):
            self.v.problem(key, f'must be a list of two site ids, such as [dca, dcb], got {value!r}')
            return None
        fabric = self.fabric
        if fabric is None:
            return tuple(value)
        unknown = [site for site in value if site not in fabric.sites]
        span = fabric.span(*value)
        if unknown:
            self.v.problem(key, f'unknown site {unknown[0]!r} in fabric {fabric.name}')
        elif span is None:
            spans = ', '.join(s.id for s in fabric.spans_of(value[0]))
            self.v.problem(
                key,
                f'no span between {value[0]} and {value[1]} in fabric {fabric.name} '
                f'(spans of {value[0]}: {spans})',
            )
        return (span.a, span.b) if span else None

    def host(self, item, key, where):
        """The Host written `tenant@site` at item[key], or None."""
        if key not in item:
            return None
        value, key = item[key], f'{where}.{key}'
        tenant, at, site = value.partition('@') if isinstance(value, str) else ('', '', '')
        if not (tenant and at and site):
            self.v.problem(key, f'must be TENANT@SITE, such as red@dca, got {value!r}')
            return None
        if _known_tenant(self.v, tenant, key, self.fabric) and _has_port(
            self.v, key, tenant, site, self.fabric
        ):
            return Host(tenant, site)
        return None

    def hosts(self, item, where, same_tenant, hint=''):
        """The hosts at `from` and `to`: two different hosts, of one tenant if `same_tenant`."""
        src, dst = self.host(item, 'from', where), self.host(item, 'to', where)
        if src and src == dst:
            self.v.problem(f'{where}.to', f'must be another host than from ({src})')
        elif src and dst and same_tenant and src.tenant != dst.tenant:
            self.v.problem(
                f'{where}.to',
                f'{src} and {dst} are hosts of different tenants, which never reach each other{hint}',
            )
        return src, dst
