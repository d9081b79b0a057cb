"""The operator's policy file (`naas-controller --policy FILE`, format in docs/policy.md):
the knobs of the policy engine (controller/core/planner.py: Policy), checked against the
fabric. Every key is optional; a missing one keeps its default. Every problem is reported at
once, through topologies.model.config.ConfigError."""

import dataclasses
import math
from dataclasses import dataclass, field

from topologies.model.config import ConfigError, Validator, read_yaml


@dataclass(frozen=True)
class Policy:
    """The operator's knobs (naas-controller --policy FILE; docs/policy.md)."""

    reoptimize_every_s: float = 30.0
    min_gain_ms: float = 1.0  # a move for latency gain must save this much ...
    min_gain_ratio: float = 0.05  # ... and this fraction of the path's latency
    span_hold_s: float = 10.0  # a span back up is used for moves after this long up,
    flap_window_s: float = 300.0  # doubled per other time it went down within this window,
    max_hold_s: float = 320.0  # at most this long
    move_hold_s: float = 30.0  # an intent moves for gain at most once per this, and back onto a
    # path it left only after this, doubled for every other time it left it within flap_window_s
    bound_margin_ms: float = 0.25  # a latency bound counts as broken beyond this ...
    bound_margin_ratio: float = 0.01  # ... plus this share of the bound (the measurement's noise)
    congestion_ratio: float = 0.95  # of a span's capacity, measured
    congestion_samples: int = 2  # consecutive readings above it
    make_room: bool = True  # a refused order may have placed intents moved aside for it
    preemption: bool = True
    exempt_tenants: frozenset = frozenset()  # never preempted
    span_headroom: dict = field(default_factory=dict)  # span id -> headroom fraction
    batch_seconds: float = 2.0  # the solver's time for placing a batch of orders together

    def hold_s(self, downs):
        """How long a span must stay up after coming back, having gone down `downs` times."""
        return min(self.max_hold_s, self.span_hold_s * 2 ** max(0, downs - 1))


NUMBERS = {  # key -> (the least it may be, whether that least is allowed)
    'reoptimize_every_s': (0, False),
    'min_gain_ms': (0, True),
    'min_gain_ratio': (0, True),
    'span_hold_s': (0, True),
    'flap_window_s': (0, False),
    'max_hold_s': (0, True),
    'move_hold_s': (0, True),
    'bound_margin_ms': (0, True),
    'bound_margin_ratio': (0, True),
    'congestion_ratio': (0, False),
    'batch_seconds': (0, False),
}


def load_policy(path, fabric):
    """A Policy from the file at `path` (empty: every default); ConfigError listing every
    problem as `FILE: KEY: RULE`."""
    return parse_policy(read_yaml(path), fabric, str(path))


def parse_policy(data, fabric, source='policy'):
    """A Policy from a decoded document (None: every default), checked against the fabric."""
    v = Validator()
    values = read_policy(v, {} if data is None else data, fabric)
    if v.problems:
        raise ConfigError(source, v.problems)
    return Policy(**values)


def read_policy(v, doc, fabric):
    """Policy's keyword arguments from the policy mapping `doc`, the problems into `v`."""
    if not isinstance(doc, dict):
        v.problem('', f'must be a mapping of policy keys, got {type(doc).__name__}')
        return {}
    known = [f.name for f in dataclasses.fields(Policy)]
    v.mapping(doc, '', required=(), optional=known)
    values = {}
    for key, value in doc.items():
        if key in NUMBERS:
            least, inclusive = NUMBERS[key]
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value < least
                or (value == least and not inclusive)
            ):
                v.problem(key, f'must be a number {">=" if inclusive else ">"} {least}, got {value!r}')
            elif key == 'congestion_ratio' and value > 1:
                v.problem(key, f'must be at most 1 (a fraction of capacity), got {value!r}')
            else:
                values[key] = float(value)
        elif key == 'congestion_samples':
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                v.problem(key, f'must be a whole number >= 1, got {value!r}')
            else:
                values[key] = value
        elif key in ('preemption', 'make_room'):
            if not isinstance(value, bool):
                v.problem(key, f'must be true or false, got {value!r}')
            else:
                values[key] = value
        elif key == 'exempt_tenants':
            values[key] = _exempt_tenants(v, key, value, fabric)
        elif key == 'span_headroom':
            values[key] = _span_headroom(v, key, value, fabric)
    return values


def _exempt_tenants(v, key, value, fabric):
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        v.problem(key, f'must be a list of tenant ids, got {value!r}')
        return frozenset()
    for tenant in value:
        if tenant not in fabric.tenants:
            v.problem(key, f'unknown tenant {tenant!r} in fabric {fabric.name}')
    return frozenset(value)


def _span_headroom(v, key, value, fabric):
    if not isinstance(value, dict):
        v.problem(key, f'must map span ids (such as a-b) to a fraction 0 <= h < 1, got {value!r}')
        return {}
    spans = {s.id for s in fabric.spans}
    headroom = {}
    for span_id, h in value.items():
        if span_id not in spans:
            v.problem(f'{key}.{span_id}', f'unknown span in fabric {fabric.name}')
        elif not isinstance(h, (int, float)) or isinstance(h, bool) or not 0 <= h < 1:
            v.problem(f'{key}.{span_id}', f'must be a fraction 0 <= h < 1, got {h!r}')
        else:
            headroom[span_id] = float(h)
    return headroom
