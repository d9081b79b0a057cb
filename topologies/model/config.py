"""Reading the files people write (fabric, scenario, policy, auth and orders files): one way to
decode YAML, one Validator that collects every problem instead of stopping at the first, and
one error type that names the file, the key and the rule on a line per problem.

    v = Validator()
    item = v.mapping(data, 'spans[0]', required=('between', 'capacity_gbps'), optional=())
    capacity = v.number(item, 'capacity_gbps', 'spans[0]', None, positive=True)
    if v.problems:
        raise ConfigError(source, v.problems)
"""

import math
import sys
from pathlib import Path

import yaml

MISSING = object()  # a required key that is absent: Validator.sequence leaves it to mapping()


class ConfigError(ValueError):
    """A file that cannot be used; `problems` lists (key, message) pairs, str() has a line per
    problem: `FILE: KEY: RULE` (`FILE: RULE` for the document as a whole)."""

    def __init__(self, source, problems):
        self.source, self.problems = str(source), list(problems)
        super().__init__(
            '\n'.join(
                f'{self.source}: {key}: {msg}' if key else f'{self.source}: {msg}'
                for key, msg in self.problems
            )
        )


def read_yaml(path, source=None):
    """The decoded YAML document at `path` ('-': standard input); ConfigError naming `source`
    (default: the path) if it cannot be read or is not YAML."""
    source = source or ('standard input' if str(path) == '-' else str(path))
    try:
        text = sys.stdin.read() if str(path) == '-' else Path(path).read_text(encoding='utf-8')
        return yaml.safe_load(text)
    except OSError as e:
        raise ConfigError(source, [('', f'cannot read: {e.strerror}')]) from None
    except UnicodeDecodeError:
        raise ConfigError(source, [('', 'cannot read: not a text file')]) from None
    except yaml.YAMLError as e:
        raise ConfigError(source, [('', f'not valid YAML: {e}')]) from None


class Validator:
    """Collects (key, message) problems while reading untrusted YAML. Each method reads one
    value, records what is wrong with it, and returns something usable (or None) so that
    reading goes on and every problem is found in one pass."""

    def __init__(self):
        self.problems = []

    def problem(self, key, message):
        self.problems.append((key, message))

    def mapping(self, obj, where, required, optional):
        if not isinstance(obj, dict):
            self.problem(where, f'must be a mapping, got {type(obj).__name__}')
            return {}
        for key in obj:
            if key not in required and key not in optional:
                allowed = ', '.join(sorted(map(str, (*required, *optional))))
                self.problem(key_of(where, key), f'unknown key (allowed: {allowed})')
        for key in required:
            if key not in obj:
                self.problem(key_of(where, key), 'missing required key')
        return obj

    def sequence(self, obj, where, allow_empty=False, max_items=None):
        if obj is MISSING or (obj is None and allow_empty):
            return []  # a missing required key is reported by mapping()
        if not isinstance(obj, list):
            self.problem(
                where,
                'must be a list, got nothing' if obj is None else f'must be a list, got {type(obj).__name__}',
            )
            return []
        if not obj and not allow_empty:
            self.problem(where, 'must not be empty')
        if max_items and len(obj) > max_items:
            self.problem(where, f'at most {max_items} items, got {len(obj)}')
            return []
        return obj

    def number(self, item, key, where, default, positive=False, minimum=None, maximum=None):
        """item[key] as a float, `default` when absent, None (and a problem) when not a finite
        number or out of bounds."""
        if key not in item:
            return default
        value = item[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.problem(key_of(where, key), f'must be a number, got {value!r}')
            return None
        if positive and value <= 0:
            self.problem(key_of(where, key), f'must be greater than 0, got {value!r}')
            return None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            bounds = f'{minimum}..{maximum}' if maximum is not None else f'at least {minimum}'
            self.problem(key_of(where, key), f'must be {bounds}, got {value!r}')
            return None
        return float(value)

    def value_number(self, value, key, **rule):
        """number() for a value that is not under a mapping key (`wait: 5`), named `key`."""
        return self.number({key: value}, key, '', None, **rule)

    def text(self, item, key, where, default=''):
        value = item.get(key, default)
        if not isinstance(value, str):
            self.problem(key_of(where, key), f'must be text, got {value!r}')
            return default
        return value


def key_of(where, key):
    """The path of `key` under `where`: 'spans[0]' and 'between' -> 'spans[0].between'."""
    return f'{where}.{key}' if where else str(key)
