"""What changed since the last commit: the events to tell listeners (intent and topology
events), the intents to save and the ids to delete from the store. The controller commits at
the end of every call: it saves first, then tells, so a crash in between loses no state."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from controller.core.intent import Intent, IntentEvent
from controller.core.topology import Delays, TopologyEvent
from controller.core.views import IntentView


class Journal:
    def __init__(self) -> None:
        self.events: list[IntentEvent | TopologyEvent] = []
        self.dirty: set[str] = set()
        self.deleted: set[str] = set()

    def emit(self, event: IntentEvent | TopologyEvent) -> None:
        self.events.append(event)
        if isinstance(event, IntentEvent):
            self.dirty.add(event.intent_id)

    def touched(self, intent_id: str) -> None:
        """The intent changed in a way no event tells (its route, its description...): save it."""
        self.dirty.add(intent_id)

    def gone(self, intent_id: str) -> None:
        self.dirty.discard(intent_id)
        self.deleted.add(intent_id)

    def take(self) -> tuple[list[IntentEvent | TopologyEvent], set[str], set[str]]:
        taken = self.events, self.dirty, self.deleted
        self.events, self.dirty, self.deleted = [], set(), set()
        return taken


@dataclass(frozen=True)
class Saved:
    """An intent as a store keeps it: the intent (its order, state, times and request id)
    and, while placed, its paths' sites and the route's MPLS labels (which the switches hold,
    so a restart must keep them)."""

    intent: Intent
    primary: tuple[str, ...] | None = None
    backup: tuple[str, ...] | None = None
    labels: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Changes:
    """One commit as the read model hears it (a listener of this kind, after the store has it):
    the intents that changed as they are now (their paths' latency left to the reader), those
    no longer kept, the events, and the measured delays when they changed (at most ten times a
    second)."""

    views: tuple[IntentView, ...]
    gone: tuple[str, ...]
    events: tuple[IntentEvent | TopologyEvent, ...]
    delays: Delays | None


class Store(Protocol):
    """What the core needs of a store (controller/store/): what it kept, and to keep changes.
    `save` may write later (a group commit), but runs `after` only once the change is written,
    and commits' `after`s in the order they were saved. A `durable` change is on disk (synced)
    once its ticket is waited for; one that is not survives the process's crash but may be
    lost, with whatever followed it, if the machine loses power."""

    queued: int  # the ticket of the last commit saved

    def load(self) -> tuple[dict, list[Saved]]: ...

    def wait(self, ticket: int) -> None:
        """Return once the commit `ticket` (and every one before it) is on disk."""

    def save(
        self,
        saved: list[Saved],
        deleted: list[str],
        meta: dict,
        after: Callable[[], None] | None = None,
        durable: bool = True,
    ) -> int: ...
