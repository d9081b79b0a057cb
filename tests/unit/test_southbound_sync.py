"""The southbound's syncer sends a move in the order that loses no traffic: the new path, a
barrier, the flip, a barrier, then a wait until frames on the old path have arrived, and only
then the clean-up. Switches faked at the send and barrier level."""

from types import SimpleNamespace

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from controller.core.controller import Controller
from controller.runtime import Runtime
from controller.southbound.app import FabricApp, _Switch
from topologies.model import addressing as addr
from topologies.model.fabric import load_fabric
from topologies.model.order import Order

TRIANGLE = load_fabric('triangle')


def synced_app():
    core = Controller(TRIANGLE)
    app = FabricApp(runtime=Runtime(core, clock=lambda: 1.0))
    log = []
    for site in TRIANGLE.sites.values():
        dp = SimpleNamespace(
            id=addr.dpid(site),
            ofproto=ofp,
            ofproto_parser=parser,
            send_msg=lambda msg, site=site.id: log.append((site, _kind(msg))) or True,
        )
        switch = _Switch(dp, site)
        switch.ready = True
        app.switches[dp.id] = switch
    app._barrier = lambda switch: log.append((switch.site.id, 'barrier')) or True
    app._stop.wait = lambda seconds: log.append(('*', f'wait {seconds:g}'))
    return core, app, log


def _kind(msg):
    if isinstance(msg, parser.OFPFlowMod):
        return (
            'flip'
            if msg.priority == 40000 and msg.command == ofp.OFPFC_ADD
            else 'delete'
            if msg.command == ofp.OFPFC_DELETE_STRICT
            else 'add'
        )
    return type(msg).__name__


def test_a_move_flips_after_the_new_path_and_cleans_up_after_the_drain():
    core, app, log = synced_app()
    intent = core.create(Order('red', 'dca', 'dcc', 5), now=1)
    app._sync()
    assert ('*', f'wait {app.drain_s:g}') not in log  # nothing to clean up
    del log[:]
    core.update(intent.id, bandwidth_gbps=9.5, now=2)  # moves to dca-dcb-dcc
    app._sync()
    kinds = [kind for _, kind in log]
    flips = [i for i, k in enumerate(kinds) if k == 'flip']
    deletes = [i for i, k in enumerate(kinds) if k == 'delete']
    wait = kinds.index(f'wait {app.drain_s:g}')
    assert flips and deletes
    assert max(i for i, k in enumerate(kinds) if k == 'add') < min(flips)
    assert max(flips) < wait < min(deletes)
    assert kinds[wait - 1] == 'barrier'  # the flip is in the switches
    assert 0 < app.drain_s < 1
