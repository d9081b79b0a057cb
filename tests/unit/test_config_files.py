"""The one reader of the files people write (topologies.model.config): one error type with a
`FILE: KEY: RULE` line per problem, the auth file's rules (every problem at once), the order
reader shared by orders and scenario files, and the check commands (`naas-lab check`,
`naas-controller --check`)."""

import io
import signal

import pytest
import yaml

from controller import main as controller_main
from topologies.lab import main as lab_main
from topologies.model.auth import digest, load_auth, parse_auth
from topologies.model.config import ConfigError, Validator, read_yaml
from topologies.model.fabric import load_fabric
from topologies.model.order import Order, Protection, ServiceClass, parse_orders, read_order

TRIANGLE = load_fabric('triangle')
NOC, RED, BLUE = (digest(t) for t in ('noc-token', 'red-token', 'blue-token'))


@pytest.fixture(autouse=True)
def keep_sigterm():
    """naas-lab's main() installs its own SIGTERM handler; give pytest its handler back."""
    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


# --- ConfigError and read_yaml ------------------------------------------------------------------


def test_one_line_per_problem_naming_file_and_key():
    error = ConfigError('f.yaml', [('', 'must be a mapping, got list'), ('a.b', 'bad')])
    assert str(error) == 'f.yaml: must be a mapping, got list\nf.yaml: a.b: bad'
    assert error.source == 'f.yaml' and error.problems == [
        ('', 'must be a mapping, got list'),
        ('a.b', 'bad'),
    ]
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    'content, rule',
    [(b'a: [unclosed\n', 'not valid YAML'), (b'\xff\xfe\x00', 'cannot read: not a text file')],
)
def test_read_yaml_names_the_file(tmp_path, content, rule):
    (tmp_path / 'f.yaml').write_bytes(content)
    with pytest.raises(ConfigError) as info:
        read_yaml(tmp_path / 'f.yaml')
    assert str(info.value).startswith(f'{tmp_path}/f.yaml: {rule}')
    with pytest.raises(ConfigError, match=r'^nope\.yaml: cannot read: No such file'):
        read_yaml('nope.yaml')


def test_read_yaml_from_standard_input(monkeypatch):
    monkeypatch.setattr('sys.stdin', io.StringIO('- 1\n'))
    assert read_yaml('-') == [1]
    monkeypatch.setattr('sys.stdin', io.StringIO('[unclosed'))
    with pytest.raises(ConfigError, match=r'^standard input: not valid YAML'):
        read_yaml('-')


# --- auth files ----------------------------------------------------------------------------------


def test_an_auth_file(tmp_path):
    (tmp_path / 'auth.yaml').write_text(
        yaml.safe_dump(
            {
                'operators': [{'name': 'noc', 'token_sha256': NOC}],
                'tenants': [
                    {'id': 'red', 'token_sha256': [RED, digest('red-next')], 'quota_gbps': 40},
                    {'id': 'blue', 'token_sha256': BLUE.upper()},
                ],
            }
        )
    )
    auth = load_auth(tmp_path / 'auth.yaml', TRIANGLE)
    assert auth.quotas == {'red': 40.0}
    bearer = lambda token: [('authorization', f'Bearer {token}')]  # noqa: E731
    assert auth.caller(bearer('noc-token')).operator
    assert auth.caller(bearer('red-next')).tenant == 'red'
    assert auth.caller(bearer('blue-token')).tenant == 'blue'
    assert auth.caller(bearer('guess')) is None
    assert {c.name for c in auth.callers} == {'noc', 'red', 'blue'}


def test_an_empty_auth_file_lets_nobody_in(tmp_path):
    (tmp_path / 'auth.yaml').write_text('')
    assert load_auth(tmp_path / 'auth.yaml', TRIANGLE).callers == frozenset()


