"""What a source's document is, whatever its `kind` says: a feed, a sitemap or an HTML page,
told from its first bytes, and the change of `kind` that would read it.  The crawl puts the
hint in a failed source's error line, and `sources --check` in its advice, in the same words."""

from __future__ import annotations

import re

_MARKERS = re.compile(rb"<(rss|feed|rdf:rdf|urlset|sitemapindex|html|!doctype\s+html)[\s>/]", re.I)
_WHAT = {b"rss": "feed", b"feed": "feed", b"rdf:rdf": "feed", b"urlset": "sitemap",
         b"sitemapindex": "sitemap", b"html": "html"}


def looks_like(body: bytes) -> str | None:
    """"feed", "sitemap" or "html" by the first of their root tags in the first 4 KB."""
    found = _MARKERS.search(body[:4096])
    if found is None:
        return None
    tag = found.group(1).lower()
    return "html" if tag.startswith(b"!doctype") else _WHAT[tag]


def kind_hint(kind: str, body: bytes) -> str | None:
    """What to change when a `kind` source's document is something else; None when it is
    what the kind says, or cannot be told."""
    what = looks_like(body)
    if what == "html" and kind in ("feed", "sitemap", "search"):
        return f'an HTML page, not a {kind}: set kind = "listing" (with allow patterns if needed)'
    if what in ("feed", "sitemap") and kind == "listing":
        return f'a {what}, not a page: set kind = "{what}"'
    if what == "feed" and kind == "sitemap":
        return 'a feed, not a sitemap: set kind = "feed"'
    if what == "sitemap" and kind in ("feed", "search"):
        return f'a sitemap, not a {kind}: set kind = "sitemap"'
    return None
