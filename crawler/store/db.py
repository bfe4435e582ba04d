"""The corpus file: opening it (WAL, busy timeout, schema brought up to date) and writing to it
in transactions that wait for the write lock instead of failing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from crawler.store.schema import ensure_db_shape


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def open_db(path: str | Path) -> Database:
    """Open the corpus with WAL and a busy timeout, and bring its schema up to date."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(path)
    db.execute("PRAGMA busy_timeout = 30000")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    ensure_db_shape(db)
    return db


@contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """A transaction that takes the write lock at BEGIN (waiting up to busy_timeout).

    sqlite-utils' `atomic()` starts with a plain BEGIN, which in WAL mode fails at once with
    "database is locked" when another process (a manual crawl beside the daemon) wrote after
    this one started reading; BEGIN IMMEDIATE waits for the lock instead.  Nested inside an
    open transaction it is a savepoint (`db.atomic()`)."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    db.commit()
