"""naasctl reads bandwidth, latency and durations as people write them, and prints them back."""

import math

import pytest

from topologies.model.units import (
    format_bandwidth,
    format_latency,
    parse_bandwidth,
    parse_duration,
    parse_latency,
)


@pytest.mark.parametrize(
    'text, gbps',
    [
        ('10Gbps', 10),
        ('10 Gb/s', 10),
        ('10G', 10),
        ('10gbps', 10),
        ('10GBPS', 10),
        ('10', 10),
        ('10Gbit/s', 10),
        ('10 gbits/s', 10),
        ('10Gbit', 10),
        ('10Gb', 10),
        (' 10 Gbps ', 10),
        ('200Mbps', 0.2),
        ('200M', 0.2),
        ('200 mb/s', 0.2),
        ('1.5Tbps', 1500),
        ('1.5T', 1500),
        ('500kbps', 0.0005),
        ('500K', 0.0005),
        ('2.5', 2.5),
        ('.5G', 0.5),
        ('1e3M', 1),
        ('1000000000bps', 1),
        ('1000000000 bit/s', 1),
    ],
)
def test_parse_bandwidth(text, gbps):
    assert parse_bandwidth(text) == pytest.approx(gbps)


@pytest.mark.parametrize(
    'text, ms',
    [
        ('25ms', 25),
        ('25 ms', 25),
        ('25MS', 25),
        ('25', 25),
        ('0.4', 0.4),
        ('1.5s', 1500),
        ('2 S', 2000),
        ('500us', 0.5),
        ('500µs', 0.5),
        ('500μs', 0.5),
        ('500 US', 0.5),
    ],
)
def test_parse_latency(text, ms):
    assert parse_latency(text) == pytest.approx(ms)


@pytest.mark.parametrize('text, seconds', [('30s', 30), ('30', 30), ('500ms', 0.5), ('2.5 s', 2.5)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    'text', ['10Gbs', '10 GB/s x', 'Gbps', '', 'ten', '10Pbps', '10b', '10 ms', '1,5G', 'nan', 'inf']
)
def test_not_a_bandwidth(text):
    with pytest.raises(ValueError) as e:
        parse_bandwidth(text)
    assert str(e.value) == f'{text!r}: not a bandwidth; write it like 10Gbps, 200Mbps or 1.5Tbps'


@pytest.mark.parametrize('text', ['25 msec', 'ms', '', '25m', '25 Gbps', '25ns', 'nan'])
def test_not_a_latency(text):
    with pytest.raises(ValueError) as e:
        parse_latency(text)
    assert str(e.value) == f'{text!r}: not a latency; write it like 25ms, 500us or 1.5s'


@pytest.mark.parametrize(
    'parse, text',
    [
        (parse_bandwidth, '0'),
        (parse_bandwidth, '0Gbps'),
        (parse_bandwidth, '-10Gbps'),
        (parse_bandwidth, '1e400G'),
        (parse_latency, '0ms'),
        (parse_latency, '-5ms'),
        (parse_latency, '1e400'),
        (parse_duration, '0s'),
    ],
)
def test_zero_negative_and_infinite_are_refused(parse, text):
    with pytest.raises(ValueError, match='must be a finite number more than 0') as e:
        parse(text)
    assert str(e.value).startswith(repr(text))


def test_durations_say_what_they_accept():
    with pytest.raises(ValueError, match="'soon': not a duration; write it like 30s"):
        parse_duration('soon')


@pytest.mark.parametrize(
    'gbps, text',
    [
        (10, '10 Gb/s'),
        (0.2, '200 Mb/s'),
        (1500, '1.5 Tb/s'),
        (1000, '1 Tb/s'),
        (1, '1 Gb/s'),
        (12.3456, '12.35 Gb/s'),
        (0.0005, '500 kb/s'),
        (0.99999, '1 Gb/s'),
        (0, '0 Gb/s'),
        (400, '400 Gb/s'),
        (20000, '20 Tb/s'),
        (5e6, '5000 Tb/s'),
        (5e7, '50000 Tb/s'),
    ],
)
def test_format_bandwidth(gbps, text):
    assert format_bandwidth(gbps) == text


@pytest.mark.parametrize(
    'ms, text',
    [
        (25, '25 ms'),
        (0.4, '0.4 ms'),
        (18.234, '18.23 ms'),
        (1500, '1500 ms'),
        (0, '0 ms'),
        (0.0004, '0.0004 ms'),
        (123456, '123456 ms'),
    ],
)
def test_format_latency(ms, text):
    assert format_latency(ms) == text


@pytest.mark.parametrize('gbps', [10, 0.2, 1500, 0.0005, 2.5])
def test_formatted_bandwidth_parses_back(gbps):
    assert math.isclose(parse_bandwidth(format_bandwidth(gbps).replace(' ', '')), gbps)
