"""Expectations: what a scenario checks in the lab, each run returning (passed, measured,
expected) for the report (registered step kinds; see steps.py)."""

import subprocess
import time

import grpc

from naas.v1 import intent_pb2
from naasctl.client import ApiError, enum_name
from topologies.emulation.measure import finish
from topologies.emulation.probe import Probe
from topologies.lab.lab import ping_counts
from topologies.lab.scenario.steps import HOSTS, MAX_MEASURE_S, Expectation, Field, number, register

STATES = ('INSTALLED', 'FAILED', 'WITHDRAWN')  # the API's states worth waiting for
DEFAULT_WITHIN_S = 15.0  # expect_state
DEFAULT_THROUGHPUT_S = 5.0  # expect_throughput
LATENCY_PROBE_S = 2.0
LATENCY_PROBE_HZ = 100
# Of UDP sent at a meter's rate, the payload iperf3 counts: meters count whole frames, and a
# 1400-byte datagram is a 1446-byte frame with its MPLS label (96.8%).
UDP_SHARE = 0.96
ISOLATION_PINGS = 2


def intent_name(r, value, key):
    if value not in r.intent_names:
        r.v.problem(key, f'unknown intent {value!r} (intents: {", ".join(sorted(r.intent_names)) or "none"})')
    return value


def state(r, value, key):
    if isinstance(value, str) and value.upper() in STATES:
        return value.upper()
    r.v.problem(key, f'must be one of {", ".join(s.lower() for s in STATES)}, got {value!r}')
    return value


def spans(r, value, key):
    """A list of spans, each [SITE, SITE]."""
    listed = r.v.sequence(value, key, allow_empty=True)
    return tuple(r.span(span, f'{key}[{j}]') for j, span in enumerate(listed))


@register
class ExpectState(Expectation):
    key = 'expect_state'
    title = '{intent} {state}'
    fields = {
        'intent': Field(intent_name),
        'state': Field(state),
        'within_s': Field(number(positive=True), DEFAULT_WITHIN_S),
        'avoids': Field(spans, ()),
    }

    def name(self, args):
        avoiding = ', '.join('-'.join(span) for span in args['avoids'])
        state = args['state'].lower() + (f' avoiding {avoiding}' if avoiding else '')
        return self.title.format(intent=args['intent'], state=state)

    def run(self, run, intent, state, within_s, avoids=()):
        expected = f'{state} within {within_s:g} s' + ''.join(f', avoiding {a}-{b}' for a, b in avoids)
        if intent in run.refused:
            return False, f'refused when ordered ({run.refused[intent]})', expected

        def crossed(got):
            hops = set(zip(got.path, got.path[1:]))
            return [f'{a}-{b}' for a, b in avoids if (a, b) in hops or (b, a) in hops]

        deadline = time.monotonic() + within_s
        with run.lab.client() as client:
            while True:  # until it is in that state and off the spans to avoid
                got = client.get_intent(run.ids[intent])
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


@register
class ExpectReachable(Expectation):
    key = 'expect_reachable'
    title = '{src} -> {dst} reachable'
    fields = HOSTS
    same_tenant = True
    hint = '; expect_unreachable checks that'

    def run(self, run, src, dst):
        sent, received = run.lab.pings(src, dst, count=5)
        return received > 0, f'{received} of {sent} pings answered', f'{src} reaches {dst}'


@register
class ExpectUnreachable(Expectation):
    key = 'expect_unreachable'
    title = '{src} -> {dst} unreachable'
    fields = HOSTS
    same_tenant = False

    def run(self, run, src, dst):
        sent, received = run.lab.pings(src, dst, count=5)
        return received == 0, f'{received} of {sent} pings answered', f'{src} does not reach {dst}'


@register
class ExpectThroughput(Expectation):
    key = 'expect_throughput'
    title = '{src} -> {dst} at least {at_least_gbps:g} Gb/s'
    fields = {
        **HOSTS,
        'at_least_gbps': Field(number(positive=True)),
        'seconds': Field(number(positive=True, minimum=0, maximum=MAX_MEASURE_S), DEFAULT_THROUGHPUT_S),
    }
    same_tenant = True

    def run(self, run, src, dst, at_least_gbps, seconds):
        # UDP at the rate asked, not TCP: whether the path carries that rate is the question,
        # and a TCP flow probing beyond the intent's meter loads the emulation's cores for
        # nothing (on lumen-qts enough to slow every switch's LLDP path).
        scale = 1000 * run.scenario.fabric.bandwidth_scale
        mbps = run.lab.goodput_mbps(src, dst, seconds, udp_mbps=at_least_gbps * scale)
        return (
            mbps / scale >= at_least_gbps * UDP_SHARE,
            f'{mbps / scale:.2f} Gb/s of UDP sent at {at_least_gbps:g} ({mbps:.3f} Mb/s emulated)',
            f'at least {at_least_gbps:g} Gb/s (less the {1 - UDP_SHARE:.0%} of headers meters count)',
        )


