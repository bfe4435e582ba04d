"""Read-only queries for the browsing side (the Datasette plugin), over a plain sqlite3
connection as Datasette hands one to `execute_fn`: one call, one snapshot."""

from __future__ import annotations

import sqlite3
from typing import Any

# The articles-table search filter: `:topicwatch_match` is `fts.fts_query()` of what was typed.
SEARCH_FILTER = "id IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH :topicwatch_match)"

FEED_SQL = """
SELECT id, url, canonical_url, source, title, author, published, description,
       substr(text, 1, 600) AS text, topics, first_seen
FROM articles
WHERE :topic = '' OR EXISTS (SELECT 1 FROM json_each(articles.topics) WHERE value = :topic)
ORDER BY first_seen DESC, id DESC
LIMIT :limit
"""


def _rows(conn: sqlite3.Connection, sql: str, *params: Any) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def read_article(conn: sqlite3.Connection, article_id: int) -> dict[str, Any] | None:
    """The article row, its copies, its story and the story's other articles."""
    found = _rows(conn, "SELECT * FROM articles WHERE id = ?", article_id)
    if not found:
        return None
    article = found[0]
    article["copies"] = _rows(
        conn, "SELECT source, url, kind, first_seen FROM copies WHERE article_id = ? "
        "ORDER BY first_seen", article_id)
    sid = article.get("story_id")
    article["story"] = (_rows(conn, "SELECT * FROM stories WHERE id = ?", sid) or [None])[0]
    article["siblings"] = _rows(
        conn, "SELECT id, title, source, url, first_seen FROM articles "
        "WHERE story_id = ? AND id != ? ORDER BY first_seen", sid, article_id)
    article["story_copies"] = _rows(
        conn, "SELECT source, url, kind, first_seen FROM copies "
        "WHERE story_id = ? AND article_id != ? ORDER BY first_seen", sid, article_id)
    return article


def topic_in_use(conn: sqlite3.Connection, topic: str) -> bool:
    """Whether any stored article carries `topic` (a retired topic still has its feed)."""
    return conn.execute("SELECT 1 FROM articles, json_each(articles.topics) WHERE value = ? LIMIT 1",
                        [topic]).fetchone() is not None


def feed_rows(conn: sqlite3.Connection, topic: str = "", limit: int = 50) -> list[dict[str, Any]]:
    """The newest articles of one topic (or of all, for ""), for an Atom feed."""
    cur = conn.execute(FEED_SQL, {"topic": topic, "limit": limit})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
