"""What the controller measures about each link (one direction of a span), from the raw facts
the southbound shim stamps: its one-way delay, from LLDP probes corrected by each switch's own
round trip, and its load, from port counters; and which spans LLDP shows (discovery).

Pure: the shim passes its stamps in (one monotonic clock, in ns); nothing here reads a clock,
sends or logs. What the operator should hear about comes back as notices (plain text, each
said once), which the shim logs as warnings.

How a span's delay is taken: the shim sends, every probe round, an LLDP probe out of each span
port (stamped with its send time) and a loop probe that the switch sends straight back to the
controller, and an OpenFlow echo. A probe that comes back from the far switch crossed the
span plus each switch's packet-out or packet-in path; the loop probe times that path at each
switch (see `_path_s`); what is left is the span (see estimators.DelayEstimator).
"""

from collections.abc import Callable, Sequence

from controller.core.estimators import (
    CROSSING_SAMPLES,
    CROSSING_WINDOW,
    DelayEstimator,
    RoundTrips,
    UtilizationMeter,
    WindowedMinimum,
)
from controller.core.gray import GrayFailures
from controller.core.topology import Link
from topologies.model import addressing as addr
from topologies.model.fabric import Fabric

DISCOVERY_GRACE_S = 10.0  # a span not seen by LLDP this long after both ends connect is reported


