"""Read-only queries for the browsing side (the Datasette plugin), over a plain sqlite3
connection as Datasette hands one to `execute_fn`: one call, one snapshot.

A reader narrows the corpus the same way everywhere (front page, articles list, feeds): a
`Selection` of words, topics, source, language, script and a time.  How a condition is written
decides the plan at 100,000 articles.  A condition that keeps few articles should drive the
query (`id IN (...)`: look those up, sort them); one that keeps many should only be checked
while SQLite walks the newest-first index (`+id IN (...)`: the unary plus stops SQLite from
using the list as an index, so it never reads and sorts tens of thousands of 4 KB rows).
`estimate` counts, cheaply and only up to `FEW + 1`, how many articles a condition keeps.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

FEW = 2000  # a condition keeping at most this many articles drives the query
WINDOW = 5000  # a search looks at the newest this many matches (older ones: a page further)
NO_BEFORE = 2**62  # `before` of the newest window

ARTICLE_COLUMNS = ("source", "language", "script")
TOPIC_MEMBERS = "SELECT article_id FROM article_topics WHERE topic = :{p}"
# The newest WINDOW matches stored before :{p}_before.  FTS5 walks its index newest first and
# stops there: 3 ms at 100,000 articles where all 90,000 matches of a common word take 60.
FTS_WINDOW = ("SELECT rowid FROM (SELECT rowid FROM articles_fts WHERE articles_fts MATCH :{p} "
              "AND rowid < :{p}_before ORDER BY rowid DESC LIMIT {window})")


@dataclass(frozen=True)
class Selection:
    """What a reader narrowed the corpus to.  `match` is an FTS5 expression over the indexed
    form (`fts.fts_query` of the words typed); `since` an ISO time compared with first_seen."""

    match: str = ""
    topics: tuple[str, ...] = ()
    before: int = NO_BEFORE  # words: the window of matches stored before this article id
    source: str = ""
    language: str = ""
    script: str = ""
    since: str = ""

    def columns(self) -> dict[str, str]:
        return {c: getattr(self, c) for c in ARTICLE_COLUMNS if getattr(self, c)}


def _rows(conn: sqlite3.Connection, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _bounded_count(conn: sqlite3.Connection, sql: str, params: Any, bound: int = FEW) -> int:
    """How many rows `sql` returns, counted up to `bound + 1` only."""
    return conn.execute(f"SELECT count(*) FROM ({sql} LIMIT {int(bound) + 1})", params).fetchone()[0]


# ---------------------------------------------------------------- conditions on articles

def members_sql(match_param: str | None, topic_params: list[str]) -> str:
    """The ids of the articles among the newest WINDOW matches of the words (`:match_param`,
    an FTS5 expression; `:<match_param>_before` bounds the window) having every topic: one
    set, so that it is gathered once and its size known."""
    parts = [FTS_WINDOW.format(p=match_param, window=WINDOW)] if match_param else []
    parts += [TOPIC_MEMBERS.format(p=p) for p in topic_params]
    return " INTERSECT ".join(parts)


def members_ids(conn: sqlite3.Connection, sql: str, params: dict[str, Any]) -> list[int] | None:
    """The ids `members_sql` gives when they are at most FEW, else None: one pass, so that a
    small set (a rare phrase can cost 20 ms of FTS5 work) is gathered once per page and then
    handed to every query of the page as a list (`IDS`)."""
    ids = [row[0] for row in conn.execute(f"SELECT * FROM ({sql}) LIMIT {FEW + 1}", params)]
    return ids if len(ids) <= FEW else None


IDS = "SELECT value FROM json_each(:{p})"  # a list of ids passed as one JSON parameter


def ids_param(ids: list[int]) -> str:
    return json.dumps(ids)


def membership(column: str, members: str, many: bool) -> str:
    """`column IN (members)`, written so that a set of many only filters (see the module
    docstring).  Also the articles table's `_search` and `_topic` filter."""
    return f"{'+' if many else ''}{column} IN ({members})"


