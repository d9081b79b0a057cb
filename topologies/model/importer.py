"""Import a real WAN from the `topohub` package as a fabric document.

`import_topohub('sndlib/abilene')` returns the same structure as a fabric YAML file (plain
dicts and lists) for `parse_fabric`: one `pop` site per node, one span per undirected link,
a uniform capacity, and delays left out so the validator computes them from the node
coordinates (great-circle distance x route factor x 4.9 us/km).

topohub ships NetworkX node-link JSON under `topohub/data/<group>/.../<name>.json`; node
`pos` is [longitude, latitude]. Only the largest connected piece of a network is kept
(the fabric validator rejects unreachable sites), and the description says what was dropped.

`add_arguments(parser)` and `run(args)` make the `naas-lab import` subcommand.
"""

import functools
import importlib.resources
import math
import re
import sys
import unicodedata
from difflib import get_close_matches

import yaml

from topologies.model.config import ConfigError
from topologies.model.fabric import ID_RULE, MAX_SITES, RESERVED_IDS, parse_fabric

MAX_EMULATED_SPAN_MBPS = 100.0  # the importer keeps every span at or below this, emulated
PLANAR_GROUPS = ('gabriel',)  # synthetic graphs on a plane: their `pos` is not lon/lat
GROUP_TITLES = {
    'sndlib': 'SNDlib',
    'topozoo': 'Internet Topology Zoo',
    'backbone': 'TopoHub synthetic backbone',
    'caida': 'CAIDA Ark',
}
FIND_KEYS_HINT = (
    'list valid keys with `naas-lab import --list [GROUP]` or topologies.model.importer.list_networks()'
)


@functools.lru_cache(maxsize=1)
def _all_keys():
    """Every network topohub ships, as `group/.../name` keys (a sorted tuple)."""
    root = importlib.resources.files('topohub.data')
    keys, todo = [], [(root, '')]
    while todo:
        folder, prefix = todo.pop()
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.name.startswith(('_', '.')):
                todo.append((entry, f'{prefix}{entry.name}/'))
            elif entry.name.endswith('.json') and prefix:
                keys.append(prefix + entry.name[: -len('.json')])
    return tuple(sorted(keys, key=_natural))


def _natural(key):
    """Sort `gabriel/25/10` after `gabriel/25/9`, and case-insensitively."""
    return [
        (0, int(part), '') if part.isdigit() else (1, 0, part.lower()) for part in re.split(r'(\d+)', key)
    ]


def list_networks(group=None):
    """Keys of the networks that can be imported (`sndlib/abilene`, ...), optionally of one group.

    `group` is a key prefix such as `sndlib`, `topozoo` or `caida/2024-08`. Planar synthetic
    groups (gabriel) are left out: their node positions are not geographic.
    """
    keys = [k for k in _all_keys() if k.split('/', 1)[0] not in PLANAR_GROUPS]
    if group:
        prefix = group.strip('/') + '/'
        keys = [k for k in keys if k.startswith(prefix)]
    return keys


def site_id_from_name(name, taken=(), reserved=()):
    """A fabric id for a node name: lowercase [a-z0-9], a letter first, 2-6 characters, unused.

    On a collision (or when the name is too short) the stem is shortened and a number
    appended: `frankf`, `frank2`, `frank3`, ... `fran10`. `probe` is never returned.
    """
    text = unicodedata.normalize('NFKD', str(name)).encode('ascii', 'ignore').decode().lower()
    stem = re.sub(r'[^a-z0-9]', '', text)
    if not stem[:1].isalpha():
        stem = 'n' + stem
    blocked = set(taken) | set(reserved) | set(RESERVED_IDS)
    candidate = stem[:6]
    if ID_RULE.match(candidate) and candidate not in blocked:
        return candidate
    number = 1 if len(candidate) < 2 else 2
    while True:
        suffix = str(number)
        candidate = stem[: 6 - len(suffix)] + suffix
        if ID_RULE.match(candidate) and candidate not in blocked:
            return candidate
        number += 1


