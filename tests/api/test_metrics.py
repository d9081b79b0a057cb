"""/metrics over real HTTP from a controller serving real gRPC (loopback southbound): the figures
are there, in the Prometheus text format, and follow what the API and the network do."""

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import grpc
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from controller.northbound.http import HttpServer
from controller.northbound.metrics import Metrics, move_reason
from controller.southbound.figures import OpenFlowFigures
from naasctl.client import ApiError
from topologies.model import addressing as addr
from topologies.model.auth import Auth, Caller, digest

GBIT = 1e9 / 8
ROOT = Path(__file__).resolve().parents[2]


def scrape(url):
    with urllib.request.urlopen(url + 'metrics', timeout=5) as answer:
        assert answer.headers['Content-Type'].startswith('text/plain; version=')
        text = answer.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_follow_the_api_and_the_fabric(serve):
    served = serve(http=('127.0.0.1', 0))
    url = served.controller.http.url
    operator = served.client('operator')
    created = operator.create_intent('dca', 'dcb', 2.0, tenant='red')
    operator.get_intent(created.id)
    with pytest.raises(ApiError) as refused:
        operator.get_intent('i-999')
    assert refused.value.code is grpc.StatusCode.NOT_FOUND
    with pytest.raises(ApiError):
        served.client(None).get_intent(created.id)

    s = scrape(url)
    method = '/naas.v1.IntentService/'
    assert value(s, 'naas_api_requests_total', method=method + 'CreateIntent', code='OK') == 1
    assert value(s, 'naas_api_requests_total', method=method + 'GetIntent', code='OK') == 1
    assert value(s, 'naas_api_requests_total', method=method + 'GetIntent', code='NOT_FOUND') == 1
    assert value(s, 'naas_api_requests_total', method=method + 'GetIntent', code='UNAUTHENTICATED') == 1
    assert value(s, 'naas_api_request_duration_seconds_count', method=method + 'GetIntent') == 3
    assert value(s, 'naas_placement_duration_seconds_count', operation='create') == 1
    assert value(s, 'naas_controller_leader') == 1
    assert value(s, 'naas_openflow_switches_connected') == 3
    assert value(s, 'naas_span_capacity_bytes_per_second', span='dca-dcb') == 20 * GBIT
    assert value(s, 'naas_span_up', span='dca-dcb') == 1
    assert (
        value(s, 'naas_span_committed_bytes_per_second', span='dca-dcb', **{'from': 'dca', 'to': 'dcb'})
        == 2 * GBIT
    )
    assert value(s, 'naas_span_delay_seconds', span='dca-dcb', **{'from': 'dca', 'to': 'dcb'}) > 0
    assert value(s, 'naas_intents', state='INSTALLED', **{'class': 'PRIORITY'}) == 1
    key = {'intent': created.id}
    info = {'tenant': 'red', 'src': 'dca', 'dst': 'dcb', 'class': 'PRIORITY', 'protection': 'NONE'}
    assert value(s, 'naas_intent_info', **key, **info) == 1
    assert value(s, 'naas_intent_committed_bytes_per_second', **key) == 2 * GBIT
    assert value(s, 'naas_intent_installed', **key) == 1
    direct = value(s, 'naas_intent_path_latency_seconds', **key)
    assert direct > 0

    # What its meters count shows as its rate (at the fabric's scale, as its bandwidth) and
    # drops (as the switches count them): 1.25 GB in over one second, 1,000 frames dropped.
    dca = addr.dpid(served.fabric.sites['dca'])
    number = int(created.id.removeprefix('i-'))
    second = 10**9
    for at, bytes_in, dropped in ((1, 0, 0), (2, 1_250_000_000, 1000)):
        served.call(
            lambda core, now: core.meter_counters(
                dca, [(number, bytes_in, dropped * 1000, dropped, at * second)], at * second
            )
        )
    s = scrape(url)
    assert value(s, 'naas_intent_rate_in_bytes_per_second', direction='forward', **key) == pytest.approx(
        1.25e9 / served.fabric.bandwidth_scale
    )
    assert value(s, 'naas_intent_rate_in_bytes_per_second', direction='reverse', **key) == 0
    assert value(s, 'naas_intent_dropped_bytes_total', **key) == 1_000_000
    assert value(s, 'naas_intent_dropped_frames_total', **key) == 1000

    # A cut of its span moves it: counted with the reason, and the span shows down.
    triangle = served.fabric
    served.call(lambda core, now: core.port_state(dca, addr.span_port(triangle, 'dca', 'dcb'), False, now))
    s = scrape(url)
    assert value(s, 'naas_span_up', span='dca-dcb') == 0
    assert value(s, 'naas_intent_moves_total', reason='span_down', **key) == 1
    assert value(s, 'naas_intent_path_latency_seconds', **key) > direct  # its longer path now
    assert value(s, 'naas_moves_total', reason='span_down') == 1

    operator.delete_intent(created.id)
    s = scrape(url)
    assert value(s, 'naas_intent_committed_bytes_per_second', **key) is None  # gone with it
    assert value(s, 'naas_moves_total', reason='span_down') == 1  # the fabric's count stays


