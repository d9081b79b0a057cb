"""The core behind one lock. Every thread that reaches the core (os-ken's handler threads, the
southbound's syncer and prober, gRPC's worker threads) goes through `Runtime.call`, one at a
time, with `now` from the runtime's clock. A call returns once what was committed up to its end
is written (synced to disk, if a tenant asked for it): it waits for the store's group commit
after letting go of the lock, so the next caller places while the disk writes (an answer is
never ahead of the store, nor is a switch: the syncer reads the plan through `call` too)."""

import threading
import time


class Clock:
    """`now` for the core: seconds since the epoch as read at start-up, plus monotonic time
    since. It never goes back nor jumps when the wall clock is stepped, so the core's timers
    and holds stay right, and it stays close enough to wall time to stamp intents (the create
    and update times the API shows)."""

    def __init__(self) -> None:
        self._wall, self._monotonic = time.time(), time.monotonic()

    def __call__(self) -> float:
        return self._wall + (time.monotonic() - self._monotonic)


class Runtime:
    def __init__(self, core, clock=None):
        self.core = core
        self.clock = clock or Clock()
        self._lock = threading.RLock()
        self.plan_changed = threading.Event()  # the southbound syncs when set

    def call(self, fn):
        """Run fn(core, now) under the lock; wake the southbound if the plan changed."""
        with self._lock:
            before = self.core.generation
            result = fn(self.core, self.clock())
            if self.core.generation != before:
                self.plan_changed.set()
            store = self.core.store
            ticket = store.queued if store is not None else 0
        if ticket:
            store.wait(ticket)
        return result