def import_topohub(key, capacity_gbps=100.0, route_factor=None, tenants=()):
    """Build a fabric document from the topohub network `key` (e.g. `sndlib/abilene`).

    capacity_gbps: the capacity of every span; emulation.bandwidth_scale is the largest
        power of ten keeping a span at or below 100 Mb/s emulated (100 Gb/s -> 0.001).
    route_factor: fiber route length / great-circle distance (emulation.route_factor);
        None keeps the fabric default.
    tenants: (tenant_id, [node name or site id, ...]) pairs, or a mapping of the same.

    Raises ConfigError (a ValueError) naming the network and the problem.
    """
    source = f'topohub:{key}'
    data = _load(key)
    group, name = key.split('/', 1)
    if (
        isinstance(capacity_gbps, bool)
        or not isinstance(capacity_gbps, (int, float))
        or not math.isfinite(capacity_gbps)
        or capacity_gbps <= 0
    ):
        raise ConfigError(source, [('capacity_gbps', f'must be a positive number, got {capacity_gbps!r}')])

    nodes, order = {}, []
    for node in data.get('nodes', []):
        nodes[node['id']] = node
        order.append(node['id'])
    adjacency = {n: set() for n in order}
    links, bad_ends = [], []
    for edge in data.get('edges', data.get('links', [])):
        a, b = edge['source'], edge['target']
        if a not in nodes or b not in nodes:
            bad_ends.append(f'{a!r}-{b!r}')
        elif a != b:  # self-loops carry nothing between sites
            links.append((a, b))
            adjacency[a].add(b)
            adjacency[b].add(a)
    if bad_ends:
        raise ConfigError(source, [('edges', f'links to unknown nodes: {", ".join(bad_ends)}')])
    if not links:
        raise ConfigError(source, [('edges', 'the network has no links between two nodes')])

    kept = _largest_component(order, adjacency)
    dropped = [n for n in order if n not in kept]
    kept_order = [n for n in order if n in kept]
    if len(kept_order) > MAX_SITES:
        raise ConfigError(
            source,
            [('nodes', f'{len(kept_order)} connected nodes, but a fabric has at most {MAX_SITES} sites')],
        )
    _check_positions(source, [nodes[n] for n in kept_order])

    tenant_pairs = list(tenants.items()) if hasattr(tenants, 'items') else list(tenants)
    tenant_ids = [str(t) for t, _ in tenant_pairs]
    site_of, sites = {}, []
    for n in kept_order:
        node = nodes[n]
        label = _label(node)
        site_id = site_id_from_name(label, taken=site_of.values(), reserved=tenant_ids)
        site_of[n] = site_id
        lon, lat = node['pos'][0], node['pos'][1]
        sites.append(
            {
                'id': site_id,
                'name': label,
                'kind': 'pop',
                'lat': round(float(lat), 6),
                'lon': round(float(lon), 6),
            }
        )

    capacity = int(capacity_gbps) if float(capacity_gbps).is_integer() else float(capacity_gbps)
    spans, seen = [], set()
    for a, b in links:
        pair = frozenset((a, b))
        if a in kept and pair not in seen:  # parallel links merge into one span
            seen.add(pair)
            spans.append({'between': [site_of[a], site_of[b]], 'capacity_gbps': capacity})

    emulation = {'bandwidth_scale': _bandwidth_scale(capacity_gbps)}
    if route_factor is not None:
        emulation['route_factor'] = route_factor

    title = GROUP_TITLES.get(group, group)
    description = (
        f'{name} from {title}, imported from topohub {key}: {len(sites)} sites, '
        f'{len(spans)} spans of {capacity_gbps:g} Gb/s; delays from great-circle '
        'distance x route factor.'
    )
    if dropped:
        description += (
            f' {len(dropped)} of {len(order)} nodes dropped, not connected to the '
            f'largest component: {_some([_label(nodes[n]) for n in dropped])}.'
        )
    doc = {
        'name': f'topohub-{group}-{name}'.replace('/', '-').lower(),
        'description': description,
        'emulation': emulation,
        'sites': sites,
        'spans': spans,
    }
    if tenant_pairs:
        doc['tenants'] = _tenants(source, tenant_pairs, nodes, kept_order, dropped, site_of)
    return doc


def _load(key):
    import topohub

    if not isinstance(key, str) or key not in _all_keys():
        hint = get_close_matches(str(key), _all_keys(), n=3, cutoff=0.6)
        near = f'; did you mean {", ".join(hint)}?' if hint else ''
        raise ConfigError(
            f'topohub:{key}',
            [
                (
                    '',
                    f'unknown topohub network {key!r}{near} '
                    f'({FIND_KEYS_HINT}; keys look like '
                    'sndlib/abilene or topozoo/Geant2012)',
                )
            ],
        )
    if key.split('/', 1)[0] in PLANAR_GROUPS:
        raise ConfigError(
            f'topohub:{key}',
            [
                (
                    '',
                    'a synthetic planar graph: its node positions '
                    'are not longitude/latitude, so span delays '
                    'cannot be derived; use sndlib/* or topozoo/*',
                )
            ],
        )
    return topohub.get(key)


