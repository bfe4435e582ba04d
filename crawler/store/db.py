"""The corpus file: opening it for writing (WAL, busy timeout, schema brought up to date) or
for reading only, and writing to it in transactions that wait for the write lock instead of
failing.  A file SQLite cannot use becomes a `CorpusError` naming the path and the problem.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from crawler.errors import CorpusError
from crawler.store.schema import MIGRATIONS, ensure_db_shape, newer_migrations


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def open_db(path: str | Path) -> Database:
    """Open the corpus with WAL and a busy timeout, and bring its schema up to date."""
    path = Path(path)
    _make_folder(path)
    try:
        db = Database(path)
        db.execute("PRAGMA busy_timeout = 30000")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        newer = newer_migrations(db)
        if not newer:
            ensure_db_shape(db)
    except sqlite3.DatabaseError as e:
        raise CorpusError(path, problem(e, path)) from None
    if newer:
        db.close()
        raise CorpusError(path, too_new(newer))
    return db


def too_new(names: list[str]) -> str:
    return (f"written by a newer topicwatch (its schema has {', '.join(names)}): upgrade "
            "topicwatch to use this corpus")


def open_readonly(path: str | Path) -> Database:
    """The corpus for reading only (status, export, browse): never created, migrated or written.

    `mode=ro`; a WAL file whose `-wal` / `-shm` files are gone (no writer has it open) and whose
    folder this user cannot write cannot be read that way, so it is opened `immutable=1`, which
    is then safe: nothing is writing it."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(path, "no such file")
    try:
        db = Database(sqlite3.connect(read_uri(path), uri=True, check_same_thread=False))
        db.execute("PRAGMA busy_timeout = 30000")
        pending = MIGRATIONS.pending(db)
        newer = newer_migrations(db)
    except sqlite3.DatabaseError as e:
        raise CorpusError(path, problem(e, path)) from None
    if newer:
        db.close()
        raise CorpusError(path, too_new(newer))
    if pending:
        db.close()
        raise CorpusError(path, "written by an older topicwatch and read-only here: run "
                                "`topicwatch ingest` once with write access to upgrade it")
    return db


def open_for_reading(path: str | Path) -> Database:
    """Read-only, after bringing the schema up to date when that is needed and allowed."""
    path = Path(path)
    try:
        return open_readonly(path)
    except CorpusError:
        if not (path.is_file() and writable(path)):
            raise
    open_db(path).close()  # an older corpus: upgrade it in place, then read
    return open_readonly(path)


def read_uri(path: Path) -> str:
    """The SQLite URI to read `path` with: `mode=ro`, or `immutable=1` when that cannot work."""
    uri = path.resolve().as_uri()
    if _wal_unreadable(path):
        return uri + "?mode=ro&immutable=1"
    return uri + "?mode=ro"


def _wal_unreadable(path: Path) -> bool:
    """A WAL-mode file that `mode=ro` cannot open: no `-shm` beside it, and none can be made."""
    shm = Path(f"{path}-shm")
    return not shm.exists() and not Path(f"{path}-wal").exists() and not writable(path)


def writable(path: Path) -> bool:
    """Whether SQLite can write `path` here (the file and, for its -wal / -shm, its folder)."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _make_folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as e:
        raise CorpusError(path, f"cannot create its folder: {e.filename} is a file") from None
    except OSError as e:
        raise CorpusError(path, f"cannot create its folder {e.filename}: {e.strerror}") from None


def problem(e: sqlite3.DatabaseError, path: Path) -> str:
    """What an SQLite error on the corpus means, in words."""
    text = str(e)
    if "not a database" in text or "malformed" in text:
        return f"not a SQLite database, or a damaged one ({text})"
    if "readonly" in text or "read-only" in text or (
            "unable to open" in text and path.exists() and not os.access(path, os.W_OK)):
        # the second: an existing corpus on a read-only file system, where SQLite fails to open
        # its -wal / -shm instead of reporting a read-only database
        return ("read-only: this command writes to the corpus (status, export and browse can "
                "read a read-only corpus)")
    if "unable to open" in text:
        where = path.parent if not os.access(path.parent, os.W_OK) else path
        return f"cannot open it: {where} is not writable (SQLite also writes {path.name}-wal and -shm beside it)"
    if "locked" in text or "busy" in text:
        return "busy: another process held the write lock for more than 30 s"
    if "disk" in text and "full" in text:
        return "the disk is full"
    return text


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
