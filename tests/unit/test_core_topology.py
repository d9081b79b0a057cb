"""controller.core.topology: the network as the controller knows it."""

import pytest

from controller.core.topology import Link, Topology
from topologies.model.fabric import load_fabric


@pytest.fixture
def triangle():
    return Topology.from_fabric(load_fabric('triangle'))


def test_spans_keep_the_fabric_ids_and_capacities(triangle):
    assert sorted(triangle.spans) == ['dca-dcb', 'dca-dcc', 'dcb-dcc']
    assert triangle.capacity_gbps(Link('dcc', 'dca')) == 10
    assert triangle.span_of(Link('dcb', 'dca')).span_id == 'dca-dcb'
    assert len(triangle.links()) == 6
    assert not triangle.has_link(Link('dca', 'dca'))


def test_delay_is_the_prior_until_measured_per_direction(triangle):
    there, back = Link('dca', 'dcb'), Link('dcb', 'dca')
    assert triangle.delay_ms(there) == triangle.delay_ms(back) == 4
    triangle.record_delay(there, 9.5, now=100.0)
    assert triangle.delay_ms(there) == 9.5
    assert triangle.delay_ms(back) == 4
    with pytest.raises(ValueError, match='dca->dcb'):
        triangle.record_delay(there, -1, now=101.0)
    assert triangle.delay_ms(there) == 9.5


def test_a_span_down_leaves_the_neighbours_both_ways(triangle):
    assert set(triangle.neighbours('dca')) == {Link('dca', 'dcb'), Link('dca', 'dcc')}
    assert triangle.set_up('dca-dcb', False) is True
    assert triangle.set_up('dca-dcb', False) is False  # no change
    assert triangle.neighbours('dca') == [Link('dca', 'dcc')]
    assert Link('dcb', 'dca') not in triangle.neighbours('dcb')
    assert triangle.set_up('dca-dcb', True) is True
    assert Link('dcb', 'dca') in triangle.neighbours('dcb')


def test_reverse():
    assert Link('a1', 'b1').reverse() == Link('b1', 'a1')
