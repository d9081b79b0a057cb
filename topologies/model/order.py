"""An order: what a tenant asks of the fabric ("200 Gb/s from phx1 to iad1, at most 25 ms,
protected"). One type for everyone who spells one: the controller's core (which checks it
against the fabric and admits it), the gRPC API's conversion, the client library, naasctl and
its orders files, and scenario files.

`read_order` reads an order as people write it (keys as `naasctl intent create`'s options, with
units), for orders files (`load_orders`) and scenario files alike.
"""

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from topologies.model.config import ConfigError, Validator, key_of, read_yaml
from topologies.model.units import parse_bandwidth, parse_latency


class Protection(str, enum.Enum):
    NONE = 'NONE'
    PROTECTED = 'PROTECTED'  # a span-disjoint backup, pre-installed in the switches


class ServiceClass(str, enum.Enum):
    """Allocated in this order, as SWAN and B4 do."""

    REALTIME = 'REALTIME'
    PRIORITY = 'PRIORITY'
    BULK = 'BULK'


@dataclass(frozen=True)
class Order:
    """An E-Line between two of a tenant's sites. Plain data: the core checks every field
    against the fabric and names the first bad one (as the API does: `src_site`, ...)."""

    tenant: str  # '' in a tenant's own request: its token says who it is
    src: str  # site ids
    dst: str
    bandwidth_gbps: float  # committed, both ways
    max_latency_ms: float | None = None  # one way; None: no bound
    protection: Protection = Protection.NONE
    service_class: ServiceClass = ServiceClass.PRIORITY
    excess_gbps: float = 0.0  # above the committed rate, when the spans have room
    description: str = ''
    labels: Mapping[str, str] = field(default_factory=dict)
    src_prefixes: tuple[str, ...] = ()  # CIDRs within the tenant's subnet at src (empty: all)
    dst_prefixes: tuple[str, ...] = ()
    request_id: str = ''  # the client's idempotency key: a retry gets the intent it made


# An order as people write it: in an orders file (`naasctl intent create-many FILE`) and as a
# scenario file's intent. The keys are `naasctl intent create`'s options, with their units
# (docs/api.md, "Orders files").
REQUIRED = ('src', 'dst', 'bandwidth')
OPTIONAL = (
    'tenant',
    'excess',
    'latency',
    'protected',
    'class',
    'description',
    'labels',
    'src_prefixes',
    'dst_prefixes',
    'request_id',
)
KEYS = REQUIRED + OPTIONAL
# The API's names, in its units (Gb/s, ms), as scenario files have always written them.
ALIASES = {
    'bandwidth_gbps': 'bandwidth',
    'max_latency_ms': 'latency',
    'excess_gbps': 'excess',
    'service_class': 'class',
}
CLASSES = tuple(c.value.lower() for c in ServiceClass)


def load_orders(path):
    """The Orders in the YAML file at `path` ('-': standard input): a list of order mappings.
    ConfigError lists every problem as `FILE: orders[i].KEY: RULE` (i from 0, as the server
    counts)."""
    source = 'standard input' if str(path) == '-' else str(path)
    return parse_orders(read_yaml(path, source), source)


def parse_orders(data, source='orders'):
    """The Orders of a decoded orders document; ConfigError listing every problem."""
    v = Validator()
    if not isinstance(data, list) or not data:
        v.problem(
            '',
            f'must be a list of orders (at least one), each a mapping with {", ".join(REQUIRED)} '
            f'and optionally {", ".join(OPTIONAL)}',
        )
        raise ConfigError(source, v.problems)
    orders = [read_order(v, item, f'orders[{i}]') for i, item in enumerate(data)]
    if v.problems:
        raise ConfigError(source, v.problems)
    return orders


