"""The LLDP probes the controller sends out of every span port: the frame that comes back in
(as a packet-in from the switch at the far end of the span) says which span it crossed, and its
send timestamp gives the span's one-way delay (see controller.core.measurement).

Layout, compatible with os-ken's own `LLDPPacket`: chassis id `dpid:%016x` (locally assigned),
port id the port number in decimal (subtype locally assigned, so os-ken's parser rejects our
frames with the `LLDPUnknownFormat` its Switches app ignores, instead of misreading them), a TTL,
and one organizationally specific TLV with the send time (u64 ns) and the controller instance
(u32), so that frames still in flight from a previous controller run are not taken as samples.

`sent_ns` is opaque to the switches: only this controller reads it back, so the shim stamps
sending and receiving with one monotonic clock.
"""

import re
import struct
from dataclasses import dataclass

from os_ken.lib.packet import ethernet, lldp, packet

from controller.core.flows import BOUNCE_MAC

ETH_TYPE_LLDP = 0x88CC
TTL_S = 120  # what os-ken sends too; nothing keeps our probes that long
OUI = b'\x02na'  # locally administered (U/L bit set): ours, not a vendor's
SUBTYPE_PROBE = 1
SUBTYPE_BOUNCE = 2  # sent to flows.BOUNCE_MAC: the neighbour turns it back (see flows.PRIO_BOUNCE)
_PROBE = struct.Struct('!QI')  # sent_ns, instance
_CHASSIS = re.compile(rb'dpid:([0-9a-f]{16})')
_PORT = re.compile(rb'[0-9]{1,10}')


@dataclass(frozen=True)
class Probe:
    """Where a probe was sent from (switch, span port) and when (controller clock, ns)."""

    dpid: int
    port_no: int
    sent_ns: int
    bounce: bool = False  # turned back by the switch at the far end of the span


def build(dpid: int, port_no: int, sent_ns: int, instance: int, src_mac: str, bounce: bool = False) -> bytes:
    """The probe to send out of `port_no` of switch `dpid`; with `bounce`, addressed so that
    the switch at the far end turns it back (it comes in again at `dpid`, `port_no`)."""
    for name, value, bits in (
        ('dpid', dpid, 64),
        ('port_no', port_no, 32),
        ('sent_ns', sent_ns, 64),
        ('instance', instance, 32),
    ):
        if not 0 <= value < 1 << bits:
            raise ValueError(f'{name} must fit in {bits} unsigned bits, got {value}')
    pkt = packet.Packet()
    dst = BOUNCE_MAC if bounce else lldp.LLDP_MAC_NEAREST_BRIDGE
    pkt.add_protocol(ethernet.ethernet(dst, src_mac, ETH_TYPE_LLDP))
    pkt.add_protocol(
        lldp.lldp(
            [
                lldp.ChassisID(subtype=lldp.ChassisID.SUB_LOCALLY_ASSIGNED, chassis_id=b'dpid:%016x' % dpid),
                lldp.PortID(subtype=lldp.PortID.SUB_LOCALLY_ASSIGNED, port_id=b'%d' % port_no),
                lldp.TTL(ttl=TTL_S),
                lldp.OrganizationallySpecific(
                    oui=OUI,
                    subtype=SUBTYPE_BOUNCE if bounce else SUBTYPE_PROBE,
                    info=_PROBE.pack(sent_ns, instance),
                ),
                lldp.End(),
            ]
        )
    )
    pkt.serialize()
    return bytes(pkt.data)


def parse(data: bytes, instance: int) -> Probe | None:
    """The probe in `data`, or None for anything else: not LLDP, another speaker's LLDP,
    a previous controller run's probe, truncated or garbage bytes. Never raises: packet-in
    data comes from the network.

    os-ken validates LLDP with `assert` (gone under `python -O`) and, on failure, leaves the
    raw bytes where the lldp object would be, so every field is checked again here.
    """
    try:
        protocols = packet.Packet(data).protocols
    except Exception:  # os-ken's parsers of other protocols raise on garbage
        return None
    if (
        len(protocols) < 2
        or not isinstance(protocols[0], ethernet.ethernet)
        or protocols[0].ethertype != ETH_TYPE_LLDP
        or protocols[0].dst != lldp.LLDP_MAC_NEAREST_BRIDGE
        or not isinstance(protocols[1], lldp.lldp)
    ):
        return None
    tlvs = protocols[1].tlvs
    if (
        len(tlvs) < 5
        or not isinstance(tlvs[0], lldp.ChassisID)
        or not isinstance(tlvs[1], lldp.PortID)
        or not isinstance(tlvs[-1], lldp.End)
        or tlvs[0].subtype != lldp.ChassisID.SUB_LOCALLY_ASSIGNED
        or tlvs[1].subtype != lldp.PortID.SUB_LOCALLY_ASSIGNED
    ):
        return None
    chassis = _CHASSIS.fullmatch(bytes(tlvs[0].chassis_id))
    port = _PORT.fullmatch(bytes(tlvs[1].port_id))
    stamp = next(
        (
            (bytes(t.info), t.subtype == SUBTYPE_BOUNCE)
            for t in tlvs
            if isinstance(t, lldp.OrganizationallySpecific)
            and t.oui == OUI
            and t.subtype in (SUBTYPE_PROBE, SUBTYPE_BOUNCE)
        ),
        None,
    )
    if not chassis or not port or stamp is None or len(stamp[0]) != _PROBE.size:
        return None
    probe, bounce = stamp
    port_no = int(port.group())
    sent_ns, sender = _PROBE.unpack(probe)
    if sender != instance or port_no >= 1 << 32:
        return None
    return Probe(int(chassis.group(1), 16), port_no, sent_ns, bounce)
