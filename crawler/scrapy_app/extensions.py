"""Extensions."""

from __future__ import annotations

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured


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
        from crawler.ingest import Ingester

        ctx = spider.ctx
        Ingester(ctx.db, ctx.settings.dedup).ingest()
