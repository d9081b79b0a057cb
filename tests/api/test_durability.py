"""Group commit keeps every promise of a write-through store, on the real naas-controller:
an intent the API acknowledged survives a SIGKILL however many clients were creating at once,
and the creator reads it back at once (the read model has it before the answer leaves)."""

import threading

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
