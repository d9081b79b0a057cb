"""A controller restarted on its store: the intents as they were. Placed ones keep their paths
and labels (the switches still carry them: reconciling a switch that kept its tables changes
nothing), withdrawals go on, and whatever was stopped half-way is placed again."""

import itertools
from typing import TYPE_CHECKING

from controller.core.admission import Placement
from controller.core.intent import Intent, State
from controller.core.journal import Saved
from controller.core.paths import Path
from controller.core.topology import Link

if TYPE_CHECKING:
    from controller.core.controller import Controller


def restore(core: 'Controller', meta: dict, saved: list[Saved], now: float) -> None:
    if meta and meta.get('fabric') != core.fabric.name:
        raise ValueError(
            f'the store holds intents of fabric {meta.get("fabric")!r}, not {core.fabric.name!r}'
        )
    if meta:
        core.intents.next_number = meta.get('next_number', 1)
        core.routes.next_label = meta.get('next_label', core.routes.next_label)
    placed: list[tuple[Intent, Placement]] = []
    retry: list[Intent] = []
    for entry in sorted(saved, key=lambda s: s.intent.number):
        intent = entry.intent
        core.intents.add(intent)
        if entry.primary and entry.labels and intent.state in (State.INSTALLED, State.INSTALLING):
            backup = path(entry.backup) if entry.backup else None
            placement = Placement(path(entry.primary), backup)
            core.placer.placements[intent.id] = placement
            placed.append((intent, placement))
            protected = backup is not None and len(entry.labels) == 6
            route = core.routes.restore(
                intent,
                entry.primary,
                entry.backup if protected and entry.backup else (),
                entry.labels if protected else entry.labels[:2],
            )
            if backup is not None and not protected:
                retry.append(intent)  # stored before backups were installed: install it
            elif intent.state is State.INSTALLING:
                core.installs.installing(intent.id, 1, core.routes.dpids(route))
        elif intent.state is State.WITHDRAWING:
            core.installs.withdrawing(intent.id, 1, core.routes.all_dpids())
        elif intent.state is not State.FAILED:
            retry.append(intent)  # stopped half-way through placing
    core.books.restore(placed)
    core.routes.generation = 1
    for intent in core.placer.batch(retry):
        core.placer.place_again(intent, 'placing again after a restart', now)


def path(sites: tuple[str, ...]) -> Path:
    return Path(tuple(Link(a, b) for a, b in itertools.pairwise(sites)))
