"""Intents and reservations on disk (SQLite), so a controller restart or crash loses nothing.

One row per intent (its order, state, placement and labels as JSON, records.py; the books
are rebuilt from the placements) and a few counters. Each change is one transaction, written through
(WAL, synchronous=FULL) before the core tells anyone about it. One controller at a time: the
store holds an exclusive lock on the file while it is open.
"""

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
from pathlib import Path

from controller.store.records import from_record, to_record

SCHEMA_VERSION = 2  # 2: labels, request ids and prefixes in the intent records


class StoreError(RuntimeError):
    pass


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


class Store:
    def __init__(self, path):
        self.path = str(path)
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
            self.close()
            raise StoreError(f'--db {self.path}: schema {version}, this controller reads {SCHEMA_VERSION}')
        self._lock = threading.Lock()

    def load(self):
        """(meta dict without the schema key, [Saved intents]) in intent number order."""
        return _load(self._db)

    def save(self, saved, deleted, meta):
        """Write changed intents (Saved), drop deleted ones and update the counters, all at once."""
        records = [to_record(s) for s in saved]
        with self._lock, self._transaction():
            self._db.executemany(
                'INSERT OR REPLACE INTO intents VALUES (?, ?, ?, ?)',
                [(r['id'], r['number'], r['tenant'], json.dumps(r)) for r in records],
            )
            self._db.executemany('DELETE FROM intents WHERE id = ?', [(i,) for i in deleted])
            self._db.executemany(
                'INSERT OR REPLACE INTO meta VALUES (?, ?)', [(k, json.dumps(v)) for k, v in meta.items()]
            )

    def close(self):
        """Close the database and let go of its lock (again: nothing)."""
        self._db.close()
        if self._holder is not None:
            os.close(self._holder)
            self._holder = None

    @contextlib.contextmanager
    def _transaction(self):
        self._db.execute('BEGIN IMMEDIATE')
        try:
            yield
        except BaseException:
            self._db.execute('ROLLBACK')
            raise
        self._db.execute('COMMIT')
