"""The Datasette plugin (entry point `topicwatch`): Chinese-aware search, readable article pages
and Atom feeds of new articles.

- `prepare_connection` registers `topicwatch_fts(q)` (what a person typed -> FTS5 MATCH over
  the indexed form) and `topicwatch_snippet(text, q)` (the matching passage of the original
  text, matches in `<mark>`) for the canned query `search`.
- `filters_from_request` answers `?_search=` on the articles table itself: the default search
  filter cannot, since the index holds the indexed form, not the text.
- `render_cell` turns `<mark>` passages into HTML and links article titles; in the articles
  list it shows a short excerpt (or the matching passage while searching) instead of the text.
- `extra_template_vars` + `templates/row.html` make an article's page readable.
- `register_routes` serves `/-/topicwatch/atom/<topic>.atom` and `/-/topicwatch/articles.atom`.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any
from urllib.parse import quote

from datasette import hookimpl
from datasette.filters import FilterArguments
from datasette.utils.asgi import NotFound, Request, Response
from jinja2 import ChoiceLoader, FileSystemLoader
from markupsafe import Markup, escape

from crawler.browse import article as article_page
from crawler.browse import atom
from crawler.store import fts, queries

TEMPLATES = Path(__file__).with_name("templates")
EXCERPT_CHARS = 200
FEED_LIMIT = 50

# render_cell gets no request in Datasette 0.65, so each request carries a small state dict:
# `asgi_wrapper` creates it, `filters_from_request` notes the articles-list search in it.
_request: ContextVar[dict[str, Any] | None] = ContextVar("topicwatch_request", default=None)


def _state() -> dict[str, Any]:
    state = _request.get()
    return state if state is not None else {}


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def with_state(scope, receive, send):
            token = _request.set({"args": Request(scope, receive).args} if scope["type"] == "http" else {})
            try:
                await app(scope, receive, send)
            finally:
                _request.reset(token)

        return with_state

    return wrap


@hookimpl
def prepare_connection(conn):
    conn.create_function("topicwatch_fts", 1, _match_expression, deterministic=True)
    conn.create_function("topicwatch_snippet", 2, _snippet, deterministic=True)


def _match_expression(query: str | None) -> str:
    """An FTS5 expression for `query`; `""` (matches nothing) when nothing is searchable."""
    return fts.fts_query(query or "") or '""'


def _snippet(text: str | None, query: str | None) -> str:
    return fts.snippet(text, query or "")


@hookimpl
def prepare_jinja2_environment(env):
    """Put templates/ before Datasette's own (0.65 finds plugin templates only for packages,
    and this plugin is a module)."""
    loader = env.loader
    first = loader.loaders[0] if isinstance(loader, ChoiceLoader) else None
    if isinstance(first, FileSystemLoader):
        if str(TEMPLATES) not in first.searchpath:
            first.searchpath.insert(len(first.searchpath) - 1, str(TEMPLATES))
    else:
        env.loader = ChoiceLoader([FileSystemLoader(str(TEMPLATES)), loader])


async def _has_corpus(datasette, database: str) -> bool:
    db = datasette.get_database(database)
    return await db.table_exists("articles") and await db.table_exists("articles_fts")


@hookimpl(trylast=True)  # after Datasette's search filter, so our extra_context wins
def filters_from_request(request, database, table, datasette):
    if table != "articles":
        return None

    async def articles_search():
        if not await _has_corpus(datasette, database):
            return None
        query = request.args.get("_search", "").strip()
        _state()["search"] = query
        shown = {"supports_search": True, "search": query}  # what was typed, not the MATCH
        if not query:
            return FilterArguments([], extra_context=shown)
        return FilterArguments(
            [queries.SEARCH_FILTER],
            {"topicwatch_match": _match_expression(query)},
            [f'search matches "{query}"'],
            shown,
        )

    return articles_search


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if not isinstance(value, str):
        return None
    if column == "passage":
        return article_page.marked_html(value)
    if table == "articles" and column in ("text", "title") and "search" in _state():
        return _list_cell(value, column)
    if table is None:
        return _query_cell(row, value, column, database, datasette)
    return None


def _list_cell(value: str, column: str) -> Markup:
    """A cell of the articles list: the passage that matched, or the start of the text."""
    query = _state()["search"]
    if column == "title":
        return article_page.marked_html(fts.mark(value, fts.match_spans(value, query)))
    if query:
        return article_page.marked_html(fts.snippet(value, query, EXCERPT_CHARS))
    short = " ".join(value.split())
    return Markup(escape(short if len(short) <= EXCERPT_CHARS else short[:EXCERPT_CHARS] + "…"))


def _query_cell(row, value: str, column: str, database: str, datasette) -> Markup | None:
    """Links in canned-query results: `article` (a title next to `article_id`) opens the
    article, carrying the search so its page marks the words; `feed` is a feed path."""
    if column == "article" and "article_id" in row.keys() and row["article_id"] is not None:
        href = datasette.urls.row(database, "articles", str(row["article_id"]))
        query = _state().get("args", {}).get("q", "")
        if query:
            href += "?q=" + quote(query)
        title = fts.mark(value, fts.match_spans(value, query))
        return Markup(f'<a href="{escape(href)}">{article_page.marked_html(title)}</a>')
    if column == "feed" and value.startswith("/-/topicwatch/atom/"):
        return Markup(f'<a href="{escape(datasette.urls.path(value))}">Atom feed</a>')
    return None


@hookimpl
def extra_template_vars(view_name, database, table, request, datasette):
    if table != "articles" or request is None:
        return None

    async def article_vars():
        if not await _has_corpus(datasette, database):
            return {}
        if view_name == "row":
            return {"topicwatch_article": await _article(datasette, database, request)}
        query = request.args.get("_search", "").strip()
        if view_name == "table" and query:
            ranked = datasette.urls.query(database, "search")
            return {"topicwatch_ranked_url": f"{ranked}?q={quote(query)}"}
        return {}

    return article_vars


async def _article(datasette, database: str, request) -> dict[str, Any] | None:
    try:
        article_id = int(request.url_vars["pks"])
    except (KeyError, ValueError):
        return None
    db = datasette.get_database(database)
    found = await db.execute_fn(lambda conn: queries.read_article(conn, article_id))
    if found is None:
        return None
    return article_page.page_context(found, request.args.get("q", ""), datasette.urls, database)


# ---------------------------------------------------------------- Atom feeds

@hookimpl
def register_routes(datasette):
    return [
        (r"^/-/topicwatch/atom/(?P<topic>[^/]+)\.atom$", atom_feed),
        (r"^/-/topicwatch/articles\.atom$", atom_feed),
    ]


async def _corpus_database(datasette) -> str:
    for name in datasette.databases:
        if name != "_internal" and await _has_corpus(datasette, name):
            return name
    raise NotFound("No topicwatch corpus is being served")


async def _known_topic(datasette, database: str, topic: str) -> bool:
    """A configured topic (named by `topicwatch browse` in the plugin's config), or one that
    stored articles carry."""
    configured = (datasette.plugin_config("topicwatch") or {}).get("topics") or []
    if topic in configured:
        return True
    return await datasette.get_database(database).execute_fn(
        lambda conn: queries.topic_in_use(conn, topic))


async def atom_feed(datasette, request):
    """The newest articles, of one topic or of all, as Atom 1.0."""
    database = await _corpus_database(datasette)
    topic = request.url_vars.get("topic", "")
    if topic and not await _known_topic(datasette, database, topic):
        raise NotFound(f"No topic named {topic}")
    rows = await datasette.get_database(database).execute_fn(
        lambda conn: queries.feed_rows(conn, topic, FEED_LIMIT))
    table = datasette.urls.table(database, "articles")
    listing = f"{table}?topics__arraycontains={quote(topic)}" if topic else table
    xml = atom.feed_xml(
        rows,
        feed_id=f"tag:topicwatch,2024:feed/{topic or 'all'}",
        title=f"topicwatch: new articles on {topic}" if topic else "topicwatch: new articles",
        self_url=request.url,
        alternate_url=datasette.absolute_url(request, listing),
        row_url=lambda r: datasette.absolute_url(
            request, datasette.urls.row(database, "articles", str(r["id"]))),
    )
    return Response(xml, content_type="application/atom+xml; charset=utf-8")
