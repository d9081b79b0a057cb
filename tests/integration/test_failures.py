"""Failures the emulation makes and the controller must handle, each on a lab of its own: a
whole site down and back, gray failures (spans that stall or lose frames, carrier up), and a
short chaos soak of all of them with API load (`naas-lab soak`; a long one is a benchmark)."""

import json
import subprocess
import sys
import time

import pytest

from naasctl.client import IntentState, enum_name
from tests.integration.helpers import installed, order, reaches, wait_for
from topologies.emulation.net import EmulationError
from topologies.emulation.probe import Probe
from topologies.lab.lab import Lab
from topologies.lab.soak import FAILURES
from topologies.model.fabric import load_fabric

pytestmark = pytest.mark.root

TRIANGLE = load_fabric('triangle')


def test_a_site_that_goes_down_and_comes_back(tmp_path):
    """dcb's switch crashes (its daemons killed, its spans' carrier up): the intent through it
    moves, the one to it fails saying why; when dcb is back, its table is filled again and
    the intent to it carries traffic."""
    with Lab(TRIANGLE, tmp_path) as lab, lab.client() as client:
        ab, ac = order(lab.controller, ('red', 'dca', 'dcb', 1), ('red', 'dca', 'dcc', 1))
        installed(lab.controller, ab, ac)

        def intent(i):
            got = client.get_intent(i)
            return enum_name(IntentState, got.state), list(got.path), got.state_reason

        lab.span_down('dca', 'dcc')
        wait_for('ac through dcb', lambda: intent(ac)[:2] == ('INSTALLED', ['dca', 'dcb', 'dcc']), 10)
        lab.span_up('dca', 'dcc')  # ac stays through dcb for its hold
        lab.site_down('dcb')
        wait_for('ac moved off dcb', lambda: intent(ac)[:2] == ('INSTALLED', ['dca', 'dcc']), 10)
        wait_for('ab failed', lambda: intent(ab)[0] == 'FAILED', 10)
        assert 'every span of dcb is down' in intent(ab)[2], intent(ab)
        assert reaches(lab.host(('red', 'dca')), lab.ip(('red', 'dcc')))
        assert not reaches(lab.host(('red', 'dca')), lab.ip(('red', 'dcb')))
        with pytest.raises(EmulationError, match='already down'):
            lab.site_down('dcb')
        lab.site_up('dcb')
        wait_for('ab installed again', lambda: intent(ab)[0] == 'INSTALLED', 20)
        wait_for('red reaches dcb', lambda: reaches(lab.host(('red', 'dca')), lab.ip(('red', 'dcb'))), 10)
        flows = lab.emulation.switch('dcb').ofctl('dump-flows').stdout
        assert 'priority=40000' in flows, flows  # the ingress of ab, put back by the controller


