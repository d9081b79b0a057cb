"""A controller replica on etcd (docs/ha.md): it follows the cluster (a mirror of the intents
serves its reads, writes are refused naming the leader) until it wins the lead, then leads
until its process ends.

The lead is a key created on a lease (`Election`): whoever creates it leads, for as long as
it keeps the lease alive; its create revision is the leader's generation, which grows with
every new leader. A leader that cannot renew its lease within the lease's TTL ends its
process at once (crash-only: its successor may already lead, and whatever it would do next
could undo the successor's work; its store writes and, with OpenFlow roles, its messages to
the switches are refused anyway). A leader stopped on purpose gives its lease back, so a
follower takes over at once rather than after the TTL."""

import gc
import json
import logging
import os
import threading
import time
from collections.abc import Callable

from controller.assemble import FollowerApi, serve_http, start_os_ken
from controller.core.errors import Unavailable
from controller.core.restore import Restored
from controller.core.topology import Topology, TopologyEvent
from controller.northbound.convert import topology_message
from controller.northbound.metrics import Metrics
from controller.northbound.reads import Reads
from controller.northbound.seat import Published, Seat
from controller.northbound.server import create_server
from controller.northbound.web import Web
from controller.store.etcd import Etcd, EtcdStore, EtcdTls, Keys, b64, created_at, put
from controller.store.mirror import Mirror, measured_json

LOG = logging.getLogger('naas.replica')
LEASE_S = 1  # etcd grants at least 1.5 of its election timeouts (lab: 0.5 s -> 1 s; default 1 s -> 2 s)
PUBLISH_S = 1.0  # the leader's measured delays, for the followers' reads and its successor


class Election:
    def __init__(self, etcd: Etcd, keys: Keys, name: str, grpc_address: str, lease_s: int = LEASE_S):
        self.etcd, self.keys = etcd, keys
        self.name, self.grpc_address, self.lease_s = name, grpc_address, lease_s
        self.lease: int | None = None
        self.generation = 0
        self.ttl_s = lease_s

    def campaign(self) -> bool:
        """Try to take the lead (Unavailable if etcd cannot say): True if this replica leads."""
        lease, ttl = self.etcd.grant(self.lease_s)
        me = json.dumps({'name': self.name, 'grpc': self.grpc_address, 'lease': lease})
        won, answer = self.etcd.txn(
            [created_at(self.keys.leader, 0)],
            [put(self.keys.leader, me, lease)],
            [{'request_range': {'key': b64(self.keys.leader)}}],
        )
        if won:
            generation = int(answer['header']['revision'])
        else:  # someone leads: us, if a first attempt went through on a member that then failed
            kvs = answer['responses'][0].get('response_range', {}).get('kvs', [])
            if not kvs or int(kvs[0].get('lease', 0)) != lease:
                self._give_back(lease)
                return False
            generation = int(kvs[0]['create_revision'])
        self.lease, self.generation, self.ttl_s = lease, generation, ttl
        LOG.info('%s leads (generation %d, lease %d s)', self.name, self.generation, ttl)
        return True

    def keep(self, lost: Callable[[str], None]) -> None:
        """Renew the lease a few times a TTL, on a thread of its own; `lost(why)` once it cannot
        be (expired, or etcd unreachable for as long as the TTL)."""

        def renew() -> None:
            assert self.lease is not None
            renewed = time.monotonic()
            while True:
                time.sleep(self.ttl_s / 4)
                try:
                    left = self.etcd.keepalive(self.lease)
                except Unavailable as e:
                    if time.monotonic() - renewed >= self.ttl_s:
                        return lost(f'could not renew its lease for {self.ttl_s} s ({e})')
                    continue
                if left <= 0:
                    return lost('its lease expired')
                renewed = time.monotonic()

        threading.Thread(target=renew, name='lease', daemon=True).start()

    def publish(self, measured: str, topology: bytes) -> bool:
        """Write what the leader measured and its topology, only while this replica leads."""
        held, _ = self.etcd.txn(
            [created_at(self.keys.leader, self.generation)],
            [put(self.keys.delays, measured), put(self.keys.topology, topology)],
        )
        return held

    def resign(self) -> None:
        if self.lease is not None:
            self._give_back(self.lease)

    def _give_back(self, lease: int) -> None:
        try:
            self.etcd.revoke(lease)
        except Unavailable:
            pass  # it expires on its own


def lost_lead(why: str) -> None:
    """End the process at once: see the module's docstring."""
    LOG.critical('lost the lead: %s; stopping now (exit 3)', why)
    logging.shutdown()
    os._exit(3)


def follow_then_lead(
    mirror: Mirror,
    election: Election,
    lead: Callable[[int], object],
    stopping: threading.Event,
) -> None:
    """Campaign whenever nobody leads; once this replica wins, wait for the mirror to hold
    everything written before, then `lead(generation)` (which builds the leader's core and
    southbound). Runs on a thread of its own until this replica leads or stops."""
    while not stopping.is_set():
        if mirror.leader is None:
            try:
                won = election.campaign()
            except Unavailable as e:
                LOG.warning('cannot campaign: %s', e)
                won = False
            if won:
                if not mirror.wait_for(election.generation, 10.0):
                    lost_lead('its mirror of etcd did not catch up with its own election')
                election.keep(lost_lead)
                try:
                    lead(election.generation)
                except Exception as e:  # a leader that cannot lead must not hold the lease
                    LOG.exception('taking the lead failed')
                    lost_lead(f'it could not take the lead ({e})')
                return
        mirror.wait_changed(0.5)


