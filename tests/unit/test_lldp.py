"""controller.southbound.lldp: probes round-trip, and anything else (another controller run,
another LLDP speaker, truncated or random bytes) parses as None without raising."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from os_ken.lib.packet import ethernet, packet
from os_ken.lib.packet import lldp as oslldp
from os_ken.topology.switches import LLDPPacket

from controller.core.flows import BOUNCE_MAC
from controller.southbound.lldp import Probe, build, parse

MAC = '02:00:00:00:00:01'
INSTANCE = 0xC0FFEE


def frame(dpid=0x1234, port_no=7, sent_ns=1_700_000_000_123_456_789, instance=INSTANCE):
    return build(dpid, port_no, sent_ns, instance, MAC)


def test_round_trip():
    assert parse(frame(), INSTANCE) == Probe(0x1234, 7, 1_700_000_000_123_456_789)


@given(
    dpid=st.integers(0, 2**64 - 1),
    port_no=st.integers(0, 2**32 - 1),
    sent_ns=st.integers(0, 2**64 - 1),
    instance=st.integers(0, 2**32 - 1),
)
def test_round_trip_full_ranges(dpid, port_no, sent_ns, instance):
    assert parse(build(dpid, port_no, sent_ns, instance, MAC), instance) == Probe(dpid, port_no, sent_ns)


def test_frame_layout():
    eth, body = packet.Packet(frame()).protocols[:2]
    assert (eth.dst, eth.src, eth.ethertype) == ('01:80:c2:00:00:0e', MAC, 0x88CC)
    assert body.tlvs[0].chassis_id == b'dpid:0000000000001234'
    assert body.tlvs[1].port_id == b'7'


def test_probe_from_a_previous_controller_run_is_ignored():
    assert parse(frame(instance=1), 2) is None


@pytest.mark.parametrize(
    'field, value', [('dpid', 2**64), ('port_no', -1), ('sent_ns', 2**64), ('instance', 2**32)]
)
def test_build_rejects_values_that_do_not_fit(field, value):
    with pytest.raises(ValueError, match=field):
        frame(**{field: value})


def test_every_truncation_is_none():
    data = frame()
    assert all(parse(data[:n], INSTANCE) is None for n in range(len(data)))


@given(st.binary(max_size=200))
def test_random_bytes_never_raise(data):
    assert parse(data, INSTANCE) is None


@given(st.data())
def test_corrupted_probe_never_raises(data):
    """Flip bytes of a real probe: os-ken's TLV parsers see plausible but broken TLVs."""
    raw = bytearray(frame())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    result = parse(bytes(raw), INSTANCE)
    assert result is None or isinstance(result, Probe)


def test_os_ken_frames_are_not_probes():
    """os-ken's topology app speaks LLDP too (no timestamp): not a sample for us."""
    assert parse(LLDPPacket.lldp_packet(0x1234, 7, MAC, 0), INSTANCE) is None


def test_os_ken_parser_ignores_probes_quietly():
    """os-ken's Switches app drops LLDPUnknownFormat silently; any other error would be
    logged as a handler crash on every probe."""
    with pytest.raises(LLDPPacket.LLDPUnknownFormat):
        LLDPPacket.lldp_parse(frame())


def lldp_frame(*tlvs, dst=oslldp.LLDP_MAC_NEAREST_BRIDGE):
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst, MAC, 0x88CC))
    pkt.add_protocol(oslldp.lldp(list(tlvs)))
    pkt.serialize()
    return bytes(pkt.data)


def chassis(value=b'dpid:0000000000001234', subtype=oslldp.ChassisID.SUB_LOCALLY_ASSIGNED):
    return oslldp.ChassisID(subtype=subtype, chassis_id=value)


def port(value=b'7', subtype=oslldp.PortID.SUB_LOCALLY_ASSIGNED):
    return oslldp.PortID(subtype=subtype, port_id=value)


STAMP = struct.pack('!QI', 5, INSTANCE)


def stamp(info=STAMP, oui=b'\x02na', subtype=1):
    return oslldp.OrganizationallySpecific(oui=oui, subtype=subtype, info=info)


TTL, END = oslldp.TTL(ttl=120), oslldp.End()


@pytest.mark.parametrize(
    'tlvs',
    [
        (chassis(b'dpid:1234'), port(), TTL, stamp(), END),  # short dpid
        (chassis(b'dpid:0x00000000001234'), port(), TTL, stamp(), END),  # not plain hex
        (chassis(b'mac:000000001234'), port(), TTL, stamp(), END),
        (chassis(subtype=oslldp.ChassisID.SUB_MAC_ADDRESS), port(), TTL, stamp(), END),
        (chassis(), port(b'eth7'), TTL, stamp(), END),
        (chassis(), port(b'4294967296'), TTL, stamp(), END),  # > 32 bits
        (
            chassis(),
            port(struct.pack('!I', 7), oslldp.PortID.SUB_PORT_COMPONENT),
            TTL,
            stamp(),
            END,
        ),  # os-ken's port id
        (chassis(), port(), TTL, END),  # no timestamp
        (chassis(), port(), TTL, stamp(oui=b'\x00\x26\xe1'), END),  # another vendor's
        (chassis(), port(), TTL, stamp(subtype=3), END),
        (chassis(), port(), TTL, stamp(info=b'\x00' * 8), END),  # short timestamp
    ],
    ids=[
        'short-dpid',
        'hex-prefix',
        'not-dpid',
        'chassis-subtype',
        'port-name',
        'port-too-big',
        'os-ken-port',
        'no-stamp',
        'other-oui',
        'other-subtype',
        'short-stamp',
    ],
)
def test_other_lldp_is_none(tlvs):
    assert parse(lldp_frame(*tlvs), INSTANCE) is None


def test_hand_built_probe_parses():
    """The fixtures above differ from a valid probe only in the field under test."""
    assert parse(lldp_frame(chassis(), port(), TTL, stamp(), END), INSTANCE) == Probe(0x1234, 7, 5)


def test_a_bounce_probe_round_trips_and_says_so():
    frame = build(0x1234, 7, 5, INSTANCE, '02:00:00:00:00:fe', bounce=True)
    assert frame[:6] == bytes.fromhex(BOUNCE_MAC.replace(':', ''))  # the far switch turns it back
    # As it comes back: the bounce flow readdressed it to LLDP's group address.
    back = bytes.fromhex('0180c200000e') + frame[6:]
    assert parse(back, INSTANCE) == Probe(0x1234, 7, 5, bounce=True)


def test_wrong_destination_is_none():
    assert parse(lldp_frame(chassis(), port(), TTL, stamp(), END, dst='01:80:c2:00:00:03'), INSTANCE) is None
