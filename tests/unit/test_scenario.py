"""topologies.lab.scenario: every broken scenario document is refused with the file, the key and
the rule (all problems at once), and a valid one gets its defaults, spans and step names."""

import re
from pathlib import Path

import pytest
import yaml

from topologies.lab.scenario import (
    KINDS,
    SHIPPED,
    STATES,
    Host,
    IntentSpec,
    Outage,
    load_scenario,
    parse_scenario,
)
from topologies.model.config import ConfigError
from topologies.model.order import Order, Protection, ServiceClass

DOCS = Path(__file__).parents[2] / 'docs' / 'scenarios.md'


def minimal(*steps):
    """A valid document on the triangle (red at dca, dcb, dcc; blue at dca, dcc)."""
    return {
        'name': 'mini',
        'fabric': 'triangle',
        'intents': [
            {'name': 'web', 'tenant': 'red', 'src': 'dca', 'dst': 'dcc', 'bandwidth_gbps': 5},
            {'name': 'db', 'tenant': 'blue', 'src': 'dcc', 'dst': 'dca', 'bandwidth_gbps': 1},
        ],
        'steps': list(steps) or [{'expect_state': {'intent': 'web', 'state': 'installed'}}],
    }


def only_step(step, *before):
    return parse_scenario(minimal(*before, step)).steps[-1]


def refused(doc, source='s.yaml'):
    with pytest.raises(ConfigError) as info:
        parse_scenario(doc, source=source)
    return info.value


def assert_refused(doc, key, rule):
    """The one line naming `key` says the rule (a regular expression), after the file name."""
    error = refused(doc)
    lines = [line for line in str(error).splitlines() if line.startswith(f's.yaml: {key}: ')]
    assert lines, f'no problem at {key}: {error}'
    assert any(re.search(rule, line) for line in lines), f'{lines} does not say {rule!r}'


# --- valid files --------------------------------------------------------------------------------


@pytest.mark.parametrize('path', sorted(SHIPPED.glob('*.yaml')), ids=lambda p: p.name)
def test_the_shipped_scenarios_parse(path):
    scenario = load_scenario(path)
    assert scenario.steps and scenario.source == str(path)
    assert all(step.name for step in scenario.steps)


def test_triangle_smoke_is_what_the_docs_show():
    shipped = yaml.safe_load((SHIPPED / 'triangle-smoke.yaml').read_text())
    block = DOCS.read_text().split('```yaml\n', 1)[1].split('```', 1)[0]
    assert yaml.safe_load(block) == shipped


def test_a_minimal_scenario():
    scenario = parse_scenario(minimal(), source='m.yaml')
    assert (scenario.name, scenario.description, scenario.source) == ('mini', '', 'm.yaml')
    assert scenario.fabric.name == 'triangle' and scenario.policy is None
    assert scenario.intent('db') == IntentSpec('db', Order('blue', 'dcc', 'dca', 1.0))


def test_intent_defaults_and_options():
    doc = minimal()
    doc['intents'][0].update(max_latency_ms=20, protected=True, service_class='realtime')
    web, db = parse_scenario(doc).intents
    assert web == IntentSpec(
        'web',
        Order(
            'red',
            'dca',
            'dcc',
            5.0,
            max_latency_ms=20.0,
            protection=Protection.PROTECTED,
            service_class=ServiceClass.REALTIME,
        ),
    )
    assert (db.order.max_latency_ms, db.order.protection, db.order.service_class) == (
        None,
        Protection.NONE,
        ServiceClass.PRIORITY,  # the API's default
    )


def test_an_intent_is_an_order_as_orders_files_write_it():
    doc = minimal()
    doc['intents'][0] = {
        'name': 'web',
        'tenant': 'red',
        'src': 'dca',
        'dst': 'dcc',
        'bandwidth': '500Mbps',
        'latency': '20ms',
        'excess': '1G',
        'protected': True,
        'class': 'Bulk',
        'description': 'replication',
        'labels': {'team': 'web'},
        'src_prefixes': '10.1.1.0/25',
        'request_id': 'web-1',
    }
    assert parse_scenario(doc).intent('web') == IntentSpec(
        'web',
        Order(
            'red',
            'dca',
            'dcc',
            0.5,
            max_latency_ms=20.0,
            protection=Protection.PROTECTED,
            service_class=ServiceClass.BULK,
            excess_gbps=1.0,
            description='replication',
            labels={'team': 'web'},
            src_prefixes=('10.1.1.0/25',),
            request_id='web-1',
        ),
    )


