"""Flow planning: the flow table every site switch should hold, as plain data.

The plan is a pure function of the fabric and the routes of the installed intents; the
southbound turns it into OpenFlow 1.3 messages and reconciles the switches with it
(`reconcile.py`). One table (0):

    priority  match                                         actions
    60000     LLDP                                          to the controller (discovery, delay)
    50000     ARP from a tenant port                        to the controller (answered there:
                                                            nothing is flooded on the backbone)
    40000     tenant port, IPv4 10.T.S.0/24 -> 10.T.D.0/24  meter, push MPLS label, out a span
              (or the intent's narrower prefixes: a flow per pair, one meter)
    30000     span port, MPLS label                         out the next span (transit), or
                                                            pop and out the tenant port (egress)
    0         anything else                                 drop: no intent, no traffic

Measurement flows (cookie 0x4e4d..., priority 65000, see topologies/measure.py) belong to the
emulation's probes; the controller never plans, counts or removes them.

Isolation: a tenant's frames enter only through its own port, and only flows that match
that port and the tenant's own addresses take them in; label flows match the span port
they arrive on, so a host cannot inject a labelled frame. Anything else is dropped.

Labels are fabric-wide and per direction of a route: moving an intent allocates new labels,
so the new path's flows can be installed beside the old ones before the ingress flow flips.
"""
import ipaddress
from dataclasses import dataclass

from topologies import addressing as addr

ETH_LLDP = 0x88cc
ETH_ARP = 0x0806
ETH_IPV4 = 0x0800
ETH_MPLS = 0x8847
CONTROLLER = 'controller'        # an output to the controller

PRIO_LLDP = 60000
PRIO_ARP = 50000
PRIO_INGRESS = 40000
PRIO_LABEL = 30000
PRIO_DROP = 0

COOKIE_KIND_SHIFT = 48
COOKIE_BASE = 0x4e43 << COOKIE_KIND_SHIFT     # 'NC': the controller's own flows
COOKIE_INTENT = 0x4e49 << COOKIE_KIND_SHIFT   # 'NI' | intent number
COOKIE_MEASURE = 0x4e4d << COOKIE_KIND_SHIFT  # 'NM': the emulation's probes; never ours
COOKIE_KIND_MASK = 0xffff << COOKIE_KIND_SHIFT

FIRST_LABEL = 16                 # 0-15 are reserved by MPLS
LAST_LABEL = (1 << 20) - 1


@dataclass(frozen=True)
class Flow:
    """One flow entry. `match` is a sorted tuple of (os-ken field name, value), a masked
    value being (value, mask); `actions` a tuple of (name, argument) applied in order:
    ('output', port or CONTROLLER), ('push_mpls', ethertype), ('pop_mpls', ethertype),
    ('set_field', (field, value)). `meter` is applied first when set."""
    dpid: int
    priority: int
    match: tuple
    actions: tuple = ()
    cookie: int = COOKIE_BASE
    meter: int = None
    table: int = 0

    @property
    def key(self):
        """What identifies the entry in a switch: adding a flow with the same key replaces it."""
        return (self.dpid, self.table, self.priority, self.match)

    @property
    def is_ingress(self):
        return self.priority == PRIO_INGRESS


@dataclass(frozen=True)
class Meter:
    """A drop meter: traffic above `rate_kbps` (beyond a burst of `burst_kbits`) is dropped."""
    dpid: int
    meter_id: int
    rate_kbps: int
    burst_kbits: int


@dataclass(frozen=True)
class Route:
    """Where an installed intent's traffic goes: the path's sites from src to dst, and one
    label per direction (forward src -> dst, reverse dst -> src)."""
    intent_number: int
    tenant: str
    sites: tuple
    label_fwd: int
    label_rev: int
    rate_kbps: int                # the emulated rate each ingress meter lets through
    burst_kbits: int
    src_prefixes: tuple = ()      # (address, netmask) pairs within the tenant's subnets at
    dst_prefixes: tuple = ()      # the two ends; empty: the whole site subnet

    def __post_init__(self):
        if len(self.sites) < 2 or len(set(self.sites)) != len(self.sites):
            raise ValueError(f'a route needs two or more distinct sites, got {self.sites}')
        for label in (self.label_fwd, self.label_rev):
            if not FIRST_LABEL <= label <= LAST_LABEL:
                raise ValueError(f'label {label} outside {FIRST_LABEL}..{LAST_LABEL}')
        if self.label_fwd == self.label_rev:
            raise ValueError('the two directions need different labels')
        if self.intent_number <= 0 or self.intent_number >= 1 << COOKIE_KIND_SHIFT:
            raise ValueError(f'intent number {self.intent_number} out of range')


