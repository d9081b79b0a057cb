"""topologies.model.fabric: every broken fabric document is refused with the key and the rule,
and a valid one gets the delays, scale and numbering the format promises."""

import math

import pytest

from topologies.model.config import ConfigError
from topologies.model.fabric import great_circle_km, load_fabric, parse_fabric, shipped_fabrics

NYC = (40.71, -74.01)
LAX = (34.05, -118.24)
CHI = (41.88, -87.63)


def minimal():
    """A small valid fabric document: three sites in a chain, one tenant."""
    return {
        'name': 'mini',
        'emulation': {'bandwidth_scale': 0.001},
        'sites': [
            {'id': 'nyc', 'kind': 'datacenter', 'lat': NYC[0], 'lon': NYC[1]},
            {'id': 'lax', 'kind': 'datacenter', 'lat': LAX[0], 'lon': LAX[1]},
            {'id': 'chi', 'kind': 'pop', 'lat': CHI[0], 'lon': CHI[1]},
        ],
        'spans': [
            {'between': ['nyc', 'chi'], 'capacity_gbps': 100},
            {'between': ['chi', 'lax'], 'capacity_gbps': 100},
        ],
        'tenants': [{'id': 'red', 'sites': ['nyc', 'lax']}],
    }


def site(site_id, lat=45.0, lon=-100.0, kind='pop'):
    return {'id': site_id, 'kind': kind, 'lat': lat, 'lon': lon}


def problems_of(doc, source='<fabric>'):
    with pytest.raises(ConfigError) as info:
        parse_fabric(doc, source=source)
    return info.value.problems


def test_minimal_is_valid():
    fabric = parse_fabric(minimal())
    assert list(fabric.sites) == ['nyc', 'lax', 'chi']
    assert len(fabric.spans) == 2 and list(fabric.tenants) == ['red']


# --- refused documents: one thing broken per case ---------------------------------------------


def _set(path, value):
    """A breaker that sets doc[path...] = value (path items are keys or list indexes)."""

    def brk(doc):
        obj = doc
        for step in path[:-1]:
            obj = obj[step]
        obj[path[-1]] = value

    return brk


def _delete(*path):
    def brk(doc):
        obj = doc
        for step in path[:-1]:
            obj = obj[step]
        del obj[path[-1]]

    return brk


def _append(listname, item):
    def brk(doc):
        doc.setdefault(listname, []).append(item)

    return brk


def _islands(doc):
    doc['sites'] += [site('sfo', 37.6, -122.4), site('sea', 47.6, -122.3)]
    doc['spans'].append({'between': ['sfo', 'sea'], 'capacity_gbps': 10})


ID_RULE_TEXT = 'must be 2-6 characters: a lowercase letter, then lowercase letters or digits'

