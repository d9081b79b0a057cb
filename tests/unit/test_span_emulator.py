"""The span emulator's program and its control channel, without root: it runs for real, but
opens no interface (those tests are in tests/integration/test_span_emulator.py)."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from topologies.emulation import span
from topologies.emulation.net import Emulation, EmulationError
from topologies.emulation.span import SpanEmulator, SpanEmulatorMissing, spand_path
from topologies.model.fabric import load_fabric


def start(*args):
    proc = subprocess.Popen([spand_path(), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert json.loads(proc.stdout.readline()) == {'ready': True}
    return proc


def ask(proc, line):
    proc.stdin.write(line + b'\n')
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


@pytest.fixture
def spand():
    proc = start('--label', 'unit')
    yield proc
    proc.stdin.close()
    assert proc.wait(5) == 0
    proc.stdout.close()


def test_the_program_is_built_and_current():
    path = spand_path()
    assert path == os.path.join(sys.prefix, 'bin', 'naas-spand')


@pytest.mark.skipif(shutil.which('gcc') is None, reason='needs gcc')
def test_source_compiles_without_warnings(tmp_path):
    p = subprocess.run(
        [
            'gcc',
            '-O2',
            '-Wall',
            '-Wextra',
            '-Werror',
            '-o',
            str(tmp_path / 'spand'),
            str(span.SPAND_SOURCE),
            '-lm',
        ],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr


def test_no_spans_no_stats(spand):
    assert ask(spand, b'{"stats": true}') == {'spans': {}}


@pytest.mark.parametrize(
    'line, error',
    [
        (b'not json', 'JSON object'),
        (b'[1, 2]', 'JSON object'),
        (b'{"stats": true', 'JSON object'),
        (b'{"stats": true} trailing', 'JSON object'),
        (b'{"stats": {"nested": 1}}', 'JSON object'),
        (b'{"delay_ms": NaN}', 'JSON object'),
        (b'{"stats": true, "stats": true}', 'twice'),
        (b'{}', 'one of the keys'),
        (b'{"bogus": 1}', 'one of the keys'),
        (b'{"stats": 5}', 'stats: true, or the id'),
        (b'{"stats": "nope"}', 'stats: true, or the id'),
        (b'{"stats": true, "x": 1}', 'unknown key x'),
        (b'{"set": "nope", "delay_ms": 5}', 'no such span'),
        (b'{"remove": "nope"}', 'no such span'),
        (b'{"add": "x-y", "a": "x", "b": "y"}', 'delay_ms must be'),
        (b'{"add": "x-y", "a": "x", "b": "y", "delay_ms": -1}', 'delay_ms must be'),
        (b'{"add": "x-y", "a": "x", "b": "y", "delay_ms": "5"}', 'delay_ms must be'),
        (b'{"add": "x-y", "a": "x", "b": "y", "delay_ms": true}', 'delay_ms must be'),
        (b'{"add": "x-y", "a": "x", "b": "y", "delay_ms": 1, "jitter_ms": 1}', 'unknown key jitter_ms'),
        (b'{"add": "x-y", "a": "x", "delay_ms": 1}', 'interface names'),
        (b'{"add": "x-y", "a": "x", "b": "an-interface-name-too-long", "delay_ms": 1}', 'interface names'),
        (b'{"add": "", "a": "x", "b": "y", "delay_ms": 1}', 'non-empty string'),
        (b'{"add": "x-y", "a": "nonexistent0", "b": "y", "delay_ms": 1}', 'cannot open nonexistent0'),
        (b'\xff\xfe', 'JSON object'),
    ],
)
def test_a_bad_command_gets_an_error_and_changes_nothing(spand, line, error):
    reply = ask(spand, line)
    assert set(reply) == {'error'} and error in reply['error'], reply
    assert ask(spand, b'{"stats": true}') == {'spans': {}}  # still serving, nothing added


def test_one_reply_a_line_with_blank_lines_ignored(spand):
    spand.stdin.write(b'\n  \n{"stats": true}\n{"remove": "a"}\n{"stats": true}\n')
    spand.stdin.flush()
    replies = [json.loads(spand.stdout.readline()) for _ in range(3)]
    assert replies == [{'spans': {}}, {'error': 'remove: no such span'}, {'spans': {}}]


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
def test_exits_cleanly_on_a_signal(sig):
    proc = start('--label', 'unit')
    proc.send_signal(sig)
    assert proc.wait(5) == 0
    proc.stdin.close()
    proc.stdout.close()


def test_rejects_unknown_arguments():
    p = subprocess.run([spand_path(), '--delay-ms', '5'], capture_output=True, text=True, timeout=5)
    assert p.returncode == 2 and 'usage' in p.stderr


def test_client_raises_the_emulators_error_and_keeps_it_running():
    emulator = SpanEmulator('unit')
    assert emulator.stats() == {} and emulator.pid is None  # not started until a span needs it
    with pytest.raises(RuntimeError, match='cannot open nonexistent0'):
        emulator.add('x-y', 'nonexistent0', 'nonexistent1', 5)
    try:
        assert emulator.pid is not None and emulator.stats() == {}
        with pytest.raises(RuntimeError, match='no such span'):
            emulator.set_delay('x-y', 4)
    finally:
        emulator.stop()
    assert emulator.pid is None


def test_missing_or_stale_program_is_named_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, 'prefix', str(tmp_path))
    with pytest.raises(SpanEmulatorMissing, match=r'naas-spand is not built: run scripts/setup-host.sh'):
        spand_path()
    (tmp_path / 'bin').mkdir()
    program = tmp_path / 'bin' / 'naas-spand'
    program.write_text('')
    program.chmod(0o755)
    os.utime(program, (0, 0))  # older than its source
    with pytest.raises(SpanEmulatorMissing, match=r'older than .*spand\.c: run scripts/setup-host\.sh'):
        spand_path()


def test_the_emulation_refuses_to_start_without_it(tmp_path, monkeypatch):
    monkeypatch.setenv('NAAS_SPAN_EMULATOR', 'relay')  # as on these machines: no netem
    monkeypatch.setattr(sys, 'prefix', str(tmp_path))
    with pytest.raises(
        EmulationError, match=r'cannot build fabric triangle: the span emulator .* is not built'
    ):
        Emulation(load_fabric('triangle')).start()
