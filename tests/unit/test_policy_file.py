"""topologies/model/policy.py: the operator's policy file, checked key by key against the fabric."""

import re

import pytest

from controller.core.planner import Policy
from topologies.model.config import ConfigError
from topologies.model.fabric import load_fabric
from topologies.model.policy import load_policy, parse_policy

TRIANGLE = load_fabric('triangle')


def test_a_full_policy_file(tmp_path):
    path = tmp_path / 'policy.yaml'
    path.write_text(
        'reoptimize_every_s: 60\nspan_hold_s: 5\ncongestion_ratio: 0.8\n'
        'congestion_samples: 3\npreemption: false\nexempt_tenants: [blue]\n'
        'span_headroom: {dca-dcc: 0.3}\n'
    )
    policy = load_policy(path, TRIANGLE)
    assert policy == Policy(
        reoptimize_every_s=60,
        span_hold_s=5,
        congestion_ratio=0.8,
        congestion_samples=3,
        preemption=False,
        exempt_tenants=frozenset({'blue'}),
        span_headroom={'dca-dcc': 0.3},
    )


def test_an_empty_file_keeps_the_defaults(tmp_path):
    (tmp_path / 'p.yaml').write_text('')
    assert load_policy(tmp_path / 'p.yaml', TRIANGLE) == Policy()


@pytest.mark.parametrize(
    'doc, key',
    [
        ([1], ''),
        ({'reoptimise_every_s': 3}, 'reoptimise_every_s'),
        ({'reoptimize_every_s': 0}, 'reoptimize_every_s'),
        ({'min_gain_ms': -1}, 'min_gain_ms'),
        ({'congestion_ratio': 1.5}, 'congestion_ratio'),
        ({'congestion_ratio': True}, 'congestion_ratio'),
        ({'congestion_samples': 0}, 'congestion_samples'),
        ({'preemption': 'yes'}, 'preemption'),
        ({'exempt_tenants': ['green']}, 'exempt_tenants'),
        ({'span_headroom': {'dca-dcx': 0.1}}, 'span_headroom.dca-dcx'),
        ({'span_headroom': {'dca-dcb': 1}}, 'span_headroom.dca-dcb'),
    ],
)
def test_errors_name_the_key_and_the_rule(doc, key):
    line = f'policy.yaml: {key}: ' if key else 'policy.yaml: must be a mapping of policy keys'
    with pytest.raises(ConfigError, match='^' + re.escape(line)):
        parse_policy(doc, TRIANGLE, 'policy.yaml')


def test_every_problem_at_once():
    doc = {'reoptimise_every_s': 3, 'min_gain_ms': -1, 'exempt_tenants': ['green', 'blue', 'teal']}
    with pytest.raises(ConfigError) as info:
        parse_policy(doc, TRIANGLE, 'policy.yaml')
    assert str(info.value).splitlines() == [
        'policy.yaml: reoptimise_every_s: unknown key (allowed: batch_seconds, bound_margin_ms, '
        'bound_margin_ratio, congestion_ratio, '
        'congestion_samples, exempt_tenants, flap_window_s, make_room, max_hold_s, min_gain_ms, '
        'min_gain_ratio, move_hold_s, preemption, reoptimize_every_s, span_headroom, span_hold_s)',
        'policy.yaml: min_gain_ms: must be a number >= 0, got -1',
        "policy.yaml: exempt_tenants: unknown tenant 'green' in fabric triangle",
        "policy.yaml: exempt_tenants: unknown tenant 'teal' in fabric triangle",
    ]


def test_an_unreadable_file_names_it(tmp_path):
    with pytest.raises(ConfigError, match=r'missing\.yaml: cannot read'):
        load_policy(tmp_path / 'missing.yaml', TRIANGLE)