def column_count(conn: sqlite3.Connection, column: str, value: str) -> int:
    assert column in ARTICLE_COLUMNS
    return _bounded_count(conn, f"SELECT 1 FROM articles WHERE {column} = :p", {"p": value})


def older_matches(conn: sqlite3.Connection, match: str, before: int = NO_BEFORE) -> int | None:
    """When the words match more than WINDOW articles stored before `before`: the id of the
    oldest in the window, which is where the next window starts (`before` of the next page).
    None when the window holds them all."""
    sql = ("SELECT rowid FROM articles_fts WHERE articles_fts MATCH :m AND rowid < :b "
           "ORDER BY rowid DESC LIMIT 2 OFFSET :w")
    edge = conn.execute(sql, {"m": match, "b": before, "w": WINDOW - 1}).fetchall()
    return edge[0][0] if len(edge) == 2 else None


@dataclass
class Conditions:
    """WHERE terms on articles for a `Selection` (all but `since`), in two forms: `drive`
    lets a selective set lead the plan, `check` only tests (inside a correlated subquery a
    plain `id IN (list)` would be probed once per element of the list for every outer row)."""

    drive: list[str]
    check: list[str]
    params: dict[str, Any]
    smallest: int  # estimated articles kept by the most selective term (FEW + 1: many)


def conditions(conn: sqlite3.Connection, sel: Selection, alias: str) -> Conditions:
    out = Conditions([], [], {}, FEW + 1)
    topics = {f"topic{i}": t for i, t in enumerate(sel.topics)}
    params = {**topics, **({"match": sel.match, "match_before": sel.before} if sel.match else {})}
    if params:
        members = members_sql("match" if sel.match else None, list(topics))
        ids = members_ids(conn, members, params)
        if ids is None:
            out.params.update(params)
        else:
            members, out.params["ids"], out.smallest = IDS.format(p="ids"), ids_param(ids), len(ids)
        out.drive.append(membership(f"{alias}.id", members, ids is None))
        out.check.append(membership(f"{alias}.id", members, True))
    for column, value in sel.columns().items():
        out.drive.append(f"{alias}.{column} = :{column}")
        out.check.append(f"+{alias}.{column} = :{column}")  # never the (column, first_seen) index
        out.params[column] = value
        out.smallest = min(out.smallest, column_count(conn, column, value))
    return out


# ---------------------------------------------------------------- the front page: stories

def story_page(conn: sqlite3.Connection, sel: Selection, after: tuple[str, int] | None = None,
               limit: int = 50) -> list[dict[str, Any]]:
    """One row per story, newest first: the story and the article that stands for it (the
    origin, or with filters the earliest member that meets them).  A story is in the page
    when one of its articles meets every condition; `after` is the (first_seen, id) of the
    last story of the previous page."""
    cond = conditions(conn, sel, "m")
    where, params = ["1"], {**cond.params, "limit": limit}
    if sel.since:
        where.append("s.first_seen >= :since")
        params["since"] = sel.since
    if after:
        where.append("(s.first_seen < :after_seen OR (s.first_seen = :after_seen AND s.id < :after_id))")
        params.update(after_seen=after[0], after_id=after[1])
    pick = "s.origin_article_id"
    if cond.check:
        pick = (f"(SELECT m.id FROM articles m WHERE m.story_id = s.id AND {' AND '.join(cond.check)} "
                "ORDER BY m.first_seen, m.id LIMIT 1)")
        if cond.smallest <= FEW:  # few articles qualify: start from their stories
            where.append(f"s.id IN (SELECT m.story_id FROM articles m WHERE {' AND '.join(cond.drive)})")
        where.append("article_id IS NOT NULL")
    sql = (f"SELECT s.id, s.title, s.first_seen, s.n_sources, s.n_articles, s.n_copies, "
           f"{pick} AS article_id FROM stories s WHERE {' AND '.join(where)} "
           "ORDER BY s.first_seen DESC, s.id DESC LIMIT :limit")
    return _rows(conn, sql, params)


def _ids(values: Iterable[int]) -> str:
    return json.dumps([int(v) for v in values])


