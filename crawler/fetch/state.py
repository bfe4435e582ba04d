"""`FetchState`: the one owner of what is known about URLs during a crawl, like
scrapy-deltafetch.  A spider middleware, so it sees every request the spider makes and every
response it gets:

- never fetch an article twice: a request for a URL already stored, copied, spooled or judged
  (its canonical form too) is dropped before it is made; so is one past the source's
  `max_articles_per_source`;
- bound what one document can make the crawl do (crawler/fetch/limits.py): article links per
  feed, sitemap or listing page, sitemap levels and sitemaps per source, one `skipped` row per
  document and reason;
- conditional GET: feed, sitemap and listing requests carry the validators saved last time;
  new validators are saved only when the crawl finished and nothing under that page failed
  (a killed run never hides articles behind a 304 next time);
- failures and refusals become `skipped` rows and page outcomes: final ones (404, too large,
  not an article) are never fetched again, transient ones (5xx, timeouts, processing errors)
  are retried in the next `RETRY_RUNS` runs;
- the run's counters, in Scrapy's stats (`topicwatch/<counter>`, `topicwatch/source/<name>/...`).

It writes through crawler/store/pages.py, on its own connection to the corpus.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.errors import ProcessingTimeout, SourceError
from crawler.fetch import signals as tw_signals
from crawler.fetch.failures import NOT_FAILURES, failure_detail, failure_reason, is_final
from crawler.fetch.limits import (
    MAX_SECTIONS_PER_PAGE,
    DocumentCuts,
    SitemapLimits,
    entries_detail,
    sections_detail,
)
from crawler.fetch.settings import config_of
from crawler.records import Outcome, SkipReason
from crawler.store import pages, topicsets, unmatched
from crawler.store.db import open_db, write_transaction
from crawler.text.urls import canonical_url
from crawler.topics import fingerprints

log = logging.getLogger(__name__)

LISTING_KINDS = ("feed", "sitemap", "listing", "search")
RETRY_RUNS = 3  # runs in which an article page that failed transiently is tried
__all__ = ["FetchState", "failure_reason"]
PREFIX = "topicwatch/"


@dataclass(frozen=True)
class Validators:
    kind: str
    source: str
    status: int
    etag: str | None
    last_modified: str | None


def with_validators(request: Request, etag: str | None, last_modified: str | None) -> Request:
    """`request` made conditional on the validators of its last answer (a 304 if unchanged)."""
    if etag:
        request.headers["If-None-Match"] = etag
    if last_modified:
        request.headers["If-Modified-Since"] = last_modified
    return request


class FetchState:
    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.stats = crawler.stats
        self.db = None
        self.run_id: int | None = None
        self.known: set[str] = set()
        self.validators: dict[str, Validators] = {}
        self.incomplete: set[str] = set()  # listing pages under which something failed
        self.requested: Counter[str] = Counter()  # article requests per source this run
        self.crawl = config_of(crawler.settings).crawl
        self.sitemaps = SitemapLimits(self.crawl)

    @classmethod
    def from_crawler(cls, crawler: Any) -> FetchState:
        state = cls(crawler)
        for handler, signal in ((state.run_opened, tw_signals.run_opened),
                                (state.fetch_failed, tw_signals.fetch_failed),
                                (state.item_dropped, signals.item_dropped),
                                (state.item_error, signals.item_error),
                                (state.request_dropped, signals.request_dropped),
                                (state.spider_closed, signals.spider_closed)):
            crawler.signals.connect(handler, signal=signal)
        return state

    def run_opened(self, run_id: int) -> None:
        self.run_id = run_id
        self.db = open_db(config_of(self.crawler.settings).corpus_path)
        self.known = pages.known_article_urls(self.db, fingerprints(self.crawler.spider.plan.topics),
                                              self.crawl.max_age_days)

    # ------------------------------------------------------------ requests

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        doc = DocumentCuts(None, None)
        async for request in start:
            if (routed := self.route(request, doc)) is not None:
                yield routed
        self.record_cuts(doc)
        spider = self.crawler.spider
        names = [s.name for s in spider.plan.sources]
        for url, source in pages.retry_urls(self.db, names, RETRY_RUNS):
            self.known.add(url)
            yield spider.retry_request(url, source)

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterator[Any]:
        doc = DocumentCuts(response.url, response.meta.get("tw_source"))
        for item in result:
            if (routed := self.route(item, doc)) is not None:
                yield routed
            if doc.cuts:
                break  # past a limit, the rest of the document is not even read
        self.record_cuts(doc)
        self.read_through(response)

    async def process_spider_output_async(self, response: Response,
                                          result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        doc = DocumentCuts(response.url, response.meta.get("tw_source"))
        async for item in result:
            if (routed := self.route(item, doc)) is not None:
                yield routed
            if doc.cuts:
                break
        self.record_cuts(doc)
        self.read_through(response)

    def read_through(self, response: Response) -> None:
        """A feed, sitemap or listing page was read (to its end, or to a limit): its source
        answered.  Not one that turned out not to be one (an HTML bot check where the feed
        was, an empty body): its callback raised, and Scrapy, which hands the exception to
        `process_spider_exception` and then ends the output as if it were complete, leaves
        `tw_unread` in its meta there."""
        meta = response.meta
        if meta.get("tw_kind") in LISTING_KINDS and response.status != 304 and not meta.get("tw_unread"):
            self.mark_source(meta.get("tw_source"), ok=True)

    def route(self, request: Any, doc: DocumentCuts | None = None) -> Any:
        """A request as it should be made (with validators), or None when it must not be;
        what a limit refused is noted in `doc`, the document that listed it."""
        if not isinstance(request, Request):
            return request
        doc = doc or DocumentCuts(None, None)
        kind = request.meta.get("tw_kind")
        if kind == "sitemap":
            parents = request.meta.get("tw_parents", ())
            if parents:
                # the document that listed it is a sitemap index: read in full every run, as its
                # sitemaps change while it does not (with a 304 they would never be read again)
                self.incomplete.add(parents[-1])
            refused = self.sitemaps.refusal(self.run_of(request), parents)
            if refused:
                doc.cut(*refused, url=request.url, source=request.meta["tw_source"])
                return None
        if kind in LISTING_KINDS:
            if kind == "listing" and doc.url is not None:  # a section page a listing leads to
                self.incomplete.add(doc.url)  # read in full every run, as a sitemap index is
                if doc.sections >= MAX_SECTIONS_PER_PAGE:
                    doc.cut(SkipReason.TOO_MANY_ENTRIES, sections_detail(doc.sections),
                            url=request.url, source=request.meta["tw_source"])
                    return None
                doc.sections += 1
            return self._conditional(request)
        if kind == "article":
            return self._article(request, doc)
        return request

    def _conditional(self, request: Request) -> Request:
        return with_validators(request, *pages.get_validators(
            self.db, request.url, self.read_as(request.meta.get("tw_source"))))

    def read_as(self, source: str | None) -> str | None:
        """The fingerprint of the settings that decide what the source's documents yield
        (`Source.read_as`): validators saved under another are not sent."""
        found = [s for s in self.crawler.spider.plan.sources if s.name == source]
        return found[0].read_as(self.crawl) if found else None

    def run_of(self, request: Request) -> str:
        """What the per-run limits (sitemaps and article requests per source) count under:
        the request's source, as one crawl is one run of each."""
        return request.meta["tw_source"]

    def _article(self, request: Request, doc: DocumentCuts) -> Request | None:
        url, source = request.url, request.meta["tw_source"]
        if url in self.known or canonical_url(url) in self.known:
            return None
        limit, run = self.crawl.max_articles_per_source, self.run_of(request)
        if limit and self.requested[run] >= limit:
            self.incomplete.update(request.meta.get("tw_parents", ()))  # no 304 next time
            return None
        if doc.articles >= self.crawl.max_entries_per_document:
            doc.cut(SkipReason.TOO_MANY_ENTRIES, entries_detail(doc.articles), url=url, source=source)
            return None
        doc.articles += 1
        self.requested[run] += 1
        self.known.add(url)
        return request

    def record_cuts(self, doc: DocumentCuts) -> None:
        """One skipped row per document and limit it hit; what it listed beyond the limit
        is missing, so it is fetched in full next run (no 304)."""
        for url, source, reason, detail in doc.rows():
            self.skip(url, source, reason, detail=detail[:300])
            if doc.url:
                self.incomplete.add(doc.url)

    # ------------------------------------------------------------ responses

    def process_spider_input(self, response: Response) -> None:
        meta = response.meta
        kind, source = meta.get("tw_kind"), meta.get("tw_source")
        if kind in LISTING_KINDS:
            if response.status == 304:
                self.mark_source(source, ok=True)  # unchanged since it was last read
                self.count("not_modified", source)
                pages.record_page(self.db, response.url, kind, source, status=304,
                                  outcome=Outcome.NOT_MODIFIED, run_id=self.run_id)
                return
            self.count("fetched", source)
            self.validators[response.url] = Validators(
                kind, source, response.status, _header(response, "ETag"),
                _header(response, "Last-Modified"))
        elif kind == "article":
            self.count("fetched", source)
            # the listed URL that redirected here is settled with the page (spooled or turned
            # away: crawler/store/spool.py, item_dropped); until then it is to be tried again,
            # so a crawl killed in between does not lose the page behind a final mark
            status = (meta.get("redirect_reasons") or [301])[0]
            for old in meta.get("redirect_urls") or []:
                pages.record_page(self.db, old, "article", source, status=status,
                                  outcome=Outcome.RETRY, run_id=self.run_id)

    def process_spider_exception(self, response: Response, exception: Exception) -> list:
        """A callback raised: a source document that is not one, or a bug.  Whatever that
        page listed may be missing, so its parents must not be answered with a 304 next run."""
        meta = response.meta
        kind, source = meta.get("tw_kind"), meta.get("tw_source")
        meta["tw_unread"] = True  # see read_through
        if isinstance(exception, SourceError):
            # no validators kept for it: a 304 next run would hide that it is still no feed
            self.incomplete.add(response.url)
            self.skip(response.url, source, f"bad-{kind}", detail=str(exception)[:300],
                      status=response.status, counter="errors")
        elif isinstance(exception, ProcessingTimeout):  # its worker hung or died: no traceback
            self.incomplete.update((*meta.get("tw_parents", ()), response.url))
            self.skip(response.url, source, SkipReason.PROCESSING_TIMEOUT,
                      detail=str(exception)[:300], status=response.status, counter="errors")
        else:
            log.error("processing %s failed", response.url, exc_info=exception)
            self.incomplete.update((*meta.get("tw_parents", ()), response.url))
            self.skip(response.url, source, SkipReason.PROCESSING_ERROR,
                      detail=f"{type(exception).__name__}: {exception}"[:300],
                      status=response.status, counter="errors")
        if kind != "article":
            self.mark_source(source, ok=False, url=_listed_url(response.meta, response.url))
        return []

    # ------------------------------------------------------------ failures and verdicts

    def fetch_failed(self, request: Request, failure: Failure) -> None:
        meta = request.meta
        kind, source = meta.get("tw_kind", "article"), meta.get("tw_source")
        reason, status = failure_reason(failure)
        detail = failure_detail(failure)
        if reason == SkipReason.ROBOTS:
            if kind == "article":
                self.count("skipped", source)
            else:  # the source itself is off limits: say so
                self.skip(request.url, source, reason, detail=detail)
                self.mark_source(source, ok=False, url=_listed_url(meta, request.url))
            return
        final = is_final(reason, status)
        outcome = Outcome.NOT_ARTICLE if kind == "article" and final else None
        redirected = meta.get("redirect_urls") or []
        # past the redirect limit, the URL that was listed is the one to name
        url = redirected[0] if reason == SkipReason.TOO_MANY_REDIRECTS and redirected else request.url
        # a refused link is a page skipped; a source's own document refused, an error of it
        counter = "skipped" if reason in NOT_FAILURES and kind == "article" else "errors"
        self.skip(url, source, reason, detail=detail, status=status, outcome=outcome, counter=counter)
        if outcome:  # the listed URL that led here is settled too
            for old in redirected:
                pages.record_page(self.db, old, "article", source, status=status, outcome=outcome,
                                  run_id=self.run_id)
        if kind != "article":
            self.mark_source(source, ok=False, url=_listed_url(meta, request.url))
        elif not final:
            pages.record_retry(self.db, request.url, source, status, self.run_id)

    def request_dropped(self, request: Request) -> None:
        """The scheduler dropped a request as a duplicate.  A redirect back to a URL already
        on its own redirect path is a loop, recorded as such; a redirect to a page already
        fetched this run settles the URL that led there."""
        meta = request.meta
        redirected = meta.get("redirect_urls") or []
        if not redirected or meta.get("tw_kind") not in ("article", *LISTING_KINDS):
            return
        source = meta.get("tw_source")
        if request.url in redirected:
            self.fetch_failed(request, Failure(IgnoreRequest(
                f"redirect loop: {' -> '.join([*redirected, request.url])}"[:300])))
        elif meta.get("tw_kind") == "article":
            for old in redirected:
                pages.record_page(self.db, old, "article", source, status=301,
                                  outcome=Outcome.REDIRECTED, run_id=self.run_id)

    def item_dropped(self, item: Any, response: Response, exception: Exception) -> None:
        """A page the pipelines turned away (typed DropItem with a reason and an outcome)."""
        outcome = getattr(exception, "outcome", Outcome.NOT_ARTICLE)
        if outcome == Outcome.RETRY:
            self._retry(item, response, getattr(exception, "reason", SkipReason.PROCESSING_ERROR),
                        str(exception))
            return
        if outcome == Outcome.OFF_TOPIC and getattr(exception, "verdict", None) is not None:
            self._off_topic(item, response, exception.verdict)
            return
        url, source = getattr(item, "url", response.url), getattr(item, "source", None)
        self.skip(url, source, getattr(exception, "reason", "dropped"),
                  detail=str(exception)[:300], status=response.status, outcome=outcome)
        requested = getattr(item, "requested_url", None)
        if requested and requested != url:
            pages.record_page(self.db, requested, "article", source, status=response.status,
                              outcome=outcome, run_id=self.run_id, read_as=self._judged_by(outcome))

    def _off_topic(self, item: Any, response: Response, verdict: Any) -> None:
        """A page that matched none of the crawl's topics: recorded with the topics it was
        tried with, and its article kept for `[corpus] keep_unmatched_days`, so that other
        topics (added later, or not tried by a `--topic` crawl) can still apply to it."""
        url, source = item.url, item.source
        pages.record_skipped(self.db, url, source, SkipReason.OFF_TOPIC, detail=verdict.detail,
                             status=response.status, run_id=self.run_id)
        self.count("skipped", source)
        config = config_of(self.crawler.settings)
        kept = bool(config.corpus.keep_unmatched_days)
        with write_transaction(self.db):
            pages.record_off_topic(self.db, url, source, status=response.status,
                                   run_id=self.run_id, tested=verdict.tested)
            if kept:
                unmatched.keep(self.db, verdict.article, verdict.tested, self.run_id)
            elif topicsets.missing(verdict.tested, fingerprints(config.topics)):
                # not kept, and not tried with every topic: the feed that listed it must not
                # answer 304 next time, or a crawl with the other topics would never see it
                self.incomplete.update(response.meta.get("tw_parents", ()))
        requested = item.requested_url
        if requested and requested != url:  # a link that redirects to the page: the same memory
            if kept:
                pages.record_page(self.db, requested, "article", source, status=response.status,
                                  outcome=Outcome.REDIRECTED, run_id=self.run_id)
            else:
                pages.record_off_topic(self.db, requested, source, status=response.status,
                                       run_id=self.run_id, tested=verdict.tested)

    def item_error(self, item: Any, response: Response,
                   failure: Failure | None = None) -> None:
        """A pipeline raised on a page (a bug, not a verdict): try the page again next run."""
        self._retry(item, response, SkipReason.PROCESSING_ERROR,
                    failure.getErrorMessage() if failure else "")

    def _retry(self, item: Any, response: Response, reason: str, detail: str) -> None:
        meta = response.meta
        self.incomplete.update(meta.get("tw_parents", ()))
        self.skip(response.url, meta.get("tw_source"), reason, detail=detail[:300],
                  status=response.status, counter="errors")
        pages.record_retry(self.db, response.url, meta.get("tw_source"), response.status, self.run_id)

    def spider_closed(self, spider: Any, reason: str) -> None:
        """Keep the validators of what was read in full, only after a clean finish."""
        if reason != "finished" or self.db is None:
            return
        for url, v in self.validators.items():
            if url not in self.incomplete:
                pages.record_page(self.db, url, v.kind, v.source, status=v.status, outcome=Outcome.OK,
                                  run_id=self.run_id, etag=v.etag, last_modified=v.last_modified,
                                  read_as=self.read_as(v.source))

    # ------------------------------------------------------------ records and counters

    def skip(self, url: str, source: str | None, reason: str, *, detail: str | None = None,
             status: int | None = None, outcome: str | None = None, counter: str = "skipped") -> None:
        """Record a page that was not kept, with its reason, and count it."""
        pages.record_skipped(self.db, url, source, reason, detail=detail, status=status,
                             run_id=self.run_id)
        if outcome:
            pages.record_page(self.db, url, "article", source, status=status, outcome=outcome,
                              run_id=self.run_id, read_as=self._judged_by(outcome))
        self.count(counter, source)

    def _judged_by(self, outcome: str) -> str | None:
        """A page too old is so under this `max_age_days`: a wider one fetches it again."""
        return pages.age_limit(self.crawl.max_age_days) if outcome == Outcome.TOO_OLD else None

    def count(self, counter: str, source: str | None = None) -> None:
        self.stats.inc_value(PREFIX + counter)
        if source:
            self.stats.inc_value(f"{PREFIX}source/{source}/{counter}")

    def mark_source(self, source: str, ok: bool, url: str | None = None) -> None:
        """A feed/sitemap/listing fetch of `source` went through (or 304) or failed.  A failed
        one that settings.toml names (`url`, `urls`), not one the source led to (a child
        sitemap, a sitemap robots.txt lists, a section page), fails the source whatever else
        of it was read: `runs.record_crawl`."""
        self.stats.inc_value(f"{PREFIX}source/{source}/{'source_ok' if ok else 'source_errors'}")
        spider = getattr(self.crawler, "spider", None)
        plan = getattr(spider, "plan", None)
        configured = next((s.all_urls() for s in getattr(plan, "sources", ()) if s.name == source), ())
        if not ok and url in configured:
            self.stats.inc_value(f"{PREFIX}source/{source}/configured_errors")


def _listed_url(meta: dict, url: str) -> str:
    """The URL that was asked for, before any redirect."""
    return (meta.get("redirect_urls") or [url])[0]


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
