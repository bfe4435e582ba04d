"""Extensions."""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.extensions.throttle import AutoThrottle


class IngestAtClose:
    """`scrapy crawl topicwatch` ingests its spool when the spider closes.

    `topicwatch crawl` and the daemon ingest themselves (with progress and their own LSH
    index) and switch this off with TOPICWATCH_INGEST_AT_CLOSE = False."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IngestAtClose:
        if not crawler.settings.getbool("TOPICWATCH_INGEST_AT_CLOSE", True):
            raise NotConfigured
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_closed(self, spider, reason: str) -> None:
        from crawler import store
        from crawler.ingest import Ingester

        ctx = spider.ctx
        Ingester(ctx.db, ctx.settings.dedup).ingest()
        store.finish_run(ctx.db, ctx.run_id, "ok" if reason == "finished" else "interrupted",
                         None if reason == "finished" else f"spider closed: {reason}")


class PoliteAutoThrottle(AutoThrottle):
    """AutoThrottle that never lowers a host's delay below its robots.txt Crawl-delay.

    AutoThrottle adjusts a slot's delay after each response, and the slot releases its queued
    requests right then, before any middleware sees them again; so the floor belongs here."""

    def _adjust_delay(self, slot, latency: float, response) -> None:
        super()._adjust_delay(slot, latency, response)
        delays = self.crawler.__dict__.get("topicwatch_crawl_delays", {})
        floor = delays.get(urlsplit(response.url).hostname or "")
        if floor:
            slot.delay = max(slot.delay, floor)
            slot.jitter = 0.0
