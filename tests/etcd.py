"""Real etcd for the tests (no root): the `etcd_cluster` fixture (registered in tests/conftest.py
for tests/unit and tests/api) and keys written and read through etcd's JSON gateway with the
standard library, each call with its own timeout (etcd3gw retries on its own)."""

import base64
import json
import os
import shutil
import urllib.request

import pytest

from topologies.lab.etcd import INSTALL_HINT, EtcdCluster


def require_etcd():
    """CI installs Debian's etcd-server and fails without it; elsewhere the test is skipped."""
    if shutil.which('etcd') is None:
        if os.environ.get('CI'):
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)


@pytest.fixture
def etcd_cluster(tmp_path):
    """A started etcd cluster of 3 members on loopback, stopped after the test."""
    require_etcd()
    with EtcdCluster(workdir=tmp_path / 'etcd') as cluster:
        yield cluster


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def _call(endpoint, path, body, timeout):
    request = urllib.request.Request(
        f'http://{endpoint}{path}',
        data=json.dumps(body).encode(),
        headers={'Content-Type': 'application/json'},
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.load(answer)


def put(endpoint, key, value, timeout=5.0):
    """Raises OSError (a timeout, or etcd's refusal as an HTTP error) when it does not go through."""
    return _call(endpoint, '/v3/kv/put', {'key': _b64(key), 'value': _b64(value)}, timeout)


def get(endpoint, key, serializable=False, timeout=5.0):
    """The value or None. `serializable`: what this member holds, with no quorum asked."""
    body = {'key': _b64(key), 'serializable': serializable}
    kvs = _call(endpoint, '/v3/kv/range', body, timeout).get('kvs', [])
    return base64.b64decode(kvs[0]['value']).decode() if kvs else None


def members(endpoint, timeout=5.0):
    """The cluster's members as this one knows them: {name: [client URL, ...]}."""
    listed = _call(endpoint, '/v3/cluster/member/list', {}, timeout)['members']
    return {m.get('name', ''): m.get('clientURLs', []) for m in listed}
