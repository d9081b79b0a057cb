"""naasctl without a server: its arguments, its tables and JSON on hand-built messages, its
errors (usage errors exit 2 naming the option; an unreachable server exits 1 naming it), and
that the token never shows."""

import io
import json
import socket

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from naas.v1 import intent_pb2, intent_service_pb2, topology_pb2
from naasctl import format as fmt
from naasctl.client import (
    ApiError,
    Client,
    IntentState,
    ServiceClass,
    enum_name,
    enum_value,
    make_order,
    order_message,
)
from naasctl.main import _order as naasctl_order
from naasctl.main import build_parser, main, read_token
from topologies.model.config import ConfigError
from topologies.model.order import Order, Protection, load_orders
from topologies.model.order import ServiceClass as OrderClass

TOKEN = 'tok-3f9a1c7e-secret'


@pytest.fixture(autouse=True)
def no_naas_environment(monkeypatch):
    for name in ('NAAS_SERVER', 'NAAS_TOKEN', 'NAAS_TOKEN_FILE', 'NAAS_CA_CERT'):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def closed_port():
    """A local port nobody listens on: connections are refused at once."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def intent(**fields):
    base = dict(
        id='i-3',
        tenant='acme',
        src_site='phx1',
        dst_site='iad1',
        bandwidth_gbps=10,
        max_latency_ms=25,
        protection=intent_pb2.PROTECTION_PROTECTED,
        service_class=intent_pb2.SERVICE_CLASS_REALTIME,
        state=intent_pb2.INTENT_STATE_INSTALLED,
        path=['phx1', 'dfw2', 'iad1'],
        backup_path=['phx1', 'den1', 'iad1'],
        path_latency_ms=18.234,
        reserved_gbps=10,
        create_time=Timestamp(seconds=1746100803),
    )
    return intent_pb2.Intent(**{**base, **fields})


def parse(*argv):
    return build_parser().parse_args(argv)


# Arguments


def test_create_arguments_in_units():
    args = parse(
        'intent',
        'create',
        'phx1',
        'iad1',
        '--bandwidth',
        '200Mbps',
        '--latency',
        '1.5s',
        '--protected',
        '--class',
        'Bulk',
        '--label',
        'team=web',
        '--label',
        'env=a=b',
        '--wait',
        '--wait-timeout',
        '90s',
    )
    assert (args.src, args.dst, args.bandwidth, args.latency) == ('phx1', 'iad1', 0.2, 1500.0)
    assert args.protected and args.service_class == 'bulk' and args.wait
    assert args.label == [('team', 'web'), ('env', 'a=b')] and args.wait_timeout == 90
    assert naasctl_order(args) == Order(
        '',
        'phx1',
        'iad1',
        0.2,
        max_latency_ms=1500.0,
        protection=Protection.PROTECTED,
        service_class=OrderClass.BULK,
        labels={'team': 'web', 'env': 'a=b'},
    )
    check = parse('intent', 'check', 'a', 'b', '--bandwidth', '1G', '--excess', '2G', '--tenant', 'acme')
    assert naasctl_order(check) == Order('acme', 'a', 'b', 1.0, excess_gbps=2.0)


def test_global_options_and_their_defaults(monkeypatch):
    args = parse('intent', 'get', 'i-3')
    assert (args.server, args.token, args.ca_cert, args.json, args.timeout) == (
        '127.0.0.1:50051',
        None,
        None,
        False,
        10.0,
    )
    monkeypatch.setenv('NAAS_SERVER', 'naas.example:443')
    monkeypatch.setenv('NAAS_CA_CERT', '/etc/naas/ca.pem')
    args = parse('--timeout', '2.5s', 'intent', 'list', '--json', '--state', 'installed')
    assert (args.server, args.ca_cert, args.timeout, args.json) == (
        'naas.example:443',
        '/etc/naas/ca.pem',
        2.5,
        True,
    )
    assert args.state == intent_pb2.INTENT_STATE_INSTALLED
    assert parse('--server', 'other:1', 'topology').server == 'other:1'


def test_create_many_reads_orders_in_create_units(tmp_path, monkeypatch):
    orders = tmp_path / 'orders.yaml'
    orders.write_text(
        '- {src: phx1, dst: iad1, bandwidth: 200G, latency: 25ms, protected: true}\n'
        '- src: phx1\n'
        '  dst: atl1\n'
        '  bandwidth: 500Mbps\n'
        '  excess: 1.5\n'
        '  class: Bulk\n'
        '  tenant: acme\n'
        '  description: backups\n'
        '  labels: {team: web}\n'
        '  src_prefixes: 10.1.1.0/25\n'
        '  dst_prefixes: [10.1.3.0/25, 10.1.3.128/25]\n'
        '  request_id: backup-1\n'
    )
    args = parse('intent', 'create-many', str(orders), '--tenant', 'globex', '--json')
    assert args.json and args.tenant == 'globex'
    assert args.orders == [
        Order(
            '',
            'phx1',
            'iad1',
            200.0,
            max_latency_ms=25.0,
            protection=Protection.PROTECTED,
        ),
        Order(
            'acme',
            'phx1',
            'atl1',
            0.5,
            src_prefixes=('10.1.1.0/25',),
            dst_prefixes=('10.1.3.0/25', '10.1.3.128/25'),
            description='backups',
            request_id='backup-1',
            excess_gbps=1.5,
            service_class=OrderClass.BULK,
            labels={'team': 'web'},
        ),
    ]
    monkeypatch.setattr('sys.stdin', io.StringIO('- {src: a, dst: b, bandwidth: 1}\n'))
    assert load_orders('-') == [Order('', 'a', 'b', 1.0)]


@pytest.mark.parametrize(
    'text, problem',
    [
        (
            '- {src: a, dst: b, bandwidth: 1G}\n- {src: a, dst: c, bandwidth: 10Gbs}\n',
            "orders[1].bandwidth: '10Gbs': not a bandwidth",
        ),
        ('- {src: a, dst: b}\n', 'orders[0].bandwidth: missing required key'),
        (
            '- {src: a, dst: b, bandwidth: 1G, max_latency: 5ms}\n',
            'orders[0].max_latency: unknown key (allowed: bandwidth, bandwidth_gbps, class,',
        ),
        ('- {src: a, dst: b, bandwidth: 1G, latency: soon}\n', "orders[0].latency: 'soon': not a latency"),
        (
            '- {src: a, dst: b, bandwidth: 1G, protected: yes please}\n',
            'orders[0].protected: must be true or false',
        ),
        (
            '- {src: a, dst: b, bandwidth: 1G, class: gold}\n',
            "orders[0].class: must be one of realtime, priority, bulk, got 'gold'",
        ),
        ('- {src: a, dst: b, bandwidth: 1G, labels: [team]}\n', 'orders[0].labels: must be a mapping'),
        ('- {src: a, dst: b, bandwidth: 1G, labels: {tier: 1}}\n', 'orders[0].labels.tier: must be text'),
        ('- {src: a, dst: 7, bandwidth: 1G}\n', 'orders[0].dst: must be text, got 7'),
        (
            '- {src: a, dst: b, bandwidth: 1G, src_prefixes: {a: b}}\n',
            'orders[0].src_prefixes: must be a list',
        ),
        (
            '- {src: a, dst: b, bandwidth: 1G}\n- a to b\n',
            'orders[1]: must be a mapping with src, dst, bandwidth',
        ),
        ('src: a\n', 'must be a list of orders'),
        ('[]\n', 'must be a list of orders (at least one)'),
        ('', 'must be a list of orders'),
        ('- {src: a\n', 'not valid YAML'),
    ],
)
def test_create_many_names_the_file_and_the_entry_of_a_bad_order(tmp_path, text, problem, capsys):
    orders = tmp_path / 'orders.yaml'
    orders.write_text(text)
    with pytest.raises(ConfigError) as bad:
        load_orders(str(orders))
    assert str(bad.value).startswith(f'{orders}: ') and problem in str(bad.value)
    assert main(['--token', TOKEN, 'intent', 'create-many', str(orders)]) == 2  # before any call
    assert f'argument FILE: {orders}: ' in capsys.readouterr().err


def test_create_many_file_that_cannot_be_read(tmp_path):
    with pytest.raises(ConfigError, match=f'^{tmp_path}/missing.yaml: cannot read: No such file'):
        load_orders(str(tmp_path / 'missing.yaml'))
    (tmp_path / 'binary').write_bytes(b'\xff\xfe\x00')
    with pytest.raises(ConfigError, match='not a text file'):
        load_orders(str(tmp_path / 'binary'))


def test_create_many_names_every_bad_order_at_once(tmp_path, capsys):
    orders = tmp_path / 'orders.yaml'
    orders.write_text('- {src: a, dst: b, bandwidth: 0}\n- {src: a, bandwidth: 1G, latency: soon}\n')
    with pytest.raises(ConfigError) as bad:
        load_orders(str(orders))
    assert str(bad.value).splitlines() == [
        f'{orders}: orders[0].bandwidth: 0: the bandwidth must be a finite number more than 0',
        f'{orders}: orders[1].dst: missing required key',
        f"{orders}: orders[1].latency: 'soon': not a latency; write it like 25ms, 500us or 1.5s",
    ]


def test_token_from_option_file_or_environment(tmp_path, monkeypatch):
    parser = build_parser()
    token_file = tmp_path / 'token'
    token_file.write_text(f'{TOKEN}\nsecond line\n')
    assert read_token(parser.parse_args(['--token', 'T1', 'topology']), parser) == 'T1'
    assert read_token(parser.parse_args(['--token-file', str(token_file), 'topology']), parser) == TOKEN
    monkeypatch.setenv('NAAS_TOKEN_FILE', str(token_file))
    assert read_token(parser.parse_args(['topology']), parser) == TOKEN
    monkeypatch.setenv('NAAS_TOKEN', 'T2')
    assert read_token(parser.parse_args(['topology']), parser) == 'T2'
    assert read_token(parser.parse_args(['--token', 'T1', 'topology']), parser) == 'T1'


@pytest.mark.parametrize(
    'argv, option, text',
    [
        (['intent', 'create', 'a', 'b', '--bandwidth', '10Gbs'], '--bandwidth', "'10Gbs': not a bandwidth"),
        (['intent', 'create', 'a', 'b', '--bandwidth', '0'], '--bandwidth', 'more than 0'),
        (
            ['intent', 'check', 'a', 'b', '--bandwidth', '1G', '--latency', '25 msec'],
            '--latency',
            "'25 msec': not a latency",
        ),
        (['intent', 'update', 'i-3', '--latency', 'fast'], '--latency', 'write it like 25ms'),
        (
            ['intent', 'create', 'a', 'b', '--bandwidth', '1G', '--label', 'team'],
            '--label',
            "'team': not a label",
        ),
        (['intent', 'create', 'a', 'b', '--bandwidth', '1G', '--class', 'gold'], '--class', "'gold'"),
        (['intent', 'list', '--state', 'done'], '--state', 'ACCEPTED, COMPILING'),
        (['--timeout', 'soon', 'topology'], '--timeout', "'soon': not a duration"),
        (['topology', '--interval', 'often'], '--interval', 'not a duration'),
        (['intent', 'create', 'a', 'b'], '--bandwidth', 'required'),
        (['intent', 'update', 'i-3'], '--bandwidth', 'nothing to change'),
        (
            ['intent', 'update', 'i-3', '--latency', '5ms', '--no-latency-bound'],
            '--no-latency-bound',
            'not allowed with',
        ),
    ],
)
def test_usage_errors_exit_2_naming_the_option(argv, option, text, capsys):
    assert main(['--token', TOKEN, *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ''
    assert option in err and text in err
    assert TOKEN not in err


def test_unreadable_token_file_is_a_usage_error(tmp_path, capsys):
    assert main(['--token-file', str(tmp_path / 'missing'), 'topology']) == 2
    assert 'argument --token-file: cannot read' in capsys.readouterr().err
    (tmp_path / 'empty').write_text('\n' + TOKEN)
    assert main(['--token-file', str(tmp_path / 'empty'), 'topology']) == 2
    err = capsys.readouterr().err
    assert 'is empty' in err and TOKEN not in err


def test_unreachable_server_one_line_naming_it(closed_port, capsys, monkeypatch):
    server = f'127.0.0.1:{closed_port}'
    monkeypatch.setenv('NAAS_TOKEN', TOKEN)
    assert main(['--server', server, '--timeout', '5s', 'intent', 'get', 'i-9']) == 1
    out, err = capsys.readouterr()
    assert out == ''
    assert err.startswith(f'naasctl: cannot reach the controller at {server}: ')
    assert err.count('\n') == 1 and TOKEN not in err


def test_help_never_shows_the_token(monkeypatch, capsys):
    monkeypatch.setenv('NAAS_TOKEN', TOKEN)
    assert main(['--token', TOKEN, '--help']) == 0
    assert main(['intent', 'create', '--help']) == 0
    out, err = capsys.readouterr()
    assert 'NAAS_TOKEN' in out and TOKEN not in out + err


def test_client_hides_the_token():
    naas = Client('127.0.0.1:1', token=TOKEN)
    try:
        assert TOKEN not in repr(naas)
    finally:
        naas.close()


# Client helpers that need no server


def test_api_error_reads_like_the_status():
    error = ApiError(grpc.StatusCode.NOT_FOUND, 'intent i-9 not found')
    assert str(error) == 'NOT_FOUND: intent i-9 not found'
    assert (error.code, error.message) == (grpc.StatusCode.NOT_FOUND, 'intent i-9 not found')


@pytest.mark.parametrize('text', ['installed', 'INSTALLED', 'Intent_State_Installed', 4])
def test_states_as_people_write_them(text):
    assert enum_value(IntentState, text) == intent_pb2.INTENT_STATE_INSTALLED


def test_enum_names_without_prefix():
    assert enum_name(IntentState, intent_pb2.INTENT_STATE_WITHDRAWING) == 'WITHDRAWING'
    assert enum_value(ServiceClass, 'realtime') == intent_pb2.SERVICE_CLASS_REALTIME
    with pytest.raises(
        ValueError, match="'gold': not a valid service class; expected one of REALTIME, PRIORITY, BULK"
    ):
        enum_value(ServiceClass, 'gold')


def test_an_order_and_the_intent_message_it_is_sent_as():
    order = Order(
        'acme',
        'phx1',
        'iad1',
        10.0,
        max_latency_ms=25.0,
        protection=Protection.PROTECTED,
        service_class=OrderClass.REALTIME,
        excess_gbps=2.0,
        description='replication',
        labels={'team': 'web'},
        src_prefixes=('10.1.1.0/25',),
        request_id='r-1',
    )
    assert order_message(order) == intent_pb2.Intent(
        tenant='acme',
        src_site='phx1',
        dst_site='iad1',
        bandwidth_gbps=10,
        max_latency_ms=25,
        protection=intent_pb2.PROTECTION_PROTECTED,
        service_class=intent_pb2.SERVICE_CLASS_REALTIME,
        excess_gbps=2,
        description='replication',
        labels={'team': 'web'},
        src_prefixes=['10.1.1.0/25'],
    )
    assert order_message(Order('', 'a', 'b', 1)) == intent_pb2.Intent(
        src_site='a',
        dst_site='b',
        bandwidth_gbps=1,
        protection=intent_pb2.PROTECTION_NONE,
        service_class=intent_pb2.SERVICE_CLASS_PRIORITY,
    )
    # The client's long-standing keywords build the same Order.
    assert order == make_order(
        'phx1',
        'iad1',
        10.0,
        tenant='acme',
        max_latency_ms=25,
        protected=True,
        service_class='realtime',
        excess_gbps=2,
        description='replication',
        labels={'team': 'web'},
        src_prefixes=['10.1.1.0/25'],
        request_id='r-1',
    )
    assert make_order('a', 'b', 1, max_latency_ms=0) == Order('', 'a', 'b', 1)  # 0: no bound
    with pytest.raises(ValueError, match="'gold': not a valid service class"):
        make_order('a', 'b', 1, service_class='gold')


def test_update_with_nothing_to_change_is_refused_before_any_call():
    with Client('127.0.0.1:1') as naas, pytest.raises(ValueError, match='nothing to change'):
        naas.update_intent('i-3')


# Output


def test_intent_table():
    rows = fmt.intent_table(
        [
            intent(),
            intent(
                id='i-12',
                tenant='globex',
                src_site='pdx1',
                dst_site='atl1',
                bandwidth_gbps=0.2,
                max_latency_ms=0,
                protection=intent_pb2.PROTECTION_NONE,
                service_class=intent_pb2.SERVICE_CLASS_BULK,
                state=intent_pb2.INTENT_STATE_FAILED,
                path=[],
                backup_path=[],
            ),
        ]
    ).split('\n')
    assert rows == [
        'ID    TENANT  SRC   DST   BANDWIDTH  MAX LATENCY  PROTECTION  CLASS     STATE      PATH',
        'i-3   acme    phx1  iad1  10 Gb/s    25 ms        protected   realtime  INSTALLED  phx1->dfw2->iad1',
        'i-12  globex  pdx1  atl1  200 Mb/s   any          none        bulk      FAILED     -',
    ]


def test_intent_detail():
    text = fmt.intent_detail(
        intent(
            state=intent_pb2.INTENT_STATE_INSTALLING,
            state_reason='programming 3 switches',
            labels={'team': 'web'},
            description='replication',
        )
    )
    assert text.split('\n') == [
        'id            i-3',
        'tenant        acme',
        'sites         phx1 <-> iad1',
        'bandwidth     10 Gb/s',
        'max latency   25 ms',
        'protection    protected',
        'class         realtime',
        'state         INSTALLING (programming 3 switches)',
        'path          phx1->dfw2->iad1',
        'backup path   phx1->den1->iad1',
        'path latency  18.23 ms',
        'reserved      10 Gb/s',
        'description   replication',
        'labels        team=web',
        'created       2025-05-01 12:00:03Z',
        'updated       -',
    ]


def test_topology_text():
    topology = topology_pb2.Topology(
        fabric='triangle',
        time=Timestamp(seconds=1746100803),
        sites=[
            topology_pb2.Site(id='phx1', name='Phoenix 1', kind='datacenter', region='AZ', connected=True),
            topology_pb2.Site(id='pden', name='Denver', kind='pop', region='CO'),
        ],
        spans=[
            topology_pb2.Span(
                id='phx1-pden',
                site_a='phx1',
                site_b='pden',
                capacity_gbps=100,
                up=True,
                directions=[
                    topology_pb2.SpanDirection(
                        from_site='phx1',
                        to_site='pden',
                        reserved_gbps=30,
                        utilization_gbps=1.25,
                        delay_ms=8.1,
                        delay_measured=True,
                    ),
                    topology_pb2.SpanDirection(
                        from_site='pden',
                        to_site='phx1',
                        reserved_gbps=30,
                        utilization_gbps=0,
                        delay_ms=8,
                        delay_measured=False,
                    ),
                ],
            )
        ],
    )
    assert fmt.topology_text(topology).split('\n') == [
        'fabric triangle at 2025-05-01 12:00:03Z',
        '',
        'SPAN       CAPACITY  STATE  DIRECTION   RESERVED  UTILIZATION  DELAY',
        'phx1-pden  100 Gb/s  up     phx1->pden  30 Gb/s   1.25 Gb/s    8.1 ms',
        '                            pden->phx1  30 Gb/s   0 Gb/s       8 ms *',
        "* the fabric file's delay: not measured yet",
        '',
        'SITE  NAME       KIND        REGION  CONNECTED',
        'phx1  Phoenix 1  datacenter  AZ      yes',
        'pden  Denver     pop         CO      NO',
    ]


def test_check_text():
    ok = intent_service_pb2.CheckIntentResponse(
        admissible=True, path=['phx1', 'iad1'], latency_ms=21.5, backup_path=['phx1', 'pden', 'iad1']
    )
    assert fmt.check_text(ok, 10) == 'admissible: path phx1->iad1 (21.5 ms)\nbackup path phx1->pden->iad1'
    refused = intent_service_pb2.CheckIntentResponse(
        reason='no path from phx1 to iad1 has 400 Gb/s available',
        max_bandwidth_gbps=120,
        min_latency_ms=0,
        quota_left_gbps=50,
    )
    assert fmt.check_text(refused, 400).split('\n') == [
        'not admissible: no path from phx1 to iad1 has 400 Gb/s available',
        'max bandwidth            120 Gb/s',
        'min latency at 400 Gb/s  none (no path has 400 Gb/s)',
        'quota left               50 Gb/s',
    ]


def test_batch_text():
    orders = [Order('acme', 'phx1', 'iad1', 200), Order('acme', 'phx1', 'atl1', 0.5)]
    results = [
        intent_service_pb2.CreateIntentsResult(
            intent=intent(id='i-7', state=intent_pb2.INTENT_STATE_INSTALLING)
        ),
        intent_service_pb2.CreateIntentsResult(
            code='RESOURCE_EXHAUSTED',
            reason='no path from phx1 to atl1 has 500 Mb/s available',
            max_bandwidth_gbps=0.2,
        ),
    ]
    assert fmt.batch_text(orders, results).split('\n') == [
        'ORDER  ID   SITES        BANDWIDTH  RESULT              PATH OR REASON',
        '0      i-7  phx1<->iad1  200 Gb/s   INSTALLING          phx1->dfw2->iad1',
        '1      -    phx1<->atl1  500 Mb/s   RESOURCE_EXHAUSTED  '
        'no path from phx1 to atl1 has 500 Mb/s available',
        '1 admitted, 1 refused',
    ]


def test_event_line():
    event = intent_pb2.IntentEvent(
        intent_id='i-3',
        tenant='acme',
        state=intent_pb2.INTENT_STATE_INSTALLED,
        reason='span pdfw-patl down',
        time=Timestamp(seconds=1746100803),
        old_path=['phx1', 'dfw2', 'iad1'],
        new_path=['phx1', 'den1', 'iad1'],
    )
    assert fmt.event_line(event) == (
        '2025-05-01 12:00:03Z  i-3  acme  INSTALLED  span pdfw-patl down  '
        'moved phx1->dfw2->iad1 => phx1->den1->iad1'
    )


def test_json_uses_proto_field_names_and_prints_every_field():
    data = json.loads(fmt.to_json(intent(labels={'team': 'web'})))
    assert data['src_site'] == 'phx1' and data['bandwidth_gbps'] == 10
    assert data['state'] == 'INTENT_STATE_INSTALLED' and data['labels'] == {'team': 'web'}
    assert data['state_reason'] == '' and data['create_time'] == '2025-05-01T12:00:03Z'
    assert [d['id'] for d in json.loads(fmt.to_json([intent(), intent(id='i-4')]))] == ['i-3', 'i-4']
    line = fmt.to_json(intent_pb2.IntentEvent(intent_id='i-3'), one_line=True)
    assert '\n' not in line and json.loads(line)['intent_id'] == 'i-3'


def test_stats_text():
    stats = intent_pb2.IntentStats(intent_id='i-3', tenant='red', state=IntentState.INTENT_STATE_INSTALLED)
    stats.time.FromSeconds(1_746_100_800)
    f = stats.forward
    f.rate_in_gbps, f.rate_out_gbps, f.dropped_frames, f.dropped_bytes = 1.2, 0.99, 800, 1_200_000
    f.drop_rate_gbps, f.dropped_frames_per_second, f.latency_ms, f.jitter_ms = 0.2, 100, 9.2, 0.05
    stats.sla.window.FromSeconds(300)
    stats.sla.observed.FromSeconds(250)
    stats.sla.availability, stats.sla.committed_rate_share, stats.sla.within_latency_share = 0.998, 0.998, 1
    outage = stats.sla.outages.add(ongoing=True)
    outage.start_time.FromSeconds(1_746_100_700)
    outage.duration.FromMilliseconds(500)
    assert fmt.stats_text(stats).split('\n') == [
        'intent i-3 (red) INSTALLED at 2025-05-01 12:00:00Z',
        'DIRECTION  RATE IN   RATE OUT  DROPPED                DROPPING          LATENCY  JITTER',
        'forward    1.2 Gb/s  990 Mb/s  800 frames, 1200000 B  200 Mb/s (100/s)  9.2 ms   0.05 ms',
        'reverse    0 Gb/s    0 Gb/s    0 frames, 0 B          0 Gb/s (0/s)      -        -',
        'SLA over 300 s (observed 250 s): availability 99.8%, committed rate 99.8%, within latency 100%',
        '  outage at 2025-05-01 11:58:20Z for 0.500 s (ongoing)',
    ]


def test_stats_arguments():
    args = build_parser().parse_args(['intent', 'stats', 'i-3', '--window', '3600s', '--watch'])
    assert (args.id, args.window, args.watch, args.interval) == ('i-3', 3600, True, 1.0)
    assert build_parser().parse_args(['intent', 'stats', 'i-3']).window is None
