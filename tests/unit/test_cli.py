"""`naas-lab` commands that need no root (list, check, import, argument errors), and the
Mininet topology built from a fabric (FabricTopo is pure data)."""

import signal

import pytest
import yaml

from topologies.emulation.net import FabricTopo
from topologies.emulation.span import SpanLink
from topologies.lab import main as cli
from topologies.model.fabric import load_fabric, shipped_fabrics


@pytest.fixture(autouse=True)
def keep_sigterm():
    """cli.main() installs its own SIGTERM handler; give pytest its handler back."""
    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


BAD = """\
name: bad
sites:
  - {id: aa, kind: pop, lat: 1, lon: 1}
  - {id: bb, kind: pop, lat: 2, lon: 2}
spans:
  - {between: [aa, zz], capacity_gbps: 10}
"""


def test_check_shipped(capsys):
    assert cli.main(['check', 'triangle']) == 0
    out, err = capsys.readouterr()
    assert err == ''
    assert out.startswith(load_fabric('triangle').source + ': ok: 3 sites, 3 spans')
    assert '(4.000..9.000 ms one way), 2 tenants, 1 Gb/s = 1 Mb/s emulated' in out


def test_check_bad_file(tmp_path, capsys):
    path = tmp_path / 'bad.yaml'
    path.write_text(BAD)
    assert cli.main(['check', str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ''
    assert err.strip() == f"{path}: spans[0].between[1]: unknown site 'zz'"


def test_check_good_and_bad(tmp_path, capsys):
    path = tmp_path / 'bad.yaml'
    path.write_text(BAD)
    assert cli.main(['check', str(path), 'thin-fat']) == 2
    out, err = capsys.readouterr()
    assert 'thin-fat.yaml: ok: 4 sites' in out and str(path) in err


def test_check_unknown_name(capsys):
    assert cli.main(['check', 'no-such-fabric']) == 2
    assert 'no-such-fabric: no such fabric file' in capsys.readouterr().err


def test_bad_fabric_for_a_command_exits_2(capsys):
    """Any command that loads a fabric reports a FabricError and exits 2 (before needing root)."""
    assert cli.main(['clean', '--fabric', 'no-such-fabric']) == 2
    assert capsys.readouterr().err.startswith('no-such-fabric: no such fabric file')


def test_list(capsys):
    assert cli.main(['list']) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines if line and not line.startswith('and ')]
    assert names == shipped_fabrics()
    assert set(names) >= {'triangle', 'thin-fat', 'lumen-qts', 'azure-lumen'}
    assert 'naas-lab import --list' in lines[-1]


def test_import_then_check(tmp_path, capsys):
    out_file = tmp_path / 'a.yaml'
    assert cli.main(['import', 'sndlib/abilene', '-o', str(out_file)]) == 0
    assert f'wrote {out_file}' in capsys.readouterr().err
    doc = yaml.safe_load(out_file.read_text())
    assert doc['name'] == 'topohub-sndlib-abilene' and len(doc['sites']) == 12
    assert cli.main(['check', str(out_file)]) == 0
    assert f'{out_file}: ok: 12 sites, 15 spans' in capsys.readouterr().out


def test_import_with_tenant(tmp_path, capsys):
    out_file = tmp_path / 'a.yaml'
    assert cli.main(['import', 'sndlib/abilene', '-o', str(out_file), '--tenant', 'acme:NYCMng,LOSAng']) == 0
    fabric = load_fabric(str(out_file))
    assert list(fabric.tenants) == ['acme']
    assert [fabric.sites[s].name for s in fabric.tenants['acme'].sites] == ['NYCMng', 'LOSAng']


def test_import_unknown_network(capsys):
    assert cli.main(['import', 'sndlib/no-such-net']) == 1
    assert "unknown topohub network 'sndlib/no-such-net'" in capsys.readouterr().err


@pytest.mark.parametrize('controller', ['nohost', 'host:', ':6653', 'host:0', 'host:65536', 'host:http'])
def test_up_rejects_bad_controller(controller, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(['up', '--fabric', 'triangle', '--controller', controller])
    assert info.value.code == 2
    assert f'expected HOST:PORT[,HOST:PORT...], got {controller!r}' in capsys.readouterr().err


def test_host_port_accepts():
    assert cli._host_port('127.0.0.1:6653') == [('127.0.0.1', 6653)]
    assert cli._host_port('::1:6633') == [('::1', 6633)]
    assert cli._host_port('127.0.0.1:6653, 127.0.0.1:6654') == [('127.0.0.1', 6653), ('127.0.0.1', 6654)]


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2


# --- FabricTopo -----------------------------------------------------------------------------------


@pytest.fixture(scope='module')
def triangle():
    return load_fabric('triangle')


@pytest.fixture(scope='module')
def topo(triangle):
    return FabricTopo(triangle)


def test_topo_nodes(triangle, topo):
    assert sorted(topo.switches()) == sorted(triangle.sites)
    tenant_hosts = [f'{t}-{s}' for t in triangle.tenants for s in triangle.tenants[t].sites]
    probes = [f'probe-{s}' for s in triangle.sites]
    assert sorted(topo.hosts()) == sorted(probes + tenant_hosts)
    for s in triangle.sites.values():
        assert topo.nodeInfo(s.id)['dpid'] == f'{s.number:016x}'


def test_topo_links(triangle, topo):
    links = topo.links(withInfo=True)
    n_tenant_hosts = sum(len(t.sites) for t in triangle.tenants.values())
    assert len(links) == len(triangle.sites) + n_tenant_hosts + len(triangle.spans) == 3 + 5 + 3
    spans = [info for _, _, info in links if info.get('cls') is SpanLink]
    assert len(spans) == len(triangle.spans)
    for span in triangle.spans:
        info = next(i for i in spans if {i['node1'], i['node2']} == {span.a, span.b})
        assert info['mbps'] == span.emulated_mbps
        assert info['delay_ms'] == span.delay_ms
        assert info['port1' if info['node1'] == span.a else 'port2'] == triangle.sites[span.b].number
    assert sorted((i['node1'], i['node2'], i['mbps'], i['delay_ms']) for i in spans) == [
        ('dca', 'dcb', 20.0, 4.0),
        ('dca', 'dcc', 10.0, 9.0),
        ('dcb', 'dcc', 20.0, 6.0),
    ]
    access = {info['node1']: info for _, _, info in links if info.get('cls') is not SpanLink}
    assert access['probe-dcb']['node2'] == 'dcb' and access['probe-dcb']['port2'] == 4000
    assert access['blue-dcc']['node2'] == 'dcc' and access['blue-dcc']['port2'] == 1002
    assert access['blue-dcc']['intfName2'] == 'dcc-blue'


@pytest.mark.parametrize('name', shipped_fabrics())
def test_topo_span_links_carry_emulated_rate_and_delay(name):
    """Scale differs per fabric (lumen-qts: 400 Gb/s -> 100 Mb/s), so mbps is not capacity."""
    fabric = load_fabric(name)
    links = {
        frozenset((i['node1'], i['node2'])): i
        for _, _, i in FabricTopo(fabric).links(withInfo=True)
        if i.get('cls') is SpanLink
    }
    assert len(links) == len(fabric.spans)
    for span in fabric.spans:
        info = links[frozenset((span.a, span.b))]
        assert info['mbps'] == pytest.approx(span.capacity_gbps * 1000 * fabric.bandwidth_scale)
        assert info['delay_ms'] == span.delay_ms


def test_topo_host_addresses(topo):
    info = topo.nodeInfo('blue-dcc')
    assert info['ip'] == '10.2.3.1/16' and info['mac'] == '02:00:00:02:03:01'
    info = topo.nodeInfo('probe-dca')
    assert info['ip'] == '10.255.1.1/16' and info['mac'] == '02:00:00:ff:01:01'


def test_mn_custom_fabric_topo():
    from topologies.emulation import mn_custom

    topo = mn_custom.topos['fabric']('thin-fat')
    assert isinstance(topo, FabricTopo)
    assert sorted(topo.switches()) == sorted(load_fabric('thin-fat').sites)


def test_soak_refuses_bad_arguments_before_starting_anything(capsys):
    assert cli.main(['soak', '--fabric', 'no-such-fabric']) == 2
    assert cli.main(['soak', '--fabric', 'triangle', '--minutes', '0']) == 2
    assert '--minutes must be > 0' in capsys.readouterr().err


def test_a_soak_report_says_what_it_did_and_every_violation():
    from topologies.lab.soak import SoakReport

    report = SoakReport(seconds=95, acknowledged=12, checks=40)
    report.failures.update({'span_cut': 2, 'site_restart': 1})
    report.outages_ms += [0.0, 12.5]
    assert report.exit_code == 0 and 'every promise held' in report.text()
    assert 'span_cut 2' in report.text() and 'protected outages at cuts: 0, 12 ms' in report.text()
    report.violations.append('acknowledged intent i-3 is gone')
    assert report.exit_code == 1 and 'VIOLATION: acknowledged intent i-3 is gone' in report.text()
    assert report.as_dict()['violations'] == ['acknowledged intent i-3 is gone']