def story_details(conn: sqlite3.Connection, story_ids: list[int], article_ids: list[int],
                  text_chars: int = 400) -> dict[str, list[dict[str, Any]]]:
    """For a page of stories: the articles standing for them (with the start of their text),
    where else each story appeared (sources, languages, scripts of its articles and copies)
    and the topics of its articles."""
    sids, aids = {"ids": _ids(story_ids)}, {"ids": _ids(article_ids), "chars": text_chars}
    return {
        "articles": _rows(conn, """
            SELECT id, story_id, title, source, url, published, first_seen, language, script,
                   description, substr(text, 1, :chars) AS text
            FROM articles WHERE id IN (SELECT value FROM json_each(:ids))""", aids),
        "versions": _rows(conn, """
            SELECT story_id, source, language, script FROM articles
            WHERE story_id IN (SELECT value FROM json_each(:ids))
            UNION ALL
            SELECT c.story_id, c.source, a.language, a.script FROM copies c
            JOIN articles a ON a.id = c.article_id
            WHERE c.story_id IN (SELECT value FROM json_each(:ids))""", sids),
        "topics": _rows(conn, """
            SELECT DISTINCT a.story_id, t.topic FROM articles a
            JOIN article_topics t ON t.article_id = a.id
            WHERE a.story_id IN (SELECT value FROM json_each(:ids))
            ORDER BY a.story_id, t.topic""", sids),
    }


def distinct_values(conn: sqlite3.Connection, column: str) -> list[str]:
    """Every value of a filter column (topic, source, language, script) in the corpus, one
    index step per value (a skip-scan), never a scan of the table."""
    table, col = ("article_topics", "topic") if column == "topic" else ("articles", column)
    assert col == "topic" or col in ARTICLE_COLUMNS
    names: list[str] = []
    sql = f"SELECT min({col}) FROM {table} WHERE {col} > ?"
    while (value := conn.execute(sql, [names[-1] if names else ""]).fetchone()[0]) is not None:
        names.append(value)
    return names


def read_story(conn: sqlite3.Connection, story_id: int) -> dict[str, Any] | None:
    """A story with every version of it: its articles and their copies, oldest first."""
    found = _rows(conn, "SELECT * FROM stories WHERE id = ?", [story_id])
    if not found:
        return None
    story = found[0]
    story["versions"] = _rows(conn, """
        SELECT 'article' AS kind, id AS article_id, title, source, url, published, first_seen,
               language, script
        FROM articles WHERE story_id = :s
        UNION ALL
        SELECT c.kind, c.article_id, coalesce(c.title, a.title), c.source, c.url, NULL,
               c.first_seen, a.language, a.script
        FROM copies c JOIN articles a ON a.id = c.article_id WHERE c.story_id = :s
        ORDER BY first_seen, article_id""", {"s": story_id})
    story["topics"] = [r["topic"] for r in _rows(conn, """
        SELECT DISTINCT t.topic FROM articles a JOIN article_topics t ON t.article_id = a.id
        WHERE a.story_id = ? ORDER BY t.topic""", [story_id])]
    return story


# ---------------------------------------------------------------- articles: page, feeds

def read_article(conn: sqlite3.Connection, article_id: int) -> dict[str, Any] | None:
    """The article row, its copies, its story and the story's other articles."""
    found = _rows(conn, "SELECT * FROM articles WHERE id = ?", [article_id])
    if not found:
        return None
    article = found[0]
    article["copies"] = _rows(
        conn, "SELECT source, url, kind, first_seen FROM copies WHERE article_id = ? "
        "ORDER BY first_seen", [article_id])
    sid = article.get("story_id")
    article["story"] = (_rows(conn, "SELECT * FROM stories WHERE id = ?", [sid]) or [None])[0]
    article["siblings"] = _rows(
        conn, "SELECT id, title, source, url, first_seen FROM articles "
        "WHERE story_id = ? AND id != ? ORDER BY first_seen", [sid, article_id])
    article["story_copies"] = _rows(
        conn, "SELECT source, url, kind, first_seen FROM copies "
        "WHERE story_id = ? AND article_id != ? ORDER BY first_seen", [sid, article_id])
    return article


