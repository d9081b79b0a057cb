"""The scenario report as users read it: each expectation with what was measured, the moves
the controller announced, the paths before and after, and one verdict line."""

import json

from topologies.lab.scenario.report import Report, Result


def report(**kw):
    r = Report('demo', 'lumen-qts', seconds=93.4, **kw)
    r.passed = r.error is None and all(e.passed for e in r.expectations)
    return r


def test_a_passing_report_lists_every_expectation_and_ends_with_the_verdict():
    r = report(
        expectations=[
            Result('web installed', 'steps[0]', True, 'INSTALLED on a-b', 'INSTALLED within 15 s'),
            Result('cut: outage', 'steps[3]', True, '12 ms (12 of 3500 probes lost)', 'at most 50 ms'),
        ],
        moves=[
            dict(
                t=12.3,
                intent='web',
                state='INSTALLING',
                old_path=['a', 'b'],
                new_path=['a', 'c', 'b'],
                reason='span a-b down',
            )
        ],
        paths_before=[dict(name='web', tenant='t', sites=['a', 'b'], backup=[], gbps=2, state='INSTALLED')],
        paths_after=[
            dict(name='web', tenant='t', sites=['a', 'c', 'b'], backup=[], gbps=2, state='INSTALLED')
        ],
    )
    lines = r.text().splitlines()
    assert lines[0] == 'scenario demo on fabric lumen-qts'
    assert lines[1].startswith('  PASS  web installed') and 'measured INSTALLED on a-b' in lines[1]
    assert '12.3 s  web: a-b -> a-c-b (span a-b down)' in r.text()
    assert 'web          a-b  ->  a-c-b' in r.text()
    assert lines[-1] == 'verdict: PASSED: 2 of 2 expectations hold; 93 s'


def test_a_failed_or_broken_run_says_so_and_its_json_has_the_documented_keys():
    r = report(
        expectations=[Result('x', 'steps[0]', False, '1.2 Gb/s TCP', 'at least 9 Gb/s')],
        error='RuntimeError: naas-controller exited with 1',
    )
    assert '  FAIL  x' in r.text()
    assert r.text().splitlines()[-1] == 'verdict: FAILED: 0 of 1 expectations hold (the run broke off); 93 s'
    doc = json.loads(json.dumps(r.as_dict()))
    assert doc['passed'] is False and doc['error'].startswith('RuntimeError')
    assert doc['expectations'] == [
        {
            'name': 'x',
            'step': 'steps[0]',
            'passed': False,
            'measured': '1.2 Gb/s TCP',
            'expected': 'at least 9 Gb/s',
        }
    ]


def test_an_unplaced_intent_reads_as_its_state():
    r = report(paths_before=[dict(name='big', tenant='t', sites=[], backup=[], gbps=900, state='REFUSED')])
    assert 'big          refused  ->  refused' in r.text()
