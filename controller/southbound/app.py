"""The os-ken app: a thin shim between the site switches and the core.

The shim stamps and sends. Handlers only translate events into core calls (through the
runtime's lock), with the stamps of the shim's clock, and never wait; what an echo, a probe or
a port counter means is the core's to decide (controller.core.measurement), and the notices it
returns are logged here. The clock (stamps and waits) and the sender are injected, so tests
drive the shim on a fake clock and fake switches. Waiting happens in three threads of our own:

- the syncer brings each switch that connects to the plan (it reads the switch's flows,
  meters and groups, then sends only the difference) and pushes every plan change in the
  phases of `reconcile`, with a barrier on every switch between phases (and, after a flip,
  the drain before the clean-up); only then does it tell the core `synced(dpids, generation)`;
- the measurer hands every stamp to the core in the order stamped (`apply_measurements`):
  the probes, echoes and port counters that came back and what the prober sent. So neither
  os-ken's event thread nor the prober waits for the core's lock or the store: while
  placement or a re-optimization holds it, or a group is written, a handler waiting there
  would hold up every packet-in behind it and stamp it late, which reads as the spans of the
  switches probed meanwhile slowing down (a switch's port counters come back just as its
  probes reach its neighbours);
- the prober sends, every half second, an echo request and a loop probe to each switch, an
  LLDP probe out of each span port (discovery and one-way delay) and a bounce probe that one
  neighbour turns back (what a frame spends crossing that switch), and every second asks
  for port counters (utilization) and for the counters of intents' meters and egress flows
  (telemetry: controller.core.telemetry).

Any exception in a handler or thread is fatal (logged, then the process stops with status 1):
os-ken would log it and carry on with a controller whose state no one can trust.

Replicas (docs/ha.md): every switch connects to every replica. A follower's app has no runtime:
it keeps the connections, asks each switch to make it SLAVE (under the leader's generation)
and does nothing else. When its replica wins the lead, `lead` asks every switch to make it
MASTER under its own generation (the switches then refuse the old leader's messages), then
reads and reconciles them as if they had just connected. A leader whose role request is
refused as stale, or whose message is refused because it is no longer master, has been
replaced: it calls `on_lost` (the process ends). The only controller (no `generation`) sends
no role requests.
"""

import functools
import logging
import queue
import secrets
import threading
import time

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib.packet import arp, ether_types, ethernet, packet
from os_ken.ofproto import ofproto_v1_3
from prometheus_client import CollectorRegistry

from controller.core import arp as arp_core
from controller.core import flows as fl
from controller.core import reconcile
from controller.core.reconcile import Phase
from controller.southbound import lldp, ofmsg
from controller.southbound.figures import OpenFlowFigures
from topologies.model import addressing as addr

LOG = logging.getLogger('naas.southbound')
REPLY_TIMEOUT_S = 5.0
# One probe round every half second: the core's delay estimate is the minimum over the last
# 20 s of rounds, restarted by a rise both ways (see controller.core.estimators.DELAY_WINDOW).
PROBE_INTERVAL_S = 0.5
# The port number a loop probe carries: sent out to the controller by the switch itself, it
# times the switch's packet-out and packet-in path without a span (see
# controller.core.measurement).
LOOP_PORT = ofproto_v1_3.OFPP_CONTROLLER
STATS_EVERY = 2  # probe rounds between port counter requests (1 s: loss shows in 2-3 s, gray.py)
CONTROLLER_MAC = '02:00:00:00:00:fe'


class MonotonicClock:
    """The shim's clock: monotonic stamps, and waits that end early when an event is set."""

    def now_ns(self):
        return time.monotonic_ns()

    def wait(self, event, seconds):
        """Wait until `event` is set or `seconds` have passed; whether it is set."""
        return event.wait(seconds)


def _send_msg(dp, *msgs):
    """Send messages to a switch in order, several as one write (each message os-ken sends
    alone is a queue hand-off to the switch's sender thread and a system call: a phase of a
    hundred flow changes paid that a hundred times)."""
    if len(msgs) <= 1:
        return all(dp.send_msg(msg) for msg in msgs)
    for msg in msgs:
        if msg.xid is None:
            dp.set_xid(msg)
        msg.serialize()
    return dp.send(b''.join(bytes(msg.buf) for msg in msgs))


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
    """A request's replies, and when the last one came (clock ns)."""

    def __init__(self, clock):
        self.done = threading.Event()
        self.replies = []
        self.clock, self.at_ns = clock, None

    def last(self):
        self.at_ns = self.clock.now_ns()
        self.done.set()