def feed_rows(conn: sqlite3.Connection, sel: Selection, limit: int = 50) -> list[dict[str, Any]]:
    """The newest articles in `sel`, for an Atom feed."""
    cond = conditions(conn, sel, "a")
    terms, params = cond.drive, cond.params
    if sel.since:
        terms.append("a.first_seen >= :since")
        params["since"] = sel.since
    where = f"WHERE {' AND '.join(terms)}" if terms else ""
    return _rows(conn, f"""
        SELECT a.id, a.url, a.canonical_url, a.source, a.title, a.author, a.published,
               a.description, substr(a.text, 1, 600) AS text, a.topics, a.first_seen
        FROM articles a {where}
        ORDER BY a.first_seen DESC, a.id DESC LIMIT :limit""", {**params, "limit": limit})


# ---------------------------------------------------------------- facets of the articles table

def topic_facet_sql(filtered_sql: str | None, many: bool, limit: int) -> str:
    """Articles per topic from the join table, over the rows of `filtered_sql` (Datasette's
    filtered articles query; None: every article)."""
    where = f"WHERE {membership('article_id', f'SELECT id FROM ({filtered_sql})', many)}" if filtered_sql else ""
    return (f"SELECT topic AS value, count(*) AS count FROM article_topics {where} "
            f"GROUP BY topic ORDER BY count DESC, value LIMIT {int(limit)}")


def by_index_sql(filtered_sql: str, many: bool) -> str:
    """Datasette's filtered articles query, rewritten for a column facet: the ids it keeps
    are gathered first (from an index); many are checked while the column's index is read in
    order, few are looked up.  Either way no 4 KB row is read for the rows it does not need."""
    return f"select * from articles where {membership('id', f'select id from ({filtered_sql})', many)}"


# ---------------------------------------------------------------- counts from article_counts

def counted_facet_sql(column: str, filters: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Articles per value of `column` (topic, source, language or script) in the list that
    `filters` (topic, source, language, script; one value each) selects, from the
    `article_counts` table: a few thousand rows, whatever the size of the corpus."""
    assert column == "topic" or column in ARTICLE_COLUMNS
    params = {"topic": filters.get("topic", "")}
    where = ["topic = :topic"]
    for c in ARTICLE_COLUMNS:
        if c in filters:
            where.append(f"{c} = :{c}")
            params[c] = filters[c]
    if column == "topic":  # the other topics of the list's articles, and its own topic
        sql = (f"SELECT also AS value, sum(articles) AS count FROM article_counts "
               f"WHERE {' AND '.join(where)} AND also != '' GROUP BY also")
        if params["topic"]:
            sql += (f" UNION ALL SELECT :topic, sum(articles) FROM article_counts "
                    f"WHERE {' AND '.join(where)} AND also = '' HAVING sum(articles) > 0")
    else:
        sql = (f"SELECT {column} AS value, sum(articles) AS count FROM article_counts "
               f"WHERE {' AND '.join(where)} AND also = '' AND {column} != '' GROUP BY {column}")
    return f"SELECT * FROM ({sql}) ORDER BY count DESC, value", params


def counted_total(conn: sqlite3.Connection, filters: dict[str, str]) -> int:
    """Articles in the list `filters` selects (see `counted_facet_sql`), from article_counts."""
    sql, params = counted_facet_sql("source", filters)
    return sum(count for _, count in conn.execute(sql, params))


def members_total(conn: sqlite3.Connection, members: str, params: dict[str, Any]) -> int:
    """How many ids `members_sql` gives: FTS5 and the join table, no article row."""
    return conn.execute(f"SELECT count(*) FROM ({members})", params).fetchone()[0]


def topic_in_use(conn: sqlite3.Connection, topic: str) -> bool:
    """Whether any stored article carries `topic` (a retired topic still has its feed)."""
    return conn.execute("SELECT 1 FROM article_topics WHERE topic = ? LIMIT 1", [topic]).fetchone() is not None
