"""An SVG map of a fabric with the intents' paths, one panel per moment (before/after events).

Standard library only, so the demo and CI can draw it anywhere. The output is deterministic
(same input, same bytes) so a map can be compared or kept as evidence.

    render_svg(fabric, [('before', paths, set()), ('after', paths2, {'pchi-pcmh'})], title)

A path is a dict: name, tenant, sites (ids in order; empty if the intent is not placed),
backup (ids or []), gbps, state. Down spans are span ids ('a-b', either order).
"""

import itertools
import math
from pathlib import Path
from xml.sax.saxutils import escape

WIDTH = 1200
MARGIN = 40  # room around the map for labels and nudged sites
MIN_GAP = 16  # px between site markers: campuses of one metro are only km apart
LANE = 4.5  # px between lines sharing a span
FONT, LEGEND_FONT, LEGEND_ROW, CAPTION_H = 11, 12, 18, 30
# No red (a down span) and no grey (an idle span), so a path never looks like either.
PALETTE = (
    '#1f77b4',
    '#ff7f0e',
    '#2ca02c',
    '#9467bd',
    '#8c564b',
    '#e377c2',
    '#17becf',
    '#bcbd22',
    '#393b79',
    '#637939',
    '#8c6d31',
    '#7b4173',
)
DOWN = '#d62728'
# Label spots around a marker, best first: (dx, dy of the baseline, text-anchor).
LABEL_SPOTS = (
    (7, 4, 'start'),
    (-7, 4, 'end'),
    (0, -8, 'middle'),
    (0, 15, 'middle'),
    (6, -6, 'start'),
    (-6, -6, 'end'),
    (6, 13, 'start'),
    (-6, 13, 'end'),
)


