"""Feeds: RSS 0.9x/1.0/2.0 and Atom bytes -> `Entry` records (feedparser).

Dates are read by `crawler.text.dates.stated_iso`, never by feedparser's `*_parsed` values
(see that module for why); links are resolved against the feed's URL.

Entities are never expanded.  feedparser expands the internal entities a feed's DTD declares
(quadratic blow-up: one long entity referenced thousands of times takes gigabytes) and has
no limit of its own, in both of its parsers:

- its strict parser is a SAX parser, and the first one `feedparser.api.PREFERRED_XML_PARSERS`
  names is used: defusedxml's expat reader is put first, so any entity declaration or
  external reference the strict parser meets raises `EntitiesForbidden`, in whatever
  encoding the feed came (the check runs on the text feedparser itself decoded);
- its lenient fallback (for feeds that are not well-formed) expands the entities it finds in
  the prolog by its own regular expressions: a feed that declares any there is refused first.

A DOCTYPE that only names an external DTD (RSS 0.91's Netscape DTD) is dropped from the prolog
before parsing, since the strict parser would refuse the external reference: the DTD is never
fetched.
"""

from __future__ import annotations

import re
from typing import Any

import defusedxml.expatreader  # noqa: F401  (imported here so a missing package fails early)
import feedparser
import feedparser.api
from defusedxml import DefusedXmlException

from crawler.errors import SourceError
from crawler.records import Entry, SkipReason
from crawler.text.charset import xml_bytes
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


_DEFUSED_SAX = "defusedxml.expatreader"
if _DEFUSED_SAX not in feedparser.api.PREFERRED_XML_PARSERS:
    feedparser.api.PREFERRED_XML_PARSERS.insert(0, _DEFUSED_SAX)

_FIRST_ELEMENT = re.compile(rb"<\w")
_EBCDIC_XML_DECLARATION = b"\x4c\x6f\xa7\x94"  # "<?xm" in cp037, which feedparser sniffs


def declares_entities(body: bytes) -> bool:
    """Whether the prolog (before the first element, as feedparser cuts it) declares an
    entity, in any encoding feedparser reads: UTF-16/32 lose their NUL bytes here, EBCDIC is
    decoded."""
    head = body
    if head.startswith(_EBCDIC_XML_DECLARATION):
        head = head.decode("cp037", "replace").encode("utf-8")
    head = head.replace(b"\x00", b"")
    first = _FIRST_ELEMENT.search(head)
    return b"<!ENTITY" in (head[: first.start()] if first else head)


# `<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://…dtd">`: an
# external DTD that old RSS 0.91 feeds (and XHTML-minded CMSes) name. The defused parser
# refuses any external reference; the DTD is never fetched and declares nothing the feed
# needs, so a DOCTYPE without an internal subset (no "[") is taken out of the prolog first.
_EXTERNAL_DOCTYPE = re.compile(rb"<!DOCTYPE\s[^\[>]*>", re.I)


def without_external_doctype(body: bytes) -> bytes:
    """`body` without a DOCTYPE that only names an external DTD (in the prolog)."""
    first = _FIRST_ELEMENT.search(body)
    end = first.start() if first else len(body)
    match = _EXTERNAL_DOCTYPE.search(body, 0, end)
    return body[: match.start()] + body[match.end():] if match else body


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
    body, charset = xml_bytes(body, content_type)
    if charset:
        headers["content-type"] = f"application/xml; charset={charset}"
    elif content_type:
        headers["content-type"] = content_type
    if declares_entities(body):
        raise SourceError(url, "not read: the feed declares XML entities", SkipReason.BAD_FEED)
    try:
        parsed = feedparser.parse(without_external_doctype(body), response_headers=headers)
    except DefusedXmlException as exc:
        raise SourceError(url, f"not read: the feed declares XML entities ({exc})",
                          SkipReason.BAD_FEED) from exc
    except Exception as exc:  # feedparser on bytes from anywhere: a bad feed, not a crash
        raise SourceError(url, f"not a feed: {type(exc).__name__}: {exc}",
                          SkipReason.BAD_FEED) from exc
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
