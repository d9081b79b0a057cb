"""topologies.model.importer: real WANs from topohub become fabric documents parse_fabric accepts."""

import argparse
import time

import pytest
import topohub
import yaml

from topologies.model import importer
from topologies.model.fabric import (
    FIBER_US_PER_KM,
    ID_RULE,
    MAX_EMULATED_MBPS,
    MIN_EMULATED_MBPS,
    RESERVED_IDS,
    load_fabric,
    parse_fabric,
)
from topologies.model.importer import import_topohub, list_networks, site_id_from_name

# SNDlib networks drawn in pixel coordinates: topohub stores the drawing positions as if
# they were degrees, so no delay can be derived from them and the importer refuses them.
SNDLIB_PIXEL = {
    'atlanta',
    'di-yuan',
    'france',
    'giul39',
    'india35',
    'newyork',
    'norway',
    'pioro40',
    'sun',
    'ta1',
    'ta2',
    'zib54',
}
TOPOZOO_SAMPLE = [
    'topozoo/Abilene',
    'topozoo/Geant2012',
    'topozoo/Arpanet19723',
    'topozoo/Garr199904',
    'topozoo/Uninett2011',
    'topozoo/Cernet',
]


def _check_ids(fabric):
    ids = list(fabric.sites) + list(fabric.tenants)
    assert len(ids) == len(set(ids))
    for site_id in ids:
        assert ID_RULE.match(site_id) and site_id not in RESERVED_IDS, site_id


def _fake(monkeypatch, nodes, edges, key='sndlib/fake'):
    """Make import_topohub read this node-link document instead of topohub's."""
    data = {
        'graph': {'name': 'fake', 'demands': {}, 'stats': {}},
        'nodes': nodes,
        'edges': [{'source': a, 'target': b} for a, b in edges],
    }
    monkeypatch.setattr(importer, '_load', lambda k: data)
    return key


# --- abilene, end to end ---------------------------------------------------------------------


def test_abilene_imports_and_validates():
    doc = import_topohub('sndlib/abilene')
    fabric = parse_fabric(doc, source='abilene')
    assert fabric.name == 'topohub-sndlib-abilene'
    assert 'abilene' in fabric.description and 'SNDlib' in fabric.description
    assert len(fabric.sites) == 12 and len(fabric.spans) == 15
    assert all(s.kind == 'pop' for s in fabric.sites.values())
    assert all(s.delay_ms > 0 and s.delay_source == 'great-circle' for s in fabric.spans)
    assert fabric.bandwidth_scale == 0.001
    assert {s.emulated_mbps for s in fabric.spans} == {100.0}
    _check_ids(fabric)
    atlanta = fabric.sites['atlam5']  # pos is [lon, lat] in topohub
    assert (atlanta.name, atlanta.lat, atlanta.lon) == ('ATLAM5', 33.75, -84.38)


def test_abilene_delay_matches_great_circle_times_route_factor():
    data = topohub.get('sndlib/abilene')
    names = {n['id']: n['name'] for n in data['nodes']}
    edge = next(e for e in data['edges'] if {names[e['source']], names[e['target']]} == {'ATLAng', 'HSTNng'})
    km = edge['dist']  # topohub's own great-circle length, ~1079 km
    for factor in (None, 1.0, 2.0):
        fabric = parse_fabric(import_topohub('sndlib/abilene', route_factor=factor))
        expected = km * (factor or 1.4) * FIBER_US_PER_KM / 1000.0
        assert fabric.span('atlang', 'hstnng').delay_ms == pytest.approx(expected, rel=0.01)
    assert fabric.span('atlang', 'hstnng').delay_ms == pytest.approx(10.58, abs=0.02)


def test_route_factor_goes_to_emulation_only_when_given():
    assert 'route_factor' not in import_topohub('sndlib/abilene')['emulation']
    doc = import_topohub('sndlib/abilene', route_factor=1.7)
    assert doc['emulation']['route_factor'] == 1.7
    assert all('delay_ms' not in span for span in doc['spans'])


