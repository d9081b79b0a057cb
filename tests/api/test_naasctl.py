"""naasctl, as a user runs it, against naas-controller as a process (loopback southbound:
no switches needed), with the server and token from the environment."""

import json
import os
import signal
import subprocess
import sys

import pytest

from naasctl.client import Protection as PbProtection
from naasctl.client import ServiceClass as PbServiceClass
from naasctl.client import enum_name
from topologies.lab.controller_process import ControllerProcess
from topologies.model.order import Order, Protection, ServiceClass


@pytest.fixture(scope='module')
def controller(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('naasctl')
    ctl = ControllerProcess(
        'triangle',
        tmp / 'naas.db',
        tmp / 'controller.log',
        extra_args=['--southbound', 'loopback'],
        quotas={'blue': 3},
    )
    ctl.start()
    yield ctl
    assert ctl.stop() == 0, ctl.log()[-2000:]
    assert ctl.problems() == []
    assert not any(token in ctl.log() for token in ctl.tokens.values())  # never logged


def naasctl(ctl, who, *args, check=True, stdin=None):
    env = {**os.environ, 'NAAS_SERVER': ctl.grpc_target, 'NAAS_TOKEN': ctl.tokens[who]}
    run = subprocess.run(
        [sys.executable, '-m', 'naasctl.main', *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ctl.tokens[who] not in run.stdout + run.stderr
    if check:
        assert run.returncode == 0, run.stdout + run.stderr
    return run


def test_an_intent_from_create_to_delete(controller):
    made = json.loads(
        naasctl(
            controller,
            'red',
            '--json',
            'intent',
            'create',
            'dca',
            'dcc',
            '--bandwidth',
            '5Gbps',
            '--latency',
            '12ms',
            '--label',
            'app=db',
            '--wait',
        ).stdout
    )
    assert made['state'] == 'INTENT_STATE_INSTALLED' and made['path'] == ['dca', 'dcc']
    assert made['labels'] == {'app': 'db'} and made['max_latency_ms'] == 12
    table = naasctl(controller, 'red', 'intent', 'list').stdout
    assert made['id'] in table and 'INSTALLED' in table and 'dca->dcc' in table
    shown = naasctl(controller, 'red', 'intent', 'get', made['id']).stdout
    assert '5 Gb/s' in shown
    moved = json.loads(
        naasctl(
            controller, 'red', '--json', 'intent', 'update', made['id'], '--bandwidth', '12000Mbps'
        ).stdout
    )
    assert moved['bandwidth_gbps'] == 12 and moved['path'] == ['dca', 'dcb', 'dcc']
    naasctl(controller, 'red', 'intent', 'delete', made['id'], '--wait')
    gone = naasctl(controller, 'red', 'intent', 'get', made['id'], check=False)
    assert gone.returncode == 1 and 'NOT_FOUND' in gone.stderr


def test_check_exits_1_and_says_what_would_fit(controller):
    fits = naasctl(
        controller, 'red', 'intent', 'check', 'dca', 'dcc', '--bandwidth', '9Gbps', '--latency', '9.5ms'
    )
    assert 'dca->dcc' in fits.stdout
    no = naasctl(
        controller,
        'red',
        '--json',
        'intent',
        'check',
        'dca',
        'dcc',
        '--bandwidth',
        '12Gbps',
        '--latency',
        '9.5ms',
        check=False,
    )
    answer = json.loads(no.stdout)
    assert no.returncode == 1 and answer['admissible'] is False and answer['max_bandwidth_gbps'] == 9
    over = naasctl(controller, 'blue', 'intent', 'check', 'dca', 'dcc', '--bandwidth', '4Gbps', check=False)
    assert over.returncode == 1 and 'quota' in over.stdout + over.stderr


def test_refusals_exit_1_with_the_code_and_bad_units_exit_2(controller):
    unknown = naasctl(
        controller, 'red', 'intent', 'create', 'dca', 'mars', '--bandwidth', '1Gbps', check=False
    )
    assert unknown.returncode == 1 and 'INVALID_ARGUMENT: src_site' not in unknown.stderr
    assert 'INVALID_ARGUMENT: dst_site' in unknown.stderr
    quota = naasctl(controller, 'blue', 'intent', 'create', 'dca', 'dcc', '--bandwidth', '4Gbps', check=False)
    assert quota.returncode == 1 and 'RESOURCE_EXHAUSTED' in quota.stderr and 'quota_gbps' in quota.stderr
    unit = naasctl(controller, 'red', 'intent', 'create', 'dca', 'dcc', '--bandwidth', '10Gbs', check=False)
    assert unit.returncode == 2 and '--bandwidth' in unit.stderr


def test_topology_table_and_json(controller):
    table = naasctl(controller, 'operator', 'topology').stdout
    assert 'dca-dcb' in table and '20 Gb/s' in table
    topology = json.loads(naasctl(controller, 'operator', '--json', 'topology').stdout)
    assert {s['id'] for s in topology['spans']} == {'dca-dcb', 'dcb-dcc', 'dca-dcc'}


def test_create_many_from_a_file_exits_1_if_any_order_is_refused(controller, tmp_path):
    orders = tmp_path / 'orders.yaml'
    orders.write_text(
        '- {src: dca, dst: dcb, bandwidth: 2G, labels: {app: web}, request_id: many-1}\n'
        '- {src: dcb, dst: dcc, bandwidth: 1000Mbps, class: bulk}\n'
        '- {src: dca, dst: dcc, bandwidth: 12G, latency: 9.5ms}   # direct: 9 Gb/s\n'
    )
    run = naasctl(controller, 'red', 'intent', 'create-many', str(orders), check=False)
    assert run.returncode == 1, run.stderr
    header, *rows, summary = run.stdout.splitlines()
    assert header.split() == ['ORDER', 'ID', 'SITES', 'BANDWIDTH', 'RESULT', 'PATH', 'OR', 'REASON']
    first = rows[0].split()
    assert first[2:5] == ['dca<->dcb', '2', 'Gb/s'] and first[5] in ('INSTALLING', 'INSTALLED')
    assert first[6:] == ['dca->dcb']
    assert 'dcb->dcc' in rows[1] and '1 Gb/s' in rows[1]
    assert rows[2].split()[:2] == ['2', '-'] and 'FAILED_PRECONDITION' in rows[2] and '9.5 ms' in rows[2]
    assert summary == '2 admitted, 1 refused'
    made = [row.split()[1] for row in rows[:2]]
    # From standard input, with JSON: the request_id gives the intent made before.
    again = naasctl(
        controller,
        'red',
        '--json',
        'intent',
        'create-many',
        '-',
        stdin='- {src: dca, dst: dcb, bandwidth: 2G, labels: {app: web}, request_id: many-1}\n',
    )
    [result] = json.loads(again.stdout)
    assert result['intent']['id'] == made[0] and result['code'] == ''
    # A bad file: nothing is sent (exit 2); a bad order: nothing is created (exit 1).
    orders.write_text('- {src: dca, dst: dcc, bandwidth: 1G}\n- {src: dca, dst: dcc, bandwidth: 10Gbs}\n')
    bad = naasctl(controller, 'blue', 'intent', 'create-many', str(orders), check=False)
    assert (
        bad.returncode == 2
        and f'{orders}: orders[1].bandwidth' in bad.stderr
        and 'not a bandwidth' in bad.stderr
    )
    orders.write_text('- {src: dca, dst: dcc, bandwidth: 4G}\n')
    over = naasctl(controller, 'blue', 'intent', 'create-many', str(orders), check=False)
    assert (
        over.returncode == 1 and 'RESOURCE_EXHAUSTED: orders: ' in over.stderr and 'quota_gbps' in over.stderr
    )
    assert 'no intents' in naasctl(controller, 'blue', 'intent', 'list').stdout
    for intent_id in made:
        naasctl(controller, 'red', 'intent', 'delete', intent_id, '--wait')


def test_the_client_library_takes_orders(controller):
    order = Order(
        '',
        'dca',
        'dcb',
        2.0,
        max_latency_ms=20.0,
        protection=Protection.PROTECTED,
        service_class=ServiceClass.BULK,
        excess_gbps=0.5,
        description='replication',
        labels={'app': 'db'},
        src_prefixes=('10.1.1.0/25',),
        request_id='lib-1',
    )
    with controller.client('red') as red:
        check = red.check_intent(order)
        assert check.admissible and list(check.path) == ['dca', 'dcb']
        made = red.create_intent(order)
        got = red.get_intent(made.id)
        assert (got.tenant, got.src_site, got.dst_site, got.bandwidth_gbps, got.max_latency_ms) == (
            'red',
            'dca',
            'dcb',
            2.0,
            20.0,
        )
        assert (enum_name(PbProtection, got.protection), enum_name(PbServiceClass, got.service_class)) == (
            'PROTECTED',
            'BULK',
        )
        assert (got.excess_gbps, got.description, dict(got.labels), list(got.src_prefixes)) == (
            0.5,
            'replication',
            {'app': 'db'},
            ['10.1.1.0/25'],
        )
        # The long-standing keywords make the same order: the request_id replays it.
        same = red.create_intent(
            'dca',
            'dcb',
            2,
            max_latency_ms=20,
            protected=True,
            service_class='bulk',
            excess_gbps=0.5,
            description='replication',
            labels={'app': 'db'},
            src_prefixes=['10.1.1.0/25'],
            request_id='lib-1',
        )
        assert same.id == made.id
        [one, two] = red.create_intents(
            [Order('', 'dcb', 'dcc', 1.0), dict(src_site='dca', dst_site='dcc', bandwidth_gbps=1)]
        )
        assert [list(r.intent.path) for r in (one, two)] == [['dcb', 'dcc'], ['dca', 'dcc']]
        with pytest.raises(TypeError, match='an Order comes alone'):
            red.create_intent(order, protected=False)
        for intent_id in (made.id, one.intent.id, two.intent.id):
            red.delete_intent(intent_id)
            red.wait_for_state(intent_id, ('WITHDRAWN',))


def test_intent_stats_as_text_json_and_watched(controller):
    made = json.loads(
        naasctl(
            controller, 'red', '--json', 'intent', 'create', 'dca', 'dcb', '--bandwidth', '1Gbps', '--wait'
        ).stdout
    )
    shown = naasctl(controller, 'red', 'intent', 'stats', made['id'], '--window', '60s').stdout
    assert f'intent {made["id"]} (red) INSTALLED' in shown
    assert 'forward' in shown and 'reverse' in shown and 'SLA over 60 s' in shown and 'no outage' in shown
    stats = json.loads(naasctl(controller, 'red', '--json', 'intent', 'stats', made['id']).stdout)
    assert stats['intent_id'] == made['id'] and stats['sla']['window'] == '300s'
    assert stats['sla']['availability'] == 1 and stats['forward']['rate_in_gbps'] == 0
    bad = naasctl(controller, 'red', 'intent', 'stats', made['id'], '--window', '100000s', check=False)
    assert bad.returncode == 1 and 'INVALID_ARGUMENT: window' in bad.stderr
    hidden = naasctl(controller, 'blue', 'intent', 'stats', made['id'], check=False)
    assert hidden.returncode == 1 and 'NOT_FOUND' in hidden.stderr
    env = {**os.environ, 'NAAS_SERVER': controller.grpc_target, 'NAAS_TOKEN': controller.tokens['red']}
    args = ['--json', 'intent', 'stats', made['id'], '--watch', '--interval', '0.2s']
    with subprocess.Popen(
        [sys.executable, '-m', 'naasctl.main', *args], env=env, stdout=subprocess.PIPE, text=True
    ) as watch:
        try:
            lines = [json.loads(watch.stdout.readline()) for _ in range(3)]
        finally:
            watch.send_signal(signal.SIGINT)
        assert watch.wait(timeout=10) == 0
    assert [line['intent_id'] for line in lines] == [made['id']] * 3
    naasctl(controller, 'red', 'intent', 'delete', made['id'], '--wait')
