"""Item pipelines: thin adapters from Scrapy to `crawler.analyse` and the spool.

A page turned away is dropped with a typed `DropItem` carrying its reason and outcome, so
per-reason counts appear in the crawl stats and the fetch state records a `skipped` row.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem

from crawler.errors import ProcessingTimeout
from crawler.fetch import signals as tw_signals
from crawler.fetch.settings import config_of
from crawler.fetch.workers import workers_of
from crawler.records import Fetched, Outcome, SkipReason, SpoolItem, Verdict
from crawler.store.db import open_db
from crawler.store.spool import SqliteSpool

if TYPE_CHECKING:
    from crawler.dedup import NearDup

PREFIX = "topicwatch/"
ANALYSE = "crawler.analyse:analyse"  # imported by the worker processes only (workers.py)


class Dropped(DropItem):
    """A page turned away; `reason` is its `skipped.reason`, `outcome` its `pages.outcome`."""

    def __init__(self, verdict: Verdict, url: str):
        super().__init__(f"{url}: {verdict.reason}" + (f" ({verdict.detail})" if verdict.detail else ""))
        self.reason = verdict.reason
        self.outcome = verdict.outcome or Outcome.NOT_ARTICLE
        self.verdict = verdict


class NotAnArticle(Dropped):
    pass


class TooOld(Dropped):
    pass


class NotOnTopic(Dropped):
    pass


class ProcessingError(Dropped):
    pass


class ProcessingTimedOut(Dropped):
    pass


_DROPS = {SkipReason.TOO_OLD: TooOld, SkipReason.OFF_TOPIC: NotOnTopic,
          SkipReason.PROCESSING_ERROR: ProcessingError,
          SkipReason.PROCESSING_TIMEOUT: ProcessingTimedOut}


class _Stage:
    def __init__(self, crawler: Any):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> Any:
        return cls(crawler)

    def count(self, counter: str, source: str) -> None:
        self.crawler.stats.inc_value(PREFIX + counter)
        self.crawler.stats.inc_value(f"{PREFIX}source/{source}/{counter}")


class AnalysePipeline(_Stage):
    """Fetched page -> SpoolItem (decode, extract, age limit, topics, the text's dedup keys),
    or a typed drop."""

    near: NearDup | None = None

    async def process_item(self, item: Fetched) -> SpoolItem:
        plan = self.crawler.spider.plan
        # in a worker process: a page that takes long to extract stalls no download; the
        # dedup keys are computed there too, not by ingest on this process's thread
        crawl, d = plan.settings.crawl, plan.settings.dedup
        if self.near is None:  # with the first article page: a crawl that fetches none never imports it
            from crawler.dedup import NearDup

            self.near = NearDup(d.near_threshold, d.num_perm, d.shingle_size)
        try:
            verdict = await workers_of(self.crawler).run(
                ANALYSE, item, plan.topics, crawl.max_age_days, crawl.max_title_chars, self.near)
        except ProcessingTimeout as e:
            verdict = Verdict(reason=SkipReason.PROCESSING_TIMEOUT, detail=str(e), outcome=Outcome.RETRY)
        if verdict.article is not None:
            self.count("extracted", item.source)
        if verdict.item is None:
            raise _DROPS.get(verdict.reason, NotAnArticle)(verdict, item.url)
        self.count("matched", item.source)
        return verdict.item


class SpoolPipeline(_Stage):
    """Each matched item into the spool, tagged with the run."""

    spool: SqliteSpool
    run_id: int

    @classmethod
    def from_crawler(cls, crawler: Any) -> SpoolPipeline:
        stage = cls(crawler)
        crawler.signals.connect(stage.run_opened, signal=tw_signals.run_opened)
        return stage

    def run_opened(self, run_id: int) -> None:
        self.run_id = run_id
        self.spool = SqliteSpool(open_db(config_of(self.crawler.settings).corpus_path))

    def process_item(self, item: SpoolItem) -> SpoolItem:
        item = dataclasses.replace(item, run_id=self.run_id)  # all else as analysed, `tested` too
        self.spool.put(item)
        return item

