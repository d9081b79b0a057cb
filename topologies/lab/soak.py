"""A chaos soak: for some minutes, failures one after another on a running lab and API load
from every tenant, with the promises checked all along (`naas-lab soak`).

Failures, in a shuffled cycle so that a short soak meets each: a span cut (restored after a
few seconds; on a protected intent's path, measured by the 1 kHz outage probe), a span that
flaps, a span slowed, a span losing 10% or stalling (carrier up), a site down and back, the
controller killed (SIGKILL) and started again. Load: a thread per tenant creates (with a
request id, retried through restarts until answered), updates, deletes and lists its intents.

Checked every couple of seconds, and once more at the end: no span direction reserved over
its capacity; every intent a create acknowledged (and no delete took) is there, also after
each restart; every intent INSTALLED, or saying why (FAILED with a reason; not stuck
installing); no ping between two tenants' hosts; protected intents' outages at a cut within
50 ms (a cut measured while a span emulator lied is left out, not judged); no INTERNAL or
UNKNOWN answer. Any breach is a violation: exit 1.
"""

import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import grpc

from naas.v1 import intent_pb2
from naasctl.client import ApiError, enum_name
from topologies.emulation import budget
from topologies.emulation.probe import Probe
from topologies.lab.lab import pings

FAILURES = ('span_cut', 'span_flap', 'span_slow', 'span_loss', 'site_restart', 'controller_kill')
CHECK_EVERY_S = 2.0
STUCK_S = 60.0  # installing this long is stuck
OUTAGE_MS = 50.0
RETRY_S = 30.0  # a create through a restart is retried this long with its request id
SETTLE_S = 90.0  # at the end, for every intent to be back where it can be
EXPECTED = {  # answers the load may get, by design
    grpc.StatusCode.OK,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.UNAVAILABLE,  # the controller is restarting
    grpc.StatusCode.DEADLINE_EXCEEDED,
}


@dataclass
class SoakReport:
    seconds: float = 0.0
    failures: Counter = field(default_factory=Counter)
    calls: Counter = field(default_factory=Counter)  # answers by status code name
    acknowledged: int = 0  # creates acknowledged
    checks: int = 0
    outages_ms: list = field(default_factory=list)  # protected intents' outages at cuts
    inconclusive: int = 0  # cuts measured while a span emulator lied
    violations: list = field(default_factory=list)

    @property
    def exit_code(self):
        return 1 if self.violations else 0

    def as_dict(self):
        return {
            'seconds': round(self.seconds, 1),
            'failures': dict(self.failures),
            'calls': dict(self.calls),
            'acknowledged': self.acknowledged,
            'checks': self.checks,
            'outages_ms': [round(o, 1) for o in self.outages_ms],
            'inconclusive': self.inconclusive,
            'violations': self.violations,
        }

    def text(self):
        lines = [
            f'soak: {self.seconds:.0f} s, {sum(self.failures.values())} failures '
            f'({", ".join(f"{k} {v}" for k, v in sorted(self.failures.items()))}), '
            f'{sum(self.calls.values())} API calls, {self.acknowledged} creates acknowledged, '
            f'{self.checks} checks',
            'protected outages at cuts: '
            + (', '.join(f'{o:.0f}' for o in self.outages_ms) or 'none measured')
            + ' ms'
            + (f' ({self.inconclusive} inconclusive)' if self.inconclusive else ''),
        ]
        lines += [f'VIOLATION: {v}' for v in self.violations] or ['every promise held']
        return '\n'.join(lines)


