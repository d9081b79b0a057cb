"""Bandwidth, latency and durations as people write them (10Gbps, 200 Mb/s, 25ms, 30s).

The API speaks Gb/s and ms; these turn text into those numbers and numbers back into text.
"""

import math
import re

_NUMBER = r'[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?'
# A bandwidth unit: an optional SI prefix, then b, bps, b/s, bit/s, bits/s, bit or bits.
_BANDWIDTH = re.compile(rf'({_NUMBER})\s*([kmgt]?)(bps|b/s|bits?/s|bits?|b)?', re.IGNORECASE)
_BANDWIDTH_PREFIX_GBPS = {'': 1e-9, 'k': 1e-6, 'm': 1e-3, 'g': 1.0, 't': 1e3}
_TIME = re.compile(rf'({_NUMBER})\s*(s|ms|us|µs|μs)?', re.IGNORECASE)
_TIME_MS = {'s': 1e3, 'ms': 1.0, 'us': 1e-3, 'µs': 1e-3, 'μs': 1e-3}


def parse_bandwidth(text):
    """'10Gbps', '10 Gb/s', '10G', '200Mbps', '1.5Tbps', '500kbps' -> Gb/s; a bare number is Gb/s."""
    match = _BANDWIDTH.fullmatch(str(text).strip())
    if not match or (match[2] == '' and match[3] is not None and match[3].lower() == 'b'):
        raise ValueError(f'{text!r}: not a bandwidth; write it like 10Gbps, 200Mbps or 1.5Tbps')
    number, prefix, suffix = match.groups()
    scale = 1.0 if not prefix and suffix is None else _BANDWIDTH_PREFIX_GBPS[prefix.lower()]
    return _positive(text, float(number) * scale, 'bandwidth')


def parse_latency(text):
    """'25ms', '25 ms', '1.5s', '500us', '500µs' -> ms; a bare number is ms."""
    match = _TIME.fullmatch(str(text).strip())
    if not match:
        raise ValueError(f'{text!r}: not a latency; write it like 25ms, 500us or 1.5s')
    number, unit = match.groups()
    return _positive(text, float(number) * _TIME_MS[(unit or 'ms').lower()], 'latency')


def parse_duration(text):
    """'30s', '500ms', '2' -> seconds; a bare number is seconds (for timeouts and intervals)."""
    match = _TIME.fullmatch(str(text).strip())
    if not match:
        raise ValueError(f'{text!r}: not a duration; write it like 30s, 2.5s or 500ms')
    number, unit = match.groups()
    return _positive(text, float(number) * _TIME_MS[(unit or 's').lower()] / 1e3, 'duration')


def format_bandwidth(gbps):
    """10 -> '10 Gb/s', 0.2 -> '200 Mb/s', 1500 -> '1.5 Tb/s'."""
    gbps = float(f'{gbps:.4g}')  # round first, so that 0.99999 is '1 Gb/s', not '1000 Mb/s'
    for unit, scale in (('Tb/s', 1e3), ('Gb/s', 1.0), ('Mb/s', 1e-3), ('kb/s', 1e-6)):
        if abs(gbps) >= scale:
            return f'{_number(gbps / scale)} {unit}'
    return f'{_number(gbps * 1e9)} b/s' if gbps else '0 Gb/s'


def format_latency(ms):
    """25 -> '25 ms', 0.4 -> '0.4 ms' (always ms, so that latencies compare at a glance)."""
    return f'{_number(ms)} ms'


def _positive(text, value, what):
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f'{text!r}: the {what} must be a finite number more than 0')
    return value


def _number(value):
    """Four significant digits, never in exponent form: 12.35, 0.4, 25, 20000."""
    if value == 0:
        return '0'
    decimals = max(0, 3 - math.floor(math.log10(abs(value))))
    return f'{value:.{decimals}f}'.rstrip('0').rstrip('.') if decimals else f'{value:.0f}'
