"""The operator's policy file (`naas-controller --policy FILE`, format in docs/policy.md):
the knobs of the policy engine (controller/core/planner.py: Policy), checked against the
fabric. Every key is optional; a missing one keeps its default."""

import dataclasses
import math
from dataclasses import dataclass, field

import yaml


@dataclass(frozen=True)
class Policy:
    """The operator's knobs (naas-controller --policy FILE; docs/policy.md)."""

    reoptimize_every_s: float = 30.0
    min_gain_ms: float = 1.0  # a move for latency gain must save this much ...
    min_gain_ratio: float = 0.05  # ... and this fraction of the path's latency
    span_hold_s: float = 10.0  # a span back up is used for moves after this long up,
    flap_window_s: float = 300.0  # doubled per other time it went down within this window,
    max_hold_s: float = 320.0  # at most this long
    move_hold_s: float = 30.0  # an intent moves for gain at most once per this
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
    'congestion_ratio': (0, False),
    'batch_seconds': (0, False),
}


class PolicyFileError(ValueError):
    pass


def load_policy(path, fabric):
    """A Policy from the file at `path`; PolicyFileError naming the file, the key and the rule."""
    try:
        with open(path) as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise PolicyFileError(f'{path}: cannot read: {e}') from None
    return policy_from(doc if doc is not None else {}, fabric, path)


def policy_from(doc, fabric, where='policy'):
    def fail(key, message):
        raise PolicyFileError(f'{where}: {key}: {message}')

    if not isinstance(doc, dict):
        fail('(top)', 'must be a mapping of policy keys')
    known = {f.name for f in dataclasses.fields(Policy)}
    values = {}
    for key, value in doc.items():
        if key not in known:
            fail(key, f'unknown key (known: {", ".join(sorted(known))})')
        if key in NUMBERS:
            least, inclusive = NUMBERS[key]
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value < least
                or (value == least and not inclusive)
            ):
                fail(key, f'must be a number {">=" if inclusive else ">"} {least}, got {value!r}')
            if key == 'congestion_ratio' and value > 1:
                fail(key, f'must be at most 1 (a fraction of capacity), got {value!r}')
            values[key] = float(value)
        elif key == 'congestion_samples':
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                fail(key, f'must be a whole number >= 1, got {value!r}')
            values[key] = value
        elif key in ('preemption', 'make_room'):
            if not isinstance(value, bool):
                fail(key, f'must be true or false, got {value!r}')
            values[key] = value
        elif key == 'exempt_tenants':
            if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                fail(key, 'must be a list of tenant ids')
            unknown = [t for t in value if t not in fabric.tenants]
            if unknown:
                fail(key, f'unknown tenant {unknown[0]!r} in fabric {fabric.name}')
            values[key] = frozenset(value)
        elif key == 'span_headroom':
            if not isinstance(value, dict):
                fail(key, 'must map span ids (such as a-b) to a fraction 0 <= h < 1')
            spans = {s.id for s in fabric.spans}
            for span_id, h in value.items():
                if span_id not in spans:
                    fail(f'{key}.{span_id}', f'unknown span in fabric {fabric.name}')
                if not isinstance(h, (int, float)) or isinstance(h, bool) or not 0 <= h < 1:
                    fail(f'{key}.{span_id}', f'must be a fraction 0 <= h < 1, got {h!r}')
            values[key] = {k: float(v) for k, v in value.items()}
    return Policy(**values)
