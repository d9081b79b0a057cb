"""Where intents live between runs: SQLite by default (sqlite.py)."""
