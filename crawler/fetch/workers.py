"""CPU work off the thread that downloads.

Twisted runs every download, timer and callback on one thread.  Parsing a feed of 100,000
entries or extracting a page of 50,000 attributes takes tens of seconds of CPU; on that thread
it would stall every other download in flight until their timeouts fire, so one hostile page
would make healthy pages fail as `timeout`.  `Workers` runs such steps (`analyse`, the source
parsers) on one worker thread of its own, not the reactor's pool, which DNS lookups use.  One
thread: the steps stay in the order the crawl hands them over, never run two at a time, and
the downloading thread keeps the time slices it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads
from twisted.python.threadpool import ThreadPool

T = TypeVar("T")


class Workers:
    """A one-thread pool started on first use and stopped when the reactor shuts down."""

    def __init__(self) -> None:
        self.pool: ThreadPool | None = None

    def _started(self) -> ThreadPool:
        if self.pool is None:
            from twisted.internet import reactor

            self.pool = ThreadPool(minthreads=1, maxthreads=1, name="topicwatch-worker")
            self.pool.start()
            reactor.addSystemEventTrigger("during", "shutdown", self.pool.stop)
        return self.pool

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on the worker thread; its result or its exception here."""
        from twisted.internet import reactor

        pool = self._started()
        return await maybe_deferred_to_future(
            threads.deferToThreadPool(reactor, pool, fn, *args, **kwargs))


def workers_of(crawler: Any) -> Workers:
    """The crawl's workers (one set per crawler, shared by the spider and the pipelines)."""
    workers = getattr(crawler, "_topicwatch_workers", None)
    if workers is None:
        workers = Workers()
        crawler._topicwatch_workers = workers
    return workers