@register
class ExpectLatency(Expectation):
    key = 'expect_latency'
    title = '{src} -> {dst} at most {at_most_ms:g} ms'
    fields = {**HOSTS, 'at_most_ms': Field(number(positive=True))}
    same_tenant = True

    def run(self, run, src, dst, at_most_ms):
        # 100 probes a second: enough for a median, light on the emulation's cores.
        with Probe(run.lab.host(src), run.lab.host(dst), run.lab.ip(dst), rate_hz=LATENCY_PROBE_HZ) as probe:
            time.sleep(LATENCY_PROBE_S)
        median = probe.result().delay_ms.get('p50')
        if median is None:
            return False, 'no probe arrived', f'at most {at_most_ms:g} ms one way'
        return (
            median <= at_most_ms,
            f'{median:.2f} ms one way (median of {probe.result().received} probes)',
            f'at most {at_most_ms:g} ms one way',
        )


@register
class ExpectIsolated(Expectation):
    key = 'expect_isolated'
    title = 'tenants {tenants} isolated'

    def read(self, r, value, key):
        v, fabric = r.v, r.fabric
        if value is not True and not isinstance(value, dict):
            v.problem(key, f'must be true or {{tenants: [TENANT, ...]}}, got {value!r}')
            return {'tenants': ()}
        item = {} if value is True else v.mapping(value, key, required=(), optional=('tenants',))
        if 'tenants' not in item:
            tenants = tuple(fabric.tenants) if fabric else ()
            if fabric and len(tenants) < 2:
                v.problem(key, f'needs two tenants or more; fabric {fabric.name} has {len(tenants)}')
            return {'tenants': tenants}
        tenants = []
        for j, tenant in enumerate(v.sequence(item['tenants'], f'{key}.tenants')):
            tenant = r.tenant(tenant, f'{key}.tenants[{j}]')
            if tenant in tenants:
                v.problem(f'{key}.tenants[{j}]', f'tenant {tenant!r} listed twice')
            elif tenant:
                tenants.append(tenant)
        if isinstance(item['tenants'], list) and len(set(map(str, item['tenants']))) < 2:
            v.problem(f'{key}.tenants', f'needs two tenants or more, got {item["tenants"]!r}')
        return {'tenants': tuple(tenants)}

    def name(self, args):
        return self.title.format(tenants=', '.join(args['tenants']))

    def run(self, run, tenants):
        fabric = run.scenario.fabric
        hosts = [(t, s) for t in tenants for s in fabric.tenants[t].sites]
        pairs = [(a, b) for a in hosts for b in hosts if a[0] != b[0]]
        procs = [
            run.lab.host(a).popen(
                ['ping', '-n', '-c', str(ISOLATION_PINGS), '-i', '0.2', '-W', '1', run.lab.ip(b)],
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


def intent_names(r, value, key):
    """A list of intent names; [] (the default) means every intent of the scenario."""
    listed = r.v.sequence(value, key, allow_empty=True)
    return tuple(intent_name(r, name, f'{key}[{j}]') for j, name in enumerate(listed))


@register
class ExpectSteady(Expectation):
    """No intent moves or leaves INSTALLED for `seconds` while nothing happens: the controller
    does not chase measurement noise. Watched through the API, so every move counts, even one
    moved back before a poll could see it."""

    key = 'expect_steady'
    title = 'steady for {seconds:g} s'
    fields = {
        'seconds': Field(number(positive=True, maximum=3600)),
        'intents': Field(intent_names, ()),
    }

    def run(self, run, seconds, intents):
        watched = {run.ids[name]: name for name in intents or run.ids if name not in run.refused}
        changes = []
        with run.lab.client() as client:
            events = client.watch_intents(timeout_s=seconds)
            try:
                for event in events:
                    name = watched.get(event.intent_id)
                    moved = list(event.new_path) != list(event.old_path) and (
                        event.old_path or event.new_path
                    )
                    state = enum_name(intent_pb2.IntentState, event.state)
                    if name and (moved or state != 'INSTALLED'):
                        path = f' {"-".join(event.old_path)} -> {"-".join(event.new_path)}' if moved else ''
                        changes.append(f'{name} {state}{path} ({event.reason})')
            except ApiError as e:
                if e.code != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise
        expected = f'no move of {len(watched)} intents in {seconds:g} s'
        measured = f'{len(changes)} changes' + (f': {"; ".join(changes[:5])}' if changes else '')
        return not changes, measured, expected
