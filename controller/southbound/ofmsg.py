"""Planned flows and meters (controller.core.flows) to OpenFlow 1.3 messages, and what a
switch reports back to the same plain data, so the plan and the switch compare as equals.

Messages are built for a datapath (os-ken needs its ofproto modules); nothing here sends.
"""

from controller.core import flows as fl
from controller.core.reconcile import METER_OPS, Op

ALL_COOKIES = 0xFFFFFFFFFFFFFFFF


def flow_add(dp, flow):
    """Add a flow, replacing one with the same table, priority and match."""
    p, o = dp.ofproto_parser, dp.ofproto
    instructions = []
    if flow.meter is not None:
        instructions.append(p.OFPInstructionMeter(flow.meter, o.OFPIT_METER))
    if flow.actions:
        instructions.append(
            p.OFPInstructionActions(o.OFPIT_APPLY_ACTIONS, [_action(dp, a) for a in flow.actions])
        )
    return p.OFPFlowMod(
        dp,
        cookie=flow.cookie,
        table_id=flow.table,
        command=o.OFPFC_ADD,
        priority=flow.priority,
        match=p.OFPMatch(**dict(flow.match)),
        instructions=instructions,
    )


def flow_delete(dp, flow):
    """Delete exactly this flow (strict: same priority and match, and its cookie)."""
    p, o = dp.ofproto_parser, dp.ofproto
    return p.OFPFlowMod(
        dp,
        cookie=flow.cookie,
        cookie_mask=ALL_COOKIES,
        table_id=flow.table,
        command=o.OFPFC_DELETE_STRICT,
        priority=flow.priority,
        out_port=o.OFPP_ANY,
        out_group=o.OFPG_ANY,
        match=p.OFPMatch(**dict(flow.match)),
    )


def meter_mod(dp, meter, op):
    """op: Op.ADD_METER, MODIFY_METER or DELETE_METER."""
    p, o = dp.ofproto_parser, dp.ofproto
    code = {Op.ADD_METER: o.OFPMC_ADD, Op.MODIFY_METER: o.OFPMC_MODIFY, Op.DELETE_METER: o.OFPMC_DELETE}[op]
    bands = (
        []
        if op is Op.DELETE_METER
        else [p.OFPMeterBandDrop(rate=meter.rate_kbps, burst_size=meter.burst_kbits)]
    )
    return p.OFPMeterMod(
        dp, command=code, flags=o.OFPMF_KBPS | o.OFPMF_BURST, meter_id=meter.meter_id, bands=bands
    )


def group_mod(dp, group, op):
    """op: Op.ADD_GROUP, MODIFY_GROUP or DELETE_GROUP; groups are fast-failover."""
    p, o = dp.ofproto_parser, dp.ofproto
    code = {Op.ADD_GROUP: o.OFPGC_ADD, Op.MODIFY_GROUP: o.OFPGC_MODIFY, Op.DELETE_GROUP: o.OFPGC_DELETE}[op]
    buckets = (
        []
        if op is Op.DELETE_GROUP
        else [
            p.OFPBucket(watch_port=port, actions=[_action(dp, a) for a in actions])
            for port, actions in group.buckets
        ]
    )
    return p.OFPGroupMod(dp, command=code, type_=o.OFPGT_FF, group_id=group.group_id, buckets=buckets)


def change(dp, op, item):
    """The message for one (Op, item) of reconcile.Changes."""
    if op is Op.ADD_FLOW:
        return flow_add(dp, item)
    if op is Op.DELETE_FLOW:
        return flow_delete(dp, item)
    if op in METER_OPS:
        return meter_mod(dp, item, op)
    return group_mod(dp, item, op)


def flow_stats_request(dp):
    p, o = dp.ofproto_parser, dp.ofproto
    return p.OFPFlowStatsRequest(dp, table_id=o.OFPTT_ALL, out_port=o.OFPP_ANY, out_group=o.OFPG_ANY)


def meter_stats_request(dp):
    """Every meter's counters (telemetry: intents' ingress meters)."""
    return dp.ofproto_parser.OFPMeterStatsRequest(dp, 0, dp.ofproto.OFPM_ALL)


def egress_flow_stats_request(dp, tenant_port):
    """The counters of intents' flows (their cookie kind) that output to a tenant's port:
    their egress flows only, for telemetry (a switch's transit and ingress flows are most of
    its flows, and parsing each costs the controller some 25 us)."""
    p, o = dp.ofproto_parser, dp.ofproto
    return p.OFPFlowStatsRequest(
        dp,
        table_id=o.OFPTT_ALL,
        out_port=tenant_port,
        out_group=o.OFPG_ANY,
        cookie=fl.COOKIE_INTENT,
        cookie_mask=fl.COOKIE_KIND_MASK,
    )


