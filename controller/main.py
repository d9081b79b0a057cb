"""naas-controller: the controller of a fabric, OpenFlow southbound and gRPC API, in one process.

    naas-controller --fabric lumen-qts --db /var/lib/naas/lumen.db --auth auth.yaml
                    [--openflow-port 6653] [--grpc-port 50051] [--tls-cert C --tls-key K]
                    [--http-port 8080]

controller/assemble.py puts the parts together: os-ken (native threads, no eventlet) with our
app, and the gRPC server in the same process, both reaching the core through the runtime's
lock. SIGTERM or SIGINT stops it cleanly: the store
is closed after the last transaction, and the process exits 0. A handler that raises stops
it with status 1 (see southbound.app).
"""

import argparse
import functools
import gc
import logging
import os
import signal
import socket
import sys
import threading

from controller import logs
from controller.core.errors import Unavailable
from controller.core.routes import BURST_MS
from controller.store.group import StoreError
from controller.store.sqlite import Store
from topologies.model.auth import load_auth
from topologies.model.check import check_files
from topologies.model.config import ConfigError
from topologies.model.fabric import load_fabric
from topologies.model.policy import load_policy

LOG = logging.getLogger('naas.controller')
# The heap holds every intent (a few dozen objects each), and Python's default collector walks
# all of it again and again while objects are being made: a restart or a follower's start on
# 10,000 intents spent half its time there, and a new leader's core paused 0.2-0.3 s in full
# collections. Collect the youngest generation every 50,000 allocations rather than 700, and
# keep what start-up built (fabric, intents as restored) out of later collections (gc.freeze;
# a new leader freezes its core too, controller/replica.py).
GC_THRESHOLD = (50_000, 20, 20)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='naas-controller', description=__doc__.split('\n\n')[0])
    parser.add_argument('--fabric', required=True, help='shipped fabric name, file path or topohub:KEY')
    parser.add_argument(
        '--db', help='SQLite file holding intents (created if missing; this or --store, unless --check)'
    )
    parser.add_argument(
        '--store',
        metavar='etcd://HOST:PORT[,HOST:PORT...]',
        help='keep intents in etcd instead, as one of several replicas: one leads, the others '
        'serve reads and take over when it dies (docs/ha.md)',
    )
    parser.add_argument(
        '--store-ca', metavar='PEM', help="CA certificate of etcd's: talk to etcd over TLS (docs/ha.md)"
    )
    parser.add_argument(
        '--store-cert', metavar='PEM', help="this replica's client certificate for etcd (with --store-key)"
    )
    parser.add_argument('--store-key', metavar='PEM', help='the private key of --store-cert')
    parser.add_argument(
        '--name', help="this replica's name in etcd and in messages (default: HOST:GRPC_PORT)"
    )
    parser.add_argument(
        '--advertise',
        metavar='HOST:PORT',
        help='the gRPC address followers name for this replica when it leads (default: --listen:--grpc-port)',
    )
    parser.add_argument('--listen', default='127.0.0.1', help='address to listen on (default: %(default)s)')
    parser.add_argument('--openflow-port', type=int, default=6653, help='default: %(default)s')
    parser.add_argument('--grpc-port', type=int, default=50051, help='default: %(default)s')
    parser.add_argument(
        '--http-port',
        type=int,
        help='serve /metrics (Prometheus) and the web view over HTTP on this port (off unless given; '
        'docs/observability.md)',
    )
    parser.add_argument(
        '--http-listen',
        default='127.0.0.1',
        help='address the HTTP port listens on (default: %(default)s; anywhere else every request '
        "needs an operator's token)",
    )
    parser.add_argument(
        '--auth',
        required=True,
        help='YAML file of operator and tenant token digests and quotas (docs/api.md)',
    )
    parser.add_argument('--tls-cert', help='PEM certificate: serve gRPC over TLS (with --tls-key)')
    parser.add_argument('--tls-key', help='PEM private key of --tls-cert')
    parser.add_argument(
        '--southbound',
        default='openflow',
        choices=['openflow', 'loopback'],
        help='loopback: no switches, every plan counts as installed at once '
        '(to try the API without a fabric; default: %(default)s)',
    )
    parser.add_argument(
        '--headroom',
        type=float,
        default=0.1,
        help='fraction of every span never reserved (default: %(default)s)',
    )
    parser.add_argument(
        '--burst-ms',
        type=float,
        default=BURST_MS,
        help="meter burst in ms of an intent's rate (default: %(default)s)",
    )
    parser.add_argument('--policy', help='YAML policy file of the policy engine (docs/policy.md)')
    parser.add_argument('--log-level', default='info', choices=['debug', 'info', 'warning', 'error'])
    parser.add_argument(
        '--check',
        action='store_true',
        help='validate --fabric, --auth and --policy, print every problem, exit',
    )
    args = parser.parse_args(argv)
    if not args.check and bool(args.db) == bool(args.store):
        parser.error('give one of --db (one controller, SQLite) and --store (replicas on etcd)')
    if (args.store_ca or args.store_cert or args.store_key) and not args.store:
        parser.error('--store-ca, --store-cert and --store-key go with --store')
    if bool(args.store_cert) != bool(args.store_key):
        parser.error('--store-cert and --store-key go together')
    if args.store_cert and not args.store_ca:
        parser.error('--store-cert needs --store-ca (a client certificate is shown over TLS only)')
    if args.http_port is not None and not 0 <= args.http_port <= 65535:
        parser.error(f'--http-port: a port from 0 to 65535, got {args.http_port}')
    args.http_address = (args.http_listen, args.http_port) if args.http_port is not None else None
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.check:  # every problem as FILE: KEY: RULE, or a line per good file; nothing started
        return 0 if check_files([args.fabric], policy=args.policy, auth=args.auth) else 2
    if bool(args.tls_cert) != bool(args.tls_key):
        print('naas-controller: --tls-cert and --tls-key go together', file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format='%(asctime)s %(levelname)s %(name)s: %(message)s',
    )
    logs.install()
    gc.set_threshold(*GC_THRESHOLD)
    for noisy in ('os_ken.base.app_manager', 'os_ken.controller.controller'):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    stopping, status = threading.Event(), []

    def fatal():
        status.append(1)
        stopping.set()

    try:
        from controller.assemble import assemble  # os-ken and the rest of the controller's extra
    except ModuleNotFoundError as e:
        print(
            f"naas-controller: {e.name} is not installed: pip install 'naas-fabric[controller]'",
            file=sys.stderr,
        )
        return 2
    try:
        fabric = load_fabric(args.fabric)
        auth = load_auth(args.auth, fabric)
        tls = _read_tls(args.tls_cert, args.tls_key) if args.tls_cert else None
        if args.southbound == 'openflow':
            _check_port_free(args.listen, args.openflow_port)
        policy = load_policy(args.policy, fabric) if args.policy else None
        build = functools.partial(
            assemble,
            fabric,
            auth=auth,
            policy=policy,
            headroom=args.headroom,
            burst_ms=args.burst_ms,
            grpc_address=f'{args.listen}:{args.grpc_port}',
            http_address=args.http_address,
            tls=tls,
            southbound=args.southbound,
            openflow_address=(args.listen, args.openflow_port),
            on_fatal=fatal,
        )
        if args.store:
            from controller.replica import Replica

            running = Replica(args, fabric, auth, tls, build, fatal, stopping)
        else:
            store = Store(args.db, on_failure=fatal)  # a store that cannot write: stop (exit 1)
            running = Single(build(store=store), args)
        gc.freeze()
    except (ConfigError, StoreError, Unavailable, ValueError, OSError, RuntimeError) as e:
        print(f'naas-controller: {e}', file=sys.stderr)
        return 2

    LOG.info(
        'fabric %s: %d sites, %d spans, %d tenants',
        fabric.name,
        len(fabric.sites),
        len(fabric.spans),
        len(fabric.tenants),
    )

    def on_signal(signum, _frame):
        LOG.info('%s: stopping', signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.southbound == 'loopback':
        LOG.info('loopback southbound: no switches, plans count as installed at once')
    LOG.info('serving gRPC on %s:%d (%s)', args.listen, running.grpc_port, 'TLS' if tls else 'plaintext')
    if running.http is not None:
        LOG.info('serving /metrics and the web view on %s', running.http.url)
    while not stopping.wait(0.5):
        pass
    running.stop()
    LOG.info('stopped')
    logging.shutdown()
    # os-ken's accept loop and connection threads cannot be stopped (hub.kill is a no-op in
    # native mode), so leave without waiting for them: everything worth keeping is stored.
    os._exit(status[0] if status else 0)


class Single:
    """One controller on SQLite: it leads from the start."""

    def __init__(self, controller, args):
        self.controller, self.grpc_port, self.http = controller, controller.grpc_port, controller.http
        LOG.info('%d intents restored from %s', len(controller.core.intents), args.db)
        _log_openflow(args)

    def stop(self):
        self.controller.stop()


def _log_openflow(args):
    if args.southbound == 'openflow':
        LOG.info('listening for OpenFlow on %s:%d', args.listen, args.openflow_port)


def _read_tls(cert, key):
    with open(cert, 'rb') as c, open(key, 'rb') as k:
        return c.read(), k.read()


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
