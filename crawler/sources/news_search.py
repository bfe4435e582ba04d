"""News-search feeds: one feed URL per query, `{query}` filled from the source's `queries`
or from the first term of every term group of the topics (one term per query: Bing reads
`OR` as a word); and the publisher URLs behind their click links.

Bing News RSS (`/news/search?q=...&format=RSS`) links every item through a click counter:

    http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=...&url=<publisher URL>&c=...&mkt=zh-cn

The publisher's URL is the percent-encoded `url` parameter, so it is taken from there without
a request: fetching the wrapper would cost one more request per item, count a click, and go
through Bing's hosts, whose robots.txt and rate limits are not the publisher's. Any other link
is returned unchanged.

Google News RSS links are no such wrapper: since July 2024 their `CBMi...` path is an opaque
token that only Google's own JavaScript or an internal RPC turns into the publisher's URL, so
nothing here decodes them (see docs/default-sources.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote_plus, unquote, urlsplit


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


# ---------------------------------------------------------------- click links

BING_CLICK_PATH = "/news/apiclick.aspx"


def publisher_url(link: str) -> str:
    """The publisher's URL carried by a Bing News click link; any other link unchanged."""
    target = _bing_click_target(link)
    return target if target is not None else link


def _bing_click_target(link: str) -> str | None:
    """The http(s) URL in the `url` parameter of a Bing News click link, else None."""
    try:
        parts = urlsplit(link.strip())
        host = (parts.hostname or "").rstrip(".")
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    if not _is_bing(host) or parts.path.lower() != BING_CLICK_PATH:
        return None
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower().removeprefix("amp;") == "url":
            return _absolute_http(value)
    return None


def _is_bing(host: str) -> bool:
    host = host.lower()
    return host == "bing.com" or host.endswith(".bing.com")


def _absolute_http(value: str) -> str | None:
    """`value` when it is an absolute http(s) URL with a host, after undoing one more level
    of percent-encoding if the parameter was encoded twice; None otherwise."""
    value = value.strip()
    if not value.lower().startswith(("http://", "https://")):
        value = unquote(value).strip()
    try:
        parts = urlsplit(value)
        ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return None
    return value if ok else None
