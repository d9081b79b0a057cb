"""Run a scenario (topologies/lab/scenario.py) in a real lab: the fabric in Mininet, the real
controller process, every intent ordered through the gRPC API with its tenant's token, events
done to the emulation, and every expectation checked with traffic from the tenants' hosts.

The report holds each expectation with what was measured, the intents' moves as the controller
announced them (Watch events, with reasons), and their paths before and after the events."""

import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field

from naas.v1 import intent_pb2
from naasctl.client import ApiError, enum_name
from topologies.emulation.measure import finish, wait_listening
from topologies.emulation.probe import Probe
from topologies.lab.lab import Lab, ping_counts

LATENCY_PROBE_S = 2.0
LATENCY_PROBE_HZ = 100
TRAFFIC_PORT = 5300  # traffic_start's iperf3 servers: 5300, 5301, ...
SETTLE_TIMEOUT_S = 30.0  # for ordered intents to leave the transient states
UDP_PAYLOAD = 1400
# Of UDP sent at a meter's rate, the payload iperf3 counts: meters count whole frames, and a
# 1400-byte datagram is a 1446-byte frame with its MPLS label (96.8%).
UDP_SHARE = 0.96
ISOLATION_PINGS = 2


@dataclass
class Result:
    """One expectation: what was expected and what was measured."""

    name: str
    step: str
    passed: bool
    measured: str
    expected: str


@dataclass
class Report:
    scenario: str
    fabric: str
    passed: bool = False
    expectations: list = field(default_factory=list)  # Result
    moves: list = field(default_factory=list)  # Watch events of the scenario's intents
    paths_before: list = field(default_factory=list)  # see fabric_map.render_svg
    paths_after: list = field(default_factory=list)
    spans_down: list = field(default_factory=list)  # span ids down at the end
    spans_slowed: list = field(default_factory=list)  # 'a-b: 9 -> 30 ms'
    error: str = None  # the run itself broke (not an expectation)
    seconds: float = 0.0

    def as_dict(self):
        return asdict(self)

    def text(self):
        lines = [f'scenario {self.scenario} on fabric {self.fabric}']
        width = max([len(r.name) for r in self.expectations] + [10])
        for r in self.expectations:
            lines.append(
                f'  {"PASS" if r.passed else "FAIL"}  {r.name:{width}}  measured {r.measured}'
                f'  (expected {r.expected})'
            )
        if self.moves:
            lines.append('what the controller did (Watch events):')
            lines += [f'  {m["t"]:6.1f} s  {m["intent"]}: {_move_text(m)}' for m in self.moves]
        if self.paths_before or self.paths_after:
            lines.append('paths before the events -> at the end:')
            after = {p['name']: p for p in self.paths_after}
            for p in self.paths_before:
                q = after.get(p['name'], p)
                lines.append(f'  {p["name"]:12} {_path_text(p)}  ->  {_path_text(q)}')
        if self.error:
            lines.append(f'error: {self.error}')
        held = sum(r.passed for r in self.expectations)
        verdict = 'PASSED' if self.passed else 'FAILED'
        lines.append(
            f'verdict: {verdict}: {held} of {len(self.expectations)} expectations hold'
            f'{" (the run broke off)" if self.error else ""}; {self.seconds:.0f} s'
        )
        return '\n'.join(lines)


def run(scenario, say=lambda message: None, workdir=None):
    """Run the scenario in a fresh lab; returns its Report. Everything started is stopped
    before it returns, also on errors and Ctrl-C (which propagates after the tear-down)."""
    report = Report(scenario.name, scenario.fabric.name)
    started = time.monotonic()

    def progress(message):
        say(f'[{time.monotonic() - started:6.1f} s] {message}')

    with tempfile.TemporaryDirectory(prefix='naas-scenario-', dir=workdir) as tmp:
        try:
            with Lab(scenario.fabric, tmp, policy=scenario.policy, say=progress) as lab:
                Runner(scenario, lab, report, progress, started).run()
        except Exception as e:
            report.error = f'{type(e).__name__}: {e}'
        finally:
            report.seconds = time.monotonic() - started
    report.passed = report.error is None and all(r.passed for r in report.expectations)
    return report


