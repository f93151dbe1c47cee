"""Opening the database: one sqlite file, WAL, migrations applied on open.

Storage functions are plain and synchronous and take a ``Database`` (datasette's pattern).
Async code calls them through :class:`bot.engine.dbworker.DbWorker`, one thread that owns all access.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from storage.migrations import migrations


def open_db(path: str | Path | None) -> Database:
    """Open (creating folders and schema as needed). ``None`` opens a private in-memory db."""
    if path is None:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
    else:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: the connection is created here but used only by the one
        # DbWorker thread afterwards, never by two threads at once.
        conn = sqlite3.connect(str(p), check_same_thread=False, timeout=30)
    db = Database(conn)
    migrations.apply(db)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: a crash loses no committed txn
    return db