def meter_counters(body):
    """Intents' meters as plain data: (meter id, bytes in, bytes and frames its bands
    dropped, age ns); the tenant ports' control meters are left out."""
    return [
        (
            m.meter_id,
            m.byte_in_count,
            sum(b.byte_band_count for b in m.band_stats),
            sum(b.packet_band_count for b in m.band_stats),
            m.duration_sec * 10**9 + m.duration_nsec,
        )
        for m in body
        if m.meter_id < fl.CONTROL_METER_BASE
    ]


def egress_counters(body, ofproto):
    """Intents' egress flows (those that pop the label for the tenant port) as plain data:
    (cookie, label, bytes out, age ns)."""
    return [
        (s.cookie, s.match['mpls_label'], s.byte_count, s.duration_sec * 10**9 + s.duration_nsec)
        for s in body
        if s.cookie & fl.COOKIE_KIND_MASK == fl.COOKIE_INTENT
        and 'mpls_label' in s.match
        and any(
            a.type == ofproto.OFPAT_POP_MPLS
            for inst in s.instructions
            if inst.type == ofproto.OFPIT_APPLY_ACTIONS
            for a in inst.actions
        )
    ]


def meter_config_request(dp):
    p, o = dp.ofproto_parser, dp.ofproto
    return p.OFPMeterConfigStatsRequest(dp, meter_id=o.OFPM_ALL)


def group_desc_request(dp):
    return dp.ofproto_parser.OFPGroupDescStatsRequest(dp, 0)


def packet_out(dp, port, data, in_port=None):
    p, o = dp.ofproto_parser, dp.ofproto
    return p.OFPPacketOut(
        dp,
        buffer_id=o.OFP_NO_BUFFER,
        in_port=o.OFPP_CONTROLLER if in_port is None else in_port,
        actions=[p.OFPActionOutput(port)],
        data=data,
    )


def flow_from_stats(dpid, stat, ofproto):
    """A switch's flow entry as a core Flow (unknown instructions make it differ from any plan)."""
    meter, actions = None, []
    for inst in stat.instructions:
        if inst.type == ofproto.OFPIT_METER:
            meter = inst.meter_id
        elif inst.type == ofproto.OFPIT_APPLY_ACTIONS:
            actions.extend(_from_action(a, ofproto) for a in inst.actions)
        else:
            actions.append(('instruction', inst.type))
    return fl.Flow(
        dpid,
        stat.priority,
        tuple(sorted(_match_items(stat.match))),
        tuple(actions),
        stat.cookie,
        meter,
        stat.table_id,
    )


def meter_from_stats(dpid, config):
    bands = config.bands
    if len(bands) != 1 or bands[0].type != 1:  # OFPMBT_DROP
        return fl.Meter(dpid, config.meter_id, -1, -1)
    return fl.Meter(dpid, config.meter_id, bands[0].rate, bands[0].burst_size)


def group_from_stats(dpid, desc, ofproto):
    """A switch's group as a core Group (a group of another type differs from any plan)."""
    buckets = tuple((b.watch_port, tuple(_from_action(a, ofproto) for a in b.actions)) for b in desc.buckets)
    if desc.type != ofproto.OFPGT_FF:
        buckets += (('type', desc.type),)
    return fl.Group(dpid, desc.group_id, buckets)


def _match_items(match):
    for name, value in match.items():
        yield name, tuple(value) if isinstance(value, list) else value


def _action(dp, action):
    p, o = dp.ofproto_parser, dp.ofproto
    name, arg = action
    if name == 'output':
        if arg == fl.CONTROLLER:
            return p.OFPActionOutput(o.OFPP_CONTROLLER, o.OFPCML_NO_BUFFER)
        if arg == fl.IN_PORT:
            return p.OFPActionOutput(o.OFPP_IN_PORT)
        return p.OFPActionOutput(arg)
    if name == 'group':
        return p.OFPActionGroup(arg)
    if name == 'push_mpls':
        return p.OFPActionPushMpls(arg)
    if name == 'pop_mpls':
        return p.OFPActionPopMpls(arg)
    if name == 'set_field':
        field, value = arg
        return p.OFPActionSetField(**{field: value})
    raise ValueError(f'unknown action {action!r}')


def _from_action(action, ofproto):
    if action.type == ofproto.OFPAT_OUTPUT:
        special = {ofproto.OFPP_CONTROLLER: fl.CONTROLLER, ofproto.OFPP_IN_PORT: fl.IN_PORT}
        return ('output', special.get(action.port, action.port))
    if action.type == ofproto.OFPAT_GROUP:
        return ('group', action.group_id)
    if action.type == ofproto.OFPAT_PUSH_MPLS:
        return ('push_mpls', action.ethertype)
    if action.type == ofproto.OFPAT_POP_MPLS:
        return ('pop_mpls', action.ethertype)
    if action.type == ofproto.OFPAT_SET_FIELD:
        return ('set_field', (action.key, action.value))
    return ('action', action.type)