def test_unknown_methods_count_as_other_not_by_name(serve):
    served = serve(http=('127.0.0.1', 0))
    channel = grpc.insecure_channel(served.target)
    for name in ('/x/a', '/x/b'):
        with pytest.raises(grpc.RpcError) as e:
            channel.unary_unary(name)(b'', timeout=5)
        assert e.value.code() is grpc.StatusCode.UNIMPLEMENTED
    channel.close()
    s = scrape(served.controller.http.url)
    assert value(s, 'naas_api_requests_total', method='other', code='UNIMPLEMENTED') == 2


def test_http_refuses_what_it_does_not_serve(serve):
    served = serve(http=('127.0.0.1', 0))
    url = served.controller.http.url
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url + 'nothing', timeout=5)
    assert e.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(url + 'metrics', data=b'x', method='POST'), timeout=5)
    assert e.value.code == 405


def test_off_loopback_only_an_operator_token_may_look(serve):
    served = serve()
    callers = {
        digest(served.tokens['operator']): Caller('operator'),
        digest(served.tokens['red']): Caller('red', 'red'),
    }
    routes = {'/metrics': Metrics().route}
    http = HttpServer(('127.0.0.1', 0), routes, Auth(callers, {}), operators_only=True)
    try:

        def get(token=None, cookie=None):
            request = urllib.request.Request(http.url + 'metrics')
            if token is not None:
                request.add_header('Authorization', f'Bearer {token}')
            if cookie is not None:
                request.add_header('Cookie', cookie)
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    return answer.status
            except urllib.error.HTTPError as e:
                return e.code

        assert get() == 401
        assert get('not-a-token') == 401
        assert get(served.tokens['red']) == 401  # a tenant sees its own intents only: not this
        assert get(served.tokens['operator']) == 200
        assert get(cookie=f'naas_token={served.tokens["operator"]}') == 200
        assert get(cookie='naas_token=') == 401

        def login(token):
            form = urllib.parse.urlencode({'token': token}).encode()
            opener = urllib.request.build_opener(_NoRedirect)
            try:
                return opener.open(urllib.request.Request(http.url + 'login', data=form), timeout=5)
            except urllib.error.HTTPError as e:
                return e

        refused = login(served.tokens['red'])
        assert refused.code == 403 and 'Set-Cookie' not in refused.headers
        accepted = login(served.tokens['operator'])
        assert accepted.code == 303
        assert (
            'HttpOnly' in accepted.headers['Set-Cookie']
            and 'SameSite=Strict' in accepted.headers['Set-Cookie']
        )
    finally:
        http.stop()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.parametrize(
    'reason, kind',
    [
        ('span dca-dcb down (port dca:2 down)', 'span_down'),
        ('span dca-dcb stalled: dca->dcb carries no probe (carrier up)', 'span_down'),
        ('moved off span dca-dcb to make room for intent i-3', 'make_room'),
        ('preempted by intent i-4 (REALTIME) of tenant t2', 'preemption'),
        ('span dca-dcb congested (12 of 10 Gb/s measured)', 'congestion'),
        ('latency 31.0 ms over the 25 ms bound (span a-b measured 20 ms)', 'latency'),
        ('updated: bandwidth_gbps', 'update'),
        ('re-optimized: 4.0 ms instead of 9.0 ms', 'reoptimization'),
        ('retried: span dca-dcb up', 'retry'),
        ('something new', 'other'),
    ],
)
def test_moves_are_named_by_their_reason(reason, kind):
    assert move_reason(reason) == kind


def test_the_dashboard_shows_only_figures_the_controller_exports(serve):
    """docs/observability/grafana-dashboard.json: every metric its panels and variables name is
    one /metrics has (a renamed metric must not leave an empty panel behind); the OpenFlow
    figures are the os-ken southbound's (the loopback has none)."""
    served = serve(http=('127.0.0.1', 0))
    with urllib.request.urlopen(served.controller.http.url + 'metrics', timeout=5) as answer:
        text = answer.read().decode()
    openflow = CollectorRegistry()
    OpenFlowFigures(openflow)
    text += generate_latest(openflow).decode()
    exported = set(re.findall(r'^# TYPE (\S+) (\S+)', text, re.M))
    names = set()
    for name, kind in exported:
        names.add(name)
        suffixes = {'histogram': ('_bucket', '_count', '_sum'), 'counter': ('_total',)}.get(kind, ())
        names.update(name.removesuffix('_total') + s for s in suffixes)
    dashboard = json.loads((ROOT / 'docs/observability/grafana-dashboard.json').read_text())
    queries = [t['expr'] for p in dashboard['panels'] for t in p.get('targets', [])]
    queries += [v['query']['query'] for v in dashboard['templating']['list'] if isinstance(v['query'], dict)]
    named = {n for q in queries for n in re.findall(r'\bnaas_[a-z_]+', q)}
    assert len(queries) > 20 and named
    assert named <= names, f'not exported: {sorted(named - names)}'
