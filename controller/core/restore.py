"""A controller started on what a store holds: the intents as they were. Placed ones keep their
paths and labels (the switches still carry them: reconciling a switch that kept its tables
changes nothing), withdrawals go on, and whatever was stopped half-way is placed again.

`Restored` holds the stored intents as the parts of a core that keep them (placements,
routes, both books), built entry by entry: all at once when a controller starts on its
SQLite file, or kept in step with etcd by a follower (controller/store/mirror.py), whose core
is then ready when it wins the lead instead of being built from every intent then. A core
takes it once (`into`), and only then decides anything (installs to confirm, intents to place
again)."""

import itertools
from typing import TYPE_CHECKING

from controller.core.admission import Placement
from controller.core.books import Books
from controller.core.intent import Intent, State
from controller.core.journal import Saved
from controller.core.paths import Path
from controller.core.routes import BURST_MS, Routes
from controller.core.topology import Link, Topology
from topologies.model.fabric import Fabric

if TYPE_CHECKING:
    from controller.core.controller import Controller


class Restored:
    def __init__(self, fabric: Fabric, burst_ms: float = BURST_MS):
        self.fabric = fabric
        self.meta: dict = {}  # the store's counters (next number, next label) and fabric name
        self.saved: dict[str, Saved] = {}
        self.placements: dict[str, Placement] = {}
        self.routes = Routes(fabric, burst_ms)
        self.books = Books(Topology.from_fabric(fabric))  # the reservations; the core's limits apply
        self._taken = False

    @classmethod
    def loaded(cls, fabric: Fabric, burst_ms: float, meta: dict, saved: list[Saved]) -> 'Restored':
        restored = cls(fabric, burst_ms)
        restored.meta = meta
        restored._check_fabric(fabric)
        for entry in saved:
            restored.put(entry)
        return restored

    def put(self, entry: Saved) -> None:
        """An intent as stored now, in place of what it was."""
        self._keeping()
        intent = entry.intent
        self.remove(intent.id)
        self.saved[intent.id] = entry
        if entry.primary and entry.labels and intent.state in (State.INSTALLED, State.INSTALLING):
            placement = Placement(path(entry.primary), path(entry.backup) if entry.backup else None)
            protected = placement.backup is not None and len(entry.labels) == 6
            self.routes.restore(
                intent,
                entry.primary,
                entry.backup if protected and entry.backup else (),
                entry.labels if protected else entry.labels[:2],
            )
            self.books.keep(intent, placement)
            self.placements[intent.id] = placement

    def remove(self, intent_id: str) -> None:
        """An intent gone from the store."""
        self._keeping()
        self.saved.pop(intent_id, None)
        if self.placements.pop(intent_id, None) is not None:
            self.routes.put(intent_id, None)
            self.books.withdraw(intent_id)

    def into(self, core: 'Controller', now: float) -> None:
        """Give the intents to `core` (a new one, holding none): it confirms what was being
        installed or withdrawn and places again what was stopped half-way. Raises ValueError if
        they are another fabric's, or over-book a span (then the core holds nothing of them)."""
        if self._taken:
            raise RuntimeError('a core took these intents already')
        self._check_fabric(core.fabric)
        meta = self.meta
        core.books.take(self.books)
        self._taken = True
        core.routes.take(self.routes)
        core.placer.placements.update(self.placements)
        if meta:
            core.intents.next_number = meta.get('next_number', 1)
            core.routes.next_label = meta.get('next_label', core.routes.next_label)
        retry: list[Intent] = []
        for entry in sorted(self.saved.values(), key=lambda s: s.intent.number):
            intent = entry.intent
            core.intents.add(intent)
            placement = self.placements.get(intent.id)
            if placement is not None:
                if placement.backup is not None and len(entry.labels or ()) != 6:
                    retry.append(intent)  # stored before backups were installed: install it
                elif intent.state is State.INSTALLING:
                    core.installs.installing(intent.id, 1, core.routes.dpids(core.routes.of(intent.id)))
            elif intent.state is State.WITHDRAWING:
                core.installs.withdrawing(intent.id, 1, core.routes.all_dpids())
            elif intent.state is not State.FAILED:
                retry.append(intent)  # stopped half-way through placing
        core.routes.generation = 1
        for intent in core.placer.batch(retry):
            core.placer.place_again(intent, 'placing again after a restart', now)

    def _keeping(self) -> None:
        if self._taken:
            raise RuntimeError('a core took these intents: it keeps them now')

    def _check_fabric(self, fabric: Fabric) -> None:
        if self.meta and self.meta.get('fabric') != fabric.name:
            raise ValueError(
                f'the store holds intents of fabric {self.meta.get("fabric")!r}, not {fabric.name!r}'
            )


def path(sites: tuple[str, ...]) -> Path:
    return Path(tuple(Link(a, b) for a, b in itertools.pairwise(sites)))