def test_gray_failures_are_found_and_routed_around(tmp_path):
    """Carriers up all along: a span that stalls, then one that loses 10% of an intent's
    traffic. The controller takes each for down (saying why), moves the intent off, and takes
    the span back once its probes come through again."""
    with Lab(TRIANGLE, tmp_path) as lab, lab.client() as client:
        (ac,) = order(lab.controller, ('red', 'dca', 'dcc', 5))
        installed(lab.controller, ac)

        def path():
            return list(client.get_intent(ac).path)

        def span_up(span_id):
            return next(s.up for s in client.get_topology().spans if s.id == span_id)

        with client.watch_intents(intent_id=ac, timeout_s=60) as events:
            first = path()
            a, b = first[0], first[1]
            started = time.monotonic()
            lab.span_loss(a, b, 100)
            wait_for('moved off the stalled span', lambda: path()[:2] != [a, b], 5)
            print(f'stall of {a}-{b}: the intent moved after {time.monotonic() - started:.2f} s')
            assert not span_up(TRIANGLE.span(a, b).id)
            reasons = [
                e.reason for e in _events_until(events, lambda e: e.new_path and list(e.new_path) == path())
            ]
            assert any('stalled' in r for r in reasons), reasons
        lab.span_loss(a, b, 0)
        span = TRIANGLE.span(a, b).id
        wait_for(f'{span} taken back', lambda: span_up(span), 30)

        # 10% loss on the span the intent now takes, under 4 Mb/s of its traffic (5 Gb/s at
        # the triangle's scale is 5 Mb/s).
        now = path()
        c, d = now[0], now[1]
        server = lab.host(('red', now[-1])).popen(
            ['iperf3', '-s', '-1', '-p', '5399'], stdout=subprocess.DEVNULL
        )
        time.sleep(0.5)
        client_proc = lab.host(('red', now[0])).popen(
            [
                'iperf3',
                '-c',
                lab.ip(('red', now[-1])),
                '-p',
                '5399',
                '-u',
                '-b',
                '4M',
                '-l',
                '1400',
                '-t',
                '30',
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(2)
            started = time.monotonic()
            lab.span_loss(c, d, 10)
            lossy = TRIANGLE.span(c, d).id
            wait_for(f'{lossy} taken for down', lambda: not span_up(lossy), 10)
            print(f'10% loss on {lossy}: taken for down after {time.monotonic() - started:.2f} s')
            wait_for('moved off the lossy span', lambda: path()[:2] != [c, d], 5)
        finally:
            for proc in (client_proc, server):
                proc.kill()
                proc.wait()
        lab.span_loss(c, d, 0)


def _events_until(stream, done, timeout_s=5):
    """IntentEvents from `stream` until done(event) or timeout_s."""
    seen, deadline = [], time.monotonic() + timeout_s
    for event in stream:
        seen.append(event)
        if done(event) or time.monotonic() > deadline:
            break
    return seen


def test_a_short_chaos_soak_keeps_every_promise():
    """Every kind of failure at least once, with both tenants creating, changing and deleting
    intents meanwhile: no span over-booked, no acknowledged intent lost (also across a
    SIGKILL of the controller), every intent installed or saying why, tenants isolated."""
    done = subprocess.run(
        [sys.executable, '-m', 'topologies.lab.main', 'soak', '--fabric', 'triangle', '--minutes', '1.5']
        + ['--seed', '7', '--json'],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(done.stdout or '{}')
    assert done.returncode == 0 and report['violations'] == [], (report, done.stderr[-3000:])
    assert set(report['failures']) == set(FAILURES), report
    assert report['acknowledged'] > 10 and report['checks'] > 10, report


def test_a_protected_intent_leaves_a_stalled_span_within_50ms_of_its_finding(tmp_path):
    """The switches' fast failover watches carrier only, so a stall (carrier up) is the
    controller's to find: from the moment it says so, the protected intent's traffic is back
    within 50 ms (its backup is installed already: the ingress flips)."""
    with Lab(TRIANGLE, tmp_path) as lab, lab.client() as client:
        (intent,) = order(lab.controller, ('red', 'dca', 'dcc', 1, {'protected': True}))
        (got,) = installed(lab.controller, intent)
        a, b = list(got.path)[:2]
        probe = Probe(lab.host(('red', 'dca')), lab.host(('red', 'dcc')), lab.ip(('red', 'dcc'))).start()
        try:
            with client.watch_intents(intent_id=intent, timeout_s=60) as events:
                time.sleep(0.5)
                lab.span_loss(a, b, 100)
                found_ns = next(time.monotonic_ns() for e in events if 'stalled' in e.reason)
                time.sleep(1)
            result = probe.stop()
        finally:
            probe.kill()
            lab.span_loss(a, b, 0)
        back_ns = result.outage_start_ns() + result.longest_outage_ms * 1e6
        after_ms = (back_ns - found_ns) / 1e6
        print(
            f'stall of {a}-{b}: protected traffic out {result.longest_outage_ms:.0f} ms, '
            f'{after_ms:.1f} ms of it after the controller found the stall'
        )
        assert result.received > 0 and after_ms <= 50, result
