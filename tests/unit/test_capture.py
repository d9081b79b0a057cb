"""`naas-lab capture` without a running fabric: where a span or a host is captured, the
tcpdump command, and each bad input's message and exit status."""

import signal

import pytest

from topologies.emulation import capture
from topologies.emulation.capture import CaptureError, CapturePoint, capture_point, tcpdump_argv
from topologies.lab import main as cli
from topologies.model.fabric import load_fabric


@pytest.fixture(autouse=True)
def keep_sigterm():
    """cli.main() installs its own SIGTERM handler; give pytest its handler back."""
    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


@pytest.fixture
def triangle():
    return load_fabric('triangle')


@pytest.fixture
def idle_fabric(tmp_path):
    """A fabric no run on this machine can hold (its name is this test's own)."""
    name = f'capture-idle-{tmp_path.name}'[:40]
    path = tmp_path / 'idle.yaml'
    path.write_text(
        f'name: {name}\n'
        'sites:\n'
        '  - {id: aa, kind: pop, lat: 1, lon: 1}\n'
        '  - {id: bb, kind: pop, lat: 2, lon: 2}\n'
        'spans:\n'
        '  - {between: [aa, bb], capacity_gbps: 10}\n'
        'tenants:\n'
        '  - {id: red, sites: [aa, bb]}\n'
    )
    return name, str(path)


def test_a_span_is_captured_at_the_end_of_its_first_site(triangle):
    assert capture_point(triangle, span='dca-dcb') == CapturePoint('span dca-dcb at dca', 'dca-dcbr')
    # the other order: the same span, at the other site's end
    assert capture_point(triangle, span='dcb-dca') == CapturePoint('span dca-dcb at dcb', 'dcb-dcar')


def test_a_host_is_captured_at_its_switch_port(triangle):
    assert capture_point(triangle, host='blue-dcc') == CapturePoint(
        'host blue-dcc at dcc port dcc-blue', 'dcc-blue', site='dcc'
    )
    assert capture_point(triangle, host='probe-dcb') == CapturePoint(
        'host probe-dcb at dcb port dcb-probe', 'dcb-probe', site='dcb'
    )


def test_unknown_span_and_host_name_what_there_is(triangle):
    with pytest.raises(CaptureError) as e:
        capture_point(triangle, span='dca-dcd')
    assert str(e.value) == "no span 'dca-dcd' in fabric triangle; its spans: dca-dcb, dcb-dcc, dca-dcc"
    with pytest.raises(CaptureError) as e:
        capture_point(triangle, host='blue-dcb')  # blue has no host at dcb
    assert str(e.value) == (
        "no host 'blue-dcb' in fabric triangle; its hosts: red-dca, red-dcb, red-dcc, blue-dca, blue-dcc "
        'and probe-SITE'
    )


@pytest.mark.parametrize('span, host', [(None, None), ('dca-dcb', 'red-dca')])
def test_a_span_or_a_host(triangle, span, host):
    with pytest.raises(CaptureError, match=r'give a SPAN or --host HOST \(one of them\)'):
        capture_point(triangle, span=span, host=host)


def test_tcpdump_command():
    span = CapturePoint('span dca-dcb at dca', 'dca-dcbr')
    assert tcpdump_argv('/usr/bin/tcpdump', span) == ['/usr/bin/tcpdump', '-i', 'dca-dcbr', '-n', '-l']
    assert tcpdump_argv('/usr/bin/tcpdump', span, write=True, count=5) == [
        '/usr/bin/tcpdump',
        '-i',
        'dca-dcbr',
        '-n',
        '-U',
        '-w',
        '-',
        '-c',
        '5',
    ]
    host = CapturePoint('host red-dca at dca port dca-red', 'dca-red', site='dca')
    assert tcpdump_argv('tcpdump', host, netns_pid=4321) == [
        'nsenter',
        '--net=/proc/4321/ns/net',
        'tcpdump',
        '-i',
        'dca-red',
        '-n',
        '-l',
    ]


def test_a_missing_span_end_or_a_cut_span_is_said():
    with pytest.raises(CaptureError, match='span x-y at x: its interface x-yr does not exist'):
        capture.check_up(CapturePoint('span x-y at x', 'x-yr'))
    capture.check_up(CapturePoint('span lo', 'lo'))  # loopback is up


def test_unknown_span_exits_2(triangle, capsys):
    assert cli.main(['capture', 'dca-xxx', '--fabric', 'triangle']) == 2
    assert capsys.readouterr().err == (
        "naas-lab capture: no span 'dca-xxx' in fabric triangle; its spans: dca-dcb, dcb-dcc, dca-dcc\n"
    )


def test_unknown_host_exits_2(capsys):
    assert cli.main(['capture', '--host', 'green-dca', '--fabric', 'triangle']) == 2
    assert (
        "naas-lab capture: no host 'green-dca' in fabric triangle; its hosts: red-dca"
        in capsys.readouterr().err
    )


def test_a_fabric_not_running_exits_2(idle_fabric, capsys):
    name, path = idle_fabric
    assert cli.main(['capture', 'aa-bb', '--fabric', path]) == 2
    assert capsys.readouterr().err == (
        f'naas-lab capture: fabric {name} is not running (naas-lab up --fabric {path} starts it)\n'
    )


def test_unknown_fabric_exits_2(capsys):
    assert cli.main(['capture', 'aa-bb', '--fabric', 'no-such-fabric']) == 2
    assert 'no-such-fabric: no such fabric file' in capsys.readouterr().err


def test_without_tcpdump_the_package_is_named(idle_fabric, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('PATH', str(tmp_path))  # a PATH with no tcpdump on it
    assert cli.main(['capture', '--host', 'red-aa', '--fabric', idle_fabric[1]]) == 2
    assert capsys.readouterr().err == (
        'naas-lab capture: tcpdump is not installed: apt-get install tcpdump (scripts/setup-host.sh does)\n'
    )


@pytest.mark.parametrize(
    'argv, message',
    [
        (['-c', '0', 'dca-dcb'], "argument -c: expected a number of frames >= 1, got '0'"),
        (['-c', 'many', 'dca-dcb'], "argument -c: expected a number of frames >= 1, got 'many'"),
        (['-w'], 'argument -w: expected one argument'),
        (['dca-dcb', 'dcb-dcc'], 'unrecognized arguments: dcb-dcc'),
    ],
)
def test_bad_arguments_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(['capture', *argv, '--fabric', 'triangle'])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_neither_span_nor_host_exits_2(capsys):
    assert cli.main(['capture', '--fabric', 'triangle']) == 2
    assert capsys.readouterr().err == 'naas-lab capture: give a SPAN or --host HOST (one of them)\n'
