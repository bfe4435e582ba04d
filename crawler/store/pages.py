"""Pages: what became of every fetched URL (`pages`) and why pages were not kept (`skipped`).

The fetch-state middleware (crawler/fetch/state.py) decides; this module is where it writes.
The spool and ingest mark an article URL `spooled`, then `stored` or `copy`, in the same
transaction as the item itself, so a URL is never both unrecorded and done.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlite_utils import Database

from crawler.records import FINAL_OUTCOMES, Outcome
from crawler.store.db import now

_FINAL = sorted(FINAL_OUTCOMES)


def known_article_urls(db: Database) -> set[str]:
    """Every article URL that must not be fetched again: final outcomes, stored articles and
    copies, and what waits in the spool."""
    marks = ",".join("?" * len(_FINAL))
    urls: set[str] = set()
    for sql, params in (
        (f"SELECT url FROM pages WHERE kind = 'article' AND outcome IN ({marks})", _FINAL),
        ("SELECT url FROM articles UNION SELECT canonical_url FROM articles", ()),
        ("SELECT url FROM copies UNION SELECT url FROM spool", ()),
    ):
        urls.update(r[0] for r in db.execute(sql, params).fetchall())
    return urls


def retry_urls(db: Database, sources: Iterable[str], max_attempts: int) -> list[tuple[str, str]]:
    """(url, source) of article pages that failed for a reason worth another try."""
    names = list(sources)
    marks = ",".join("?" * len(names))
    return [tuple(r) for r in db.execute(
        f"SELECT url, source FROM pages WHERE kind = 'article' AND outcome = ? "
        f"AND attempts < ? AND source IN ({marks}) ORDER BY fetched_at",
        [Outcome.RETRY, max_attempts, *names],
    ).fetchall()]


def record_retry(db: Database, url: str, source: str | None, status: int | None, run_id: int | None) -> None:
    """An article page failed transiently (5xx, timeout): try it again next run."""
    record_page(db, url, "article", source, status=status, outcome=Outcome.RETRY, run_id=run_id)
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
