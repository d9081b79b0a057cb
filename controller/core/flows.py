"""Flow planning: the flow table every site switch should hold, as plain data.

The plan is a pure function of the fabric and the routes of the installed intents; the
southbound turns it into OpenFlow 1.3 messages and reconciles the switches with it
(`reconcile.py`). One table (0):

    priority  match                                         actions
    60001     span port, LLDP to BOUNCE_MAC                 back out its port, as LLDP (switch crossing)
    60000     span port, LLDP                               to the controller (discovery, delay)
    50000     ARP from a tenant port                        the port's control meter, then to the
                                                            controller (answered there: nothing
                                                            is flooded on the backbone)
    40000     tenant port, IPv4 10.T.S.0/24 -> 10.T.D.0/24  meter, push MPLS label, out a span
              (or the intent's narrower prefixes: a flow per pair, one meter)   (protected: group)
    30000     span port, MPLS label                         out the next span (transit), or
                                                            pop and out the tenant port (egress)
                                                            (protected primary: group)
    0         anything else                                 drop: no intent, no traffic

Protection (1+1 path protection that the switches take by themselves): a protected route
also has a span-disjoint backup path with labels of its own, installed beside the primary.
Every switch of the primary forwards through an OpenFlow fast-failover group whose first
bucket watches the next span's port. At the ingress the second bucket sends the traffic onto
the backup. At a transit switch the second bucket sends it back where it came from under a
crankback label, which every switch before it returns towards the ingress, where it joins
the backup. So a cut of any span of the primary is repaired by the two switches that see
its carrier drop, in both directions, without asking the controller (SPIDER-style crankback;
the returning traffic crosses the primary's reverse links briefly, until the controller
re-places the intent on the surviving path and a new backup).

Measurement flows (cookie 0x4e4d..., priority 65000, see topologies/emulation/measure.py) belong to the
emulation's probes; the controller never plans, counts or removes them.

Control-plane floods: nothing from a tenant port reaches the controller but its ARP, and that
through a meter of its own per tenant port (ARP_KBPS: some 200 requests a second, far over
what hosts resolving their neighbours send), so a host flooding at line rate costs the
controller a few hundred packet-ins a second at most and takes nothing from other ports.
LLDP is taken from span ports only: a host's LLDP is dropped in the switch.

Isolation: a tenant's frames enter only through its own port, and only flows that match
that port and the tenant's own addresses take them in; label flows match the span port
they arrive on, so a host cannot inject a labelled frame. Anything else is dropped.

Labels are fabric-wide and per direction of a route: moving an intent allocates new labels,
so the new path's flows can be installed beside the old ones before the ingress flow flips.
"""

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from topologies.model import addressing as addr
from topologies.model.fabric import Fabric, Site, Tenant

ETH_LLDP = 0x88CC
ETH_ARP = 0x0806
ETH_IPV4 = 0x0800
ETH_MPLS = 0x8847
CONTROLLER = 'controller'  # an output to the controller
IN_PORT = 'in_port'  # an output back out the port the packet came in on

PRIO_BOUNCE = 60001
PRIO_LLDP = 60000
PRIO_ARP = 50000
PRIO_INGRESS = 40000
PRIO_LABEL = 30000
PRIO_DROP = 0

COOKIE_KIND_SHIFT = 48
COOKIE_BASE = 0x4E43 << COOKIE_KIND_SHIFT  # 'NC': the controller's own flows
COOKIE_INTENT = 0x4E49 << COOKIE_KIND_SHIFT  # 'NI' | intent number
COOKIE_MEASURE = 0x4E4D << COOKIE_KIND_SHIFT  # 'NM': the emulation's probes; never ours
COOKIE_KIND_MASK = 0xFFFF << COOKIE_KIND_SHIFT

# A tenant port's control meter polices its ARP to the controller. Its id is at the top of
# the meter ids (intents' ingress meters take their intent number, from 1 up).
ARP_KBPS, ARP_BURST_KBITS = 100, 50
CONTROL_METER_BASE = 0xFFFF0000 - 256  # + tenant number (< 256); OFPM_MAX is 0xffff0000

