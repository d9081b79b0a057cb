"""The scenario report as users read it: each expectation with what was measured and its
verdict, the moves the controller announced, the paths before and after, the span emulators'
lateness, and one verdict line; the same in JSON."""

import json

from topologies.emulation.lateness import SpanLateness
from topologies.lab.scenario.report import Report, Result


def report(**kw):
    return Report('demo', 'lumen-qts', seconds=93.4, **kw)


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
    assert doc['verdict'] == 'FAILED' and r.exit_code == 1
    assert doc['expectations'] == [
        {
            'name': 'x',
            'step': 'steps[0]',
            'verdict': 'FAIL',
            'passed': False,
            'measured': '1.2 Gb/s TCP',
            'expected': 'at least 9 Gb/s',
            'lying': [],
        }
    ]
    assert doc['lateness'] is None  # the lab never got as far as measuring


def test_an_unplaced_intent_reads_as_its_state():
    r = report(paths_before=[dict(name='big', tenant='t', sites=[], backup=[], gbps=900, state='REFUSED')])
    assert 'big          refused  ->  refused' in r.text()


# --- INCONCLUSIVE: measured while the emulation lied --------------------------------------------

LATE = SpanLateness('pdfw-patl', 8.0, 4100, 0.4, 2.3, 7.9, 12)  # tolerance 0.9 ms
HONEST = SpanLateness('pden-pkc', 6.0, 3900, 0.05, 0.31, 0.8, 0)
QUIET = SpanLateness('pphx-plax', 5.0, 0, None, None, None, 0)


def test_an_expectation_measured_while_a_span_lied_is_inconclusive_with_its_figures():
    r = report(
        expectations=[
            Result('web installed', 'steps[0]', True, 'INSTALLED on a-b', 'INSTALLED within 15 s'),
            Result('a -> b at most 20 ms', 'steps[4]', True, '18.1 ms one way', 'at most 20 ms', (LATE,)),
            Result('cut: outage', 'steps[5]', False, '140 ms', 'at most 50 ms', (LATE,)),
        ],
        lateness={s.span_id: s for s in (LATE, HONEST, QUIET)},
    )
    assert [e.verdict for e in r.expectations] == ['PASS', 'INCONCLUSIVE', 'INCONCLUSIVE']
    assert r.verdict == 'INCONCLUSIVE' and not r.passed and r.exit_code == 3
    lines = r.text().splitlines()
    assert lines[1].startswith('  PASS          web installed')  # the verdicts line up
    assert lines[2].startswith('  INCONCLUSIVE  a -> b at most 20 ms')
    assert lines[3] == (
        '                late beyond tolerance meanwhile: pdfw-patl: late p99 2.30 ms > 0.90 ms tolerance '
        '(p50 0.40, max 7.90 ms, 4100 frames), 12 dropped late'
    )
    assert lines[4].startswith('  INCONCLUSIVE  cut: outage')
    # Every span over the run: the liar first, then the worst of the others; a quiet one too.
    table = lines[lines.index(next(x for x in lines if x.startswith('span emulators over the run'))) :]
    assert table[0].startswith('span emulators over the run: 1 of 3 late beyond tolerance')
    assert table[1].split() == ['span', 'frames', 'p50', 'p99', 'max', 'dropped', 'tolerance']
    assert table[2].split() == ['pdfw-patl', '4100', '0.400', '2.300', '7.900', '12', '0.900', 'LATE']
    assert table[3].split() == ['pden-pkc', '3900', '0.050', '0.310', '0.800', '0', '0.800']
    assert table[4].split() == ['pphx-plax', '0', '-', '-', '-', '0', '0.750']
    assert lines[-1] == (
        'verdict: INCONCLUSIVE: 1 of 3 expectations hold, 2 inconclusive: '
        'measured while the emulation was late beyond tolerance; 93 s'
    )
    doc = json.loads(json.dumps(r.as_dict()))
    assert (doc['verdict'], doc['passed']) == ('INCONCLUSIVE', False)
    e = doc['expectations'][1]
    assert (e['verdict'], e['passed'], e['measured']) == ('INCONCLUSIVE', False, '18.1 ms one way')
    assert e['lying'] == [
        {
            'span_id': 'pdfw-patl',
            'delay_ms': 8.0,
            'frames': 4100,
            'p50_ms': 0.4,
            'p99_ms': 2.3,
            'max_ms': 7.9,
            'dropped_late': 12,
            'tolerance_ms': 0.9,
            'lying': True,
        }
    ]
    assert [s['span_id'] for s in doc['lateness']] == ['pden-pkc', 'pdfw-patl', 'pphx-plax']
    assert [s['lying'] for s in doc['lateness']] == [False, True, False]


def test_a_broken_promise_on_an_honest_emulation_fails_the_run_even_beside_an_inconclusive_one():
    r = report(
        expectations=[
            Result('x', 'steps[0]', False, '1.2 Gb/s', 'at least 9 Gb/s'),
            Result('y', 'steps[1]', True, 'INSTALLED', 'INSTALLED', (LATE,)),
        ],
        lateness={HONEST.span_id: HONEST},
    )
    assert r.verdict == 'FAILED' and r.exit_code == 1
    assert r.text().splitlines()[-1] == 'verdict: FAILED: 0 of 2 expectations hold, 1 inconclusive; 93 s'
    assert 'span emulators over the run: 0 of 1 late beyond tolerance' in r.text()


def test_without_span_emulators_the_report_says_nothing_was_accounted():
    r = report(expectations=[Result('x', 'steps[0]', True, 'a', 'b')], lateness={})
    assert r.verdict == 'PASSED' and r.exit_code == 0
    assert 'span emulators: none accounts lateness (every span is joined in the kernel)' in r.text()
    assert r.as_dict()['lateness'] == []
