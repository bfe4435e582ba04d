"""One fetched feed, sitemap or listing page -> what it lists: the step the crawl runs in a
worker process for each such document (crawler/fetch/spider.py schedules it).

Scrapy-free, as everything a worker runs (crawler/pool.py): the workers may be forked before
the crawl's process imports Scrapy.
"""

from __future__ import annotations

from crawler import faults
from crawler.config import Source
from crawler.errors import SourceError
from crawler.records import Entry, SkipReason
from crawler.sources import feeds, listings, sitemaps
from crawler.sources.kinds import kind_hint
from crawler.sources.rules import LinkRules
from crawler.text.charset import decode_body


def read_document(body: bytes, url: str, ctype: str | None, kind: str, depth: int,
                  source: Source, max_sections: int) -> tuple[list[Entry], list[str], list[str]]:
    """(entries, child sitemaps, sub-section listing pages) of a fetched feed, sitemap or
    listing page; run in a worker process, so it takes and returns plain values.  Of the
    sub-sections, at most `max_sections` + 1 (one more than the crawl reads: a cut)."""
    faults.page_reached(url)
    language = source.language or None
    try:
        if kind in ("feed", "search"):
            return feeds.parse_feed(body, url, source.name, ctype, language), [], []
        if kind == "sitemap":
            page = sitemaps.parse_sitemap(body, url, source.name, language=language)
            return page.entries, page.sitemaps, []
    except SourceError as e:  # say what it is instead, when it can be told
        hint = kind_hint(kind, body)
        raise SourceError(e.url, f"{hint} ({e.detail})" if hint else e.detail, e.reason) from None
    text = decode_body(body, ctype, source.encoding or None)[0]
    rules = LinkRules.of(source.allow, source.deny)
    entries = listings.listing_links(text, url, source.name, rules)
    sections = (listings.section_links(text, url, limit=max_sections + 1)
                if kind == "listing" and depth < source.depth else [])
    # a feed or sitemap configured as a listing: no links (only the source's own page, not
    # a section page it led to, such as WordPress's /feed/)
    if depth == 1 and not entries and not sections and (hint := kind_hint("listing", body)):
        raise SourceError(url, hint, SkipReason.BAD_LISTING)
    return entries, [], sections
