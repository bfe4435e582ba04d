"""The corpus proper: articles, their copies and stories, their MinHash signatures and their
full-text rows.  Ingest (crawler/store/ingest.py) is the only writer; browse and export read
through `select_articles` and crawler/store/queries.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlite_utils import Database

from crawler.store import fts
from crawler.store.db import now

EXPORT_COLUMNS = (
    "id", "url", "canonical_url", "source", "title", "author", "published", "published_day",
    "language", "script", "site_name", "description", "original_source", "text", "topics",
    "matched_terms", "scores", "story_id", "first_seen",
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


def urls_of(db: Database, article_id: int) -> tuple[str, str]:
    """(url, canonical_url) of a stored article."""
    url, canonical = db.execute("SELECT url, canonical_url FROM articles WHERE id = ?", [article_id]).fetchone()
    return url, canonical


def page_of(db: Database, article_id: int) -> tuple[str, str, str | None]:
    """(url, source, title) of a stored article."""
    url, source, title = db.execute("SELECT url, source, title FROM articles WHERE id = ?",
                                    [article_id]).fetchone()
    return url, source, title


def url_is_free(db: Database, url: str, article_id: int) -> bool:
    """Whether `url` is neither another article's URL nor a copy's."""
    return not db.execute("SELECT 1 FROM articles WHERE url = ?1 AND id != ?2 "
                          "UNION ALL SELECT 1 FROM copies WHERE url = ?1", [url, article_id]).fetchone()


def adopt_page(db: Database, article_id: int, url: str, fields: dict[str, Any]) -> None:
    """The article's page becomes `url`, with the `fields` that have a value (its text, topics
    and dedup keys stay); its full-text row and its story follow a new title."""
    values = {k: v for k, v in fields.items() if v}
    sets = "".join(f", {k} = :{k}" for k in values)
    db.execute(f"UPDATE articles SET url = :url{sets} WHERE id = :id", {**values, "url": url, "id": article_id})
    if "title" in values:
        db.execute("UPDATE articles_fts SET title = ? WHERE rowid = ?", [fts.index_text(values["title"]), article_id])
        db.execute("UPDATE stories SET title = ? WHERE origin_article_id = ?", [values["title"], article_id])


def set_canonical_url(db: Database, article_id: int, url: str) -> None:
    db.execute("UPDATE articles SET canonical_url = ? WHERE id = ?", [url, article_id])


def find_article_by_hash(db: Database, content_hash: str) -> int | None:
    row = db.execute("SELECT id FROM articles WHERE content_hash = ? ORDER BY id LIMIT 1", [content_hash]).fetchone()
    return int(row[0]) if row else None


def insert_article(db: Database, row: dict[str, Any]) -> int:
    """Insert one article, its full-text row and its `article_topics` rows; returns its id.
    Call it inside the item's transaction: the three are written together or not at all."""
    cols = ", ".join(row)
    marks = ", ".join(f":{k}" for k in row)
    article_id = int(db.execute(f"INSERT INTO articles ({cols}) VALUES ({marks})", row).lastrowid)
    db.execute(
        "INSERT INTO articles_fts (rowid, title, text) VALUES (?, ?, ?)",
        [article_id, fts.index_text(row.get("title")), fts.index_text(row.get("text"))],
    )
    topics = _topic_names(row.get("topics"))
    for topic in topics:
        db.execute("INSERT OR IGNORE INTO article_topics (topic, article_id) VALUES (?, ?)",
                   [topic, article_id])
    count_article(db, topics, row)
    return article_id


def count_article(db: Database, topics: list[str], row: dict[str, Any], delta: int = 1) -> None:
    """Add one article to `article_counts` (see crawler/store/schema.py): under every topic it
    has and '' (all articles), and for each of those under each other topic it has and ''.
    With `delta = -1`, take it away again (its topics changed); rows left at 0 go."""
    dims = [row["source"], row.get("language") or "", row.get("script") or ""]
    keys = ["", *dict.fromkeys(topics)]
    for topic in keys:
        for also in keys:
            if also == "" or also != topic:
                db.execute(
                    "INSERT INTO article_counts (topic, also, source, language, script, articles) "
                    "VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT DO UPDATE SET articles = articles + excluded.articles",
                    [topic, also, *dims, delta])
    if delta < 0:
        db.execute("DELETE FROM article_counts WHERE articles <= 0")


def _topic_names(topics_json: str | None) -> list[str]:
    """The topic names of an `articles.topics` value (a JSON list of strings)."""
    names = json.loads(topics_json or "[]")
    return [t for t in names if isinstance(t, str)] if isinstance(names, list) else []


