"""What the etcd cluster holds for a fabric, mirrored in a replica by one watch: the intents'
records, the counters, who leads, the delays the leader measured. A follower serves reads
from it (as `Changes`, the commits the read model hears from a core) and keeps the intents
restored as a core holds them (controller/core/restore.py: placements, routes, books), so
that when it takes the lead its core starts from them at once rather than building them from
every intent then: every write of the leaders before it has a lower revision than its own
election, so once the mirror has seen that revision it holds all of them."""

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from controller.core.admission import Placement
from controller.core.intent import IntentEvent
from controller.core.journal import Changes, Saved
from controller.core.restore import Restored, path
from controller.core.topology import Delays, Link
from controller.core.views import IntentView, intent_view
from controller.store.etcd import Etcd, Keys, b64, prefix_end, unb64
from controller.store.records import from_record

LOG = logging.getLogger('naas.store')


@dataclass(frozen=True)
class Leader:
    name: str
    grpc: str  # the address clients reach its API on
    generation: int  # the leader key's create revision: grows with every new leader
    lease: int


def view_of(saved: Saved) -> IntentView:
    placement = None
    if saved.primary:
        placement = Placement(path(saved.primary), path(saved.backup) if saved.backup else None)
    return intent_view(saved.intent, placement, None)


def measured_json(links: dict[Link, float], crossings: dict[str, float]) -> str:
    """What the leader measured (Controller.measured), as it publishes it."""
    return json.dumps({'links': [[k.src, k.dst, ms] for k, ms in links.items()], 'crossings': crossings})


