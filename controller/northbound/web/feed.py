"""What one open web page is told, between the controller's threads that hear events and the
HTTP thread that streams them: intent events queue up (bounded: a page too slow to take them
is told to read the intents again rather than holding the controller's memory), a switch or
span that changed state raises a flag. Whoever adds never blocks: the read model and the
store's group call in with their locks held."""

import threading
from collections import deque

from controller.core.intent import IntentEvent

MAX_QUEUED = 2000  # intent events a page may fall behind before it is told to resync


class Feed:
    def __init__(self) -> None:
        self._events: deque[IntentEvent] = deque()
        self._lost = False
        self._topology = False
        self._woken = threading.Condition()

    def intent(self, event: IntentEvent) -> None:
        with self._woken:
            if len(self._events) >= MAX_QUEUED:
                self._events.clear()
                self._lost = True
            else:
                self._events.append(event)
            self._woken.notify()

    def topology(self) -> None:
        with self._woken:
            self._topology = True
            self._woken.notify()

    def close(self) -> None:
        with self._woken:
            self._woken.notify()

    def take(self, timeout_s: float) -> tuple[list[IntentEvent], bool, bool]:
        """Wait up to `timeout_s` for something, then take all of it: (intent events, whether
        some were lost, whether a switch or span changed state)."""
        with self._woken:
            if not (self._events or self._lost or self._topology):
                self._woken.wait(timeout_s)
            events, lost, topology = list(self._events), self._lost, self._topology
            self._events.clear()
            self._lost = self._topology = False
        return events, lost, topology
