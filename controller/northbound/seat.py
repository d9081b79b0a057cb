"""The runtime the API calls on a controller replica (docs/ha.md): the leader's own, or, while
this replica follows, none: every call that needs the core (writes, CheckIntent, topology) is
refused UNAVAILABLE naming the leader, in the message and in the `naas-leader` trailing
metadata, so that naasctl and the client library go there. Reads of intents are served by
the read model on every replica."""

from collections.abc import Callable

from controller.core.errors import Unavailable
from controller.runtime import Clock
from naas.v1 import topology_pb2

LEADER_KEY = 'naas-leader'  # trailing metadata: the leader's gRPC address


class NotLeader(Unavailable):
    def __init__(self, leader: tuple[str, str] | None):
        if leader is None:
            super().__init__('no leader now (an election is under way, or etcd has no quorum): try again')
        else:
            name, address = leader
            super().__init__(
                f'not the leader: the leader is {name} at {address} (naasctl --server {address})'
            )
        self.leader_address = leader[1] if leader else None


class Seat:
    def __init__(self, leader: Callable[[], tuple[str, str] | None]):
        """`leader()`: (name, gRPC address) of the leader as this replica knows it, or None."""
        self._leader = leader
        self.runtime = None  # the leader's Runtime once this replica leads
        self.clock = Clock()  # `now` for what reads stamp (a watch's current events)

    def call(self, fn):
        runtime = self.runtime
        if runtime is None:
            raise NotLeader(self._leader())
        return runtime.call(fn)


class Published:
    """A follower's topology: the one the leader last published (at most a second old, or a
    switch or span change old), stamped with when the leader took it."""

    def __init__(self, seat: Seat, mirror):
        self.seat, self.mirror = seat, mirror

    def message(self) -> topology_pb2.Topology | None:
        """None once this replica leads (its core has the topology) or while none was published."""
        if self.seat.runtime is not None or self.mirror.topology is None:
            return None
        return topology_pb2.Topology.FromString(self.mirror.topology)

    def wait(self, timeout_s: float) -> None:
        """Until the mirror changes, at most `timeout_s`."""
        self.mirror.wait_changed(timeout_s)
