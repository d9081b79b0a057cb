"""What the lab does with a measurement taken while the emulation lied: the scenario runner
judges each expectation over its own window, `naas-lab scenario` exits with the verdict's
code, and the pytest plugin reports such a test INCONCLUSIVE. The emulation is a fake of
Emulation.lateness_mark()/lateness(); everything else is the real code."""

import json
import signal

import pytest

from topologies.emulation.lateness import SpanLateness
from topologies.lab import main as cli
from topologies.lab.scenario import SHIPPED, load_scenario
from topologies.lab.scenario import runner as runner_module
from topologies.lab.scenario.report import Report, Result
from topologies.lab.scenario.runner import Runner

pytest_plugins = ['pytester']

LATE = SpanLateness('dca-dcc', 9.0, 2000, 0.3, 2.5, 6.0, 0)  # tolerance 0.95 ms
HONEST = SpanLateness('dca-dcb', 4.0, 2000, 0.02, 0.1, 0.4, 0)


class FakeEmulation:
    """Marks are counters; lateness(since) answers from `windows`, keyed by the mark."""

    def __init__(self):
        self.marks = 0
        self.windows = {}  # mark -> {span id: SpanLateness}
        self.asked = []

    def lateness_mark(self):
        self.marks += 1
        return self.marks

    def lateness(self, since=None):
        self.asked.append(since)
        return self.windows.get(since, {})


class FakeLab:
    """Only what an expect_reachable step uses: pings between two hosts; the span emulators
    lie during the window that starts at mark `lie_at_mark`."""

    def __init__(self, lie_at_mark=None):
        self.emulation = FakeEmulation()
        self.lie_at_mark = lie_at_mark

    def pings(self, src, dst, count=3, interval='0.2'):
        mark = self.emulation.marks
        self.emulation.windows[mark] = {'dca-dcc': LATE if mark == self.lie_at_mark else HONEST}
        return count, count


def run_steps(lab, scenario):
    said = []
    r = Runner(scenario, lab, Report(scenario.name, scenario.fabric.name), said.append, 0.0)
    for step in scenario.steps:
        if step.kind == 'expect_reachable':
            r.step(step)
    return r.report, said


def test_each_expectation_is_judged_on_the_lateness_over_its_own_measurement():
    scenario = load_scenario(SHIPPED / 'triangle-smoke.yaml')
    lab = FakeLab(lie_at_mark=1)  # the first expect_reachable runs while a span lies
    report, said = run_steps(lab, scenario)
    assert [r.verdict for r in report.expectations] == ['INCONCLUSIVE', 'PASS']
    assert lab.emulation.asked == [1, 2]  # each over the window from its own mark
    assert report.expectations[0].lying == (LATE,)
    assert '  INCONCLUSIVE: measured 5 of 5 pings answered (expected red@dca reaches red@dcc)' in said
    assert any(
        line.startswith('  late beyond tolerance meanwhile: dca-dcc: late p99 2.50 ms') for line in said
    )
    assert report.verdict == 'INCONCLUSIVE' and report.exit_code == 3


@pytest.fixture
def keep_sigterm():
    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


@pytest.mark.parametrize(
    'results, code, verdict',
    [
        ([Result('x', 'steps[0]', True, 'a', 'b')], 0, 'PASSED'),
        ([Result('x', 'steps[0]', False, 'a', 'b')], 1, 'FAILED'),
        ([Result('x', 'steps[0]', False, 'a', 'b', (LATE,))], 3, 'INCONCLUSIVE'),
    ],
)
def test_naas_lab_scenario_exits_with_the_runs_verdict(
    monkeypatch, capsys, keep_sigterm, results, code, verdict
):
    def run(scenario, say, warn):  # the lab itself is not what this test is about
        return Report(
            scenario.name, scenario.fabric.name, expectations=results, lateness={LATE.span_id: LATE}
        )

    monkeypatch.setattr(runner_module, 'run', run)
    assert cli.main(['scenario', str(SHIPPED / 'triangle-smoke.yaml'), '--json']) == code
    doc = json.loads(capsys.readouterr().out)
    assert doc['verdict'] == verdict
    assert [e['verdict'] for e in doc['expectations']] == [r.verdict for r in results]


def test_a_bad_scenario_file_exits_2(tmp_path, capsys, keep_sigterm):
    path = tmp_path / 'bad.yaml'
    path.write_text('name: bad\nfabric: triangle\nsteps: []\n')
    assert cli.main(['scenario', str(path)]) == 2
    assert 'steps' in capsys.readouterr().err


def test_the_help_documents_the_exit_codes(capsys, keep_sigterm):
    with pytest.raises(SystemExit):
        cli.main(['scenario', '--help'])
    out = capsys.readouterr().out
    documented = ('0    every expectation held', '1    a promise broken', '2    a bad file')
    for line in (*documented, '3    nothing failed', '130  interrupted'):
        assert line in out


# --- the pytest plugin ------------------------------------------------------------------------------

USER_TESTS = '''
import pytest

from topologies.emulation.lateness import SpanLateness

LATE = SpanLateness('dca-dcc', 9.0, 2000, 0.3, 2.5, 6.0, 3)
HONEST = SpanLateness('dca-dcb', 4.0, 2000, 0.02, 0.1, 0.4, 0)


class Emulation:
    """lateness() answers what the test set in `now` for the window since its mark."""

    def __init__(self):
        self.now = {}

    def lateness_mark(self):
        return 'mark'

    def lateness(self, since=None):
        assert since == 'mark'
        return dict(self.now)


class Lab:
    def __init__(self):
        self.emulation = Emulation()


@pytest.fixture(scope='module')
def naas_lab():  # stands in for the running lab: the plugin's hooks judge what it says
    return Lab()


def test_honest_and_held(naas_lab):
    naas_lab.emulation.now = {'dca-dcb': HONEST}


def test_honest_and_broken(naas_lab):
    naas_lab.emulation.now = {'dca-dcb': HONEST}
    assert 21.0 <= 20.0, 'latency bound broken'


def test_held_while_a_span_lied(naas_lab):
    naas_lab.emulation.now = {'dca-dcb': HONEST, 'dca-dcc': LATE}


def test_broken_while_a_span_lied(naas_lab):
    naas_lab.emulation.now = {'dca-dcc': LATE}
    assert 21.0 <= 20.0, 'latency bound broken'


def test_without_the_lab():
    pass
'''


def test_the_plugin_reports_a_test_run_while_the_emulation_lied_as_inconclusive(pytester):
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_inprocess('-v', '-p', 'no:cacheprovider')
    assert result.parseoutcomes() == {'passed': 2, 'failed': 1, 'inconclusive': 2}
    assert result.ret == 1  # not green
    result.stdout.fnmatch_lines(
        [
            '*test_held_while_a_span_lied INCONCLUSIVE*',
            '*test_broken_while_a_span_lied INCONCLUSIVE*',
            '*INCONCLUSIVE: measured while the emulation lied*',
            '*test_held_while_a_span_lied: INCONCLUSIVE: measured while the emulation was late beyond '
            'tolerance*dca-dcc: late p99 2.50 ms > 0.95 ms tolerance*3 dropped late*',
            '*(the test itself passed)*',
            '*(the test itself failed:*',
            '*FAILED test_user.py::test_honest_and_broken*',
        ]
    )
    assert 'FAILED test_user.py::test_broken_while_a_span_lied' not in result.stdout.str()