@pytest.mark.parametrize(
    'doc, key, rule',
    [
        ([1], '', 'must be a mapping with operators and tenants, got list'),
        ({'admins': []}, 'admins', 'unknown key (allowed: operators, tenants)'),
        ({'operators': {'name': 'noc'}}, 'operators', 'must be a list of mappings'),
        ({'operators': [{'token_sha256': NOC}]}, 'operators[0].name', 'required: non-empty text'),
        ({'operators': [{'name': 'noc'}]}, 'operators[0].token_sha256', 'required: the SHA-256 hex digest'),
        (
            {'operators': [{'name': 'noc', 'token_sha256': 'abc'}]},
            'operators[0].token_sha256',
            '64 hex digits',
        ),
        (
            {'operators': [{'name': 'noc', 'token_sha256': NOC, 'role': 'x'}]},
            'operators[0].role',
            'unknown key',
        ),
        ({'tenants': [{'id': 'green', 'token_sha256': RED}]}, 'tenants[0].id', "'green' is not a tenant of"),
        (
            {'tenants': [{'id': 'red', 'token_sha256': RED}, {'id': 'red', 'token_sha256': BLUE}]},
            'tenants[1].id',
            'tenant red is listed twice',
        ),
        (
            {
                'operators': [{'name': 'noc', 'token_sha256': RED}],
                'tenants': [{'id': 'red', 'token_sha256': RED}],
            },
            'tenants[0].token_sha256',
            'the same token is already given to noc',
        ),
        ({'tenants': [{'id': 'red', 'token_sha256': RED, 'quota_gbps': 0}]}, 'tenants[0].quota_gbps', '> 0'),
        (
            {'tenants': [{'id': 'red', 'token_sha256': RED, 'quota_gbps': float('inf')}]},
            'tenants[0].quota_gbps',
            'finite',
        ),
        (
            {'operators': [{'name': 'noc', 'token_sha256': digest('')}]},
            'operators[0].token_sha256',
            'the empty token',
        ),
    ],
)
def test_auth_errors_name_the_key_and_the_rule(doc, key, rule):
    with pytest.raises(ConfigError) as info:
        parse_auth(doc, TRIANGLE, 'auth.yaml')
    prefix = f'auth.yaml: {key}: ' if key else 'auth.yaml: '
    assert any(line.startswith(prefix) and rule in line for line in str(info.value).splitlines()), info.value


def test_auth_problems_all_at_once():
    doc = {
        'operators': [{'name': '', 'token_sha256': NOC}],
        'tenants': [
            {'id': 'green', 'token_sha256': 'abc'},
            {'id': 'red', 'token_sha256': RED, 'quota_gbps': -1},
        ],
    }
    with pytest.raises(ConfigError) as info:
        parse_auth(doc, TRIANGLE, 'auth.yaml')
    assert [key for key, _ in info.value.problems] == [
        'operators[0].name',
        'tenants[0].id',
        'tenants[0].token_sha256',
        'tenants[1].quota_gbps',
    ]


# --- the order reader ----------------------------------------------------------------------------


def test_an_order_with_units_or_in_the_apis_numbers():
    v = Validator()
    with_units = {'src': 'a', 'dst': 'b', 'bandwidth': '200G', 'latency': '25ms', 'excess': '500Mbps'}
    api_names = {'src': 'a', 'dst': 'b', 'bandwidth_gbps': 200, 'max_latency_ms': 25, 'excess_gbps': 0.5}
    expected = Order('', 'a', 'b', 200.0, max_latency_ms=25.0, excess_gbps=0.5)
    assert read_order(v, with_units, 'o') == read_order(v, api_names, 'o') == expected
    assert read_order(v, dict(api_names, service_class='REALTIME', protected=True), 'o') == Order(
        '',
        'a',
        'b',
        200.0,
        max_latency_ms=25.0,
        excess_gbps=0.5,
        protection=Protection.PROTECTED,
        service_class=ServiceClass.REALTIME,
    )
    assert v.problems == []


def test_an_orders_document_reports_every_order():
    with pytest.raises(ConfigError) as info:
        parse_orders(
            [
                {'src': 'a', 'dst': 'b', 'bandwidth': 1, 'bandwidth_gbps': 1},
                'a to b',
                {'src': 'a', 'dst': 'b', 'bandwidth_gbps': '1G', 'excess_gbps': -1, 'class': 3},
            ],
            'o.yaml',
        )
    assert str(info.value).splitlines() == [
        'o.yaml: orders[0].bandwidth_gbps: the same as bandwidth: give one of them',
        'o.yaml: orders[1]: must be a mapping with src, dst, bandwidth and optionally tenant, excess, '
        'latency, protected, class, description, labels, src_prefixes, dst_prefixes, request_id, got str',
        "o.yaml: orders[2].bandwidth_gbps: must be a number, got '1G'",
        'o.yaml: orders[2].excess_gbps: must be at least 0.0, got -1',
        'o.yaml: orders[2].class: must be one of realtime, priority, bulk, got 3',
    ]


# --- check commands ------------------------------------------------------------------------------


def write(tmp_path, name, doc):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


@pytest.fixture
def files(tmp_path):
    return dict(
        policy=write(tmp_path, 'policy.yaml', {'reoptimize_every_s': 10, 'exempt_tenants': ['blue']}),
        auth=write(
            tmp_path,
            'auth.yaml',
            {
                'operators': [{'name': 'noc', 'token_sha256': NOC}],
                'tenants': [{'id': 'red', 'token_sha256': RED}],
            },
        ),
        orders=write(tmp_path, 'orders.yaml', [{'src': 'dca', 'dst': 'dcc', 'bandwidth': '1G'}]),
        bad_policy=write(tmp_path, 'bad-policy.yaml', {'reoptimize_every_s': 0, 'preemption': 'no'}),
        bad_auth=write(tmp_path, 'bad-auth.yaml', {'tenants': [{'id': 'green', 'token_sha256': RED}]}),
        bad_orders=write(tmp_path, 'bad-orders.yaml', [{'src': 'dca', 'bandwidth': 'lots'}]),
    )


