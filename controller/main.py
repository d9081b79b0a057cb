"""naas-controller: the OpenFlow controller of a fabric, in one process.

    naas-controller --fabric lumen-qts --db /var/lib/naas/lumen.db [--openflow-port 6653]

os-ken is started from here (native threads, no eventlet), with our app as its only app
besides its OpenFlow handshake handler. SIGTERM or SIGINT stops it cleanly: the store is
closed after the last transaction, and the process exits 0. A handler that raises stops
it with status 1 (see southbound.app).
"""
import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time

from controller.core.controller import BURST_MS, Controller
from controller.runtime import Runtime
from controller.store import Store, StoreError
from topologies.fabric import FabricError, load_fabric

LOG = logging.getLogger('naas.controller')


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='naas-controller', description=__doc__.split('\n\n')[0])
    parser.add_argument('--fabric', required=True, help='shipped fabric name, file path or topohub:KEY')
    parser.add_argument('--db', required=True, help='SQLite file holding intents (created if missing)')
    parser.add_argument('--listen', default='127.0.0.1', help='address to listen on (default: %(default)s)')
    parser.add_argument('--openflow-port', type=int, default=6653, help='default: %(default)s')
    parser.add_argument('--headroom', type=float, default=0.1,
                        help='fraction of every span never reserved (default: %(default)s)')
    parser.add_argument('--burst-ms', type=float, default=BURST_MS,
                        help="meter burst in ms of an intent's rate (default: %(default)s)")
    parser.add_argument('--log-level', default='info', choices=['debug', 'info', 'warning', 'error'])
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    for noisy in ('os_ken.base.app_manager', 'os_ken.controller.controller'):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        fabric = load_fabric(args.fabric)
        _check_port_free(args.listen, args.openflow_port)
        store = Store(args.db)
        core = Controller(fabric, headroom=args.headroom, burst_ms=args.burst_ms, store=store,
                          now=time.time())
    except (FabricError, StoreError, ValueError, OSError) as e:
        print(f'naas-controller: {e}', file=sys.stderr)
        return 2
    core.subscribe(lambda e: LOG.info('intent %s (%s): %s, %s', e.intent_id, e.tenant,
                                      e.state.value, e.reason))
    LOG.info('fabric %s: %d sites, %d spans, %d tenants; %d intents restored from %s',
             fabric.name, len(fabric.sites), len(fabric.spans), len(fabric.tenants),
             len(core.intents), args.db)

    stopping, status = threading.Event(), []

    def fatal():
        status.append(1)
        stopping.set()

    def on_signal(signum, _frame):
        LOG.info('%s: stopping', signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    app = _start_os_ken(Runtime(core), fatal, args.listen, args.openflow_port)
    LOG.info('listening for OpenFlow on %s:%d', args.listen, args.openflow_port)
    while not stopping.wait(0.5):
        pass
    app.stop()
    store.close()
    LOG.info('stopped')
    logging.shutdown()
    # os-ken's accept loop and connection threads cannot be stopped (hub.kill is a no-op in
    # native mode), so leave without waiting for them: everything worth keeping is stored.
    os._exit(status[0] if status else 0)


def _start_os_ken(runtime, on_fatal, host, port):
    from os_ken import cfg
    from os_ken.base.app_manager import AppManager
    cfg.CONF(args=[], project='os_ken')
    cfg.CONF.set_override('ofp_listen_host', host)
    cfg.CONF.set_override('ofp_tcp_listen_port', port)
    manager = AppManager.get_instance()
    manager.load_apps(['controller.southbound.app'])
    contexts = manager.create_contexts()
    manager.instantiate_apps(runtime=runtime, on_fatal=on_fatal, **contexts)
    return manager.applications['FabricApp']


def _check_port_free(host, port):
    """os-ken binds in a thread of its own, where a failure is only logged: check first."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise OSError(f'cannot listen for OpenFlow on {host}:{port}: {e.strerror}') from None


if __name__ == '__main__':
    sys.exit(main())
