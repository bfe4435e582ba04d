"""Feeds: RSS 0.9x/1.0/2.0 and Atom bytes -> `Entry` records (feedparser).

Dates are read by `crawler.text.dates.stated_iso`, never by feedparser's `*_parsed` values
(see that module for why); links are resolved against the feed's URL.
"""

from __future__ import annotations

from typing import Any

import feedparser

from crawler.errors import SourceError
from crawler.records import Entry, SkipReason
from crawler.text.charset import xml_charset
from crawler.text.dates import stated_iso
from crawler.text.normalise import han_ratio
from crawler.text.urls import http_url


def is_chinese_source(declared: str | None, hint: str | None, title: str | None) -> bool:
    """Whether a feed or sitemap comes from a Chinese-language source, which decides what its
    zone-less times mean: the language it declares, else the source's configured language
    hint, else a title written mostly in Han characters."""
    for language in (declared, hint):
        if language and language.strip():
            return language.strip().lower().startswith(("zh", "cn", "chi"))
    return bool(title) and han_ratio(title or "") >= 0.5


def _entry_link(entry: Any) -> str | None:
    """The entry's page: `link`, else an alternate link, else a URL-shaped guid."""
    if entry.get("link"):
        return entry["link"]
    for link in entry.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link["href"]
    guid = entry.get("id") or ""
    return guid if guid.startswith(("http://", "https://")) else None


def _entry_published(entry: Any, chinese: bool) -> str | None:
    """The entry's stated date, read from the raw text (dict.get: FeedParserDict maps
    `updated` to `published` with a DeprecationWarning)."""
    for key in ("published", "updated", "created"):
        if iso := stated_iso(dict.get(entry, key), chinese):
            return iso
    return None


def parse_feed(
    body: bytes, url: str, source: str, content_type: str | None = None,
    language: str | None = None,
) -> list[Entry]:
    """Entries of an RSS or Atom feed; `SourceError` when the bytes are no feed at all.
    `language` is the source's configured hint, used when the feed declares none."""
    headers = {"content-location": url}
    charset = xml_charset(body, content_type)
    if charset:
        headers["content-type"] = f"application/xml; charset={charset}"
    elif content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(body, response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception") or "no RSS or Atom feed found"
        raise SourceError(url, f"not a feed: {reason}", SkipReason.BAD_FEED)
    feed = parsed.get("feed", {})
    chinese = is_chinese_source(feed.get("language"), language, feed.get("title"))
    entries: list[Entry] = []
    for item in parsed.entries:
        link = http_url(_entry_link(item), url)
        if link is None:
            continue
        title = " ".join((item.get("title") or "").split()) or None
        entries.append(
            Entry(url=link, source=source, title=title, published=_entry_published(item, chinese),
                  found_on=url)
        )
    return entries
