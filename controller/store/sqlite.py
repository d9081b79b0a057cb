"""Intents and reservations on disk (SQLite), so a controller restart or crash loses nothing.

One row per intent (its order, state, placement and labels as JSON, records.py; the books
are rebuilt from the placements) and a few counters. Each change is one transaction, written through
(WAL, synchronous=FULL) before the core tells anyone about it.
"""

import contextlib
import json
import os
import sqlite3
import threading

from controller.store.records import from_record, to_record

SCHEMA_VERSION = 2  # 2: labels, request ids and prefixes in the intent records


class StoreError(RuntimeError):
    pass


class Store:
    def __init__(self, path):
        self.path = str(path)
        parent = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(parent):
            raise StoreError(f'--db {self.path}: directory {parent} does not exist')
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
            raise StoreError(f'--db {self.path}: not a naas-fabric store ({e})') from None
        if version != SCHEMA_VERSION:
            raise StoreError(f'--db {self.path}: schema {version}, this controller reads {SCHEMA_VERSION}')
        self._lock = threading.Lock()

    def load(self):
        """(meta dict without the schema key, [Saved intents]) in intent number order."""
        meta = {k: json.loads(v) for k, v in self._db.execute('SELECT key, value FROM meta')}
        meta.pop('schema', None)
        rows = self._db.execute('SELECT record FROM intents ORDER BY number')
        return meta, [from_record(json.loads(r)) for (r,) in rows]

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
        self._db.close()

    @contextlib.contextmanager
    def _transaction(self):
        self._db.execute('BEGIN IMMEDIATE')
        try:
            yield
        except BaseException:
            self._db.execute('ROLLBACK')
            raise
        self._db.execute('COMMIT')