def test_step_defaults_are_filled():
    assert only_step({'expect_state': {'intent': 'web', 'state': 'Installed'}}).args == {
        'intent': 'web',
        'state': 'INSTALLED',
        'within_s': 15.0,
        'avoids': (),
    }
    assert (
        only_step({'expect_throughput': {'from': 'red@dca', 'to': 'red@dcb', 'at_least_gbps': 2}}).args[
            'seconds'
        ]
        == 5.0
    )
    step = only_step(
        {'span_down': ['dca', 'dcb'], 'outage': {'from': 'red@dca', 'to': 'red@dcb', 'at_most_ms': 50}}
    )
    assert step.outage == Outage(Host('red', 'dca'), Host('red', 'dcb'), 50.0, 3.0)
    assert only_step({'expect_isolated': {}}).args == {'tenants': ('red', 'blue')}
    assert only_step({'expect_isolated': True}).args == {'tenants': ('red', 'blue')}
    assert only_step({'restart_controller': True}).args == only_step({'restart_controller': {}}).args == {}


def test_every_state_is_accepted_in_any_case():
    for state in STATES:
        args = only_step({'expect_state': {'intent': 'db', 'state': state.lower()}}).args
        assert args['state'] == state


def test_spans_are_stored_in_the_fabric_order():
    # triangle spans: dca-dcb, dcb-dcc, dca-dcc
    assert only_step({'span_down': ['dcb', 'dca']}).args == {'span': ('dca', 'dcb')}
    assert only_step({'span_up': ['dcc', 'dca']}).args == {'span': ('dca', 'dcc')}
    assert only_step({'span_delay': {'span': ['dcc', 'dcb'], 'ms': 0}}).args == {
        'span': ('dcb', 'dcc'),
        'ms': 0.0,
    }
    step = only_step(
        {'expect_state': {'intent': 'web', 'state': 'installed', 'avoids': [['dcc', 'dca'], ['dcb', 'dca']]}}
    )
    assert step.args['avoids'] == (('dca', 'dcc'), ('dca', 'dcb'))


def test_hosts_and_traffic():
    start = {'traffic_start': {'name': 'bulk', 'from': 'red@dca', 'to': 'red@dcc', 'rate_gbps': 3}}
    assert only_step(start).args == {
        'traffic': 'bulk',
        'src': Host('red', 'dca'),
        'dst': Host('red', 'dcc'),
        'rate_gbps': 3.0,
    }
    assert only_step({'traffic_stop': 'bulk'}, start).args == {'traffic': 'bulk'}
    # stopped traffic's name can be used again
    parse_scenario(minimal(start, {'traffic_stop': 'bulk'}, start))
    assert only_step({'expect_unreachable': {'from': 'red@dca', 'to': 'blue@dca'}}).args == {
        'src': Host('red', 'dca'),
        'dst': Host('blue', 'dca'),
    }


