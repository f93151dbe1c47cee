"""Opening the database: one sqlite file, WAL, migrations applied on open.

Storage functions are plain and synchronous and take a ``Database`` (datasette's pattern).
Async code calls them through :class:`bot.engine.dbworker.DbWorker`, one thread that owns all access.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from storage.migrations import migrations


class UnusableDatabase(Exception):
    """The database file cannot be opened or is not a MinerWatch database: the message names the
    file, what is wrong and what to do."""


def _advice(path: Path, err: BaseException) -> str:
    if isinstance(err, OSError) or "unable to open" in str(err):
        return (
            f"cannot open the database {path}: {err}. Check that its folder exists and is writable by "
            "this user, or set [storage] path in config.toml to a place that is."
        )
    if "locked" in str(err):
        return f"the database {path} is locked ({err}): is another MinerWatch running on it? Stop it first."
    return (
        f"the database {path} is not a usable SQLite database ({err}): it is damaged or not a "
        f"MinerWatch database. Stop the bot and move it aside (mv {path} {path}.broken, and its -wal "
        "and -shm files if there are any); the next start creates a new, empty database (the alerts "
        f"and chat settings in the old one are not carried over). To recover what it holds: "
        f"sqlite3 {path}.broken .recover | sqlite3 {path}, or restore {path} from a backup."
    )


def open_db(path: str | Path | None) -> Database:
    """Open (creating folders and schema as needed). ``None`` opens a private in-memory db.
    Raises UnusableDatabase, never a bare sqlite3 error, for a file that cannot be used."""
    if path is None:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        return _prepare(Database(conn))
    p = Path(path)
    conn = None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: the connection is created here but used only by the one
        # DbWorker thread afterwards, never by two threads at once.
        conn = sqlite3.connect(str(p), check_same_thread=False, timeout=30)
        return _prepare(Database(conn))
    except (sqlite3.DatabaseError, OSError) as err:
        if conn is not None:
            conn.close()
        raise UnusableDatabase(_advice(p, err)) from err


def _prepare(db: Database) -> Database:
    migrations.apply(db)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: a crash loses no committed txn
    return db


def check_db(path: str | Path) -> None:
    """For ``python -m bot check``: raise UnusableDatabase if an existing database file cannot be
    read (a missing one is fine: ``run`` creates it). Reads only; applies no migration."""
    p = Path(path)
    if not p.exists():
        return
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("PRAGMA quick_check").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        raise UnusableDatabase(_advice(p, err)) from err
    if row is None or row[0] != "ok":
        raise UnusableDatabase(
            _advice(p, sqlite3.DatabaseError(f"integrity check: {row[0] if row else '?'}"))
        )
