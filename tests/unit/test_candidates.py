"""controller/core/candidates.py: candidate paths per site pair kept between placements,
made afresh when a span goes down or up or a delay moves beyond the drift; their latency
is always what the delays are now, so a bound is never broken by what was kept."""

from controller.core import packing
from controller.core.books import Books
from controller.core.candidates import DRIFT, Candidates
from controller.core.errors import Unplaceable
from controller.core.paths import k_paths
from controller.core.topology import Link, Topology
from tests.unit.test_controller_core import LUMEN, TRIANGLE, connected
from tests.unit.test_make_room import within_limits
from tests.unit.test_policy import cut
from topologies.model.order import Order


def test_kept_paths_are_yens_without_bandwidth():
    topology = Topology.from_fabric(LUMEN)
    basis = Candidates(8).on(topology)
    unlimited = k_paths(topology, 'phx1', 'iad1', 8, 0.0, lambda link: float('inf'))
    assert basis.paths(topology, 'phx1', 'iad1') == unlimited
    assert basis.paths(topology, 'phx1', 'iad1') is basis.paths(topology, 'phx1', 'iad1')


def test_the_basis_holds_while_delays_move_little_and_no_span_changes():
    topology = Topology.from_fabric(TRIANGLE)
    paths = Candidates(8)
    basis = paths.on(topology)
    topology.record_delay(Link('dca', 'dcb'), 4.05, now=1)  # measurement noise
    assert paths.on(topology) is basis
    topology.record_delay(Link('dca', 'dcb'), 4 * (1 + 2 * DRIFT), now=2)
    moved = paths.on(topology)
    assert moved is not basis
    topology.spans['dcb-dcc'].up = False
    down = paths.on(topology)
    assert down is not moved and down.paths(topology, 'dca', 'dcc') == k_paths(
        topology, 'dca', 'dcc', 8, 0.0, lambda link: float('inf')
    )
    assert [p.sites for p in down.paths(topology, 'dca', 'dcc')] == [('dca', 'dcc')]
    topology.spans['dcb-dcc'].up = True
    assert paths.on(topology) is not down


def test_a_kept_path_is_weighed_with_its_latency_now():
    """dca-dcc is kept at 9 ms; it measures 9.4 ms now (within the drift: the basis holds), so
    an order bounded at 9.2 ms may not take it, and goes nowhere else within the bound."""
    topology = Topology.from_fabric(TRIANGLE)
    paths = Candidates(8)
    basis = paths.on(topology)
    assert basis.paths(topology, 'dca', 'dcc')[0].sites == ('dca', 'dcc')
    for link in (Link('dca', 'dcc'), Link('dcc', 'dca')):
        topology.record_delay(link, 9.4, now=1)
    assert paths.on(topology) is basis
    core = connected(TRIANGLE)
    intent = core.orders.intent(Order('red', 'dca', 'dcc', 1, max_latency_ms=9.2))
    books = Books(topology, 0.1)
    assert packing.candidates(topology, packing._rooms(topology, books), intent, basis) == []
    bounded = core.orders.intent(Order('red', 'dca', 'dcc', 1, max_latency_ms=9.5))
    [placement] = packing.candidates(topology, packing._rooms(topology, books), bounded, basis)
    assert placement.primary.sites == ('dca', 'dcc')


def test_when_no_kept_path_has_the_room_yen_searches_the_links_that_have_it():
    """On lumen-qts with k = 1 the kept path of a pair is its fastest; filled, the order still
    gets the fastest path among the links with room."""
    topology = Topology.from_fabric(LUMEN)
    basis = Candidates(1).on(topology)
    [fastest] = basis.paths(topology, 'phx1', 'iad1')
    core = connected(LUMEN)
    intent = core.orders.intent(Order('acme', 'phx1', 'iad1', 10))
    books = Books(topology, 0.1)
    rooms = packing._rooms(topology, books)
    rooms[fastest.links[0]] = (0.0, 0.0)
    options = packing.candidates(topology, rooms, intent, basis)
    room = {link: min(rooms[link]) for link in rooms}
    assert [o.primary for o in options] == k_paths(topology, 'phx1', 'iad1', packing.K, 10, room)
    assert options and all(fastest.links[0] not in o.primary.links for o in options)


def test_a_batch_after_a_cut_never_takes_the_span_cut():
    core = connected(TRIANGLE, headroom=0.1)
    first = core.create_many([Order('red', 'dca', 'dcc', 1)], now=1)
    assert core.routes.of(first[0].id).sites == ('dca', 'dcc')
    cut(core, TRIANGLE, 'dca', 'dcc', False, now=2)
    made = core.create_many([Order('blue', 'dca', 'dcc', 1)], now=3)
    assert not isinstance(made[0], Unplaceable)
    assert core.routes.of(made[0].id).sites == ('dca', 'dcb', 'dcc') and within_limits(core)