@pytest.mark.parametrize(
    'step, name',
    [
        ({'wait': 2.5}, 'wait 2.5 s'),
        ({'span_down': ['dcc', 'dca']}, 'span dca-dcc down'),
        ({'span_up': ['dca', 'dcb']}, 'span dca-dcb up'),
        ({'span_delay': {'span': ['dca', 'dcb'], 'ms': 30}}, 'span dca-dcb delay 30 ms'),
        (
            {'traffic_start': {'name': 'bulk', 'from': 'red@dca', 'to': 'red@dcc', 'rate_gbps': 3}},
            'traffic bulk red@dca -> red@dcc at 3 Gb/s',
        ),
        ({'restart_controller': True}, 'controller restarted'),
        ({'site_down': 'dcb'}, 'site dcb down'),
        ({'span_loss': {'span': ['dcb', 'dca'], 'pct': 10}}, 'span dca-dcb loses 10%'),
        ({'span_stall': ['dca', 'dcb']}, 'span dca-dcb stalls'),
        ({'site_up': 'dcb'}, 'site dcb up'),
        ({'expect_state': {'intent': 'web', 'state': 'INSTALLED'}}, 'web installed'),
        (
            {'expect_state': {'intent': 'web', 'state': 'installed', 'avoids': [['dcc', 'dca']]}},
            'web installed avoiding dca-dcc',
        ),
        ({'expect_reachable': {'from': 'red@dca', 'to': 'red@dcc'}}, 'red@dca -> red@dcc reachable'),
        ({'expect_unreachable': {'from': 'red@dca', 'to': 'blue@dcc'}}, 'red@dca -> blue@dcc unreachable'),
        (
            {'expect_throughput': {'from': 'red@dca', 'to': 'red@dcc', 'at_least_gbps': 9}},
            'red@dca -> red@dcc at least 9 Gb/s',
        ),
        (
            {'expect_latency': {'from': 'red@dca', 'to': 'red@dcc', 'at_most_ms': 12.5}},
            'red@dca -> red@dcc at most 12.5 ms',
        ),
        ({'expect_isolated': {}}, 'tenants red, blue isolated'),
        ({'expect_steady': {'seconds': 30}}, 'steady for 30 s'),
    ],
)
def test_generated_names(step, name):
    got = only_step(step)
    assert (got.name, got.where) == (name, 'steps[0]')


def test_a_given_name_is_kept():
    assert only_step({'name': 'the cut', 'span_down': ['dca', 'dcb']}).name == 'the cut'
    start = {'traffic_start': {'name': 'bulk', 'from': 'red@dca', 'to': 'red@dcc', 'rate_gbps': 3}}
    assert only_step({'traffic_stop': 'bulk'}, start).name == 'traffic bulk stopped'


def test_policy_is_checked_and_kept():
    doc = dict(minimal(), policy={'reoptimize_every_s': 10, 'exempt_tenants': ['blue']})
    assert parse_scenario(doc).policy == {'reoptimize_every_s': 10, 'exempt_tenants': ['blue']}


def test_fabric_path_is_relative_to_the_scenario(tmp_path):
    (tmp_path / 'fabrics').mkdir()
    (tmp_path / 'fabrics' / 'tri.yaml').write_text(
        (SHIPPED.parent / 'fabrics' / 'triangle.yaml').read_text().replace('name: triangle', 'name: tri')
    )
    (tmp_path / 's.yaml').write_text(yaml.safe_dump(dict(minimal(), fabric='fabrics/tri.yaml')))
    assert load_scenario(tmp_path / 's.yaml').fabric.name == 'tri'


# --- refused documents: one thing broken per case -----------------------------------------------


def doc_with(**top):
    doc = minimal()
    doc.update(top)
    return {k: v for k, v in doc.items() if v is not None}


def intent_with(**fields):
    doc = minimal()
    doc['intents'][0].update(fields)
    doc['intents'][0] = {k: v for k, v in doc['intents'][0].items() if v is not None}
    return doc


START = {'traffic_start': {'name': 'bulk', 'from': 'red@dca', 'to': 'red@dcc', 'rate_gbps': 3}}
HOSTS = {'from': 'red@dca', 'to': 'red@dcc'}

TOP_CASES = [
    (doc_with(name=None), 'name', 'missing required key'),
    (doc_with(name='no spaces'), 'name', 'letters, digits'),
    (
        doc_with(colour='red'),
        'colour',
        r'unknown key \(allowed: description, fabric, intents, name, '
        r'order, policy, replicas, steps\)',
    ),
    (doc_with(order='all-at-once'), 'order', "must be one of one_by_one, together, got 'all-at-once'"),
    (doc_with(description=3), 'description', 'must be text'),
    (doc_with(fabric=None), 'fabric', 'missing required key'),
    (doc_with(fabric=7), 'fabric', 'shipped fabric name, a path or topohub:KEY'),
    (doc_with(fabric='triangel'), 'fabric', r'triangel: no such fabric file, nor a shipped fabric'),
    (doc_with(fabric='topohub:sndlib/nowhere'), 'fabric', 'unknown topohub network'),
    (doc_with(policy=[1]), 'policy', 'must be a mapping'),
    (doc_with(policy={'reoptimize_every_s': 0}), 'policy', r'reoptimize_every_s: must be a number > 0'),
    (doc_with(policy={'exempt_tenants': ['green']}), 'policy', "unknown tenant 'green'"),
    (doc_with(intents='web'), 'intents', 'must be a list'),
    (doc_with(steps=None), 'steps', 'missing required key'),
    (doc_with(steps=[]), 'steps', 'must not be empty'),
]

