"""One crawl, start to end: run the spider in this process, then ingest the spool."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from scrapy.crawler import CrawlerProcess

from crawler import store
from crawler.config import Settings
from crawler.errors import NothingFetched
from crawler.ingest import Ingester, IngestStats
from crawler.records import RunStats
from crawler.scrapy_app.context import CrawlContext
from crawler.scrapy_app.settings import scrapy_settings
from crawler.scrapy_app.spider import TopicSpider

log = logging.getLogger(__name__)


@dataclass
class CrawlResult:
    run_id: int
    stats: RunStats
    status: str


def run_crawl(settings: Settings, source_names=(), topic_names=(), *, run_id: int | None = None,
              trigger: str = "crawl", ingest: bool = True, log_level: str = "WARNING",
              on_progress: Callable[[RunStats], None] | None = None,
              on_ingest: Callable[[IngestStats], None] | None = None) -> CrawlResult:
    """Crawl the selected sources once.  Twisted's reactor cannot restart in one process, so
    this runs once per process: the daemon calls it in a child process."""
    ctx = CrawlContext.open(settings, source_names, topic_names, run_id=run_id, trigger=trigger)
    ctx.on_progress = on_progress
    status, error = "ok", None
    try:
        process = CrawlerProcess(
            scrapy_settings(settings, TOPICWATCH_INGEST_AT_CLOSE=False, LOG_LEVEL=log_level,
                            LOG_INSTALL_ROOT_HANDLER=True),
        )
        process.crawl(TopicSpider, ctx=ctx)
        process.start()
        s = ctx.stats
        if s.fetched == 0 and s.not_modified == 0 and s.errors > 0:
            status = "nothing-fetched"
        if ingest:
            Ingester(ctx.db, settings.dedup).ingest(progress=on_ingest)
    except BaseException as e:
        status, error = "failed", f"{type(e).__name__}: {e}"
        raise
    finally:
        store.finish_run(ctx.db, ctx.run_id, status, error)
        row = ctx.db.execute("SELECT new, duplicates FROM runs WHERE id = ?", [ctx.run_id]).fetchone()
        ctx.stats.new, ctx.stats.duplicates = row[0], row[1]
    if status == "nothing-fetched":
        raise NothingFetched(f"nothing could be fetched from {len(ctx.sources)} source(s); see the skipped table for run {ctx.run_id}")
    return CrawlResult(ctx.run_id, ctx.stats, status)


