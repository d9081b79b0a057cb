"""The web view's routes without a browser, over a real socket: the page and its assets, the
fabric and intents as JSON, the event stream (intent events with their reasons, a topology
event when a span goes down, the periodic refresh), who may look, and a follower's answer."""

import http.client
import json
import time
import urllib.error
import urllib.request

import pytest

from controller.northbound.http import HttpServer
from controller.northbound.web import Web, routes
from topologies.model import addressing as addr


def get(url, token=None):
    """(status, content type, body) of a GET."""
    request = urllib.request.Request(url, headers={'Authorization': f'Bearer {token}'} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.headers['Content-Type'], answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers['Content-Type'], e.read()


class Events:
    """A client of /api/events: reads one server-sent event at a time."""

    def __init__(self, port, token=None):
        self.conn = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
        self.conn.request('GET', '/api/events', headers={'Authorization': f'Bearer {token}'} if token else {})
        self.answer = self.conn.getresponse()

    def next(self):
        """(event name, data parsed as JSON)."""
        name, data = None, []
        while True:
            line = self.answer.fp.readline().decode().rstrip('\n')
            if not line:
                if data:
                    return name, json.loads('\n'.join(data))
                continue
            key, _, value = line.partition(': ')
            if key == 'event':
                name = value
            elif key == 'data':
                data.append(value)

    def until(self, name, condition=lambda data: True, timeout_s=5.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got, data = self.next()
            if got == name and condition(data):
                return data
        raise AssertionError(f'no {name} event within {timeout_s} s')

    def close(self):
        self.conn.close()


def test_the_page_and_its_assets_are_served_from_the_package(serve):
    url = serve(http=('127.0.0.1', 0)).controller.http.url
    status, kind, page = get(url)
    assert (status, kind) == (200, 'text/html; charset=utf-8')
    assert b'/static/web.js' in page and b'/static/web.css' in page
    assert b'http://' not in page and b'https://' not in page  # nothing from elsewhere
    assert get(url + 'static/web.js')[:2] == (200, 'text/javascript; charset=utf-8')
    assert get(url + 'static/web.css')[:2] == (200, 'text/css; charset=utf-8')
    assert get(url + 'static/nope.js')[0] == 404
    assert get(url + 'api/nope')[0] == 404


def test_the_fabric_has_every_site_at_its_coordinates_and_every_span_with_its_figures(serve):
    served = serve('lumen-qts', http=('127.0.0.1', 0))
    intent = served.client('acme').create_intent('phx1', 'iad1', 10)
    status, kind, body = get(served.controller.http.url + 'api/fabric')
    assert (status, kind) == (200, 'application/json')
    fabric = json.loads(body)
    assert fabric['fabric'] == 'lumen-qts'
    assert {s['id']: (s['lat'], s['lon']) for s in fabric['sites']} == {
        s.id: (s.lat, s.lon) for s in served.fabric.sites.values()
    }
    assert {s['id'] for s in fabric['spans']} == {s.id for s in served.fabric.spans}
    spans = {s['id']: s for s in fabric['spans']}
    for span in served.fabric.spans:
        shown = spans[span.id]
        assert shown['capacity_gbps'] == span.capacity_gbps and shown['up'] is True
        assert [(d['src'], d['dst']) for d in shown['directions']] == [(span.a, span.b), (span.b, span.a)]
    on_path = list(zip(intent.path, intent.path[1:]))
    committed = {(d['src'], d['dst']): d['committed_gbps'] for s in fabric['spans'] for d in s['directions']}
    assert all(committed[hop] == 10 for hop in on_path), committed
    assert all(d['delay_ms'] > 0 for s in fabric['spans'] for d in s['directions'])


def test_the_intents_with_their_paths_and_a_tenant_filter(serve):
    served = serve('lumen-qts', http=('127.0.0.1', 0))
    red = served.client('acme').create_intent('phx1', 'iad1', 10, protected=True)
    served.client('globex').create_intent('atl1', 'dfw2', 2)
    url = served.controller.http.url + 'api/intents'
    status, kind, body = get(url)
    assert (status, kind) == (200, 'application/json')
    assert [i['tenant'] for i in json.loads(body)['intents']] == ['acme', 'globex']
    (shown,) = json.loads(get(url + '?tenant=acme')[2])['intents']
    assert shown['id'] == red.id and shown['state'] == 'INSTALLED'
    assert (shown['src'], shown['dst'], shown['gbps'], shown['class']) == ('phx1', 'iad1', 10, 'PRIORITY')
    assert shown['path'] == list(red.path) and shown['backup_path'] == list(red.backup_path)
    assert shown['backup_path'] and shown['latency_ms'] > 0
    assert json.loads(get(url + '?tenant=nobody')[2]) == {'intents': []}


def test_the_event_stream_tells_intent_events_with_reasons_and_span_changes(serve):
    served = serve('lumen-qts', http=('127.0.0.1', 0))
    events = Events(served.controller.http.port)
    try:
        assert events.answer.status == 200
        assert events.answer.headers['Content-Type'] == 'text/event-stream'
        first = events.until('fabric')
        assert len(first['spans']) == len(served.fabric.spans)
        intent = served.client('acme').create_intent('phx1', 'iad1', 10)
        batch = events.until('intents', lambda b: any(e['state'] == 'INSTALLED' for e in b['events']))
        assert {e['intent'] for e in batch['events']} == {intent.id}
        assert all(e['reason'] for e in batch['events'])
        assert [i['id'] for i in batch['intents']] == [intent.id]
        a, b = intent.path[:2]
        port = addr.span_port(served.fabric, a, b)
        dpid = addr.dpid(served.fabric.sites[a])
        started = time.monotonic()
        served.call(lambda core, now: core.port_state(dpid, port, False, now))
        heard = []  # the span's change and the intent's move, in one commit: either first
        while not {'topology', 'move'} <= {name for name, _ in heard}:
            name, data = events.next()
            if name == 'topology':
                heard.append((name, data))
                assert time.monotonic() - started < 1.0  # told at once, not at the next refresh
            elif name == 'intents':
                heard += [('move', e) for e in data['events'] if e['old_path'] and e['new_path']]
            assert time.monotonic() - started < 5.0, heard
        (topology,) = [data for name, data in heard if name == 'topology']
        down = {s['id'] for s in topology['spans'] if not s['up']}
        assert len(down) == 1 and set(down.pop().split('-')) == {a, b}
        (move,) = [data for name, data in heard if name == 'move']
        assert move['intent'] == intent.id and move['old_path'] == list(intent.path)
        assert f'{a}-{b}' in move['reason'] or f'{b}-{a}' in move['reason'], move
        events.until('fabric', timeout_s=2.0)  # the refresh goes on, every second
    finally:
        events.close()


def test_off_loopback_only_an_operator_may_look(serve):
    """Served where a token is needed (as off loopback: `operators_only`, so the test listens on
    loopback only), with the controller's own routes and auth: the page, its JSON and its
    stream need an operator's token (a tenant's is refused: the view shows every tenant);
    /login stays open."""
    served = serve(http=('127.0.0.1', 0))
    own = served.controller.http
    guarded = HttpServer(('127.0.0.1', 0), own.routes, own.auth, operators_only=True)
    try:
        url = guarded.url
        for path in ('', 'static/web.js', 'api/fabric', 'api/intents', 'api/events'):
            assert get(url + path)[0] == 401, path
            assert get(url + path, served.tokens['red'])[0] == 401, path
        for path in ('', 'api/fabric', 'api/intents'):
            assert get(url + path, served.tokens['operator'])[0] == 200, path
        events = Events(guarded.port, served.tokens['operator'])
        try:
            assert events.until('fabric')['fabric'] == 'triangle'
        finally:
            events.close()
        assert get(url + 'login')[0] == 200
    finally:
        guarded.stop()


def test_a_follower_says_it_follows_and_names_the_leader():
    """A replica that does not lead has no core: 503 naming the leader it knows, and a stream
    that says so and ends (the page's EventSource tries again until this replica leads)."""
    web = Web(lambda: ('r1', '127.0.0.1:50051'))
    server = HttpServer(('127.0.0.1', 0), routes(web), auth=None)
    try:
        status, kind, body = get(server.url + 'api/fabric')
        assert (status, kind) == (503, 'application/json')
        assert json.loads(body)['leader'] == {'name': 'r1', 'grpc': '127.0.0.1:50051'}
        assert get(server.url + 'api/intents')[0] == 503
        assert get(server.url)[0] == 200
        events = Events(server.port)
        try:
            assert 'r1' in events.until('follower')['message']
            assert events.answer.fp.readline() == b''  # the stream ended
        finally:
            events.close()
    finally:
        server.stop()


@pytest.mark.parametrize('path', ['/api/fabric', '/api/intents', '/'])
def test_the_web_view_is_read_only(serve, path):
    url = serve(http=('127.0.0.1', 0)).controller.http.url.rstrip('/') + path
    request = urllib.request.Request(url, data=b'{}', method='POST')
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 405


def test_a_stopping_controller_ends_the_streams(serve):
    served = serve(http=('127.0.0.1', 0))
    events = Events(served.controller.http.port)
    try:
        events.until('fabric')
        started = time.monotonic()
        served.stop()
        while events.answer.fp.readline():  # what was on its way, then the end
            assert time.monotonic() - started < 2.0
        assert time.monotonic() - started < 2.0
    finally:
        events.close()
