"""TopologyService, standard health and reflection, and the API over TLS with a certificate
the test makes."""

import subprocess

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from controller.core.topology import Link
from naasctl.client import ApiError, Client
from topologies.model import addressing as addr


def test_topology_reports_capacity_reservations_measurements_and_state(serve):
    served = serve()
    red = served.client('red')
    red.create_intent('dca', 'dcc', 5)
    served.call(
        lambda core, now: (
            core.delay_measured(Link('dca', 'dcc'), 9.3, now),
            core.utilization_measured(Link('dcc', 'dca'), 4.2, now),
        )
    )
    topology = red.get_topology()
    assert topology.fabric == 'triangle' and topology.time.seconds > 0
    assert [s.id for s in topology.sites] == ['dca', 'dcb', 'dcc']
    assert all(s.connected for s in topology.sites)  # the loopback southbound
    span = {s.id: s for s in topology.spans}['dca-dcc']
    assert (span.site_a, span.site_b, span.capacity_gbps, span.up) == ('dca', 'dcc', 10, True)
    there, back = span.directions
    assert (there.from_site, there.to_site, there.reserved_gbps) == ('dca', 'dcc', 5)
    assert (there.delay_ms, there.delay_measured) == (pytest.approx(9.3), True)
    assert (back.delay_ms, back.delay_measured, back.utilization_gbps) == (9, False, pytest.approx(4.2))


def test_watch_topology_sends_a_snapshot_at_once_and_on_every_change(serve):
    served = serve()
    red = served.client('red')
    dcb = served.fabric.sites['dcb']
    with red.watch_topology(interval_ms=60000) as snapshots:
        first = next(snapshots)
        assert all(s.up for s in first.spans)
        served.call(lambda core, now: core.switch_disconnected(addr.dpid(dcb), now))
        second = next(snapshots)  # long before the interval
    down = {s.id for s in second.spans if not s.up}
    assert down == {'dca-dcb', 'dcb-dcc'}
    assert [s.connected for s in second.sites] == [True, False, True]


def test_generic_grpc_tools_find_the_services(serve):
    served = serve()
    channel = grpc.insecure_channel(served.target)
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    answer = next(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services='')])))
    names = {s.name for s in answer.list_services_response.service}
    assert {'naas.v1.IntentService', 'naas.v1.TopologyService', 'grpc.health.v1.Health'} <= names
    channel.close()
    assert served.client(None).health() == 'SERVING'


def _certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1, made with openssl."""
    cert, key = tmp_path / 'cert.pem', tmp_path / 'key.pem'
    subprocess.run(
        [
            'openssl',
            'req',
            '-x509',
            '-newkey',
            'rsa:2048',
            '-nodes',
            '-days',
            '1',
            '-subj',
            '/CN=naas-test',
            '-addext',
            'subjectAltName=IP:127.0.0.1',
            '-keyout',
            str(key),
            '-out',
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_the_api_over_tls(serve, tmp_path):
    cert, key = _certificate(tmp_path)
    served = serve(tls=(cert.read_bytes(), key.read_bytes()))
    red = served.client('red', ca_cert=str(cert))
    made = red.create_intent('dca', 'dcc', 1)
    assert red.get_intent(made.id).tenant == 'red'
    plain = served.client('red', timeout_s=2)
    with pytest.raises(ApiError) as refused:
        plain.get_intent(made.id)  # plaintext to a TLS port
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE
    (tmp_path / 'other').mkdir()
    other, _ = _certificate(tmp_path / 'other')
    stranger = Client(served.target, token=served.tokens['red'], ca_cert=str(other), timeout_s=2)
    with pytest.raises(ApiError) as untrusted:
        stranger.get_intent(made.id)  # a server it cannot trust
    stranger.close()
    assert untrusted.value.code == grpc.StatusCode.UNAVAILABLE
