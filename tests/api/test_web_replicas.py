"""The web view (and /metrics) of controller replicas on a real etcd cluster (naas-controller processes,
loopback southbound, each with its own HTTP port): a follower says it follows, naming the
leader, until it leads; then it shows the fabric and the intents it took over."""

import json
import time

from tests.api.test_web import Events, get
from topologies.lab.replicas import Replicas

LOOPBACK = ['--southbound', 'loopback']


def test_a_follower_names_the_leader_then_shows_the_fabric_once_it_leads(etcd_cluster, tmp_path):
    with Replicas('triangle', etcd_cluster.url, tmp_path, 2, LOOPBACK, http=True) as replicas:
        lead = replicas.leader()
        (follower,) = replicas.followers()
        with replicas.client('red') as red:
            intent = red.create_intent('dca', 'dcb', 1)
        leader_url, follower_url = replicas.web_urls[lead], replicas.web_urls[follower]
        assert get(leader_url + 'api/fabric')[0] == 200
        status, kind, body = get(follower_url + 'api/fabric')
        assert (status, kind) == (503, 'application/json')
        assert json.loads(body)['leader']['name'] == f'r{lead}'
        assert get(follower_url)[0] == 200  # the page, which says so
        # Its /metrics: its role and its own API calls, not the fabric (the leader reports it).
        assert 'naas_controller_leader 1.0' in get(leader_url + 'metrics')[2].decode()
        follows = get(follower_url + 'metrics')[2].decode()
        assert 'naas_controller_leader 0.0' in follows and 'naas_span_up{' not in follows
        port = int(follower_url.rstrip('/').rsplit(':', 1)[1])
        events = Events(port)
        try:
            assert f'r{lead}' in events.until('follower')['message']
            assert events.answer.fp.readline() == b''  # ended: the page tries again
        finally:
            events.close()
        replicas.kill(lead)
        deadline = time.monotonic() + 15
        while get(follower_url + 'api/fabric')[0] != 200:
            assert time.monotonic() < deadline, 'the follower did not take the lead within 15 s'
            time.sleep(0.1)
        leads = get(follower_url + 'metrics')[2].decode()
        assert (
            'naas_controller_leader 1.0' in leads and 'naas_intent_info{class="PRIORITY",dst="dcb"' in leads
        )
        shown = json.loads(get(follower_url + 'api/intents')[2])['intents']
        assert [(i['id'], i['path']) for i in shown] == [(intent.id, list(intent.path))]
        events = Events(port)
        try:
            assert {s['id'] for s in events.until('fabric')['spans']} == {'dca-dcb', 'dcb-dcc', 'dca-dcc'}
        finally:
            events.close()
