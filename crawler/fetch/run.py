"""`RunRecorder`: the extension that gives every crawl its `runs` row, however it was started.

On `spider_opened` it closes the runs a killed process left open, copies the sources' health
thresholds, and starts the run (or adopts the one the daemon started) and announces it with
`run_opened`.  On `spider_closed` it writes the counters and per-source results, ingests the
spool when `TOPICWATCH_INGEST` is on, and ends the run with the status
`crawler.store.runs.final_status` decides from how the crawl closed.

With `TOPICWATCH_INGEST` on it also drains the spool every `INGEST_SECONDS` while the crawl
runs: the crawl's process mostly waits for the network and for its workers, so what was found
is stored meanwhile instead of after the last download (a crawl's tail was a second of ingest
per 150 articles).  Each item still moves from spool to corpus in one transaction, so a kill at
any moment leaves it in exactly one of the two, and `--no-ingest` (the daemon's crawls, whose
spool its own ingester drains) leaves the spool alone.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import TYPE_CHECKING, Any

from scrapy import signals
from twisted.internet import task

from crawler.fetch import signals as tw_signals
from crawler.records import RunStats
from crawler.store import health, rematch, runs, unmatched
from crawler.store.db import open_db
from crawler.store.spool import SqliteSpool

if TYPE_CHECKING:  # imported when the first drain needs it: datasketch (and numpy's hashing)
    # take a third of a second, which the crawl spends downloading instead
    from crawler.store.ingest import Ingester, IngestStats

PREFIX = "topicwatch/"
INGEST_SECONDS = 2.0
log = logging.getLogger("topicwatch.topics")


class RunRecorder:
    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.db = None
        self.run_id: int | None = None
        self.ingester: Ingester | None = None
        self.ingested = (0, 0)  # new, duplicates: by the drains during the crawl
        self.drains: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> RunRecorder:
        recorder = cls(crawler)
        crawler.signals.connect(recorder.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(recorder.spider_closed, signal=signals.spider_closed)
        return recorder

    def spider_opened(self, spider: Any) -> None:
        plan = spider.plan
        self.db = open_db(plan.settings.corpus_path)
        health.refresh_source_settings(self.db, plan.settings)
        runs.mark_interrupted_runs(self.db)
        if plan.run_id is None:
            self.run_id = runs.start_run(self.db, plan.trigger, [s.name for s in plan.sources],
                                         pid=os.getpid())
        else:
            self.run_id = plan.run_id
            runs.adopt_run(self.db, plan.run_id, os.getpid())
        self._apply_topics(plan)
        self.crawler.signals.send_catch_log(tw_signals.run_opened, run_id=self.run_id)
        if self.crawler.settings.getbool("TOPICWATCH_INGEST"):
            self.drains = task.LoopingCall(self._drain, plan)
            self.drains.start(INGEST_SECONDS, now=False)

    def _drain(self, plan: Any) -> None:
        """Ingest what the crawl has spooled so far (on the reactor's thread, between downloads)."""
        if not self._spooled():
            return
        stats = self._ingester(plan).ingest()
        self.ingested = (self.ingested[0] + stats.new, self.ingested[1] + stats.duplicates)

    def _spooled(self) -> bool:
        """Whether the spool holds anything: the ingester (datasketch, a third of a second of
        imports) is loaded only when there is work for it."""
        return len(SqliteSpool(self.db)) > 0

    def _ingester(self, plan: Any) -> Ingester:
        if self.ingester is None:
            from crawler.store.ingest import Ingester

            self.ingester = Ingester(self.db, plan.settings.dedup)
        return self.ingester

    def _apply_topics(self, plan: Any) -> None:
        """The crawl's topics, added or changed since what is stored was matched, applied to
        stored articles and kept pages (crawler/store/rematch.py) before anything is fetched:
        kept pages that match now are spooled into this run.  Then pages kept longer than
        `[corpus] keep_unmatched_days` are dropped."""
        stats = rematch.apply_topics(self.db, plan.topics, run_id=self.run_id)
        if stats.tested:
            log.warning("topics new or changed since the corpus was matched (%s): %d stored "
                        "article(s) and %d kept page(s) matched again; %d kept page(s) match now",
                        ", ".join(stats.topics), stats.articles, stats.pages, stats.spooled)
            self.crawler.stats.inc_value(PREFIX + "matched", stats.spooled)  # spooled into this run
        unmatched.prune(self.db, plan.settings.corpus.keep_unmatched_days)

    def spider_closed(self, spider: Any, reason: str) -> None:
        plan = spider.plan
        stats = RunStats.from_counts(self.crawler.stats.get_stats(), PREFIX)
        runs.record_crawl(self.db, self.run_id, stats, [s.name for s in plan.sources])
        if self.drains is not None and self.drains.running:
            self.drains.stop()
        if self.crawler.settings.getbool("TOPICWATCH_INGEST") and self._spooled():
            self._ingester(plan).ingest(progress=self._ingest_progress)
        names = [s.name for s in plan.sources]
        runs.finish_run(self.db, self.run_id, runs.final_status(reason, stats, names),
                        None if reason == "finished" else _early(reason, self.crawler))

    def _ingest_progress(self, stats: IngestStats) -> None:
        """Progress of the last drain, counting what the drains during the crawl stored."""
        total = dataclasses.replace(stats, new=self.ingested[0] + stats.new,
                                    duplicates=self.ingested[1] + stats.duplicates)
        self.crawler.signals.send_catch_log(tw_signals.ingest_progress, stats=total)


def _early(reason: str, crawler: Any) -> str:
    """Why a crawl closed before it finished, in words."""
    if reason == "shutdown":
        kept = "ingested" if crawler.settings.getbool("TOPICWATCH_INGEST") else "spooled"
        return f"stopped by a signal before the end; what was found so far was {kept}"
    return f"the crawl stopped early: {reason}"
