"""topologies.lab.fabric_map: the SVG map draws every site, span and placed path, keeps an
intent's colour across panels, marks down spans, escapes text and is byte-for-byte stable."""

import xml.etree.ElementTree as ET

import pytest

from topologies.lab.fabric_map import render_svg, write_map
from topologies.model.fabric import Fabric, Site, Span, load_fabric

SVG = '{http://www.w3.org/2000/svg}'
LUMEN = load_fabric('lumen-qts')


def intent(name, sites, backup=(), tenant='acme', state='INSTALLED'):
    return {
        'name': name,
        'tenant': tenant,
        'sites': list(sites),
        'backup': list(backup),
        'gbps': 10.0,
        'state': state,
    }


BEFORE = [
    intent('west', ['phx1', 'phx2', 'pphx', 'pelp', 'pdfw'], backup=['phx1', 'phx3', 'plax']),
    intent('east', ['atl1', 'patl', 'pcmh', 'cmh1']),
    intent('ohio', ['cmh2', 'pchi', 'pcmh', 'cmh1'], tenant='globex'),
]
AFTER = [
    intent('ohio', ['cmh2', 'cmh1'], tenant='globex'),  # other order: colour must follow the name
    intent('east', ['atl1', 'patl', 'pclt', 'pwas', 'pcmh', 'cmh1']),
    intent('west', [], state='FAILED'),
]  # not placed: legend only
PANELS = [('before', BEFORE, set()), ('after: pchi-pcmh cut', AFTER, {'pcmh-pchi'})]


def parse(svg):
    root = ET.fromstring(svg)
    assert root.tag == f'{SVG}svg' and root.get('version') == '1.1'
    return root


def by_class(root, cls):
    return [e for e in root.iter() if cls in (e.get('class') or '').split()]


def title_of(element):
    return element.find(f'{SVG}title').text


def tiny_fabric(*sites, spans=()):
    return Fabric(
        'tiny',
        '',
        0.001,
        {s.id: s for s in sites},
        tuple(Span(a, b, 10, 1, 'configured', 10) for a, b in spans),
        {},
        '<test>',
    )


def test_every_site_span_and_placed_path_is_drawn_in_each_panel():
    root = parse(render_svg(LUMEN, PANELS, title='lumen-qts'))
    assert len(by_class(root, 'panel')) == 2
    assert len(by_class(root, 'site')) == 2 * len(LUMEN.sites)
    assert len(by_class(root, 'label')) == 2 * len(LUMEN.sites)
    assert len(by_class(root, 'span')) == 2 * len(LUMEN.spans)
    assert len(by_class(root, 'path')) == 3 + 2  # 'west' is not placed after
    assert len(by_class(root, 'backup')) == 1
    assert len(by_class(root, 'legend')) == 6


def test_an_intent_keeps_its_colour_across_panels_and_intents_differ():
    before, after = by_class(parse(render_svg(LUMEN, PANELS)), 'panel')
    colours = [
        {title_of(p).split(':')[0]: p.get('stroke') for p in by_class(panel, 'path')}
        for panel in (before, after)
    ]
    assert colours[0]['ohio'] == colours[1]['ohio'] and colours[0]['east'] == colours[1]['east']
    assert len(set(colours[0].values())) == 3
    (backup,) = by_class(before, 'backup')
    assert backup.get('stroke') == colours[0]['west'] and backup.get('stroke-dasharray')


def test_paths_sharing_a_span_are_drawn_apart():
    shared = [intent('one', ['pchi', 'pcmh']), intent('two', ['pcmh', 'pchi'])]
    one, two = by_class(parse(render_svg(LUMEN, [('', shared, set())])), 'path')
    assert one.get('points') != two.get('points')


def test_a_down_span_is_red_dashed_with_a_cross_only_where_it_is_down():
    before, after = by_class(parse(render_svg(LUMEN, PANELS)), 'panel')
    assert not by_class(before, 'down') and not by_class(before, 'cut')
    (down,) = by_class(after, 'down')
    assert title_of(down) == 'pchi-pcmh'
    assert down.get('stroke') == '#d62728' and down.get('stroke-dasharray')
    assert [c.text for c in by_class(after, 'cut')] == ['×']


def test_text_is_escaped_and_an_unplaced_intent_shows_in_the_legend():
    svg = render_svg(
        LUMEN, [('a <b> & c', [intent('x&y', [], tenant='<&>', state='PENDING')], set())], title='"t" <1>'
    )
    assert '<&>' not in svg and '&lt;&amp;&gt;' in svg
    root = parse(svg)
    legend = ''.join(by_class(root, 'legend')[0].itertext())
    assert legend == 'x&y · <&> · 10 Gb/s · PENDING · not placed'
    assert not by_class(root, 'path')


def test_the_same_input_gives_the_same_bytes(tmp_path):
    first = write_map(tmp_path / 'a.svg', LUMEN, PANELS, title='demo')
    second = write_map(tmp_path / 'b.svg', LUMEN, PANELS, title='demo')
    assert first.read_bytes() == second.read_bytes()
    assert first.read_text(encoding='utf-8') == render_svg(LUMEN, PANELS, title='demo')


def test_an_unknown_site_or_span_is_refused_by_name():
    with pytest.raises(ValueError, match="'nowhere'"):
        render_svg(LUMEN, [('', [intent('x', ['phx1', 'nowhere'])], set())])
    with pytest.raises(ValueError, match="'elsewhere'"):
        render_svg(LUMEN, [('', [intent('x', ['phx1'], backup=['elsewhere'])], set())])
    with pytest.raises(ValueError, match="'phx1-iad1'"):
        render_svg(LUMEN, [('', [], {'phx1-iad1'})])


def test_sites_on_one_spot_are_nudged_apart_and_a_single_site_is_drawn():
    same = tiny_fabric(
        Site('aaa', 1, 'datacenter', 40.0, -75.0), Site('bbb', 2, 'pop', 40.0, -75.0), spans=[('aaa', 'bbb')]
    )
    markers = by_class(parse(render_svg(same, [('', [intent('x', ['aaa', 'bbb'])], set())])), 'site')
    assert len({(m.get('cx'), m.get('cy')) for m in markers}) == 2
    alone = tiny_fabric(Site('solo', 1, 'datacenter', 10.0, 20.0))
    root = parse(render_svg(alone, [('one', [], set()), ('two', [], set())]))
    assert len(by_class(root, 'site')) == 2 and not by_class(root, 'span')
