"""Which switches are connected, which span ports are up, what each switch has confirmed, and
from those which spans are up: the one owner of that state (the topology's span states are
what `refresh` decides, and only it writes them).

A span is usable while both its switches are connected, both its ports are up, and it is not
gray (dropping frames with its carrier up: gray.py). Until a
switch first connects, its spans count as up (so intents restored after a controller restart
keep their routes while the switches reconnect), and after the start-up grace as down.
"""

from collections.abc import Iterable

from controller.core.topology import Topology
from topologies.model import addressing as addr
from topologies.model.fabric import Fabric, Span


class Liveness:
    def __init__(self, fabric: Fabric, topology: Topology, now: float, grace_s: float):
        self.fabric, self.topology = fabric, topology
        self.sites = {addr.dpid(site): site.id for site in fabric.sites.values()}  # dpid -> site id
        self._switch: dict[int, bool | None] = dict.fromkeys(self.sites)  # None: not seen yet
        self._port_up: dict[tuple[int, int], bool] = {}  # (dpid, span port) -> up
        self._synced = dict.fromkeys(self.sites, 0)  # dpid -> last generation it confirmed
        self._grace_until = now + grace_s
        self._gray: set[str] = set()  # spans whose carrier is up but which drop frames (gray.py)
        self._grace_over = False

    def site(self, dpid: int) -> str:
        if dpid not in self.sites:
            raise ValueError(f'datapath {dpid} is not a site of fabric {self.fabric.name}')
        return self.sites[dpid]

    # --- facts --------------------------------------------------------------------------------

    def switch_connected(self, dpid: int) -> str:
        """Returns why spans may change (for their events)."""
        site = self.site(dpid)
        self._switch[dpid], self._synced[dpid] = True, 0
        return f'switch {site} connected'

    def switch_disconnected(self, dpid: int) -> str:
        site = self.site(dpid)
        self._switch[dpid], self._synced[dpid] = False, 0
        for key in [k for k in self._port_up if k[0] == dpid]:
            del self._port_up[key]
        return f'switch {site} disconnected'

    def port_state(self, dpid: int, port_no: int, up: bool) -> str | None:
        """Why spans may change, or None: not a span port, or no change."""
        site = self.site(dpid)
        peer = addr.span_peer(self.fabric, site, port_no)
        if peer is None or self._port_up.get((dpid, port_no)) == bool(up):
            return None
        self._port_up[(dpid, port_no)] = bool(up)
        return f'port {site}-{peer} {"up" if up else "down"}'

    def set_gray(self, span_id: str, gray: bool) -> None:
        (self._gray.add if gray else self._gray.discard)(span_id)

    def carrier(self, span: Span) -> bool:
        """Whether the span's switches are connected and its ports up (gray or not)."""
        return self._live(span, gray_too=False)

    def end_grace(self, now: float) -> bool:
        """True once, when the start-up grace for switches never seen ends."""
        if self._grace_over or now < self._grace_until:
            return False
        self._grace_over = True
        return True

    def synced(self, dpid: int, generation: int) -> None:
        self.site(dpid)
        self._synced[dpid] = max(self._synced[dpid], generation)

    # --- what follows from them ---------------------------------------------------------------

    def refresh(self) -> tuple[list[str], list[str]]:
        """Bring the topology's span states up to date: (span ids gone down, come up)."""
        went_down: list[str] = []
        came_up: list[str] = []
        for span in self.fabric.spans:
            live = self._live(span)
            if self.topology.set_up(span.id, live):
                (came_up if live else went_down).append(span.id)
        return went_down, came_up

    def confirmed(self, dpids: Iterable[int], generation: int) -> bool:
        """Every one of these switches holds the plan of `generation` (or a later one)."""
        return all(self._synced[d] >= generation for d in dpids)

    def cleared(self, dpids: Iterable[int], generation: int) -> bool:
        """Every one of these switches no longer holds what `generation` removed: confirmed it,
        or disconnected (a switch that comes back is reconciled then)."""
        return all(self._synced[d] >= generation or self._switch[d] is False for d in dpids)

    def connected(self, site_id: str) -> bool:
        return self._switch[addr.dpid(self.fabric.sites[site_id])] is True

    def _live(self, span: Span, gray_too: bool = True) -> bool:
        if gray_too and span.id in self._gray:
            return False
        for site, peer in ((span.a, span.b), (span.b, span.a)):
            dpid = addr.dpid(self.fabric.sites[site])
            state = self._switch[dpid]
            if state is False or (state is None and self._grace_over):
                return False
            if self._port_up.get((dpid, addr.span_port(self.fabric, site, peer))) is False:
                return False
        return True
