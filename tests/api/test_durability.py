"""Group commit keeps every promise of a write-through store, on the real naas-controller:
an intent the API acknowledged survives a SIGKILL however many clients were creating at once,
and the creator reads it back at once (the read model has it before the answer leaves)."""

import subprocess
import threading

import pytest

from naasctl.client import ApiError
from topologies.lab.controller_process import ControllerProcess
from topologies.lab.tenants import with_tenants

CLIENTS = 8


def test_every_acknowledged_create_survives_a_sigkill_under_concurrent_creates(tmp_path):
    fabric = with_tenants('lumen-qts', CLIENTS, tmp_path / 'fabric.yaml')
    campuses = next(iter(fabric.tenants.values())).sites
    pairs = [(a, b) for i, a in enumerate(campuses) for b in campuses[i + 1 :]]
    ctl = ControllerProcess(
        str(tmp_path / 'fabric.yaml'), tmp_path / 'naas.db', tmp_path / 'controller.log',
        extra_args=['--southbound', 'loopback'],
    )  # fmt: skip
    ctl.start()
    try:
        acknowledged, unread, errors = [], [], []
        enough = threading.Event()

        def tenant(name):
            with ctl.client(name) as naas:
                for src, dst in pairs:
                    try:
                        made = naas.create_intent(src, dst, 0.001)
                    except ApiError as e:  # the controller is gone: stop
                        errors.append(e.code.name)
                        return
                    acknowledged.append(made.id)
                    try:
                        if naas.get_intent(made.id).id != made.id:
                            unread.append(made.id)
                    except ApiError as e:
                        errors.append(e.code.name)
                        return
                    if len(acknowledged) >= CLIENTS * 30:
                        enough.set()

        threads = [threading.Thread(target=tenant, args=(t,)) for t in fabric.tenants]
        for t in threads:
            t.start()
        assert enough.wait(60), 'the creates did not get going'
        ctl.kill()  # SIGKILL in the middle of the stream
        for t in threads:
            t.join(30)
        assert not unread, unread
        assert set(errors) <= {'UNAVAILABLE', 'CANCELLED', 'UNKNOWN'}, errors
        ctl.start()
        with ctl.client() as operator:
            kept = {i.id for i in operator.list_intents()}
        lost = set(acknowledged) - kept
        assert not lost, f'{len(lost)} of {len(acknowledged)} acknowledged intents lost: {sorted(lost)[:5]}'
        assert ctl.stop() == 0
    finally:
        ctl.stop()  # by its pid; nothing if it is not running


@pytest.mark.root  # chattr +i needs CAP_LINUX_IMMUTABLE
def test_a_controller_whose_store_cannot_write_refuses_and_stops(tmp_path):
    """The database made immutable under a running controller: the next create is refused
    UNAVAILABLE, never acknowledged, and the controller stops (exit 1); started again, it has
    what it acknowledged before and nothing else."""
    ctl = ControllerProcess(
        'triangle', tmp_path / 'naas.db', tmp_path / 'controller.log', extra_args=['--southbound', 'loopback']
    )
    ctl.start()
    frozen = []
    try:
        with ctl.client('red') as red:
            kept = red.create_intent('dca', 'dcb', 1)
            for name in ('naas.db', 'naas.db-wal'):
                subprocess.run(['chattr', '+i', str(tmp_path / name)], check=True)
                frozen.append(tmp_path / name)
            with pytest.raises(ApiError) as refused:
                red.create_intent('dca', 'dcc', 1)
            assert refused.value.code.name == 'UNAVAILABLE', refused.value
            assert 'naas.db failed to write' in str(refused.value)
        assert ctl.proc.wait(15) == 1
        assert 'cannot write' in ctl.log()
    finally:
        for path in frozen:
            subprocess.run(['chattr', '-i', str(path)], check=True)
        ctl.stop()
    ctl.start()
    try:
        with ctl.client('red') as red:
            assert [i.id for i in red.list_intents()] == [kept.id]
    finally:
        assert ctl.stop() == 0
