"""The reader's pages: new stories (the front page, `/`) and one story with all its versions
(`/-/topicwatch/story/<id>`).

A row of the front page is a story, not an article: its headline (the origin article's, or
with filters the earliest article that meets them), source and time, "also in N sources"
with the scripts and languages of its versions, its topics and the start of its text.  Pages
go back in time by keyset (`after=<first_seen>,<story id>`), so the hundredth page costs what
the first does.  Everything is read in one `execute_fn` call: one snapshot.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from crawler.browse.article import marked_html, web_link
from crawler.browse.selection import WINDOWS, Asked, version_label
from crawler.store import fts, queries

PAGE_SIZE = 50
PASSAGE_CHARS = 240
SEARCHED_CHARS = 6000  # of the text read for a passage holding the words searched for


STORY_PATH = "/-/topicwatch/story/{}"


class Links:
    """The reader pages' links, through `datasette.urls` (so a base_url setting holds)."""

    def __init__(self, datasette, database: str):
        self.urls, self.database = datasette.urls, database

    def path(self, path: str) -> str:
        return self.urls.path(path)

    def article(self, article_id: int, words: str = "") -> str:
        """The article's page; with the words searched for, which it then marks."""
        href = self.urls.row(self.database, "articles", str(article_id))
        return href + ("?" + urlencode({"q": words}) if words else "")

    def story(self, story_id: int) -> str:
        return self.urls.path(STORY_PATH.format(int(story_id)))

    def front(self, asked: Asked, topic: str | None = None) -> str:
        """The front page with these filters (`topic` replacing the asked topics)."""
        pairs = asked.params()
        if topic is not None:
            pairs = [(k, v) for k, v in pairs if k != "topic"] + [("topic", topic)]
        return self.urls.path("/") + ("?" + urlencode(pairs) if pairs else "")


def parse_after(value: str) -> tuple[str, int] | None:
    """`<first_seen>,<story id>` of the last story on the previous page."""
    seen, _, sid = value.rpartition(",")
    return (seen, int(sid)) if seen and sid.isdigit() else None


def read_front(conn, asked: Asked, after: tuple[str, int] | None,
               now: dt.datetime | None = None) -> dict[str, Any]:
    """The stories of one page (one more than shown, to know whether there is a next) with
    their details, and the topics for the filter menu."""
    stories = queries.story_page(conn, asked.selection(now), after, PAGE_SIZE + 1)
    shown = stories[:PAGE_SIZE]
    details = queries.story_details(conn, [s["id"] for s in shown], [s["article_id"] for s in shown],
                                    SEARCHED_CHARS if asked.words else PASSAGE_CHARS * 2)
    menus = {c: queries.distinct_values(conn, c) for c in ("topic", *queries.ARTICLE_COLUMNS)}
    edge = queries.older_matches(conn, asked.match, asked.before) if asked.words else None
    return {"stories": stories, "details": details, "menus": menus, "older_matches": edge}


def _time(value: str | None) -> str:
    """2026-11-30T17:44:05+00:00 -> 2026-11-30 17:44 (first_seen is UTC)."""
    return (value or "")[:16].replace("T", " ")


def _passage(article: dict[str, Any], words: str) -> str:
    """The start of the article (its description when it has one), or where the words are."""
    if words:
        return fts.snippet(article.get("text") or "", words, PASSAGE_CHARS)
    text = " ".join((article.get("description") or article.get("text") or "").split())
    return text if len(text) <= PASSAGE_CHARS else text[:PASSAGE_CHARS].rstrip() + "…"


def _versions(rows: list[dict[str, Any]]) -> dict[int, list[str]]:
    labels: dict[int, list[str]] = defaultdict(list)
    for r in rows:
        label = version_label(r["language"], r["script"])
        if label and label not in labels[r["story_id"]]:
            labels[r["story_id"]].append(label)
    return labels


def day_label(first_seen: str, today: dt.date) -> str:
    """Today, Yesterday, or the date (UTC, as first_seen) with its weekday."""
    day = dt.date.fromisoformat(first_seen[:10])
    if day == today:
        return "Today"
    if day == today - dt.timedelta(days=1):
        return "Yesterday"
    return f"{day:%A} {day.isoformat()}"


