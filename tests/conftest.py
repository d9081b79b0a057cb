"""Tests marked `root` need root, Open vSwitch and Mininet's mnexec; CI runs them (as root)."""

import pytest

from topologies.lab.pytest_plugin import lab_ready


def pytest_collection_modifyitems(config, items):
    if not lab_ready():
        return
    skip = pytest.mark.skip(reason='needs root, Open vSwitch and Mininet: run `make test` as root')
    for item in items:
        if 'root' in item.keywords:
            item.add_marker(skip)
