"""Fabrics for Mininet's own `mn` command:

    .venv/bin/mn --custom topologies/emulation/mn_custom.py --topo fabric,lumen-qts \
        --controller remote,ip=127.0.0.1,port=6653

The switch and link classes come from the topology itself (one Open vSwitch per site in
its own namespace, spans with delay and bandwidth), so no --switch or --link is needed.
Use the venv's `mn` (it can import this project; Debian's /usr/bin/mn cannot). `mn` execs
this file without `__file__`, so everything comes in by import.
"""

from topologies.emulation.net import FabricTopo
from topologies.model.fabric import load_fabric


def fabric_topo(name='triangle'):
    return FabricTopo(load_fabric(name))


topos = {'fabric': fabric_topo}
