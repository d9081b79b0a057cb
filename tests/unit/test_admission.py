"""controller.core.admission: reserve where an intent fits, all or nothing, reusing its own share."""

import pytest

from controller.core import admission
from controller.core.books import Books
from controller.core.intent import Intent
from controller.core.ledger import AdmissionError, Ledger
from controller.core.paths import NoPath
from controller.core.topology import Link, Topology
from topologies.model.fabric import load_fabric
from topologies.model.order import Protection


def network(name):
    """The topology, its books and their committed ledger."""
    topology = Topology.from_fabric(load_fabric(name))
    books = Books(topology)
    return topology, books, books.committed


def order(intent_id, gbps, src='west', dst='east', **kw):
    return Intent(intent_id, 'acme', src, dst, gbps, **kw)


def sites(path):
    return '->'.join(path.sites)


def test_admitted_intents_fill_the_short_path_then_take_the_detour():
    topology, books, ledger = network('thin-fat')  # west-east: 5 Gb/s, 8 ms; detour 40 Gb/s, 22 ms
    first = admission.admit(topology, books, order('i-1', 4))
    assert sites(first.primary) == 'west->east' and first.backup is None
    assert first.latency_ms(topology) == 8
    second = admission.admit(topology, books, order('i-2', 4))
    assert sites(second.primary) == 'west->north->hub->east'
    assert ledger.reserved_gbps(Link('west', 'east')) == 4
    assert ledger.reserved_gbps(Link('east', 'west')) == 4  # an E-Line: both directions
    assert ledger.reserved_gbps(Link('north', 'hub')) == 4


def test_a_refused_intent_changes_nothing_and_says_what_would_fit():
    topology, books, ledger = network('thin-fat')
    admission.admit(topology, books, order('i-1', 4))
    before = ledger.snapshot()
    with pytest.raises(NoPath) as refused:
        admission.admit(topology, books, order('i-2', 4, max_latency_ms=15))
    assert refused.value.constraint in ('bandwidth', 'latency')
    assert refused.value.widest_within_bound_gbps == pytest.approx(1)  # what is left on the short span
    assert refused.value.min_latency_ms == pytest.approx(22)
    assert ledger.snapshot() == before


def test_raising_bandwidth_reuses_the_intents_own_share():
    topology, books, ledger = network('thin-fat')
    admission.admit(topology, books, order('i-1', 3))
    raised = admission.admit(topology, books, order('i-1', 5))  # 3 own + 2 free = 5: stays
    assert sites(raised.primary) == 'west->east'
    assert ledger.reserved_gbps(Link('west', 'east')) == 5
    assert ledger.holders() == [('i-1', 'primary')]
    moved = admission.admit(topology, books, order('i-1', 6))  # no longer fits: detour
    assert sites(moved.primary) == 'west->north->hub->east'
    assert ledger.reserved_gbps(Link('west', 'east')) == 0


def test_protected_intents_reserve_a_disjoint_backup():
    topology, books, ledger = network('triangle')
    placement = admission.admit(
        topology, books, order('p-1', 5, src='dca', dst='dcb', protection=Protection.PROTECTED)
    )
    assert sites(placement.primary) == 'dca->dcb'
    assert sites(placement.backup) == 'dca->dcc->dcb'
    for link in (Link('dca', 'dcb'), Link('dca', 'dcc'), Link('dcc', 'dcb')):
        assert ledger.reserved_gbps(link) == ledger.reserved_gbps(link.reverse()) == 5
    # Dropping protection gives the backup's share back.
    admission.admit(topology, books, order('p-1', 5, src='dca', dst='dcb'))
    assert ledger.reserved_gbps(Link('dca', 'dcc')) == 0
    assert ledger.holders() == [('p-1', 'primary')]


def test_a_cut_span_is_avoided_and_withdraw_frees_everything():
    topology, books, ledger = network('triangle')
    admission.admit(topology, books, order('i-1', 2, src='dca', dst='dcb'))
    topology.set_up('dca-dcb', False)
    moved = admission.admit(topology, books, order('i-1', 2, src='dca', dst='dcb'))
    assert sites(moved.primary) == 'dca->dcc->dcb'
    assert books.withdraw('i-1') is True
    assert books.withdraw('i-1') is False
    assert ledger.holders() == []


def test_compute_is_a_dry_run():
    topology, books, ledger = network('triangle')
    placement = admission.compute(topology, books, order('i-1', 2, src='dca', dst='dcc'))
    assert sites(placement.primary) == 'dca->dcc'
    assert ledger.holders() == []


def test_a_ledger_that_disagrees_is_rolled_back(monkeypatch):
    topology, books, ledger = network('triangle')
    admission.admit(topology, books, order('i-1', 2, src='dca', dst='dcb'))
    before = ledger.snapshot()
    real = Ledger.reserve

    def refuse(self, holder, links, gbps):
        raise AdmissionError('injected')

    monkeypatch.setattr(Ledger, 'reserve', refuse)
    with pytest.raises(AdmissionError):
        admission.admit(topology, books, order('i-1', 3, src='dca', dst='dcb'))
    monkeypatch.setattr(Ledger, 'reserve', real)
    assert ledger.snapshot() == before


def test_a_path_fits_only_where_both_directions_have_room():
    topology, books, ledger = network('thin-fat')
    ledger.reserve(('other', 'x'), [Link('east', 'west')], 3)  # return direction of the short span
    placement = admission.admit(topology, books, order('i-1', 4))
    assert sites(placement.primary) == 'west->north->hub->east'
    links, _gbps = ledger.reservation(('i-1', 'primary'))
    assert set(links) == {
        Link('west', 'north'),
        Link('north', 'hub'),
        Link('hub', 'east'),
        Link('east', 'hub'),
        Link('hub', 'north'),
        Link('north', 'west'),
    }