def _label(node):
    name = node.get('name')
    return str(name) if name not in (None, '') else str(node['id'])


def _largest_component(order, adjacency):
    """Node ids of the largest connected component; the first one found on a tie."""
    best, seen = set(), set()
    for start in order:
        if start in seen:
            continue
        part, todo = {start}, [start]
        while todo:
            for n in adjacency[todo.pop()] - part:
                part.add(n)
                todo.append(n)
        seen |= part
        if len(part) > len(best):
            best = part
    return best


def _check_positions(source, nodes):
    """Every kept node needs a geographic [longitude, latitude] position."""
    missing, placed = [], []
    for node in nodes:
        pos = node.get('pos')
        if (
            isinstance(pos, (list, tuple))
            and len(pos) >= 2
            and all(
                isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in pos[:2]
            )
        ):
            placed.append((node, float(pos[0]), float(pos[1])))
        else:
            missing.append(_label(node))
    if missing:
        raise ConfigError(
            source,
            [
                (
                    'nodes',
                    f'no coordinates for {_some(missing)}: span delays '
                    'come from coordinates, so this network cannot be '
                    'imported',
                )
            ],
        )
    shown = [f'{_label(node)} [{lon:g}, {lat:g}]' for node, lon, lat in placed]
    if len(placed) > 2 and all(lon.is_integer() and lat.is_integer() for _, lon, lat in placed):
        # SNDlib's pixel-coordinate networks (atlanta, france, india35, ...): topohub keeps
        # their drawing positions as if they were degrees. Real coordinates are never all whole.
        raise ConfigError(
            source,
            [
                (
                    'nodes',
                    f'every position is a whole number ({_some(shown, 3)}): '
                    'pixel positions of a drawing, not longitude/latitude, '
                    'so span delays cannot be derived and this network '
                    'cannot be imported',
                )
            ],
        )
    invalid = [
        text for text, (_, lon, lat) in zip(shown, placed) if not (-180 <= lon <= 180 and -90 <= lat <= 90)
    ]
    if invalid:
        raise ConfigError(source, [('nodes', f'positions are not [longitude, latitude]: {_some(invalid)}')])


def _some(items, limit=10):
    more = f' and {len(items) - limit} more' if len(items) > limit else ''
    return ', '.join(items[:limit]) + more


def _bandwidth_scale(capacity_gbps):
    """The largest power of ten keeping `capacity_gbps` at or below 100 Mb/s emulated."""
    scale = 10.0 ** math.floor(math.log10(MAX_EMULATED_SPAN_MBPS / (capacity_gbps * 1000.0)))
    while capacity_gbps * 1000.0 * scale > MAX_EMULATED_SPAN_MBPS * (1 + 1e-9):
        scale /= 10.0
    return float(f'{scale:.0e}')


def _tenants(source, pairs, nodes, kept_order, dropped, site_of):
    by_name, by_folded = {}, {}
    for n in kept_order:
        label = _label(nodes[n])
        by_name.setdefault(label, []).append(site_of[n])
        by_folded.setdefault(label.casefold(), []).append(site_of[n])
    dropped_names = {_label(nodes[n]).casefold() for n in dropped}
    site_ids = set(site_of.values())
    problems, result = [], []
    for i, (tenant_id, members) in enumerate(pairs):
        where = f'tenants[{i}]'
        if isinstance(members, str):
            members = [members]
        at = []
        for ref in members:
            ref = str(ref).strip()
            matches = [ref] if ref in site_ids else by_name.get(ref) or by_folded.get(ref.casefold()) or []
            if len(matches) == 1:
                at.append(matches[0])
            elif matches:
                problems.append(
                    (
                        where,
                        f'tenant {tenant_id}: site {ref!r} is ambiguous, it names '
                        f'sites {", ".join(matches)}; use a site id',
                    )
                )
            elif ref.casefold() in dropped_names:
                problems.append(
                    (
                        where,
                        f'tenant {tenant_id}: site {ref!r} is not connected to the '
                        'largest component and was dropped',
                    )
                )
            else:
                problems.append(
                    (
                        where,
                        f'tenant {tenant_id}: unknown site {ref!r} '
                        '(use a node name or a site id of this network)',
                    )
                )
        result.append({'id': str(tenant_id), 'sites': at})
    if problems:
        raise ConfigError(source, problems)
    return result


