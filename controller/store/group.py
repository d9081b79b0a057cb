"""Group commit, the same for every store (SQLite, etcd): the core's commits are queued (`save`,
under the runtime's lock, in a few microseconds); whoever must not answer before a change is
written waits for its ticket (`wait`: the runtime does, after letting go of its lock). The
first waiter writes everything queued so far as one group (`_write`, the store's own: one
transaction, one fsync or one etcd round), runs each commit's `after` (the core tells its
listeners there, in commit order), and only then counts them written. So an acknowledged change
survives a crash, and placement never waits for the store.

A store that fails to write acknowledges nothing more: every waiter gets Unavailable, and
`on_failure` is called so that the process stops and starts again from what was written."""

import contextlib
import json
import logging
import threading
from collections.abc import Callable

from controller.core.errors import Unavailable
from controller.store.records import to_record

LOG = logging.getLogger('naas.store')

Row = tuple[str, int, str, str]  # id, number, tenant, the record as JSON
Commit = tuple[list[Row], list[str], dict, Callable[[], None] | None, bool]


class StoreError(RuntimeError):
    """The store cannot be opened (naas-controller says why and exits 2)."""


class GroupCommit:
    name = 'the store'  # what messages call it

    def __init__(self, on_failure: Callable[[], None] | None = None):
        """`on_failure` is called (on the thread whose write failed) if a write fails."""
        self._on_failure = on_failure
        self._queue: list[Commit] = []
        self._changed = threading.Condition()  # guards everything below
        self.queued = 0  # the ticket of the last commit queued
        self.written = 0  # every commit up to this ticket is written (synced if durable) and told
        self._writing = False  # a waiter is writing a group
        self._failed: str | None = None
        self._closed = False

    def save(
        self, saved, deleted, meta, after: Callable[[], None] | None = None, durable: bool = True
    ) -> int:
        """Queue a commit: changed intents (Saved), deleted ids and the counters, to be written
        with whatever else is queued by then; `after()` runs once it is written, commits' in
        the order they were queued; a `durable` one is synced first. Returns the commit's
        ticket (`wait`). The records are taken now: the intents may change again before they
        are written."""
        rows = [(r['id'], r['number'], r['tenant'], json.dumps(r)) for r in map(to_record, saved)]
        with self._changed:
            if self._failed is not None or self._closed:
                raise Unavailable(self._failed or f'{self.name} is closed')
            self._queue.append((rows, list(deleted), dict(meta), after, durable))
            self.queued += 1
            return self.queued

    def wait(self, ticket: int) -> None:
        """Return once the commit `ticket`, and every one before it, is written (synced if
        durable) and told.
        The first waiter writes everything queued (no thread to hand over to and back from);
        those who arrive meanwhile wait for it, and the first of them writes the next group."""
        while ticket > self.written:
            with self._changed:
                while self._writing and ticket > self.written:
                    self._changed.wait()
                if self._failed is not None:
                    raise Unavailable(self._failed)
                if ticket <= self.written:
                    return
                self._writing = True
                group, self._queue, last = self._queue, [], self.queued
            try:
                self._write(group)
            except Exception as e:  # the disk is full, etcd lost its quorum or our lead
                LOG.critical('cannot write %s: %s (nothing since was acknowledged)', self.name, e)
                self.fail(f'{self.name} failed to write ({e}): the controller is stopping')
                raise Unavailable(self._failed) from None
            for *_, after, _ in group:
                if after is not None:
                    try:
                        after()
                    except Exception:  # a listener's bug must not stop the store
                        LOG.exception('after a commit to %s', self.name)
            with self._changed:
                self.written, self._writing = last, False
                self._changed.notify_all()

    def fail(self, why: str) -> None:
        """Acknowledge nothing more (every waiter and saver gets Unavailable(why)); tell
        `on_failure`, once."""
        with self._changed:
            first = self._failed is None
            if first:
                self._failed = why
            self._writing = False
            self._changed.notify_all()
        if first and self._on_failure is not None:
            self._on_failure()

    def close(self) -> None:
        """Write what is queued, then the store's own `_close` (again: nothing)."""
        if self._closed:
            return
        with contextlib.suppress(Unavailable):
            self.wait(self.queued)
        self._closed = True
        self._close()

    def _write(self, group: list[Commit]) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        pass


def merged(group: list[Commit]) -> tuple[dict[str, Row], list[str], dict, bool]:
    """A group as one write: each intent's last row, the deleted ids (a deleted intent never
    comes back), the counters' last values, and whether any commit in it is durable."""
    rows = {row[0]: row for rows, *_ in group for row in rows}
    deleted = [i for _, ids, *_ in group for i in ids]
    for i in deleted:
        rows.pop(i, None)
    meta = {k: v for _, _, changes, *_ in group for k, v in changes.items()}
    return rows, deleted, meta, any(entry[-1] for entry in group)
