"""The corpus: one SQLite file, shaped and written with sqlite-utils 4.

`open_db(path)` opens (creating if needed) and migrates; `ensure_db_shape(db)` is idempotent.
Writers are small `save_*` / `record_*` functions; every multi-row change happens inside
`db.atomic()` so a crawl killed at any moment leaves a consistent file.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from crawler import health, search

# Outcomes of an article URL after which it is never fetched again.
FINAL_OUTCOMES = ("spooled", "stored", "copy", "off-topic", "not-article", "too-old", "redirected")


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
    this one started reading; BEGIN IMMEDIATE waits for the lock instead."""
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


# ---------------------------------------------------------------- schema and migrations

def _m001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS runs (
            id INTEGER PRIMARY KEY, started TEXT NOT NULL, ended TEXT,
            status TEXT NOT NULL DEFAULT 'running', error TEXT, trigger TEXT, sources TEXT,
            fetched INTEGER DEFAULT 0, extracted INTEGER DEFAULT 0, matched INTEGER DEFAULT 0,
            new INTEGER DEFAULT 0, duplicates INTEGER DEFAULT 0, skipped INTEGER DEFAULT 0,
            errors INTEGER DEFAULT 0, not_modified INTEGER DEFAULT 0, pid INTEGER
        );
        CREATE TABLE IF NOT EXISTS stories (
            id INTEGER PRIMARY KEY, origin_article_id INTEGER, title TEXT,
            first_seen TEXT, last_seen TEXT,
            n_articles INTEGER DEFAULT 0, n_sources INTEGER DEFAULT 0, n_copies INTEGER DEFAULT 0
        );
        CREATE TABLE IF NOT EXISTS articles (
            id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, canonical_url TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL, title TEXT, author TEXT, published TEXT, published_day TEXT,
            language TEXT, script TEXT, site_name TEXT, description TEXT, original_source TEXT,
            text TEXT, topics TEXT, matched_terms TEXT, scores TEXT,
            content_hash TEXT NOT NULL, story_id INTEGER REFERENCES stories(id),
            first_seen TEXT NOT NULL, run_id INTEGER REFERENCES runs(id)
        );
        CREATE INDEX IF NOT EXISTS idx_articles_content_hash ON articles(content_hash);
        CREATE INDEX IF NOT EXISTS idx_articles_first_seen ON articles(first_seen);
        CREATE INDEX IF NOT EXISTS idx_articles_published ON articles(published);
        CREATE INDEX IF NOT EXISTS idx_articles_source ON articles(source);
        CREATE INDEX IF NOT EXISTS idx_articles_story ON articles(story_id);
        CREATE TABLE IF NOT EXISTS copies (
            id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, source TEXT,
            article_id INTEGER NOT NULL REFERENCES articles(id), story_id INTEGER REFERENCES stories(id),
            kind TEXT NOT NULL, title TEXT, first_seen TEXT NOT NULL, run_id INTEGER REFERENCES runs(id)
        );
        CREATE INDEX IF NOT EXISTS idx_copies_article ON copies(article_id);
        CREATE TABLE IF NOT EXISTS minhashes (
            article_id INTEGER PRIMARY KEY REFERENCES articles(id), signature BLOB NOT NULL
        );
        CREATE TABLE IF NOT EXISTS skipped (
            id INTEGER PRIMARY KEY, url TEXT, source TEXT, reason TEXT NOT NULL, detail TEXT,
            status INTEGER, run_id INTEGER REFERENCES runs(id), at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS idx_skipped_run ON skipped(run_id);
        CREATE TABLE IF NOT EXISTS pages (
            url TEXT PRIMARY KEY, kind TEXT NOT NULL, source TEXT, etag TEXT, last_modified TEXT,
            status INTEGER, outcome TEXT, fetched_at TEXT, run_id INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE IF NOT EXISTS spool (
            id INTEGER PRIMARY KEY, run_id INTEGER, url TEXT NOT NULL, item TEXT NOT NULL,
            spooled_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS source_runs (
            run_id INTEGER NOT NULL REFERENCES runs(id), source TEXT NOT NULL,
            fetched INTEGER DEFAULT 0, new INTEGER DEFAULT 0, errors INTEGER DEFAULT 0,
            not_modified INTEGER DEFAULT 0, ok INTEGER, at TEXT,
            PRIMARY KEY (run_id, source)
        );
        CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(
            title, text, tokenize = 'unicode61 remove_diacritics 2'
        );
        """
    )


MIGRATIONS = [("001_initial", _m001_initial)]


def ensure_db_shape(db: Database) -> None:
    """Create or migrate every table, index and view; safe to call any number of times."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    applied = {r["name"] for r in db.query("SELECT name FROM _migrations")}
    for name, migrate in MIGRATIONS:
        if name in applied:
            continue
        with db.atomic():
            migrate(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", [name, now()])
    health.ensure_daemon_tables(db)
    health.ensure_health_views(db)


# ---------------------------------------------------------------- runs

def start_run(db: Database, trigger: str, sources: Iterable[str], pid: int | None = None) -> int:
    cur = db.execute(
        "INSERT INTO runs (started, status, trigger, sources, pid) VALUES (?, 'running', ?, ?, ?)",
        [now(), trigger, json.dumps(list(sources), ensure_ascii=False), pid],
    )
    return int(cur.lastrowid)


def add_run_counts(db: Database, run_id: int, counts: dict[str, int]) -> None:
    sets = ", ".join(f"{k} = {k} + :{k}" for k in counts)
    if sets:
        db.execute(f"UPDATE runs SET {sets} WHERE id = :id", {**counts, "id": run_id})


def finish_run(db: Database, run_id: int, status: str, error: str | None = None) -> None:
    db.execute(
        "UPDATE runs SET ended = ?, status = ?, error = COALESCE(?, error) WHERE id = ?",
        [now(), status, error, run_id],
    )


def mark_interrupted_runs(db: Database) -> int:
    """Runs still 'running' whose process is gone were killed: say so."""
    import os

    stale = []
    for row in db.query("SELECT id, pid FROM runs WHERE status = 'running'"):
        if row["pid"] and _pid_alive(row["pid"]) and row["pid"] != os.getpid():
            continue
        stale.append(row["id"])
    for run_id in stale:
        finish_run(db, run_id, "interrupted", "the process stopped before the run ended")
    return len(stale)


def _pid_alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def record_source_run(db: Database, run_id: int, source: str, counts: dict[str, int], ok: bool) -> None:
    db.execute(
        """INSERT INTO source_runs (run_id, source, fetched, new, errors, not_modified, ok, at)
           VALUES (:run_id, :source, :fetched, :new, :errors, :not_modified, :ok, :at)
           ON CONFLICT (run_id, source) DO UPDATE SET
             fetched = fetched + excluded.fetched, new = new + excluded.new,
             errors = errors + excluded.errors, not_modified = not_modified + excluded.not_modified,
             ok = excluded.ok, at = excluded.at""",
        {
            "run_id": run_id, "source": source, "ok": int(ok), "at": now(),
            **{k: counts.get(k, 0) for k in ("fetched", "new", "errors", "not_modified")},
        },
    )


# ---------------------------------------------------------------- pages (fetch state)

def known_article_urls(db: Database) -> set[str]:
    """Every article URL that must not be fetched again."""
    marks = ",".join("?" * len(FINAL_OUTCOMES))
    urls: set[str] = set()
    for sql, params in (
        (f"SELECT url FROM pages WHERE kind = 'article' AND outcome IN ({marks})", FINAL_OUTCOMES),
        ("SELECT url FROM articles UNION SELECT canonical_url FROM articles", ()),
        ("SELECT url FROM copies", ()),
    ):
        urls.update(r[0] for r in db.execute(sql, params).fetchall())
    return urls


def retry_urls(db: Database, sources: Iterable[str], max_attempts: int) -> list[tuple[str, str]]:
    """(url, source) of article pages that failed for a reason worth another try."""
    names = list(sources)
    marks = ",".join("?" * len(names))
    return [tuple(r) for r in db.execute(
        f"SELECT url, source FROM pages WHERE kind = 'article' AND outcome = 'retry' "
        f"AND attempts < ? AND source IN ({marks}) ORDER BY fetched_at", [max_attempts, *names],
    ).fetchall()]


def record_retry(db: Database, url: str, source: str | None, status: int | None, run_id: int | None) -> None:
    """An article page failed transiently (5xx, timeout): try it again next run."""
    record_page(db, url, "article", source, status=status, outcome="retry", run_id=run_id)
    db.execute("UPDATE pages SET attempts = attempts + 1 WHERE url = ?", [url])


def get_validators(db: Database, url: str) -> tuple[str | None, str | None]:
    row = db.execute("SELECT etag, last_modified FROM pages WHERE url = ?", [url]).fetchone()
    return (row[0], row[1]) if row else (None, None)


def record_page(db: Database, url: str, kind: str, source: str | None, *, status: int | None,
                outcome: str, run_id: int | None, etag: str | None = None,
                last_modified: str | None = None) -> None:
    """Upsert the fetch state of one URL; validators are kept when a 304 brings none."""
    db.execute(
        """INSERT INTO pages (url, kind, source, etag, last_modified, status, outcome, fetched_at, run_id)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (url) DO UPDATE SET
             kind = excluded.kind, source = excluded.source,
             etag = COALESCE(excluded.etag, etag),
             last_modified = COALESCE(excluded.last_modified, last_modified),
             status = excluded.status, outcome = excluded.outcome,
             fetched_at = excluded.fetched_at, run_id = excluded.run_id""",
        [url, kind, source, etag, last_modified, status, outcome, now(), run_id],
    )


def record_skipped(db: Database, url: str, source: str | None, reason: str, *,
                   detail: str | None = None, status: int | None = None,
                   run_id: int | None = None) -> None:
    db.execute(
        "INSERT INTO skipped (url, source, reason, detail, status, run_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [url, source, reason, detail, status, run_id, now()],
    )


# ---------------------------------------------------------------- articles, copies, stories

def find_article_by_url(db: Database, *urls: str) -> int | None:
    for url in filter(None, urls):
        row = db.execute(
            "SELECT id FROM articles WHERE url = ?1 OR canonical_url = ?1 "
            "UNION ALL SELECT article_id FROM copies WHERE url = ?1 LIMIT 1",
            [url],
        ).fetchone()
        if row:
            return int(row[0])
    return None


def find_article_by_hash(db: Database, content_hash: str) -> int | None:
    row = db.execute("SELECT id FROM articles WHERE content_hash = ? ORDER BY id LIMIT 1", [content_hash]).fetchone()
    return int(row[0]) if row else None


def insert_article(db: Database, row: dict[str, Any]) -> int:
    """Insert one article and its full-text row; returns its id."""
    cols = ", ".join(row)
    marks = ", ".join(f":{k}" for k in row)
    article_id = int(db.execute(f"INSERT INTO articles ({cols}) VALUES ({marks})", row).lastrowid)
    db.execute(
        "INSERT INTO articles_fts (rowid, title, text) VALUES (?, ?, ?)",
        [article_id, search.index_text(row.get("title")), search.index_text(row.get("text"))],
    )
    return article_id


def insert_copy(db: Database, *, url: str, source: str, article_id: int, kind: str,
                title: str | None, run_id: int | None) -> bool:
    """Record `url` as a copy of `article_id`; False when it is already known."""
    if db.execute("SELECT 1 FROM articles WHERE url = ?1 OR canonical_url = ?1", [url]).fetchone():
        return False
    story = db.execute("SELECT story_id FROM articles WHERE id = ?", [article_id]).fetchone()
    cur = db.execute(
        "INSERT OR IGNORE INTO copies (url, source, article_id, story_id, kind, title, first_seen, run_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [url, source, article_id, story[0] if story else None, kind, title, now(), run_id],
    )
    if cur.rowcount and story and story[0]:
        refresh_story(db, story[0])
    return bool(cur.rowcount)


def new_story(db: Database, article_id: int, title: str | None, first_seen: str) -> int:
    cur = db.execute(
        "INSERT INTO stories (origin_article_id, title, first_seen, last_seen) VALUES (?, ?, ?, ?)",
        [article_id, title, first_seen, first_seen],
    )
    return int(cur.lastrowid)


def refresh_story(db: Database, story_id: int) -> None:
    """Recompute a story's counts, origin (earliest first_seen) and dates from its members."""
    db.execute(
        """UPDATE stories SET
             n_articles = (SELECT count(*) FROM articles WHERE story_id = :s),
             n_copies = (SELECT count(*) FROM copies WHERE story_id = :s),
             n_sources = (SELECT count(DISTINCT source) FROM (
                 SELECT source FROM articles WHERE story_id = :s
                 UNION ALL SELECT source FROM copies WHERE story_id = :s)),
             first_seen = (SELECT min(first_seen) FROM (
                 SELECT first_seen FROM articles WHERE story_id = :s
                 UNION ALL SELECT first_seen FROM copies WHERE story_id = :s)),
             last_seen = (SELECT max(first_seen) FROM (
                 SELECT first_seen FROM articles WHERE story_id = :s
                 UNION ALL SELECT first_seen FROM copies WHERE story_id = :s)),
             origin_article_id = (SELECT id FROM articles WHERE story_id = :s
                 ORDER BY first_seen, id LIMIT 1)
           WHERE id = :s""",
        {"s": story_id},
    )
    db.execute(
        "UPDATE stories SET title = (SELECT title FROM articles WHERE id = stories.origin_article_id) WHERE id = ?",
        [story_id],
    )


def counts(db: Database) -> dict[str, int]:
    out = {}
    for table in ("articles", "copies", "stories", "skipped", "spool"):
        out[table] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return out
