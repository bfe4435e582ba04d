"""The one spider: configured sources -> feed, sitemap and listing requests -> article
requests -> `Fetched` items.

It only navigates.  What is known about URLs (fetched before? validators? retries?) is the
fetch-state middleware's (crawler/fetch/state.py); parsing is crawler/sources, run in the
crawl's worker processes (crawler/fetch/workers.py) so a huge document never stalls the
downloads; everything after the fetch happens in the item pipelines.  A feed, sitemap or listing that cannot be read raises
`SourceError` from its callback, and a download that fails is announced with the
`fetch_failed` signal: the fetch state records both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.config import Settings, Source, Topic
from crawler.fetch import signals
from crawler.fetch.handler import NotSent
from crawler.fetch.limits import MAX_SECTIONS_PER_PAGE
from crawler.fetch.settings import config_of, scrapy_settings
from crawler.fetch.workers import Workers, workers_of
from crawler.records import Entry, Fetched
from crawler.sources import news_search, sitemaps
from crawler.sources.read import read_document
from crawler.sources.rules import LinkRules
from crawler.store.db import now
from crawler.text.dates import is_too_old
from crawler.text.urls import canonical_url, is_site_root

LISTING_KINDS = ("feed", "sitemap", "listing", "search")


@dataclass(frozen=True)
class CrawlPlan:
    """What one crawl does: the settings, the sources and topics it was asked for, and the
    run it records into (None: a new run) with the trigger that started it."""

    settings: Settings
    sources: tuple[Source, ...]
    topics: tuple[Topic, ...]
    run_id: int | None = None
    trigger: str = "scrapy crawl"

    def source(self, name: str) -> Source:
        return next(s for s in self.sources if s.name == name)


def _names(value: Any) -> tuple[str, ...]:
    """Spider arguments arrive as `-a source=a,b` strings or as lists from code."""
    if isinstance(value, str):
        return tuple(n.strip() for n in value.split(",") if n.strip())
    return tuple(value or ())


class TopicSpider(scrapy.Spider):
    """`scrapy crawl topicwatch [-a source=A,B] [-a topic=T] [-s TOPICWATCH_SETTINGS=PATH]`."""

    name = "topicwatch"
    plan: CrawlPlan

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        super().update_settings(settings)
        settings.setdict(scrapy_settings(config_of(settings)), priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, source: Any = "", topic: Any = "",
                     run_id: Any = None, trigger: str = "scrapy crawl", **kwargs: Any) -> TopicSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        config = config_of(crawler.settings)
        spider.plan = CrawlPlan(config, config.select_sources(_names(source)),
                                config.select_topics(_names(topic)),
                                int(run_id) if run_id else None, trigger)
        return spider

    # ------------------------------------------------------------ start

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.workers.start()  # they get ready while robots.txt and the sources are fetched
        for source in self.plan.sources:
            for request in self.source_requests(source):
                yield request

    def source_requests(self, source: Source) -> Iterator[scrapy.Request]:
        for url in source.all_urls():
            if source.kind == "sitemap" and is_site_root(url):
                yield scrapy.Request(urljoin(url, "/robots.txt"), callback=self.parse_robots,
                                     errback=self.on_error, dont_filter=True,
                                     meta=_meta("robots", source, (), tw_base=url))
            elif source.kind == "search":
                queries = source.queries or news_search.search_queries(self.plan.topics)
                for feed_url in news_search.expand_search(url, queries):
                    yield self.listing_request(feed_url, source, "search", ())
            else:
                yield self.listing_request(url, source, source.kind, ())

    def listing_request(self, url: str, source: Source, kind: str, parents: tuple,
                        depth: int = 1) -> scrapy.Request:
        """A feed, sitemap or listing page (the fetch state makes it a conditional GET)."""
        meta = _meta(kind, source, parents, tw_depth=depth, handle_httpstatus_list=[304])
        return scrapy.Request(url, callback=self.parse_listing_page, errback=self.on_error, meta=meta)

    # ------------------------------------------------------------ feeds, sitemaps, listings

    @property
    def workers(self) -> Workers:
        return workers_of(self.crawler)

    async def parse_robots(self, response: Response) -> AsyncIterator[scrapy.Request]:
        source = self.plan.source(response.meta["tw_source"])
        text = response.text if response.status == 200 else ""
        base = response.meta["tw_base"]
        found = await self.workers.run(sitemaps.robots_sitemaps, text, base)
        for url in found or sitemaps.default_sitemap_urls(base):
            yield self.listing_request(url, source, "sitemap", ())

    async def parse_listing_page(self, response: Response) -> AsyncIterator[scrapy.Request]:
        if response.status == 304:
            return
        meta = response.meta
        source = self.plan.source(meta["tw_source"])
        parents = (*meta["tw_parents"], response.url)
        entries, more, sections = await self.workers.run(
            read_document, response.body, response.url, _header(response, "Content-Type"),
            meta["tw_kind"], meta.get("tw_depth", 1), source, MAX_SECTIONS_PER_PAGE)
        for url in more:
            yield self.listing_request(url, source, "sitemap", parents)
        for entry in entries:
            request = self.article_request(entry, source, parents, meta["tw_kind"])
            if request is not None:
                yield request
        for url in sections:  # last: past MAX_SECTIONS_PER_PAGE the fetch state stops reading
            yield self.listing_request(url, source, "listing", parents, meta["tw_depth"] + 1)

    def article_request(self, entry: Entry, source: Source, parents: tuple,
                        via: str) -> scrapy.Request | None:
        # a news-search click link stands for the publisher's page; tracking parameters and
        # fragments dropped
        url = canonical_url(news_search.publisher_url(entry.url))
        if urlsplit(url).scheme not in ("http", "https"):
            return None
        rules = LinkRules.of(source.allow, source.deny)
        if rules.denies(url) or (source.kind != "listing" and not rules.allows(url)):
            return None
        if is_too_old(entry.published, self.plan.settings.crawl.max_age_days):
            self.crawler.stats.inc_value("topicwatch/skipped")
            self.crawler.stats.inc_value(f"topicwatch/source/{source.name}/skipped")
            return None
        if via == "sitemap" and entry.title:  # only Google News sitemaps give titles
            via = "news-sitemap"
        return scrapy.Request(url, callback=self.parse_article, errback=self.on_error,
                              meta=_meta("article", source, parents, tw_entry=entry, tw_via=via))

    # ------------------------------------------------------------ articles and failures

    def parse_article(self, response: Response) -> Iterator[Fetched]:
        meta = response.meta
        source = self.plan.source(meta["tw_source"])
        yield Fetched(
            url=response.url, source=source.name, body=response.body,
            content_type=_header(response, "Content-Type"), status=response.status,
            requested_url=(meta.get("redirect_urls") or [None])[0], entry=meta.get("tw_entry"),
            language_hint=source.language or None, encoding=source.encoding or None,
            via=meta.get("tw_via"), fetched_at=now(),
        )

    def retry_request(self, url: str, source_name: str) -> scrapy.Request:
        """An article page that failed transiently in an earlier run (feeds may no longer
        list it); the fetch state adds these after the sources' own requests."""
        meta = _meta("article", self.plan.source(source_name), ())
        return scrapy.Request(url, callback=self.parse_article, errback=self.on_error, meta=meta)

    def on_error(self, failure: Failure) -> None:
        if failure.check(NotSent):  # never sent, nothing to record (crawler/fetch/handler.py)
            return
        self.crawler.signals.send_catch_log(signals.fetch_failed, request=failure.request,
                                            failure=failure)


def _meta(kind: str, source: Source, parents: tuple, **extra: Any) -> dict[str, Any]:
    return {"tw_kind": kind, "tw_source": source.name, "tw_parents": parents, **extra}


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None

