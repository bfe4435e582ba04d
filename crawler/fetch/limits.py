"""How much one fetched document can make a crawl do: the bounds the fetch state applies to
what feeds, sitemaps and listing pages list (`[crawl] max_entries_per_document`,
`max_sitemap_depth`, `max_sitemaps_per_source`).

A hostile or broken site can list a million links, or chain sitemap indexes without end;
each bound stops that and says so in one `skipped` row for the document (never one row per
link not followed), and the rest of that document is not even read: a chain of 21,000
sitemaps becomes one row, not 21,000 requests.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from crawler.config import CrawlSettings
from crawler.records import SkipReason


@dataclass(frozen=True)
class Cut:
    """The limit a document hit, and the first link it listed that was not followed."""

    reason: str
    detail: str
    first: str
    source: str | None


@dataclass
class DocumentCuts:
    """What one document's links lost to the limits; `url` is None for start requests."""

    url: str | None
    source: str | None
    cuts: dict[str, Cut] = field(default_factory=dict)
    articles: int = 0  # new article requests let through from this document
    sections: int = 0  # section pages of a listing followed from this document

    def cut(self, reason: str, detail: str, *, url: str, source: str | None) -> None:
        self.cuts.setdefault(reason, Cut(reason, detail, url, source))

    def rows(self) -> list[tuple[str, str | None, str, str]]:
        """(url, source, reason, detail) of the skipped rows to record."""
        return [(self.url or c.first, self.source or c.source, c.reason,
                 f"{c.detail}; not followed from {c.first} on") for c in self.cuts.values()]


class SitemapLimits:
    """Sitemap depth (levels below the source) and sitemap files per source in a run."""

    def __init__(self, crawl: CrawlSettings):
        self.max_depth = crawl.max_sitemap_depth
        self.max_per_source = crawl.max_sitemaps_per_source
        self.fetched: Counter[str] = Counter()

    def refusal(self, source: str, parents: tuple) -> tuple[str, str] | None:
        """(reason, detail) when one more sitemap of `source` under `parents` is too many."""
        depth = len(parents) + 1
        if depth > self.max_depth:
            return SkipReason.SITEMAP_TOO_DEEP, f"sitemap level {depth} > max_sitemap_depth {self.max_depth}"
        if self.fetched[source] >= self.max_per_source:
            return (SkipReason.TOO_MANY_SITEMAPS,
                    f"{self.max_per_source} sitemaps fetched (max_sitemaps_per_source)")
        self.fetched[source] += 1
        return None


def entries_detail(limit: int) -> str:
    return f"{limit} article links followed (max_entries_per_document)"


# section pages (sub-sections, next pages) one listing page leads to, at most: a listing is
# read for its article links, and a page with more section links than this is a site map or
# a trap; past it, one `too-many-entries` row names the first section not followed
MAX_SECTIONS_PER_PAGE = 30


def sections_detail(limit: int) -> str:
    return f"{limit} section pages followed (the most one listing page leads to)"