class _Switch:
    def __init__(self, dp, site, connected_ns):
        self.dp, self.site = dp, site
        self.ready = False  # what it holds is known (read at connect)
        self.held = ({}, {}, {})  # flows by key, meters by id, groups by id: ours
        self.connected_ns = connected_ns
        self.errors = []
        self.rounds = 0  # probe rounds, to take its neighbours in turn for bounce probes


class FabricApp(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(
        self,
        *args,
        runtime=None,
        on_fatal=None,
        clock=None,
        send=None,
        fabric=None,
        leader_generation=None,
        on_lost=None,
        registry=None,
        **kwargs,
    ):
        """`clock` gives the stamps and does the waiting (MonotonicClock by default); `send(dp,
        *msgs)` sends messages to a switch, in order, and says whether they went (through
        os-ken's datapath by default). A follower replica's app has no `runtime` (`fabric`
        instead) until `lead`; `leader_generation()` is the leader's, or None while there is
        none; `on_lost(why)` once the switches say another replica leads. `registry`: where its
        OpenFlow figures are counted (the controller's /metrics; by default one of its own)."""
        super().__init__(*args, **kwargs)
        self.runtime = runtime
        self.fabric = fabric or runtime.core.fabric
        self.on_fatal = on_fatal or (lambda: None)
        self.generation = None  # ours, once we lead as one of several replicas
        self.leader_generation = leader_generation
        self.on_lost = on_lost or (lambda why: None)
        self.clock = clock or MonotonicClock()
        self.send = send or _send_msg
        self.sites = {addr.dpid(s): s for s in self.fabric.sites.values()}
        self.tenant_ports = {  # site id -> its tenants' ports, where intents' egress flows output
            site: sorted(addr.tenant_port(t) for t in self.fabric.tenants.values() if site in t.sites)
            for site in self.fabric.sites
        }
        self.switches = {}  # dpid -> _Switch
        self._waiters = {}  # (dpid, xid) -> _Waiter
        self._lock = threading.Lock()  # switches and waiters
        self._stop = threading.Event()
        # Tells this run's probes from those of a previous run still in flight.
        self.instance = secrets.randbits(32)
        self.drain_s = reconcile.drain_s(self.fabric)
        self._measured = queue.SimpleQueue()  # fn(core, now) of stamped probes, for the measurer
        self.figures = OpenFlowFigures(registry or CollectorRegistry())
        self._threads = []

    def start(self):
        thread = super().start()
        if self.runtime is not None:
            self._start_threads()
        return thread

    def _start_threads(self):
        for target in (self._sync_loop, self._probe_loop, self._measure_loop):
            t = threading.Thread(target=target, name=target.__name__, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self):
        self._stop.set()
        if self.runtime is not None:
            self.runtime.plan_changed.set()
        self._measured.put(None)
        super().stop()

    def lead(self, runtime, generation):
        """This replica leads from now on: MASTER on every switch under `generation` (the
        replies awaited, so that the old leader is refused before we change anything), then
        the core hears of every switch connected and the syncer reads and reconciles them."""
        with self._lock:
            self.generation, self.runtime = generation, runtime
            switches = list(self.switches.values())
        answered = self._requests([(s, self._role_request(s.dp)) for s in switches], REPLY_TIMEOUT_S)
        LOG.info('master of %d of %d switches (generation %d)', len(answered), len(switches), generation)
        for switch in switches:
            dpid = switch.dp.id
            runtime.call(lambda core, now, dpid=dpid: core.switch_connected(dpid, now))
        self._start_threads()
        runtime.plan_changed.set()
        return self

    def _role_request(self, dp):
        """MASTER under our generation once we lead; SLAVE under the leader's before (None:
        no leader known, so no request: the switch keeps us EQUAL, and we send it nothing)."""
        ofp, parser = dp.ofproto, dp.ofproto_parser
        if self.generation is not None:
            return parser.OFPRoleRequest(dp, ofp.OFPCR_ROLE_MASTER, self.generation)
        generation = self.leader_generation() if self.leader_generation else None
        if generation is None:
            return None
        return parser.OFPRoleRequest(dp, ofp.OFPCR_ROLE_SLAVE, generation)

    # --- OpenFlow events --------------------------------------------------------------------

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    @fatal_on_error
    def switch_features(self, ev):
        stamp = self.clock.now_ns()
        dp = ev.msg.datapath
        site = self.sites.get(dp.id)
        if site is None:
            LOG.error('datapath %016x is not a site of fabric %s: ignored', dp.id, self.fabric.name)
            return
        LOG.info('switch %s connected (datapath %016x)', site.id, dp.id)
        with self._lock:  # against `lead`: a switch is told to it here or there, not both
            self.switches[dp.id] = _Switch(dp, site, stamp)
            role = self._role_request(dp) if self.leader_generation is not None else None
            runtime = self.runtime
        if role is not None:  # one of several replicas: which one we are, before anything else
            self.send(dp, role)
        if runtime is None:
            return  # following: nothing more
        runtime.call(lambda core, now: core.switch_connected(dp.id, now))
        runtime.plan_changed.set()  # the syncer reads and reconciles it

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
        if self.runtime is None:
            return
        self.runtime.call(lambda core, now: core.switch_disconnected(dp.id, now))

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    @fatal_on_error
    def port_status(self, ev):
        msg, dp = ev.msg, ev.msg.datapath
        if dp.id not in self.sites or self.runtime is None:
            return
        up = msg.reason != dp.ofproto.OFPPR_DELETE and _port_up(msg.desc, dp.ofproto)
        self._port(dp.id, msg.desc.port_no, up)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    @fatal_on_error
    def packet_in(self, ev):
        received_ns = self.clock.now_ns()
        msg, dp = ev.msg, ev.msg.datapath
        site = self.sites.get(dp.id)
        if site is None or self.runtime is None:
            return
        in_port = msg.match['in_port']
        pkt = packet.Packet(msg.data)
        eth = pkt.get_protocol(ethernet.ethernet)
        if eth is None:
            return
        if eth.ethertype == ether_types.ETH_TYPE_LLDP:
            self.figures.packet_ins.labels('lldp').inc()
            self._lldp_in(dp, in_port, msg.data, received_ns)
        elif eth.ethertype == ether_types.ETH_TYPE_ARP:
            self.figures.packet_ins.labels('arp').inc()
            self._arp_in(dp, site, in_port, pkt.get_protocol(arp.arp))
        else:
            self.figures.packet_ins.labels('other').inc()

    @set_ev_cls(
        [
            ofp_event.EventOFPFlowStatsReply,
            ofp_event.EventOFPMeterConfigStatsReply,
            ofp_event.EventOFPGroupDescStatsReply,
            ofp_event.EventOFPPortDescStatsReply,
            ofp_event.EventOFPBarrierReply,
            ofp_event.EventOFPRoleReply,
        ],
        MAIN_DISPATCHER,
    )
    @fatal_on_error
    def reply(self, ev):
        msg = ev.msg
        with self._lock:
            waiter = self._waiters.get((msg.datapath.id, msg.xid))
        if waiter is None:
            if isinstance(msg, msg.datapath.ofproto_parser.OFPFlowStatsReply):
                self._egress_counters(msg)  # no one waits for telemetry's requests
            return
        body = getattr(msg, 'body', None)
        waiter.replies.extend(body if isinstance(body, list) else [body] if body is not None else [])
        if not getattr(msg, 'flags', 0) & msg.datapath.ofproto.OFPMPF_REPLY_MORE:
            waiter.last()

    @set_ev_cls(ofp_event.EventOFPEchoReply, MAIN_DISPATCHER)
    @fatal_on_error
    def echo_reply(self, ev):
        stamp, dpid, xid = self.clock.now_ns(), ev.msg.datapath.id, ev.msg.xid
        if dpid in self.sites and self.runtime is not None:
            self._measured.put(lambda core, now: core.echo_replied(dpid, xid, stamp))

    @set_ev_cls(ofp_event.EventOFPPortStatsReply, MAIN_DISPATCHER)
    @fatal_on_error
    def port_stats(self, ev):
        stamp, dpid = self.clock.now_ns(), ev.msg.datapath.id
        if dpid not in self.sites or self.runtime is None:
            return
        counters = [
            (s.port_no, s.tx_bytes, s.tx_packets, s.rx_packets, s.duration_sec * 10**9 + s.duration_nsec)
            for s in ev.msg.body
        ]
        self._measured.put(
            lambda core, now: [
                core.port_counters(dpid, port, tx, stamp, now, tx_packets, rx_packets, port_ns)
                for port, tx, tx_packets, rx_packets, port_ns in counters
            ]
        )

    @set_ev_cls(ofp_event.EventOFPMeterStatsReply, MAIN_DISPATCHER)
    @fatal_on_error
    def meter_stats(self, ev):
        stamp, dpid = self.clock.now_ns(), ev.msg.datapath.id
        if dpid not in self.sites or self.runtime is None:
            return
        meters = ofmsg.meter_counters(ev.msg.body)
        if meters:
            self._measured.put(lambda core, now: core.meter_counters(dpid, meters, stamp))

    def _egress_counters(self, msg):
        """A part of the reply to the prober's request for intents' flow counters."""
        stamp, dpid = self.clock.now_ns(), msg.datapath.id
        if dpid not in self.sites or self.runtime is None:
            return
        flows = ofmsg.egress_counters(msg.body, msg.datapath.ofproto)
        if flows:
            self._measured.put(lambda core, now: core.egress_counters(dpid, flows, stamp))

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    @fatal_on_error
    def error(self, ev):
        msg = ev.msg
        site = self.sites.get(msg.datapath.id)
        name = site.id if site else f'{msg.datapath.id:016x}'
        ofp = msg.datapath.ofproto
        self.figures.error(msg.type)
        replaced = (msg.type, msg.code) in (
            (ofp.OFPET_ROLE_REQUEST_FAILED, ofp.OFPRRFC_STALE),
            (ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_IS_SLAVE),
        )
        if replaced and self.generation is None:
            LOG.info('switch %s: the leader is newer than this follower knew (%s)', name, msg.code)
            return  # a follower's SLAVE request under an old generation: it stays EQUAL
        if replaced:
            return self.on_lost(f'switch {name} says another replica leads (error {msg.type}/{msg.code})')
        LOG.error('switch %s refused message xid %s: type %s code %s', name, msg.xid, msg.type, msg.code)
        with self._lock:
            switch = self.switches.get(msg.datapath.id)
            if switch is not None:
                switch.errors.append(msg.xid)

    # --- ports, ARP and LLDP ------------------------------------------------------------------

    def _port(self, dpid, port_no, up):
        site = self.sites[dpid]
        peer = addr.span_peer(self.fabric, site.id, port_no)
        if peer is None:
            return
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
        self.send(dp, ofmsg.packet_out(dp, in_port, reply.data))

    def _lldp_in(self, dp, in_port, data, received_ns):
        probe = lldp.parse(data, self.instance)
        if probe is None:
            return
        if probe.port_no == LOOP_PORT:
            if probe.dpid == dp.id:
                self._measured.put(lambda core, now: core.loop_returned(dp.id, probe.sent_ns, received_ns))
            return
        if probe.bounce:
            if (probe.dpid, probe.port_no) == (dp.id, in_port):
                self._measured.put(
                    lambda core, now: core.bounce_returned(dp.id, in_port, probe.sent_ns, received_ns, now)
                )
            return
        sender, sender_port, sent_ns = probe.dpid, probe.port_no, probe.sent_ns
        self._measured.put(
            lambda core, now: _warn(
                core.probe_received(dp.id, in_port, sender, sender_port, sent_ns, received_ns, now)
            )
        )

    @fatal_on_error
    def _measure_loop(self):
        while (fn := self._measured.get()) is not None:
            self.runtime.call(fn)

    def apply_measurements(self):
        """Hand every stamped probe waiting to the core now (the measurer's work, for tests
        that drive the shim without its threads)."""
        while True:
            try:
                fn = self._measured.get_nowait()
            except queue.Empty:
                return
            if fn is not None:
                self.runtime.call(fn)

    # --- requests that wait for replies (only from our own threads) ---------------------------

    def _request(self, switch, msg, timeout=REPLY_TIMEOUT_S):
        """Send and wait for the (possibly multipart) reply; None on timeout or disconnect."""
        answered = self._requests([(switch, msg)], timeout)
        return answered[switch].replies if switch in answered else None

    def _barriers(self, switches, timeout=REPLY_TIMEOUT_S):
        """A barrier to every switch at once, then wait for them all (one round trip for a
        phase, not one per switch): {dpid: when its reply came (clock ns)} of those that
        confirmed in time."""
        barriers = [(s, s.dp.ofproto_parser.OFPBarrierRequest(s.dp)) for s in switches]
        return {s.dp.id: waiter.at_ns for s, waiter in self._requests(barriers, timeout).items()}

    def _requests(self, requests, timeout):
        """Send every (switch, msg) at once, then wait for their replies until `timeout` from
        now: {switch: its _Waiter} of those answered in time (one request a switch)."""
        waiters = {}
        with self._lock:
            for switch, msg in requests:
                switch.dp.set_xid(msg)
                waiters[switch] = (msg, _Waiter(self.clock))
                self._waiters[(switch.dp.id, msg.xid)] = waiters[switch][1]
        try:
            sent = [s for s, (msg, _) in waiters.items() if self.send(s.dp, msg)]
            deadline = self.clock.now_ns() + int(timeout * 1e9)
            return {
                s: waiters[s][1]
                for s in sent
                if self.clock.wait(waiters[s][1].done, max(0.0, (deadline - self.clock.now_ns()) / 1e9))
            }
        finally:
            with self._lock:
                for switch, (msg, _) in waiters.items():
                    self._waiters.pop((switch.dp.id, msg.xid), None)

    # --- the syncer ---------------------------------------------------------------------------

    @fatal_on_error
    def _sync_loop(self):
        while not self._stop.is_set():
            self.clock.wait(self.runtime.plan_changed, PROBE_INTERVAL_S)
            self.runtime.plan_changed.clear()
            if self._stop.is_set():
                return
            self.sync()

    def sync(self):
        """One round of the syncer: let the core's time run on, read the switches that have
        just connected, and bring every switch that is read to the plan."""
        self.runtime.call(lambda core, now: core.tick(now))
        for switch in self._connected():
            if not switch.ready:
                self._read_switch(switch)
        self._reconcile()

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
            self._port(dp.id, port.port_no, _port_up(port, dp.ofproto))
        switch.held = (
            {
                f.key: f
                for f in (ofmsg.flow_from_stats(dp.id, s, dp.ofproto) for s in flows)
                if fl.is_ours(f.cookie)
            },
            {m.meter_id: m for m in (ofmsg.meter_from_stats(dp.id, c) for c in meters)},
            {g.group_id: g for g in (ofmsg.group_from_stats(dp.id, d, dp.ofproto) for d in groups)},
        )
        switch.errors.clear()
        switch.ready = True
        LOG.info(
            'switch %s holds %d flows, %d meters and %d groups of ours',
            switch.site.id,
            *(len(held) for held in switch.held),
        )

    def _reconcile(self):
        plan, generation = self.runtime.call(lambda core, now: (core.plan(), core.generation))
        switches = {s.dp.id: s for s in self._connected() if s.ready}
        changes = reconcile.diff_all({d: plan[d] for d in switches}, {d: s.held for d, s in switches.items()})
        failed, took, flipped_ns = set(), [], None
        for phase, ops_by_dpid in changes.phases.items():
            if phase is Phase.CLEAN_UP and changes.drains:
                self.clock.wait(self._stop, self.drain_s)  # make-before-break: the old paths empty first
            started = self.clock.now_ns()
            self.runtime.call(lambda core, now: [core.programming(d, started, None) for d in ops_by_dpid])
            for dpid, ops in ops_by_dpid.items():
                switch = switches[dpid]
                self.send(switch.dp, *(ofmsg.change(switch.dp, op, item) for op, item in ops))
                for op, item in ops:
                    reconcile.apply(switch.held, op, item)
                    self.figures.sent(op)
            confirmed = self._barriers([switches[d] for d in ops_by_dpid])
            for dpid in ops_by_dpid:
                if dpid not in confirmed or switches[dpid].errors:
                    failed.add(dpid)
            ended = self.clock.now_ns()  # of those that did not confirm: given up on now
            self.runtime.call(
                lambda core, now: [core.programming(d, started, confirmed.get(d, ended)) for d in ops_by_dpid]
            )
            if phase is Phase.FLIP and confirmed:
                flipped_ns = max(confirmed.values())
            took_ns = self.clock.now_ns() - started
            self.figures.phase_took(phase, took_ns / 1e9)
            took.append(f'{took_ns / 1e6:.0f}')
            if failed:
                break
        if changes:
            LOG.info(
                'generation %d: %d changes sent to %d switches (phases took %s ms)',
                generation,
                changes.count(),
                len({d for phase in changes.phases.values() for d in phase}),
                '/'.join(took),
            )
        for dpid in failed:
            LOG.warning('switch %s: changes not confirmed; reading it again', switches[dpid].site.id)
            self.figures.rereads.inc()
            switches[dpid].ready = False
        if failed:
            self.runtime.plan_changed.set()
            return

        def synced(core, now):
            flipped_at = None if flipped_ns is None else now - (self.clock.now_ns() - flipped_ns) / 1e9
            core.synced(switches, generation, now, flipped_at)

        self.runtime.call(synced)

    # --- the prober ---------------------------------------------------------------------------

    @fatal_on_error
    def _probe_loop(self):
        rounds, due = 0, self._now_s()
        while not self._stop.is_set():
            rounds += 1
            if not self.probe_round(due, stats=rounds % STATS_EVERY == 0):
                return
            due += PROBE_INTERVAL_S
            if self.clock.wait(self._stop, max(0.0, due - self._now_s())):
                return
            due = max(due, self._now_s() - PROBE_INTERVAL_S)  # never a burst to catch up

    def probe_round(self, due_s, stats=False):
        """One round of the prober, from `due_s` (the clock's, in s): an echo, a loop probe and
        an LLDP probe out of each span port to every switch that is read, and the counters
        if `stats`; then the spans LLDP has not crossed. False once the app is stopped.

        Switches are probed one after the other, spread over the interval: probing them all
        at once made their LLDP packet-ins queue behind each other in this process, which
        added up to 35 ms to the delays measured on lumen-qts (31 switches, 90 directions).
        A switch's counters are asked for halfway to the next switch's probes, not with its
        own: Open vSwitch answers them in the thread that also hands the probes that just
        left over a short span to the controller, which made those spans read slower."""
        switches = [s for s in self._connected() if s.ready]
        slot = PROBE_INTERVAL_S / max(1, len(switches))
        for i, switch in enumerate(switches):
            if self.clock.wait(self._stop, max(0.0, due_s + i * slot - self._now_s())):
                return False
            self._probe(switch)
            if stats:
                if self.clock.wait(self._stop, max(0.0, due_s + (i + 0.5) * slot - self._now_s())):
                    return False
                self._ask_counters(switch)
        self._check_discovery()
        return True

    def _probe(self, switch):
        dp, p = switch.dp, switch.dp.ofproto_parser
        echo = p.OFPEchoRequest(dp, data=b'naas')
        dp.set_xid(echo)
        sent_ns = self.clock.now_ns()  # not `stamp`: reassigned below before the measurer reads it
        self._measured.put(lambda core, now: core.echo_sent(dp.id, echo.xid, sent_ns))  # before its reply
        self.send(dp, echo)
        loop = lldp.build(dp.id, LOOP_PORT, self.clock.now_ns(), self.instance, CONTROLLER_MAC)
        self.send(dp, ofmsg.packet_out(dp, LOOP_PORT, loop))
        peers = [span.other(switch.site.id) for span in self.fabric.spans_of(switch.site.id)]
        sent = []
        for peer in peers:
            port = addr.span_port(self.fabric, switch.site.id, peer)
            stamp = self.clock.now_ns()
            self.send(
                dp, ofmsg.packet_out(dp, port, lldp.build(dp.id, port, stamp, self.instance, CONTROLLER_MAC))
            )
            sent.append((port, stamp))
        self._measured.put(lambda core, now: core.probes_sent(dp.id, sent, now))
        # One neighbour a round turns a bounce probe back: it times that neighbour's crossing.
        switch.rounds += 1
        port = addr.span_port(self.fabric, switch.site.id, peers[switch.rounds % len(peers)])
        frame = lldp.build(dp.id, port, self.clock.now_ns(), self.instance, CONTROLLER_MAC, bounce=True)
        self.send(dp, ofmsg.packet_out(dp, port, frame))

    def _ask_counters(self, switch):
        """Port counters (utilization, loss), and the intents' meters and egress flows."""
        dp, p = switch.dp, switch.dp.ofproto_parser
        self.send(
            dp,
            p.OFPPortStatsRequest(dp, 0, dp.ofproto.OFPP_ANY),
            ofmsg.meter_stats_request(dp),
            *(ofmsg.egress_flow_stats_request(dp, port) for port in self.tenant_ports[switch.site.id]),
        )

    def _check_discovery(self):
        stamp = self.clock.now_ns()
        connected = {s.dp.id: s.connected_ns for s in self._connected()}
        self._measured.put(lambda core, now: _warn(core.discovery_notices(connected, stamp)))

    def _now_s(self):
        return self.clock.now_ns() / 1e9


def _port_up(desc, ofproto):
    return not (desc.state & ofproto.OFPPS_LINK_DOWN) and not (desc.config & ofproto.OFPPC_PORT_DOWN)


def _warn(notices):
    """The core's notices for the operator."""
    for notice in notices:
        LOG.warning('%s', notice)