def test_lab_check_says_ok_once_per_good_file(files, capsys):
    argv = [
        'check',
        'triangle',
        '--policy',
        files['policy'],
        '--auth',
        files['auth'],
        '--orders',
        files['orders'],
    ]
    assert lab_main.main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ''
    assert out.splitlines()[1:] == [
        f'{files["policy"]}: ok: policy for fabric triangle: reoptimize_every_s, exempt_tenants set, '
        'the rest default',
        f'{files["auth"]}: ok: 1 operators and 1 tenants of fabric triangle with tokens, 0 with a quota',
        f'{files["orders"]}: ok: 1 orders',
    ]


def test_lab_check_prints_every_problem_and_exits_2(files, capsys):
    argv = ['check', 'triangle', '--policy', files['bad_policy'], '--auth', files['bad_auth']]
    assert lab_main.main([*argv, '--orders', files['bad_orders']]) == 2
    out, err = capsys.readouterr()
    assert out.startswith(f'{TRIANGLE.source}: ok: ')
    assert err.splitlines() == [
        f'{files["bad_policy"]}: preemption: must be true or false, got {"no"!r}',
        f'{files["bad_policy"]}: reoptimize_every_s: must be a number > 0, got 0',
        f"{files['bad_auth']}: tenants[0].id: 'green' is not a tenant of fabric triangle "
        '(its tenants: red, blue)',
        f'{files["bad_orders"]}: orders[0].dst: missing required key',
        f"{files['bad_orders']}: orders[0].bandwidth: 'lots': not a bandwidth; write it like 10Gbps, 200Mbps "
        'or 1.5Tbps',
    ]


def test_lab_check_of_scenarios(tmp_path, capsys):
    good = 'topologies/scenarios/triangle-smoke.yaml'
    bad = write(tmp_path, 's.yaml', {'name': 's', 'fabric': 'triangle', 'steps': [{'wait': 0}]})
    assert lab_main.main(['check', '--scenario', good, '--scenario', bad]) == 2
    out, err = capsys.readouterr()
    assert out.startswith(f'{good}: ok: scenario triangle-smoke on fabric triangle: 2 intents, 14 steps')
    assert err == f'{bad}: steps[0].wait: must be greater than 0, got 0\n'


def test_lab_check_of_a_policy_needs_one_fabric_that_loads(files, capsys):
    with pytest.raises(SystemExit) as info:
        lab_main.main(['check', 'triangle', 'thin-fat', '--policy', files['policy']])
    assert info.value.code == 2 and 'give exactly one FABRIC' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        lab_main.main(['check'])
    assert 'give a file to check' in capsys.readouterr().err
    assert lab_main.main(['check', 'triangel', '--auth', files['auth']]) == 2
    err = capsys.readouterr().err
    assert f'{files["auth"]}: not checked: its fabric triangel has problems' in err


def test_controller_check_reads_what_it_would_start_with(files, capsys):
    argv = ['--check', '--fabric', 'triangle', '--auth', files['auth'], '--policy', files['policy']]
    assert controller_main.main(argv) == 0  # no --db: nothing is started
    out = capsys.readouterr().out.splitlines()
    assert [line.split(': ok: ')[0] for line in out] == [TRIANGLE.source, files['policy'], files['auth']]
    argv = ['--check', '--fabric', 'triangle', '--auth', files['bad_auth'], '--policy', files['bad_policy']]
    assert controller_main.main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(line.startswith((files['bad_auth'], files['bad_policy'])) for line in err)


def test_a_token_is_one_header_with_exactly_the_token():
    auth = parse_auth({'tenants': [{'id': 'red', 'token_sha256': RED}]}, TRIANGLE)
    assert auth.caller([('authorization', 'Bearer red-token')]).tenant == 'red'
    assert auth.caller([('x-other', 'a'), ('authorization', 'bearer red-token')]).tenant == 'red'
    for metadata in (
        [],
        [('authorization', 'Bearer red-token'), ('authorization', 'Bearer red-token')],
        [('authorization', 'Bearer  red-token')],
        [('authorization', 'Bearer red-token ')],
        [('authorization', 'Bearer red-token\t')],
        [('authorization', 'Bearer ')],
        [('authorization', 'red-token')],
        [('authorization', b'Bearer red-token')],  # grpcio hands over what is not UTF-8 as bytes
    ):
        assert auth.caller(metadata) is None, metadata
