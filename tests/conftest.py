"""Tests marked `root` need root, Open vSwitch and Mininet's mnexec; CI runs them (as root).
Tests that take `etcd_cluster` need Debian's etcd-server (any user): CI installs it, and fails
without it; elsewhere they are skipped, saying so."""

import pytest

from tests.etcd import etcd_cluster  # noqa: F401 (a fixture, for tests/unit and tests/api)
from topologies.lab.pytest_plugin import lab_ready


def pytest_collection_modifyitems(config, items):
    if not lab_ready():
        return
    skip = pytest.mark.skip(reason='needs root, Open vSwitch and Mininet: run `make test` as root')
    for item in items:
        if 'root' in item.keywords:
            item.add_marker(skip)
