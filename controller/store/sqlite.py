"""Intents and reservations on disk (SQLite), so a controller restart or crash loses nothing.

One row per intent (its order, state, placement and labels as JSON, records.py; the books
are rebuilt from the placements) and a few counters. One controller at a time: the store holds
an exclusive lock on the file while it is open.

Group commit (group.py): a group is one transaction (WAL, synchronous=FULL: one fsync for
the group), so an acknowledged change survives a crash, and placement never waits for the disk.

A group with no durable commit (what the controller observed: switches' confirmations, moves
for measurements; it observes them again after a restart) is written without the fsync
(synchronous=NORMAL): it survives the process's crash, being in the WAL, and only a power
loss can take it, with what followed; the next durable group's fsync covers it too. Creates
then pay one fsync, not one for the create and one for its confirmation.
"""

import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from controller.store.group import GroupCommit, StoreError, merged
from controller.store.records import from_record

SCHEMA_VERSION = 2  # 2: labels, request ids and prefixes in the intent records


def read_only(path):
    """What the store at `path` holds, as Store.load gives it, read without its lock: what a
    running controller has committed (for tests and tools; nothing is written)."""
    uri = Path(path).absolute().as_uri() + '?mode=ro'
    try:
        db = sqlite3.connect(uri, uri=True)
        try:
            return _load(db)
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        raise StoreError(f'{path}: cannot read as a naas-fabric store ({e})') from None


def _load(db):
    meta = {k: json.loads(v) for k, v in db.execute('SELECT key, value FROM meta')}
    meta.pop('schema', None)
    rows = db.execute('SELECT record FROM intents ORDER BY number')
    return meta, [from_record(json.loads(r)) for (r,) in rows]


def _hold(path):
    """An open descriptor of the database file holding an exclusive lock on it, for as long as
    the store is open (the process's life: the kernel drops it when the process ends, however
    it ends). Two controllers on one file would hand out the same intent numbers and each
    overwrite what the other acknowledged: the second one must not start."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise StoreError(f'--db {path}: {e.strerror}') from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StoreError(
            f'--db {path}: in use by another naas-controller (one database, one controller): '
            'stop it first, or give another --db'
        ) from None
    return fd


class Store(GroupCommit):
    def __init__(self, path, on_failure: Callable[[], None] | None = None):
        """`on_failure` is called (on the thread whose write failed) if a write fails: nothing
        queued since is acknowledged, and the process should stop and start again from what is
        on disk."""
        super().__init__(on_failure)
        self.path = str(path)
        self.name = f'the store {self.path}'
        parent = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(parent):
            raise StoreError(f'--db {self.path}: directory {parent} does not exist')
        self._holder = _hold(self.path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute('PRAGMA journal_mode=WAL')
            self._db.execute('PRAGMA synchronous=FULL')
            with self._transaction():
                self._db.execute(
                    'CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)'
                )
                self._db.execute(
                    'CREATE TABLE IF NOT EXISTS intents (id TEXT PRIMARY KEY, '
                    'number INTEGER UNIQUE NOT NULL, tenant TEXT NOT NULL, record TEXT NOT NULL)'
                )
                self._db.execute(
                    'INSERT OR IGNORE INTO meta VALUES (?, ?)', ('schema', json.dumps(SCHEMA_VERSION))
                )
            version = json.loads(
                self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0]
            )
        except sqlite3.DatabaseError as e:
            os.close(self._holder)
            raise StoreError(f'--db {self.path}: not a naas-fabric store ({e})') from None
        if version != SCHEMA_VERSION:
            self._db.close()
            os.close(self._holder)
            raise StoreError(f'--db {self.path}: schema {version}, this controller reads {SCHEMA_VERSION}')
        self._synced = True  # synchronous=FULL now (a group's writes end in an fsync)

    def load(self):
        """(meta dict without the schema key, [Saved intents]) in intent number order."""
        return _load(self._db)

    def _close(self):
        self._db.close()
        if self._holder is not None:
            os.close(self._holder)
            self._holder = None

    def _write(self, group):
        """One transaction for the group, in as few statements as it takes: each one lets go
        of the GIL and must win it back, which on a busy controller takes longer than the
        statement. A row's last write wins; a deleted intent never comes back."""
        rows, deleted, meta, durable = merged(group)
        if not rows and not deleted and not meta:
            return  # commits that only tell: no transaction
        if durable != self._synced:  # outside the transaction, as SQLite wants
            self._db.execute(f'PRAGMA synchronous={"FULL" if durable else "NORMAL"}')
            self._synced = durable
        with self._transaction():
            if rows:
                self._db.executemany('INSERT OR REPLACE INTO intents VALUES (?, ?, ?, ?)', rows.values())
            if deleted:
                self._db.executemany('DELETE FROM intents WHERE id = ?', [(i,) for i in deleted])
            if meta:
                self._db.executemany(
                    'INSERT OR REPLACE INTO meta VALUES (?, ?)', [(k, json.dumps(v)) for k, v in meta.items()]
                )

    @contextlib.contextmanager
    def _transaction(self):
        self._db.execute('BEGIN IMMEDIATE')
        try:
            yield
        except BaseException:
            self._db.execute('ROLLBACK')
            raise
        self._db.execute('COMMIT')
