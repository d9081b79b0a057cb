"""The client and naasctl against controller replicas: stand-in IntentService servers on real
loopback sockets (a leader, followers that refuse writes as docs/ha.md says, an address
nobody listens on), checking where each call ends up and what every attempt carried."""

import functools
import socket
import threading
import time
from concurrent import futures

import grpc
import pytest

from controller.core.orders import REQUEST_ID
from naas.v1 import intent_pb2, intent_service_pb2_grpc
from naas.v1 import intent_service_pb2 as service
from naasctl import main as naasctl
from naasctl.client import LEADER_KEY, ApiError, Client, Order

CODE = grpc.StatusCode
WRITES = ('CreateIntent', 'CreateIntents', 'UpdateIntent', 'DeleteIntent', 'CheckIntent')


class Replica(intent_service_pb2_grpc.IntentServiceServicer):
    """One replica: 'leader' answers everything; 'follower' refuses writes naming `leader`;
    'electing' refuses writes with no leader to name. Reads answer with the replica's name
    in `description`. Every call is kept in `calls` as (method, request)."""

    def __init__(self, name, role, leader=''):
        self.name, self.role, self.leader = name, role, leader
        self.calls = []
        self.release = threading.Event()  # WatchIntents' second event waits for it

    def _write(self, method, request, context):
        self.calls.append((method, request))
        if self.role == 'follower':
            context.set_trailing_metadata(((LEADER_KEY, self.leader),))
            context.abort(CODE.UNAVAILABLE, f'not the leader: the leader is at {self.leader}')
        if self.role == 'electing':
            context.abort(CODE.UNAVAILABLE, 'no leader now: an election is under way')
        if method == 'CreateIntent' and request.intent.src_site == 'bad':
            context.abort(CODE.INVALID_ARGUMENT, 'src_site: no such site')
        return self._intent(request.intent if hasattr(request, 'intent') else intent_pb2.Intent())

    def _intent(self, intent, intent_id='i-1'):
        made = intent_pb2.Intent()
        made.CopyFrom(intent)
        made.id, made.description = made.id or intent_id, self.name
        return made

    def CreateIntent(self, request, context):
        return service.CreateIntentResponse(intent=self._write('CreateIntent', request, context))

    def CreateIntents(self, request, context):
        self._write('CreateIntents', request, context)
        results = [
            service.CreateIntentsResult(intent=self._intent(o.intent, f'i-{k}'))
            for k, o in enumerate(request.orders)
        ]
        return service.CreateIntentsResponse(results=results)

    def UpdateIntent(self, request, context):
        return service.UpdateIntentResponse(intent=self._write('UpdateIntent', request, context))

    def DeleteIntent(self, request, context):
        self._write('DeleteIntent', request, context)
        return service.DeleteIntentResponse(intent=self._intent(intent_pb2.Intent(id=request.id)))

    def CheckIntent(self, request, context):
        self._write('CheckIntent', request, context)
        return service.CheckIntentResponse(admissible=True)

    def GetIntent(self, request, context):
        self.calls.append(('GetIntent', request))
        return service.GetIntentResponse(intent=self._intent(intent_pb2.Intent(id=request.id)))

    def ListIntents(self, request, context):
        self.calls.append(('ListIntents', request))
        return service.ListIntentsResponse(intents=[self._intent(intent_pb2.Intent(id='i-1'))])

    def WatchIntents(self, request, context):
        self.calls.append(('WatchIntents', request))
        context.send_initial_metadata(())  # subscribed, as the controller says it
        yield service.WatchIntentsResponse(event=intent_pb2.IntentEvent(intent_id='i-1', reason=self.name))
        self.release.wait(5)
        yield service.WatchIntentsResponse(event=intent_pb2.IntentEvent(intent_id='i-2', reason=self.name))

    def methods(self):
        return [method for method, _request in self.calls]


@pytest.fixture
def serve():
    """serve(name, role, leader='') -> (its address, its Replica); every server stops after."""
    servers = []

    def start(name, role, leader=''):
        replica = Replica(name, role, leader)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        intent_service_pb2_grpc.add_IntentServiceServicer_to_server(replica, server)
        port = server.add_insecure_port('127.0.0.1:0')
        server.start()
        servers.append((server, replica))
        return f'127.0.0.1:{port}', replica

    yield start
    for server, replica in servers:
        replica.release.set()
        server.stop(0)


