"""The southbound shim's world in unit tests: a clock that moves only when the shim waits, and
a fabric's switches and spans behind the shim's injected `send` (after faucet's fake clock and
sender). Replies and packet-ins come back through the shim's own OpenFlow handlers, built as
os-ken builds them, so the shim is tested as it runs.
"""

import heapq
import itertools
import threading

from os_ken.controller import ofp_event
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from controller.core import flows as fl
from controller.core.controller import Controller
from controller.core.topology import Link
from controller.runtime import Runtime
from controller.southbound.app import FabricApp
from topologies.model import addressing as addr


class FakeClock:
    """Monotonic ns that move on only while the shim waits; what falls due meanwhile (a reply,
    a packet-in) happens then, in order, on the waiting thread."""

    def __init__(self, start_s=1000.0):
        self._now = round(start_s * 1e9)
        self._due = []  # heap of (ns, sequence, fn)
        self._sequence = itertools.count()

    def now_ns(self):
        return self._now

    def now_s(self):
        return self._now / 1e9

    def after(self, seconds, fn):
        heapq.heappush(self._due, (self._now + round(seconds * 1e9), next(self._sequence), fn))

    def wait(self, event, seconds):
        until = self._now + round(seconds * 1e9)
        while not event.is_set() and self._due and self._due[0][0] <= until:
            at, _, fn = heapq.heappop(self._due)
            self._now = max(self._now, at)
            fn()
        if not event.is_set():
            self._now = max(self._now, until)
        return event.is_set()

    def advance(self, seconds):
        """Let `seconds` pass."""
        self.wait(threading.Event(), seconds)


class FakeDatapath:
    """What the shim uses of an os-ken Datapath: it sends through `send`, not through this."""

    def __init__(self, dpid):
        self.id, self.ofproto, self.ofproto_parser, self.xid = dpid, ofp, parser, 0

    def set_xid(self, msg):
        self.xid += 1
        msg.set_xid(self.xid)
        return self.xid