INTENT_CASES = [
    (intent_with(name=None), 'intents[0].name', 'missing required key'),
    (intent_with(name='Web'), 'intents[0].name', r'1-32 lowercase letters, digits or "-"'),
    (intent_with(name='db'), 'intents[1].name', r"duplicate intent name 'db' \(already intents\[0\]\)"),
    (
        intent_with(tenant='green'),
        'intents[0].tenant',
        r"unknown tenant 'green' \(tenants of fabric "
        r'triangle: red, blue\)',
    ),
    (intent_with(src='dcx'), 'intents[0].src', r"tenant red has no port at site 'dcx'"),
    (
        intent_with(tenant='blue', src='dcb'),
        'intents[0].src',
        r"tenant blue has no port at site 'dcb' \(its sites: dca, dcc\)",
    ),
    (intent_with(dst='dca'), 'intents[0].dst', 'must be another site than src'),
    (intent_with(bandwidth_gbps=0), 'intents[0].bandwidth_gbps', 'must be greater than 0'),
    (intent_with(bandwidth_gbps='5G'), 'intents[0].bandwidth_gbps', 'must be a number'),
    (intent_with(max_latency_ms=-1), 'intents[0].max_latency_ms', 'must be greater than 0'),
    (intent_with(protected='yes'), 'intents[0].protected', 'must be true or false'),
    (
        intent_with(service_class='gold'),
        'intents[0].service_class',
        'must be one of realtime, priority, bulk',
    ),
    (intent_with(colour='red'), 'intents[0].colour', 'unknown key'),
    (intent_with(bandwidth_gbps=None), 'intents[0].bandwidth', 'missing required key'),
    (  # written after bandwidth_gbps
        intent_with(bandwidth='5G'),
        'intents[0].bandwidth',
        'the same as bandwidth_gbps: give one of them',
    ),
    (
        intent_with(bandwidth_gbps=None, bandwidth='5 apples'),
        'intents[0].bandwidth',
        "'5 apples': not a bandwidth",
    ),
    (intent_with(latency='soon'), 'intents[0].latency', "'soon': not a latency"),
    (intent_with(excess_gbps=-1), 'intents[0].excess_gbps', 'must be at least 0.0'),
    (intent_with(labels={'team': 7}), 'intents[0].labels.team', 'must be text'),
    (intent_with(tenant=None), 'intents[0].tenant', 'missing required key'),
    (
        intent_with(tenant='blue', name='db2', src='dca', dst='dcc'),
        'intents[1]',
        r'tenant blue already has an intent between dcc and dca \(intents\[0\]\); the controller '
        'allows one per tenant',
    ),
]

