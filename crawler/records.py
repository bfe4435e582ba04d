"""The records that flow between stages: the one contract between modules.

sources -> `Entry` -> fetch -> `Page` -> extract -> `Article` -> topics -> `Match`
-> spool (`SpoolItem`) -> ingest (dedup + store).

Frozen dataclasses: a stage returns new records, never mutates what it was given.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Entry:
    """A link to a probable article, found in a feed, sitemap, listing page or search feed."""

    url: str
    source: str
    title: str | None = None
    published: str | None = None  # ISO 8601 when the feed or sitemap states it
    found_on: str | None = None  # the feed / sitemap / listing URL


@dataclass(frozen=True)
class Page:
    """A fetched article page, already decoded to text."""

    url: str  # final URL after redirects
    source: str
    html: str
    status: int = 200
    encoding: str | None = None  # the encoding the bytes were decoded with
    requested_url: str | None = None  # the URL asked for, when a redirect moved it
    entry: Entry | None = None
    language_hint: str | None = None
    fetched_at: str | None = None
    # how the link was found: "feed", "sitemap", "news-sitemap", "listing", "search" or None;
    # a page a feed or news sitemap calls an article needs strong evidence to be a list page
    via: str | None = None


@dataclass(frozen=True)
class Article:
    """The main text and metadata of one article page."""

    url: str
    source: str
    title: str
    text: str
    canonical_url: str | None = None
    author: str | None = None
    published: str | None = None  # ISO 8601, with its UTC offset when known
    language: str | None = None  # "zh", "en", ...
    script: str | None = None  # "zh-Hans" / "zh-Hant" for Chinese, else None
    site_name: str | None = None
    description: str | None = None
    original_source: str | None = None  # the outlet named in a 来源/來源 credit line
    fetched_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Match:
    """How one article matched one topic."""

    topic: str
    score: float
    terms: tuple[str, ...]  # the configured terms that were found


@dataclass(frozen=True)
class SpoolItem:
    """What a crawl hands to ingest: an extracted article and its topic matches."""

    article: Article
    matches: tuple[Match, ...]
    run_id: int | None = None
    requested_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "article": self.article.to_dict(),
            "matches": [dataclasses.asdict(m) for m in self.matches],
            "run_id": self.run_id,
            "requested_url": self.requested_url,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpoolItem:
        return cls(
            article=Article(**d["article"]),
            matches=tuple(
                Match(topic=m["topic"], score=m["score"], terms=tuple(m["terms"]))
                for m in d["matches"]
            ),
            run_id=d.get("run_id"),
            requested_url=d.get("requested_url"),
        )


@dataclass
class RunStats:
    """Counters of one run; mutable because a crawl counts as it goes."""

    fetched: int = 0
    extracted: int = 0
    matched: int = 0
    new: int = 0
    duplicates: int = 0
    skipped: int = 0
    errors: int = 0
    not_modified: int = 0
    per_source: dict[str, dict[str, int]] = field(default_factory=dict)

    COUNTERS = ("fetched", "extracted", "matched", "new", "duplicates", "skipped", "errors")

    def bump(self, counter: str, source: str | None = None, n: int = 1) -> None:
        setattr(self, counter, getattr(self, counter) + n)
        if source:
            src = self.per_source.setdefault(source, {})
            src[counter] = src.get(counter, 0) + n

    def as_row(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTERS + ("not_modified",)}
