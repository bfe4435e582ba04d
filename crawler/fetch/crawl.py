"""One crawl in this process, for `topicwatch crawl`: the same spider, middlewares and
`RunRecorder` as `scrapy crawl topicwatch`, plus progress for the terminal.

Twisted's reactor cannot be restarted in one process (scrapy/scrapy#5026), so this runs once
per process: the daemon starts a child process per crawl.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from twisted.internet import task

from crawler.config import Settings
from crawler.errors import NothingFetched
from crawler.fetch import signals as tw_signals
from crawler.fetch.settings import base_settings
from crawler.fetch.spider import TopicSpider
from crawler.records import RunStats, RunStatus
from crawler.store import runs
from crawler.store.db import open_db
from crawler.store.ingest import IngestStats

PROGRESS_SECONDS = 0.25


@dataclass
class CrawlResult:
    run_id: int
    stats: RunStats
    status: str


def run_crawl(settings: Settings, source_names=(), topic_names=(), *, run_id: int | None = None,
              trigger: str = "crawl", ingest: bool = True, log_level: str = "WARNING",
              on_progress: Callable[[RunStats], None] | None = None,
              on_ingest: Callable[[IngestStats], None] | None = None) -> CrawlResult:
    """Crawl the selected sources once (and ingest, unless `ingest` is False)."""
    process = CrawlerProcess(base_settings(settings, TOPICWATCH_INGEST=ingest, LOG_LEVEL=log_level,
                                           LOG_INSTALL_ROOT_HANDLER=True))
    crawler = process.create_crawler(TopicSpider)
    opened: list[int] = []
    listeners = _listen(crawler, opened, on_progress, on_ingest)
    process.crawl(crawler, source=list(source_names), topic=list(topic_names), run_id=run_id,
                  trigger=trigger)
    process.start()
    del listeners
    return _result(settings, opened[0] if opened else run_id, crawler)


def _listen(crawler: Any, opened: list[int], on_progress: Callable | None,
            on_ingest: Callable | None) -> list[Callable]:
    """Connect the callbacks; signal receivers are weak references, so the caller keeps the
    returned list alive for the crawl's duration."""
    def remember(run_id: int) -> None:
        opened.append(run_id)

    def ingest_progress(stats: IngestStats) -> None:
        if on_ingest:
            on_ingest(stats)

    tickers: list[task.LoopingCall] = []

    def tick() -> None:
        if on_progress:
            on_progress(RunStats.from_counts(crawler.stats.get_stats(), "topicwatch/"))

    def started(spider: Any) -> None:
        # created here, not before: LoopingCall() imports the global reactor, which must be
        # the one Scrapy installs when the crawl starts
        tickers.append(task.LoopingCall(tick))
        tickers[0].start(PROGRESS_SECONDS)

    def stopped(spider: Any) -> None:
        if tickers and tickers[0].running:
            tickers[0].stop()

    receivers = [(remember, tw_signals.run_opened), (ingest_progress, tw_signals.ingest_progress),
                 (started, signals.spider_opened), (stopped, signals.spider_closed)]
    for receiver, signal in receivers:
        crawler.signals.connect(receiver, signal=signal)
    return [r for r, _ in receivers]


def _result(settings: Settings, run_id: int | None, crawler: Any) -> CrawlResult:
    """The run as recorded; a run the crawl never closed (it crashed) ends as failed."""
    if run_id is None:
        raise RuntimeError("the crawl never opened its run: see the log above")
    db = open_db(settings.corpus_path)
    run = runs.get_run(db, run_id)
    if run["status"] == RunStatus.RUNNING:
        runs.finish_run(db, run_id, RunStatus.FAILED, "the crawl ended without closing its run")
        run = runs.get_run(db, run_id)
    stats = RunStats(**{k: run[k] or 0 for k in RunStats.COUNTERS + ("not_modified",)})
    if run["status"] == RunStatus.NOTHING_FETCHED:
        n = len(crawler.spider.plan.sources)
        raise NothingFetched(f"nothing could be fetched from {n} source(s); see the skipped "
                             f"table for run {run_id}")
    return CrawlResult(run_id, stats, run["status"])