@pytest.fixture
def down():
    """An address nobody listens on: connections are refused at once."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return f'127.0.0.1:{s.getsockname()[1]}'


def test_one_address_or_several(down):
    for given in ('a:1,b:2', ' a:1 , b:2 ,', ['a:1', 'b:2']):
        with Client(given) as naas:
            assert (naas.servers, naas.server) == (['a:1', 'b:2'], 'a:1')
    with Client('a:1') as naas:
        assert naas.servers == ['a:1']
    with pytest.raises(ValueError, match='HOST:PORT'):
        Client(' , ')


def test_a_create_finds_the_leader_with_one_request_id(serve, down):
    leader, at_leader = serve('r1', 'leader')
    follower, at_follower = serve('r2', 'follower', leader)
    with Client([down, follower], failover_s=5.0) as naas:  # the leader only through metadata
        made = naas.create_intent('phx1', 'iad1', 10)
        assert made.description == 'r1' and naas.server == leader
        first, second = at_follower.calls[0][1], at_leader.calls[0][1]
        assert at_follower.methods() == at_leader.methods() == ['CreateIntent']
        assert first.request_id == second.request_id and first.request_id.startswith('naasctl-')
        assert REQUEST_ID.fullmatch(first.request_id)  # what the controller accepts
        naas.create_intent('phx1', 'atl1', 10)  # the next call goes straight to the leader
        assert at_follower.methods() == ['CreateIntent'] and len(at_leader.calls) == 2
        assert at_leader.calls[1][1].request_id not in ('', first.request_id)  # one per create

    with Client([follower], failover_s=5.0) as naas:  # one server that names the leader
        batch = naas.create_intents(
            [Order('', 'phx1', 'iad1', 1), Order('', 'phx1', 'atl1', 1, request_id='mine')]
        )
        assert [r.intent.description for r in batch] == ['r1', 'r1']
        refused, taken = at_follower.calls[-1][1], at_leader.calls[-1][1]
        assert refused == taken and [o.request_id for o in taken.orders][1] == 'mine'
        assert taken.orders[0].request_id.startswith('naasctl-')


@pytest.mark.parametrize('write', WRITES)
def test_every_write_follows_the_leader(serve, write):
    leader, at_leader = serve('r1', 'leader')
    follower, at_follower = serve('r2', 'follower', leader)
    calls = {
        'CreateIntent': lambda naas: naas.create_intent('phx1', 'iad1', 1),
        'CreateIntents': lambda naas: naas.create_intents(
            [dict(src_site='phx1', dst_site='iad1', bandwidth_gbps=1)]
        ),
        'UpdateIntent': lambda naas: naas.update_intent('i-1', bandwidth_gbps=2),
        'DeleteIntent': lambda naas: naas.delete_intent('i-1'),
        'CheckIntent': lambda naas: naas.check_intent('phx1', 'iad1', 1),
    }
    with Client(follower) as naas:
        calls[write](naas)
        assert at_follower.methods() == at_leader.methods() == [write]
        assert at_follower.calls[0][1] == at_leader.calls[0][1]  # the same request, retried
        assert naas.server == leader


def test_reads_are_served_by_the_first_live_replica(serve, down):
    leader, at_leader = serve('r1', 'leader')
    follower, at_follower = serve('r2', 'follower', leader)
    with Client([down, follower, leader]) as naas:
        assert naas.get_intent('i-7').description == 'r2'
        assert [i.description for i in naas.list_intents()] == ['r2']
        with naas.watch_intents() as events:
            assert next(events).reason == 'r2'
        assert naas.server == follower and at_leader.calls == []
        assert at_follower.methods() == ['GetIntent', 'ListIntents', 'WatchIntents']


def test_a_stream_keeps_its_replica_while_writes_move_to_the_leader(serve):
    leader, _ = serve('r1', 'leader')
    follower, at_follower = serve('r2', 'follower', leader)
    with Client([follower]) as naas:
        events = naas.watch_intents()
        assert next(events).reason == 'r2'
        naas.create_intent('phx1', 'iad1', 1)  # moves the client to the leader
        at_follower.release.set()
        assert (next(events).intent_id, naas.server) == ('i-2', leader)  # not cancelled
        events.cancel()


def test_no_leader_anywhere_is_unavailable_after_failover_s(serve, down):
    electing, at_electing = serve('r2', 'electing')
    with Client([down, electing], failover_s=0.6) as naas:
        start = time.monotonic()
        with pytest.raises(ApiError) as refused:
            naas.create_intent('phx1', 'iad1', 1)
        took = time.monotonic() - start
    assert refused.value.code == CODE.UNAVAILABLE and 0.6 <= took < 1.5, (took, refused.value)
    # Each round of the two is followed by a pause of 0.1 s: a few rounds, no hammering.
    assert 3 <= len(at_electing.calls) <= 8, at_electing.calls
    assert len({request.request_id for _, request in at_electing.calls}) == 1

    with Client([down, down], failover_s=0.3) as naas, pytest.raises(ApiError) as refused:
        naas.get_intent('i-1')
    assert refused.value.code == CODE.UNAVAILABLE


def test_one_server_down_is_unavailable_at_once(down):
    with Client(down, failover_s=5.0) as naas:
        start = time.monotonic()
        with pytest.raises(ApiError) as refused:
            naas.get_intent('i-1')
    assert refused.value.code == CODE.UNAVAILABLE and time.monotonic() - start < 2


def test_other_codes_are_raised_at_once(serve):
    leader, at_leader = serve('r1', 'leader')
    other, at_other = serve('r3', 'leader')
    with Client([leader, other], failover_s=5.0) as naas:
        with pytest.raises(ApiError) as refused:
            naas.create_intent('bad', 'iad1', 1)
        assert refused.value.code == CODE.INVALID_ARGUMENT and 'src_site' in refused.value.message
        assert at_leader.methods() == ['CreateIntent'] and at_other.calls == []
    follower, _ = serve('r2', 'follower', leader)
    with Client([follower, other], failover_s=5.0) as naas:  # also at the leader a follower named
        with pytest.raises(ApiError, match='INVALID_ARGUMENT'):
            naas.create_intent('bad', 'iad1', 1)
        assert at_leader.methods() == ['CreateIntent'] * 2 and at_other.calls == []


def test_naasctl_takes_a_comma_list(serve, down, monkeypatch, capsys):
    def parse(*argv):
        return naasctl.build_parser().parse_args(argv)  # reads NAAS_SERVER as it is now

    assert parse('--server', ' a:1, b:2 ,', 'topology').server == 'a:1,b:2'
    monkeypatch.setenv('NAAS_SERVER', 'r0:50051,r1:50051')
    assert parse('topology').server == 'r0:50051,r1:50051'
    monkeypatch.delenv('NAAS_SERVER')
    assert naasctl.main(['--server', ' , ', 'topology']) == 2
    assert 'argument --server' in capsys.readouterr().err
    assert 'HOST:PORT[,HOST:PORT...]' in naasctl.build_parser().format_help()

    leader, _ = serve('r1', 'leader')
    follower, _ = serve('r2', 'follower', leader)
    assert naasctl.main(['--server', f'{down},{follower}', '--json', 'intent', 'delete', 'i-4']) == 0
    assert '"description": "r1"' in capsys.readouterr().out

    monkeypatch.setattr(naasctl, 'Client', functools.partial(Client, failover_s=0.2))
    assert naasctl.main(['--server', f'{down},{down}', 'intent', 'get', 'i-4']) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f'naasctl: cannot reach the controller at any of {down},{down} (the last tried: {down}): '
    )


def test_a_closed_client_stays_closed(serve):
    leader, _ = serve('r1', 'leader')
    naas = Client(leader)
    assert naas.get_intent('i-1').description == 'r1'
    naas.close()
    naas.close()
    with pytest.raises(ValueError, match='closed'):
        naas.get_intent('i-1')