@pytest.mark.parametrize(
    'capacity, scale',
    [(100, 0.001), (40, 0.001), (400, 0.0001), (10, 0.01), (1, 0.1), (0.5, 0.1), (2.5, 0.01)],
)
def test_bandwidth_scale_keeps_spans_at_most_100_mbps(capacity, scale):
    fabric = parse_fabric(import_topohub('sndlib/polska', capacity_gbps=capacity))
    assert fabric.bandwidth_scale == scale
    assert all(s.capacity_gbps == capacity for s in fabric.spans)
    assert all(MIN_EMULATED_MBPS <= s.emulated_mbps <= 100 for s in fabric.spans)
    assert MAX_EMULATED_MBPS >= 100


@pytest.mark.parametrize('capacity', [0, -1, float('nan'), 'fast', True])
def test_bad_capacity_is_refused(capacity):
    with pytest.raises(ValueError, match='capacity_gbps'):
        import_topohub('sndlib/abilene', capacity_gbps=capacity)


def test_load_fabric_topohub_polska_end_to_end():
    fabric = load_fabric('topohub:sndlib/polska')
    assert fabric.source == 'topohub:sndlib/polska'
    assert fabric.name == 'topohub-sndlib-polska'
    assert len(fabric.sites) == 12 and len(fabric.spans) == 18
    assert {'gdansk', 'warsaw', 'krakow'} <= set(fabric.sites)
    assert fabric.sites['warsaw'].name == 'Warsaw'
    assert fabric.span('gdansk', 'warsaw') is not None


# --- every network -----------------------------------------------------------------------


def test_every_sndlib_network_imports_or_is_refused_as_pixel_drawing():
    timings, imported = [], set()
    for key in list_networks('sndlib'):
        name = key.split('/', 1)[1]
        started = time.perf_counter()
        if name in SNDLIB_PIXEL:
            with pytest.raises(ValueError, match='pixel positions'):
                import_topohub(key)
            continue
        fabric = parse_fabric(import_topohub(key), source=key)
        timings.append((time.perf_counter() - started, key))
        _check_ids(fabric)
        assert all(s.delay_ms >= 0 for s in fabric.spans)
        imported.add(name)
    assert len(list_networks('sndlib')) == 26
    assert imported == {
        'abilene',
        'brain',
        'cost266',
        'dfn-bwin',
        'dfn-gwin',
        'geant',
        'germany50',
        'janos-us',
        'janos-us-ca',
        'nobel-eu',
        'nobel-germany',
        'nobel-us',
        'pdh',
        'polska',
    }
    slowest, key = max(timings)
    print(f'slowest sndlib import: {key} {slowest * 1000:.1f} ms')
    assert slowest < 2.0, key


@pytest.mark.parametrize('key', TOPOZOO_SAMPLE)
def test_topozoo_sample_imports_with_valid_ids(key):
    data = topohub.get(key)
    fabric = parse_fabric(import_topohub(key), source=key)
    _check_ids(fabric)
    assert len(fabric.sites) == len(data['nodes'])
    assert sorted(s.name for s in fabric.sites.values()) == sorted(n['name'] for n in data['nodes'])


def test_every_topozoo_network_imports():
    keys = list_networks('topozoo')
    assert len(keys) == 203
    for key in keys:
        _check_ids(parse_fabric(import_topohub(key), source=key))


def test_repeated_names_get_distinct_ids():
    fabric = parse_fabric(import_topohub('topozoo/Arpanet19723'))
    bbn = sorted(s.id for s in fabric.sites.values() if s.name == 'BBN')
    assert bbn == ['bbn', 'bbn2']


# --- ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    'name, expected',
    [
        ('Gdansk', 'gdansk'),
        ('Warsaw', 'warsaw'),
        ('ATLAM5', 'atlam5'),
        ('Frankfurt', 'frankf'),
        ('New York', 'newyor'),
        ('São Paulo', 'saopau'),
        ('Kraków', 'krakow'),
        ('NL', 'nl'),
        ('at1.at', 'at1at'),
        ('0', 'n0'),
        ('25923', 'n25923'),
        ('A', 'a1'),
        ('', 'n1'),
        ('?!', 'n1'),
        ('Probe', 'probe2'),
        (7, 'n7'),
    ],
)
def test_site_id_from_name(name, expected):
    assert site_id_from_name(name) == expected


