"""One crawl in this process, for `topicwatch crawl`: the same spider, middlewares and
`RunRecorder` as `scrapy crawl topicwatch`, plus progress for the terminal and signals.

Twisted's reactor cannot be restarted in one process (scrapy/scrapy#5026), so this runs once
per process: the daemon starts a child process per crawl.

SIGINT and SIGTERM are handled here rather than by Scrapy's own handlers, which look the same
but do not say which signal came: the first one stops the crawl gracefully (the spider closes
with reason "shutdown", so the run is recorded `interrupted`, and what was found is ingested),
a second one stops at once (what was spooled waits for the next ingest).  The caller learns
which signal it was and exits 130 or 143.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from twisted.internet import task

from crawler.config import Settings
from crawler.fetch import signals as tw_signals
from crawler.fetch.handler import drop_queued
from crawler.fetch.settings import base_settings
from crawler.fetch.spider import TopicSpider
from crawler.pool import quiet_extractors
from crawler.records import RunStats, RunStatus
from crawler.store import runs
from crawler.store.db import open_db

if TYPE_CHECKING:
    from crawler.store.ingest import IngestStats

PROGRESS_SECONDS = 0.25


@dataclass
class CrawlResult:
    run_id: int
    stats: RunStats
    status: str
    signal: int | None = None  # the SIGINT / SIGTERM that stopped the crawl


def run_crawl(settings: Settings, source_names=(), topic_names=(), *, run_id: int | None = None,
              trigger: str = "crawl", ingest: bool = True, log_level: str = "WARNING",
              on_progress: Callable[[RunStats], None] | None = None,
              on_ingest: Callable[[IngestStats], None] | None = None,
              on_stop: Callable[[int], None] | None = None) -> CrawlResult:
    """Crawl the selected sources once (and ingest, unless `ingest` is False)."""
    process = CrawlerProcess(base_settings(settings, TOPICWATCH_INGEST=ingest, LOG_LEVEL=log_level,
                                           LOG_INSTALL_ROOT_HANDLER=True))
    crawler = process.create_crawler(TopicSpider)
    quiet_extractors(log_level)  # after Scrapy configured logging, which resets scrapy.* levels
    opened: list[int] = []
    listeners = _listen(crawler, opened, on_progress, on_ingest)
    stopper = Stopper(process, crawler, on_stop)
    process.crawl(crawler, source=list(source_names), topic=list(topic_names), run_id=run_id,
                  trigger=trigger)
    stopper.install()
    try:
        process.start(install_signal_handlers=False)
    finally:
        stopper.uninstall()
    del listeners
    return _result(settings, opened[0] if opened else run_id, stopper.received, crawler)


class Stopper:
    """The crawl's SIGINT / SIGTERM handlers (see the module docstring)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, process: CrawlerProcess, crawler: Any,
                 on_stop: Callable[[int], None] | None = None):
        self.process, self.on_stop = process, on_stop
        self.received: int | None = None
        self.started = False
        self.previous: dict[int, Any] = {}
        crawler.signals.connect(self.engine_started, signal=signals.engine_started)

    def engine_started(self) -> None:
        self.started = True

    def install(self) -> None:
        """Handle both signals, except one this process was told to ignore (a background job
        of a non-interactive shell ignores Ctrl-C meant for the foreground)."""
        for sig in self.SIGNALS:
            if signal.getsignal(sig) is not signal.SIG_IGN:
                self.previous[sig] = signal.signal(sig, self.handle)

    def uninstall(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def handle(self, signum: int, frame: Any) -> None:
        """In a signal handler: only note the signal and hand the work to the reactor."""
        from twisted.internet import reactor

        if self.received is None:
            self.received = signum
            if self.on_stop is not None:  # said from the reactor: no output in a handler
                reactor.callFromThread(self.on_stop, signum)
            reactor.callFromThread(self.stop)
        else:
            reactor.callFromThread(self.force)

    def stop(self) -> None:
        """Close the spider gracefully, once the engine runs (a stop asked before would be lost)."""
        from twisted.internet import reactor

        if not self.started:
            reactor.callLater(0.1, self.stop)
            return
        self.process.stop()  # the engine stops taking requests (its `running` goes False)...
        for crawler in self.process.crawlers:  # ...and what its downloader queued is not sent
            if crawler.engine is not None:
                drop_queued(crawler.engine.downloader)

    def force(self) -> None:
        from twisted.internet import reactor

        with contextlib.suppress(RuntimeError):  # already stopping
            reactor.stop()


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
    for receiver, signal_ in receivers:
        crawler.signals.connect(receiver, signal=signal_)
    return [r for r, _ in receivers]


def _result(settings: Settings, run_id: int | None, received: int | None,
            crawler: Any = None) -> CrawlResult:
    """The run as recorded.  A run the crawl never closed was stopped by a second signal
    (interrupted: its counters, which the spider's close would have written, are written
    here from the crawler's stats) or crashed (failed); what it spooled waits for the next
    ingest."""
    if run_id is None:
        raise RuntimeError("the crawl never opened its run: see the log above")
    db = open_db(settings.corpus_path)
    run = runs.get_run(db, run_id)
    if run["status"] == RunStatus.RUNNING:
        if received is not None:
            if crawler is not None and getattr(crawler.spider, "plan", None) is not None:
                counted = RunStats.from_counts(crawler.stats.get_stats(), "topicwatch/")
                runs.record_crawl(db, run_id, counted, [s.name for s in crawler.spider.plan.sources])
            runs.finish_run(db, run_id, RunStatus.INTERRUPTED,
                            f"stopped at once by a second {signal.Signals(received).name}; "
                            "what was spooled is ingested by the next crawl or `topicwatch ingest`")
        else:
            runs.finish_run(db, run_id, RunStatus.FAILED, "the crawl ended without closing its run")
        run = runs.get_run(db, run_id)
    stats = RunStats(**{k: run[k] or 0 for k in RunStats.COUNTERS + ("not_modified",)})
    return CrawlResult(run_id, stats, run["status"], received)