# (case id, breaker, key, fragment of the message, number of problems or None when the break
# also makes later keys fail, e.g. a site that is refused is then an unknown site in its spans)
REFUSED = [
    (
        'unknown-site-in-span',
        _set(['spans', 0, 'between', 1], 'sfo'),
        'spans[0].between[1]',
        "unknown site 'sfo'",
        1,
    ),
    ('duplicate-site-id', _append('sites', site('nyc')), 'sites[3].id', "duplicate id 'nyc'", 1),
    (
        'duplicate-tenant-id',
        _append('tenants', {'id': 'red', 'sites': ['chi']}),
        'tenants[1].id',
        "duplicate id 'red'",
        1,
    ),
    (
        'tenant-id-is-site-id',
        _set(['tenants', 0, 'id'], 'chi'),
        'tenants[0].id',
        "'chi' is already a site id; tenant and site ids must differ",
        1,
    ),
    ('reserved-site-id', _append('sites', site('probe')), 'sites[3].id', "'probe' is reserved", 1),
    ('reserved-tenant-id', _set(['tenants', 0, 'id'], 'probe'), 'tenants[0].id', "'probe' is reserved", 1),
    ('id-uppercase', _append('sites', site('Den')), 'sites[3].id', ID_RULE_TEXT, 1),
    ('id-too-long', _append('sites', site('denver1')), 'sites[3].id', ID_RULE_TEXT, 1),
    ('id-starts-with-digit', _set(['tenants', 0, 'id'], '1red'), 'tenants[0].id', ID_RULE_TEXT, 1),
    ('id-one-character', _set(['tenants', 0, 'id'], 'r'), 'tenants[0].id', ID_RULE_TEXT, 1),
    ('id-not-text', _set(['tenants', 0, 'id'], 42), 'tenants[0].id', ID_RULE_TEXT, 1),
    (
        'capacity-zero',
        _set(['spans', 0, 'capacity_gbps'], 0),
        'spans[0].capacity_gbps',
        'must be greater than 0, got 0',
        1,
    ),
    (
        'capacity-negative',
        _set(['spans', 1, 'capacity_gbps'], -40),
        'spans[1].capacity_gbps',
        'must be greater than 0, got -40',
        1,
    ),
    (
        'capacity-not-a-number',
        _set(['spans', 0, 'capacity_gbps'], '100G'),
        'spans[0].capacity_gbps',
        "must be a number, got '100G'",
        1,
    ),
    (
        'capacity-over-emulation-limit',
        _set(['spans', 0, 'capacity_gbps'], 2000),
        'spans[0].capacity_gbps',
        '2000 Gb/s at emulation.bandwidth_scale 0.001 is 2000 Mb/s emulated; '
        'keep it within 0.1..1000 Mb/s by changing emulation.bandwidth_scale',
        1,
    ),
    (
        'capacity-under-emulation-limit',
        _set(['spans', 1, 'capacity_gbps'], 0.05),
        'spans[1].capacity_gbps',
        'emulation.bandwidth_scale',
        1,
    ),
    ('site-without-lat', _delete('sites', 2, 'lat'), 'sites[2].lat', 'missing required key', None),
    (
        'span-without-capacity',
        _delete('spans', 1, 'capacity_gbps'),
        'spans[1].capacity_gbps',
        'missing required key',
        1,
    ),
    ('span-without-between', _delete('spans', 1, 'between'), 'spans[1].between', 'missing required key', 1),
    ('tenant-without-sites', _delete('tenants', 0, 'sites'), 'tenants[0].sites', 'missing required key', 1),
    ('top-without-spans', _delete('spans'), 'spans', 'missing required key', 1),
    ('top-without-name', _delete('name'), 'name', 'missing required key', 1),
    (
        'unknown-key-top',
        _set(['colour'], 'blue'),
        'colour',
        'unknown key (allowed: description, emulation, name, sites, spans, tenants)',
        1,
    ),
    (
        'unknown-key-site',
        _set(['sites', 1, 'city'], 'LA'),
        'sites[1].city',
        'unknown key (allowed: id, kind, lat, lon, name, region)',
        1,
    ),
    (
        'unknown-key-span',
        _set(['spans', 0, 'latency_ms'], 3),
        'spans[0].latency_ms',
        'unknown key (allowed: between, capacity_gbps, delay_ms, loss_pct, route_factor)',
        1,
    ),
    (
        'unknown-key-emulation',
        _set(['emulation', 'scale'], 0.01),
        'emulation.scale',
        'unknown key (allowed: bandwidth_scale, route_factor)',
        1,
    ),
    (
        'unknown-key-tenant',
        _set(['tenants', 0, 'vlan'], 7),
        'tenants[0].vlan',
        'unknown key (allowed: id, name, sites)',
        1,
    ),
    (
        'span-to-itself',
        _append('spans', {'between': ['lax', 'lax'], 'capacity_gbps': 10}),
        'spans[2].between',
        "a span joins two different sites, got 'lax' twice",
        1,
    ),
    (
        'duplicate-span-same-order',
        _append('spans', {'between': ['nyc', 'chi'], 'capacity_gbps': 10}),
        'spans[2].between',
        'duplicate span nyc-chi (already spans[0])',
        1,
    ),
    (
        'duplicate-span-reversed',
        _append('spans', {'between': ['lax', 'chi'], 'capacity_gbps': 10}),
        'spans[2].between',
        'duplicate span lax-chi (already spans[1])',
        1,
    ),
    (
        'between-three-sites',
        _set(['spans', 0, 'between'], ['nyc', 'chi', 'lax']),
        'spans[0].between',
        'must be a list of two site ids',
        1,
    ),
    (
        'site-not-reached',
        _append('sites', site('sfo')),
        'sites[3]',
        "site 'sfo' is not reached by any span",
        1,
    ),
    ('two-islands', _islands, 'spans', "sites sfo, sea are not connected to site 'nyc'", 1),
    ('lat-over-90', _set(['sites', 0, 'lat'], 90.5), 'sites[0].lat', 'must be -90.0..90.0, got 90.5', None),
    ('lat-under-minus-90', _set(['sites', 1, 'lat'], -91), 'sites[1].lat', 'must be -90.0..90.0', None),
    ('lon-over-180', _set(['sites', 1, 'lon'], 181), 'sites[1].lon', 'must be -180.0..180.0', None),
    (
        'kind-unknown',
        _set(['sites', 2, 'kind'], 'campus'),
        'sites[2].kind',
        "must be one of datacenter, pop, got 'campus'",
        1,
    ),
    (
        'tenant-at-unknown-site',
        _set(['tenants', 0, 'sites'], ['nyc', 'sfo']),
        'tenants[0].sites[1]',
        "unknown site 'sfo'",
        1,
    ),
    (
        'tenant-site-twice',
        _set(['tenants', 0, 'sites'], ['nyc', 'lax', 'nyc']),
        'tenants[0].sites[2]',
        "site 'nyc' listed twice",
        1,
    ),
    ('tenant-sites-empty', _set(['tenants', 0, 'sites'], []), 'tenants[0].sites', 'must not be empty', 1),
    (
        'delay-negative',
        _set(['spans', 0, 'delay_ms'], -1),
        'spans[0].delay_ms',
        'must be at least 0.0, got -1',
        1,
    ),
    (
        'route-factor-under-1',
        _set(['emulation', 'route_factor'], 0.9),
        'emulation.route_factor',
        'must be at least 1.0, got 0.9',
        1,
    ),
    (
        'span-route-factor-under-1',
        _set(['spans', 1, 'route_factor'], 0.5),
        'spans[1].route_factor',
        'must be at least 1.0, got 0.5',
        1,
    ),
    (
        'bool-capacity',
        _set(['spans', 0, 'capacity_gbps'], True),
        'spans[0].capacity_gbps',
        'must be a number, got True',
        1,
    ),
    (
        'bool-delay',
        _set(['spans', 1, 'delay_ms'], False),
        'spans[1].delay_ms',
        'must be a number, got False',
        1,
    ),
    ('bool-lat', _set(['sites', 0, 'lat'], True), 'sites[0].lat', 'must be a number, got True', None),
    ('sites-not-a-list', _set(['sites'], {'nyc': {'lat': 1}}), 'sites', 'must be a list, got dict', None),
    ('sites-empty', _set(['sites'], []), 'sites', 'must not be empty', None),
    ('spans-empty', _set(['spans'], []), 'spans', 'must not be empty', None),
    ('site-not-a-mapping', _set(['sites', 0], 'nyc'), 'sites[0]', 'must be a mapping, got str', None),
    ('name-empty', _set(['name'], ''), 'name', 'must be non-empty text', 1),
    ('site-name-not-text', _set(['sites', 0, 'name'], 7), 'sites[0].name', 'must be text, got 7', 1),
    ('name-is-a-path', _set(['name'], '../../tmp'), 'name', 'it names a directory', 1),
    ('name-is-root', _set(['name'], '/'), 'name', 'it names a directory', 1),
    (
        'scale-zero',
        _set(['emulation', 'bandwidth_scale'], 0),
        'emulation.bandwidth_scale',
        'must be greater than 0',
        1,
    ),
    (
        'scale-not-a-number',
        _set(['emulation', 'bandwidth_scale'], 'x'),
        'emulation.bandwidth_scale',
        'must be a number',
        1,
    ),
    ('sites-null', _set(['sites'], None), 'sites', 'must be a list, got nothing', None),
    ('spans-null', _set(['spans'], None), 'spans', 'must be a list, got nothing', 1),
    (
        'tenant-sites-null',
        _set(['tenants', 0, 'sites'], None),
        'tenants[0].sites',
        'must be a list, got nothing',
        1,
    ),
    (
        'delay-infinite',
        _set(['spans', 0, 'delay_ms'], float('inf')),
        'spans[0].delay_ms',
        'must be a number',
        1,
    ),
]