class Soak:
    def __init__(self, lab, minutes, seed=None, say=lambda message: None):
        self.lab, self.fabric, self.say = lab, lab.fabric, say
        self.seconds = minutes * 60
        self.seed = seed
        self.random = random.Random(seed)  # the failures: the same seed, the same ones in order
        self._pick = random.Random(f'{seed}-checks')  # the checker's own (another thread)
        self.report = SoakReport()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._held = {}  # intent id -> tenant: acknowledged, not deleted by us
        self._protected = {}  # intent id -> (tenant, src, dst)
        self._installing_since = {}  # intent id -> when first seen not INSTALLED without a reason

    # --- the run ------------------------------------------------------------------------------

    def run(self):
        started = time.monotonic()
        self._first_intents()
        threads = [
            threading.Thread(target=self._load, args=(t, random.Random(f'{self.seed}-{t}')), daemon=True)
            for t in self.fabric.tenants
        ]
        threads.append(threading.Thread(target=self._checker, daemon=True))
        for thread in threads:
            thread.start()
        try:
            cycle = []
            while time.monotonic() - started < self.seconds:
                if not cycle:
                    cycle = list(FAILURES)
                    self.random.shuffle(cycle)
                failure = cycle.pop()
                getattr(self, f'_{failure}')()
                self.report.failures[failure] += 1
                self._stop.wait(self.random.uniform(2, 5))
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(timeout=RETRY_S + 10)
            self.lab.restore_spans()
        self._settle()
        self.report.seconds = time.monotonic() - started
        return self.report

    def _violation(self, text):
        with self._lock:
            if text not in self.report.violations:
                self.report.violations.append(text)
        self.say(f'VIOLATION: {text}')

    # --- intents and load ---------------------------------------------------------------------

    def _first_intents(self):
        """Each tenant: an intent between each pair of consecutive sites; the first protected."""
        for tenant in self.fabric.tenants.values():
            with self.lab.client(tenant.id) as client:
                for i, (a, b) in enumerate(zip(tenant.sites, tenant.sites[1:])):
                    try:
                        made = client.create_intent(a, b, 1, protected=i == 0)
                    except ApiError as e:  # no two disjoint paths: unprotected then
                        self.say(f'{tenant.id} {a}-{b}: {e.message}')
                        made = client.create_intent(a, b, 1)
                    self._hold(made.id, tenant.id)
                    if made.protection == intent_pb2.PROTECTION_PROTECTED:
                        self._protected[made.id] = (tenant.id, a, b)

    def _hold(self, intent_id, tenant):
        with self._lock:
            self._held[intent_id] = tenant
            self.report.acknowledged += 1

    def _count(self, code):
        with self._lock:
            self.report.calls[code.name] += 1
        if code not in EXPECTED:
            self._violation(f'an API call answered {code.name}')

    def _load(self, tenant_id, rng):
        tenant, n = self.fabric.tenants[tenant_id], 0
        pairs = [(a, b) for i, a in enumerate(tenant.sites) for b in tenant.sites[i + 1 :]]
        with self.lab.client(tenant_id, timeout_s=5) as client:
            while not self._stop.wait(rng.uniform(0.2, 1.0)):
                with self._lock:
                    mine = [i for i, t in self._held.items() if t == tenant_id and i not in self._protected]
                op = rng.choice(['create', 'create', 'update', 'delete', 'list'])
                try:
                    if op == 'create' and pairs:
                        n += 1
                        a, b = rng.choice(pairs)
                        self._create(client, tenant_id, a, b, rng.choice([0.5, 1]), f'soak-{tenant_id}-{n}')
                    elif op == 'update' and mine:
                        client.update_intent(rng.choice(mine), bandwidth_gbps=rng.choice([0.5, 1, 2]))
                        self._count(grpc.StatusCode.OK)
                    elif op == 'delete' and mine:
                        victim = rng.choice(mine)
                        with self._lock:  # untracked first: an unanswered delete may have happened
                            self._held.pop(victim, None)
                        client.delete_intent(victim)
                        self._count(grpc.StatusCode.OK)
                    else:
                        list(client.list_intents())
                        self._count(grpc.StatusCode.OK)
                except ApiError as e:
                    self._count(e.code)

    def _create(self, client, tenant_id, a, b, gbps, request_id):
        """Create until answered: through a restart, the same request id gets the same intent."""
        deadline = time.monotonic() + RETRY_S
        while True:
            try:
                made = client.create_intent(a, b, gbps, request_id=request_id)
            except ApiError as e:
                self._count(e.code)
                if e.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and (
                    time.monotonic() < deadline
                ):
                    time.sleep(0.5)
                    continue
                return
            self._count(grpc.StatusCode.OK)
            self._hold(made.id, tenant_id)
            return

    # --- checks -------------------------------------------------------------------------------

    def _checker(self):
        rounds = 0
        while not self._stop.wait(CHECK_EVERY_S):
            rounds += 1
            for problem in self._problems(isolation=rounds % 5 == 0) or ():
                self._violation(problem)

    def _problems(self, isolation=False):
        """What breaks a promise now, or None when the controller cannot be asked (restarting)."""
        try:
            with self.lab.client(timeout_s=5) as client:
                spans = list(client.get_topology().spans)
                intents = {i.id: i for i in client.list_intents()}
        except ApiError as e:
            if e.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                return None
            return [f'the controller answered {e.code.name} to the checker: {e.message}']
        problems = [
            f'span {span.id} {d.from_site}->{d.to_site} reserved {d.reserved_gbps:g} Gb/s '
            f'of {span.capacity_gbps:g}'
            for span in spans
            for d in span.directions
            if d.reserved_gbps > span.capacity_gbps + 1e-6
        ]
        with self._lock:
            held = dict(self._held)
            self.report.checks += 1
        now = time.monotonic()
        for intent_id in held:
            intent = intents.get(intent_id)
            if intent is None:
                if intent_id in self._held:  # not deleted meanwhile
                    problems.append(f'acknowledged intent {intent_id} is gone')
                continue
            state = enum_name(intent_pb2.IntentState, intent.state)
            if state == 'FAILED' and not intent.state_reason:
                problems.append(f'{intent_id} FAILED without a reason')
            if state in ('INSTALLED', 'FAILED') or intent.state_reason:
                self._installing_since.pop(intent_id, None)
            elif now - self._installing_since.setdefault(intent_id, now) > STUCK_S:
                problems.append(f'{intent_id} {state} for over {STUCK_S:.0f} s without a reason')
        if isolation:
            problems += self._isolation()
        return problems

    def _isolation(self):
        tenants = list(self.fabric.tenants.values())
        if len(tenants) < 2:
            return []
        a, b = self._pick.sample(tenants, 2)
        src, dst = (a.id, self._pick.choice(a.sites)), (b.id, self._pick.choice(b.sites))
        if pings(self.lab.host(src), self.lab.ip(dst), count=2, interval='0.1')[1]:
            return [f'{src[0]}@{src[1]} reached {dst[0]}@{dst[1]}']
        return []

    def _settle(self):
        """After the last failure, everything restored: give the controller up to SETTLE_S to
        have every held intent there and settled, then judge."""
        deadline, problems = time.monotonic() + SETTLE_S, None
        while time.monotonic() < deadline:
            problems = self._problems()
            if problems == []:
                break
            time.sleep(3)
        problems = self._problems(isolation=True) if problems != [] else self._isolation()
        for problem in problems if problems is not None else ['the controller did not answer at the end']:
            self._violation(problem)

    # --- failures -----------------------------------------------------------------------------

    def _span(self):
        return self.random.choice(self.fabric.spans)

    def _span_cut(self):
        protected = self._protected_on_path()
        span = protected[1] if protected and self.random.random() < 0.7 else self._span()
        self.say(f'cut {span.id}')
        probe, mark = None, self.lab.emulation.lateness_mark()
        if protected and span is protected[1]:
            tenant, src, dst = self._protected[protected[0]]
            probe = Probe(
                self.lab.host((tenant, src)), self.lab.host((tenant, dst)), self.lab.ip((tenant, dst))
            )
            probe.start()
            time.sleep(0.5)
        try:
            self.lab.span_down(span.a, span.b)
            time.sleep(self.random.uniform(2, 4))
            if probe:
                result = probe.stop()
                lying = budget.lying(self.lab.emulation.lateness(since=mark))
                if lying:
                    self.report.inconclusive += 1
                elif result.received == 0 or result.longest_outage_ms > OUTAGE_MS:
                    self._violation(
                        f'protected {protected[0]}: {result.longest_outage_ms:.0f} ms outage at the cut '
                        f'of {span.id}'
                    )
                else:
                    self.report.outages_ms.append(result.longest_outage_ms)
        finally:
            if probe:
                probe.kill()
            self.lab.span_up(span.a, span.b)

    def _protected_on_path(self):
        """(a protected intent, a span of its primary path) or None."""
        try:
            with self.lab.client(timeout_s=5) as client:
                for intent_id in self.random.sample(list(self._protected), len(self._protected)):
                    intent = client.get_intent(intent_id)
                    path = list(intent.path)
                    if len(path) >= 2 and list(intent.backup_path):
                        i = self.random.randrange(len(path) - 1)
                        return intent_id, self.fabric.span(path[i], path[i + 1])
        except ApiError:
            pass
        return None

    def _span_flap(self):
        span = self._span()
        self.say(f'flap {span.id}')
        for _ in range(3):
            self.lab.span_down(span.a, span.b)
            time.sleep(0.3)
            self.lab.span_up(span.a, span.b)
            time.sleep(0.3)

    def _span_slow(self):
        span = self._span()
        before = self.lab.emulation.span_state(span.a, span.b)['delay_ms']
        slower = round(before * self.random.uniform(1.5, 3) + 1, 3)
        self.say(f'slow {span.id} to {slower:g} ms')
        self.lab.span_delay(span.a, span.b, slower)
        time.sleep(self.random.uniform(3, 6))
        self.lab.span_delay(span.a, span.b, before)

    def _span_loss(self):
        span, pct = self._span(), self.random.choice([10, 100])
        self.say(f'{span.id} loses {pct}%')
        self.lab.span_loss(span.a, span.b, pct)
        time.sleep(self.random.uniform(3, 6))
        self.lab.span_loss(span.a, span.b, 0)

    def _site_restart(self):
        site = self.random.choice(list(self.fabric.sites))
        self.say(f'site {site} down')
        self.lab.site_down(site)
        try:
            time.sleep(self.random.uniform(2, 4))
        finally:
            self.lab.site_up(site)
            self.say(f'site {site} up')

    def _controller_kill(self):
        self.say('controller killed (SIGKILL) and started again')
        self.lab.controller.stop(signal.SIGKILL)
        self.lab.controller.start()
        for problem in self._problems() or ():  # every acknowledged intent is back at once
            if 'is gone' in problem:
                self._violation(f'after the restart: {problem}')
