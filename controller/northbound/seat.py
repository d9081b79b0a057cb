"""The runtime the API calls on a controller replica (docs/ha.md): the leader's own, or, while
this replica follows, none: every call that needs the core (writes, CheckIntent, topology) is
refused UNAVAILABLE naming the leader, in the message and in the `naas-leader` trailing
metadata, so that naasctl and the client library go there. Reads of intents are served by
the read model on every replica."""

from collections.abc import Callable

from controller.core.errors import Unavailable
from controller.runtime import Clock

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