class FakeSwitches:
    """A fabric's switches and spans as the shim reaches them through `send`.

    A switch answers a barrier or a read `reply_s` later (it holds nothing at first: it reads
    back empty) and an echo `echo_ms` later. A loop probe comes back from its switch after the
    switch's `loop_ms`; a span probe reaches the far switch after half of each switch's loop
    plus the link's one-way `span_ms` (the fabric's delay unless set), unless its span is in
    `cut`; a bounce probe comes back from the far switch, which adds its `crossing_ms` (0.1 ms
    unless set), readdressed as the bounce flow does. Port counters are
    `tx_bytes[(site id, port)]`, 0 unless set; meter counters `meters[(site id, meter id)]`
    (bytes in, bytes and frames dropped) and the egress flows' `egress[(site id, tenant port,
    cookie, label)]` (bytes out), each with the age of a meter or flow that has always been
    there.
    Everything sent is in `sent`, as (ns, site id, message).

    Roles, as Open vSwitch keeps them for the shim's connection: a role request under a
    generation older than the newest a switch has seen is refused (OFPRRFC_STALE); `demote(site)`
    is another replica taking MASTER there, after which the switch refuses what the shim would
    change (OFPBRC_IS_SLAVE) and changes nothing.
    """

    def __init__(
        self, fabric, clock, loop_ms=None, span_ms=None, crossing_ms=None, echo_ms=0.2, reply_s=0.001
    ):
        self.fabric, self.clock = fabric, clock
        self.loop_ms = dict.fromkeys(fabric.sites, 1.0) | (loop_ms or {})
        self.span_ms = {
            link: span.delay_ms
            for span in fabric.spans
            for link in (Link(span.a, span.b), Link(span.b, span.a))
        } | (span_ms or {})
        self.crossing_ms = dict.fromkeys(fabric.sites, 0.1) | (crossing_ms or {})
        self.echo_ms, self.reply_s = echo_ms, reply_s
        self.cut = set()  # span ids
        self.tx_bytes = {}
        self.meters, self.egress = {}, {}
        self.sent = []
        self.app = None
        self.datapaths = {}  # site id -> the datapath of its connection
        self.generations = {}  # site id -> the newest role generation it has seen
        self.slave = set()  # site ids where the shim's connection is SLAVE

    def connect(self, site_id):
        dp = FakeDatapath(addr.dpid(self.fabric.sites[site_id]))
        self.datapaths[site_id] = dp
        self.app.switch_features(
            ofp_event.EventOFPSwitchFeatures(parser.OFPSwitchFeatures(dp, datapath_id=dp.id))
        )

    def disconnect(self, site_id):
        self.app.switch_gone(ofp_event.EventOFPStateChange(self.datapaths.pop(site_id)))

    def port_status(self, site_id, port, up):
        """The switch says a port went down or came up."""
        dp = self.datapaths[site_id]
        desc = parser.OFPPort(
            port, '02:00:00:00:00:01', b'port', 0, 0 if up else ofp.OFPPS_LINK_DOWN, *[0] * 6
        )
        self.app.port_status(ofp_event.EventOFPPortStatus(parser.OFPPortStatus(dp, ofp.OFPPR_MODIFY, desc)))

    def demote(self, site_id, generation):
        """Another replica is MASTER of the site's switch now, under `generation`."""
        self.generations[site_id] = generation
        self.slave.add(site_id)

    def send(self, dp, *msgs):
        went = [self._send(dp, msg) for msg in msgs]  # each one, even after one failed
        return all(went)

    def _send(self, dp, msg):
        site = self._site(dp)
        if site is None:
            return False
        self.sent.append((self.clock.now_ns(), site, msg))
        reads = {
            parser.OFPPortDescStatsRequest: lambda: parser.OFPPortDescStatsReply(
                dp, body=self._ports(site), flags=0
            ),
            parser.OFPFlowStatsRequest: lambda: parser.OFPFlowStatsReply(
                dp, body=self._egress(site, msg.out_port) if msg.cookie_mask else [], flags=0
            ),
            parser.OFPMeterStatsRequest: lambda: parser.OFPMeterStatsReply(
                dp, body=self._meters(site), flags=0
            ),
            parser.OFPMeterConfigStatsRequest: lambda: parser.OFPMeterConfigStatsReply(dp, body=[], flags=0),
            parser.OFPGroupDescStatsRequest: lambda: parser.OFPGroupDescStatsReply(dp, body=[], flags=0),
            parser.OFPBarrierRequest: lambda: parser.OFPBarrierReply(dp),
        }
        if isinstance(msg, parser.OFPRoleRequest):
            self._role(dp, site, msg)
        elif isinstance(msg, parser.OFPMeterStatsRequest):
            self._later(self.reply_s, dp, msg.xid, reads[type(msg)], self.app.meter_stats)
        elif site in self.slave and isinstance(msg, CHANGES):
            self._refuse(dp, msg.xid, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_IS_SLAVE)
        elif type(msg) in reads:
            self._later(self.reply_s, dp, msg.xid, reads[type(msg)], self.app.reply)
        elif isinstance(msg, parser.OFPPortStatsRequest):
            self._later(self.reply_s, dp, msg.xid, lambda: self._counters(dp, site), self.app.port_stats)
        elif isinstance(msg, parser.OFPEchoRequest):
            self._later(
                self.echo_ms / 1e3,
                dp,
                msg.xid,
                lambda: parser.OFPEchoReply(dp, msg.data),
                self.app.echo_reply,
            )
        elif isinstance(msg, parser.OFPPacketOut):
            self._packet_out(site, msg.actions[0].port, msg.data)
        return True

    def _role(self, dp, site, msg):
        if msg.generation_id < self.generations.get(site, 0):
            self._refuse(dp, msg.xid, ofp.OFPET_ROLE_REQUEST_FAILED, ofp.OFPRRFC_STALE)
            return
        self.generations[site] = msg.generation_id
        if msg.role == ofp.OFPCR_ROLE_MASTER:
            self.slave.discard(site)
        else:
            self.slave.add(site)
        self._later(
            self.reply_s,
            dp,
            msg.xid,
            lambda: parser.OFPRoleReply(dp, msg.role, msg.generation_id),
            self.app.reply,
        )

    def _refuse(self, dp, xid, type_, code):
        self._later(self.reply_s, dp, xid, lambda: parser.OFPErrorMsg(dp, type_, code, b''), self.app.error)

    def packet_in(self, site_id, in_port, data):
        """`data` comes in at `in_port` of the site's switch now."""
        dp = self.datapaths.get(site_id)
        if dp is not None:
            msg = parser.OFPPacketIn(
                dp,
                buffer_id=ofp.OFP_NO_BUFFER,
                total_len=len(data),
                reason=ofp.OFPR_ACTION,
                table_id=0,
                cookie=0,
                match=parser.OFPMatch(in_port=in_port),
                data=data,
            )
            self.app.packet_in(ofp_event.EventOFPPacketIn(msg))
            self.app.apply_measurements()  # the measurer's thread, at once

    def _packet_out(self, site, port, data):
        if port == ofp.OFPP_CONTROLLER:
            self.clock.after(self.loop_ms[site] / 1e3, lambda: self.packet_in(site, port, data))
            return
        peer = addr.span_peer(self.fabric, site, port)
        if peer is None or self.fabric.span(site, peer).id in self.cut:
            return
        if data[:6] == bytes.fromhex(fl.BOUNCE_MAC.replace(':', '')):  # turned back in the fast path
            ms = self.loop_ms[site] + self.span_ms[Link(site, peer)] + self.crossing_ms[peer]
            ms += self.span_ms[Link(peer, site)]
            back = bytes.fromhex(fl.LLDP_MAC.replace(':', '')) + data[6:]
            self.clock.after(ms / 1e3, lambda: self.packet_in(site, port, back))
            return
        ms = self.loop_ms[site] / 2 + self.span_ms[Link(site, peer)] + self.loop_ms[peer] / 2
        in_port = addr.span_port(self.fabric, peer, site)
        self.clock.after(ms / 1e3, lambda: self.packet_in(peer, in_port, data))

    def _later(self, seconds, dp, xid, build, handler):
        """The reply to request `xid`, through the shim's handler, if dp is still connected."""

        def reply():
            if self._site(dp) is not None:
                msg = build()
                msg.set_xid(xid)
                handler(_EVENTS[type(msg)](msg))

        self.clock.after(seconds, reply)

    def _site(self, dp):
        return next((site for site, connected in self.datapaths.items() if connected is dp), None)

    def _span_ports(self, site):
        return [addr.span_port(self.fabric, site, span.other(site)) for span in self.fabric.spans_of(site)]

    def _ports(self, site):
        return [
            parser.OFPPort(port, '02:00:00:00:00:01', b'port', 0, 0, *[0] * 6)
            for port in self._span_ports(site)
        ]

    def _age(self):
        ns = self.clock.now_ns()
        return divmod(ns, 10**9)

    def _meters(self, site):
        return [
            parser.OFPMeterStats(
                meter_id, 1, 0, counts[0], *self._age(), [parser.OFPMeterBandStats(counts[2], counts[1])]
            )
            for (where, meter_id), counts in self.meters.items()
            if where == site
        ]

    def _egress(self, site, out_port):
        pop = [parser.OFPActionPopMpls(0x0800), parser.OFPActionOutput(out_port)]
        return [
            parser.OFPFlowStats(
                0,
                *self._age(),
                fl.PRIO_LABEL,
                0,
                0,
                0,
                cookie,
                0,
                bytes_out,
                parser.OFPMatch(in_port=2, eth_type=fl.ETH_MPLS, mpls_label=label),
                [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, pop)],
            )
            for (where, port, cookie, label), bytes_out in self.egress.items()
            if (where, port) == (site, out_port)
        ]

    def _counters(self, dp, site):
        ports = self._span_ports(site) + [ofp.OFPP_LOCAL]
        body = [parser.OFPPortStats(p, 0, 0, 0, self.tx_bytes.get((site, p), 0), *[0] * 10) for p in ports]
        return parser.OFPPortStatsReply(dp, body=body, flags=0)


