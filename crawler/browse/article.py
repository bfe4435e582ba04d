"""What an article's page shows: the article itself, its copies and its story's other articles.

Everything is read in one `db.execute_fn` call (`crawler.store.queries.read_article`: one read
connection, one snapshot) and turned into plain values and `Markup` for `templates/row.html`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from crawler.store import fts


def marked_html(text: str) -> Markup:
    """Escape `text` but keep the `<mark>` tags `fts.mark`/`fts.snippet` put in it
    (they drop any literal mark tag of the text itself, so only theirs remain)."""
    html = str(escape(text))
    return Markup(html.replace("&lt;mark&gt;", "<mark>").replace("&lt;/mark&gt;", "</mark>"))


def paragraphs_html(text: str | None, query: str = "") -> Markup:
    """The text as `<p>` paragraphs (one per line, as extraction writes them), with the
    words of `query` marked."""
    out = []
    for line in (text or "").splitlines():
        if line.strip():
            marked = fts.mark(line, fts.match_spans(line, query)) if query else line
            out.append(f"<p>{marked_html(marked.strip())}</p>")
    return Markup("\n".join(out))


def web_link(url: str | None) -> str | None:
    """Only http(s) URLs become links: a crawled page must not smuggle in `javascript:`."""
    return url if url and url.startswith(("http://", "https://")) else None


def _topics(article: dict[str, Any], topic_url: Callable[[str], str]) -> list[dict[str, Any]]:
    terms = json.loads(article.get("matched_terms") or "{}")
    scores = json.loads(article.get("scores") or "{}")
    return [
        {"name": t, "href": topic_url(t), "terms": terms.get(t, []), "score": scores.get(t)}
        for t in json.loads(article.get("topics") or "[]")
    ]


def page_context(article: dict[str, Any], query: str, urls: Any, database: str) -> dict[str, Any]:
    """Template values for one article; `urls` is `datasette.urls`."""
    table = urls.table(database, "articles")
    article["topic_list"] = _topics(article, lambda t: f"{table}?_topic={quote(t)}")
    article["link"] = web_link(article["url"])
    article["text_html"] = paragraphs_html(article.get("text"), query)
    article["title_html"] = marked_html(
        fts.mark(article["title"] or "", fts.match_spans(article["title"], query)))
    for other in article["siblings"]:
        other["href"] = urls.row(database, "articles", str(other["id"]))
    for copy in article["copies"] + article["story_copies"]:
        copy["link"] = web_link(copy["url"])
    if article["story"]:
        article["story"]["href"] = urls.row(database, "stories", str(article["story"]["id"]))
    return article
