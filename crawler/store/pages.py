"""Pages: what became of every fetched URL (`pages`) and why pages were not kept (`skipped`).

The fetch-state middleware (crawler/fetch/state.py) decides; this module is where it writes.
The spool and ingest mark an article URL `spooled`, then `stored` or `copy`, in the same
transaction as the item itself, so a URL is never both unrecorded and done.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlite_utils import Database

from crawler.records import FINAL_OUTCOMES, Outcome, Tested
from crawler.store import topicsets
from crawler.store.db import now

_FINAL = sorted(FINAL_OUTCOMES)
# An article's canonical URL is never fetched again when it is the article's own URL, tracking
# and other query left out. One its page only declared (a print or AMP page's, or the day's
# lead story's that a template names on every page) may be fetched once: that page then
# decides, a copy or the article at that URL (crawler/store/ingest.py, _reclaim), and its
# `pages` row keeps it from being fetched again.
_OWN_CANONICAL = "canonical_url = url OR canonical_url = substr(url, 1, instr(url || '?', '?') - 1)"


def known_article_urls(db: Database, wanted: Tested | None = None,
                       max_age_days: int | None = None) -> set[str]:
    """Every article URL that must not be fetched again: final outcomes, stored articles and
    copies, and what waits in the spool.  An off-topic page counts only when it was tried with
    every topic of `wanted` (the crawl's topics, by fingerprint), or its text is kept (it is
    matched again from that), or it is from before topics were recorded: a page a `--topic`
    crawl turned away is fetched again for the topics that crawl did not try.  Likewise a
    page skipped as too old under a narrower limit than `max_age_days` is fetched again."""
    final = [o for o in _FINAL if o != Outcome.OFF_TOPIC or wanted is None]
    marks = ",".join("?" * len(final))
    urls = {r[0] for r in db.execute(
        f"SELECT url FROM pages WHERE kind = 'article' AND outcome IN ({marks})", final).fetchall()}
    if max_age_days is not None:
        urls.difference_update(_judged_older(db, max_age_days))
    for sql in (f"SELECT url FROM articles UNION SELECT canonical_url FROM articles WHERE {_OWN_CANONICAL}",
                "SELECT url FROM copies UNION SELECT url FROM spool UNION SELECT url FROM unmatched"):
        urls.update(r[0] for r in db.execute(sql).fetchall())
    if wanted is not None:
        urls.update(_off_topic_covered(db, topicsets.covering_keys(db, wanted)))
    return urls


def _off_topic_covered(db: Database, keys: list[str]) -> list[str]:
    marks = ",".join("?" * len(keys))
    return [r[0] for r in db.execute(
        f"SELECT url FROM pages WHERE kind = 'article' AND outcome = ? "
        f"AND (topic_set IS NULL OR topic_set IN ({marks}))", [Outcome.OFF_TOPIC, *keys])]


def record_off_topic(db: Database, url: str, source: str | None, *, status: int | None,
                     run_id: int | None, tested: Tested | None) -> None:
    """An article page that matched none of the topics in `tested`."""
    record_page(db, url, "article", source, status=status, outcome=Outcome.OFF_TOPIC, run_id=run_id)
    set_tested(db, url, topicsets.key_of(db, tested))


def set_tested(db: Database, url: str, key: str | None) -> None:
    db.execute("UPDATE pages SET topic_set = ? WHERE url = ?", [key, url])


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


def get_validators(db: Database, url: str, read_as: str | None = None) -> tuple[str | None, str | None]:
    """The validators of a document's last full read, when it was read under the source
    settings `read_as` names (`Source.read_as`); none otherwise, so it is read in full."""
    row = db.execute("SELECT etag, last_modified FROM pages WHERE url = ? AND read_as IS ?",
                     [url, read_as]).fetchone()
    return (row[0], row[1]) if row else (None, None)


def record_page(db: Database, url: str, kind: str, source: str | None, *, status: int | None,
                outcome: str, run_id: int | None, etag: str | None = None,
                last_modified: str | None = None, read_as: str | None = None) -> None:
    """Upsert the fetch state of one URL; validators, and what they were read as, are kept
    when a 304 brings none."""
    db.execute(
        """INSERT INTO pages (url, kind, source, etag, last_modified, status, outcome, fetched_at,
                              run_id, read_as)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (url) DO UPDATE SET
             kind = excluded.kind, source = excluded.source,
             etag = COALESCE(excluded.etag, etag),
             last_modified = COALESCE(excluded.last_modified, last_modified),
             read_as = COALESCE(excluded.read_as, read_as),
             status = excluded.status, outcome = excluded.outcome,
             fetched_at = excluded.fetched_at, run_id = excluded.run_id""",
        [url, kind, source, etag, last_modified, status, outcome, now(), run_id, read_as],
    )


def age_limit(max_age_days: int) -> str:
    """`pages.read_as` of an article skipped as too old: the limit it was judged by."""
    return f"max_age_days={max_age_days}"


def _judged_older(db: Database, max_age_days: int) -> list[str]:
    """Article pages skipped as too old under a narrower `max_age_days` than `max_age_days`
    (0: none), to be fetched again; those recorded before the limit was (no `read_as`) stay."""
    rows = db.execute("SELECT url, read_as FROM pages WHERE kind = 'article' AND outcome = ? "
                      "AND read_as LIKE 'max_age_days=%'", [Outcome.TOO_OLD]).fetchall()
    wider = (lambda n: n > 0) if max_age_days <= 0 else (lambda n: 0 < n < max_age_days)
    return [url for url, read_as in rows if wider(int(read_as.partition("=")[2] or 0))]


def record_skipped(db: Database, url: str, source: str | None, reason: str, *,
                   detail: str | None = None, status: int | None = None,
                   run_id: int | None = None) -> None:
    db.execute(
        "INSERT INTO skipped (url, source, reason, detail, status, run_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [url, source, reason, detail, status, run_id, now()],
    )