STEP_CASES = [
    ([3], 'steps[0]', 'must be a mapping'),
    ([{}], 'steps[0]', 'must have exactly one of wait, .*; got none'),
    ([{'wait': 1, 'span_up': ['dca', 'dcb']}], 'steps[0]', 'exactly one of .*; got wait, span_up'),
    ([{'sleep': 1}], 'steps[0].sleep', 'unknown key'),
    ([{'wait': 1, 'name': ''}], 'steps[0].name', 'must be non-empty text'),
    ([{'wait': 0}], 'steps[0].wait', 'must be greater than 0'),
    ([{'wait': 601}], 'steps[0].wait', r'must be 0\.\.600, got 601'),
    ([{'wait': 'soon'}], 'steps[0].wait', 'must be a number'),
    ([{'span_down': 'dca-dcb'}], 'steps[0].span_down', 'must be a list of two site ids'),
    ([{'site_down': 'dcx'}], 'steps[0].site_down', "unknown site 'dcx' in fabric triangle"),
    ([{'span_loss': {'span': ['dca', 'dcb'], 'pct': 101}}], 'steps[0].span_loss.pct', '0..100'),
    ([{'site_up': ['dca']}], 'steps[0].site_up', 'must be a site id'),
    ([{'span_up': ['dca']}], 'steps[0].span_up', 'must be a list of two site ids'),
    ([{'span_down': ['dca', 'dcx']}], 'steps[0].span_down', "unknown site 'dcx' in fabric triangle"),
    (
        [{'span_down': ['dca', 'dca']}],
        'steps[0].span_down',
        r'no span between dca and dca in fabric triangle \(spans of dca: dca-dcb, dca-dcc\)',
    ),
    ([{'span_delay': ['dca', 'dcb']}], 'steps[0].span_delay', 'must be a mapping'),
    ([{'span_delay': {'span': ['dca', 'dcb']}}], 'steps[0].span_delay.ms', 'missing required key'),
    ([{'span_delay': {'span': ['dca', 'dcb'], 'ms': -1}}], 'steps[0].span_delay.ms', r'must be 0\.\.10000'),
    (
        [{'span_delay': {'span': ['dca', 'dcb'], 'ms': 10001}}],
        'steps[0].span_delay.ms',
        r'must be 0\.\.10000',
    ),
    ([{'span_delay': {'span': ['dcb', 'dcx'], 'ms': 5}}], 'steps[0].span_delay.span', 'unknown site'),
    (
        [{'traffic_start': {'name': 'bulk', 'from': 'red@dca', 'to': 'red@dcc'}}],
        'steps[0].traffic_start.rate_gbps',
        'missing required key',
    ),
    (
        [{'traffic_start': dict(START['traffic_start'], rate_gbps=0)}],
        'steps[0].traffic_start.rate_gbps',
        'must be greater than 0',
    ),
    (
        [{'traffic_start': dict(START['traffic_start'], name='Bulk Load')}],
        'steps[0].traffic_start.name',
        'lowercase letters',
    ),
    (
        [START, START],
        'steps[1].traffic_start.name',
        r"traffic 'bulk' is already running \(started at steps\[0\]\)",
    ),
    (
        [{'traffic_start': dict(START['traffic_start'], to='red@dca')}],
        'steps[0].traffic_start.to',
        r'must be another host than from \(red@dca\)',
    ),
    (
        [{'traffic_start': dict(START['traffic_start'], to='blue@dcc')}],
        'steps[0].traffic_start.to',
        'red@dca and blue@dcc are hosts of different tenants',
    ),
    (
        [{'traffic_start': dict(START['traffic_start'], **{'from': 'red'})}],
        'steps[0].traffic_start.from',
        "must be TENANT@SITE, such as red@dca, got 'red'",
    ),
    (
        [{'traffic_start': dict(START['traffic_start'], **{'from': 'green@dca'})}],
        'steps[0].traffic_start.from',
        "unknown tenant 'green'",
    ),
    (
        [{'traffic_start': dict(START['traffic_start'], **{'from': 'blue@dcb'})}],
        'steps[0].traffic_start.from',
        r"tenant blue has no port at site 'dcb' \(its sites: dca, dcc\)",
    ),
    (
        [{'traffic_stop': 'bulk'}],
        'steps[0].traffic_stop',
        r"no traffic 'bulk' is running here \(running: none\)",
    ),
    (
        [START, {'traffic_stop': 'bulk'}, {'traffic_stop': 'bulk'}],
        'steps[2].traffic_stop',
        r"traffic 'bulk' was already stopped at steps\[1\]",
    ),
    ([{'traffic_stop': ['bulk']}], 'steps[0].traffic_stop', 'must be the name of running traffic'),
    ([{'restart_controller': False}], 'steps[0].restart_controller', r'must be true or \{\}'),
    ([{'restart_controller': {'now': True}}], 'steps[0].restart_controller', r'must be true or \{\}'),
    (
        [{'expect_state': {'intent': 'mail', 'state': 'installed'}}],
        'steps[0].expect_state.intent',
        r"unknown intent 'mail' \(intents: db, web\)",
    ),
    (
        [{'expect_state': {'intent': 'web', 'state': 'up'}}],
        'steps[0].expect_state.state',
        "must be one of installed, .*got 'up'",
    ),
    ([{'expect_state': {'intent': 'web'}}], 'steps[0].expect_state.state', 'missing required key'),
    (
        [{'expect_state': {'intent': 'web', 'state': 'failed', 'within_s': 0}}],
        'steps[0].expect_state.within_s',
        'must be greater than 0',
    ),
    (
        [{'expect_state': {'intent': 'web', 'state': 'failed', 'avoids': ['dca', 'dcb']}}],
        r'steps[0].expect_state.avoids[0]',
        'must be a list of two site ids',
    ),
    (
        [{'expect_state': {'intent': 'web', 'state': 'failed', 'avoids': 'dca-dcb'}}],
        'steps[0].expect_state.avoids',
        'must be a list',
    ),
    (
        [{'expect_reachable': {'from': 'red@dca', 'to': 'blue@dca'}}],
        'steps[0].expect_reachable.to',
        'hosts of different tenants, which never reach each other; expect_unreachable checks that',
    ),
    ([{'expect_reachable': {'from': 'red@dca'}}], 'steps[0].expect_reachable.to', 'missing required key'),
    (
        [{'expect_unreachable': {'from': 'red@dca', 'to': 'red@dca'}}],
        'steps[0].expect_unreachable.to',
        'must be another host than from',
    ),
    (
        [{'expect_throughput': dict(HOSTS, at_least_gbps=0)}],
        'steps[0].expect_throughput.at_least_gbps',
        'must be greater than 0',
    ),
    (
        [{'expect_throughput': dict(HOSTS, at_least_gbps=1, seconds=61)}],
        'steps[0].expect_throughput.seconds',
        r'must be 0\.\.60',
    ),
    (
        [{'expect_throughput': {'from': 'red@dca', 'to': 'blue@dcc', 'at_least_gbps': 1}}],
        'steps[0].expect_throughput.to',
        'hosts of different tenants',
    ),
    (
        [{'expect_latency': dict(HOSTS, at_most_ms=0)}],
        'steps[0].expect_latency.at_most_ms',
        'must be greater than 0',
    ),
    (
        [{'expect_latency': {'from': 'red@dca', 'to': 'blue@dcc', 'at_most_ms': 1}}],
        'steps[0].expect_latency.to',
        'hosts of different tenants',
    ),
    (
        [{'expect_isolated': {'tenants': ['red']}}],
        'steps[0].expect_isolated.tenants',
        'needs two tenants or more',
    ),
    (
        [{'expect_isolated': {'tenants': ['red', 'green']}}],
        r'steps[0].expect_isolated.tenants[1]',
        "unknown tenant 'green'",
    ),
    (
        [{'expect_isolated': {'tenants': ['red', 'blue', 'red']}}],
        r'steps[0].expect_isolated.tenants[2]',
        "tenant 'red' listed twice",
    ),
    ([{'expect_isolated': False}], 'steps[0].expect_isolated', r'must be true or \{tenants'),
    ([{'expect_steady': {'seconds': 0}}], 'steps[0].expect_steady.seconds', 'must be greater than 0'),
    ([{'expect_steady': {}}], 'steps[0].expect_steady.seconds', 'missing required key'),
    (
        [{'expect_steady': {'seconds': 5, 'intents': ['web', 'mail']}}],
        r'steps[0].expect_steady.intents[1]',
        "unknown intent 'mail'",
    ),
    (
        [{'wait': 1, 'outage': dict(HOSTS, at_most_ms=5)}],
        'steps[0].outage',
        'only span_down, span_up, span_delay, span_loss, span_stall, site_down, site_up, restart_controller, '
        'replica_kill, replica_pause, etcd_kill steps have an outage, not wait',
    ),
    (
        [{'span_down': ['dca', 'dcb'], 'outage': dict(HOSTS)}],
        'steps[0].outage.at_most_ms',
        'missing required key',
    ),
    (
        [{'span_down': ['dca', 'dcb'], 'outage': dict(HOSTS, at_most_ms=5, settle_s=0)}],
        'steps[0].outage.settle_s',
        'must be greater than 0',
    ),
    (
        [{'span_down': ['dca', 'dcb'], 'outage': dict(HOSTS, at_most_ms=5, settle_s=61)}],
        'steps[0].outage.settle_s',
        r'must be 0\.\.60',
    ),
    (
        [{'restart_controller': True, 'outage': {'from': 'red@dca', 'to': 'blue@dcc', 'at_most_ms': 5}}],
        'steps[0].outage.to',
        'hosts of different tenants',
    ),
]


