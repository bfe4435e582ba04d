"""Atom 1.0 feeds of new articles, built with ElementTree so every value is escaped.

An entry's id is the article's canonical URL: stable across runs and even across a rebuilt
corpus, so a feed reader never shows an article twice.  `updated` is when topicwatch first
saw the article (feed readers sort on it), `published` the site's own date when it carries a
UTC offset (RFC 3339 requires one).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from typing import Any

ATOM_NS = "http://www.w3.org/2005/Atom"
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
SUMMARY_CHARS = 400


def _clean(value: Any) -> str:
    return _XML_INVALID.sub("", str(value or ""))


def _rfc3339(value: str | None) -> str | None:
    """`value` as an RFC 3339 timestamp, or None when it has no time zone or is not a date."""
    try:
        parsed = dt.datetime.fromisoformat(value or "")
    except ValueError:
        return None
    return parsed.isoformat() if parsed.tzinfo else None


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        el.text = _clean(text)
    return el


def _summary(row: Mapping[str, Any]) -> str:
    text = row.get("description") or row.get("text") or ""
    text = " ".join(str(text).split())
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS].rstrip() + "…"


def _entry(feed: ET.Element, row: Mapping[str, Any], row_url: str | None) -> None:
    entry = _add(feed, "entry")
    _add(entry, "id", row["canonical_url"] or row["url"])
    _add(entry, "title", row["title"] or row["url"])
    _add(entry, "updated", _rfc3339(row["first_seen"]) or row["first_seen"])
    if published := _rfc3339(row.get("published")):
        _add(entry, "published", published)
    _add(_add(entry, "author"), "name", row.get("author") or row["source"])
    _add(entry, "link", rel="alternate", type="text/html", href=row["url"])
    if row_url:
        _add(entry, "link", rel="related", type="text/html", href=row_url)
    for topic in json.loads(row.get("topics") or "[]"):
        _add(entry, "category", term=topic)
    _add(entry, "summary", _summary(row), type="text")


def feed_xml(rows: Iterable[Mapping[str, Any]], *, feed_id: str, title: str, self_url: str,
             alternate_url: str,
             row_url: Callable[[Mapping[str, Any]], str] | None = None) -> str:
    """An Atom document for `rows` (articles, newest first); `row_url(row)` links each entry
    to its page in Datasette."""
    rows = list(rows)
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _add(feed, "id", feed_id)
    _add(feed, "title", title)
    newest = _rfc3339(rows[0]["first_seen"]) if rows else None
    _add(feed, "updated", newest or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    _add(_add(feed, "author"), "name", "topicwatch")
    _add(feed, "generator", "topicwatch")
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _add(feed, "link", rel="alternate", type="text/html", href=alternate_url)
    for row in rows:
        _entry(feed, row, row_url(row) if row_url else None)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode")
