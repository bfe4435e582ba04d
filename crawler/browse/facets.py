"""Facets of the articles list that never read the 4 KB article rows.

- A list filtered by at most one topic and by source, language and script is counted from
  `article_counts` (a few thousand rows, whatever the size of the corpus).
- Any other list: the ids it keeps are gathered first (from indexes), then a column's index is
  read in order checking each id, or the few ids are looked up (`queries.by_index_sql`);
  topics come from `article_topics`.
- A search that matches many articles gets no facets (each would go through every match
  again); the list says so.
"""

from __future__ import annotations

from datasette.database import QueryInterrupted
from datasette.facets import ColumnFacet, Facet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

from crawler.browse.listing import counted_filters, kept, searched_many
from crawler.store import queries


def _unfiltered(facet: Facet) -> bool:
    """Whether Datasette's SQL for the facet is the whole table (it ends `from <table>`)."""
    return facet.sql.rstrip().endswith(f"from {escape_sqlite(facet.table)}")


async def _few(facet: Facet) -> bool:
    """Whether the list's words and topics keep at most FEW articles (listed once a page)."""
    return await kept(facet.request.args, facet.ds.get_database(facet.database)) is not None


async def left_out(facet: Facet) -> bool:
    """No facets for a search that matches many articles."""
    return await searched_many(facet.request.args, facet.ds.get_database(facet.database))


def _facet(facet: Facet, name: str, key: str, rows, size: int) -> dict:
    """A facet as Datasette shows one; a value toggles `key=value` in the list's URL."""
    chosen = {v for k, v in facet.get_querystring_pairs() if k == key}
    values = []
    for row in rows[:size]:
        value = row["value"]
        selected = str(value) in chosen
        path = (path_with_removed_args(facet.request, {key: str(value)}) if selected
                else path_with_added_args(facet.request, {key: value}))
        values.append({"value": value, "label": value, "count": row["count"], "selected": selected,
                       "toggle_url": facet.ds.absolute_url(facet.request, facet.ds.urls.path(path))})
    return {"name": name, "type": "column", "hideable": False, "toggle_url": "",
            "results": values, "truncated": len(rows) > size}


async def _counted(facet: Facet, column: str, filters: dict[str, str]) -> dict:
    sql, params = queries.counted_facet_sql(column, filters)
    rows = (await facet.ds.execute(facet.database, sql, params)).rows
    key = "_topic" if column == "topic" else column
    return _facet(facet, column, key, rows, facet.get_facet_size())


class IndexedColumnFacet(ColumnFacet):
    """`facets: [{indexed: source}]`: a column facet that reads an index, never the rows."""

    type = "indexed"

    async def facet_results(self):
        if self.table != "articles" or not self.get_configs() or await left_out(self):
            return [], []
        filters = counted_filters(self.request.args)
        if filters is not None:
            return [await _counted(self, c["config"]["simple"], filters) for c in self.get_configs()], []
        if not _unfiltered(self):
            self.sql = queries.by_index_sql(self.sql, not await _few(self))
        results, timed_out = await super().facet_results()
        return [dict(r, type="column") for r in results], timed_out


class TopicFacet(Facet):
    """`facets: [{topic: article_topics}]`: articles per topic over the list; a value
    toggles `_topic=`."""

    type = "topic"

    async def facet_results(self):
        if self.table != "articles" or not self.get_configs() or await left_out(self):
            return [], []
        filters = counted_filters(self.request.args)
        if filters is not None:
            return [await _counted(self, "topic", filters)], []
        size = self.get_facet_size()
        sql = queries.topic_facet_sql(None if _unfiltered(self) else self.sql, not await _few(self), size + 1)
        try:
            rows = await self.ds.execute(self.database, sql, self.params, truncate=False,
                                         custom_time_limit=self.ds.setting("facet_time_limit_ms"))
        except QueryInterrupted:
            return [], ["topic"]
        return [_facet(self, "topic", "_topic", rows.rows, size)], []
