"""The pytest plugin's documented example (docs/pytest-plugin.md), run as it is: a user's own
topology tests on the shipped triangle fabric, through the `naas` fixture."""

import pytest

from topologies.lab.lab import wait_for

pytestmark = [pytest.mark.root, pytest.mark.naas_fabric('triangle')]


def test_an_intent_carries_traffic_and_keeps_the_tenants_apart(naas):
    intent = naas.order('red', 'dca', 'dcc', 2, max_latency_ms=12)  # waits until INSTALLED
    assert intent.path[0] == 'dca' and intent.path[-1] == 'dcc'
    assert naas.pings(('red', 'dca'), ('red', 'dcc'))[1] > 0
    assert naas.pings(('blue', 'dca'), ('red', 'dcc'))[1] == 0  # no frame between tenants


def test_a_cut_span_moves_the_intent(naas):
    intent = naas.order('red', 'dca', 'dcc', 2)
    a, b = intent.path[:2]
    naas.span_down(a, b)  # restored after the test
    with naas.client('red') as client:
        wait_for('the intent moved', lambda: list(client.get_intent(intent.id).path[:2]) != [a, b])
        client.wait_for_state(intent.id, timeout_s=10)
    assert naas.pings(('red', 'dca'), ('red', 'dcc'))[1] > 0


def test_each_test_starts_from_the_same_fabric(naas):
    assert naas.emulation.span_state('dca', 'dcc')['up']  # the cut above was undone
    with naas.client() as client:
        assert not list(client.list_intents(state='INSTALLED'))  # and its intent withdrawn
