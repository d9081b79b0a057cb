"""The policy engine on real switches: protected intents fail over in the switches, a slower
span moves the intents whose bound it breaks, a flapping span does not make intents flap.
naas-controller as a process, Mininet with Open vSwitch, orders through the gRPC API, and
outages measured with the 1 kHz UDP probe."""

import threading
import time

import pytest

from naas.v1 import intent_pb2
from tests.integration.helpers import all_up, installed, ip, measured, order, path_of, reaches, wait_for
from topologies.emulation.net import Emulation
from topologies.emulation.probe import Probe
from topologies.lab.controller_process import ControllerProcess
from topologies.model.fabric import load_fabric

pytestmark = pytest.mark.root

TRIANGLE = load_fabric('triangle')
LUMEN = load_fabric('lumen-qts')
# Quick to settle, so the tests see re-optimization within seconds.
POLICY = 'span_hold_s: 1\nmax_hold_s: 4\nreoptimize_every_s: 5\nmove_hold_s: 0\n'


def controller(tmp, fabric):
    (tmp / 'policy.yaml').write_text(POLICY)
    return ControllerProcess(
        fabric, tmp / 'naas.db', tmp / 'controller.log', extra_args=['--policy', str(tmp / 'policy.yaml')]
    ).start()


def stopped(ctl):
    status = ctl.stop()
    assert status == 0, ctl.log()[-3000:]
    assert ctl.problems() == []


class Watcher:
    """Every intent event, collected from the operator's Watch stream in a thread."""

    def __init__(self, ctl):
        self.client = ctl.client()
        self.stream = self.client.watch_intents()
        self.events = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for event in self.stream:
            self.events.append(event)

    def moves(self, intent_id):
        return [
            e
            for e in self.events
            if e.intent_id == intent_id
            and e.state == intent_pb2.INTENT_STATE_INSTALLING
            and e.old_path
            and e.new_path
            and list(e.old_path) != list(e.new_path)
        ]

    def close(self):
        self.stream.cancel()
        self.thread.join(5)
        self.client.close()