LLDP_MAC = '01:80:c2:00:00:0e'  # LLDP's nearest-bridge group address
# A probe sent to this address is turned back where it came in, by the switch's fast path (the
# bounce flow), readdressed to LLDP_MAC so that the switch it returns to hands it to us: it
# times the switch's forwarding, which a tenant's frame pays at every switch of its path.
BOUNCE_MAC = '02:6e:62:6f:75:6e'  # locally administered: 'nboun'

FIRST_LABEL = 16  # 0-15 are reserved by MPLS
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
    meter: int | None = None
    table: int = 0

    @property
    def key(self) -> tuple:
        """What identifies the entry in a switch: adding a flow with the same key replaces it."""
        return (self.dpid, self.table, self.priority, self.match)

    @property
    def is_ingress(self) -> bool:
        return self.priority == PRIO_INGRESS


@dataclass(frozen=True)
class Meter:
    """A drop meter: traffic above `rate_kbps` (beyond a burst of `burst_kbits`) is dropped."""

    dpid: int
    meter_id: int
    rate_kbps: int
    burst_kbits: int


@dataclass(frozen=True)
class Group:
    """A fast-failover group: a packet takes the first bucket whose watched port is live.
    `buckets` is a tuple of (watch port, actions). Its id is the label of the route
    direction it serves, so a moved route gets new groups beside the old ones."""

    dpid: int
    group_id: int
    buckets: tuple


@dataclass(frozen=True)
class Route:
    """Where an installed intent's traffic goes: the path's sites from src to dst, and one
    label per direction (forward src -> dst, reverse dst -> src). A protected route also has
    a backup path and four more labels: backup forward and reverse, crankback forward and
    reverse."""

    intent_number: int
    tenant: str
    sites: tuple
    label_fwd: int
    label_rev: int
    rate_kbps: int  # the emulated rate each ingress meter lets through
    burst_kbits: int
    src_prefixes: tuple = ()  # (address, netmask) pairs within the tenant's subnets at
    dst_prefixes: tuple = ()  # the two ends; empty: the whole site subnet
    backup: tuple = ()  # sites of the backup path, span-disjoint from `sites`
    backup_labels: tuple = ()  # (backup fwd, backup rev, crankback fwd, crankback rev)

    def __post_init__(self) -> None:
        for sites in (self.sites, self.backup) if self.backup else (self.sites,):
            if len(sites) < 2 or len(set(sites)) != len(sites):
                raise ValueError(f'a route needs two or more distinct sites, got {sites}')
        labels = self.labels
        for label in labels:
            if not FIRST_LABEL <= label <= LAST_LABEL:
                raise ValueError(f'label {label} outside {FIRST_LABEL}..{LAST_LABEL}')
        if len(set(labels)) != len(labels):
            raise ValueError(f"a route's labels must differ, got {labels}")
        if bool(self.backup) != bool(self.backup_labels) or len(self.backup_labels) not in (0, 4):
            raise ValueError('a backup path needs its four labels, and only it')
        if self.backup and (self.backup[0], self.backup[-1]) != (self.sites[0], self.sites[-1]):
            raise ValueError(f'backup {self.backup} does not join the ends of {self.sites}')
        if self.intent_number <= 0 or self.intent_number >= 1 << COOKIE_KIND_SHIFT:
            raise ValueError(f'intent number {self.intent_number} out of range')

    @property
    def labels(self) -> tuple[int, ...]:
        return (self.label_fwd, self.label_rev) + tuple(self.backup_labels)


# What a route puts in the switches, and what every switch should hold:
RouteFlows = tuple[list[Flow], list[Meter], list[Group]]
Tables = tuple[dict[tuple, Flow], dict[int, Meter], dict[int, Group]]  # flows by key, meters, groups by id
Plan = dict[int, Tables]  # by dpid


def intent_cookie(intent_number: int) -> int:
    return COOKIE_INTENT | intent_number


def is_ours(cookie: int) -> bool:
    """Flows the controller reconciles: everything but the emulation's measurement flows."""
    return cookie & COOKIE_KIND_MASK != COOKIE_MEASURE


def match(**fields: Any) -> tuple:
    return tuple(sorted(fields.items()))