def by_day(rows: list[dict[str, Any]], now: dt.datetime | None = None) -> list[tuple[str, list]]:
    """The page's stories under a heading per UTC day they were first seen."""
    today = (now or dt.datetime.now(dt.UTC)).date()
    days: list[tuple[str, list]] = []
    for row in rows:
        label = day_label(row["story_seen"], today)
        if not days or days[-1][0] != label:
            days.append((label, []))
        days[-1][1].append(row)
    return days


def story_rows(read: dict[str, Any], asked: Asked, urls) -> list[dict[str, Any]]:
    """What each row of the front page shows; `urls` builds links (article, story, topic)."""
    details = read["details"]
    articles = {a["id"]: a for a in details["articles"]}
    versions = _versions(details["versions"])
    topics: dict[int, list[str]] = defaultdict(list)
    for r in details["topics"]:
        topics[r["story_id"]].append(r["topic"])
    rows = []
    for story in read["stories"][:PAGE_SIZE]:
        article = articles[story["article_id"]]
        rows.append({
            "title": article["title"] or story["title"] or article["url"],
            "href": urls.article(article["id"], asked.words),
            "source": article["source"],
            "seen": _time(article["first_seen"]),
            "seen_iso": article["first_seen"],
            "story_seen": story["first_seen"],
            "others": max(0, (story["n_sources"] or 1) - 1),
            "versions": versions.get(story["id"], []),
            "story_href": urls.story(story["id"]),
            "topics": [{"name": t, "href": urls.front(asked, topic=t)} for t in topics[story["id"]]],
            "passage_html": marked_html(_passage(article, asked.words)),
            "lang": article["language"] or "",
        })
    return rows


def next_after(read: dict[str, Any]) -> str | None:
    """The `after` value of the next page, when there is one."""
    if len(read["stories"]) <= PAGE_SIZE:
        return None
    last = read["stories"][PAGE_SIZE - 1]
    return f"{last['first_seen']},{last['id']}"


def page_context(read: dict[str, Any], asked: Asked, urls) -> dict[str, Any]:
    """Template values of `topicwatch_front.html`."""
    after = next_after(read)
    return {
        "days": by_day(story_rows(read, asked, urls)),
        "asked": asked,
        "topics": read["menus"]["topic"],
        "sources": read["menus"]["source"],
        "languages": [(code, version_label(code, None)) for code in read["menus"]["language"]],
        "scripts": [(code, version_label(None, code)) for code in read["menus"]["script"]],
        "windows": [(key, label) for key, (label, _) in WINDOWS.items()],
        "next_url": "?" + urlencode([*_paging(asked), ("after", after)]) if after else None,
        "window_size": queries.WINDOW,
        "older_url": "?" + urlencode([*asked.params(), ("before", read["older_matches"])])
                     if read["older_matches"] else None,
        "newest_url": "?" + urlencode(asked.params()) if asked.before != queries.NO_BEFORE else None,
        "feed_url": urls.path(asked.feed_path()),
        "filtered": bool(asked.params()),
    }


def _paging(asked: Asked) -> list[tuple[str, str]]:
    """The query string of the next page: the same filters, the same window of matches."""
    before = [("before", str(asked.before))] if asked.before != queries.NO_BEFORE else []
    return asked.params() + before


def story_context(story: dict[str, Any], urls) -> dict[str, Any]:
    """Template values of `topicwatch_story.html`: every version, oldest first."""
    sources = {v["source"] for v in story["versions"]}
    for v in story["versions"]:
        v["href"] = urls.article(v["article_id"], "")
        v["seen"] = _time(v["first_seen"])
        v["label"] = version_label(v["language"], v["script"])
        v["is_copy"] = v["kind"] != "article"
        v["link"] = web_link(v["url"])
    return {"story": story, "n_sources": len(sources),
            "topics": [{"name": t, "href": urls.front(Asked(), topic=t)} for t in story["topics"]]}
