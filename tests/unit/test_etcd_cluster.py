"""The lab's etcd cluster (topologies/lab/etcd.py) on real etcd, as any user: 3 members on free
loopback ports, one cluster; it serves writes without one member and refuses them without two;
a killed member comes back on its data; stop() leaves no process of its own; a member that
cannot start is named with its log; a port taken under it makes a new cluster on others."""

import os
import socket
import time

import pytest

from tests.etcd import get, members, put, require_etcd
from topologies.lab.etcd import EtcdCluster, EtcdError


def running_with(token):
    """Pids of every process whose command line holds this cluster's token (ours, or none)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                if token.encode() in f.read():
                    pids.append(int(pid))
        except OSError:
            pass  # gone meanwhile
    return pids


def test_three_members_start_healthy_as_one_cluster_on_free_loopback_ports(etcd_cluster):
    ports = [port for pair in etcd_cluster.ports for port in pair]
    assert len(set(ports)) == 6 and not {2379, 2380} & set(ports)
    assert etcd_cluster.url == 'etcd://' + ','.join(etcd_cluster.endpoints)
    assert all(e.startswith('127.0.0.1:') for e in etcd_cluster.endpoints)
    assert all(etcd_cluster.alive(k) and etcd_cluster.healthy(k) for k in range(3))
    assert members(etcd_cluster.endpoints[2]) == {
        f'm{k}': [f'http://{e}'] for k, e in enumerate(etcd_cluster.endpoints)
    }
    assert sorted(running_with(etcd_cluster.token)) == sorted(p.pid for p in etcd_cluster.procs)


def test_a_write_through_one_member_is_read_through_another(etcd_cluster):
    first, _, last = etcd_cluster.endpoints
    put(first, 'naas/k', 'v1')
    assert get(last, 'naas/k') == 'v1'


def test_without_one_member_the_two_others_serve_writes_and_it_comes_back_with_them(etcd_cluster):
    first, second, last = etcd_cluster.endpoints
    etcd_cluster.kill(1)
    assert not etcd_cluster.alive(1) and etcd_cluster.alive(0)
    # If m1 led, a write sent before the others elected a new leader is forwarded to the dead
    # one and lost: it times out after 6 s (etcd's 5 s + 2 elections). The client retries; here
    # the write waits for the new leader.
    etcd_cluster.wait_healthy(0, timeout_s=5)
    put(first, 'naas/while-down', 'v')
    assert get(last, 'naas/while-down') == 'v'
    with pytest.raises(EtcdError, match='m0 is running'):
        etcd_cluster.restart(0)
    etcd_cluster.restart(1)
    assert etcd_cluster.alive(1) and etcd_cluster.healthy(1)
    assert get(second, 'naas/while-down') == 'v'  # caught up on what it missed


def test_without_two_members_a_write_fails_and_a_restart_brings_the_quorum_back(etcd_cluster):
    first, _, last = etcd_cluster.endpoints
    put(last, 'naas/before', 'v')
    etcd_cluster.kill(0)
    etcd_cluster.kill(1)
    began = time.monotonic()
    with pytest.raises(OSError):  # timed out here, or etcd's own refusal (no leader)
        put(last, 'naas/after', 'v', timeout=2)
    assert time.monotonic() - began < 10
    assert not etcd_cluster.healthy(2, timeout=3)
    assert get(last, 'naas/before', serializable=True) == 'v'  # what it holds, no quorum asked
    etcd_cluster.restart(0)
    put(first, 'naas/again', 'v')
    assert get(last, 'naas/again') == 'v'


def test_a_paused_member_misses_nothing_once_resumed(etcd_cluster):
    first, second, _ = etcd_cluster.endpoints
    etcd_cluster.pause(1)
    etcd_cluster.wait_healthy(0, timeout_s=5)  # a new leader, if m1 led
    put(first, 'naas/while-paused', 'v')
    etcd_cluster.resume(1)
    # Just resumed, it may still know of no leader (503 to a quorum read): wait until it rejoined.
    etcd_cluster.wait_healthy(1, timeout_s=5)
    assert get(second, 'naas/while-paused') == 'v'
    etcd_cluster.kill(1)
    with pytest.raises(EtcdError, match='m1 is not running'):  # its pid may be another's by now
        etcd_cluster.pause(1)


def test_stop_ends_every_member_of_ours_and_removes_only_a_directory_it_made(tmp_path):
    require_etcd()
    made = EtcdCluster().start()
    made.pause(0)  # a paused member ends too
    made.kill(2)
    made.restart(2)  # a new pid
    token, pids = made.token, [p.pid for p in made.procs]
    made.stop()
    assert all(p.returncode is not None for p in made.procs)
    assert running_with(token) == [], pids
    assert not os.path.exists(made.workdir)

    with EtcdCluster(members=1, workdir=tmp_path / 'given') as given:
        assert given.healthy(0)
    assert running_with(given.token) == []
    assert (tmp_path / 'given' / 'm0.log').exists()  # the caller's directory, logs kept


def test_a_member_that_cannot_start_is_named_with_its_log_and_nothing_is_left_running(tmp_path):
    require_etcd()
    (tmp_path / 'm1').write_text('')  # its data directory is a file
    cluster = EtcdCluster(workdir=tmp_path)
    with pytest.raises(EtcdError, match=r'etcd member m1 exited \(1\):\n(.|\n)*not a directory'):
        cluster.start()
    assert running_with(cluster.token) == []


def test_a_port_taken_before_a_member_binds_it_starts_the_cluster_again_on_others(tmp_path):
    require_etcd()
    cluster = EtcdCluster(workdir=tmp_path)
    taken = cluster.ports[1][0]
    with socket.socket() as other:  # another process's, between free_ports() and etcd's bind
        other.bind(('127.0.0.1', taken))
        other.listen()
        with cluster:
            assert taken not in [port for pair in cluster.ports for port in pair]
            assert all(cluster.healthy(k) for k in range(3))
            assert 'address already in use' in cluster.log(1)