@pytest.mark.parametrize(
    'breaker, key, fragment, count', [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED]
)
def test_refused(breaker, key, fragment, count):
    doc = minimal()
    breaker(doc)
    problems = problems_of(doc)
    messages = [msg for k, msg in problems if k == key]
    assert messages, f'no problem at {key!r}: {problems}'
    assert any(fragment in msg for msg in messages), problems
    if count is not None:
        assert len(problems) == count, problems


def test_top_level_not_a_mapping():
    problems = problems_of(['name', 'sites'])
    assert problems[0] == ('', 'must be a mapping, got list')


def test_empty_document():
    """An empty YAML file decodes to None."""
    problems = problems_of(None)
    assert problems[0] == ('', 'must be a mapping, got NoneType')


def test_every_problem_is_reported_at_once():
    doc = minimal()
    doc['colour'] = 'blue'  # 1 unknown top-level key
    doc['sites'][2]['kind'] = 'campus'  # 2 bad kind
    doc['spans'][0]['capacity_gbps'] = 0  # 3 zero capacity
    doc['spans'][1]['delay_ms'] = -3  # 4 negative delay
    doc['tenants'].append({'id': 'red', 'sites': ['chi']})  # 5 duplicate tenant id
    doc['emulation']['route_factor'] = 0.5  # 6 route factor below 1
    problems = problems_of(doc)
    assert len(problems) == 6, problems
    assert {k for k, _ in problems} == {
        'colour',
        'sites[2].kind',
        'spans[0].capacity_gbps',
        'spans[1].delay_ms',
        'tenants[1].id',
        'emulation.route_factor',
    }


