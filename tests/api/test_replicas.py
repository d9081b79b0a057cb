"""Controller replicas on a real etcd cluster of 3 members, as real naas-controller processes
over real gRPC (loopback southbound: the switches' side is tests/integration/test_replicas.py):
followers serve reads and name the leader, a killed leader is replaced without losing an
acknowledged intent, a paused one changes nothing once resumed, etcd's quorum decides writes."""

import threading
import time

import grpc
import pytest

from naas.v1 import (
    intent_service_pb2,
    intent_service_pb2_grpc,
    topology_service_pb2,
    topology_service_pb2_grpc,
)
from naasctl.client import ApiError, Client
from topologies.lab.replicas import Replicas
from topologies.lab.tenants import with_tenants

LOOPBACK = ['--southbound', 'loopback']


@pytest.fixture
def replicas(etcd_cluster, tmp_path):
    """3 replicas of lumen-qts with 20 tenants on the cluster; stopped after the test."""
    with_tenants('lumen-qts', 20, tmp_path / 'fabric.yaml')
    with Replicas(str(tmp_path / 'fabric.yaml'), etcd_cluster.url, tmp_path, 3, LOOPBACK) as running:
        yield running


def pairs(replicas):
    sites = next(iter(replicas_fabric(replicas).tenants.values())).sites
    return [(a, b) for i, a in enumerate(sites) for b in sites[i + 1 :]]


def replicas_fabric(replicas):
    from topologies.model.fabric import load_fabric

    return load_fabric(replicas.fabric)


def tenants(replicas):
    return [t for t in replicas.tokens if t != 'operator']


def raw_create(target, token, src, dst):
    """CreateIntent on one replica, without the client's following: (code, details, metadata)."""
    with grpc.insecure_channel(target) as channel:
        stub = intent_service_pb2_grpc.IntentServiceStub(channel)
        request = intent_service_pb2.CreateIntentRequest()
        request.intent.src_site, request.intent.dst_site, request.intent.bandwidth_gbps = src, dst, 1
        try:
            stub.CreateIntent(request, metadata=[('authorization', f'Bearer {token}')], timeout=5)
        except grpc.RpcError as e:
            return e.code(), e.details(), dict(e.trailing_metadata() or ())
        return grpc.StatusCode.OK, '', {}


def test_followers_serve_reads_and_refuse_writes_naming_the_leader(replicas):
    lead = replicas.leader()
    assert lead is not None
    leader = replicas.processes[lead]
    tenant = tenants(replicas)[0]
    src, dst = pairs(replicas)[0]
    with leader.client(tenant) as naas:
        made = naas.create_intent(src, dst, 1)
    for k in replicas.followers():
        follower = replicas.processes[k]
        deadline = time.monotonic() + 5
        while True:  # a follower reads the watch: the intent shows within moments
            with follower.client(tenant) as naas:
                try:
                    seen = naas.get_intent(made.id)
                    break
                except ApiError as e:
                    assert e.code.name == 'NOT_FOUND' and time.monotonic() < deadline, e
            time.sleep(0.02)
        assert (seen.src_site, seen.dst_site) == (src, dst)
        with follower.client(tenant) as naas:  # telemetry is the leader's: the client goes there
            assert naas.get_intent_stats(made.id).intent_id == made.id
        with follower.client('operator') as operator:
            assert made.id in {i.id for i in operator.list_intents()}
            with operator.watch_intents(include_current=True, timeout_s=5) as events:
                assert next(events).intent_id == made.id
        # The topology the leader publishes (within a second): served here, not sent on.
        with grpc.insecure_channel(follower.grpc_target) as channel:
            stub = topology_service_pb2_grpc.TopologyServiceStub(channel)
            token = [('authorization', f'Bearer {replicas.tokens["operator"]}')]
            deadline = time.monotonic() + 5
            while True:
                try:
                    topology = stub.GetTopology(
                        topology_service_pb2.GetTopologyRequest(), metadata=token, timeout=5
                    ).topology
                    break
                except grpc.RpcError as e:
                    assert e.code() is grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline, e
                time.sleep(0.1)
            assert len(topology.spans) == len(replicas_fabric(replicas).spans)
            assert all(site.connected for site in topology.sites)  # the loopback's switches
            watched = stub.WatchTopology(
                topology_service_pb2.WatchTopologyRequest(), metadata=token, timeout=5
            )
            assert next(watched).topology.fabric == topology.fabric
            watched.cancel()
        with follower.client(tenants(replicas)[1]) as other:  # isolation holds on followers too
            with pytest.raises(ApiError) as hidden:
                other.get_intent(made.id)
            assert hidden.value.code.name == 'NOT_FOUND'
        code, details, metadata = raw_create(follower.grpc_target, replicas.tokens[tenant], src, dst)
        assert code is grpc.StatusCode.UNAVAILABLE
        assert f'the leader is r{lead} at {leader.grpc_target}' in details
        assert metadata.get('naas-leader') == leader.grpc_target
    with leader.client('operator') as operator:
        assert [i.id for i in operator.list_intents()] == [made.id]  # the refused creates made nothing


