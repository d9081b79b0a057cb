"""Where intents live between runs: SQLite by default (sqlite.py), through the persistence
mapping of records.py. The core sees a store only as `load()` and `save(saved, deleted, meta)`."""
