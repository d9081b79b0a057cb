"""Run a scenario (file.py) in a real lab: the fabric in Mininet, the real controller process,
every intent ordered through the gRPC API with its tenant's token, then each step in turn:
events done to the emulation, expectations checked with traffic from the tenants' hosts
(each step kind runs itself: steps.py), and the controller's Watch events kept as they come.
Each expectation is judged on what it measured and on how late the span emulators were
meanwhile (verdict.py): measured while any of them lied, it is INCONCLUSIVE. The result is a
Report (report.py)."""

import dataclasses
import tempfile
import threading
import time

from naas.v1 import intent_pb2
from naasctl.client import ApiError, enum_name
from topologies.emulation import budget
from topologies.emulation.probe import Probe
from topologies.lab.lab import Lab
from topologies.lab.scenario.report import Report, Result
from topologies.lab.scenario.steps import KINDS
from topologies.lab.verdict import judge
from topologies.model.order import Protection
from topologies.model.units import format_bandwidth

SETTLE_TIMEOUT_S = 30.0  # for ordered intents to leave the transient states


def run(scenario, say=lambda message: None, workdir=None, warn=None):
    """Run the scenario in a fresh lab; returns its Report. Everything started is stopped
    before it returns, also on errors and Ctrl-C (which propagates after the tear-down).
    `warn`: called with a line, at most every few seconds, while the machine is over its
    budget (some span emulator late beyond tolerance)."""
    report = Report(scenario.name, scenario.fabric.name)
    started = time.monotonic()

    def progress(message):
        say(f'[{time.monotonic() - started:6.1f} s] {message}')

    with tempfile.TemporaryDirectory(prefix='naas-scenario-', dir=workdir) as tmp:
        try:
            with Lab(
                scenario.fabric,
                tmp,
                policy=scenario.policy,
                say=progress,
                warn=warn,
                replicas=scenario.replicas,
            ) as lab:
                Runner(scenario, lab, report, progress, started).run()
        except Exception as e:
            report.error = f'{type(e).__name__}: {e}'
        finally:
            report.seconds = time.monotonic() - started
    return report


