"""The etcd store, the mirror and the election on a real etcd cluster of 3 members (no root):
a group is one transaction that holds only under the leader's generation; the mirror follows
every write, across a member's death; one campaign of several wins."""

import threading
import time

import pytest

from controller.core.controller import Controller
from controller.core.errors import Unavailable
from controller.core.intent import State
from controller.core.restore import Restored
from controller.core.topology import Topology
from controller.northbound.seat import NotLeader, Seat
from controller.replica import Election
from controller.store.etcd import Etcd, EtcdStore, Keys, endpoints, put
from controller.store.group import StoreError
from controller.store.mirror import Mirror
from topologies.model.fabric import load_fabric
from topologies.model.order import Order

TRIANGLE = load_fabric('triangle')


def order(src='dca', dst='dcb', gbps=1.0, tenant='red'):
    return Order(tenant, src, dst, gbps)


def lead(etcd, keys, name='r0'):
    election = Election(etcd, keys, name, f'127.0.0.1:{len(name)}')
    assert election.campaign()
    return election


def started_mirror(etcd, keys):
    return Mirror(etcd, keys, Topology.from_fabric(TRIANGLE).delays(), Restored(TRIANGLE)).start()


def books(core):
    return sorted(map(str, core.books.committed.snapshot())), sorted(map(str, core.books.peak.snapshot()))


def test_endpoints_are_read_from_the_url_or_refused_naming_it():
    assert endpoints('etcd://127.0.0.1:2379,[::1]:2380') == [('127.0.0.1', 2379), ('::1', 2380)]
    for bad in ('http://127.0.0.1:2379', 'etcd://127.0.0.1', 'etcd://host:99999', 'etcd://:12'):
        with pytest.raises(StoreError, match='--store'):
            endpoints(bad)


def test_a_follower_names_the_leader_or_says_there_is_none():
    assert 'no leader now' in str(NotLeader(None))
    refused = NotLeader(('r1', '127.0.0.1:5'))
    assert 'the leader is r1 at 127.0.0.1:5' in str(refused) and refused.leader_address == '127.0.0.1:5'
    with pytest.raises(NotLeader):
        Seat(lambda: None).call(lambda core, now: None)


def test_the_leader_writes_and_a_mirror_follows_every_commit(etcd_cluster):
    etcd, keys = Etcd(etcd_cluster.url), Keys(TRIANGLE.name)
    mirror = started_mirror(etcd, keys)
    election = lead(etcd, keys)
    assert mirror.wait_for(election.generation, 5)
    store = EtcdStore(etcd, keys, election.generation, mirror.meta)
    core = Controller(TRIANGLE, store=store, restored=mirror.take_restored())
    with pytest.raises(StoreError, match='mirror'):
        store.load()
    follower = started_mirror(etcd, keys)
    heard = []
    _, _, unsubscribe = mirror.subscribe(heard.append)
    intents = [core.create(order(gbps=0.5), now=1.0), core.create(order('dcb', 'dcc'), now=1.0)]
    store.wait(store.queued)
    deadline = time.monotonic() + 5
    while len(mirror.records) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert set(mirror.records) == {i.id for i in intents}
    assert mirror.meta['next_number'] == 3 and mirror.meta['fabric'] == 'triangle'
    assert mirror.leader.name == 'r0' and mirror.leader.generation == election.generation
    views = [v for changes in heard for v in changes.views]
    assert {v.id for v in views} == {i.id for i in intents}
    assert all(v.path for v in views)
    assert follower.wait_for(int(etcd.range(keys.root)[0]), 5)
    # A follower's intents, kept in step with every write, are the leader's: its core is ready.
    successor = Controller(TRIANGLE, restored=follower.take_restored(), now=3.0)
    assert [(i.id, i.state) for i in successor.list()] == [(i.id, i.state) for i in core.list()]
    assert books(successor) == books(core) and successor.plan() == core.plan()
    follower.stop()
    unsubscribe()
    core.delete(intents[0].id, now=2.0)
    store.wait(store.queued)
    deadline = time.monotonic() + 5
    while intents[0].id in mirror.records and time.monotonic() < deadline:
        time.sleep(0.01)
    # Withdrawn, or gone once the switches confirmed: either way no longer INSTALLED.
    record = mirror.records.get(intents[0].id)
    assert record is None or record['state'] != State.INSTALLED.value
    mirror.stop()


