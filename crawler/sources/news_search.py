"""News-search feeds: one feed URL per query, `{query}` filled from the source's `queries`
or from the first term of every term group of the topics.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote_plus


def expand_search(template: str, queries: Sequence[str]) -> list[str]:
    """One search URL per query: `{query}` filled with the URL-encoded query."""
    if "{query}" not in template:
        raise ValueError(f"search template has no {{query}} placeholder: {template!r}")
    urls = (template.replace("{query}", quote_plus(q.strip())) for q in queries if q.strip())
    return list(dict.fromkeys(urls))


def search_queries(topics: Iterable[Any]) -> list[str]:
    """One query per alias group (its first term); keep_all topics match everything, so none."""
    queries = []
    for topic in topics:
        if getattr(topic, "keep_all", False):
            continue
        for group in topic.terms:
            if group and group[0].strip():
                queries.append(group[0].strip())
    return list(dict.fromkeys(queries))