def test_error_text_names_source_and_key_on_every_line():
    doc = minimal()
    doc['spans'][0]['between'][1] = 'sfo'
    doc['sites'][1]['kind'] = 'campus'
    with pytest.raises(ConfigError) as info:
        parse_fabric(doc, source='x.yaml')
    err = info.value
    assert err.source == 'x.yaml'
    lines = str(err).splitlines()
    assert len(lines) == len(err.problems) == 2
    assert all(line.startswith('x.yaml: ') for line in lines)
    assert "x.yaml: spans[0].between[1]: unknown site 'sfo'" in lines
    assert isinstance(err, ValueError)


def test_error_text_without_key():
    err = ConfigError('f.yaml', [('', 'must be a mapping, got list'), ('a.b', 'bad')])
    assert str(err) == 'f.yaml: must be a mapping, got list\nf.yaml: a.b: bad'


# --- load_fabric --------------------------------------------------------------------------------


def test_load_invalid_yaml_names_the_file(tmp_path):
    path = tmp_path / 'broken.yaml'
    path.write_text('name: [unclosed\nsites: {\n')
    with pytest.raises(ConfigError) as info:
        load_fabric(str(path))
    assert info.value.source == str(path)
    assert str(info.value).startswith(f'{path}: not valid YAML')


def test_load_missing_file(tmp_path):
    path = tmp_path / 'nowhere.yaml'
    with pytest.raises(ConfigError) as info:
        load_fabric(str(path))
    assert str(info.value).startswith(f'{path}: cannot read')


def test_load_unknown_name_lists_shipped():
    with pytest.raises(ConfigError) as info:
        load_fabric('no-such-fabric')
    text = str(info.value)
    assert text.startswith('no-such-fabric: no such fabric file, nor a shipped fabric')
    assert set(shipped_fabrics()) >= {'triangle', 'thin-fat', 'lumen-qts', 'azure-lumen'}
    for name in shipped_fabrics():
        assert name in text


def test_load_file_problems_name_the_file(tmp_path):
    path = tmp_path / 'mine.yaml'
    path.write_text(
        'name: mine\nsites:\n  - {id: aa, kind: pop, lat: 1, lon: 1}\n'
        '  - {id: bb, kind: pop, lat: 2, lon: 2}\n'
        'spans:\n  - {between: [aa, cc], capacity_gbps: 1}\n'
    )
    with pytest.raises(ConfigError) as info:
        load_fabric(str(path))
    assert str(info.value) == f"{path}: spans[0].between[1]: unknown site 'cc'"


def test_load_shipped_by_name_and_by_path():
    by_name = load_fabric('triangle')
    by_path = load_fabric(by_name.source)
    assert by_name.source.endswith('triangle.yaml')
    assert by_name == by_path


# --- what a valid fabric becomes -----------------------------------------------------------------


