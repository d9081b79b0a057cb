"""Replicas on an etcd cluster that asks for TLS and client certificates (real etcd, real
naas-controller process, no root): the store's client with the CA and a certificate reads,
writes and watches; without a certificate, or trusting no CA, it is refused with a message
saying TLS; naas-controller checks its --store-* options before it starts."""

import subprocess
import sys
import time

import pytest

from controller.core.errors import Unavailable
from controller.store.etcd import Etcd, EtcdTls, Keys, b64, put
from controller.store.group import StoreError
from tests.etcd import require_etcd
from topologies.lab.controller_process import ControllerProcess
from topologies.lab.etcd import EtcdCluster


@pytest.fixture(scope='module')
def tls_cluster(tmp_path_factory):
    require_etcd()
    with EtcdCluster(workdir=tmp_path_factory.mktemp('etcd-tls'), tls=True) as cluster:
        yield cluster


def client_tls(cluster, certificate=True):
    t = cluster.tls
    return EtcdTls(t['ca'], t['client'], t['client_key']) if certificate else EtcdTls(t['ca'])


def test_with_the_ca_and_a_client_certificate_it_writes_reads_and_watches(tls_cluster):
    etcd = Etcd(tls_cluster.url, tls=client_tls(tls_cluster))
    keys = Keys('tls-test')
    ok, _ = etcd.txn([], [put(keys.meta, '{"next_number": 1}')])
    revision, kvs = etcd.range(keys.meta)
    assert ok and len(kvs) == 1 and kvs[0]['key'] == b64(keys.meta)
    etcd.txn([], [put(keys.intent('i-1'), '{}')])
    answer = next(etcd.watch(keys.root, keys.root + '\xff', revision + 1))
    assert [e['kv']['key'] for e in answer['events']] == [b64(keys.intent('i-1'))]


def test_without_a_client_certificate_or_trusting_no_ca_it_is_refused_saying_tls(tls_cluster):
    with pytest.raises(Unavailable, match='TLS'):
        Etcd(tls_cluster.url, timeout_s=1, tls=client_tls(tls_cluster, certificate=False)).range('/naas/')
    with pytest.raises(Unavailable, match='TLS'):
        Etcd(tls_cluster.url, timeout_s=1, tls=EtcdTls(tls_cluster.tls['server'])).range(
            '/naas/'
        )  # not the CA
    with pytest.raises(Unavailable):
        Etcd(tls_cluster.url, timeout_s=1).range('/naas/')  # plain HTTP to a TLS port
    with pytest.raises(StoreError, match=r'--store-cert /nowhere\.pem: cannot be read'):
        EtcdTls(tls_cluster.tls['ca'], '/nowhere.pem', tls_cluster.tls['client_key']).check()


def test_a_replica_leads_on_a_cluster_with_tls(tls_cluster, tmp_path):
    replica = ControllerProcess(
        'triangle',
        tls_cluster.url,
        str(tmp_path / 'r0.log'),
        extra_args=['--southbound', 'loopback', '--name', 'r0', *tls_cluster.tls_args],
    )
    replica.start()  # serving: as a follower first
    try:
        deadline = time.monotonic() + 30  # its campaign over TLS, on a loaded machine too
        while 'r0 leads' not in replica.log():
            assert time.monotonic() < deadline and replica.proc.poll() is None, replica.log()[-3000:]
            time.sleep(0.1)
        with replica.client('red') as red:
            made = red.create_intent('dca', 'dcb', 1)
            assert red.get_intent(made.id).state == 'INSTALLED' or red.wait_for_state(made.id)
    finally:
        replica.stop()
    assert 'r0 leads' in replica.log()


@pytest.mark.parametrize(
    'options, message',
    [
        (['--store-ca', 'ca.pem'], '--store-ca, --store-cert and --store-key go with --store'),
        (
            ['--store', 'etcd://127.0.0.1:1', '--store-cert', 'c.pem'],
            '--store-cert and --store-key go together',
        ),
        (
            ['--store', 'etcd://127.0.0.1:1', '--store-cert', 'c', '--store-key', 'k'],
            '--store-cert needs --store-ca',
        ),
        (
            ['--store', 'etcd://127.0.0.1:1', '--store-ca', '/nowhere/ca.pem'],
            '--store-ca /nowhere/ca.pem: cannot be read',
        ),
    ],
)
def test_bad_store_options_are_refused_naming_them(options, message, tmp_path):
    auth = tmp_path / 'auth.yaml'
    auth.write_text("operators: [{name: ops, token_sha256: '" + '0' * 64 + "'}]\n")
    argv = [sys.executable, '-m', 'controller.main', '--fabric', 'triangle', '--auth', str(auth)]
    argv += [
        '--southbound',
        'loopback',
        '--grpc-port',
        '0',
        *([] if '--store' in options else ['--db', str(tmp_path / 'x.db')]),
    ]
    done = subprocess.run([*argv, *options], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and message in done.stderr, done.stderr
