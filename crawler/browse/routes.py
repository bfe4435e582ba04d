"""The plugin's own pages: `/` (new stories; Datasette's index when no corpus is served),
`/-/topicwatch/story/<id>` (a story's versions) and the Atom feeds
(`/-/topicwatch/feed.atom?q=&topic=&source=&language=&script=`; `/atom/<topic>.atom` and
`/articles.atom` are two searches).  What they show is built in front.py and atom.py."""

from __future__ import annotations

from urllib.parse import urlencode

from datasette.utils.asgi import NotFound, Request, Response
from datasette.views.index import IndexView

from crawler.browse import atom, front
from crawler.browse.selection import Asked
from crawler.store import queries

FEED_LIMIT = 50



def routes() -> list[tuple[str, object]]:
    return [
        (r"^/$", front_page),
        (r"^/-/topicwatch/story/(?P<story_id>\d+)$", story_page),
        (r"^/-/topicwatch/feed\.atom$", atom_feed),
        (r"^/-/topicwatch/atom/(?P<topic>[^/]+)\.atom$", atom_feed),
        (r"^/-/topicwatch/articles\.atom$", atom_feed),
    ]


async def has_corpus(datasette, database: str) -> bool:
    """Whether `database` is a topicwatch corpus (the plugin leaves other databases alone)."""
    db = datasette.get_database(database)
    return await db.table_exists("articles") and await db.table_exists("article_topics")


async def _corpus_database(datasette) -> str | None:
    for name in datasette.databases:
        if name != "_internal" and await has_corpus(datasette, name):
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
    if topic and not await _known_topic(datasette, database, topic):
        raise NotFound(f"No topic named {topic}")
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


async def _known_topic(datasette, database: str, topic: str) -> bool:
    """A configured topic (named by `topicwatch browse` in the plugin's config), or one that
    stored articles carry."""
    configured = (datasette.plugin_config("topicwatch") or {}).get("topics") or []
    if topic in configured:
        return True
    return await datasette.get_database(database).execute_fn(
        lambda conn: queries.topic_in_use(conn, topic))


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
