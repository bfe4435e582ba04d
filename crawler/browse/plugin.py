"""The Datasette plugin (entry point `topicwatch`): a reader's front page, Chinese-aware search,
readable article and story pages, a fast `articles` list and Atom feeds of any search.

- `register_routes`: the plugin's own pages (crawler/browse/routes.py): `/`, the new stories;
  `/-/topicwatch/story/<id>`; `/-/topicwatch/feed.atom?q=&topic=&source=&language=&script=`.
- `asgi_wrapper`: the articles list's readable columns and `_nocount` (crawler/browse/listing.py)
  and a small per-request state, since `render_cell` gets no request in Datasette 0.65.
- `filters_from_request` answers `?_search=` (the index holds an indexed form, not the text)
  and `?_topic=`; `register_facet_classes` adds facets that never read the rows (facets.py).
- `prepare_connection` registers `topicwatch_fts(q)`, `topicwatch_snippet(text, q)` and
  `topicwatch_ranked()` (how many of the newest matches it ranks) for the ranked `search`
  query; `render_cell` shows passages, links titles and topic badges.
- `extra_template_vars` + templates/ make the article page readable and add the counts, the
  feed, ranked, window and all-fields links to the lists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from datasette import hookimpl
from datasette.utils.asgi import Request
from jinja2 import ChoiceLoader, FileSystemLoader
from markupsafe import Markup, escape

from crawler.browse import article as article_page
from crawler.browse import facets, front, listing, routes
from crawler.browse.selection import Asked
from crawler.store import fts, queries

TEMPLATES = Path(__file__).with_name("templates")
EXCERPT_CHARS = 200

_state = listing.state  # the request's state dict (listing.REQUEST_STATE)


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def with_state(scope, receive, send):
            if scope["type"] == "http":
                scope = await _readable_articles(datasette, scope)
            args = Request(scope, receive).args if scope["type"] == "http" else None
            token = listing.REQUEST_STATE.set({"args": args} if args is not None else {})
            try:
                await app(scope, receive, send)
            finally:
                listing.REQUEST_STATE.reset(token)

        return with_state

    return wrap


async def _readable_articles(datasette, scope: dict) -> dict:
    """The articles list of a corpus, asked for without columns, gets the readable ones."""
    found = listing.ARTICLES_PATH.match(scope.get("path", ""))
    if not found or found["database"] not in datasette.databases:
        return scope
    if not await routes.has_corpus(datasette, found["database"]):
        return scope
    return dict(scope, query_string=listing.readable(scope.get("query_string", b"")))


@hookimpl
def prepare_connection(conn):
    conn.create_function("topicwatch_fts", 1, _match_expression, deterministic=True)
    conn.create_function("topicwatch_snippet", 2, _snippet, deterministic=True)
    conn.create_function("topicwatch_ranked", 0, lambda: queries.WINDOW)


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


@hookimpl(trylast=True)  # after Datasette's search filter, so our extra_context wins
def filters_from_request(request, database, table, datasette):
    if table != "articles":
        return None

    async def articles_filters():
        if not await routes.has_corpus(datasette, database):
            return None
        filters = await listing.article_filters(request, datasette.get_database(database))
        _state()["search"] = filters.extra_context["search"]
        return filters

    return articles_filters


@hookimpl
def register_facet_classes():
    return [facets.TopicFacet, facets.IndexedColumnFacet]


# ---------------------------------------------------------------- cells

@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if not isinstance(value, str):
        return None
    if column == "passage":
        return article_page.marked_html(value)
    if table == "articles" and "search" in _state():
        return _list_cell(row, value, column, database, datasette)
    if table is None:
        return _query_cell(row, value, column, database, datasette)
    return None


def _list_cell(row, value: str, column: str, database: str, datasette) -> Markup | None:
    """A cell of the articles list: the title links to the article (marked while searching),
    topics are badges that filter the list, the text is the passage that matched or its start."""
    query = _state()["search"]
    if column == "title" and "id" in row.keys():
        title = article_page.marked_html(fts.mark(value, fts.match_spans(value, query)))
        return _article_link(row["id"], title, query, database, datasette)
    if column == "topics":
        return _badges(value, datasette.urls.table(database, "articles"))
    if column in ("published", "first_seen") and len(value) > 16 and value[10:11] == "T":
        return Markup(f'<time datetime="{escape(value)}" title="{escape(value)}">'
                      f'{escape(value[:16].replace("T", " "))}</time>')
    if column != "text":
        return None
    if query:
        return article_page.marked_html(fts.snippet(value, query, EXCERPT_CHARS))
    short = " ".join(value.split())
    return Markup(escape(short if len(short) <= EXCERPT_CHARS else short[:EXCERPT_CHARS] + "…"))


def _badges(value: str, table_url: str) -> Markup | None:
    try:
        topics = json.loads(value)
    except ValueError:
        return None
    if not isinstance(topics, list):
        return None
    return Markup(" ".join(
        f'<a class="tw-badge" href="{escape(table_url)}?_topic={quote(str(t))}">{escape(t)}</a>'
        for t in topics))


def _article_link(article_id, title: Markup, query: str, database: str, datasette) -> Markup:
    href = datasette.urls.row(database, "articles", str(article_id))
    if query:
        href += "?q=" + quote(query)
    return Markup(f'<a href="{escape(href)}">{title}</a>')


def _query_cell(row, value: str, column: str, database: str, datasette) -> Markup | None:
    """Links in canned-query results: `article` (a title next to `article_id`) opens the
    article, carrying the search so its page marks the words; `topics` are badges; `feed` is
    a feed path."""
    if column == "article" and "article_id" in row.keys() and row["article_id"] is not None:
        query = _state().get("args", {}).get("q", "")
        title = article_page.marked_html(fts.mark(value, fts.match_spans(value, query)))
        return _article_link(row["article_id"], title, query, database, datasette)
    if column == "topics" and value.startswith("["):
        return _badges(value, datasette.urls.table(database, "articles"))
    if column == "feed" and value.startswith("/-/topicwatch/atom/"):
        return Markup(f'<a href="{escape(datasette.urls.path(value))}">Atom feed</a>')
    return None


# ---------------------------------------------------------------- template variables

@hookimpl
def extra_template_vars(view_name, database, table, request, datasette):
    if request is None or database is None:
        return None
    table = table or request.url_vars.get("table")  # a canned query's page has no `table`
    if table not in ("articles", "search"):
        return None

    async def corpus_vars():
        if not await routes.has_corpus(datasette, database):
            return {}
        if view_name == "row" and table == "articles":
            return {"topicwatch_article": await _article(datasette, database, request)}
        if view_name == "table" and table == "articles":
            return await _list_vars(datasette, database, request)
        if table == "search" and (request.args.get("q") or "").strip():
            return await _ranked_vars(datasette, database, request.args["q"].strip())
        return {}

    return corpus_vars


async def _list_vars(datasette, database: str, request) -> dict[str, Any]:
    query = (request.args.get("_search") or "").strip()
    feed = listing.feed_path(request)
    show_all = "_all" in request.args
    counted = {}
    if "_nocount" in request.args:  # topicwatch counts this list (listing.readable)
        n = await listing.list_count(request.args, datasette.get_database(database))
        counted = {"filtered_table_rows_count": n} if n is not None else {}
    return {
        **counted,
        "topicwatch_window": await listing.window_links(request, datasette.get_database(database)),
        "topicwatch_window_size": queries.WINDOW,
        "topicwatch_facets_left_out": await listing.searched_many(request.args, datasette.get_database(database)),
        "topicwatch_front_url": front.Links(datasette, database).front(
            Asked.of_list(request.args)),
        "topicwatch_facet_limit": queries.FEW,
        "topicwatch_ranked_url": f"{datasette.urls.query(database, 'search')}?q={quote(query)}" if query else None,
        "topicwatch_feed_url": datasette.urls.path(feed) if feed else None,
        "topicwatch_columns_url": listing.columns_path(request, show_all=not show_all),
        "topicwatch_all_columns": show_all,
    }


async def _ranked_vars(datasette, database: str, query: str) -> dict[str, Any]:
    """The ranked search ranks the newest WINDOW matches: say so, and link to all of them."""
    match = fts.fts_query(query)
    edge = await datasette.get_database(database).execute_fn(
        lambda conn: queries.older_matches(conn, match)) if match else None
    table = datasette.urls.table(database, "articles")
    return {
        "topicwatch_feed_url": datasette.urls.path(Asked(words=query).feed_path()),
        "topicwatch_capped": edge is not None,
        "topicwatch_ranked_limit": queries.WINDOW,
        "topicwatch_all_matches_url": f"{table}?{urlencode({'_search': query})}",
    }


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



@hookimpl
def register_routes(datasette):
    return routes.routes()