def publish(runtime, election: Election, stopping: threading.Event) -> None:
    """What the leader measured and its topology, to etcd: at once when a switch or span
    changes state, else every PUBLISH_S when something changed. The followers serve their
    topology and compute their reads' path latencies from it; the next leader starts from
    the delays."""
    changed = threading.Event()
    runtime.call(lambda core, now: core.subscribe(lambda event: changed.set(), TopologyEvent))

    def loop() -> None:
        sent = None
        while not stopping.is_set():
            changed.wait(PUBLISH_S)
            changed.clear()
            measured, message = runtime.call(
                lambda core, now: (core.measured(), topology_message(core.topology_view(), now))
            )
            topology = message.SerializeToString(deterministic=True)
            if (measured, message.sites, message.spans) == sent:
                continue
            try:
                if not election.publish(measured_json(*measured), topology):
                    return lost_lead('etcd refused its write: another replica leads')
                sent = (measured, message.sites, message.spans)
            except Unavailable as e:
                LOG.warning('cannot publish what it measured: %s', e)

    threading.Thread(target=loop, name='publish', daemon=True).start()


class Replica:
    """One of several controllers on etcd (controller/replica.py): it serves reads and follows
    until it wins the lead, then builds its core and southbound on the cluster's intents."""

    def __init__(self, args, fabric, auth, tls, build, fatal, stopping):
        """`args`: naas-controller's; `build(store=, api=)`: the leader's assembly (assemble's
        other arguments bound); `fatal()`: stop the process (exit 1); `stopping`: set when
        it stops."""
        store_tls = EtcdTls(args.store_ca, args.store_cert, args.store_key).check() if args.store_ca else None
        etcd, keys = Etcd(args.store, tls=store_tls), Keys(fabric.name)
        restored = Restored(fabric, args.burst_ms)  # kept in step: ready when this replica leads
        self.mirror = mirror = Mirror(etcd, keys, Topology.from_fabric(fabric).delays(), restored).start()
        reads = Reads()
        unfollow = reads.follow(mirror)
        leader = lambda: (mirror.leader.name, mirror.leader.grpc) if mirror.leader else None  # noqa: E731
        seat, metrics, web = Seat(leader), Metrics(), Web(leader)
        server, self.grpc_port = create_server(
            seat, auth, f'{args.listen}:{args.grpc_port}', reads, metrics, tls, Published(seat, mirror)
        )
        http = serve_http(args.http_address, metrics, web, auth) if args.http_address else None
        advertise = args.advertise or f'{args.listen}:{self.grpc_port}'
        name = args.name or advertise
        # Lease renewals get a short timeout: one that hangs on a paused member must not outlast the lease.
        self.election = election = Election(Etcd(args.store, 0.3, store_tls), keys, name, advertise)
        self.controller = None
        south = None
        if args.southbound == 'openflow':  # the switches connect to every replica: keep them
            south = start_os_ken(
                (args.listen, args.openflow_port),
                fabric=fabric,
                on_fatal=fatal,
                leader_generation=lambda: mirror.leader.generation if mirror.leader else None,
                on_lost=lost_lead,
                registry=metrics.registry,
            )
            LOG.info('listening for OpenFlow on %s:%d', args.listen, args.openflow_port)
        LOG.info(
            'replica %s following %s: %d intents, leader %s',
            name,
            args.store,
            len(mirror.records),
            mirror.leader.name if mirror.leader else 'none yet',
        )

        def lead(generation):
            restored = mirror.take_restored()
            store = EtcdStore(etcd, keys, generation, restored.meta, on_failure=fatal)
            api = FollowerApi(
                server, self.grpc_port, seat, reads, unfollow, south, generation, metrics, http, web
            )
            self.controller = build(store=store, api=api, restored=restored)
            runtime = self.controller.runtime
            runtime.call(lambda core, now: core.start_from(*mirror.measured, now))
            publish(runtime, election, stopping)
            gc.freeze()  # its core as it took it, out of later collections (controller/main.py)
            LOG.info('%s leads: %d intents', name, len(self.controller.core.intents))

        self._server, self._south, self.http = server, south, http
        threading.Thread(
            target=follow_then_lead, args=(mirror, election, lead, stopping), name='election', daemon=True
        ).start()

    def stop(self):
        """The API and southbound first; then the lease given back (a follower takes over now)."""
        if self.controller is not None:
            self.controller.stop()
        else:
            if self.http is not None:
                self.http.stop()
            self._server.stop(grace=1.0).wait()
            if self._south is not None:
                self._south.stop()
        self.mirror.stop()
        self.election.resign()
