"""A southbound without switches: every site's switch counts as connected and confirms each
plan as soon as it changes. For trying and testing the API, and benchmarking it, without an
emulated fabric (`naas-controller --southbound loopback`); nothing is measured, so spans keep
the fabric file's delays."""

import threading

from topologies.model import addressing as addr


class Loopback:
    def __init__(self, runtime):
        self.runtime = runtime
        self.dpids = [addr.dpid(site) for site in runtime.core.fabric.sites.values()]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._confirm_loop, name='loopback', daemon=True)

    def start(self):
        def connect(core, now):
            for dpid in self.dpids:
                core.switch_connected(dpid, now)
            self._confirm(core, now)

        self.runtime.call(connect)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self.runtime.plan_changed.set()
        self._thread.join()

    def _confirm_loop(self):
        while not self._stop.is_set():
            self.runtime.plan_changed.wait(1.0)
            self.runtime.plan_changed.clear()
            self.runtime.call(self._confirm)

    def _confirm(self, core, now):
        core.tick(now)
        core.synced(self.dpids, core.generation, now)
