"""Tests marked `root` need root, Open vSwitch and Mininet's mnexec; CI runs them (as root)."""
import os
import shutil

import pytest


def root_ready():
    tools = ('ovs-vswitchd', 'ovsdb-server', 'mnexec', 'iperf3', 'tc')
    return os.geteuid() == 0 and all(shutil.which(t) for t in tools)


def pytest_collection_modifyitems(config, items):
    if root_ready():
        return
    skip = pytest.mark.skip(reason='needs root, Open vSwitch and Mininet: run `make test` as root')
    for item in items:
        if 'root' in item.keywords:
            item.add_marker(skip)