class Runner:
    """One run: what the step kinds share while they run (the lab, the scenario, the intents'
    ids, what runs in the lab)."""

    def __init__(self, scenario, lab, report, say, started):
        self.scenario, self.lab, self.report, self.say = scenario, lab, report, say
        self.started = started
        self.ids = {}  # intent name -> id
        self.refused = {}  # intent name -> why the API refused it
        self.traffic = {}  # traffic name -> (server, client, port): see events.TrafficStart
        self.watcher = None

    def run(self):
        self.watcher = self.watch()
        mark = self.lab.emulation.lateness_mark()
        try:
            self.order()
            self.report.paths_before = self.paths()
            for step in self.scenario.steps:
                self.step(step)
            self.report.paths_after = self.paths()
            self.report.spans_down = [
                s.id for s in self.scenario.fabric.spans if not self.lab.emulation.span_state(s.a, s.b)['up']
            ]
            self.report.spans_slowed = [
                f'{span_id}: {before:g} -> {now:g} ms'
                for span_id, (a, b, before, _loss) in self.lab.changed.items()
                if (now := self.lab.emulation.span_state(a, b)['delay_ms']) != before
            ]
        finally:
            for kind in KINDS.values():
                kind.finish(self)
            self.watcher.stop()
            self.report.lateness = self.lab.emulation.lateness(since=mark)

    def watch(self):
        """A started Watcher of the controller's intent events, into the report's moves."""
        return Watcher(self.lab, self.names, self.report.moves, self.started).start()

    def rewatch(self):
        """A new Watcher: the replica serving the last one may be gone (what happened
        in between is not in the report's moves)."""
        self.watcher.stop()
        self.watcher = self.watch()

    def names(self):
        return {i: n for n, i in self.ids.items()}

    # --- intents -------------------------------------------------------------------------------
    def order(self):
        """Each intent with its tenant's token: one CreateIntent after the other, or with
        `order: together` each tenant's in one CreateIntents (placed jointly)."""
        together = self.scenario.order == 'together'
        batches = {}
        for spec in self.scenario.intents:
            o = spec.order
            self.say(
                f'ordering {spec.name}: {o.tenant} {o.src} -> {o.dst} {o.bandwidth_gbps:g} Gb/s'
                + (f' (+{format_bandwidth(o.excess_gbps)} excess)' if o.excess_gbps else '')
                + (f', at most {o.max_latency_ms:g} ms' if o.max_latency_ms else '')
                + (', protected' if o.protection is Protection.PROTECTED else '')
                + (', together' if together else '')
            )
            batches.setdefault(o.tenant if together else spec.name, []).append(spec)
        for specs in batches.values():
            orders = [
                dataclasses.replace(
                    s.order, description=s.order.description or f'scenario {self.scenario.name}: {s.name}'
                )
                for s in specs
            ]
            try:
                with self.lab.client(specs[0].order.tenant) as client:
                    if together:
                        answers = [
                            (r.intent.id, f'{r.code}: {r.reason}') for r in client.create_intents(orders)
                        ]
                    else:
                        answers = [(client.create_intent(orders[0]).id, '')]
            except ApiError as e:
                answers = [('', f'{e.code.name}: {e.message}')] * len(specs)
            for spec, (intent_id, refusal) in zip(specs, answers):
                if intent_id:
                    self.ids[spec.name] = intent_id
                else:
                    self.refused[spec.name] = refusal
                    self.say(f'  {spec.name} refused: {refusal}')
        settled = ('INSTALLED', 'FAILED')
        with self.lab.client() as client:
            for name, intent_id in self.ids.items():
                try:
                    client.wait_for_state(intent_id, settled, timeout_s=SETTLE_TIMEOUT_S)
                except (TimeoutError, ApiError) as e:
                    self.say(f'  {name} has not settled: {e}')

    def paths(self):
        out = []
        with self.lab.client() as client:
            for spec in self.scenario.intents:
                sites, backup, state = [], [], 'REFUSED'
                if spec.name in self.ids:
                    intent = client.get_intent(self.ids[spec.name])
                    sites, backup = list(intent.path), list(intent.backup_path)
                    state = enum_name(intent_pb2.IntentState, intent.state)
                out.append(
                    dict(
                        name=spec.name,
                        tenant=spec.order.tenant,
                        sites=sites,
                        backup=backup,
                        gbps=spec.order.bandwidth_gbps,
                        state=state,
                    )
                )
        return out

    # --- steps ---------------------------------------------------------------------------------
    def step(self, step):
        kind = KINDS[step.kind]
        if kind.expectation:
            self.say(f'checking: {step.name}')
            mark = self.lab.emulation.lateness_mark()
            passed, measured, expected = kind.run(self, **step.args)
            self.record(step.name, step.where, passed, measured, expected, mark)
            return
        self.say(step.name)
        probe = None
        if step.outage:
            o = step.outage
            mark = self.lab.emulation.lateness_mark()
            probe = Probe(self.lab.host(o.src), self.lab.host(o.dst), self.lab.ip(o.dst)).start()
            time.sleep(0.5)  # a baseline before the event
        try:
            kind.run(self, **step.args)
            if probe:
                self.say(f'  measuring the outage {o.src} -> {o.dst} for {o.settle_s:g} s')
                time.sleep(o.settle_s)
                result = probe.stop()
                self.record(
                    f'{step.name}: outage {o.src} -> {o.dst}',
                    step.where,
                    result.received > 0 and result.longest_outage_ms <= o.at_most_ms,
                    f'{result.longest_outage_ms:.0f} ms ({result.lost} of {result.sent} probes lost)',
                    f'at most {o.at_most_ms:g} ms',
                    mark,
                )
        finally:
            if probe:
                probe.kill()

    def record(self, name, where, held, measured, expected, mark):
        """An expectation measured since `mark` (Emulation.lateness_mark), judged."""
        judgement = judge(held, self.lab.emulation.lateness(since=mark))
        result = Result(name, where, bool(held), measured, expected, judgement.lying)
        self.report.expectations.append(result)
        self.say(f'  {result.verdict}: measured {measured} (expected {expected})')
        if result.lying:
            self.say(f'  late beyond tolerance meanwhile: {budget.describe_lying(result.lying)}')


class Watcher:
    """The controller's Watch stream of intent events, kept as the report's moves."""

    def __init__(self, lab, names, moves, started):
        self.lab, self.names, self.moves, self.started = lab, names, moves, started
        self.client = self.stream = None
        self.thread = threading.Thread(target=self._follow, daemon=True)

    def start(self):
        self.client = self.lab.client()
        self.stream = self.client.watch_intents()
        self.thread.start()
        return self

    def _follow(self):
        try:
            for event in self.stream:
                name = self.names().get(event.intent_id)
                if name is None or not (
                    event.new_path or event.old_path or event.state == intent_pb2.INTENT_STATE_FAILED
                ):
                    continue
                self.moves.append(
                    dict(
                        t=round(time.monotonic() - self.started, 1),
                        intent=name,
                        state=enum_name(intent_pb2.IntentState, event.state),
                        old_path=list(event.old_path),
                        new_path=list(event.new_path),
                        reason=event.reason,
                    )
                )
        except ApiError:
            pass  # cancelled, or the controller went away (a restart)

    def stop(self):
        self.stream.cancel()
        self.thread.join(5)
        self.client.close()