def test_a_replaced_leader_writes_nothing_more(etcd_cluster):
    etcd, keys = Etcd(etcd_cluster.url), Keys(TRIANGLE.name)
    mirror = started_mirror(etcd, keys)
    old = lead(etcd, keys, 'old')
    store = EtcdStore(etcd, keys, old.generation, {})
    core = Controller(TRIANGLE, store=store, restored=mirror.take_restored())
    core.create(order(), now=1.0)
    store.wait(store.queued)
    old.resign()  # as if its lease had expired
    new = lead(etcd, keys, 'new')
    assert new.generation > old.generation
    core.create(order('dcb', 'dcc'), now=2.0)
    with pytest.raises(Unavailable, match='no longer leads'):
        store.wait(store.queued)
    assert mirror.wait_for(new.generation, 5)
    assert len(mirror.records) == 1
    assert not old.publish('{"links": [], "crossings": {}}', b'')
    mirror.stop()


def test_of_several_campaigns_one_wins(etcd_cluster):
    keys = Keys(TRIANGLE.name)
    elections = [Election(Etcd(etcd_cluster.url), keys, f'r{k}', f'127.0.0.1:{k}') for k in range(5)]
    won = []
    threads = [threading.Thread(target=lambda e=e: e.campaign() and won.append(e)) for e in elections]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1


def test_the_mirror_follows_across_a_members_death(etcd_cluster):
    etcd, keys = Etcd(etcd_cluster.url), Keys(TRIANGLE.name)
    mirror = started_mirror(etcd, keys)
    election = lead(etcd, keys)
    store = EtcdStore(etcd, keys, election.generation, {})
    core = Controller(TRIANGLE, store=store, restored=mirror.take_restored())
    core.create(order(), now=1.0)
    store.wait(store.queued)
    more = [order('dcb', 'dcc'), order('dca', 'dcc'), order('dca', 'dcc', tenant='blue')]
    for k, next_order in enumerate(more):  # whichever member serves the watch dies at some point
        if k:
            etcd_cluster.kill(k - 1)
            if k - 1 == 1:
                etcd_cluster.restart(0)
        core.create(next_order, now=2.0 + k)
        store.wait(store.queued)
    deadline = time.monotonic() + 20
    while len(mirror.records) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(mirror.records) == 4
    mirror.stop()


def test_the_lab_cluster_stops_every_member_it_started(tmp_path):
    import shutil

    from topologies.lab.etcd import EtcdCluster

    if shutil.which('etcd') is None:
        pytest.skip('etcd is not installed')
    with EtcdCluster(workdir=tmp_path) as cluster:
        cluster.kill(2)
        assert not cluster.alive(2) and cluster.alive(0)
        cluster.restart(2)
        cluster.pause(1)  # stop() must end a paused member too
        procs = list(cluster.procs)
    assert all(p.poll() is not None for p in procs)


def test_a_campaign_that_went_through_on_a_first_attempt_is_recognized(etcd_cluster):
    """The campaign's transaction may be applied by a member that then fails to answer, and
    sent again to the next one: the second finds the key on its own lease, and leads."""
    etcd, keys = Etcd(etcd_cluster.url), Keys(TRIANGLE.name)
    election = Election(etcd, keys, 'r0', '127.0.0.1:1')
    lease, ttl = etcd.grant(5)
    _, answer = etcd.txn([], [put(keys.leader, '{"name": "r0", "grpc": "127.0.0.1:1", "lease": 0}', lease)])
    election.etcd = _Granting(etcd, (lease, ttl))
    assert election.campaign() and election.generation == int(answer['header']['revision'])
    other = Election(Etcd(etcd_cluster.url), keys, 'r1', '127.0.0.1:2')
    assert not other.campaign()


class _Granting:
    """The cluster, but its next lease is one granted before."""

    def __init__(self, etcd, lease):
        self.etcd, self.lease = etcd, lease

    def grant(self, ttl_s):
        return self.lease

    def __getattr__(self, name):
        return getattr(self.etcd, name)
