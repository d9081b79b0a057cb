"""Fabric files: sites, spans, tenants and the emulation scale, loaded and validated once.

A fabric file is YAML (format in docs/fabric-format.md). `load_fabric` accepts a shipped
name (`lumen-qts`), a path, or `topohub:GROUP/NAME` for a real WAN imported on the fly.
Every problem is reported at once, each naming the file and the key, through one error type.
"""

import math
import re
from dataclasses import dataclass
from pathlib import Path

from topologies.model.config import MISSING, ConfigError, Validator, read_yaml

SHIPPED = Path(__file__).parent.parent / 'fabrics'
FIBER_US_PER_KM = 4.9  # light in glass: ~204,000 km/s
DEFAULT_ROUTE_FACTOR = 1.4  # fiber route length / great-circle distance
DEFAULT_BANDWIDTH_SCALE = 0.001  # 1 Gb/s real -> 1 Mb/s emulated
MAX_EMULATED_MBPS = 1000  # what one machine's userspace datapath can carry per span
MIN_EMULATED_MBPS = 0.1  # below this HTB and TCP measurements get meaningless
MAX_SITES = MAX_TENANTS = 250  # site and tenant numbers are address octets
SITE_KINDS = ('datacenter', 'pop')
RESERVED_IDS = ('probe',)  # `probe-<site>` is the measurement host of each site
ID_RULE = re.compile(r'^[a-z][a-z0-9]{1,5}$')  # short: ids become Linux interface names
NAME_RULE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')  # names /run/naas-fabric/<name>


@dataclass(frozen=True)
class Site:
    id: str
    number: int  # 1-based position in the file; dpid and address octet
    kind: str
    lat: float
    lon: float
    name: str = ''
    region: str = ''


@dataclass(frozen=True)
class Span:
    a: str
    b: str
    capacity_gbps: float
    delay_ms: float  # one-way
    delay_source: str  # 'configured' or 'great-circle'
    emulated_mbps: float
    loss_pct: float = 0.0  # the share of frames the emulated span drops (a gray failure)

    @property
    def id(self):
        return f'{self.a}-{self.b}'

    def other(self, site_id):
        return self.b if site_id == self.a else self.a


@dataclass(frozen=True)
class Tenant:
    id: str
    number: int  # 1-based position in the file; address octet
    sites: tuple
    name: str = ''


@dataclass(frozen=True)
class Fabric:
    name: str
    description: str
    bandwidth_scale: float
    sites: dict  # id -> Site, in file order
    spans: tuple
    tenants: dict  # id -> Tenant, in file order
    source: str

    def span(self, a, b):
        """The span between two sites, in either order, or None."""
        return next((s for s in self.spans if {s.a, s.b} == {a, b}), None)

    def spans_of(self, site_id):
        return [s for s in self.spans if site_id in (s.a, s.b)]