class Mirror:
    def __init__(self, etcd: Etcd, keys: Keys, priors: Delays, restored: Restored | None = None):
        """`restored`: kept in step with the intents until `take_restored`."""
        self.etcd, self.keys = etcd, keys
        self.restored = restored
        self._unrestorable: Exception | None = None  # why `restored` was dropped
        self.records: dict[str, dict] = {}
        self.meta: dict = {}
        self.leader: Leader | None = None
        self.priors = priors
        self.delays = priors  # the fabric's, and over them what the leader published it measured
        self.measured: tuple[dict[Link, float], dict[str, float]] = ({}, {})  # as published
        self.topology: bytes | None = None  # the leader's last (naas.v1 Topology, serialized)
        self.revision = 0
        self._changed = threading.Condition()
        self._listeners: list[Callable[[Changes], None]] = []
        self._stopped = False

    def start(self) -> 'Mirror':
        """Read everything (Unavailable if no member answers), then follow the watch."""
        revision, kvs = self.etcd.range(self.keys.root, prefix_end(self.keys.root))
        self._apply([('PUT', kv) for kv in kvs], revision)
        threading.Thread(target=self._follow, name='etcd-mirror', daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped = True

    def subscribe(
        self, listener: Callable[[Changes], None]
    ) -> tuple[list[IntentView], Delays, Callable[[], None]]:
        """The views and delays now, and `listener(changes)` for every change after (on the
        mirror's thread: it must not block); returns them with an unsubscribe."""
        with self._changed:
            self._listeners.append(listener)
            views = [view_of(from_record(r)) for r in self.records.values()]
            delays = self.delays

        def unsubscribe() -> None:
            with self._changed:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return views, delays, unsubscribe

    def wait_for(self, revision: int, timeout_s: float) -> bool:
        """Whether the mirror has seen `revision` within `timeout_s`."""
        with self._changed:
            return self._changed.wait_for(lambda: self.revision >= revision, timeout_s)

    def wait_changed(self, timeout_s: float) -> None:
        with self._changed:
            self._changed.wait(timeout_s)

    def take_restored(self) -> Restored:
        """The intents restored as the mirror holds them now, no longer kept in step: for the
        core of a replica that took the lead (its own writes come back through the watch)."""
        with self._changed:
            restored, self.restored = self.restored, None
        if restored is None:
            raise RuntimeError(f'the mirror keeps no restored intents ({self._unrestorable or "given away"})')
        return restored

    def _restore(self, change: Callable[[Restored], None]) -> None:
        """Keep `restored` in step; a record it cannot take (another fabric's, say) drops it
        with the reason, for this replica's lead to fail on, rather than stop the mirror."""
        if self.restored is None:
            return
        try:
            change(self.restored)
        except (ValueError, KeyError, TypeError) as e:
            LOG.error('cannot keep the intents restored: %s', e)
            self.restored, self._unrestorable = None, e

    def _follow(self) -> None:
        while not self._stopped:
            try:
                for answer in self.etcd.watch(self.keys.root, prefix_end(self.keys.root), self.revision + 1):
                    if self._stopped:
                        return
                    if 'compact_revision' in answer:  # too far behind: read everything again
                        LOG.warning('etcd compacted past revision %d: reading it all again', self.revision)
                        self._resync()
                        break
                    events = [(e.get('type', 'PUT'), e['kv']) for e in answer['events']]
                    self._apply(events, int(answer['header']['revision']))
            except Exception:  # the mirror must go on: a follower that stops following lies
                LOG.exception('following etcd')
                self.wait_changed(1.0)

    def _resync(self) -> None:
        revision, kvs = self.etcd.range(self.keys.root, prefix_end(self.keys.root))
        present = {unb64(kv['key']).decode() for kv in kvs}
        gone = [self.keys.intent(i) for i in self.records if self.keys.intent(i) not in present]
        if self.leader is not None and self.keys.leader not in present:
            gone.append(self.keys.leader)
        self._apply([('DELETE', {'key': b64(k)}) for k in gone] + [('PUT', kv) for kv in kvs], revision)

    def _apply(self, events: list[tuple[str, dict]], revision: int) -> None:
        views, gone, told = [], [], []
        delays = None
        with self._changed:
            for kind, kv in events:
                key = unb64(kv['key']).decode()
                value = unb64(kv['value']) if kind == 'PUT' and 'value' in kv else None
                if key.startswith(self.keys.intents):
                    intent_id = key.removeprefix(self.keys.intents)
                    old = self.records.get(intent_id)
                    if value is None:
                        if self.records.pop(intent_id, None) is not None:
                            gone.append(intent_id)
                            self._restore(lambda r: r.remove(intent_id))
                        continue
                    record = json.loads(value)
                    self.records[intent_id] = record
                    saved = from_record(record)
                    self._restore(lambda r: r.put(saved))
                    view = view_of(saved)
                    views.append(view)
                    event = _event(old, record, view)
                    if event is not None:
                        told.append(event)
                elif key == self.keys.meta and value is not None:
                    self.meta = json.loads(value)
                    self._restore(lambda r: setattr(r, 'meta', dict(self.meta)))
                elif key == self.keys.leader:
                    self.leader = _leader(value, kv) if value is not None else None
                elif key == self.keys.topology and value is not None:
                    self.topology = value
                elif key == self.keys.delays and value is not None:
                    published = json.loads(value)
                    self.measured = (
                        {Link(a, b): ms for a, b, ms in published['links']},
                        published['crossings'],
                    )
                    delays = self.delays = Delays(
                        {**self.priors.links, **self.measured[0]},
                        {**self.priors.crossings, **self.measured[1]},
                    )
            self.revision = max(self.revision, revision)
            listeners = list(self._listeners)
            self._changed.notify_all()
        if views or gone or told or delays is not None:
            changes = Changes(tuple(views), tuple(gone), tuple(told), delays)
            for listener in listeners:
                listener(changes)


def _leader(value: bytes, kv: dict) -> Leader:
    info = json.loads(value)
    return Leader(info['name'], info['grpc'], int(kv['create_revision']), int(info['lease']))


def _event(old: dict | None, new: dict, view: IntentView) -> IntentEvent | None:
    """What a watcher of this intent is told: its state, or its path, changed."""
    if old is not None and (old['state'], old['primary'], old['reason']) == (
        new['state'],
        new['primary'],
        new['reason'],
    ):
        return None
    old_path = tuple(old['primary']) if old is not None and old['primary'] else ()
    moved = old_path != view.path
    return IntentEvent(
        view.id,
        view.tenant,
        view.state,
        view.reason,
        view.updated_at,
        old_path if moved else (),
        view.path if moved else (),
    )
