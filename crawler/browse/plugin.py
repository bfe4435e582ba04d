"""The Datasette plugin (entry point `topicwatch`): a reader's front page, Chinese-aware search,
readable article and story pages, a fast `articles` list and Atom feeds of any search.

- `register_routes`: `/` is the front page of new stories (crawler/browse/front.py; Datasette's
  own index when no corpus is served), `/-/topicwatch/story/<id>` a story with all its
  versions, `/-/topicwatch/feed.atom?q=&topic=&source=&language=&script=` the Atom feed of a
  search (`/-/topicwatch/atom/<topic>.atom` and `/-/topicwatch/articles.atom` are two of them).
- `asgi_wrapper`: the readable default columns of the articles list (crawler/browse/listing.py)
  and a small per-request state, since `render_cell` gets no request in Datasette 0.65.
- `filters_from_request` answers `?_search=` (the index holds an indexed form, not the text)
  and `?_topic=`; `register_facet_classes` adds the topic facet over `article_topics`.
- `prepare_connection` registers `topicwatch_fts(q)`, `topicwatch_snippet(text, q)` and
  `topicwatch_ranked()` (how many of the newest matches it ranks) for the ranked `search` query; `render_cell` shows passages, links titles and topic badges.
- `extra_template_vars` + templates/ make the article page readable and add the feed, ranked
  and all-fields links to the lists.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from datasette import hookimpl
from datasette.utils.asgi import NotFound, Request, Response
from datasette.views.index import IndexView
from jinja2 import ChoiceLoader, FileSystemLoader
from markupsafe import Markup, escape

from crawler.browse import article as article_page
from crawler.browse import atom, facets, front, listing
from crawler.browse.selection import Asked
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
            if scope["type"] == "http":
                scope = await _readable_articles(datasette, scope)
            token = _request.set({"args": Request(scope, receive).args} if scope["type"] == "http" else {})
            try:
                await app(scope, receive, send)
            finally:
                _request.reset(token)

        return with_state

    return wrap


async def _readable_articles(datasette, scope: dict) -> dict:
    """The articles list of a corpus, asked for without columns, gets the readable ones."""
    found = listing.ARTICLES_PATH.match(scope.get("path", ""))
    if not found or found["database"] not in datasette.databases:
        return scope
    if not await _has_corpus(datasette, found["database"]):
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


async def _has_corpus(datasette, database: str) -> bool:
    db = datasette.get_database(database)
    return await db.table_exists("articles") and await db.table_exists("article_topics")


@hookimpl(trylast=True)  # after Datasette's search filter, so our extra_context wins
def filters_from_request(request, database, table, datasette):
    if table != "articles":
        return None

    async def articles_filters():
        if not await _has_corpus(datasette, database):
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
    article, carrying the search so its page marks the words; `feed` is a feed path."""
    if column == "article" and "article_id" in row.keys() and row["article_id"] is not None:
        query = _state().get("args", {}).get("q", "")
        title = article_page.marked_html(fts.mark(value, fts.match_spans(value, query)))
        return _article_link(row["article_id"], title, query, database, datasette)
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
        if not await _has_corpus(datasette, database):
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
        "topicwatch_facets_left_out": await _facets_left_out(datasette, database, request),
        "topicwatch_front_url": front.Links(datasette, database).front(
            Asked.from_args(request.args, words_key="_search", topic_key="_topic")),
        "topicwatch_facet_limit": queries.FEW,
        "topicwatch_ranked_url": f"{datasette.urls.query(database, 'search')}?q={quote(query)}" if query else None,
        "topicwatch_feed_url": datasette.urls.path(feed) if feed else None,
        "topicwatch_columns_url": listing.columns_path(request, show_all=not show_all),
        "topicwatch_all_columns": show_all,
    }


async def _facets_left_out(datasette, database: str, request) -> bool:
    """Whether this is a search too large to count facets for (facets.left_out)."""
    if not (request.args.get("_search") or "").strip():
        return False
    members, params = listing.members_of(Asked.from_args(request.args, "_search", "_topic"))
    n = await datasette.get_database(database).execute_fn(
        lambda conn: queries.members_count(conn, members, params))
    return n > queries.FEW


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


# ---------------------------------------------------------------- routes