def great_circle_km(lat1, lon1, lat2, lon2):
    """Haversine distance on a 6371 km sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, h)))


def fiber_delay_ms(site_a, site_b, route_factor):
    km = great_circle_km(site_a.lat, site_a.lon, site_b.lat, site_b.lon)
    return km * route_factor * FIBER_US_PER_KM / 1000.0


def shipped_fabrics():
    return sorted(p.stem for p in SHIPPED.glob('*.yaml'))


def load_fabric(spec):
    """Load and validate a fabric from a shipped name, a path or `topohub:GROUP/NAME`."""
    if spec.startswith('topohub:'):
        from topologies.model.importer import import_topohub

        return parse_fabric(import_topohub(spec.split(':', 1)[1]), source=spec)
    path = Path(spec)
    if not path.suffix and not path.exists():
        path = SHIPPED / f'{spec}.yaml'
        if not path.exists():
            raise ConfigError(
                spec,
                [
                    (
                        '',
                        'no such fabric file, nor a shipped fabric '
                        f'(shipped: {", ".join(shipped_fabrics())})',
                    )
                ],
            )
    return parse_fabric(read_yaml(path), source=str(path))


def parse_fabric(data, source='<fabric>'):
    """Validate the decoded YAML document and build a Fabric; raise ConfigError listing all problems."""
    v = Validator()
    top = v.mapping(
        data, '', required=('name', 'sites', 'spans'), optional=('description', 'emulation', 'tenants')
    )
    if 'name' in top and not (isinstance(top['name'], str) and NAME_RULE.match(top['name'])):
        v.problem(
            'name',
            'must be non-empty text of at most 64 letters, digits, ".", "_" or "-", '
            f'starting with a letter or digit (it names a directory), got {top["name"]!r}',
        )
    emulation = v.mapping(
        top.get('emulation', {}), 'emulation', required=(), optional=('bandwidth_scale', 'route_factor')
    )
    scale = v.number(emulation, 'bandwidth_scale', 'emulation', DEFAULT_BANDWIDTH_SCALE, positive=True)
    route_factor = v.number(emulation, 'route_factor', 'emulation', DEFAULT_ROUTE_FACTOR, minimum=1.0)

    sites = {}
    for i, raw in enumerate(v.sequence(top.get('sites', MISSING), 'sites', max_items=MAX_SITES)):
        where = f'sites[{i}]'
        item = v.mapping(raw, where, required=('id', 'kind', 'lat', 'lon'), optional=('name', 'region'))
        site_id = _identifier(v, item, where, taken=sites)
        kind = item.get('kind')
        if 'kind' in item and kind not in SITE_KINDS:
            v.problem(f'{where}.kind', f'must be one of {", ".join(SITE_KINDS)}, got {kind!r}')
        lat = v.number(item, 'lat', where, None, minimum=-90.0, maximum=90.0)
        lon = v.number(item, 'lon', where, None, minimum=-180.0, maximum=180.0)
        if site_id and lat is not None and lon is not None:
            sites[site_id] = Site(
                site_id,
                len(sites) + 1,
                kind,
                lat,
                lon,
                v.text(item, 'name', where),
                v.text(item, 'region', where),
            )

    spans, seen_pairs = [], {}
    for i, raw in enumerate(v.sequence(top.get('spans', MISSING), 'spans')):
        where = f'spans[{i}]'
        item = v.mapping(
            raw,
            where,
            required=('between', 'capacity_gbps'),
            optional=('delay_ms', 'route_factor', 'loss_pct'),
        )
        ends = item.get('between')
        if 'between' in item and not (isinstance(ends, list) and len(ends) == 2):
            v.problem(f'{where}.between', f'must be a list of two site ids, got {ends!r}')
            ends = None
        elif ends:
            for j, end in enumerate(ends):
                if not isinstance(end, str) or end not in sites:
                    v.problem(f'{where}.between[{j}]', f'unknown site {end!r}')
            if ends[0] == ends[1]:
                v.problem(f'{where}.between', f'a span joins two different sites, got {ends[0]!r} twice')
            pair = frozenset(map(str, ends))
            if pair in seen_pairs and len(pair) == 2:
                v.problem(
                    f'{where}.between',
                    f'duplicate span {ends[0]}-{ends[1]} (already spans[{seen_pairs[pair]}])',
                )
            seen_pairs.setdefault(pair, i)
        capacity = v.number(item, 'capacity_gbps', where, None, positive=True)
        delay = v.number(item, 'delay_ms', where, None, minimum=0.0)
        factor = v.number(item, 'route_factor', where, route_factor, minimum=1.0)
        loss = v.number(item, 'loss_pct', where, 0.0, minimum=0.0, maximum=100.0)
        if capacity is not None and scale is not None:
            mbps = capacity * 1000.0 * scale
            if not MIN_EMULATED_MBPS <= mbps <= MAX_EMULATED_MBPS:
                v.problem(
                    f'{where}.capacity_gbps',
                    f'{capacity:g} Gb/s at emulation.bandwidth_scale {scale:g} is {mbps:g} Mb/s '
                    f'emulated; keep it within {MIN_EMULATED_MBPS:g}..{MAX_EMULATED_MBPS} Mb/s '
                    'by changing emulation.bandwidth_scale',
                )
        if not v.problems and ends and capacity is not None:
            a, b = sites[ends[0]], sites[ends[1]]
            if delay is None:
                delay, origin = round(fiber_delay_ms(a, b, factor), 3), 'great-circle'
            else:
                origin = 'configured'
            spans.append(Span(a.id, b.id, capacity, delay, origin, capacity * 1000.0 * scale, loss or 0.0))

    tenants = {}
    for i, raw in enumerate(
        v.sequence(top.get('tenants', []), 'tenants', allow_empty=True, max_items=MAX_TENANTS)
    ):
        where = f'tenants[{i}]'
        item = v.mapping(raw, where, required=('id', 'sites'), optional=('name',))
        tenant_id = _identifier(v, item, where, taken=tenants)
        if tenant_id in sites:
            v.problem(f'{where}.id', f'{tenant_id!r} is already a site id; tenant and site ids must differ')
        at = v.sequence(item.get('sites'), f'{where}.sites') if 'sites' in item else []
        for j, site_id in enumerate(at):
            if not isinstance(site_id, str) or site_id not in sites:
                v.problem(f'{where}.sites[{j}]', f'unknown site {site_id!r}')
            elif at.index(site_id) != j:
                v.problem(f'{where}.sites[{j}]', f'site {site_id!r} listed twice')
        if tenant_id:
            tenants[tenant_id] = Tenant(tenant_id, len(tenants) + 1, tuple(at), v.text(item, 'name', where))

    if not v.problems:
        _check_connected(v, sites, spans)
    if v.problems:
        raise ConfigError(source, v.problems)
    return Fabric(
        str(top['name']), v.text(top, 'description', ''), scale, sites, tuple(spans), tenants, source
    )


def _check_connected(v, sites, spans):
    """Every site must be reached by a span, and all sites must form one network."""
    touched = {s.a for s in spans} | {s.b for s in spans}
    for site in sites.values():
        if site.id not in touched:
            v.problem(f'sites[{site.number - 1}]', f'site {site.id!r} is not reached by any span')
    if v.problems or not sites:
        return
    adjacency = {site_id: set() for site_id in sites}
    for s in spans:
        adjacency[s.a].add(s.b)
        adjacency[s.b].add(s.a)
    first = next(iter(sites))
    reached, todo = {first}, [first]
    while todo:
        for n in adjacency[todo.pop()] - reached:
            reached.add(n)
            todo.append(n)
    cut_off = [s for s in sites if s not in reached]
    if cut_off:
        v.problem('spans', f'sites {", ".join(cut_off)} are not connected to site {first!r}')


def _identifier(v, item, where, taken):
    """A site's or tenant's id at item['id'], or None (and a problem)."""
    value = item.get('id')
    if 'id' not in item:
        return None
    if not isinstance(value, str) or not ID_RULE.match(value):
        v.problem(
            f'{where}.id',
            f'{value!r} must be 2-6 characters: a lowercase letter, then lowercase letters or digits',
        )
        return None
    if value in taken or value in RESERVED_IDS:
        v.problem(f'{where}.id', f'duplicate id {value!r}' if value in taken else f'{value!r} is reserved')
        return None
    return value