# --- the `naas-lab import` subcommand -------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Safe YAML, with each site, span and tenant on one line."""


class _Row(dict):
    pass


_Dumper.add_representer(
    _Row, lambda dumper, row: dumper.represent_mapping('tag:yaml.org,2002:map', row, flow_style=True)
)


def to_yaml(doc, header=''):
    """The fabric document as YAML text, one site/span/tenant per line, with a comment header."""
    rows = {
        k: ([_Row(item) for item in v] if k in ('sites', 'spans', 'tenants') else v) for k, v in doc.items()
    }
    body = yaml.dump(rows, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)
    lines = ''.join(f'# {line}\n' if line else '#\n' for line in header.splitlines())
    return lines + body


def _tenant_option(text):
    tenant_id, sep, members = text.partition(':')
    if not sep or not tenant_id.strip() or not members.strip():
        raise ValueError(f'--tenant {text!r}: expected ID:SITE,SITE (site ids or node names)')
    return tenant_id.strip(), [m.strip() for m in members.split(',') if m.strip()]


def add_arguments(parser):
    """Arguments of `naas-lab import`."""
    parser.description = 'Import a real WAN from topohub as a fabric file.'
    parser.add_argument(
        'key',
        metavar='KEY',
        nargs='?',
        help='topohub network, e.g. sndlib/abilene or topozoo/Geant2012 '
        '(with --list: a group to list, e.g. sndlib)',
    )
    parser.add_argument(
        '--list', action='store_true', help='list the networks that can be imported, then exit'
    )
    parser.add_argument(
        '-o',
        '--output',
        metavar='FILE',
        default='-',
        help='write the fabric file here (default: standard output)',
    )
    parser.add_argument(
        '--capacity-gbps',
        type=float,
        default=100.0,
        metavar='GBPS',
        help='capacity of every span (default: 100)',
    )
    parser.add_argument(
        '--route-factor',
        type=float,
        default=None,
        metavar='FACTOR',
        help='fiber route length / great-circle distance (default: the fabric default)',
    )
    parser.add_argument(
        '--tenant',
        action='append',
        default=[],
        metavar='ID:SITE,SITE',
        help='a tenant at these sites (node names or site ids); repeatable',
    )
    return parser


def run(args):
    """Carry out `naas-lab import`; returns the exit status."""
    if args.list:
        keys = list_networks(args.key)
        if not keys:
            print(f'no importable topohub networks in group {args.key!r}', file=sys.stderr)
            return 1
        print('\n'.join(keys))
        return 0
    if not args.key:
        print(f'naas-lab import: a KEY is needed, e.g. sndlib/abilene ({FIND_KEYS_HINT})', file=sys.stderr)
        return 2
    try:
        tenants = [_tenant_option(t) for t in args.tenant]
        doc = import_topohub(
            args.key, capacity_gbps=args.capacity_gbps, route_factor=args.route_factor, tenants=tenants
        )
        fabric = parse_fabric(doc, source=f'topohub:{args.key}')
    except ValueError as e:
        print(e, file=sys.stderr)
        return 1
    import topohub

    options = [f'--capacity-gbps {args.capacity_gbps:g}']
    if args.route_factor is not None:
        options.append(f'--route-factor {args.route_factor:g}')
    options += [f'--tenant {t}' for t in args.tenant]
    header = (
        f'Imported from topohub {topohub.__version__} network {args.key}\n'
        f'by: naas-lab import {args.key} {" ".join(options)}\n'
        f'{len(fabric.sites)} sites, {len(fabric.spans)} spans; '
        'span delays are computed from lat/lon when the file is loaded.'
    )
    text = to_yaml(doc, header)
    if args.output in ('-', None):
        sys.stdout.write(text)
    else:
        try:
            with open(args.output, 'w', encoding='utf-8') as out:
                out.write(text)
        except OSError as e:
            print(f'naas-lab import: cannot write {args.output}: {e.strerror}', file=sys.stderr)
            return 1
        print(
            f'wrote {args.output}: {fabric.name}, {len(fabric.sites)} sites, {len(fabric.spans)} spans',
            file=sys.stderr,
        )
    return 0


def main(argv=None):
    """Stand-alone entry point until the lead mounts `naas-lab import`."""
    import argparse

    parser = add_arguments(argparse.ArgumentParser(prog='naas-lab import'))
    return run(parser.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
