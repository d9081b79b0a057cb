"""The read model: GetIntent, ListIntents and WatchIntents served from the intents as the store
holds them, never behind the runtime's lock (a placement may hold it for a while).

It is fed by the core's commits (`Changes`, heard once they are on disk, in commit order) and
keeps a view of every intent, indexed by number for pages, overall and per tenant. Its own lock
is held for a dictionary update or a page's worth of lookups, so every read sees the intents as
they were between two commits, never half of one. A client that created an intent reads it at
once: the runtime answers only after the commit was told here."""

import bisect
import threading
from collections.abc import Callable

from controller.core.errors import NotFound
from controller.core.intent import IntentEvent, State
from controller.core.journal import Changes
from controller.core.topology import Delays, Latencies
from controller.core.views import IntentView

Watcher = Callable[[IntentEvent], None]


class Reads:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._views: dict[str, IntentView] = {}
        self._by_number: dict[int, IntentView] = {}
        self._numbers: dict[str | None, list[int]] = {None: []}  # ascending: all, then per tenant
        self._delays: Latencies = Delays({}, {})
        self._watchers: list[Watcher] = []
        self.version = 0  # grows with every change taken in: what /metrics keys its texts on

    def attach(self, core) -> Callable[[], None]:
        """Take the intents the core holds now and hear every commit after; call it under the
        runtime's lock (`runtime.call(lambda core, now: reads.attach(core))`)."""
        with self._lock:
            self._delays = core.topology.delays()
            for view in core.views(measured=False):
                self._put(view)
        return core.subscribe(self._apply, Changes)

    def follow(self, mirror) -> Callable[[], None]:
        """Take the intents a replica's mirror of etcd holds and hear its changes after (a
        follower's reads, controller/store/mirror.py); returns the unsubscribe."""
        with self._lock:  # the mirror's next change waits for these to be in
            views, self._delays, unsubscribe = mirror.subscribe(self._apply)
            for view in views:
                self._put(view)
        return unsubscribe

    def get(self, intent_id: str, tenant: str | None = None) -> IntentView:
        """The intent; NotFound if there is none or it is another tenant's (when `tenant`)."""
        view = self._views.get(intent_id)  # one dictionary lookup: atomic, no lock needed
        if view is None or (tenant is not None and view.tenant != tenant):
            raise NotFound(f'intent {intent_id} not found')
        return view.measured(self._delays)

    def page(
        self, tenant: str | None, state: State | None, site: str | None, after: int, size: int
    ) -> tuple[list[IntentView], int | None]:
        """Up to `size` intents numbered above `after` (of `tenant`, in `state`, with an end at
        `site`, when given), by number; and the number to continue after, None on the last page."""
        found: list[IntentView] = []
        with self._lock:
            numbers = self._numbers.get(tenant, [])
            for number in numbers[bisect.bisect_right(numbers, after) :]:
                view = self._by_number[number]
                if (state is None or view.state is state) and site in (None, view.src, view.dst):
                    found.append(view)
                    if len(found) > size:
                        break
        last = found[size - 1].number if len(found) > size else None
        return [v.measured(self._delays) for v in found[:size]], last

    def snapshot(self) -> tuple[list[IntentView], Latencies]:
        """Every intent as it is now, by number, and the delays last heard (for /metrics): a
        path's latency is `view.primary.latency_ms(delays)`."""
        with self._lock:
            return [self._by_number[n] for n in self._numbers[None]], self._delays

    def watch(
        self, watcher: Watcher, tenant: str | None, intent_id: str | None, include_current: bool, now: float
    ) -> tuple[list[IntentEvent], Callable[[], None]]:
        """Call `watcher(event)` for every intent event from now on (under this model's lock:
        it must not block); returns an unsubscribe and, if `include_current`, where the intents
        (of `tenant`, or the one `intent_id`, when given) are now, as events."""
        with self._lock:
            if not include_current:
                current = []
            elif intent_id is not None:
                current = [v for v in [self._views.get(intent_id)] if v and tenant in (None, v.tenant)]
            else:
                current = [self._by_number[n] for n in self._numbers.get(tenant, [])]
            self._watchers.append(watcher)

        def unsubscribe() -> None:
            with self._lock:
                if watcher in self._watchers:
                    self._watchers.remove(watcher)

        return [v.current_event(now) for v in current], unsubscribe

    def _apply(self, changes: Changes) -> None:
        with self._lock:
            if changes.delays is not None:
                self._delays = changes.delays
                self.version += 1
            for view in changes.views:
                self._put(view)
            for intent_id in changes.gone:
                self._drop(intent_id)
            for event in changes.events:
                if isinstance(event, IntentEvent):
                    for watcher in self._watchers:
                        watcher(event)

    def _put(self, view: IntentView) -> None:
        self.version += 1
        if view.id not in self._views:
            for key in (None, view.tenant):
                numbers = self._numbers.setdefault(key, [])
                if numbers and numbers[-1] > view.number:
                    bisect.insort(numbers, view.number)
                else:
                    numbers.append(view.number)
        self._views[view.id] = view
        self._by_number[view.number] = view

    def _drop(self, intent_id: str) -> None:
        self.version += 1
        view = self._views.pop(intent_id, None)
        if view is None:
            return
        del self._by_number[view.number]
        for key in (None, view.tenant):
            numbers = self._numbers[key]
            del numbers[bisect.bisect_left(numbers, view.number)]
