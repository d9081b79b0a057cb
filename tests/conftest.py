"""Tests marked `root` need root, Open vSwitch and Mininet's mnexec; CI runs them (as root).
Tests that take `etcd_cluster` need Debian's etcd-server (any user): CI installs it, and fails
without it; elsewhere they are skipped, saying so."""

import os
import shutil

import pytest

from topologies.lab.etcd import EtcdCluster
from topologies.lab.pytest_plugin import lab_ready


@pytest.fixture
def etcd_cluster(tmp_path):
    """A started etcd cluster of 3 members on loopback, stopped after the test."""
    if shutil.which('etcd') is None:
        why = 'etcd is not installed: run scripts/setup-host.sh (Debian etcd-server)'
        if os.environ.get('CI'):
            pytest.fail(why)
        pytest.skip(why)
    with EtcdCluster(workdir=tmp_path / 'etcd') as cluster:
        yield cluster


def pytest_collection_modifyitems(config, items):
    if not lab_ready():
        return
    skip = pytest.mark.skip(reason='needs root, Open vSwitch and Mininet: run `make test` as root')
    for item in items:
        if 'root' in item.keywords:
            item.add_marker(skip)
