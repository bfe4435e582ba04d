"""Item pipelines: thin adapters from Scrapy to the extract, topics and spool stages.

Each drop is a typed `DropItem` carrying a reason, so per-reason counts appear in the crawl
stats and each dropped page becomes a `skipped` row (see TopicSpider.item_dropped).
"""

from __future__ import annotations

import dataclasses

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler import extract, sources, topics
from crawler.records import Page, SpoolItem


class Dropped(DropItem):
    reason = "dropped"
    outcome = "not-article"

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        if reason:
            self.reason = reason


class NotAnArticle(Dropped):
    reason = "not-article"


class TooOld(Dropped):
    reason = "too-old"
    outcome = "too-old"


class NotOnTopic(Dropped):
    reason = "off-topic"
    outcome = "off-topic"


class _Stage:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler):
        return cls(crawler)

    @property
    def ctx(self):
        return self.crawler.spider.ctx


class ExtractPipeline(_Stage):
    def process_item(self, item: Page) -> SpoolItem:
        try:
            article = extract.extract(item)
        except extract.NotAnArticle as e:
            raise NotAnArticle(f"{item.url}: {e.reason}", reason=e.reason) from None
        entry = item.entry
        if entry and not article.published and entry.published:
            article = dataclasses.replace(article, published=entry.published)
        self.ctx.bump("extracted", item.source)
        return SpoolItem(article=article, matches=(), run_id=self.ctx.run_id,
                         requested_url=item.requested_url)


class TooOldPipeline(_Stage):
    def process_item(self, item: SpoolItem) -> SpoolItem:
        max_age = self.ctx.settings.crawl.max_age_days
        if sources.is_too_old(item.article.published, max_age):
            raise TooOld(f"{item.article.url}: published {item.article.published}")
        return item


class TopicPipeline(_Stage):
    def process_item(self, item: SpoolItem) -> SpoolItem:
        matches = topics.match_topics(item.article, self.ctx.topics)
        if not matches:
            raise NotOnTopic(f"{item.article.url}: matches no topic")
        self.ctx.bump("matched", item.article.source)
        return SpoolItem(article=item.article, matches=matches, run_id=item.run_id,
                         requested_url=item.requested_url)


class SpoolPipeline(_Stage):
    def process_item(self, item: SpoolItem) -> SpoolItem:
        self.ctx.spool.put(item)
        return item