def prefix_match(cidr: str) -> tuple[str, str]:
    """An IPv4 prefix as a masked match value: '10.1.2.0/25' -> ('10.1.2.0', '255.255.255.128')."""
    network = ipaddress.IPv4Network(cidr)
    return (str(network.network_address), str(network.netmask))


def site_prefix(tenant: Tenant, site: Site) -> tuple[str, str]:
    return prefix_match(addr.site_subnet(tenant, site))


def control_meter_id(tenant: Tenant) -> int:
    return CONTROL_METER_BASE + tenant.number


def base_tables(fabric: Fabric, site_id: str) -> tuple[list[Flow], list[Meter]]:
    """What a site switch holds with no intent at all: flows and the tenant ports' control meters."""
    dpid = addr.dpid(fabric.sites[site_id])
    flows, meters = [Flow(dpid, PRIO_DROP, ())], []
    for span in fabric.spans_of(site_id):  # only from a span: a host's frame is never turned back
        port = addr.span_port(fabric, site_id, span.other(site_id))
        flows.append(Flow(dpid, PRIO_LLDP, match(in_port=port, eth_type=ETH_LLDP), (('output', CONTROLLER),)))
        flows.append(
            Flow(
                dpid,
                PRIO_BOUNCE,
                match(in_port=port, eth_type=ETH_LLDP, eth_dst=BOUNCE_MAC),
                (('set_field', ('eth_dst', LLDP_MAC)), ('output', IN_PORT)),
            )
        )
    for tenant in fabric.tenants.values():
        if site_id in tenant.sites:
            meter = Meter(dpid, control_meter_id(tenant), ARP_KBPS, ARP_BURST_KBITS)
            meters.append(meter)
            flows.append(
                Flow(
                    dpid,
                    PRIO_ARP,
                    match(in_port=addr.tenant_port(tenant), eth_type=ETH_ARP),
                    (('output', CONTROLLER),),
                    meter=meter.meter_id,
                )
            )
    return flows, meters


def route_flows(fabric: Fabric, route: Route) -> RouteFlows:
    """Flows, meters and groups of one route, both directions: ingress at each end, label
    flows on every switch after it; for a protected route also the backup and crankback."""
    out: RouteFlows = ([], [], [])
    tenant = fabric.tenants[route.tenant]
    ends = [
        route.src_prefixes or (site_prefix(tenant, fabric.sites[route.sites[0]]),),
        route.dst_prefixes or (site_prefix(tenant, fabric.sites[route.sites[-1]]),),
    ]
    if route.backup:
        backup_fwd, backup_rev, crank_fwd, crank_rev = route.backup_labels
        _direction(
            fabric, route, route.sites, route.label_fwd, ends, out, (route.backup, backup_fwd, crank_fwd)
        )
        _direction(
            fabric,
            route,
            route.sites[::-1],
            route.label_rev,
            ends[::-1],
            out,
            (route.backup[::-1], backup_rev, crank_rev),
        )
    else:
        _direction(fabric, route, route.sites, route.label_fwd, ends, out)
        _direction(fabric, route, route.sites[::-1], route.label_rev, ends[::-1], out)
    return out


