"""Every intent until it is WITHDRAWN, by id and indexed the two ways orders are checked:
by tenant and pair of sites (one intent per pair: a second is an update) and by the client's
request id (a retry gets the intent it made)."""

from collections.abc import Iterator

from controller.core.intent import Intent, State


class Intents:
    def __init__(self, next_number: int = 1):
        self.next_number = next_number  # never reused: an intent's number is its cookie
        self._by_id: dict[str, Intent] = {}  # in number order
        self._by_pair: dict[tuple, set[str]] = {}  # (tenant, frozenset of its two sites) -> ids
        self._by_request: dict[tuple[str, str], str] = {}  # (tenant, request id) -> id

    def __contains__(self, intent_id: object) -> bool:
        return intent_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Intent]:
        return iter(list(self._by_id.values()))

    def __getitem__(self, intent_id: str) -> Intent:
        return self._by_id[intent_id]

    def get(self, intent_id: str | None) -> Intent | None:
        return self._by_id.get(intent_id) if intent_id is not None else None

    def select(
        self, tenant: str | None = None, state: State | None = None, site: str | None = None
    ) -> list[Intent]:
        """Intents by number, optionally of one tenant, in one state, or with an end at a site."""
        return [
            i
            for i in self._by_id.values()
            if (tenant is None or i.tenant == tenant)
            and (state is None or i.state is state)
            and (site is None or site in (i.src, i.dst))
        ]

    def by_number(self, number: int) -> Intent | None:
        """The intent of that number (its cookie and meter id in the switches)."""
        return self._by_id.get(id_of(number))

    def number(self, intent: Intent, now: float) -> None:
        """Give a new intent its number and id, and keep it."""
        intent.number, intent.id = self.next_number, id_of(self.next_number)
        intent.created_at = intent.updated_at = now
        self.next_number += 1
        self.add(intent)

    def add(self, intent: Intent) -> None:
        self._by_id[intent.id] = intent
        self._by_pair.setdefault(pair(intent), set()).add(intent.id)
        if intent.request_id:
            self._by_request[(intent.tenant, intent.request_id)] = intent.id

    def remove(self, intent_id: str) -> Intent:
        intent = self._by_id.pop(intent_id)
        self._by_pair[pair(intent)].discard(intent_id)
        self._by_request.pop((intent.tenant, intent.request_id), None)
        return intent

    def by_request(self, tenant: str, request_id: str) -> Intent | None:
        return self.get(self._by_request.get((tenant, request_id)))

    def on_pair(self, intent: Intent) -> Intent | None:
        """The tenant's intent between the same two sites, unless it is being withdrawn."""
        return next(
            (
                self._by_id[i]
                for i in sorted(self._by_pair.get(pair(intent), ()))
                if self._by_id[i].state is not State.WITHDRAWING
            ),
            None,
        )

    def committed_gbps(self, tenant: str) -> float:
        """What the tenant's intents commit in all (those being withdrawn no longer count)."""
        return sum(
            i.bandwidth_gbps
            for i in self._by_id.values()
            if i.tenant == tenant and i.state is not State.WITHDRAWING
        )


def id_of(number: int) -> str:
    return f'i-{number}'


def pair(intent: Intent) -> tuple:
    return intent.tenant, frozenset((intent.src, intent.dst))
