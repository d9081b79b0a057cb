"""Fabrics for Mininet's own `mn` command:

    .venv/bin/mn --custom topologies/mn_custom.py --topo fabric,lumen-qts \
        --controller remote,ip=127.0.0.1,port=6653

The switch and link classes come from the topology itself (one Open vSwitch per site in
its own namespace, spans with delay and bandwidth), so no --switch or --link is needed.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from topologies.emulation import FabricTopo  # noqa: E402
from topologies.fabric import load_fabric  # noqa: E402


def fabric_topo(name='triangle'):
    return FabricTopo(load_fabric(name))


topos = {'fabric': fabric_topo}