@pytest.mark.parametrize('doc, key, rule', TOP_CASES + INTENT_CASES)
def test_refused_documents(doc, key, rule):
    assert_refused(doc, key, rule)


@pytest.mark.parametrize('steps, key, rule', STEP_CASES)
def test_refused_steps(steps, key, rule):
    assert_refused(minimal(*steps), key, rule)


def test_isolation_needs_two_tenants(tmp_path):
    (tmp_path / 'one.yaml').write_text(
        (SHIPPED.parent / 'fabrics' / 'triangle.yaml')
        .read_text()
        .replace('  - {id: blue, name: Blue Inc, sites: [dca, dcc]}\n', '')
    )
    doc = dict(minimal({'expect_isolated': True}), fabric='one.yaml', intents=[])
    with pytest.raises(
        ConfigError,
        match=r's.yaml: steps\[0\].expect_isolated: needs two tenants or '
        r'more; fabric triangle has 1',
    ):
        parse_scenario(doc, source='s.yaml', base_dir=tmp_path)


def test_many_problems_are_reported_at_once():
    doc = minimal({'wait': 0}, {'span_down': ['dca', 'dcx']}, {'traffic_stop': 'bulk'})
    doc['colour'] = 'red'
    doc['intents'][1]['bandwidth_gbps'] = -1
    error = refused(doc)
    assert [key for key, _ in error.problems] == [
        'colour',
        'intents[1].bandwidth_gbps',
        'steps[0].wait',
        'steps[1].span_down',
        'steps[2].traffic_stop',
    ]
    assert all(line.startswith('s.yaml: ') for line in str(error).splitlines())


