"""The records that flow between stages: the one contract between modules.

sources -> `Entry` -> fetch -> `Fetched` -> analyse (decode -> `Page` -> extract -> `Article`
-> topics -> `Match`) -> `Verdict` -> spool (`SpoolItem`) -> ingest (dedup + store).

Frozen dataclasses: a stage returns new records, never mutates what it was given.  The
enums name what the tables store as text: `RunStatus` (`runs.status`), `Outcome`
(`pages.outcome`: what became of a URL, which decides whether it is fetched again) and
`SkipReason` (`skipped.reason`, with `http_reason()` for HTTP errors).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    RUNNING = "running"
    OK = "ok"
    NOTHING_FETCHED = "nothing-fetched"  # every source failed
    INTERRUPTED = "interrupted"  # stopped by a signal, or its process died
    FAILED = "failed"  # the crawl process crashed


class Outcome(StrEnum):
    """What became of a fetched URL (`pages.outcome`)."""

    OK = "ok"  # a feed, sitemap or listing read in full: its validators are kept
    NOT_MODIFIED = "not-modified"
    SPOOLED = "spooled"
    STORED = "stored"
    COPY = "copy"
    OFF_TOPIC = "off-topic"
    NOT_ARTICLE = "not-article"
    TOO_OLD = "too-old"
    REDIRECTED = "redirected"
    RETRY = "retry"  # failed for a reason worth another try in a later run


# Outcomes of an article URL after which it is never fetched again.
FINAL_OUTCOMES = frozenset({Outcome.SPOOLED, Outcome.STORED, Outcome.COPY, Outcome.OFF_TOPIC,
                            Outcome.NOT_ARTICLE, Outcome.TOO_OLD, Outcome.REDIRECTED})


class SkipReason(StrEnum):
    """Why a page was not stored (`skipped.reason`); HTTP errors are `http_reason(status)`."""

    OFF_TOPIC = "off-topic"
    TOO_OLD = "too-old"
    NOT_HTML = "not-html"
    EMPTY = "empty"
    TOO_SHORT = "too-short"
    LIST_PAGE = "list-page"
    ERROR_PAGE = "error-page"
    ROBOTS = "robots-disallowed"
    ROBOTS_UNAVAILABLE = "robots-unavailable"  # robots.txt answered 5xx / 429: tried again later
    RATE_LIMITED = "rate-limited"  # the host asked to wait past max_crawl_delay: next run
    TIMEOUT = "timeout"
    DNS = "dns"
    REFUSED = "connection-refused"
    TOO_LARGE = "too-large"
    FETCH_ERROR = "fetch-error"
    IGNORED = "ignored"
    PROCESSING_ERROR = "processing-error"
    PROCESSING_TIMEOUT = "processing-timeout"  # its worker process hung past processing_timeout or died
    BAD_FEED = "bad-feed"
    BAD_SITEMAP = "bad-sitemap"
    BAD_LISTING = "bad-listing"
    BAD_SEARCH = "bad-search"
    PRIVATE_ADDRESS = "private-address"  # a link or redirect to a non-public address (SSRF guard)
    TOO_MANY_ENTRIES = "too-many-entries"  # a document listing more than max_entries_per_document
    SITEMAP_TOO_DEEP = "sitemap-too-deep"  # sitemap indexes nested past max_sitemap_depth
    TOO_MANY_SITEMAPS = "too-many-sitemaps"  # a source's sitemaps past max_sitemaps_per_source
    TOO_MANY_REDIRECTS = "too-many-redirects"  # a redirect loop, or past Scrapy's REDIRECT_MAX_TIMES


def http_reason(status: int) -> str:
    return f"http-{status}"


# Reasons that describe a page turned away, not a source failing (health ignores them).
NOT_ERRORS = (SkipReason.OFF_TOPIC, "not-article", SkipReason.TOO_OLD, SkipReason.NOT_HTML,
              "dropped", SkipReason.ROBOTS)


@dataclass(frozen=True)
class Entry:
    """A link to a probable article, found in a feed, sitemap, listing page or search feed."""

    url: str
    source: str
    title: str | None = None
    published: str | None = None  # ISO 8601 when the feed or sitemap states it
    found_on: str | None = None  # the feed / sitemap / listing URL


@dataclass(frozen=True)
class Fetched:
    """An article response as it came off the network: what `analyse` turns into a verdict.

    Bytes, not text: decoding is part of the work done off the downloading thread."""

    url: str  # final URL after redirects
    source: str
    body: bytes
    content_type: str | None = None
    status: int = 200
    requested_url: str | None = None  # the URL asked for, when a redirect moved it
    entry: Entry | None = None
    language_hint: str | None = None
    encoding: str | None = None  # the source's forced encoding, when configured
    via: str | None = None  # what led here: feed, sitemap, news-sitemap, listing or search
    fetched_at: str | None = None


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


_ARTICLE_FIELDS = frozenset(f.name for f in dataclasses.fields(Article))


@dataclass(frozen=True)
class Match:
    """How one article matched one topic."""

    topic: str
    score: float
    terms: tuple[str, ...]  # the configured terms that were found


# Which topics a page was matched against: topic name -> the topic's fingerprint
# (crawler/topics.py), so that a topic added or edited later is seen not to have been tried.
Tested = dict[str, str]


@dataclass(frozen=True)
class DedupKeys:
    """An article text's dedup keys (crawler/dedup.py `NearDup.dedup_keys`), computed where the
    text was extracted, in a worker process, so that ingest (the one process that writes the
    corpus, for every worker on every machine) does not: the content hash and the MinHash
    signature's stored bytes, which name the format and settings they were made with, and
    the Unicode and OpenCC versions the text was normalised with (`made_with`).  Ingest uses
    them only when all of those are its own, and computes them itself otherwise."""

    content_hash: str
    signature: bytes
    made_with: str  # crawler/text/normalise.py HASH_ENVIRONMENT

    def to_dict(self) -> dict[str, str]:
        return {"content_hash": self.content_hash, "signature": base64.b64encode(self.signature).decode(),
                "made_with": self.made_with}

    @classmethod
    def from_dict(cls, d: Any) -> DedupKeys | None:
        """None for what is not one (ingest then computes the keys itself)."""
        try:
            return cls(str(d["content_hash"]), base64.b64decode(d["signature"], validate=True),
                       str(d["made_with"]))
        except (TypeError, KeyError, ValueError, binascii.Error):
            return None


@dataclass(frozen=True)
class SpoolItem:
    """What a crawl hands to ingest: an extracted article and its topic matches."""

    article: Article
    matches: tuple[Match, ...]
    run_id: int | None = None
    requested_url: str | None = None
    tested: Tested | None = None  # the topics it was matched against (None: not known)
    dedup_keys: DedupKeys | None = None  # of article.text (None: ingest computes it)

    def to_dict(self) -> dict[str, Any]:
        d = {
            "article": self.article.to_dict(),
            "matches": [dataclasses.asdict(m) for m in self.matches],
            "run_id": self.run_id,
            "requested_url": self.requested_url,
            "tested": self.tested,
        }
        if self.dedup_keys is not None:
            d["dedup_keys"] = self.dedup_keys.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpoolItem:
        return cls(
            # fields a newer version added are left out: what this one knows is stored
            article=Article(**{k: v for k, v in d["article"].items() if k in _ARTICLE_FIELDS}),
            matches=tuple(
                Match(topic=m["topic"], score=m["score"], terms=tuple(m["terms"]))
                for m in d["matches"]
            ),
            run_id=d.get("run_id"),
            requested_url=d.get("requested_url"),
            tested=d.get("tested"),
            dedup_keys=DedupKeys.from_dict(d["dedup_keys"]) if d.get("dedup_keys") else None,
        )


@dataclass(frozen=True)
class Verdict:
    """What became of one fetched page: an item for the spool, or a skip with its reason.

    `article` is set whenever extraction succeeded (an off-topic page has one too)."""

    item: SpoolItem | None = None
    article: Article | None = None
    reason: str | None = None  # a SkipReason when the page is not kept
    detail: str = ""
    outcome: str | None = None  # the page's Outcome when it is not kept
    tested: Tested | None = None  # the topics it was matched against, when it got that far


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

    @classmethod
    def from_counts(cls, counts: dict[str, int], prefix: str = "") -> RunStats:
        """Counters from a flat mapping such as Scrapy's stats: `<prefix><counter>` for the
        run, `<prefix>source/<name>/<counter>` per source."""
        stats = cls(**{k: counts.get(prefix + k, 0) for k in cls.COUNTERS + ("not_modified",)})
        head = prefix + "source/"
        for key, value in counts.items():
            if key.startswith(head):
                name, _, counter = key[len(head):].rpartition("/")
                stats.per_source.setdefault(name, {})[counter] = value
        return stats


@dataclass(frozen=True)
class StoryCard:
    """A new story as a notification tells it: its origin article, the other sources that
    carried it so far, and the topics and terms its articles matched."""

    story_id: int
    article_id: int  # the origin article, whose page the message links to
    title: str
    url: str
    source: str
    first_seen: str
    published: str | None = None
    other_sources: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    terms: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (topic, terms) in topic order

    def terms_of(self, topic: str) -> tuple[str, ...]:
        return dict(self.terms).get(topic, ())
