"""The core behind one lock: os-ken handler threads, the southbound's own threads and
(later) gRPC threads all reach the core through `Runtime.call`, one at a time."""

import threading
import time


class Runtime:
    def __init__(self, core, clock=time.time):
        self.core = core
        self.clock = clock
        self._lock = threading.RLock()
        self.plan_changed = threading.Event()  # the southbound syncs when set

    def call(self, fn):
        """Run fn(core, now) under the lock; wake the southbound if the plan changed."""
        with self._lock:
            before = self.core.generation
            result = fn(self.core, self.clock())
            if self.core.generation != before:
                self.plan_changed.set()
            return result