def test_without_its_fabric_the_rest_is_still_checked():
    doc = minimal({'wait': 0}, {'expect_reachable': {'from': 'red', 'to': 'red@dcc'}})
    doc['fabric'] = 'triangel'
    doc['policy'] = {'anything': 1}  # needs the fabric: not checked
    assert [key for key, _ in refused(doc).problems] == [
        'fabric',
        'steps[0].wait',
        'steps[1].expect_reachable.from',
    ]


def test_a_broken_fabric_file_gives_its_own_messages(tmp_path):
    (tmp_path / 'bad.yaml').write_text('name: bad\nsites: []\n')
    (tmp_path / 's.yaml').write_text(yaml.safe_dump(dict(minimal(), fabric='bad.yaml')))
    with pytest.raises(ConfigError) as info:
        load_scenario(tmp_path / 's.yaml')
    assert str(info.value) == (
        f'{tmp_path}/s.yaml: fabric: {tmp_path}/bad.yaml: spans: missing required '
        f'key; {tmp_path}/bad.yaml: sites: must not be empty'
    )


@pytest.mark.parametrize(
    'text, rule',
    [
        ('name: [unclosed\n', 'not valid YAML'),
        ('- a list\n', 'must be a mapping, got list'),
        ('', 'must be a mapping, got NoneType'),
    ],
)
def test_files_that_are_not_scenarios(tmp_path, text, rule):
    (tmp_path / 's.yaml').write_text(text)
    with pytest.raises(ConfigError) as info:
        load_scenario(tmp_path / 's.yaml')
    assert str(info.value).startswith(f'{tmp_path}/s.yaml: {rule}')


def test_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r'nope\.yaml: cannot read: No such file'):
        load_scenario(tmp_path / 'nope.yaml')


def test_the_errors_in_the_docs_are_what_the_loader_says(tmp_path, monkeypatch):
    broken = {
        'name': 'broken',
        'fabric': 'triangle',
        'colour': 'red',
        'intents': [
            {'name': 'red-web', 'tenant': 'red', 'src': 'dca', 'dst': 'dcc', 'bandwidth_gbps': 5},
            {'name': 'blue-bulk', 'tenant': 'blue', 'src': 'dca', 'dst': 'dcb', 'bandwidth_gbps': 1},
            {'name': 'red-db', 'tenant': 'red', 'src': 'dcc', 'dst': 'dca', 'bandwidth_gbps': 1},
        ],
        'steps': [
            {'wait': 700},
            {'traffic_start': {'name': 'web', 'from': 'red@dca', 'to': 'red@dcc', 'rate_gbps': 4}},
            {'span_down': ['dcb', 'dcb']},
            {'expect_isolated': True},
            {'traffic_start': {'name': 'bulk', 'from': 'red@dca', 'to': 'blue@dcc', 'rate_gbps': 1}},
            {'expect_reachable': {'from': 'red@dca', 'to': 'red@dcc'}},
            {'traffic_stop': 'bluk'},
            {'expect_state': {'intent': 'db', 'state': 'installed'}},
        ],
    }
    shown = DOCS.read_text().split('$ naas-lab scenario broken.yaml\n', 1)[1].split('```', 1)[0]
    assert str(refused(broken, source='broken.yaml')) + '\n' == shown


