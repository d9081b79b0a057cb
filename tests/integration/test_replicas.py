"""Controller replicas on etcd in front of the emulated fabric (real Open vSwitch, real etcd,
the real controller processes): every switch connects to every replica, the leader is MASTER.
A killed leader costs no frame of a protected nor of an unprotected intent (the switches keep
their tables) and a new leader takes the switches over; a paused leader, resumed after it was
replaced, changes nothing in any switch."""

import threading
import time

import pytest

from naasctl.client import ApiError
from tests.integration.helpers import installed, order, wait_for
from topologies.emulation.probe import Probe
from topologies.lab.lab import Lab
from topologies.model.fabric import load_fabric

pytestmark = pytest.mark.root

TRIANGLE = load_fabric('triangle')


def flows(lab):
    """Every switch's flows, without the counters that change as traffic flows."""
    tables = {}
    for site in TRIANGLE.sites:
        out = lab.emulation.switch(site).ofctl('dump-flows').stdout
        tables[site] = sorted(
            ' '.join(
                f
                for f in line.split(', ')
                if not f.startswith(('duration=', 'n_packets=', 'n_bytes=', 'idle_age='))
            )
            for line in out.splitlines()
            if 'cookie=' in line
        )
    return tables


def test_a_killed_leader_costs_no_frame_and_its_successor_takes_the_switches(tmp_path):
    with Lab(TRIANGLE, tmp_path, replicas=2) as lab:
        replicas = lab.controller
        protected, plain = order(
            replicas, ('red', 'dca', 'dcc', 1, {'protected': True}), ('red', 'dca', 'dcb', 1)
        )
        installed(replicas, protected, plain)
        probes = [
            Probe(lab.host(('red', 'dca')), lab.host(('red', site)), lab.ip(('red', site))).start()
            for site in ('dcc', 'dcb')
        ]
        try:
            time.sleep(0.5)
            old = replicas.leader()
            replicas.kill(old)
            killed = time.monotonic()
            new = wait_for(
                'a new leader', lambda: (k := replicas.leader(timeout_s=0)) not in (None, old) and k, 10
            )
            (third,) = order(replicas, ('blue', 'dca', 'dcc', 1))  # the new leader programs switches
            installed(replicas, third)
            took = time.monotonic() - killed
            time.sleep(0.5)
            results = [probe.stop() for probe in probes]
        finally:
            for probe in probes:
                probe.kill()
        lost = [f'{r.lost} of {r.sent}' for r in results]
        print(f'leader r{old} killed: r{new} installed a new intent {took:.2f} s later; probes lost {lost}')
        for result in results:
            assert result.received > 0 and result.lost == 0, result
        log = replicas.processes[new].log()
        assert 'master of 3 of 3 switches' in log, log[-2000:]


def test_a_paused_leader_resumed_after_it_was_replaced_changes_nothing(tmp_path):
    """While it is paused a request waits in its socket; resumed, it places the intent in its
    memory and would program it, but etcd refuses the write and the switches its messages."""
    with Lab(TRIANGLE, tmp_path, replicas=2) as lab:
        replicas = lab.controller
        (first,) = order(replicas, ('red', 'dca', 'dcc', 1))
        installed(replicas, first)
        old = replicas.leader()
        replicas.pause(old)
        refused = []
        try:
            new = wait_for(
                'a new leader', lambda: (k := replicas.leader(timeout_s=0)) not in (None, old) and k, 10
            )
            # Straight to it: a client would wait out its timeout on the paused one first.
            (second,) = order(replicas.processes[new], ('red', 'dca', 'dcb', 1))
            installed(replicas.processes[new], second)
            time.sleep(1.0)
            before = flows(lab)

            def create_on_the_old_leader():
                with replicas.processes[old].client('blue', timeout_s=20) as blue:
                    try:
                        blue.create_intent('dca', 'dcc', 1)
                    except ApiError as e:
                        refused.append(e.code.name)

            waiting = threading.Thread(target=create_on_the_old_leader)
            waiting.start()
            time.sleep(0.5)  # the request waits in the paused process's socket
        finally:
            replicas.resume(old)
        waiting.join(30)
        assert replicas.processes[old].proc.wait(10) in (1, 3)
        assert refused, 'the old leader acknowledged a create'
        time.sleep(1.0)
        assert flows(lab) == before
        with replicas.processes[new].client() as operator:
            assert {i.id for i in operator.list_intents()} == {first, second}


def test_a_span_cut_during_a_failover_is_repaired(tmp_path):
    """The leader killed and a span of both intents' paths cut at once: the protected intent
    is carried on by the switches' fast failover; the unprotected one is moved by the new
    leader once it leads (about its election time, plus the restoration it always takes)."""
    with Lab(TRIANGLE, tmp_path, replicas=2) as lab:
        replicas = lab.controller
        protected, plain = order(
            replicas, ('red', 'dca', 'dcc', 1, {'protected': True}), ('blue', 'dca', 'dcc', 1)
        )
        got = installed(replicas, protected, plain)
        assert list(got[0].path) == list(got[1].path) == ['dca', 'dcc'], got
        probes = [
            Probe(lab.host((tenant, 'dca')), lab.host((tenant, 'dcc')), lab.ip((tenant, 'dcc'))).start()
            for tenant in ('red', 'blue')
        ]
        try:
            time.sleep(0.5)
            replicas.kill(replicas.leader())
            lab.span_down('dca', 'dcc')
            cut = time.monotonic()
            with replicas.client() as client:
                wait_for(
                    'the unprotected intent moved',
                    lambda: list(client.get_intent(plain).path) == ['dca', 'dcb', 'dcc'],
                    15,
                )
            moved = time.monotonic() - cut
            time.sleep(0.5)
            guarded, unguarded = (probe.stop() for probe in probes)
        finally:
            for probe in probes:
                probe.kill()
        print(
            f'cut during a failover: protected out {guarded.longest_outage_ms:.0f} ms; '
            f'unprotected out {unguarded.longest_outage_ms:.0f} ms, moved {moved:.2f} s after the cut'
        )
        assert guarded.received > 0 and guarded.longest_outage_ms < 100, guarded
        assert unguarded.received > 0 and unguarded.longest_outage_ms < 10_000, unguarded
