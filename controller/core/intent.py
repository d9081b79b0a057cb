"""Intents and their lifecycle: explicit states, allowed transitions, and a reason for each.

States follow ONOS's intent lifecycle, named for what the controller is doing:

    ACCEPTED -> COMPILING -> INSTALLING -> INSTALLED
                    |            |            |  (re-placed, also while INSTALLING: COMPILING)
                    +-> FAILED <-+------------+  (retried: COMPILING when the network changes)
    any state but WITHDRAWN -> WITHDRAWING -> WITHDRAWN

Every transition yields an IntentEvent (state, reason, time, and the path when it changed)
for Watch subscribers; an intent keeps its last HISTORY events.
"""

import enum
from dataclasses import dataclass, field

from topologies.model.order import Protection, ServiceClass


class State(str, enum.Enum):
    ACCEPTED = 'ACCEPTED'
    COMPILING = 'COMPILING'
    INSTALLING = 'INSTALLING'
    INSTALLED = 'INSTALLED'
    FAILED = 'FAILED'
    WITHDRAWING = 'WITHDRAWING'
    WITHDRAWN = 'WITHDRAWN'


_NEXT = {
    State.ACCEPTED: {State.COMPILING},
    State.COMPILING: {State.INSTALLING, State.FAILED},
    State.INSTALLING: {State.INSTALLED, State.COMPILING, State.FAILED},
    State.INSTALLED: {State.COMPILING, State.INSTALLING, State.FAILED},
    State.FAILED: {State.COMPILING},
    State.WITHDRAWING: {State.WITHDRAWN},
    State.WITHDRAWN: set(),
}
for _state in State:
    if _state not in (State.WITHDRAWING, State.WITHDRAWN):
        _NEXT[_state].add(State.WITHDRAWING)


class TransitionError(Exception):
    pass


HISTORY = 20


@dataclass(frozen=True)
class IntentEvent:
    intent_id: str
    tenant: str
    state: State
    reason: str
    at: float
    old_path: tuple[str, ...] = ()  # sites, when the event moves the intent
    new_path: tuple[str, ...] = ()


@dataclass
class Intent:
    id: str
    tenant: str
    src: str  # site ids
    dst: str
    bandwidth_gbps: float  # committed
    max_latency_ms: float | None = None
    protection: Protection = Protection.NONE
    service_class: ServiceClass = ServiceClass.PRIORITY
    state: State = State.ACCEPTED
    reason: str = 'accepted'
    created_at: float = 0.0
    updated_at: float = 0.0
    number: int = 0  # unique, never reused: the intent's cookie in the switches
    description: str = ''
    labels: dict[str, str] = field(default_factory=dict)
    src_prefixes: tuple[str, ...] = ()  # CIDRs within the tenant's subnet at src (empty: all of it)
    dst_prefixes: tuple[str, ...] = ()  # ... at dst
    excess_gbps: float = 0.0  # above the committed rate, in the spans' headroom (admission)
    request_id: str = ''  # the client's idempotency key, with a digest of the order
    request_digest: str = ''  # it came with, so a retry gets this intent back
    history: list[IntentEvent] = field(default_factory=list)  # the last HISTORY IntentEvents, oldest first

    def move_to(
        self,
        state: State | str,
        reason: str,
        now: float,
        old_path: tuple[str, ...] = (),
        new_path: tuple[str, ...] = (),
    ) -> IntentEvent:
        """Change state; raise TransitionError (and change nothing) if the lifecycle forbids it."""
        state = State(state)
        if state not in _NEXT[self.state]:
            raise TransitionError(f'intent {self.id}: {self.state.value} cannot become {state.value}')
        self.state, self.reason, self.updated_at = state, reason, now
        event = IntentEvent(self.id, self.tenant, state, reason, now, tuple(old_path), tuple(new_path))
        self.history.append(event)
        del self.history[:-HISTORY]
        return event

    def note(self, reason: str, now: float) -> IntentEvent:
        """An event that changes no state: a decision about the intent (a squeeze, a bound
        broken with nowhere better to go), so Watch subscribers see it with its reason."""
        self.reason, self.updated_at = reason, now
        event = IntentEvent(self.id, self.tenant, self.state, reason, now)
        self.history.append(event)
        del self.history[:-HISTORY]
        return event

    @property
    def active(self) -> bool:
        """Holds (or is getting) resources in the network."""
        return self.state not in (State.FAILED, State.WITHDRAWN)