def haversine_km(a, b):
    """Great-circle distance on a 6371 km sphere, written out independently of the module."""
    lat1, lon1, lat2, lon2 = (math.radians(x) for x in (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def two_sites(**span):
    return {
        'name': 'two',
        'sites': [site('nyc', *NYC), site('lax', *LAX)],
        'spans': [{'between': ['nyc', 'lax'], 'capacity_gbps': 10, **span}],
    }


def test_great_circle_distance():
    assert haversine_km(NYC, LAX) == pytest.approx(3936, rel=0.005)
    assert great_circle_km(*NYC, *LAX) == pytest.approx(haversine_km(NYC, LAX), rel=1e-9)
    assert great_circle_km(*NYC, *NYC) == 0


def test_delay_from_great_circle_with_default_route_factor():
    span = parse_fabric(two_sites()).spans[0]
    expected = haversine_km(NYC, LAX) * 1.4 * 4.9 / 1000  # 1.4 x, 4.9 us/km
    assert span.delay_source == 'great-circle'
    assert span.delay_ms == pytest.approx(expected, abs=0.0011)
    assert span.delay_ms == pytest.approx(27.0, abs=0.1)  # ~3936 km x 1.4 x 4.9 us/km


def test_fabric_route_factor_applies_to_spans_without_one():
    doc = two_sites()
    doc['emulation'] = {'route_factor': 1.2}
    span = parse_fabric(doc).spans[0]
    assert span.delay_ms == pytest.approx(haversine_km(NYC, LAX) * 1.2 * 4.9 / 1000, abs=0.0011)


def test_span_route_factor_overrides_fabric_default():
    doc = two_sites(route_factor=2.0)
    doc['emulation'] = {'route_factor': 1.2}
    span = parse_fabric(doc).spans[0]
    assert span.delay_ms == pytest.approx(haversine_km(NYC, LAX) * 2.0 * 4.9 / 1000, abs=0.0011)
    assert span.delay_source == 'great-circle'


def test_configured_delay_is_kept():
    for delay in (0, 7, 12.5):
        span = parse_fabric(two_sites(delay_ms=delay, route_factor=3)).spans[0]
        assert (span.delay_ms, span.delay_source) == (delay, 'configured')


def test_emulated_mbps_is_capacity_times_scale():
    doc = two_sites()
    doc['spans'][0]['capacity_gbps'] = 400
    doc['emulation'] = {'bandwidth_scale': 0.00025}
    fabric = parse_fabric(doc)
    assert fabric.bandwidth_scale == 0.00025
    assert fabric.spans[0].emulated_mbps == pytest.approx(400 * 1000 * 0.00025) == 100
    assert fabric.spans[0].capacity_gbps == 400


def test_default_bandwidth_scale():
    fabric = parse_fabric(two_sites())  # no emulation section
    assert fabric.bandwidth_scale == 0.001
    assert fabric.spans[0].emulated_mbps == pytest.approx(10.0)


def test_capacity_at_the_emulation_limits_is_accepted():
    for capacity, mbps in ((1000, 1000), (0.1, 0.1)):
        span = parse_fabric(two_sites(capacity_gbps=capacity)).spans[0]
        assert span.emulated_mbps == pytest.approx(mbps)


def test_numbers_are_one_based_file_order():
    doc = minimal()
    doc['tenants'].append({'id': 'blue', 'name': 'Blue', 'sites': ['chi']})
    fabric = parse_fabric(doc)
    assert [(s.id, s.number) for s in fabric.sites.values()] == [('nyc', 1), ('lax', 2), ('chi', 3)]
    assert [(t.id, t.number) for t in fabric.tenants.values()] == [('red', 1), ('blue', 2)]
    assert fabric.tenants['red'].sites == ('nyc', 'lax')
    assert fabric.tenants['blue'].name == 'Blue'


def test_site_fields():
    doc = minimal()
    doc['sites'][0].update(name='New York', region='NY')
    s = parse_fabric(doc).sites['nyc']
    assert (s.kind, s.lat, s.lon, s.name, s.region) == ('datacenter', 40.71, -74.01, 'New York', 'NY')


def test_tenants_are_optional():
    doc = minimal()
    del doc['tenants']
    assert parse_fabric(doc).tenants == {}


def test_span_lookup_in_either_order():
    fabric = parse_fabric(minimal())
    span = fabric.span('nyc', 'chi')
    assert span is not None and (span.a, span.b) == ('nyc', 'chi')
    assert fabric.span('chi', 'nyc') is span
    assert fabric.span('nyc', 'lax') is None
    assert span.id == 'nyc-chi'
    assert span.other('nyc') == 'chi' and span.other('chi') == 'nyc'
    assert [s.id for s in fabric.spans_of('chi')] == ['nyc-chi', 'chi-lax']


def test_name_description_source():
    doc = minimal()
    doc['description'] = 'a small one'
    fabric = parse_fabric(doc, source='mini.yaml')
    assert (fabric.name, fabric.description, fabric.source) == ('mini', 'a small one', 'mini.yaml')