def test_steady_watches_the_intents_named_or_every_one():
    step = only_step({'expect_steady': {'seconds': 9, 'intents': ['db']}})
    assert step.args == {'seconds': 9, 'intents': ('db',)}
    assert only_step({'expect_steady': {'seconds': 9}}).args == {'seconds': 9, 'intents': ()}


def test_intents_are_ordered_one_by_one_unless_together():
    assert parse_scenario(minimal()).order == 'one_by_one'
    assert parse_scenario(dict(minimal(), order='together')).order == 'together'


def test_every_step_kind_is_one_registered_object():
    events = [k for k, kind in KINDS.items() if not kind.expectation]
    expectations = [k for k, kind in KINDS.items() if kind.expectation]
    assert list(KINDS) == events + expectations  # events first, as messages list them
    assert events == [
        'wait',
        'span_down',
        'span_up',
        'span_delay',
        'span_loss',
        'span_stall',
        'site_down',
        'site_up',
        'traffic_start',
        'traffic_stop',
        'restart_controller',
        'replica_kill',
        'replica_pause',
        'replica_restart',
        'etcd_kill',
        'etcd_restart',
    ]
    assert [k for k, kind in KINDS.items() if kind.outage] == [
        'span_down',
        'span_up',
        'span_delay',
        'span_loss',
        'span_stall',
        'site_down',
        'site_up',
        'restart_controller',
        'replica_kill',
        'replica_pause',
        'etcd_kill',
    ]
    assert all(kind.key == key and kind.title for key, kind in KINDS.items())
    documented = DOCS.read_text()
    assert all(f'| `{key}` |' in documented for key in KINDS)


def test_replica_and_etcd_events_need_replicas_and_name_what_exists():
    doc = minimal(
        {'replica_kill': 'leader', 'outage': {'from': 'red@dca', 'to': 'red@dcc', 'at_most_ms': 1}},
        {'replica_pause': {'replica': 2, 'seconds': 3}},
        {'replica_restart': True},
        {'etcd_kill': 1},
        {'etcd_restart': 1},
    )
    with pytest.raises(ConfigError) as refused:
        parse_scenario(doc)
    text = str(refused.value)
    for i in range(5):
        assert f'steps[{i}]' in text and 'replicas' in text
    scenario = parse_scenario({**doc, 'replicas': 3})
    assert scenario.replicas == 3
    assert [s.kind for s in scenario.steps] == [
        'replica_kill',
        'replica_pause',
        'replica_restart',
        'etcd_kill',
        'etcd_restart',
    ]
    assert scenario.steps[0].outage is not None and scenario.steps[1].args == {'replica': 2, 'seconds': 3}


@pytest.mark.parametrize(
    'top, step, rule',
    [
        ({'replicas': 1}, {'wait': 1}, 'replicas: must be a whole number from 2 to 5, got 1'),
        ({'replicas': 'three'}, {'wait': 1}, "replicas: must be a whole number from 2 to 5, got 'three'"),
        (
            {'replicas': 2},
            {'replica_kill': 2},
            "steps[0].replica_kill: must be 'leader' or a replica from 0 to 1",
        ),
        ({'replicas': 2}, {'etcd_kill': 3}, 'steps[0].etcd_kill: must be an etcd member from 0 to 2'),
        ({'replicas': 2}, {'replica_restart': 1}, 'steps[0].replica_restart: must be true'),
    ],
)
def test_bad_replica_settings_are_refused_naming_the_key(top, step, rule):
    with pytest.raises(ConfigError) as refused:
        parse_scenario({**minimal(step), **top})
    assert rule in str(refused.value)