CHANGES = (parser.OFPFlowMod, parser.OFPGroupMod, parser.OFPMeterMod, parser.OFPPacketOut)
_EVENTS = {
    parser.OFPRoleReply: ofp_event.EventOFPRoleReply,
    parser.OFPErrorMsg: ofp_event.EventOFPErrorMsg,
    parser.OFPPortDescStatsReply: ofp_event.EventOFPPortDescStatsReply,
    parser.OFPFlowStatsReply: ofp_event.EventOFPFlowStatsReply,
    parser.OFPMeterConfigStatsReply: ofp_event.EventOFPMeterConfigStatsReply,
    parser.OFPGroupDescStatsReply: ofp_event.EventOFPGroupDescStatsReply,
    parser.OFPBarrierReply: ofp_event.EventOFPBarrierReply,
    parser.OFPPortStatsReply: ofp_event.EventOFPPortStatsReply,
    parser.OFPMeterStatsReply: ofp_event.EventOFPMeterStatsReply,
    parser.OFPEchoReply: ofp_event.EventOFPEchoReply,
}


def _fail():
    raise AssertionError('the shim failed: see the log')


def shim(fabric, **network):
    """A core, the shim in front of it, and the fabric's switches (see FakeSwitches for
    `network`), all connected and read."""
    clock = FakeClock()
    switches = FakeSwitches(fabric, clock, **network)
    core = Controller(fabric, now=clock.now_s())
    app = FabricApp(runtime=Runtime(core, clock=clock.now_s), on_fatal=_fail, clock=clock, send=switches.send)
    switches.app = app
    for site_id in fabric.sites:
        switches.connect(site_id)
    app.sync()
    assert all(switch.ready for switch in app.switches.values())
    return core, app, switches, clock