class Measurement:
    """The measurement pipeline of one fabric: fed raw facts, returns what they taught."""

    def __init__(self, fabric: Fabric):
        self.fabric = fabric
        self._sites = {addr.dpid(site): site.id for site in fabric.sites.values()}
        self._echoes = RoundTrips()  # OpenFlow echo round trips, per switch
        self._loops = RoundTrips()  # packet-out -> packet-in at one switch, per switch
        self._delays = DelayEstimator()
        self._crossings = WindowedMinimum(CROSSING_WINDOW)  # per site, ms
        self._usage = UtilizationMeter()
        self._programming: dict[
            int, tuple[int, int | None]
        ] = {}  # dpid -> (start ns, end ns or None): its last sync
        self._seen: set[Link] = set()  # Links LLDP has shown
        self.gray = GrayFailures(fabric.spans)  # spans that drop frames, their carrier up
        self._said: set[tuple] = set()  # keys of the notices already returned

    # --- round trips ------------------------------------------------------------------------

    def echo_sent(self, dpid: int, xid: int, stamp_ns: int) -> None:
        self._echoes.sent(dpid, xid, stamp_ns / 1e9)

    def echo_replied(self, dpid: int, xid: int, stamp_ns: int) -> None:
        self._echoes.replied(dpid, xid, stamp_ns / 1e9)

    def loop_returned(self, dpid: int, sent_ns: int, received_ns: int) -> None:
        """A loop probe came back to the controller from the switch that sent it."""
        self._loops.measured(dpid, (received_ns - sent_ns) / 1e9)

    def programming(self, dpid: int, start_ns: int, end_ns: int | None) -> None:
        """The switch takes flow changes from `start_ns` until `end_ns` (None: not done yet)."""
        self._programming[dpid] = (start_ns, end_ns)

    # --- span probes ------------------------------------------------------------------------

    def probes_sent(self, dpid: int, sent: Sequence[tuple[int, int]]) -> None:
        """Switch `dpid` was asked to send an LLDP probe out of each (span port, stamped ns)."""
        site = self._sites.get(dpid)
        if site is None:
            return
        for port, stamp_ns in sent:
            peer = addr.span_peer(self.fabric, site, port)
            if peer is not None:
                self.gray.probe_sent(Link(site, peer), stamp_ns / 1e9)

    def probe_received(
        self, dpid: int, in_port: int, sender_dpid: int, sender_port: int, sent_ns: int, received_ns: int
    ) -> tuple[list[tuple[Link, float]], list[str]]:
        """An LLDP probe that switch `sender_dpid` sent out of `sender_port` at `sent_ns` came
        in at port `in_port` of switch `dpid` at `received_ns`. Returns (the new delay
        estimates as (Link, ms): the link's and, once measured, its reverse's, since a link's
        estimate is its span's (see DelayEstimator); notices)."""
        site, sender = self._sites.get(dpid), self._sites.get(sender_dpid)
        if site is None or sender is None:
            return [], []
        expected = (
            self.fabric.span(sender, site) is not None
            and sender_port == addr.span_port(self.fabric, sender, site)
            and in_port == addr.span_port(self.fabric, site, sender)
        )
        if not expected:
            notice = (
                f'unexpected link: {sender} port {sender_port} reaches {site} port {in_port}, '
                'not a span of the fabric'
            )
            return [], self._once(('unexpected', sender, sender_port, site, in_port), notice)
        link = Link(sender, site)
        self._seen.add(link)
        self.gray.probe_arrived(link, sent_ns / 1e9, received_ns / 1e9)
        if self._was_programming(sender_dpid, sent_ns, received_ns) or self._was_programming(
            dpid, sent_ns, received_ns
        ):
            return [], []
        rtts = self._path_s(sender_dpid), self._path_s(dpid)
        src, dst = self._loops.latest_s(sender_dpid), self._loops.latest_s(dpid)
        beside = (src, dst) if src is not None and dst is not None else None
        if self._delays.add(link, sent_ns, received_ns, *rtts, latest_s=beside) is None:
            return [], []
        estimates = [(d, self._delays.estimate_ms(d)) for d in (link, link.reverse())]
        return [(d, ms) for d, ms in estimates if ms is not None], self._delays.take_rises()

    def bounce_returned(
        self, dpid: int, port_no: int, sent_ns: int, received_ns: int
    ) -> tuple[str, float] | None:
        """A bounce probe that switch `dpid` sent out of span port `port_no` at `sent_ns` came
        back in there at `received_ns`, turned back by the switch at the span's far end in its
        fast path. Its round trip less this switch's own loop and the span's delay both ways is
        what the far switch took to turn it: the forwarding a tenant's frame pays there. Returns
        (that site, its new crossing estimate in ms), or None: while the span is not measured
        both ways, when a switch was being reprogrammed meanwhile, for a sample slower than the
        far switch's own slow path (noise of the loops subtracted, not forwarding: seen at
        start-up, tens of ms), and until CROSSING_SAMPLES samples have come."""
        site = self._sites.get(dpid)
        peer = None if site is None else addr.span_peer(self.fabric, site, port_no)
        if site is None or peer is None or received_ns < sent_ns:
            return None
        loop = self._path_s(dpid)
        out, back = self._delays.estimate_ms(Link(site, peer)), self._delays.estimate_ms(Link(peer, site))
        if loop is None or out is None or back is None:
            return None
        peer_dpid = addr.dpid(self.fabric.sites[peer])
        if self._was_programming(dpid, sent_ns, received_ns) or self._was_programming(
            peer_dpid, sent_ns, received_ns
        ):
            return None
        ms = (received_ns - sent_ns) / 1e6 - loop * 1e3 - out - back
        peer_loop = self._path_s(peer_dpid)
        if peer_loop is None or ms > peer_loop * 1e3:
            return None  # slower than the switch's own slow path: noise of the loops, not forwarding
        crossing = self._crossings.add(peer, max(0.0, ms))
        return (peer, crossing) if self._crossings.count(peer) >= CROSSING_SAMPLES else None

    def _was_programming(self, dpid: int, sent_ns: int, received_ns: int) -> bool:
        """Whether the switch took flow changes while the probe crossed it: a switch busy
        installing flows is slow to packet a probe in or out, which measures the reprogramming
        (on lumen-qts, up to 15 ms a span after a cut), not the span."""
        start, end = self._programming.get(dpid, (None, None))
        return start is not None and start <= received_ns and (end is None or end >= sent_ns)

    def _path_s(self, dpid: int) -> float | None:
        """What an LLDP probe spends outside the span at a switch: the switch's own
        packet-out -> packet-in loop, which passes the same slow path as the probe (on a busy
        machine, milliseconds that an echo, answered without it, does not see); the echo's
        round trip until the switch has looped a probe."""
        loop = self._loops.rtt_s(dpid)
        return loop if loop is not None else self._echoes.rtt_s(dpid)

    # --- load -------------------------------------------------------------------------------

    def port_counters(
        self,
        dpid: int,
        port_no: int,
        tx_bytes: int,
        stamp_ns: int,
        tx_packets: int = 0,
        rx_packets: int = 0,
        port_ns: int | None = None,
    ) -> tuple[Link, float] | None:
        """A port's counters read at `stamp_ns`: the load of the link it sends on, as (Link,
        Gb/s at the fabric's scale), or None (not a span port, or no rate yet); its packet
        counts go to the gray failure detector (frames sent here against received there),
        timed by `port_ns`, the port's own clock (how long it has been up), when given."""
        site = self._sites.get(dpid)
        peer = None if site is None else addr.span_peer(self.fabric, site, port_no)
        if site is None or peer is None:
            return None
        link = Link(site, peer)
        at = (stamp_ns if port_ns is None else port_ns) / 1e9
        self.gray.counters(link, 'tx', at, tx_packets)
        self.gray.counters(link.reverse(), 'rx', at, rx_packets)
        mbps = self._usage.add(link, tx_bytes, stamp_ns / 1e9)
        return None if mbps is None else (link, mbps / 1000.0 / self.fabric.bandwidth_scale)

    # --- forgetting -------------------------------------------------------------------------

    def switch_gone(self, dpid: int) -> None:
        """The switch disconnected: a new connection may take another route, and its spans
        may come back on other fibers, so all of it is measured afresh."""
        self._echoes.forget(dpid)
        self._loops.forget(dpid)
        site = self._sites[dpid]
        self._crossings.forget(site)
        for span in self.fabric.spans_of(site):
            for link in (Link(site, span.other(site)), Link(span.other(site), site)):
                self._delays.forget(link)
                self._usage.forget(link)
                self.gray.forget([link])

    def port_down(self, dpid: int, port_no: int) -> None:
        """A span port went down: its span is measured afresh once restored, both ways (it may
        come back on another fiber route, and a link's estimate is its span's)."""
        site = self._sites[dpid]
        peer = addr.span_peer(self.fabric, site, port_no)
        if peer is not None:
            self._delays.forget(Link(site, peer))
            self._delays.forget(Link(peer, site))
            self.gray.forget([Link(site, peer), Link(peer, site)])

    # --- discovery --------------------------------------------------------------------------

    def discovery(
        self, connected_ns: dict[int, int], stamp_ns: int, span_up: Callable[[str], bool]
    ) -> list[str]:
        """Notices for the spans that LLDP has not crossed though both their switches have
        been connected (since `connected_ns[dpid]`) longer than DISCOVERY_GRACE_S at
        `stamp_ns`, and `span_up(span_id)` says they are up."""
        connected = {self._sites[d]: at for d, at in connected_ns.items() if d in self._sites}
        notices = []
        for span in self.fabric.spans:
            if (
                span.a in connected
                and span.b in connected
                and stamp_ns - max(connected[span.a], connected[span.b]) > DISCOVERY_GRACE_S * 1e9
                and span_up(span.id)
                and not {Link(span.a, span.b), Link(span.b, span.a)} & self._seen
            ):
                notice = (
                    f'span {span.id} is in the fabric but LLDP has not crossed it in '
                    f'{DISCOVERY_GRACE_S:.0f} s'
                )
                notices += self._once(('missing', span.id), notice)
        return notices

    def _once(self, key: tuple, notice: str) -> list[str]:
        if key in self._said:
            return []
        self._said.add(key)
        return [notice]