def insert_copy(db: Database, *, url: str, source: str, article_id: int, kind: str,
                title: str | None, run_id: int | None, first_seen: str | None = None) -> bool:
    """Record `url` as a copy of `article_id` (seen at `first_seen`, default now); False when
    it is already known."""
    if db.execute("SELECT 1 FROM articles WHERE url = ?1 OR canonical_url = ?1", [url]).fetchone():
        return False
    story = db.execute("SELECT story_id FROM articles WHERE id = ?", [article_id]).fetchone()
    cur = db.execute(
        "INSERT OR IGNORE INTO copies (url, source, article_id, story_id, kind, title, first_seen, run_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [url, source, article_id, story[0] if story else None, kind, title, first_seen or now(),
         run_id],
    )
    if cur.rowcount and story and story[0]:
        refresh_story(db, story[0])
    return bool(cur.rowcount)


def set_story(db: Database, article_id: int, story_id: int) -> None:
    db.execute("UPDATE articles SET story_id = ? WHERE id = ?", [story_id, article_id])
    refresh_story(db, story_id)


def story_of(db: Database, article_id: int) -> int | None:
    row = db.execute("SELECT story_id FROM articles WHERE id = ?", [article_id]).fetchone()
    return int(row[0]) if row and row[0] else None


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


def ids_in_topic_set(db: Database, key: str | None) -> list[int]:
    """Ids of the articles matched against topic set `key` (None: no set recorded)."""
    return [r[0] for r in db.execute("SELECT id FROM articles WHERE topic_set IS ? ORDER BY id", [key])]


def topic_set_keys(db: Database) -> list[str | None]:
    return [r[0] for r in db.execute("SELECT DISTINCT topic_set FROM articles")]


def rows_for_rematch(db: Database, ids: list[int]) -> list[dict[str, Any]]:
    marks = ",".join("?" * len(ids))
    return list(db.query(f"SELECT id, url, source, title, text, topics, matched_terms, scores "
                         f"FROM articles WHERE id IN ({marks})", ids))


def set_topics(db: Database, article_id: int, values: dict[str, Any], topic_set: str | None) -> None:
    """New `topics` / `matched_terms` / `scores` of a stored article, and what it was matched
    against; `article_topics` and `article_counts` follow (call it inside a transaction)."""
    old = next(db.query("SELECT topics, source, language, script FROM articles WHERE id = ?",
                        [article_id]))
    db.execute(
        "UPDATE articles SET topics = ?, matched_terms = ?, scores = ?, topic_set = ? WHERE id = ?",
        [json.dumps(values["topics"], ensure_ascii=False),
         json.dumps(values["matched_terms"], ensure_ascii=False),
         json.dumps(values["scores"]), topic_set, article_id])
    before, after = _topic_names(old["topics"]), list(values["topics"])
    if before == after:
        return
    count_article(db, before, old, delta=-1)
    count_article(db, after, old)
    db.execute("DELETE FROM article_topics WHERE article_id = ?", [article_id])
    for topic in after:
        db.execute("INSERT OR IGNORE INTO article_topics (topic, article_id) VALUES (?, ?)",
                   [topic, article_id])


def counts(db: Database) -> dict[str, int]:
    out = {}
    for table in ("articles", "copies", "stories", "skipped", "spool", "unmatched"):
        out[table] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return out


# ---------------------------------------------------------------- near-duplicate signatures

def signature_of(db: Database, article_id: int) -> bytes | None:
    row = db.execute("SELECT signature FROM minhashes WHERE article_id = ?", [article_id]).fetchone()
    return row[0] if row else None


def save_signature(db: Database, article_id: int, blob: bytes) -> None:
    db.execute("INSERT OR REPLACE INTO minhashes (article_id, signature) VALUES (?, ?)",
               [article_id, blob])


# ---------------------------------------------------------------- export

def has_topic(db: Database, topic: str) -> bool:
    """Whether any stored article matched `topic` (an export may name a retired topic)."""
    return bool(db.execute("SELECT 1 FROM article_topics WHERE topic = ? LIMIT 1", [topic]).fetchone())


def select_articles(db: Database, since: str | None = None,
                    topic: str | None = None) -> Iterator[dict[str, Any]]:
    """Articles for export, oldest first; `since` is compared with `first_seen` (UTC ISO)."""
    where, params = [], {}
    if since:
        where.append("first_seen >= :since")
        params["since"] = since
    if topic:
        where.append("id IN (SELECT article_id FROM article_topics WHERE topic = :topic)")
        params["topic"] = topic
    sql = f"SELECT {', '.join(EXPORT_COLUMNS)} FROM articles"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return db.query(sql + " ORDER BY first_seen, id", params)