def _direction(
    fabric: Fabric,
    route: Route,
    sites: tuple[str, ...],
    label: int,
    ends: list,
    out: RouteFlows,
    protection: tuple | None = None,
) -> None:
    """One direction of a route; `protection` is (backup sites, backup label, crankback label)."""
    flows, meters, groups = out
    tenant = fabric.tenants[route.tenant]
    dpid = [addr.dpid(fabric.sites[s]) for s in sites]
    cookie = intent_cookie(route.intent_number)
    port = addr.tenant_port(tenant)

    def span_port(i: int, j: int) -> int:  # the port of sites[i] towards sites[j]
        return addr.span_port(fabric, sites[i], sites[j])

    def push(label_: int) -> tuple:
        return (('push_mpls', ETH_MPLS), ('set_field', ('mpls_label', label_)))

    meter_id = route.intent_number  # one ingress per intent per switch: the ends differ
    meters.append(Meter(dpid[0], meter_id, route.rate_kbps, route.burst_kbits))
    if protection is None:
        ingress: tuple = push(label) + (('output', span_port(0, 1)),)
    else:
        backup, backup_label, crank_label = protection
        first_backup = addr.span_port(fabric, backup[0], backup[1])
        groups.append(
            Group(
                dpid[0],
                label,
                (
                    (span_port(0, 1), push(label) + (('output', span_port(0, 1)),)),
                    (first_backup, push(backup_label) + (('output', first_backup),)),
                ),
            )
        )
        ingress = (('group', label),)
        # Crankback comes home over the primary's first span and joins the backup.
        flows.append(
            Flow(
                dpid[0],
                PRIO_LABEL,
                match(in_port=span_port(0, 1), eth_type=ETH_MPLS, mpls_label=crank_label),
                (('set_field', ('mpls_label', backup_label)), ('output', first_backup)),
                cookie,
            )
        )
        _label_path(fabric, backup, backup_label, port, cookie, flows)
    for from_prefix in ends[0]:  # every pair shares the intent's one meter
        for to_prefix in ends[1]:
            flows.append(
                Flow(
                    dpid[0],
                    PRIO_INGRESS,
                    match(in_port=port, eth_type=ETH_IPV4, ipv4_src=from_prefix, ipv4_dst=to_prefix),
                    ingress,
                    cookie,
                    meter=meter_id,
                )
            )
    if protection is None:
        _label_path(fabric, sites, label, port, cookie, flows)
        return
    for i in range(1, len(sites)):
        back = span_port(i, i - 1)
        if i + 1 == len(sites):
            actions: tuple = (('pop_mpls', ETH_IPV4), ('output', port))
        else:
            ahead = span_port(i, i + 1)
            groups.append(
                Group(
                    dpid[i],
                    label,
                    (
                        (ahead, (('output', ahead),)),
                        (back, (('set_field', ('mpls_label', crank_label)), ('output', IN_PORT))),
                    ),
                )
            )
            actions = (('group', label),)
            # Crankback from further along goes on towards the ingress.
            flows.append(
                Flow(
                    dpid[i],
                    PRIO_LABEL,
                    match(in_port=ahead, eth_type=ETH_MPLS, mpls_label=crank_label),
                    (('output', back),),
                    cookie,
                )
            )
        flows.append(
            Flow(
                dpid[i], PRIO_LABEL, match(in_port=back, eth_type=ETH_MPLS, mpls_label=label), actions, cookie
            )
        )


def _label_path(
    fabric: Fabric, sites: tuple[str, ...], label: int, port: int, cookie: int, flows: list[Flow]
) -> None:
    """Label flows along a path after its ingress: transit, then pop at the egress."""
    for i in range(1, len(sites)):
        here, came_from = sites[i], sites[i - 1]
        if i + 1 < len(sites):
            actions: tuple = (('output', addr.span_port(fabric, here, sites[i + 1])),)
        else:
            actions = (('pop_mpls', ETH_IPV4), ('output', port))
        flows.append(
            Flow(
                addr.dpid(fabric.sites[here]),
                PRIO_LABEL,
                match(in_port=addr.span_port(fabric, here, came_from), eth_type=ETH_MPLS, mpls_label=label),
                actions,
                cookie,
            )
        )


def plan(fabric: Fabric, routes: Iterable[Route], cache: dict | None = None) -> Plan:
    """The whole fabric's plan: {dpid: (flows by key, meters by id, groups by id)}. `cache`
    (a dict kept by the caller) remembers each route's flows, so a re-plan only computes
    new routes."""
    tables: Plan = {}
    for site_id, site in fabric.sites.items():
        flows, meters = base_tables(fabric, site_id)
        tables[addr.dpid(site)] = ({f.key: f for f in flows}, {m.meter_id: m for m in meters}, {})
    fresh = {}
    for route in routes:
        flows, meters, groups = fresh[route] = (cache or {}).get(route) or route_flows(fabric, route)
        for flow in flows:
            entries = tables[flow.dpid][0]
            if flow.key in entries:
                raise ValueError(f'route of intent {route.intent_number} collides with {entries[flow.key]}')
            entries[flow.key] = flow
        for meter in meters:
            tables[meter.dpid][1][meter.meter_id] = meter
        for group in groups:
            tables[group.dpid][2][group.group_id] = group
    if cache is not None:
        cache.clear()
        cache.update(fresh)
    return tables
