"""Which intents wait for the switches: those INSTALLING until every switch on their route has
confirmed the generation that put it there, and those WITHDRAWING until every switch their
old route used has confirmed the one that took it away."""

from collections.abc import Iterable

from controller.core.liveness import Liveness


class Installs:
    def __init__(self) -> None:
        self._installing: dict[str, tuple[int, tuple[int, ...]]] = {}  # id -> (generation, dpids)
        self._withdrawing: dict[str, tuple[int, tuple[int, ...]]] = {}

    def installing(self, intent_id: str, generation: int, dpids: tuple[int, ...]) -> None:
        self._installing[intent_id] = (generation, dpids)

    def still_installing(self, intent_id: str, dpids: tuple[int, ...]) -> None:
        """The route did not change: it waits for whatever generation it waited for, if any."""
        self._installing.setdefault(intent_id, (0, dpids))

    def withdrawing(self, intent_id: str, generation: int, dpids: tuple[int, ...]) -> None:
        self._withdrawing[intent_id] = (generation, dpids)

    def forget(self, intent_id: str) -> None:
        self._installing.pop(intent_id, None)

    def is_installing(self, intent_id: str) -> bool:
        return intent_id in self._installing

    def any_installing(self) -> bool:
        return bool(self._installing)

    def installed(self, liveness: Liveness, ids: Iterable[str] | None = None) -> list[str]:
        """The intents (all, or those of `ids`) every switch has confirmed, no longer tracked."""
        done = [
            i
            for i in (list(self._installing) if ids is None else ids)
            if i in self._installing and liveness.confirmed(self._installing[i][1], self._installing[i][0])
        ]
        for intent_id in done:
            del self._installing[intent_id]
        return done

    def withdrawn(self, liveness: Liveness) -> list[str]:
        done = [
            i for i, (generation, dpids) in self._withdrawing.items() if liveness.cleared(dpids, generation)
        ]
        for intent_id in done:
            del self._withdrawing[intent_id]
        return done