def intent_cookie(intent_number):
    return COOKIE_INTENT | intent_number


def cookie_intent(cookie):
    """The intent number an intent flow carries, else None."""
    if cookie & COOKIE_KIND_MASK == COOKIE_INTENT:
        return cookie & ~COOKIE_KIND_MASK
    return None


def is_ours(cookie):
    """Flows the controller reconciles: everything but the emulation's measurement flows."""
    return cookie & COOKIE_KIND_MASK != COOKIE_MEASURE


def match(**fields):
    return tuple(sorted(fields.items()))


def prefix_match(cidr):
    """An IPv4 prefix as a masked match value: '10.1.2.0/25' -> ('10.1.2.0', '255.255.255.128')."""
    network = ipaddress.IPv4Network(cidr)
    return (str(network.network_address), str(network.netmask))


def site_prefix(tenant, site):
    return prefix_match(addr.site_subnet(tenant, site))


def base_flows(fabric, site_id):
    """What a site switch holds with no intent at all."""
    dpid = addr.dpid(fabric.sites[site_id])
    flows = [Flow(dpid, PRIO_DROP, ()),
             Flow(dpid, PRIO_LLDP, match(eth_type=ETH_LLDP), (('output', CONTROLLER),))]
    for tenant in fabric.tenants.values():
        if site_id in tenant.sites:
            flows.append(Flow(dpid, PRIO_ARP,
                              match(in_port=addr.tenant_port(tenant), eth_type=ETH_ARP),
                              (('output', CONTROLLER),)))
    return flows


def route_flows(fabric, route):
    """Flows and meters of one route, both directions: ingress at each end, label flows on
    every switch after it."""
    flows, meters = [], []
    tenant = fabric.tenants[route.tenant]
    ends = [route.src_prefixes or (site_prefix(tenant, fabric.sites[route.sites[0]]),),
            route.dst_prefixes or (site_prefix(tenant, fabric.sites[route.sites[-1]]),)]
    _direction(fabric, route, route.sites, route.label_fwd, ends, flows, meters)
    _direction(fabric, route, tuple(reversed(route.sites)), route.label_rev, ends[::-1], flows, meters)
    return flows, meters


def _direction(fabric, route, sites, label, ends, flows, meters):
    tenant = fabric.tenants[route.tenant]
    src = fabric.sites[sites[0]]
    cookie = intent_cookie(route.intent_number)
    port = addr.tenant_port(tenant)
    meter_id = route.intent_number        # one ingress per intent per switch: the ends differ
    meters.append(Meter(addr.dpid(src), meter_id, route.rate_kbps, route.burst_kbits))
    for from_prefix in ends[0]:           # every pair shares the intent's one meter
        for to_prefix in ends[1]:
            flows.append(Flow(addr.dpid(src), PRIO_INGRESS,
                              match(in_port=port, eth_type=ETH_IPV4,
                                    ipv4_src=from_prefix, ipv4_dst=to_prefix),
                              (('push_mpls', ETH_MPLS), ('set_field', ('mpls_label', label)),
                               ('output', addr.span_port(fabric, sites[0], sites[1]))),
                              cookie, meter=meter_id))
    for i in range(1, len(sites)):
        here, came_from = sites[i], sites[i - 1]
        if i + 1 < len(sites):
            actions = (('output', addr.span_port(fabric, here, sites[i + 1])),)
        else:
            actions = (('pop_mpls', ETH_IPV4), ('output', port))
        flows.append(Flow(addr.dpid(fabric.sites[here]), PRIO_LABEL,
                          match(in_port=addr.span_port(fabric, here, came_from),
                                eth_type=ETH_MPLS, mpls_label=label),
                          actions, cookie))


def plan(fabric, routes, cache=None):
    """The whole fabric's plan: {dpid: (flows by key, meters by id)}. `cache` (a dict kept
    by the caller) remembers each route's flows, so a re-plan only computes new routes."""
    tables = {}
    for site_id, site in fabric.sites.items():
        tables[addr.dpid(site)] = ({f.key: f for f in base_flows(fabric, site_id)}, {})
    fresh = {}
    for route in routes:
        flows, meters = fresh[route] = (cache or {}).get(route) or route_flows(fabric, route)
        for flow in flows:
            entries = tables[flow.dpid][0]
            if flow.key in entries:
                raise ValueError(f'route of intent {route.intent_number} collides with '
                                 f'{entries[flow.key]}')
            entries[flow.key] = flow
        for meter in meters:
            tables[meter.dpid][1][meter.meter_id] = meter
    if cache is not None:
        cache.clear()
        cache.update(fresh)
    return tables