def read_order(v, data, where, required=()):
    """The Order written as the mapping `data` at `where`, or None; its problems go into the
    Validator `v`. `required`: keys required besides src, dst and bandwidth: order keys that
    are optional elsewhere (a scenario's `tenant`), or the caller's own keys, which are
    allowed here and left to it (a scenario intent's `name`)."""
    own = tuple(key for key in required if key not in KEYS)
    needed = own + REQUIRED + tuple(key for key in required if key in OPTIONAL)
    if not isinstance(data, dict):
        optional = [key for key in OPTIONAL if key not in needed]
        v.problem(
            where,
            f'must be a mapping with {", ".join(needed)} and optionally {", ".join(optional)}, '
            f'got {type(data).__name__}',
        )
        return None
    before = len(v.problems)
    v.mapping(data, where, required=(), optional=(*own, *KEYS, *ALIASES))
    written = {}  # order key -> the key it is written as here
    for key in data:
        canonical = ALIASES.get(key, key)
        if canonical in written:
            v.problem(key_of(where, key), f'the same as {written[canonical]}: give one of them')
        elif canonical in KEYS:
            written[canonical] = key
    for key in needed:
        if key not in data and key not in written:
            v.problem(key_of(where, key), 'missing required key')
    read = _OrderReader(v, data, where, written)
    order = dict(
        tenant=read.text('tenant'),
        src=read.text('src'),
        dst=read.text('dst'),
        bandwidth_gbps=read.rate('bandwidth', positive=True),
        excess_gbps=read.rate('excess', default=0.0),
        max_latency_ms=read.latency(),
        protection=read.protection(),
        service_class=read.service_class(),
        description=read.text('description'),
        labels=read.labels(),
        src_prefixes=read.texts('src_prefixes'),
        dst_prefixes=read.texts('dst_prefixes'),
        request_id=read.text('request_id'),
    )
    return Order(**order) if len(v.problems) == before else None


class _OrderReader:
    """Reads one order's values, each from the key it is written as (`bandwidth: 200G`, or
    `bandwidth_gbps: 200`), into the Validator."""

    def __init__(self, v, data, where, written):
        self.v, self.data, self.where, self.written = v, data, where, written

    def key(self, canonical):
        return key_of(self.where, self.written[canonical])

    def text(self, canonical):
        if canonical not in self.written:
            return ''
        return self.v.text(self.data, self.written[canonical], self.where)

    def rate(self, canonical, positive=False, default=None):
        """Gb/s from `200G`-style text or a bare number in Gb/s under canonical's key, or a
        number in Gb/s under its API name (excess_gbps may be 0: none)."""
        if canonical not in self.written:
            return default
        written = self.written[canonical]
        if written == canonical:
            return self.parsed(canonical, parse_bandwidth)
        return self.v.number(self.data, written, self.where, default, positive=positive, minimum=0.0)

    def latency(self):
        if 'latency' not in self.written:
            return None
        written = self.written['latency']
        if written == 'latency':
            return self.parsed('latency', parse_latency)
        return self.v.number(self.data, written, self.where, None, positive=True)

    def parsed(self, canonical, parse):
        try:
            return parse(self.data[canonical])
        except ValueError as e:
            self.v.problem(self.key(canonical), str(e))
            return None

    def protection(self):
        protected = self.data['protected'] if 'protected' in self.written else False
        if not isinstance(protected, bool):
            self.v.problem(self.key('protected'), f'must be true or false, got {protected!r}')
            return Protection.NONE
        return Protection.PROTECTED if protected else Protection.NONE

    def service_class(self):
        if 'class' not in self.written:
            return ServiceClass.PRIORITY
        value = self.data[self.written['class']]
        if not isinstance(value, str) or value.lower() not in CLASSES:
            self.v.problem(self.key('class'), f'must be one of {", ".join(CLASSES)}, got {value!r}')
            return ServiceClass.PRIORITY
        return ServiceClass(value.upper())

    def labels(self):
        if 'labels' not in self.written:
            return {}
        labels = self.data['labels']
        if not isinstance(labels, dict):
            self.v.problem(
                self.key('labels'), f'must be a mapping of text to text, like {{team: web}}, got {labels!r}'
            )
            return {}
        for name, value in labels.items():
            if not isinstance(name, str):
                self.v.problem(self.key('labels'), f'must be text, got {name!r}')
            elif not isinstance(value, str):
                self.v.problem(f'{self.key("labels")}.{name}', f'must be text, got {value!r}')
        return dict(labels)

    def texts(self, canonical):
        """A list of text, or one text."""
        if canonical not in self.written:
            return ()
        value = self.data[canonical]
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list):
            self.v.problem(self.key(canonical), f'must be a list of text, got {value!r}')
            return ()
        for item in value:
            if not isinstance(item, str):
                self.v.problem(self.key(canonical), f'must be text, got {item!r}')
        return tuple(value)
