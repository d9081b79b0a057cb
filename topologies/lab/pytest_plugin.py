"""pytest plugin `naas_fabric` (installed with naas-fabric): write your own topology tests in
Python against a running lab: a fabric in Mininet and the real controller, driven through its
gRPC API (docs/pytest-plugin.md).

    import pytest
    pytestmark = pytest.mark.naas_fabric('triangle')      # a shipped name, a path or topohub:KEY
                                                           # (replicas=3: on etcd, docs/ha.md)

    def test_red_reaches_its_other_site(naas):
        naas.order('red', 'dca', 'dcc', 2)                 # INSTALLED, or the test fails
        assert naas.pings(('red', 'dca'), ('red', 'dcc'))[1] > 0

Fixtures:
- `naas_lab` (module): the running topologies.lab.lab.Lab; one per test module, because bringing
  a fabric up takes seconds to a minute.
- `naas` (function): the same lab, plus `order(...)`; after each test it withdraws the
  intents the test ordered and restores every span it cut or slowed, so tests stay independent.

A test that uses either is judged on the span emulators' lateness while it ran (verdict.py):
if any span was late beyond its tolerance, its outcome, pass or fail, is no evidence, and it
is reported INCONCLUSIVE (counted apart, like an error: the run exits 1, so CI does not go
green on an emulation that lied, and no promise is reported broken), with the spans and their
figures. Every test that uses the lab gets a section with the spans' lateness.
"""

import os
import shutil

import grpc
import pytest

from naasctl.client import ApiError, make_order
from topologies.emulation import budget
from topologies.lab import verdict
from topologies.lab.lab import Lab
from topologies.lab.scenario.report import lateness_text
from topologies.model.fabric import load_fabric

TOOLS = ('ovs-vswitchd', 'ovsdb-server', 'mnexec', 'iperf3', 'tc')
MARKER = 'naas_fabric'
INCONCLUSIVE = 'inconclusive'  # the report category of a test measured while the emulation lied
LATENESS = pytest.StashKey[dict]()  # item -> {span id: SpanLateness} over its call


def pytest_configure(config):
    config.addinivalue_line(
        'markers',
        f'{MARKER}(fabric, policy=None): the fabric (a shipped name, '
        'a path or topohub:KEY) and the controller policy (a mapping, '
        'docs/policy.md) that the naas_lab fixture brings up',
    )


def lab_ready():
    """Why a lab cannot run here, or '' if it can."""
    if os.geteuid() != 0:
        return 'a lab needs root'
    missing = [t for t in TOOLS if not shutil.which(t)]
    return f'a lab needs {", ".join(missing)}' if missing else ''


@pytest.fixture(scope='module')
def naas_lab(request, tmp_path_factory):
    marker = request.node.get_closest_marker(MARKER)
    if marker is None or not marker.args:
        pytest.fail(
            f"mark the module with pytestmark = pytest.mark.{MARKER}('FABRIC') "
            'to use the naas_lab or naas fixture',
            pytrace=False,
        )
    why_not = lab_ready()
    if why_not:
        pytest.skip(why_not)
    fabric = load_fabric(str(marker.args[0]))
    lab = Lab(
        fabric,
        tmp_path_factory.mktemp('naas-lab'),
        policy=marker.kwargs.get('policy'),
        replicas=marker.kwargs.get('replicas', 0),
    )
    with lab:
        yield lab
    problems = lab.controller.problems()
    assert lab.status == 0 and not problems, (
        f'the controller stopped with {lab.status}; its log says:\n' + '\n'.join(problems[-20:])
    )


class TestLab:
    """A test's view of the module's lab: what it orders and changes is undone after it."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, lab):
        self.lab = lab
        self.ordered = []  # intent ids
        self.mark = lab.emulation.lateness_mark()

    def lateness(self):
        """{span id: SpanLateness}: how late each span emulator was since the test began."""
        return self.lab.emulation.lateness(since=self.mark)

    def __getattr__(self, name):  # client, pings, goodput_mbps, span_down, host, ip, ...
        return getattr(self.lab, name)

    def order(self, tenant, src, dst, bandwidth_gbps, *, state='INSTALLED', timeout_s=15.0, **fields):
        """Create an intent with the tenant's token and wait until it is in `state` (None: do
        not wait); returns it as the API reports it. `fields`: the keywords of
        naasctl.client.make_order (max_latency_ms, protected, service_class, excess_gbps, ...)."""
        order = make_order(src, dst, bandwidth_gbps, tenant=tenant, **fields)
        with self.lab.client(tenant) as client:
            intent = client.create_intent(order)
            self.ordered.append(intent.id)
            if state is not None:
                intent = client.wait_for_state(intent.id, (state,), timeout_s=timeout_s)
        return intent

    def undo(self):
        self.lab.restore_spans()
        with self.lab.client() as client:
            for intent_id in self.ordered:
                try:
                    client.delete_intent(intent_id)
                except ApiError as e:
                    if e.code != grpc.StatusCode.NOT_FOUND:  # the test withdrew it itself
                        raise
            for intent_id in self.ordered:
                client.wait_for_state(intent_id, ('WITHDRAWN',), timeout_s=15.0)


@pytest.fixture
def naas(naas_lab):
    test_lab = TestLab(naas_lab)
    try:
        yield test_lab
    finally:
        test_lab.undo()


# --- INCONCLUSIVE: a test that ran while the emulation lied ------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    lab = item.funcargs.get('naas_lab') if hasattr(item, 'funcargs') else None
    if lab is None or lab.emulation is None:
        return (yield)
    mark = lab.emulation.lateness_mark()
    try:
        return (yield)
    finally:
        item.stash[LATENESS] = lab.emulation.lateness(since=mark)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    lateness = item.stash.get(LATENESS, None)
    if call.when != 'call' or lateness is None or report.skipped:
        return report
    shown = '\n'.join(lateness_text(lateness, over='the test', shown=None))
    report.sections.append(('naas: span emulators while the test ran', shown))
    judgement = verdict.judge(report.passed, lateness)
    item.user_properties.append(('naas_verdict', judgement.verdict))
    if judgement.verdict == verdict.INCONCLUSIVE:
        said = 'passed' if report.passed else f'failed:\n{report.longreprtext}'
        report.outcome = 'failed'  # not green: the session exits 1
        report.longrepr = (
            'INCONCLUSIVE: measured while the emulation was late beyond tolerance, so what the test '
            f'measured is no evidence either way: {budget.describe_lying(judgement.lying)}\n'
            f'(the test itself {said})'
        )
        report.naas_inconclusive = True
    return report


def pytest_report_teststatus(report, config):
    if getattr(report, 'naas_inconclusive', False):
        return INCONCLUSIVE, 'I', ('INCONCLUSIVE', {'yellow': True})
    return None


def pytest_terminal_summary(terminalreporter):
    reports = terminalreporter.stats.get(INCONCLUSIVE, [])
    if reports:
        terminalreporter.section('INCONCLUSIVE: measured while the emulation lied', yellow=True)
        for report in reports:
            terminalreporter.write_line(f'{report.nodeid}: {report.longreprtext}')