@hookimpl
def register_routes(datasette):
    return [
        (r"^/$", front_page),
        (r"^/-/topicwatch/story/(?P<story_id>\d+)$", story_page),
        (r"^/-/topicwatch/feed\.atom$", atom_feed),
        (r"^/-/topicwatch/atom/(?P<topic>[^/]+)\.atom$", atom_feed),
        (r"^/-/topicwatch/articles\.atom$", atom_feed),
    ]


async def _corpus_database(datasette) -> str | None:
    for name in datasette.databases:
        if name != "_internal" and await _has_corpus(datasette, name):
            return name
    return None


async def front_page(datasette, request, send):
    """New stories; Datasette's own index page when no corpus is served."""
    database = await _corpus_database(datasette)
    if database is None:
        index = Request(dict(request.scope, url_route={"kwargs": {"format": None}}), request.receive)
        return await IndexView.as_view(datasette)(index, send)
    asked = Asked.from_args(request.args)
    after = front.parse_after(request.args.get("after", ""))
    read = await datasette.get_database(database).execute_fn(
        lambda conn: front.read_front(conn, asked, after))
    links = front.Links(datasette, database)
    context = front.page_context(read, asked, links)
    context.update(front_url=links.path("/"), articles_url=datasette.urls.table(database, "articles"),
                   ranked_url=_ranked_url(datasette, database, asked.words),
                   site_title=datasette.metadata("title") or "topicwatch")
    html = await datasette.render_template("topicwatch_front.html", context, request=request)
    return Response.html(html)


def _ranked_url(datasette, database: str, words: str) -> str | None:
    return f"{datasette.urls.query(database, 'search')}?{urlencode({'q': words})}" if words else None


async def story_page(datasette, request):
    database = await _corpus_database(datasette)
    if database is None:
        raise NotFound("No topicwatch corpus is being served")
    story_id = int(request.url_vars["story_id"])
    story = await datasette.get_database(database).execute_fn(
        lambda conn: queries.read_story(conn, story_id))
    if story is None:
        raise NotFound(f"No story {story_id}")
    links = front.Links(datasette, database)
    context = {**front.story_context(story, links), "front_url": links.path("/")}
    html = await datasette.render_template("topicwatch_story.html", context, request=request)
    return Response.html(html)


async def atom_feed(datasette, request):
    """The newest articles of a search (words, topics, source, language, script) as Atom 1.0;
    `/atom/<topic>.atom` is the search for one topic, `/articles.atom` for everything."""
    database = await _corpus_database(datasette)
    if database is None:
        raise NotFound("No topicwatch corpus is being served")
    topic = request.url_vars.get("topic")
    asked = Asked(topics=(topic,)) if topic else Asked.from_args(request.args)
    rows = await datasette.get_database(database).execute_fn(
        lambda conn: queries.feed_rows(conn, asked.selection(), FEED_LIMIT))
    xml = atom.feed_xml(
        rows,
        feed_id=_feed_id(asked, topic),
        title=_feed_title(asked, topic),
        self_url=request.url,
        alternate_url=datasette.absolute_url(request, _list_url(datasette, database, asked)),
        row_url=lambda r: datasette.absolute_url(
            request, datasette.urls.row(database, "articles", str(r["id"]))),
    )
    return Response(xml, content_type="application/atom+xml; charset=utf-8")


def _feed_id(asked: Asked, topic: str | None) -> str:
    if topic is not None or not asked.params():
        return f"tag:topicwatch,2024:feed/{topic or 'all'}"
    return "tag:topicwatch,2024:search?" + urlencode(sorted(asked.params()))


def _feed_title(asked: Asked, topic: str | None) -> str:
    if topic is not None:
        return f"topicwatch: new articles on {topic}"
    return "topicwatch: " + (asked.describe() or "new articles")


def _list_url(datasette, database: str, asked: Asked) -> str:
    """The articles list showing what the feed follows."""
    pairs = [("_search", asked.words)] if asked.words else []
    pairs += [("_topic", t) for t in asked.topics]
    pairs += [(k, v) for k, v in asked.params() if k in queries.ARTICLE_COLUMNS]
    table = datasette.urls.table(database, "articles")
    return table + ("?" + urlencode(pairs) if pairs else "")
