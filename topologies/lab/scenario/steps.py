"""A scenario step kind is one registered object: a StepKind subclass, decorated with
@register, declares its key in the file, its fields, how it reads and checks them, how it
runs in a lab, whether it may carry an `outage`, and the name the report gives it.

    @register
    class SpanDelay(Event):
        key = 'span_delay'
        fields = {'span': Field(span), 'ms': Field(number(minimum=0, maximum=10000))}
        outage = True
        title = 'span {span} delay {ms:g} ms'

        def run(self, run, span, ms):
            run.lab.span_delay(*span, ms)

Events act on the lab; expectations return (passed, measured, expected). The kinds are in
events.py and expectations.py; adding one there is all it takes.
"""

from dataclasses import dataclass

from topologies.lab.scenario.reader import Host

REQUIRED = object()  # a Field without a default
KINDS = {}  # key -> StepKind, events first, each in the order they are defined
DEFAULT_SETTLE_S = 3.0  # outage
MAX_MEASURE_S = 60  # throughput `seconds`, outage `settle_s`


@dataclass(frozen=True)
class Field:
    """One key of a step's mapping: `read(reader, value, key)` returns the value (None, and
    a problem, when it is bad); `arg` names the run argument when it is not the file's key."""

    read: object
    default: object = REQUIRED
    arg: str = None


def number(**rule):
    """A Field reader of a number under Validator.number's rules (positive, minimum, maximum)."""
    return lambda r, value, key: r.number(value, key, **rule)


def span(r, value, key):
    return r.span(value, key)


def host(r, value, key):
    return r.host(value, key)


HOSTS = {'from': Field(host, arg='src'), 'to': Field(host, arg='dst')}


@dataclass(frozen=True)
class Outage:
    """Outage at most `at_most_ms` between two hosts across the step's event, measured by the
    1 kHz probe from before the event until `settle_s` after it."""

    src: Host
    dst: Host
    at_most_ms: float
    settle_s: float = DEFAULT_SETTLE_S


OUTAGE_FIELDS = {
    **HOSTS,
    'at_most_ms': Field(number(positive=True)),
    'settle_s': Field(number(positive=True, minimum=0, maximum=MAX_MEASURE_S), DEFAULT_SETTLE_S),
}


@dataclass(frozen=True)
class Step:
    """One step of a scenario: `kind` is a key of KINDS, `args` the run arguments its kind
    read (see each kind's fields)."""

    kind: str
    args: dict
    where: str  # 'steps[3]': for messages
    name: str  # what the report calls it
    outage: Outage = None  # on kinds that allow one


class StepKind:
    key = ''  # the step's key in a file
    expectation = False  # checked and reported (True), or done to the lab (False)
    outage = False  # may carry `outage`
    title = ''  # the report's name for it: str.format of the run arguments (see name())
    fields = {}  # a mapping value's keys; kinds whose value is not a mapping override read()
    same_tenant = None  # True or False: `from` and `to` are two different hosts, of one tenant if True
    hint = ''  # added to the different-tenants problem

    def read(self, r, value, key):
        """The run arguments from the step's value at `key`; problems go into r.v."""
        args = read_fields(r, value, key, self.fields)
        if self.same_tenant is not None:
            r.host_pair(args['src'], args['dst'], key, self.same_tenant, self.hint)
        self.check(r, args, key)
        return args

    def check(self, r, args, key):
        """Rules between fields, or about the steps before (see Reader)."""

    def name(self, args):
        """The report's name when the file gives none: `span dca-dcb down`, `web installed`."""
        shown = {k: '-'.join(v) if k == 'span' else v for k, v in args.items()}
        return self.title.format_map(shown)

    def run(self, run, **args):
        """Do it in the lab of `run` (a topologies.lab.scenario.runner.Runner); an
        expectation returns (passed, measured, expected)."""
        raise NotImplementedError

    def finish(self, run):
        """Undo what is still running at the end of the scenario (also after an error)."""


class Event(StepKind):
    pass


class Expectation(StepKind):
    expectation = True


def register(cls):
    """Class decorator: one instance of the kind in KINDS."""
    assert cls.key and cls.key not in KINDS, cls
    KINDS[cls.key] = cls()
    return cls


def read_fields(r, value, key, fields):
    """The mapping at `key` read by `fields`: every key's value, a default, or None."""
    required = [name for name, f in fields.items() if f.default is REQUIRED]
    optional = [name for name, f in fields.items() if f.default is not REQUIRED]
    item = r.v.mapping(value, key, required=required, optional=optional)
    return {
        f.arg or name: f.read(r, item[name], f'{key}.{name}')
        if name in item
        else (None if f.default is REQUIRED else f.default)
        for name, f in fields.items()
    }


def read_step(r, raw, where):
    """The Step in `raw`, the mapping at `where` ('steps[3]'), or None (and its problems)."""
    v = r.v
    before = len(v.problems)
    step = v.mapping(raw, where, required=(), optional=(*KINDS, 'name', 'outage'))
    keys = [key for key in step if key in KINDS]
    if len(keys) != 1:
        if isinstance(raw, dict):
            v.problem(where, f'must have exactly one of {", ".join(KINDS)}; got {", ".join(keys) or "none"}')
        return None
    kind = KINDS[keys[0]]
    args = kind.read(r, step[kind.key], f'{where}.{kind.key}')
    outage = None
    if 'outage' in step:
        if kind.outage:
            outage = read_outage(r, step['outage'], f'{where}.outage')
        else:
            allowed = ', '.join(k.key for k in KINDS.values() if k.outage)
            v.problem(f'{where}.outage', f'only {allowed} steps have an outage, not {kind.key}')
    name = step.get('name')
    if 'name' in step and not (isinstance(name, str) and name.strip()):
        v.problem(f'{where}.name', f'must be non-empty text, got {name!r}')
    if len(v.problems) > before:
        return None
    return Step(kind.key, args, where, name or kind.name(args), outage)


def read_outage(r, value, key):
    args = read_fields(r, value, key, OUTAGE_FIELDS)
    r.host_pair(args['src'], args['dst'], key, same_tenant=True)
    return Outage(**args)
