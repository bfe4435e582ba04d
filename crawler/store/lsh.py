"""The near-duplicate index, kept in the corpus: `lsh_bands` holds one row per band of every
article's MinHash signature, `(bucket, band, hash, article_id)` (`hash`: the band's 64-bit
key; `bucket`: the article id's block of 65,536), the primary key of a table WITHOUT ROWID.
A lookup is one index probe per band in each bucket that holds articles first seen within the
window, and reads nothing else until a band matches.  Buckets keep new rows together: ingest
writes, and lookups within a window read, the few recent parts of the table, whose pages stay
cached, whatever the size of the corpus.
Nothing is kept in memory: a fresh process finds near-duplicates as fast as a long-lived one,
and memory does not grow with the corpus.

`crawler.dedup.NearDup` computes the keys; this module stores and looks them up.  Which
banding the rows were made with is recorded in `lsh_state`; `ensure_shape` rebuilds the rows
from the stored signatures (`minhashes`) when the settings change it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING

from sqlite_utils import Database

if TYPE_CHECKING:
    from crawler.dedup import NearDup

_CHUNK = 50_000
BUCKET_BITS = 16  # 65,536 articles per bucket: 2 to 3 buckets in a 30-day window at 1,000,000 a year


def bucket_of(article_id: int) -> int:
    return article_id >> BUCKET_BITS


def add(db: Database, article_id: int, keys: Iterable[tuple[int, int]]) -> None:
    """Index an article's (band, key) pairs; call it in the article's own transaction."""
    bucket = bucket_of(article_id)
    db.conn.executemany("INSERT OR IGNORE INTO lsh_bands (bucket, band, hash, article_id) VALUES (?, ?, ?, ?)",
                        [(bucket, band, key, article_id) for band, key in keys])


def candidates(db: Database, keys: list[tuple[int, int]], since: str | None = None) -> list[tuple[int, bytes]]:
    """(article_id, signature bytes) of the articles sharing at least one (band, key) with
    `keys`, first seen at or after `since` (UTC ISO 8601, as `articles.first_seen`) if given.

    Only the buckets from that of the first article first seen at `since` (by
    `idx_articles_first_seen`) to the newest are probed: ids grow with `first_seen`, so older
    buckets hold none (an article stored with a clock set back, out of that order, can be
    missed)."""
    if not keys:
        return []
    newest = db.execute("SELECT max(id) FROM articles").fetchone()[0]
    if newest is None:
        return []
    first = 0
    if since is not None:
        row = db.execute("SELECT id FROM articles WHERE first_seen >= ? ORDER BY first_seen, id LIMIT 1",
                         [since]).fetchone()
        if row is None:
            return []
        first = row[0]
    values = ", ".join("(?, ?)" for _ in keys)
    params: list[object] = [bucket_of(first), bucket_of(newest)]
    params += [x for pair in keys for x in pair]
    sql = ("WITH RECURSIVE b(bucket) AS (SELECT ? UNION ALL SELECT bucket + 1 FROM b WHERE bucket < ?), "
           f"q(band, hash) AS (VALUES {values}), "
           "hit AS (SELECT DISTINCT l.article_id FROM b, q JOIN lsh_bands l "
           "        ON l.bucket = b.bucket AND l.band = q.band AND l.hash = q.hash) "
           "SELECT m.article_id, m.signature FROM hit JOIN minhashes m ON m.article_id = hit.article_id")
    if since is not None:
        sql += " JOIN articles a ON a.id = hit.article_id WHERE a.first_seen >= ?"
        params.append(since)
    return [(r[0], r[1]) for r in db.execute(sql, params)]


def stored_shape(db: Database) -> str | None:
    row = db.execute("SELECT shape FROM lsh_state WHERE id = 1").fetchone()
    return row[0] if row else None


def ensure_shape(db: Database, near: NearDup) -> bool:
    """Make `lsh_bands` hold `near`'s banding of every stored signature: nothing to do when it
    already does (one read); otherwise rebuilt from `minhashes` a chunk at a time (memory does
    not grow with the corpus).  Call it inside a write transaction; returns whether it rebuilt."""
    if stored_shape(db) == near.shape:
        return False
    rebuild(db, near)
    return True


def rebuild(db: Database, near: NearDup) -> None:
    db.execute("DELETE FROM lsh_bands")
    rows = near.stored_keys(_signatures(db))
    while chunk := list(islice(rows, _CHUNK)):
        db.conn.executemany("INSERT OR IGNORE INTO lsh_bands (bucket, band, hash, article_id) "
                            "VALUES (?, ?, ?, ?)", [(bucket_of(i), band, key, i) for band, key, i in chunk])
    db.execute("INSERT OR REPLACE INTO lsh_state (id, shape) VALUES (1, ?)", [near.shape])


def _signatures(db: Database, page: int = 5_000) -> Iterator[tuple[int, bytes]]:
    """Every stored (article_id, signature), a page at a time (keyset pagination: no cursor
    stays open across the inserts)."""
    after = 0
    while True:
        rows = db.execute("SELECT article_id, signature FROM minhashes WHERE article_id > ? "
                          "ORDER BY article_id LIMIT ?", [after, page]).fetchall()
        if not rows:
            return
        yield from rows
        after = rows[-1][0]