def test_a_killed_leader_is_replaced_and_no_acknowledged_intent_is_lost(replicas):
    """Creates from every tenant through clients that know every replica; the leader SIGKILLed
    three times (restarted as a follower each time): every acknowledged intent is kept, and a
    new leader takes writes within seconds."""
    acknowledged, errors = [], []
    stop = threading.Event()

    def client(j):  # tenants j, j + 4, ...: one intent a site pair each, 25 a second
        due = time.monotonic()
        for name in tenants(replicas)[j::4]:
            with replicas.client(name, failover_s=10.0) as naas:
                for src, dst in pairs(replicas):
                    due += 0.04
                    time.sleep(max(0.0, due - time.monotonic()))
                    if stop.is_set():
                        return
                    try:
                        acknowledged.append(naas.create_intent(src, dst, 0.001).id)
                    except ApiError as e:
                        errors.append(f'{e.code.name}: {e.message}')

    threads = [threading.Thread(target=client, args=(j,)) for j in range(4)]
    for t in threads:
        t.start()
    takeovers = []
    try:
        for _ in range(3):
            time.sleep(1.0)
            lead = replicas.leader()
            before = len(acknowledged)
            replicas.kill(lead)
            killed = time.monotonic()
            while len(acknowledged) <= before + len(threads) and time.monotonic() - killed < 15:
                time.sleep(0.01)
            takeovers.append(time.monotonic() - killed)
            replicas.restart(lead)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors, errors[:5]
    print(f'writes accepted again {[round(t, 2) for t in takeovers]} s after each kill')
    assert max(takeovers) < 10, takeovers  # the goal (1.5 s) is measured by scripts/bench/failover.py
    with replicas.client('operator') as operator:
        kept = {i.id for i in operator.list_intents()}
    lost = set(acknowledged) - kept
    assert not lost, f'{len(lost)} of {len(acknowledged)} acknowledged intents lost: {sorted(lost)[:5]}'


def test_a_paused_leader_resumed_after_its_lease_changes_nothing(replicas, etcd_cluster):
    """SIGSTOP the leader past its lease: another takes over, and a client that was talking to
    the paused one moves on within seconds, not its timeout; SIGCONT: the old one stops (exit 3)
    and what it would still have written is refused by etcd."""
    lead = replicas.leader()
    tenant = tenants(replicas)[0]
    (src, dst), (src2, dst2) = pairs(replicas)[:2]
    targets = [p.grpc_target for p in replicas.processes]
    paused_first = [targets[lead]] + [t for k, t in enumerate(targets) if k != lead]
    with Client(paused_first, token=replicas.tokens[tenant], timeout_s=30, failover_s=10) as naas:
        first = naas.create_intent(src, dst, 1)  # connected to the leader before it hangs
        replicas.pause(lead)
        try:
            deadline = time.monotonic() + 10
            while replicas.leader(timeout_s=0) == lead and time.monotonic() < deadline:
                time.sleep(0.05)
            new = replicas.leader()
            assert new is not None and new != lead
            asked = time.monotonic()
            assert naas.get_intent(first.id).id == first.id
            second = naas.create_intent(src2, dst2, 1)
            # Its pings unanswered for a second, the paused replica's connection is given up.
            assert time.monotonic() - asked < 10, time.monotonic() - asked
        finally:
            replicas.resume(lead)
    assert replicas.processes[lead].proc.wait(10) == 3
    assert 'lost the lead' in replicas.processes[lead].log()
    with replicas.processes[new].client('operator') as operator:
        kept = {i.id: i for i in operator.list_intents()}
    assert set(kept) == {first.id, second.id}


def test_etcd_without_one_member_changes_nothing_and_without_two_refuses_writes(replicas, etcd_cluster):
    tenant = tenants(replicas)[0]
    (a, b), (c, d), (e, f) = pairs(replicas)[:3]
    with replicas.client(tenant) as naas:
        naas.create_intent(a, b, 1)
        etcd_cluster.kill(0)
        second = naas.create_intent(c, d, 1)
        assert naas.get_intent(second.id).id == second.id
        etcd_cluster.kill(1)
        with pytest.raises(ApiError) as refused:
            naas.create_intent(e, f, 1)
        assert refused.value.code.name == 'UNAVAILABLE'
    for k in replicas.followers():  # reads go on from what each replica holds
        with replicas.processes[k].client('operator') as operator:
            assert len(list(operator.list_intents())) == 2
