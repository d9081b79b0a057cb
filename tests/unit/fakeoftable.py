"""A fake OpenFlow 1.3 fabric: applies the controller's planned changes to one table per
switch and answers where a packet goes (after faucet's clib/fakeoftable.py).

It behaves like Open vSwitch where the plan depends on it: adding a flow whose key exists
replaces it; a flow that names a missing meter or group is rejected; deleting a meter or a
group deletes the flows that use it; a fast-failover group takes its first bucket whose
watched port is live (a span port is dead while its span is in `down`). Packets are dicts of
header fields (in_port set by `send`); an MPLS stack is a list of labels, top last.
"""

import ipaddress

from controller.core import flows as fl
from controller.core import reconcile
from controller.core.reconcile import Op, Phase
from topologies.model import addressing as addr


class Rejected(Exception):
    pass


class FakeFabric:
    def __init__(self, fabric):
        self.fabric = fabric
        self.sites_by_dpid = {addr.dpid(s): s for s in fabric.sites.values()}
        self.tables = {dpid: {} for dpid in self.sites_by_dpid}  # dpid -> key -> Flow
        self.meters = {dpid: {} for dpid in self.sites_by_dpid}  # dpid -> id -> Meter
        self.groups = {dpid: {} for dpid in self.sites_by_dpid}  # dpid -> id -> Group
        self.down = set()  # span ids cut

    # --- applying changes -------------------------------------------------------------------

    def apply(self, changes, phases=tuple(Phase)):
        for phase in phases:
            for dpid, ops in changes.phases[phase].items():
                for op, item in ops:
                    self.apply_one(dpid, op, item)

    def apply_one(self, dpid, op, item):
        """What the switch holds after the change (reconcile.apply), once past the rejections
        Open vSwitch makes."""
        meters, groups = self.meters[dpid], self.groups[dpid]
        if op in (Op.ADD_METER, Op.MODIFY_METER) and (op is Op.ADD_METER) == (item.meter_id in meters):
            raise Rejected(f'{op.value} {item.meter_id} on {dpid}: meter exists={item.meter_id in meters}')
        if op in (Op.ADD_GROUP, Op.MODIFY_GROUP) and (op is Op.ADD_GROUP) == (item.group_id in groups):
            raise Rejected(f'{op.value} {item.group_id} on {dpid}: group exists={item.group_id in groups}')
        if op is Op.ADD_FLOW:
            if item.meter is not None and item.meter not in meters:
                raise Rejected(f'flow on {dpid} uses meter {item.meter}, not there')
            missing = [arg for name, arg in item.actions if name == 'group' and arg not in groups]
            if missing:
                raise Rejected(f'flow on {dpid} uses group {missing[0]}, not there')
        reconcile.apply((self.tables[dpid], meters, groups), op, item)

    def installed(self):
        return {
            dpid: (dict(self.tables[dpid]), dict(self.meters[dpid]), dict(self.groups[dpid]))
            for dpid in self.tables
        }

    # --- packets --------------------------------------------------------------------------

    def send_ipv4(self, tenant_id, site_id, dst_ip, src_ip=None):
        """An IPv4 packet from the tenant's host at a site; src defaults to the host's own."""
        tenant, site = self.fabric.tenants[tenant_id], self.fabric.sites[site_id]
        packet = {
            'eth_type': fl.ETH_IPV4,
            'ipv4_src': src_ip or addr.host_ip(tenant, site),
            'ipv4_dst': dst_ip,
            'mpls': [],
        }
        return self.send(site_id, addr.tenant_port(tenant), packet)

    def send(self, site_id, in_port, packet, max_hops=64):
        """Where the packet ends: ('host', tenant id, site id), ('probe', site id),
        ('controller', site id) or ('drop', site id); and the sites it crossed."""
        site = self.fabric.sites[site_id]
        crossed = [site.id]
        for _ in range(max_hops):
            packet = dict(packet, in_port=in_port, mpls=list(packet.get('mpls', [])))
            flow = self.lookup(addr.dpid(site), packet)
            if flow is None:
                return ('drop', site.id), crossed
            out = None
            actions = list(flow.actions)
            while actions:
                name, arg = actions.pop(0)
                if name == 'group':
                    bucket = next(
                        (b for b in self.groups[addr.dpid(site)][arg].buckets if self._live(site.id, b[0])),
                        None,
                    )
                    if bucket is None:
                        return ('drop', site.id), crossed
                    actions[:0] = bucket[1]
                elif name == 'push_mpls':
                    packet['mpls'].append(0)
                elif name == 'pop_mpls':
                    packet['mpls'].pop()
                elif name == 'set_field':
                    field, value = arg
                    if field == 'mpls_label':
                        packet['mpls'][-1] = value
                    else:
                        packet[field] = value
                elif name == 'output':
                    out = in_port if arg == fl.IN_PORT else arg
            if out is None:
                return ('drop', site.id), crossed
            if out == fl.CONTROLLER:
                return ('controller', site.id), crossed
            if out == addr.PROBE_PORT:
                return ('probe', site.id), crossed
            if out > addr.TENANT_PORT_BASE:
                tenant = next(t for t in self.fabric.tenants.values() if addr.tenant_port(t) == out)
                return ('host', tenant.id, site.id), crossed
            peer_id = addr.span_peer(self.fabric, site.id, out)
            if peer_id is None or self.fabric.span(site.id, peer_id).id in self.down:
                return ('drop', site.id), crossed
            in_port, site = addr.span_port(self.fabric, peer_id, site.id), self.fabric.sites[peer_id]
            crossed.append(site.id)
        raise AssertionError(f'loop: {crossed}')

    def _live(self, site_id, port):
        peer_id = addr.span_peer(self.fabric, site_id, port)
        return peer_id is None or self.fabric.span(site_id, peer_id).id not in self.down

    def lookup(self, dpid, packet):
        best = None
        for flow in self.tables[dpid].values():
            if _matches(flow.match, packet) and (best is None or flow.priority > best.priority):
                best = flow
        return best


def _matches(match, packet):
    eth_type = fl.ETH_MPLS if packet['mpls'] else packet.get('eth_type')
    for name, want in match:
        if name == 'eth_type':
            have = eth_type
        elif name == 'mpls_label':
            have = packet['mpls'][-1] if packet['mpls'] else None
        elif name in ('ipv4_src', 'ipv4_dst') and eth_type == fl.ETH_IPV4:
            value, mask = want if isinstance(want, tuple) else (want, '255.255.255.255')
            net = ipaddress.IPv4Network(f'{value}/{mask}', strict=False)
            if ipaddress.IPv4Address(packet[name]) not in net:
                return False
            continue
        else:
            have = packet.get(name)
        if have != want:
            return False
    return True
