"""naas-controller as a process (loopback southbound: no switches needed), as an attacker and an
operator would meet it: its log never holds a token and stays short whatever clients send,
and a second controller on the same database refuses to start."""

import socket
import subprocess
import sys
import time

import pytest

from controller.logs import RATE
from tests.api import rawh2
from topologies.lab.controller_process import ControllerProcess


@pytest.fixture
def controller(tmp_path):
    ctl = ControllerProcess(
        'triangle',
        tmp_path / 'naas.db',
        tmp_path / 'controller.log',
        extra_args=['--southbound', 'loopback', '--log-level', 'debug'],
    )
    ctl.start()
    yield ctl
    ctl.stop()


def test_no_token_reaches_the_log_and_bad_requests_stay_a_few_short_lines(controller):
    token = controller.tokens['red']
    get = '/naas.v1.IntentService/GetIntent'
    request = b'\x0a\x03i-1'
    sent = [
        [(b'authorization', b'Bearer ' + token.encode() + b'\xff')],  # grpcio logged this one in full
        [(b'authorization', b'\xffBearer ' + token.encode())],
        [(b'authorization', b'Bearer ' + token.encode()), (b'authorization', b'Bearer ' + token.encode())],
        [(b'authorization', b'Bearer ' + token.encode() + b' ')],
        [(b'authorization', b'Bearer ' + token.encode())],
    ]
    for headers in sent:
        assert rawh2.call(controller.grpc_target, get, request, headers), headers  # answered
    for _ in range(3 * RATE):  # random bytes, before authentication, as fast as they go
        assert rawh2.call(controller.grpc_target, get, b'\xff\xff\xff')
    with controller.client('red') as red:  # the controller serves on
        assert red.list_intents() is not None and red.health() == 'SERVING'
    time.sleep(0.2)
    log = controller.log()
    assert token not in log and token[:12] not in log, log[-3000:]
    assert not any(t in log for t in controller.tokens.values())
    assert 'Traceback' not in log, log[-3000:]
    assert max(map(len, log.splitlines())) < 2100
    refusals = [line for line in log.splitlines() if 'refused before authentication' in line]
    assert 1 <= len(refusals) <= RATE, refusals


def test_a_second_controller_on_the_same_database_refuses_to_start(controller, tmp_path):
    second = ControllerProcess(
        'triangle', controller.db, tmp_path / 'second.log', extra_args=['--southbound', 'loopback']
    )
    with pytest.raises(RuntimeError, match='in use by another naas-controller'):
        second.start()
    assert second.proc.returncode == 2
    with controller.client('red') as red:  # the first one is untouched
        made = red.create_intent('dca', 'dcb', 1)
        assert red.get_intent(made.id).id == made.id
    # Once the first has stopped (here: killed, so the kernel drops its lock), the database
    # is free, and what it acknowledged is there.
    controller.kill()
    second.start()
    with second.client('red') as red:
        assert red.get_intent(made.id).id == made.id
    assert second.stop() == 0


def test_the_check_command_needs_no_lock(controller):
    """`naas-controller --check` reads files only: it may run beside the controller."""
    command = ['--fabric', 'triangle', '--auth', controller.auth_path, '--check']
    run = subprocess.run(
        [sys.executable, '-m', 'controller.main', *command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_http_port_is_checked_before_anything_starts(controller, tmp_path):
    """A bad --http-port, or one another program holds, stops naas-controller with a message
    naming it."""
    base = [sys.executable, '-m', 'controller.main', '--fabric', 'triangle', '--auth', controller.auth_path]
    base += ['--southbound', 'loopback', '--grpc-port', '0']
    with socket.socket() as held:
        held.bind(('127.0.0.1', 0))
        held.listen()
        port = held.getsockname()[1]
        for args, message in (
            (['--http-port', '70000'], '--http-port: a port from 0 to 65535'),
            (['--http-port', str(port)], f'cannot listen for HTTP on 127.0.0.1:{port}'),
        ):
            db = tmp_path / f'{args[1]}.db'
            run = subprocess.run([*base, '--db', str(db), *args], capture_output=True, text=True, timeout=60)
            assert run.returncode == 2 and message in run.stderr, run.stderr[-2000:]
