"""The `articles` table as Datasette lists it, readable and fast at 100,000 rows.

- Readable default columns: a request for the HTML list that names no columns gets
  `_col=title&_col=source&...` added (Datasette 0.65 has no metadata key for default columns,
  and selecting fewer columns is also what keeps the page fast: the text and the JSON columns
  are most of each row); `_all=1` shows every column.
- Counts that read no article: a list filtered only by words, topics, source, language and
  script is counted by topicwatch (`article_counts`, or the ids the words and topics keep)
  instead of Datasette's `count(*)` over the articles, which goes through every matching row;
  the HTML list then carries `_nocount=1`, added and removed here.
- `_topic=X` filters through `article_topics`; `_search=` matches the indexed form
  (crawler/store/fts.py), not the text.  Both become one set of ids (`queries.members_sql`).
Filters that keep many articles are written so that SQLite only checks them while it walks the
newest-first index (crawler/store/queries.py explains).  The facets are in facets.py.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl, urlencode

from datasette.filters import FilterArguments
from datasette.utils import MultiParams

from crawler.browse.selection import Asked
from crawler.store import queries

# Hooks get no request in some places (render_cell) and each facet is its own object, so a
# request carries a small state dict (plugin.asgi_wrapper sets it): the search shown, and
# what was read once for the page (`_kept`).
REQUEST_STATE: ContextVar[dict[str, Any] | None] = ContextVar("topicwatch_request", default=None)

DEFAULT_COLUMNS = ("title", "source", "published", "topics", "script")
SEARCH_COLUMNS = ("title", "text", "source", "published", "topics", "script")  # with the passage
ARTICLES_PATH = re.compile(r"^/(?P<database>[^/.]+)/articles$")  # the HTML list, not .json/.csv
# Query-string keys that shape the list without filtering it.
SHAPE_KEYS = {"_col", "_nocol", "_all", "_size", "_sort", "_sort_desc", "_next", "_labels",
              "_nocount", "_nofacet", "_nosuggest", "_shape", "_json", "_trace", "_timelimit",
              "_before"}  # _before picks the window of a search's matches


def readable(query_string: bytes) -> bytes:
    """The HTML list's query string with the readable columns (unless it names its columns
    or asks for all) and `_nocount=1` exactly when topicwatch counts the list itself."""
    pairs = parse_qsl(query_string.decode("ascii", "replace"), keep_blank_values=True)
    pairs = _with_columns(pairs)
    pairs = [(k, v) for k, v in pairs if k != "_nocount"]
    if counting(MultiParams(pairs)):
        pairs.append(("_nocount", "1"))
    return urlencode(pairs).encode()


def _with_columns(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    keys = {k for k, _ in pairs}
    searching = any(k == "_search" and v.strip() for k, v in pairs)
    if keys & {"_all", "_nocol"}:
        return pairs
    if "_col" not in keys:
        return pairs + [("_col", c) for c in (SEARCH_COLUMNS if searching else DEFAULT_COLUMNS)]
    if searching and {v for k, v in pairs if k == "_col"} == set(DEFAULT_COLUMNS):
        return pairs + [("_col", "text")]  # the default set, now searching: the passages too
    return pairs


def _filter_keys(args) -> list[str]:
    return [k for k in args if k not in SHAPE_KEYS and not k.startswith("_facet")
            and not (k == "_search" and not "".join(args.getlist(k)).strip())]


def counted_filters(args) -> dict[str, str] | None:
    """The list's filters when `article_counts` can count it: at most one topic and one
    exact source, language and script, and nothing else (no words); None otherwise."""
    filters = {}
    for key in _filter_keys(args):
        values = args.getlist(key)
        name = "topic" if key == "_topic" else key
        if len(values) != 1 or name not in ("topic", *queries.ARTICLE_COLUMNS):
            return None
        filters[name] = values[0]
    return filters


def counting(args) -> str | None:
    """How topicwatch counts this list: "table" (article_counts), "members" (words and
    topics only: the ids they keep), or None (Datasette counts it)."""
    if counted_filters(args) is not None:
        return "table"
    keys = set(_filter_keys(args))
    return "members" if keys and keys <= {"_search", "_topic"} else None


async def list_count(args, db) -> int | None:
    """The number of articles in the list, when `counting` says topicwatch counts it."""
    how = counting(args)
    if how == "table":
        filters = counted_filters(args)
        return await db.execute_fn(lambda conn: queries.counted_total(conn, filters))
    if how == "members":
        ids = await kept(args, db)
        if ids is not None:
            return len(ids)
        members, params = members_of(Asked.of_list(args))
        return await db.execute_fn(lambda conn: queries.members_total(conn, members, params))
    return None


def columns_path(request, show_all: bool) -> str:
    """This list with every column (`_all=1`) or with the readable default ones."""
    pairs = [(k, v) for k in request.args for v in request.args.getlist(k)
             if k not in ("_col", "_nocol", "_all", "_next", "_nocount")]
    pairs += [("_all", "1")] if show_all else []
    return request.path + ("?" + urlencode(pairs) if pairs else "")


# ---------------------------------------------------------------- filters

def members_of(asked: Asked) -> tuple[str, dict[str, str]]:
    """The set of ids the words and topics keep (`queries.members_sql`) and its parameters."""
    topics = {f"topicwatch_topic{i}": t for i, t in enumerate(asked.topics)}
    words = {"topicwatch_match": asked.match, "topicwatch_match_before": asked.before} if asked.words else {}
    return queries.members_sql("topicwatch_match" if words else None, list(topics)), {**topics, **words}


def state() -> dict[str, Any]:
    found = REQUEST_STATE.get()
    return found if found is not None else {}


async def kept(args, db) -> list[int] | None:
    """The ids the list's words and topics keep when they are at most FEW (None: more, or
    no words or topics), read once per request."""
    asked = Asked.of_list(args)
    if not asked.words and not asked.topics:
        return None
    members, params = members_of(asked)
    memo = state().setdefault("kept", {})
    key = (members, tuple(sorted(params.items())))
    if key not in memo:
        memo[key] = await db.execute_fn(lambda conn: queries.members_ids(conn, members, params))
    return memo[key]


async def article_filters(request, db) -> FilterArguments:
    """`_search=` (words in either script) and `_topic=` (repeatable: every topic), as one
    set of ids: a small one is listed (and looked up), a large one checked row by row."""
    asked = Asked.of_list(request.args)
    shown = {"supports_search": True, "search": asked.words}  # what was typed, not the MATCH
    if not asked.words and not asked.topics:
        return FilterArguments([], extra_context=shown)
    human = ([f'search matches "{asked.words}"'] if asked.words else []) + [
        f'topic is "{t}"' for t in asked.topics]
    if asked.before != queries.NO_BEFORE:
        human.append(f"stored before article {asked.before}")
    ids = await kept(request.args, db)
    if ids is not None:
        ids_sql = queries.IDS.format(p="topicwatch_ids")
        return FilterArguments([queries.membership("id", ids_sql, False)],
                               {"topicwatch_ids": queries.ids_param(ids)}, human, shown)
    members, params = members_of(asked)
    return FilterArguments([queries.membership("id", members, True)], params, human, shown)


def feed_path(request) -> str | None:
    """The Atom feed following this list, when its filters are all ones a feed can follow
    (words, topics, exact source / language / script); None for an unfiltered list."""
    asked = Asked.of_list(request.args)
    other = [k for k in request.args if not k.startswith("_") and k not in queries.ARTICLE_COLUMNS]
    if other or not (asked.words or asked.topics or any(asked.params())):
        return None
    return asked.feed_path()


async def window_links(request, db) -> dict[str, str]:
    """A search looks at its newest WINDOW matches: when there are older ones, the link to
    them (`older`), and on an older window the link back to the newest (`newest`)."""
    asked = Asked.of_list(request.args)
    if not asked.words:
        return {}
    edge = await db.execute_fn(lambda conn: queries.older_matches(conn, asked.match, asked.before))
    pairs = [(k, v) for k in request.args for v in request.args.getlist(k)
             if k not in ("_before", "_next", "_nocount")]
    links = {}
    if edge is not None:
        links["older"] = request.path + "?" + urlencode([*pairs, ("_before", str(edge))])
    if asked.before != queries.NO_BEFORE:
        links["newest"] = request.path + "?" + urlencode(pairs)
    return links


async def searched_many(args, db) -> bool:
    """Whether the list searches words that keep more than FEW articles (no facets then)."""
    return bool(Asked.of_list(args).words) and await kept(args, db) is None