class Runner:
    def __init__(self, scenario, lab, report, say, started):
        self.scenario, self.lab, self.report, self.say = scenario, lab, report, say
        self.started = started
        self.ids = {}  # intent name -> id
        self.refused = {}  # intent name -> why the API refused it
        self.traffic = {}  # traffic name -> (server, client) processes
        self.watcher = None

    def run(self):
        self.watcher = Watcher(self.lab, self.names, self.report.moves, self.started).start()
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
                for span_id, (a, b, before) in self.lab.changed.items()
                if (now := self.lab.emulation.span_state(a, b)['delay_ms']) != before
            ]
        finally:
            for name in list(self.traffic):
                self.stop_traffic(name)
            self.watcher.stop()

    def names(self):
        return {i: n for n, i in self.ids.items()}

    # --- intents -------------------------------------------------------------------------------
    def order(self):
        """Each intent with its tenant's token: one CreateIntent after the other, or with
        `order: together` each tenant's in one CreateIntents (placed jointly)."""
        together = self.scenario.order == 'together'
        batches = {}
        for spec in self.scenario.intents:
            self.say(
                f'ordering {spec.name}: {spec.tenant} {spec.src} -> {spec.dst} '
                f'{spec.bandwidth_gbps:g} Gb/s'
                + (f', at most {spec.max_latency_ms:g} ms' if spec.max_latency_ms else '')
                + (', protected' if spec.protected else '')
                + (', together' if together else '')
            )
            batches.setdefault(spec.tenant if together else spec.name, []).append(spec)
        for specs in batches.values():
            orders = [
                dict(
                    src_site=s.src,
                    dst_site=s.dst,
                    bandwidth_gbps=s.bandwidth_gbps,
                    max_latency_ms=s.max_latency_ms or 0.0,
                    protected=s.protected,
                    service_class=s.service_class,
                    description=f'scenario {self.scenario.name}: {s.name}',
                )
                for s in specs
            ]
            try:
                with self.lab.client(specs[0].tenant) as client:
                    if together:
                        answers = [
                            (r.intent.id, f'{r.code}: {r.reason}') for r in client.create_intents(orders)
                        ]
                    else:
                        answers = [(client.create_intent(**orders[0]).id, '')]
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
                if spec.name not in self.ids:
                    out.append(
                        dict(
                            name=spec.name,
                            tenant=spec.tenant,
                            sites=[],
                            backup=[],
                            gbps=spec.bandwidth_gbps,
                            state='REFUSED',
                        )
                    )
                    continue
                intent = client.get_intent(self.ids[spec.name])
                out.append(
                    dict(
                        name=spec.name,
                        tenant=spec.tenant,
                        sites=list(intent.path),
                        backup=list(intent.backup_path),
                        gbps=spec.bandwidth_gbps,
                        state=enum_name(intent_pb2.IntentState, intent.state),
                    )
                )
        return out

    # --- steps ---------------------------------------------------------------------------------
    def step(self, step):
        if step.kind.startswith('expect_'):
            self.say(f'checking: {step.name}')
            passed, measured, expected = getattr(self, step.kind)(**step.args)
            self.record(step.name, step.where, passed, measured, expected)
            return
        self.say(step.name)
        probe = None
        if step.outage:
            o = step.outage
            probe = Probe(self.lab.host(o.src), self.lab.host(o.dst), self.lab.ip(o.dst)).start()
            time.sleep(0.5)  # a baseline before the event
        try:
            getattr(self, step.kind)(**step.args)
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
                )
        finally:
            if probe:
                probe.kill()

    def record(self, name, where, passed, measured, expected):
        self.report.expectations.append(Result(name, where, bool(passed), measured, expected))
        self.say(f'  {"PASS" if passed else "FAIL"}: measured {measured} (expected {expected})')

    # Events: one method per kind, named as in the file.
    def wait(self, seconds):
        time.sleep(seconds)

    def span_down(self, span):
        self.lab.span_down(*span)

    def span_up(self, span):
        self.lab.span_up(*span)

    def span_delay(self, span, ms):
        self.lab.span_delay(*span, ms)

    def traffic_start(self, traffic, src, dst, rate_gbps):
        port = _free_port(self.traffic)
        mbps = rate_gbps * 1000 * self.scenario.fabric.bandwidth_scale
        server = self.lab.host(dst).popen(
            ['iperf3', '-s', '-p', str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.traffic[traffic] = (server, None, port)  # stopped with the rest if what follows fails
        wait_listening(self.lab.host(dst), port)
        client = self.lab.host(src).popen(
            [
                'iperf3',
                '-c',
                self.lab.ip(dst),
                '-p',
                str(port),
                '-u',
                '-b',
                f'{mbps:g}M',
                '-l',
                str(UDP_PAYLOAD),
                '-t',
                '86400',
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.traffic[traffic] = (server, client, port)

    def traffic_stop(self, traffic):
        self.stop_traffic(traffic)

    def stop_traffic(self, name):
        for proc in self.traffic.pop(name)[:2]:
            if proc is not None and proc.poll() is None:
                proc.kill()
            if proc is not None:
                finish(proc, 5)

    def restart_controller(self):
        self.watcher.stop()
        self.lab.restart_controller()
        self.watcher = Watcher(self.lab, self.names, self.report.moves, self.started).start()

    # Expectations: (passed, measured, expected).
    def expect_state(self, intent, state, within_s, avoids=()):
        expected = f'{state} within {within_s:g} s' + ''.join(f', avoiding {a}-{b}' for a, b in avoids)
        if intent in self.refused:
            return False, f'refused when ordered ({self.refused[intent]})', expected

        def crossed(got):
            hops = set(zip(got.path, got.path[1:]))
            return [f'{a}-{b}' for a, b in avoids if (a, b) in hops or (b, a) in hops]

        deadline = time.monotonic() + within_s
        with self.lab.client() as client:
            while True:  # until it is in that state and off the spans to avoid
                got = client.get_intent(self.ids[intent])
                now = enum_name(intent_pb2.IntentState, got.state)
                if (now == state and not crossed(got)) or time.monotonic() >= deadline:
                    break
                time.sleep(0.1)
        crossed = crossed(got)
        measured = (
            now
            + (f' on {"-".join(got.path)}' if got.path else '')
            + (f': {got.state_reason}' if got.state_reason and now != state else '')
        )
        if crossed:
            measured += f' (crosses {", ".join(crossed)})'
        return now == state and not crossed, measured, expected

    def expect_reachable(self, src, dst):
        sent, received = self.lab.pings(src, dst, count=5)
        return received > 0, f'{received} of {sent} pings answered', f'{src} reaches {dst}'

    def expect_unreachable(self, src, dst):
        sent, received = self.lab.pings(src, dst, count=5)
        return received == 0, f'{received} of {sent} pings answered', f'{src} does not reach {dst}'

    def expect_throughput(self, src, dst, at_least_gbps, seconds):
        # UDP at the rate asked, not TCP: whether the path carries that rate is the question,
        # and a TCP flow probing beyond the intent's meter loads the emulation's cores for
        # nothing (on lumen-qts enough to slow every switch's LLDP path).
        scale = 1000 * self.scenario.fabric.bandwidth_scale
        mbps = self.lab.goodput_mbps(src, dst, seconds, udp_mbps=at_least_gbps * scale)
        return (
            mbps / scale >= at_least_gbps * UDP_SHARE,
            f'{mbps / scale:.2f} Gb/s of UDP sent at {at_least_gbps:g} ({mbps:.3f} Mb/s emulated)',
            f'at least {at_least_gbps:g} Gb/s (less the {1 - UDP_SHARE:.0%} of headers meters count)',
        )

    def expect_latency(self, src, dst, at_most_ms):
        # 100 probes a second, no spinning: enough for a median, light on the emulation's cores.
        with Probe(
            self.lab.host(src), self.lab.host(dst), self.lab.ip(dst), rate_hz=LATENCY_PROBE_HZ, spin_ns=0
        ) as probe:
            time.sleep(LATENCY_PROBE_S)
        median = probe.result().delay_ms.get('p50')
        if median is None:
            return False, 'no probe arrived', f'at most {at_most_ms:g} ms one way'
        return (
            median <= at_most_ms,
            f'{median:.2f} ms one way (median of {probe.result().received} probes)',
            f'at most {at_most_ms:g} ms one way',
        )

    def expect_isolated(self, tenants):
        fabric = self.scenario.fabric
        hosts = [(t, s) for t in tenants for s in fabric.tenants[t].sites]
        pairs = [(a, b) for a in hosts for b in hosts if a[0] != b[0]]
        procs = [
            self.lab.host(a).popen(
                ['ping', '-n', '-c', str(ISOLATION_PINGS), '-i', '0.2', '-W', '1', self.lab.ip(b)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for a, b in pairs
        ]
        crossed = [
            f'{a[0]}@{a[1]} -> {b[0]}@{b[1]}'
            for (a, b), p in zip(pairs, procs)
            if ping_counts(finish(p, 10), ISOLATION_PINGS)[1] > 0
        ]
        measured = f'{len(crossed)} of {len(pairs)} cross-tenant host pairs answered a ping' + (
            f': {", ".join(crossed[:5])}' if crossed else ''
        )
        return not crossed, measured, f'no frame between tenants {", ".join(tenants)}'


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


def _free_port(traffic):
    used, port = {p for _, _, p in traffic.values()}, TRAFFIC_PORT
    while port in used:
        port += 1
    return port


def _path_text(p):
    return '-'.join(p['sites']) if p['sites'] else p['state'].lower()


def _move_text(m):
    if m['new_path']:
        where = (f'{"-".join(m["old_path"])} -> ' if m['old_path'] else 'placed on ') + '-'.join(
            m['new_path']
        )
    elif m['old_path']:
        where = f'lost {"-".join(m["old_path"])}'
    else:
        where = m['state']
    return f'{where} ({m["reason"]})' if m['reason'] else where