def test_site_id_collisions_shorten_and_number():
    taken = []
    for _ in range(12):
        taken.append(site_id_from_name('Frankfurt', taken=taken))
    assert taken[:3] == ['frankf', 'frank2', 'frank3']
    assert taken[-1] == 'fran12'
    assert len(set(taken)) == 12 and all(ID_RULE.match(t) for t in taken)
    assert site_id_from_name('Red', reserved=['red']) == 'red2'


def test_import_is_deterministic():
    assert import_topohub('topozoo/Garr199904') == import_topohub('topozoo/Garr199904')


# --- tenants -------------------------------------------------------------------------------


def test_tenants_at_named_sites():
    doc = import_topohub(
        'sndlib/polska', tenants=[('red', ['Gdansk', 'warsaw', 'KRAKOW']), ('blue', ('Poznan',))]
    )
    fabric = parse_fabric(doc)
    assert fabric.tenants['red'].sites == ('gdansk', 'warsaw', 'krakow')
    assert fabric.tenants['blue'].sites == ('poznan',)
    assert [t.number for t in fabric.tenants.values()] == [1, 2]


def test_tenants_as_mapping():
    fabric = parse_fabric(import_topohub('sndlib/abilene', tenants={'acme': ['ATLAM5', 'sttlng']}))
    assert fabric.tenants['acme'].sites == ('atlam5', 'sttlng')


def test_tenant_id_wins_over_a_derived_site_id():
    fabric = parse_fabric(import_topohub('sndlib/polska', tenants=[('gdansk', ['Gdansk', 'Warsaw'])]))
    assert fabric.tenants['gdansk'].sites == ('gdans2', 'warsaw')
    assert fabric.sites['gdans2'].name == 'Gdansk'


def test_unknown_tenant_site_is_named():
    with pytest.raises(ValueError, match=r"unknown site 'Atlantis'") as err:
        import_topohub('sndlib/polska', tenants=[('red', ['Gdansk', 'Atlantis'])])
    assert 'red' in str(err.value) and 'sndlib/polska' in str(err.value)


def test_ambiguous_tenant_site_asks_for_an_id():
    with pytest.raises(ValueError, match=r"'BBN' is ambiguous.*bbn, bbn2"):
        import_topohub('topozoo/Arpanet19723', tenants=[('red', ['BBN'])])
    fabric = parse_fabric(import_topohub('topozoo/Arpanet19723', tenants=[('red', ['bbn2', 'ames'])]))
    assert fabric.tenants['red'].sites == ('bbn2', 'ames')


# --- errors and odd data ------------------------------------------------------------------


@pytest.mark.parametrize('key', ['sndlib/nosuch', 'nosuch', '../../etc/passwd', 'sndlib/Abilene', ''])
def test_unknown_key_says_how_to_find_keys(key):
    with pytest.raises(ValueError, match='unknown topohub network') as err:
        import_topohub(key)
    assert 'list_networks' in str(err.value) and '--list' in str(err.value)


def test_unknown_key_suggests_close_matches():
    with pytest.raises(ValueError, match='did you mean sndlib/abilene'):
        import_topohub('sndlib/Abilene')


def test_planar_gabriel_graphs_are_refused():
    with pytest.raises(ValueError, match='not longitude/latitude'):
        import_topohub('gabriel/25/0')


def test_too_many_nodes_is_refused():
    with pytest.raises(ValueError, match='at most 250 sites'):
        import_topohub('backbone/world')


def test_node_without_coordinates_is_named(monkeypatch):
    key = _fake(
        monkeypatch,
        [
            {'id': 0, 'name': 'Here', 'pos': [10.0, 50.5]},
            {'id': 1, 'name': 'Nowhere'},
            {'id': 2, 'name': 'Void', 'pos': None},
        ],
        [(0, 1), (1, 2)],
    )
    with pytest.raises(ValueError, match=r'sndlib/fake.*no coordinates for Nowhere, Void'):
        import_topohub(key)


def test_out_of_range_position_is_named(monkeypatch):
    key = _fake(
        monkeypatch,
        [{'id': 0, 'name': 'A1', 'pos': [10.5, 50.5]}, {'id': 1, 'name': 'B1', 'pos': [10.5, 95.5]}],
        [(0, 1)],
    )
    with pytest.raises(ValueError, match=r'not \[longitude, latitude\]: B1'):
        import_topohub(key)


