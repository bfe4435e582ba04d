"""Kept pages: the extracted article of a page that matched no topic, kept (zlib-compressed
JSON) for `[corpus] keep_unmatched_days`, so that a topic added or edited later, or one a
`--topic` crawl did not try, is applied to it without fetching it again (crawler/store/rematch.py).

The only writer of `unmatched`.  A kept page leaves it when it matches after all (it goes to the
spool in the same transaction) or when it is older than the setting.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Iterator

from sqlite_utils import Database

from crawler.records import Article, Tested
from crawler.store import topicsets
from crawler.store.db import now


def keep(db: Database, article: Article, tested: Tested | None, run_id: int | None) -> None:
    """Keep an off-topic page's article (replacing an older copy of the same URL)."""
    blob = zlib.compress(json.dumps(article.to_dict(), ensure_ascii=False).encode(), 6)
    db.execute(
        "INSERT OR REPLACE INTO unmatched (url, source, article, topic_set, kept_at, run_id) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [article.url, article.source, blob, topicsets.key_of(db, tested), now(), run_id])


def urls(db: Database) -> set[str]:
    return {r[0] for r in db.execute("SELECT url FROM unmatched")}


def urls_in_set(db: Database, key: str | None) -> list[str]:
    """URLs of the kept pages matched against set `key` (None: no set recorded)."""
    return [r[0] for r in db.execute("SELECT url FROM unmatched WHERE topic_set IS ? ORDER BY rowid",
                                     [key])]


def load(db: Database, url_list: list[str]) -> Iterator[tuple[Article, str | None, int | None]]:
    """(article, topic_set, run_id) of the kept pages named."""
    marks = ",".join("?" * len(url_list))
    for blob, key, run_id in db.execute(
            f"SELECT article, topic_set, run_id FROM unmatched WHERE url IN ({marks})", url_list):
        yield Article(**json.loads(zlib.decompress(blob))), key, run_id


def topic_set_keys(db: Database) -> list[str | None]:
    return [r[0] for r in db.execute("SELECT DISTINCT topic_set FROM unmatched")]


def set_tested(db: Database, url: str, key: str | None) -> None:
    db.execute("UPDATE unmatched SET topic_set = ? WHERE url = ?", [key, url])


def remove(db: Database, url: str) -> None:
    db.execute("DELETE FROM unmatched WHERE url = ?", [url])


def prune(db: Database, days: int) -> int:
    """Drop the pages kept longer than `days` (all of them for 0); returns how many."""
    if days == 0:
        return db.execute("DELETE FROM unmatched").rowcount
    cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).isoformat(timespec="seconds")
    return db.execute("DELETE FROM unmatched WHERE kept_at < ?", [cutoff]).rowcount


def count(db: Database) -> int:
    return db.execute("SELECT count(*) FROM unmatched").fetchone()[0]