# Class-scoped: each fabric is torn down before the next one's tests, whose delay
# measurements a second running fabric would disturb.
@pytest.fixture(scope='class')
def lumen(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('policy-lumen')
    ctl = controller(tmp, 'lumen-qts')
    try:
        with Emulation(LUMEN, controller=ctl.address) as emu:
            all_up(ctl)
            yield dict(emu=emu, ctl=ctl)
    finally:
        stopped(ctl)


@pytest.fixture(scope='class')
def triangle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('policy-triangle')
    ctl = controller(tmp, 'triangle')
    try:
        with Emulation(TRIANGLE, controller=ctl.address) as emu:
            all_up(ctl)
            yield dict(emu=emu, ctl=ctl)
    finally:
        stopped(ctl)


def cut_under_probe(emu, ctl, intent, src, dst, tenant, hop):
    """Cut the span at `hop` of the intent's path under a 1 kHz probe, and keep probing until
    the controller has moved the intent off it (so its move is measured too); the result."""
    path = path_of(ctl, intent)
    a, b = path[hop], path[hop + 1]
    host, target = emu.host(tenant, src), ip(LUMEN, tenant, dst)
    wait_for('traffic', lambda: reaches(host, target))

    def moved_off(client):
        got = client.get_intent(intent)
        return got.state == intent_pb2.INTENT_STATE_INSTALLED and {a, b} not in map(
            set, zip(got.path, got.path[1:])
        )

    try:
        with Probe(host, emu.host(tenant, dst), target) as probe, ctl.client() as client:
            time.sleep(1.0)
            emu.span_up(a, b, False)
            wait_for('moved off the cut span', lambda: moved_off(client))
            time.sleep(0.5)
    finally:
        emu.span_up(a, b, True)
    result = probe.result()
    print(
        f'\n{intent} cut {a}-{b} (hop {hop} of {"->".join(path)}): outage '
        f'{result.longest_outage_ms} ms, {result.lost} lost; '
        f'gaps {[(round(o.start_ms), o.duration_ms) for o in result.outages]}; '
        f'path now {"->".join(path_of(ctl, intent))}'
    )
    installed(ctl, intent)
    return result


# The goal is under 50 ms on any single span cut (carrier restoration, as SONET APS);
# measured 0-32 ms (10 cuts on lumen-qts, scripts/bench/failover.py, 2026-11-29), of which
# the frames in flight on the cut span are a few ms. The bound leaves room for a loaded CI machine.
PROTECTED_OUTAGE_MS = 75


class TestFailoverOnLumen:
    """Cuts under a 1 kHz probe on lumen-qts."""

    @pytest.mark.parametrize('hop', [0, 3])
    def test_a_protected_intent_fails_over_in_the_switches(self, lumen, hop):
        """The switches take the backup by themselves; the controller's move onto a new backup
        afterwards (make-before-break) loses nothing: one outage at most, the cut's."""
        emu, ctl = lumen['emu'], lumen['ctl']
        (intent,) = order(ctl, ('acme', 'phx1', 'iad1', 4, dict(protected=True)))
        installed(ctl, intent)
        try:
            result = cut_under_probe(emu, ctl, intent, 'phx1', 'iad1', 'acme', hop)
            assert len(result.outages) <= 1
            assert result.longest_outage_ms < PROTECTED_OUTAGE_MS
            with ctl.client() as client:  # protected again on a new backup (or saying why not)
                got = wait_for(
                    're-protected',
                    lambda: (i := client.get_intent(intent)).state == intent_pb2.INTENT_STATE_INSTALLED and i,
                )
            assert list(got.backup_path) or 'unprotected for now' in got.state_reason
        finally:
            with ctl.client() as client:
                client.delete_intent(intent)

    def test_an_unprotected_intent_is_rerouted_in_under_a_second(self, lumen):
        emu, ctl = lumen['emu'], lumen['ctl']
        (intent,) = order(ctl, ('globex', 'atl1', 'pdx2', 4))
        installed(ctl, intent)
        assert cut_under_probe(emu, ctl, intent, 'atl1', 'pdx2', 'globex', 2).longest_outage_ms < 1000


class TestReactionOnTriangle:
    """Slower and flapping spans on the triangle."""

    def test_a_slower_span_moves_the_bound_intent_and_the_tolerant_one_stays(self, triangle):
        """The goal is a move within 3 s: 1.5-2.5 s measured on a quiet machine, 5 s once in CI under
        load, so this allows 8 s and prints the figure."""
        emu, ctl = triangle['emu'], triangle['ctl']
        # dca-dcc at 3 ms, not its 9: the direct path is then clearly the faster (via dcb: 10 ms),
        # whatever the measurement noise all_up tolerates (20% + 2 ms) says.
        emu.set_span_delay('dca', 'dcc', 3)
        all_up(ctl, {s.id: (True, 3 if s.id == 'dca-dcc' else s.delay_ms) for s in TRIANGLE.spans})
        bound, tolerant = order(
            ctl, ('red', 'dca', 'dcc', 2, dict(max_latency_ms=12)), ('blue', 'dca', 'dcc', 2)
        )
        try:
            installed(ctl, bound, tolerant)
            assert path_of(ctl, bound) == path_of(ctl, tolerant) == ['dca', 'dcc'], measured(ctl)
            time.sleep(2)  # the delay estimates have settled
            watcher = Watcher(ctl)
            try:
                emu.set_span_delay('dca', 'dcc', 15)  # 3 -> 15 ms; via dcb it is 10 ms
                slowed = time.monotonic()
                wait_for(
                    'bound intent moved', lambda: path_of(ctl, bound) == ['dca', 'dcb', 'dcc'], timeout_s=15
                )
                reaction = time.monotonic() - slowed
                installed(ctl, bound)
                time.sleep(1)
            finally:
                watcher.close()
            print(f'\nreaction to the latency violation: {reaction:.2f} s')
            assert reaction < 8.0
            assert reaches(emu.host('red', 'dca'), ip(TRIANGLE, 'red', 'dcc'))
            (move,) = watcher.moves(bound)
            assert 'over the 12 ms bound (span dca-dcc measured 1' in move.reason
            assert watcher.moves(tolerant) == [] and path_of(ctl, tolerant) == ['dca', 'dcc']
        finally:
            emu.set_span_delay('dca', 'dcc', 9)
            with ctl.client() as client:
                for intent in (bound, tolerant):
                    client.delete_intent(intent)

    def test_a_span_flapping_20_times_in_10_s_moves_no_intent_more_than_twice(self, triangle):
        emu, ctl = triangle['emu'], triangle['ctl']
        red, blue = order(ctl, ('red', 'dca', 'dcc', 2), ('blue', 'dca', 'dcc', 2, dict(protected=True)))
        installed(ctl, red, blue)
        a, b = path_of(ctl, red)[:2]  # a span red uses (blue's primary or backup crosses it)
        watcher = Watcher(ctl)
        try:
            for _ in range(20):
                emu.span_up(a, b, False)
                time.sleep(0.25)
                emu.span_up(a, b, True)
                time.sleep(0.25)
            time.sleep(4 + 5 + 2)  # max_hold_s, then a re-optimization round
            with ctl.client() as client:
                wait_for(
                    'settled',
                    lambda: all(
                        client.get_intent(i).state == intent_pb2.INTENT_STATE_INSTALLED for i in (red, blue)
                    ),
                    timeout_s=30,
                )
        finally:
            watcher.close()
        for intent in (red, blue):
            moved = watcher.moves(intent)
            print(
                f'\n{intent}: {len(moved)} path changes: '
                f'{[(list(e.old_path), list(e.new_path), e.reason) for e in moved]}'
            )
            assert len(moved) <= 2
        assert reaches(emu.host('red', 'dca'), ip(TRIANGLE, 'red', 'dcc'))
