"""controller.southbound.ofmsg: every planned message serializes, and reads back as planned."""

import struct
from types import SimpleNamespace

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from controller.core import reconcile
from controller.core.controller import Controller
from controller.core.reconcile import GROUP_OPS, METER_OPS, Op
from controller.southbound import ofmsg
from topologies.model.fabric import load_fabric
from topologies.model.order import Order

DP = SimpleNamespace(ofproto=ofp, ofproto_parser=parser, id=1, xid=0)


def planned():
    core = Controller(load_fabric('lumen-qts'))
    core.create(Order('acme', 'phx1', 'iad1', 40, max_latency_ms=40), now=1)
    core.create(Order('acme', 'dfw1', 'pdx1', 10, protection='PROTECTED'), now=1)
    return core.plan()


def test_every_planned_message_serializes():
    changes = reconcile.diff_all(planned(), {})
    count = 0
    for phase in changes.phases.values():
        for _dpid, ops in phase.items():
            for op, item in ops:
                msg = ofmsg.change(DP, op, item)
                msg.set_xid(count + 1)
                msg.serialize()
                assert len(msg.buf) >= 16
                count += 1
    assert count > 100
    assert {op for phase in changes.phases.values() for ops in phase.values() for op, _ in ops} == {
        Op.ADD_METER,
        Op.ADD_GROUP,
        Op.ADD_FLOW,
    }
    for op in METER_OPS:
        meter = next(m for _, meters, _ in planned().values() for m in meters.values())
        ofmsg.meter_mod(DP, meter, op).serialize()
    for op in GROUP_OPS:
        group = next(g for _, _, groups in planned().values() for g in groups.values())
        ofmsg.group_mod(DP, group, op).serialize()


def test_flows_read_back_from_stats_equal_the_plan():
    groups_seen = 0
    for dpid, (flows, meters, groups) in planned().items():
        for flow in flows.values():
            mod = ofmsg.flow_add(DP, flow)
            stat = parser.OFPFlowStats(
                table_id=mod.table_id,
                priority=mod.priority,
                cookie=mod.cookie,
                match=mod.match,
                instructions=mod.instructions,
            )
            assert ofmsg.flow_from_stats(dpid, stat, ofp) == flow
        for meter in meters.values():
            mod = ofmsg.meter_mod(DP, meter, Op.ADD_METER)
            config = parser.OFPMeterConfigStats(flags=mod.flags, meter_id=mod.meter_id, bands=mod.bands)
            assert ofmsg.meter_from_stats(dpid, config) == meter
        for group in groups.values():
            mod = ofmsg.group_mod(DP, group, Op.ADD_GROUP)
            mod.set_xid(1)
            mod.serialize()  # its buckets through the wire format, as a switch reports them
            buckets = bytes(mod.buf[ofp.OFP_GROUP_MOD_SIZE :])
            wire = (
                struct.pack('!HBxI', ofp.OFP_GROUP_DESC_STATS_SIZE + len(buckets), mod.type, mod.group_id)
                + buckets
            )
            desc = parser.OFPGroupDescStats.parser(wire, 0)
            assert ofmsg.group_from_stats(dpid, desc, ofp) == group
            groups_seen += 1
    assert groups_seen > 0


def test_a_flow_with_unknown_instructions_differs_from_any_plan():
    flow = next(f for (f,) in [(f,) for fl_, _, _ in planned().values() for f in fl_.values()] if f.meter)
    mod = ofmsg.flow_add(DP, flow)
    extra = mod.instructions + [parser.OFPInstructionGotoTable(1)]
    stat = parser.OFPFlowStats(
        table_id=0, priority=flow.priority, cookie=flow.cookie, match=mod.match, instructions=extra
    )
    assert ofmsg.flow_from_stats(flow.dpid, stat, ofp) != flow