def test_largest_component_kept_parallel_links_merged_self_loops_dropped(monkeypatch):
    nodes = [
        {'id': i, 'name': n, 'pos': [10.0 + i / 10, 50.0 + i / 7]}
        for i, n in enumerate(['Aa', 'Bb', 'Cc', 'Lonely', 'Dd', 'Ee'])
    ]
    edges = [(0, 1), (1, 0), (1, 2), (2, 2), (0, 2), (0, 1), (4, 5)]
    doc = import_topohub(_fake(monkeypatch, nodes, edges))
    fabric = parse_fabric(doc)
    assert list(fabric.sites) == ['aa', 'bb', 'cc']
    assert [s.id for s in fabric.spans] == ['aa-bb', 'bb-cc', 'aa-cc']
    assert '3 of 6 nodes dropped' in fabric.description
    assert 'Lonely' in fabric.description
    with pytest.raises(ValueError, match="'Dd' is not connected"):
        import_topohub('sndlib/fake', tenants=[('red', ['Aa', 'Dd'])])


def test_list_networks():
    keys = list_networks()
    assert 'sndlib/abilene' in keys and 'topozoo/Geant2012' in keys
    assert not any(k.startswith('gabriel/') for k in keys)
    assert list_networks('sndlib')[0] == 'sndlib/abilene'
    assert all(k.startswith('topozoo/') for k in list_networks('topozoo'))
    assert list_networks('nosuch') == []
    assert len(list_networks('caida/2024-08')) == len(list_networks('caida'))


# --- the naas-lab import subcommand ------------------------------------------------------


def _run(argv):
    parser = importer.add_arguments(argparse.ArgumentParser(prog='naas-lab import'))
    return importer.run(parser.parse_args(argv))


def test_command_writes_a_loadable_fabric_file(tmp_path):
    out = tmp_path / 'abilene.yaml'
    assert (
        _run(
            [
                'sndlib/abilene',
                '-o',
                str(out),
                '--capacity-gbps',
                '40',
                '--route-factor',
                '1.5',
                '--tenant',
                'red:ATLAM5,STTLng',
                '--tenant',
                'blue: washng , nycmng',
            ]
        )
        == 0
    )
    text = out.read_text()
    assert text.startswith('# Imported from topohub')
    assert 'sndlib/abilene' in text.splitlines()[0]
    assert '- {id: atlam5, name: ATLAM5, kind: pop, lat: 33.75, lon: -84.38}' in text
    fabric = load_fabric(str(out))
    assert len(fabric.sites) == 12 and len(fabric.spans) == 15
    assert {s.capacity_gbps for s in fabric.spans} == {40}
    assert fabric.tenants['red'].sites == ('atlam5', 'sttlng')
    assert fabric.tenants['blue'].sites == ('washng', 'nycmng')
    assert yaml.safe_load(text) == import_topohub(
        'sndlib/abilene',
        capacity_gbps=40,
        route_factor=1.5,
        tenants=[('red', ['ATLAM5', 'STTLng']), ('blue', ['washng', 'nycmng'])],
    )


def test_command_writes_stdout_by_default(capsys):
    assert _run(['topozoo/Geant2012']) == 0
    out = capsys.readouterr().out
    assert yaml.safe_load(out)['name'] == 'topohub-topozoo-geant2012'


def test_command_reports_errors(capsys):
    assert _run(['sndlib/polska', '--tenant', 'red:Atlantis']) == 1
    assert "unknown site 'Atlantis'" in capsys.readouterr().err
    assert _run(['sndlib/polska', '--tenant', 'red']) == 1
    assert 'ID:SITE,SITE' in capsys.readouterr().err
    assert _run(['sndlib/nosuch']) == 1
    assert 'unknown topohub network' in capsys.readouterr().err
    assert _run([]) == 2
    assert 'KEY' in capsys.readouterr().err


def test_command_lists_networks(capsys):
    assert _run(['--list', 'sndlib']) == 0
    assert capsys.readouterr().out.split() == list_networks('sndlib')
    assert _run(['--list', 'nosuch']) == 1