def render_svg(fabric, panels, title=''):
    """The SVG text: one map per (caption, paths, down_spans) panel, with its legend."""
    if not panels:
        raise ValueError('a map needs at least one panel')
    down = [_down_spans(fabric, d) for _, _, d in panels]
    for _, paths, _ in panels:
        for p in paths:
            for site_id in [*p['sites'], *(p.get('backup') or [])]:
                if site_id not in fabric.sites:
                    raise ValueError(f'intent {p["name"]!r}: unknown site {site_id!r}')
    colours = {}
    for _, paths, _ in panels:  # first appearance decides, so a colour is stable across panels
        for p in paths:
            colours.setdefault(p['name'], PALETTE[len(colours) % len(PALETTE)])

    raw = _project(fabric)
    dx, dy = _extent(raw)
    cols = 1 if len(panels) == 1 or dx >= 1.4 * dy else 2  # wide fabrics read better stacked
    pw = WIDTH // cols
    mw = pw - 2 * MARGIN
    mh = mw * min(0.9, max(0.35, dy / dx)) if dx else mw * (0.9 if dy else 0.5)
    pos = _fit(raw, mw, mh, MARGIN, CAPTION_H + MARGIN)
    labels = _place_labels(pos, pw)

    entries = [[_legend_text(p) for p in paths] for _, paths, _ in panels]
    col_w = 40 + 0.6 * LEGEND_FONT * max((len(t) for e in entries for t in e), default=0)
    legend_cols = max(1, int((pw - 2 * MARGIN) // col_w))
    legend_h = LEGEND_ROW * math.ceil(max(map(len, entries)) / legend_cols) + 10
    ph = CAPTION_H + mh + 2 * MARGIN + legend_h
    top = 36
    height = top + ph * math.ceil(len(panels) / cols)

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{WIDTH}" '
        f'height="{height:.0f}" viewBox="0 0 {WIDTH} {height:.0f}" '
        'font-family="Helvetica, Arial, sans-serif">',
        f'<rect width="{WIDTH}" height="{height:.0f}" fill="#ffffff"/>',
    ]
    if title:
        out.append(f'<text x="16" y="25" font-size="18" font-weight="bold">{escape(title)}</text>')
    out.append(
        f'<text x="{WIDTH - 16}" y="25" font-size="12" fill="#666666" text-anchor="end">'
        'thick: path · thin dashed: backup · red dashed ×: span down</text>'
    )
    for i, (caption, paths, _) in enumerate(panels):
        x, y = (i % cols) * pw, top + (i // cols) * ph
        out.append(f'<g class="panel" transform="translate({x:.0f},{y:.0f})">')
        out.append(
            f'<rect x="4" y="4" width="{pw - 8}" height="{ph - 8:.0f}" fill="#fbfbfb" stroke="#dddddd"/>'
        )
        out.append(f'<text x="16" y="22" font-size="15" font-weight="bold">{escape(caption)}</text>')
        out += _map(fabric, pos, labels, paths, down[i], colours)
        out += _legend(paths, entries[i], colours, CAPTION_H + mh + 2 * MARGIN, col_w, legend_cols)
        out.append('</g>')
    out.append('</svg>')
    return '\n'.join(out) + '\n'


def write_map(path, fabric, panels, title=''):
    """Write the SVG map to `path`; return the path."""
    Path(path).write_text(render_svg(fabric, panels, title), encoding='utf-8')
    return path


def _down_spans(fabric, span_ids):
    by_id = {i: s for s in fabric.spans for i in (s.id, f'{s.b}-{s.a}')}
    unknown = sorted(set(span_ids) - set(by_id))
    if unknown:
        raise ValueError(f'unknown span {unknown[0]!r}')
    return {by_id[i].id for i in span_ids}


def _project(fabric):
    """Equirectangular, x shrunk by cos(mean latitude) so the map is not stretched east-west."""
    sites = list(fabric.sites.values())
    k = math.cos(math.radians(sum(s.lat for s in sites) / len(sites)))
    return {s.id: (s.lon * k, -s.lat) for s in sites}


def _extent(raw):
    xs, ys = [x for x, _ in raw.values()], [y for _, y in raw.values()]
    return max(xs) - min(xs), max(ys) - min(ys)


def _fit(raw, width, height, left, top):
    """Scale the projection into the box, centred, then nudge sites apart."""
    dx, dy = _extent(raw)
    x0, y0 = min(x for x, _ in raw.values()), min(y for _, y in raw.values())
    scale = min(width / dx if dx else math.inf, height / dy if dy else math.inf)
    scale = 0 if scale == math.inf else scale  # all sites on one spot: the middle
    ox, oy = left + (width - dx * scale) / 2, top + (height - dy * scale) / 2
    pts = [[ox + (x - x0) * scale, oy + (y - y0) * scale] for x, y in raw.values()]
    for _ in range(100):  # pairwise push until no two markers are closer than MIN_GAP
        moved = False
        for i, p in enumerate(pts):
            for j in range(i + 1, len(pts)):
                q = pts[j]
                vx, vy = q[0] - p[0], q[1] - p[1]
                d = math.hypot(vx, vy)
                if d >= MIN_GAP:
                    continue
                if d < 1e-6:  # identical coordinates: a fixed direction per pair keeps output stable
                    vx, vy, d = math.cos(i + 2.4 * j), math.sin(i + 2.4 * j), 1.0
                push = (MIN_GAP - d) / 2 / d + 1e-3
                p[0], p[1] = p[0] - vx * push, p[1] - vy * push
                q[0], q[1] = q[0] + vx * push, q[1] + vy * push
                moved = True
        if not moved:
            break
    return {site_id: (x, y) for site_id, (x, y) in zip(raw, pts)}


def _place_labels(pos, width):
    """Greedy: each label takes the first spot inside the panel that overlaps no marker or
    earlier label (else the least overlapping), so dense metros stay readable."""
    boxes = [(x - 5, y - 5, x + 5, y + 5) for x, y in pos.values()]
    placed = {}
    for site_id, (x, y) in pos.items():
        w = 0.62 * FONT * len(site_id)
        best = None
        for dx, dy, anchor in LABEL_SPOTS:
            left = x + dx - {'start': 0, 'middle': w / 2, 'end': w}[anchor]
            box = (left, y + dy - 0.8 * FONT, left + w, y + dy + 0.2 * FONT)
            overlap = sum(
                max(0, min(box[2], b[2]) - max(box[0], b[0])) * max(0, min(box[3], b[3]) - max(box[1], b[1]))
                for b in boxes
            )
            overlap += 1000 * (box[0] < 8 or box[2] > width - 8)
            if best is None or overlap < best[0]:
                best = (overlap, (x + dx, y + dy, anchor), box)
            if not overlap:
                break
        placed[site_id] = best[1]
        boxes.append(best[2])
    return placed


def _map(fabric, pos, labels, paths, down, colours):
    out = []
    for s in fabric.spans:
        (x1, y1), (x2, y2) = pos[s.a], pos[s.b]
        style = (
            f'stroke="{DOWN}" stroke-width="2.5" stroke-dasharray="8 5"'
            if s.id in down
            else 'stroke="#bbbbbb" stroke-width="2"'
        )
        out.append(
            f'<line class="span{" down" if s.id in down else ""}" x1="{x1:.1f}" y1="{y1:.1f}" '
            f'x2="{x2:.1f}" y2="{y2:.1f}" {style}><title>{escape(s.id)}</title></line>'
        )
    lines = [((i, kind), p.get(kind) or []) for i, p in enumerate(paths) for kind in ('sites', 'backup')]
    lanes = {}  # span (as a set of two sites) -> the lines on it, in order
    for key, sites in lines:
        for a, b in itertools.pairwise(sites):
            lanes.setdefault(frozenset((a, b)), []).append(key)
    for (i, kind), sites in sorted(lines, key=lambda line: line[0][1] == 'sites'):  # backups under
        if len(sites) < 2:
            continue
        p = paths[i]
        style = (
            'class="path" stroke-width="3.5"'
            if kind == 'sites'
            else 'class="backup" stroke-width="1.6" stroke-dasharray="6 4"'
        )
        out.append(
            f'<polyline {style} fill="none" stroke="{colours[p["name"]]}" '
            f'stroke-linejoin="round" points="{_lane_points(sites, pos, lanes, (i, kind))}">'
            f'<title>{escape(p["name"])}{" backup" if kind == "backup" else ""}: '
            f'{escape(" → ".join(sites))}</title></polyline>'
        )
    for s in fabric.spans:  # the × on top of paths, so a cut stays visible
        if s.id in down:
            (x1, y1), (x2, y2) = pos[s.a], pos[s.b]
            out.append(
                f'<text class="cut" x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 + 6:.1f}" '
                f'font-size="18" font-weight="bold" fill="{DOWN}" text-anchor="middle">×</text>'
            )
    for site in fabric.sites.values():
        x, y = pos[site.id]
        style = (
            'r="4.5" fill="#333333" stroke="#ffffff"'
            if site.kind == 'datacenter'
            else 'r="3.5" fill="#ffffff" stroke="#555555" stroke-width="1.5"'
        )
        out.append(
            f'<circle class="site" cx="{x:.1f}" cy="{y:.1f}" {style}>'
            f'<title>{escape(site.name or site.id)} ({escape(site.kind)})</title></circle>'
        )
    for site_id, (x, y, anchor) in labels.items():  # white halo first, so labels read over lines
        for extra in ('stroke="#ffffff" stroke-width="3" class="halo"', 'class="label"'):
            out.append(
                f'<text {extra} x="{x:.1f}" y="{y:.1f}" font-size="{FONT}" '
                f'text-anchor="{anchor}">{escape(site_id)}</text>'
            )
    return out


def _lane_points(sites, pos, lanes, key):
    """A line's points, each span shifted sideways into this line's lane so lines sharing a
    span stay apart; a corner takes the mean of its two spans' shifts."""
    shifts = []
    for a, b in itertools.pairwise(sites):
        users = lanes[frozenset((a, b))]
        off = (users.index(key) - (len(users) - 1) / 2) * LANE
        (x1, y1), (x2, y2) = pos[min(a, b)], pos[max(a, b)]  # same side whichever way it runs
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        shifts.append((-(y2 - y1) / length * off, (x2 - x1) / length * off))
    points = []
    for i, site_id in enumerate(sites):
        near = shifts[max(0, i - 1) : i + 1]
        points.append(
            f'{pos[site_id][0] + sum(s[0] for s in near) / len(near):.1f},'
            f'{pos[site_id][1] + sum(s[1] for s in near) / len(near):.1f}'
        )
    return ' '.join(points)


def _legend_text(p):
    placed = '' if p['sites'] else ' · not placed'
    return f'{p["name"]} · {p["tenant"]} · {p["gbps"]:g} Gb/s · {p["state"]}{placed}'


def _legend(paths, texts, colours, top, col_w, cols):
    out = []
    for i, (p, text) in enumerate(zip(paths, texts)):
        x, y = MARGIN + (i % cols) * col_w, top + (i // cols) * LEGEND_ROW + 12
        dash = '' if p['sites'] else ' stroke-dasharray="2 3"'  # not placed: dotted swatch
        out.append(
            f'<g class="legend"><line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 24:.1f}" '
            f'y2="{y - 4:.1f}" stroke="{colours[p["name"]]}" stroke-width="3.5"{dash}/>'
            f'<text x="{x + 30:.1f}" y="{y:.1f}" font-size="{LEGEND_FONT}">{escape(text)}'
            '</text></g>'
        )
    return out
