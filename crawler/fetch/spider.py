"""The one spider: turns configured sources into article pages.

It only fetches and routes; parsing is `crawler.sources`, decoding `crawler.decode`, and
everything after the fetch happens in the item pipelines.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError
from twisted.internet.error import (
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure

from crawler import dedup, store
from crawler import sources as src_mod
from crawler.config import Source, load_settings
from crawler.decode import decode_body
from crawler.records import Entry, Page
from crawler.scrapy_app.context import CrawlContext, Validators

HTML_TYPES = ("text/html", "application/xhtml", "text/plain", "")
FINAL_HTTP_ERRORS = (404, 410, 451)
RETRY_RUNS = 3  # runs in which an article page that failed transiently is tried


class TopicSpider(scrapy.Spider):
    name = "topicwatch"

    def __init__(self, ctx: CrawlContext | None = None, **kwargs):
        super().__init__(**kwargs)
        self.ctx = ctx

    @classmethod
    def from_crawler(cls, crawler, *args, ctx: CrawlContext | None = None, **kwargs):
        if ctx is None:  # `scrapy crawl topicwatch -a source=NAME -a topic=NAME`
            settings = load_settings(crawler.settings.get("TOPICWATCH_SETTINGS"))
            names = [n for n in kwargs.pop("source", "").split(",") if n]
            topics = [n for n in kwargs.pop("topic", "").split(",") if n]
            ctx = CrawlContext.open(settings, names, topics, trigger="scrapy crawl")
        spider = super().from_crawler(crawler, *args, ctx=ctx, **kwargs)
        crawler.signals.connect(spider.closed_ctx, signal=signals.spider_closed)
        crawler.signals.connect(spider.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(spider.item_error, signal=signals.item_error)
        crawler.signals.connect(spider.spider_error, signal=signals.spider_error)
        return spider

    # ------------------------------------------------------------ start

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for source in self.ctx.sources:
            for request in self.source_requests(source):
                yield request
        # article pages that failed transiently in earlier runs: feeds may no longer list them
        names = [s.name for s in self.ctx.sources]
        for url, source_name in store.retry_urls(self.ctx.db, names, RETRY_RUNS):
            self.ctx.remember(url)
            yield scrapy.Request(url, callback=self.parse_article, errback=self.on_error,
                                 meta={"tw_kind": "article", "tw_source": source_name,
                                       "tw_parents": ()})

    def source_requests(self, source: Source) -> Iterator[scrapy.Request]:
        for url in source.all_urls():
            if source.kind == "sitemap" and src_mod.is_site_root(url):
                robots = urljoin(url, "/robots.txt")
                yield scrapy.Request(robots, callback=self.parse_robots, errback=self.on_error,
                                     meta={"tw_kind": "robots", "tw_source": source.name,
                                           "tw_parents": (), "tw_base": url},
                                     dont_filter=True)
            elif source.kind == "search":
                queries = source.queries or src_mod.search_queries(self.ctx.topics)
                for feed_url in src_mod.expand_search(url, queries):
                    yield self.listing_request(feed_url, source, "search", ())
            else:
                yield self.listing_request(url, source, source.kind, ())

    def listing_request(self, url: str, source: Source, kind: str, parents: tuple,
                        depth: int = 1) -> scrapy.Request:
        """A conditional GET of a feed, sitemap or listing page."""
        etag, last_modified = store.get_validators(self.ctx.db, url)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return scrapy.Request(
            url, headers=headers, callback=self.parse_listing_page, errback=self.on_error,
            meta={"tw_kind": kind, "tw_source": source.name, "tw_parents": parents,
                  "tw_depth": depth, "handle_httpstatus_list": [304]},
        )

    # ------------------------------------------------------------ feeds, sitemaps, listings

    def parse_robots(self, response: Response) -> Iterator[scrapy.Request]:
        meta = response.meta
        source = self.ctx.source(meta["tw_source"])
        text = response.text if response.status == 200 else ""
        urls = src_mod.robots_sitemaps(text, meta["tw_base"]) or src_mod.default_sitemap_urls(meta["tw_base"])
        for url in urls:
            yield self.listing_request(url, source, "sitemap", ())

    def parse_listing_page(self, response: Response) -> Iterator[scrapy.Request]:
        meta = response.meta
        source = self.ctx.source(meta["tw_source"])
        self.ctx.mark_source(source.name, ok=True)
        if response.status == 304:
            self.ctx.bump("not_modified", source.name)
            store.record_page(self.ctx.db, response.url, meta["tw_kind"], source.name, status=304,
                              outcome="not-modified", run_id=self.ctx.run_id)
            return
        self.ctx.bump("fetched", source.name)
        self.ctx.validators[response.url] = Validators(
            meta["tw_kind"], source.name, response.status,
            _header(response, "ETag"), _header(response, "Last-Modified"),
        )
        parents = (*meta["tw_parents"], response.url)
        try:
            entries, more = self.entries_of(response, source)
        except src_mod.SourceError as e:
            self.ctx.mark_source(source.name, ok=False)
            self.ctx.skip(response.url, source.name, "bad-" + meta["tw_kind"], detail=str(e),
                          status=response.status, counter="errors")
            return
        for url in more:
            yield self.listing_request(url, source, "sitemap", parents)
        if meta["tw_kind"] == "listing" and meta.get("tw_depth", 1) < source.depth:
            html, _ = decode_body(response.body, _header(response, "Content-Type"), source.encoding or None)
            for url in src_mod.section_links(html, response.url):
                yield self.listing_request(url, source, "listing", parents, depth=meta["tw_depth"] + 1)
        for entry in entries:
            request = self.article_request(entry, source, parents)
            if request is not None:
                yield request

    def entries_of(self, response: Response, source: Source) -> tuple[list[Entry], list[str]]:
        kind = response.meta["tw_kind"]
        ctype = _header(response, "Content-Type")
        if kind in ("feed", "search"):
            return src_mod.parse_feed(response.body, response.url, source.name, ctype,
                                      language=source.language or None), []
        if kind == "sitemap":
            page = src_mod.parse_sitemap(response.body, response.url, source.name,
                                         language=source.language or None)
            return page.entries, page.sitemaps
        html, _ = decode_body(response.body, ctype, source.encoding or None)
        allow = [re.compile(p) for p in source.allow]
        deny = [re.compile(p) for p in source.deny]
        return src_mod.listing_links(html, response.url, source.name, allow, deny), []

    def article_request(self, entry: Entry, source: Source, parents: tuple) -> scrapy.Request | None:
        url = dedup.canonical_url(entry.url)  # tracking parameters and fragments dropped
        if urlsplit(url).scheme not in ("http", "https"):
            return None
        if any(re.search(p, url) for p in source.deny) or (
            source.allow and source.kind != "listing" and not any(re.search(p, url) for p in source.allow)
        ):
            return None
        if src_mod.is_too_old(entry.published, self.ctx.settings.crawl.max_age_days):
            self.ctx.bump("skipped", source.name)
            return None
        if self.ctx.is_known(url):
            return None
        limit = self.ctx.settings.crawl.max_articles_per_source
        if limit and self.ctx.requested.get(source.name, 0) >= limit:
            self.ctx.failed_parents.update(parents)  # not done with it: no 304 next time
            return None
        self.ctx.requested[source.name] = self.ctx.requested.get(source.name, 0) + 1
        self.ctx.remember(url)
        return scrapy.Request(
            url, callback=self.parse_article, errback=self.on_error,
            meta={"tw_kind": "article", "tw_source": source.name, "tw_parents": parents,
                  "tw_entry": entry},
        )

    # ------------------------------------------------------------ articles

    def parse_article(self, response: Response) -> Iterator[Page]:
        meta = response.meta
        source = self.ctx.source(meta["tw_source"])
        self.ctx.bump("fetched", source.name)
        requested = (meta.get("redirect_urls") or [None])[0]
        for old in meta.get("redirect_urls") or []:
            store.record_page(self.ctx.db, old, "article", source.name,
                              status=(meta.get("redirect_reasons") or [301])[0],
                              outcome="redirected", run_id=self.ctx.run_id)
        ctype = (_header(response, "Content-Type") or "").split(";")[0].strip().lower()
        if not any(ctype.startswith(t) for t in HTML_TYPES if t) and ctype:
            self.ctx.skip(response.url, source.name, "not-html", detail=ctype,
                          status=response.status, outcome="not-article")
            return
        html, encoding = decode_body(response.body, _header(response, "Content-Type"),
                                     source.encoding or None)
        yield Page(url=response.url, source=source.name, html=html, status=response.status,
                   encoding=encoding, requested_url=requested, entry=meta.get("tw_entry"),
                   language_hint=source.language or None, fetched_at=store.now())

    # ------------------------------------------------------------ errors and signals

    def on_error(self, failure: Failure) -> None:
        request = failure.request
        meta = request.meta
        source = meta.get("tw_source")
        kind = meta.get("tw_kind", "article")
        reason, status = _reason(failure)
        if reason == "robots-disallowed":
            if kind == "article":
                self.ctx.bump("skipped", source)
            else:  # the source itself is off limits: say so
                self.ctx.skip(request.url, source, reason)
                self.ctx.mark_source(source, ok=False)
            return
        final = status in FINAL_HTTP_ERRORS or reason == "too-large"
        self.ctx.skip(request.url, source, reason, detail=failure.getErrorMessage()[:300],
                      status=status, outcome="not-article" if kind == "article" and final else None,
                      counter="errors")
        if kind != "article":
            self.ctx.mark_source(source, ok=False)
        elif not final:
            store.record_retry(self.ctx.db, request.url, source, status, self.ctx.run_id)

    def item_dropped(self, item, response, exception, spider=None) -> None:
        """Pipelines drop items with typed reasons; each becomes a `skipped` row."""
        reason = getattr(exception, "reason", type(exception).__name__)
        outcome = getattr(exception, "outcome", "not-article")
        page = getattr(item, "article", item)
        url, source = getattr(page, "url", response.url), getattr(page, "source", None)
        self.ctx.skip(url, source, reason,
                      detail=str(exception)[:300], status=response.status, outcome=outcome)
        requested = getattr(item, "requested_url", None)
        if requested and requested != url:
            store.record_page(self.ctx.db, requested, "article", source, status=response.status,
                              outcome=outcome, run_id=self.ctx.run_id)

    def spider_error(self, failure: Failure, response: Response, spider=None) -> None:
        """A callback raised: whatever that page listed may be missing, so its feed or
        sitemap must not be answered with a 304 next run."""
        meta = response.meta
        self.ctx.failed_parents.update((*meta.get("tw_parents", ()), response.url))
        self.ctx.skip(response.url, meta.get("tw_source"), "processing-error",
                      detail=failure.getErrorMessage()[:300], status=response.status, counter="errors")
        if meta.get("tw_kind") != "article":
            self.ctx.mark_source(meta.get("tw_source"), ok=False)

    def item_error(self, item, response: Response, spider=None, failure: Failure | None = None) -> None:
        """A pipeline raised on a page (a bug, not a verdict): try the page again next run."""
        meta = response.meta
        self.ctx.failed_parents.update(meta.get("tw_parents", ()))
        detail = failure.getErrorMessage()[:300] if failure else None
        self.ctx.skip(response.url, meta.get("tw_source"), "processing-error", detail=detail,
                      status=response.status, counter="errors")
        store.record_retry(self.ctx.db, response.url, meta.get("tw_source"), response.status, self.ctx.run_id)

    def closed_ctx(self, spider, reason: str) -> None:
        self.ctx.close(finished=reason == "finished")


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _reason(failure: Failure) -> tuple[str, int | None]:
    if failure.check(HttpError):
        status = failure.value.response.status
        return f"http-{status}", status
    if failure.check(IgnoreRequest):
        msg = failure.getErrorMessage().lower()
        return ("robots-disallowed" if "robots" in msg else "ignored"), None
    if failure.check(TimeoutError, TCPTimedOutError, DownloadTimeoutError):
        return "timeout", None
    if failure.check(DNSLookupError):
        return "dns", None
    if failure.check(DownloadConnectionRefusedError, ConnectionRefusedError):
        return "connection-refused", None
    if failure.check(DownloadCancelledError, CancelledError):
        # Scrapy cancels a download that passes DOWNLOAD_MAXSIZE
        return "too-large", None
    return "fetch-error", None
