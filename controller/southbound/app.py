"""The os-ken app: a thin shim between the site switches and the core.

Handlers only translate events into core calls (through the runtime's lock) and never wait.
Waiting happens in two threads of our own:

- the syncer brings each switch that connects to the plan (it reads the switch's flows and
  meters, then sends only the difference) and pushes every plan change in the three phases
  of `reconcile`, with a barrier on every switch between phases (and, after a flip, the
  drain before the clean-up); only then does it tell the core `synced(dpid, generation)`;
- the prober sends, every half second, an echo request to each switch and an LLDP probe out of
  each span port (discovery and one-way delay), and every two seconds asks for port counters
  (utilization).

Any exception in a handler or thread is fatal (logged, then the process stops with status 1):
os-ken would log it and carry on with a controller whose state no one can trust.
"""

import functools
import logging
import threading
import time

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib.packet import arp, ether_types, ethernet, packet
from os_ken.ofproto import ofproto_v1_3

from controller.core import arp as arp_core
from controller.core import flows as fl
from controller.core import reconcile
from controller.core.measurement import DelayEstimator, EchoTracker, UtilizationMeter
from controller.core.topology import Link
from controller.southbound import lldp, ofmsg
from topologies.model import addressing as addr

LOG = logging.getLogger('naas.southbound')
REPLY_TIMEOUT_S = 5.0
# A span that becomes slower shows in the delay estimate (the minimum of the last
# DELAY_WINDOW probes) after DELAY_WINDOW * PROBE_INTERVAL_S = 1.5 s, so an intent whose
# bound it breaks moves well within the 3 s the policy engine promises.
PROBE_INTERVAL_S = 0.5
# The port number a loop probe carries: sent out to the controller by the switch itself, it
# times the switch's packet-out and packet-in path without a span (see _loop_s).
LOOP_PORT = ofproto_v1_3.OFPP_CONTROLLER
DELAY_WINDOW = 3
STATS_EVERY = 4  # probe rounds between port counter requests (2 s)
DISCOVERY_GRACE_S = 10.0  # a span not seen by LLDP this long after both ends connect is reported
CONTROLLER_MAC = '02:00:00:00:00:fe'


