"""The read model (controller/northbound/reads.py): what GetIntent, ListIntents and WatchIntents
see without the runtime's lock is what the core committed, whole commits at a time."""

import itertools
import threading

import pytest

from controller.core.controller import Controller
from controller.core.errors import NotFound
from controller.core.intent import State
from controller.core.topology import Link
from controller.northbound.reads import Reads
from topologies.model import addressing as addr
from topologies.model.fabric import load_fabric
from topologies.model.order import Order

TRIANGLE = load_fabric('triangle')
LUMEN = load_fabric('lumen-qts')


def attached():
    core = Controller(TRIANGLE)
    for site in TRIANGLE.sites.values():
        core.switch_connected(addr.dpid(site), now=0)
    core.create(Order('red', 'dca', 'dcb', 1), now=0)  # before the model attaches: loaded
    reads = Reads()
    reads.attach(core)
    return core, reads


def sync(core, now=1):
    core.synced(list(core.plan()), core.generation, now)


def test_get_sees_each_commit_and_only_the_tenants_own():
    core, reads = attached()
    blue = core.create(Order('blue', 'dca', 'dcc', 2), now=1)
    assert reads.get('i-1').state is State.INSTALLING
    assert reads.get(blue.id, 'blue').path == ('dca', 'dcc')
    with pytest.raises(NotFound, match=f'intent {blue.id} not found'):
        reads.get(blue.id, 'red')
    sync(core)
    assert reads.get('i-1', 'red').state is State.INSTALLED
    core.delete('i-1', now=2)
    sync(core, 3)
    with pytest.raises(NotFound):
        reads.get('i-1')  # withdrawn: no longer kept


def test_pages_follow_numbers_and_filters():
    core, reads = attached()
    for src, dst in (('dca', 'dcc'), ('dcb', 'dcc')):
        core.create(Order('red', src, dst, 1), now=1)
    core.create(Order('blue', 'dca', 'dcc', 1), now=1)
    views, last = reads.page('red', None, None, after=0, size=2)
    assert [v.id for v in views] == ['i-1', 'i-2'] and last == 2
    views, last = reads.page('red', None, None, after=last, size=2)
    assert [v.id for v in views] == ['i-3'] and last is None
    assert [v.id for v in reads.page(None, None, None, 0, 10)[0]] == ['i-1', 'i-2', 'i-3', 'i-4']
    assert [v.id for v in reads.page(None, None, 'dcb', 0, 10)[0]] == ['i-1', 'i-3']
    sync(core)
    core.delete('i-2', now=2)
    assert [v.id for v in reads.page(None, State.WITHDRAWING, None, 0, 10)[0]] == ['i-2']
    assert [v.id for v in reads.page('blue', State.INSTALLED, None, 0, 10)[0]] == ['i-4']
    assert reads.page('green', None, None, 0, 10) == ([], None)


def test_a_path_latency_follows_the_measured_delays():
    core, reads = attached()
    before = reads.get('i-1').path_latency_ms
    core.delay_measured(Link('dca', 'dcb'), before + 7, now=5)
    core.delay_measured(Link('dcb', 'dca'), before + 7, now=5)
    assert reads.get('i-1').path_latency_ms == pytest.approx(before + 7)


def test_watch_gives_where_intents_are_then_every_event_after():
    core, reads = attached()
    events = []
    current, unsubscribe = reads.watch(events.append, 'red', None, True, now=1)
    assert [(e.intent_id, e.state) for e in current] == [('i-1', State.INSTALLING)]
    core.create(Order('blue', 'dca', 'dcc', 1), now=1)  # the watcher filters tenants itself
    sync(core)
    assert [(e.intent_id, e.state) for e in events] == [
        ('i-2', State.COMPILING),
        ('i-2', State.INSTALLING),
        ('i-1', State.INSTALLED),
        ('i-2', State.INSTALLED),
    ]
    unsubscribe()
    core.delete('i-1', now=2)
    assert len(events) == 4
    assert reads.watch(events.append, 'blue', 'i-1', True, now=2)[0] == []  # not blue's


def test_reads_never_see_half_a_commit():
    """A reader racing batches of creates sees every batch whole or not at all."""
    core = Controller(LUMEN)
    for site in LUMEN.sites.values():
        core.switch_connected(addr.dpid(site), now=0)
    reads = Reads()
    reads.attach(core)
    seen, stop = set(), threading.Event()

    def reader():
        while not stop.is_set():
            seen.add(len(reads.page(None, None, None, 0, 1000)[0]))

    thread = threading.Thread(target=reader)
    thread.start()
    sizes = [0]
    try:
        for tenant in LUMEN.tenants.values():
            pairs = list(itertools.combinations(tenant.sites, 2))
            core.create_many([Order(tenant.id, a, b, 0.01) for a, b in pairs], now=1)
            sizes.append(sizes[-1] + len(pairs))
    finally:
        stop.set()
        thread.join()
    assert seen <= set(sizes), (sorted(seen), sizes)
