"""Orders from a YAML file, for `naasctl intent create-many`: a list of orders whose keys are
`naasctl intent create`'s options, in the same units.

    - {src: phx1, dst: iad1, bandwidth: 200G, latency: 25ms, protected: true}
    - {src: phx1, dst: atl1, bandwidth: 50Gbps, class: bulk, labels: {team: web}}
"""

import sys
from pathlib import Path

import yaml

from naasctl.client import ServiceClass, enum_names
from topologies.model.units import parse_bandwidth, parse_latency

REQUIRED = ('src', 'dst', 'bandwidth')
OPTIONAL = (
    'tenant',
    'excess',
    'latency',
    'protected',
    'class',
    'description',
    'labels',
    'src_prefixes',
    'dst_prefixes',
    'request_id',
)
CLASSES = [c.lower() for c in enum_names(ServiceClass)]


def read_orders(path):
    """Client.create_intents' orders from the YAML file at `path` ('-': standard input), or
    ValueError naming the file and what is wrong: `orders[i].key` (i from 0, as the server
    counts)."""
    name = 'standard input' if path == '-' else path
    try:
        doc = yaml.safe_load(sys.stdin if path == '-' else Path(path).read_text(encoding='utf-8'))
    except OSError as e:
        raise ValueError(f'{name}: cannot read: {e.strerror}') from None
    except UnicodeDecodeError:
        raise ValueError(f'{name}: cannot read: not a text file') from None
    except yaml.YAMLError as e:
        raise ValueError(f'{name}: not valid YAML: {e}') from None
    if not isinstance(doc, list) or not doc:
        raise ValueError(
            f'{name}: must be a list of orders (at least one), each a mapping with '
            f'{", ".join(REQUIRED)} and optionally {", ".join(OPTIONAL)}'
        )
    return [_order(entry, f'{name}: orders[{i}]') for i, entry in enumerate(doc)]


def _order(entry, where):
    """create_intent's arguments from one entry of the file."""

    def fail(key, rule):
        raise ValueError(f'{where}.{key}: {rule}' if key else f'{where}: {rule}')

    if not isinstance(entry, dict):
        fail('', f'must be a mapping with {", ".join(REQUIRED)} and optionally {", ".join(OPTIONAL)}')
    for key in entry:
        if key not in REQUIRED + OPTIONAL:
            fail(key, f'unknown key (known: {", ".join(REQUIRED + OPTIONAL)})')
    for key in REQUIRED:
        if key not in entry:
            fail(key, 'required')

    def text(key, value):
        if not isinstance(value, str):
            fail(key, f'must be text, got {value!r}')
        return value

    def texts(key):  # a list of text, or one
        value = entry.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            fail(key, f'must be a list of text, got {value!r}')
        return [text(key, v) for v in value]

    def parsed(key, parse):
        try:
            return parse(entry[key])
        except ValueError as e:
            fail(key, str(e))

    order = dict(
        src_site=text('src', entry['src']),
        dst_site=text('dst', entry['dst']),
        bandwidth_gbps=parsed('bandwidth', parse_bandwidth),
        src_prefixes=texts('src_prefixes'),
        dst_prefixes=texts('dst_prefixes'),
    )
    for key in ('tenant', 'description', 'request_id'):
        if key in entry:
            order[key] = text(key, entry[key])
    if 'excess' in entry:
        order['excess_gbps'] = parsed('excess', parse_bandwidth)
    if 'latency' in entry:
        order['max_latency_ms'] = parsed('latency', parse_latency)
    if 'protected' in entry:
        if not isinstance(entry['protected'], bool):
            fail('protected', f'must be true or false, got {entry["protected"]!r}')
        order['protected'] = entry['protected']
    if 'class' in entry:
        if str(entry['class']).lower() not in CLASSES:
            fail('class', f'{entry["class"]!r}: not a class; expected one of {", ".join(CLASSES)}')
        order['service_class'] = entry['class'].lower()
    if 'labels' in entry:
        labels = entry['labels']
        if not isinstance(labels, dict):
            fail('labels', f'must be a mapping of text to text, like {{team: web}}, got {labels!r}')
        order['labels'] = {text('labels', k): text(f'labels.{k}', v) for k, v in labels.items()}
    return order