def fatal_on_error(method):
    """Wrap a handler or thread: an exception stops the controller instead of being swallowed."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception:
            LOG.critical('%s failed; stopping the controller', method.__name__, exc_info=True)
            self.on_fatal()

    return wrapper


class _Waiter:
    def __init__(self):
        self.done = threading.Event()
        self.replies = []


class _Switch:
    def __init__(self, dp, site):
        self.dp, self.site = dp, site
        self.ready = False  # its flows and meters are known (read at connect)
        self.flows, self.meters, self.groups = {}, {}, {}
        self.connected_at = time.monotonic()
        self.errors = []


class FabricApp(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, runtime=None, on_fatal=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.runtime = runtime
        self.fabric = runtime.core.fabric
        self.on_fatal = on_fatal or (lambda: None)
        self.sites = {addr.dpid(s): s for s in self.fabric.sites.values()}
        self.switches = {}  # dpid -> _Switch
        self._waiters = {}  # (dpid, xid) -> _Waiter
        self._lock = threading.Lock()  # switches and waiters
        self._stop = threading.Event()
        self.instance = int(time.time_ns() & 0xFFFFFFFF)
        self.echo, self.delays, self.usage = EchoTracker(), DelayEstimator(DELAY_WINDOW), UtilizationMeter()
        self.loops = EchoTracker()  # packet-out -> packet-in at one switch, per switch
        self._programming = {}  # dpid -> (start ns, end ns or None): last sync
        self.drain_s = reconcile.drain_s(self.fabric)
        self.seen_links = set()  # Links LLDP has shown
        self.reported = set()  # discovery problems already logged
        self._threads = []

    def start(self):
        thread = super().start()
        for target in (self._sync_loop, self._probe_loop):
            t = threading.Thread(target=target, name=target.__name__, daemon=True)
            t.start()
            self._threads.append(t)
        return thread

    def stop(self):
        self._stop.set()
        self.runtime.plan_changed.set()
        super().stop()

    # --- OpenFlow events --------------------------------------------------------------------

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    @fatal_on_error
    def switch_features(self, ev):
        dp = ev.msg.datapath
        site = self.sites.get(dp.id)
        if site is None:
            LOG.error('datapath %016x is not a site of fabric %s: ignored', dp.id, self.fabric.name)
            return
        LOG.info('switch %s connected (datapath %016x)', site.id, dp.id)
        with self._lock:
            self.switches[dp.id] = _Switch(dp, site)
        self.runtime.call(lambda core, now: core.switch_connected(dp.id, now))
        self.runtime.plan_changed.set()  # the syncer reads and reconciles it

    @set_ev_cls(ofp_event.EventOFPStateChange, DEAD_DISPATCHER)
    @fatal_on_error
    def switch_gone(self, ev):
        dp = ev.datapath
        with self._lock:
            switch = self.switches.get(dp.id)
            if switch is None or switch.dp is not dp:
                return  # an older connection of a switch that came back
            del self.switches[dp.id]
        LOG.warning('switch %s disconnected', switch.site.id)
        self.echo.forget(dp.id)
        self.loops.forget(dp.id)
        for peer in self._peers(switch.site.id):
            for link in (Link(switch.site.id, peer), Link(peer, switch.site.id)):
                self.delays.forget(link)
                self.usage.forget(link)
        self.runtime.call(lambda core, now: core.switch_disconnected(dp.id, now))

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    @fatal_on_error
    def port_status(self, ev):
        msg, dp = ev.msg, ev.msg.datapath
        if dp.id not in self.sites:
            return
        up = msg.reason != dp.ofproto.OFPPR_DELETE and _port_up(msg.desc, dp.ofproto)
        self._port(dp.id, msg.desc.port_no, up)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    @fatal_on_error
    def packet_in(self, ev):
        received_ns = time.monotonic_ns()
        msg, dp = ev.msg, ev.msg.datapath
        site = self.sites.get(dp.id)
        if site is None:
            return
        in_port = msg.match['in_port']
        pkt = packet.Packet(msg.data)
        eth = pkt.get_protocol(ethernet.ethernet)
        if eth is None:
            return
        if eth.ethertype == ether_types.ETH_TYPE_LLDP:
            self._lldp_in(site, in_port, msg.data, received_ns)
        elif eth.ethertype == ether_types.ETH_TYPE_ARP:
            self._arp_in(dp, site, in_port, pkt.get_protocol(arp.arp))

    @set_ev_cls(
        [
            ofp_event.EventOFPFlowStatsReply,
            ofp_event.EventOFPMeterConfigStatsReply,
            ofp_event.EventOFPGroupDescStatsReply,
            ofp_event.EventOFPPortDescStatsReply,
            ofp_event.EventOFPBarrierReply,
        ],
        MAIN_DISPATCHER,
    )
    @fatal_on_error
    def reply(self, ev):
        msg = ev.msg
        with self._lock:
            waiter = self._waiters.get((msg.datapath.id, msg.xid))
        if waiter is None:
            return
        body = getattr(msg, 'body', None)
        waiter.replies.extend(body if isinstance(body, list) else [body] if body is not None else [])
        if not getattr(msg, 'flags', 0) & msg.datapath.ofproto.OFPMPF_REPLY_MORE:
            waiter.done.set()

    @set_ev_cls(ofp_event.EventOFPEchoReply, MAIN_DISPATCHER)
    @fatal_on_error
    def echo_reply(self, ev):
        self.echo.replied(ev.msg.datapath.id, ev.msg.xid, time.monotonic())

    @set_ev_cls(ofp_event.EventOFPPortStatsReply, MAIN_DISPATCHER)
    @fatal_on_error
    def port_stats(self, ev):
        dp, now = ev.msg.datapath, time.monotonic()
        site = self.sites.get(dp.id)
        if site is None:
            return
        for stat in ev.msg.body:
            peer = self._peer_on(site.id, stat.port_no)
            if peer is None:
                continue
            link = Link(site.id, peer)
            mbps = self.usage.add(link, stat.tx_bytes, now)
            if mbps is not None:
                gbps = mbps / 1000.0 / self.fabric.bandwidth_scale
                self.runtime.call(lambda core, t: core.utilization_measured(link, gbps, t))

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    @fatal_on_error
    def error(self, ev):
        msg = ev.msg
        site = self.sites.get(msg.datapath.id)
        name = site.id if site else f'{msg.datapath.id:016x}'
        LOG.error('switch %s refused message xid %s: type %s code %s', name, msg.xid, msg.type, msg.code)
        with self._lock:
            switch = self.switches.get(msg.datapath.id)
            if switch is not None:
                switch.errors.append(msg.xid)

    # --- ports, ARP and LLDP ------------------------------------------------------------------

    def _port(self, dpid, port_no, up):
        site = self.sites[dpid]
        peer = self._peer_on(site.id, port_no)
        if peer is None:
            return
        if not up:
            self.delays.forget(Link(site.id, peer))
        LOG.info('port %s-%s %s', site.id, peer, 'up' if up else 'down')
        self.runtime.call(lambda core, now: core.port_state(dpid, port_no, up, now))

    def _arp_in(self, dp, site, in_port, request):
        if request is None or request.opcode != arp.ARP_REQUEST:
            return
        mac = arp_core.answer(self.fabric, site.id, in_port, request.src_ip, request.src_mac, request.dst_ip)
        if mac is None:
            return
        reply = packet.Packet()
        reply.add_protocol(
            ethernet.ethernet(dst=request.src_mac, src=mac, ethertype=ether_types.ETH_TYPE_ARP)
        )
        reply.add_protocol(
            arp.arp(
                opcode=arp.ARP_REPLY,
                src_mac=mac,
                src_ip=request.dst_ip,
                dst_mac=request.src_mac,
                dst_ip=request.src_ip,
            )
        )
        reply.serialize()
        dp.send_msg(ofmsg.packet_out(dp, in_port, reply.data))

    def _lldp_in(self, site, in_port, data, received_ns):
        probe = lldp.parse(data, self.instance)
        if probe is None:
            return
        sender = self.sites.get(probe.dpid)
        if sender is None:
            return
        if probe.port_no == LOOP_PORT:
            if sender is site:
                self.loops.measured(probe.dpid, (received_ns - probe.sent_ns) / 1e9)
            return
        link = Link(sender.id, site.id)
        expected = (
            self.fabric.span(sender.id, site.id) is not None
            and probe.port_no == addr.span_port(self.fabric, sender.id, site.id)
            and in_port == addr.span_port(self.fabric, site.id, sender.id)
        )
        if not expected:
            self._report(
                ('unexpected', sender.id, probe.port_no, site.id, in_port),
                'unexpected link: %s port %s reaches %s port %s, not a span of the fabric',
                sender.id,
                probe.port_no,
                site.id,
                in_port,
            )
            return
        self.seen_links.add(link)
        if self._was_programming(probe.dpid, probe.sent_ns, received_ns) or self._was_programming(
            addr.dpid(site), probe.sent_ns, received_ns
        ):
            return
        ms = self.delays.add(
            link,
            probe.sent_ns,
            received_ns,
            self._loop_s(probe.dpid),
            self._loop_s(addr.dpid(site)),
            time.monotonic(),
        )
        if ms is not None:
            self.runtime.call(lambda core, now: core.delay_measured(link, ms, now))

    def _was_programming(self, dpid, sent_ns, received_ns):
        """Whether the switch took flow changes while the probe crossed it: a switch busy
        installing flows is slow to packet a probe in or out, which measures the reprogramming
        (on lumen-qts, up to 15 ms a span after a cut), not the span."""
        start, end = self._programming.get(dpid, (None, None))
        return start is not None and start <= received_ns and (end is None or end >= sent_ns)

    def _loop_s(self, dpid):
        """What an LLDP probe spends outside the span at a switch: the switch's own
        packet-out -> packet-in loop, which passes the same slow path as the probe (on a busy
        machine, milliseconds that an echo, answered without it, does not see); the echo's
        round trip until the switch has looped a probe."""
        loop = self.loops.rtt_s(dpid)
        return loop if loop is not None else self.echo.rtt_s(dpid)

    def _report(self, key, message, *args):
        if key not in self.reported:
            self.reported.add(key)
            LOG.warning(message, *args)

    def _peers(self, site_id):
        return [span.other(site_id) for span in self.fabric.spans_of(site_id)]

    def _peer_on(self, site_id, port_no):
        return addr.span_peer(self.fabric, site_id, port_no)

    # --- requests that wait for replies (only from our own threads) ---------------------------

    def _request(self, switch, msg, timeout=REPLY_TIMEOUT_S):
        """Send and wait for the (possibly multipart) reply; None on timeout or disconnect."""
        dp = switch.dp
        dp.set_xid(msg)
        waiter = _Waiter()
        with self._lock:
            self._waiters[(dp.id, msg.xid)] = waiter
        try:
            if not dp.send_msg(msg):
                return None
            return waiter.replies if waiter.done.wait(timeout) else None
        finally:
            with self._lock:
                self._waiters.pop((dp.id, msg.xid), None)

    def _barrier(self, switch):
        return self._request(switch, switch.dp.ofproto_parser.OFPBarrierRequest(switch.dp)) is not None

    # --- the syncer ---------------------------------------------------------------------------

    @fatal_on_error
    def _sync_loop(self):
        while not self._stop.is_set():
            self.runtime.plan_changed.wait(PROBE_INTERVAL_S)
            self.runtime.plan_changed.clear()
            if self._stop.is_set():
                return
            self.runtime.call(lambda core, now: core.tick(now))
            for switch in self._connected():
                if not switch.ready:
                    self._read_switch(switch)
            self._sync()

    def _connected(self):
        with self._lock:
            return list(self.switches.values())

    def _read_switch(self, switch):
        """Learn a switch's ports, flows, meters and groups, so only the difference is sent."""
        dp = switch.dp
        ports = self._request(switch, dp.ofproto_parser.OFPPortDescStatsRequest(dp, 0))
        flows = self._request(switch, ofmsg.flow_stats_request(dp))
        meters = self._request(switch, ofmsg.meter_config_request(dp))
        groups = self._request(switch, ofmsg.group_desc_request(dp))
        if ports is None or flows is None or meters is None or groups is None:
            LOG.warning('switch %s did not answer; trying again', switch.site.id)
            return
        for port in ports:
            if self._peer_on(switch.site.id, port.port_no) is not None:
                self._port(dp.id, port.port_no, _port_up(port, dp.ofproto))
        switch.flows = {
            f.key: f
            for f in (ofmsg.flow_from_stats(dp.id, s, dp.ofproto) for s in flows)
            if fl.is_ours(f.cookie)
        }
        switch.meters = {m.meter_id: m for m in (ofmsg.meter_from_stats(dp.id, c) for c in meters)}
        switch.groups = {
            g.group_id: g for g in (ofmsg.group_from_stats(dp.id, d, dp.ofproto) for d in groups)
        }
        switch.errors.clear()
        switch.ready = True
        LOG.info(
            'switch %s holds %d flows, %d meters and %d groups of ours',
            switch.site.id,
            len(switch.flows),
            len(switch.meters),
            len(switch.groups),
        )

    def _sync(self):
        plan, generation = self.runtime.call(lambda core, now: (core.plan(), core.generation))
        switches = {s.dp.id: s for s in self._connected() if s.ready}
        changes = reconcile.diff_all(
            {d: plan[d] for d in switches}, {d: (s.flows, s.meters, s.groups) for d, s in switches.items()}
        )
        failed, took = set(), []
        for number, phase in enumerate(changes.phases):
            if number == 2 and changes.drains:
                self._stop.wait(self.drain_s)  # make-before-break: the old paths empty first
            started = time.monotonic()
            for dpid in phase:
                self._programming[dpid] = (time.monotonic_ns(), None)
            for dpid, ops in phase.items():
                switch = switches[dpid]
                for op, item in ops:
                    switch.dp.send_msg(ofmsg.change(switch.dp, op, item))
                    _record(switch, op, item)
            for dpid in phase:
                if not self._barrier(switches[dpid]) or switches[dpid].errors:
                    failed.add(dpid)
                self._programming[dpid] = (self._programming[dpid][0], time.monotonic_ns())
            took.append(f'{(time.monotonic() - started) * 1000:.0f}')
            if failed:
                break
        if changes:
            LOG.info(
                'generation %d: %d changes sent to %d switches (phases took %s ms)',
                generation,
                changes.count(),
                len({d for phase in changes.phases for d in phase}),
                '/'.join(took),
            )
        for dpid in failed:
            LOG.warning('switch %s: changes not confirmed; reading it again', switches[dpid].site.id)
            switches[dpid].ready = False
        if failed:
            self.runtime.plan_changed.set()
            return
        self.runtime.call(lambda core, now: [core.synced(d, generation, now) for d in switches])

    # --- the prober ---------------------------------------------------------------------------

    @fatal_on_error
    def _probe_loop(self):
        # Switches are probed one after the other, spread over the interval: probing them all
        # at once made their LLDP packet-ins queue behind each other in this process, which
        # added up to 35 ms to the delays measured on lumen-qts (31 switches, 90 directions).
        rounds, due = 0, time.monotonic()
        while not self._stop.is_set():
            rounds += 1
            switches = [s for s in self._connected() if s.ready]
            for i, switch in enumerate(switches):
                if self._stop.wait(max(0.0, due + i * PROBE_INTERVAL_S / len(switches) - time.monotonic())):
                    return
                self._probe(switch, stats=rounds % STATS_EVERY == 0)
            self._check_discovery()
            due += PROBE_INTERVAL_S
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            due = max(due, time.monotonic() - PROBE_INTERVAL_S)  # never a burst to catch up

    def _probe(self, switch, stats):
        dp, p = switch.dp, switch.dp.ofproto_parser
        echo = p.OFPEchoRequest(dp, data=b'naas')
        dp.set_xid(echo)
        self.echo.sent(dp.id, echo.xid, time.monotonic())
        dp.send_msg(echo)
        loop = lldp.build(dp.id, LOOP_PORT, time.monotonic_ns(), self.instance, CONTROLLER_MAC)
        dp.send_msg(ofmsg.packet_out(dp, LOOP_PORT, loop))
        for peer in self._peers(switch.site.id):
            port = addr.span_port(self.fabric, switch.site.id, peer)
            frame = lldp.build(dp.id, port, time.monotonic_ns(), self.instance, CONTROLLER_MAC)
            dp.send_msg(ofmsg.packet_out(dp, port, frame))
        if stats:
            dp.send_msg(p.OFPPortStatsRequest(dp, 0, dp.ofproto.OFPP_ANY))

    def _check_discovery(self):
        now = time.monotonic()
        connected = {s.site.id: s.connected_at for s in self._connected()}
        for span in self.fabric.spans:
            if (
                span.a in connected
                and span.b in connected
                and now - max(connected[span.a], connected[span.b]) > DISCOVERY_GRACE_S
                and self.runtime.call(lambda core, t: core.span_up(span.id))
                and not {Link(span.a, span.b), Link(span.b, span.a)} & self.seen_links
            ):
                self._report(
                    ('missing', span.id),
                    'span %s is in the fabric but LLDP has not crossed it in %.0f s',
                    span.id,
                    DISCOVERY_GRACE_S,
                )


def _port_up(desc, ofproto):
    return not (desc.state & ofproto.OFPPS_LINK_DOWN) and not (desc.config & ofproto.OFPPC_PORT_DOWN)


def _record(switch, op, item):
    """What the switch holds once it has applied the change."""
    if op == 'add':
        switch.flows[item.key] = item
    elif op == 'delete':
        switch.flows.pop(item.key, None)
    elif op == 'delete_meter':
        switch.meters.pop(item.meter_id, None)
        switch.flows = {k: f for k, f in switch.flows.items() if f.meter != item.meter_id}
    elif op == 'delete_group':  # the switch removes the flows that use it
        switch.groups.pop(item.group_id, None)
        switch.flows = {k: f for k, f in switch.flows.items() if ('group', item.group_id) not in f.actions}
    elif op.endswith('_group'):
        switch.groups[item.group_id] = item
    else:
        switch.meters[item.meter_id] = item
