"""CPU work off the thread that downloads, in a pool of worker processes.

Twisted runs every download, timer and callback on one thread.  Decoding, extracting and
matching a page (`crawler.analyse.analyse`) takes from milliseconds to seconds of CPU, and
parsing a feed of 100,000 entries tens of seconds; on that thread it would stall every other
download in flight until their timeouts fire.  `Workers` hands such steps to a pebble
`ProcessPool` of `[crawl] workers` processes (one per core by default), so they run on every
core while the reactor only downloads, schedules and writes:

- a step is scheduled without blocking (`ProcessPool.schedule` only queues it); its future's
  result comes back to the reactor thread through `reactor.callFromThread`, so results and
  failures arrive in the order the steps finish;
- a step that runs longer than `[crawl] processing_timeout`, or whose process dies (SIGKILL,
  the OOM killer, a crash in C code), raises `ProcessingTimeout` here; pebble replaces the
  process and the crawl goes on;
- the processes are forked once per crawl: by `topicwatch crawl` before it imports Scrapy
  (`crawler.pool.fork_early`), else when the spider starts (and after every `MAX_TASKS` steps,
  which bounds what a leaking parser can hold); what only they use (trafilatura, by
  `crawler.analyse`) they import themselves, side by side; steps name such functions as
  "module:function" strings.  They are stopped when the spider closes or the reactor shuts
  down.

The pool itself, and what runs in the workers, is `crawler/pool.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from pebble import ProcessExpired, ProcessPool
from scrapy import signals
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

from crawler.errors import ProcessingTimeout
from crawler.pool import call, new_pool, ready, take_early

T = TypeVar("T")
log = logging.getLogger(__name__)


class Workers:
    """The crawl's worker processes, forked on first use."""

    def __init__(self, count: int, timeout: float):
        self.count = count
        self.timeout = timeout
        self.pool: ProcessPool | None = None
        self.stopped = False

    def _started(self) -> ProcessPool:
        if self.pool is None:
            from twisted.internet import reactor

            self.pool = take_early(self.count) or new_pool(self.count)
            reactor.addSystemEventTrigger("during", "shutdown", self.stop)
        return self.pool

    def start(self) -> None:
        """Start the processes now, before the first step needs them."""
        self._started().schedule(ready)

    def stop(self) -> None:
        """Stop the processes (a step still running is abandoned)."""
        if self.pool is not None and not self.stopped:
            self.stopped = True
            self.pool.stop()
            self.pool.join(timeout=10)

    async def run(self, fn: Callable[..., T] | str, *args: Any) -> T:
        """`fn(*args)` in a worker process (`fn` a function or a "module:function" string):
        its result or its exception here, or `ProcessingTimeout` when it ran too long or its
        process died."""
        from twisted.internet import reactor

        if isinstance(fn, str):
            fn, args = call, (fn, *args)
        future = self._schedule(fn, args)
        done: Deferred = Deferred(lambda _: future.cancel())
        future.add_done_callback(lambda f: reactor.callFromThread(self._settle, done, f))
        return await maybe_deferred_to_future(done)

    def _schedule(self, fn: Callable[..., Any], args: tuple) -> Future:
        pool = self._started()
        try:
            return pool.schedule(fn, args, timeout=self.timeout)
        except RuntimeError:  # pebble's "The Pool is not active" / "Unexpected error within the Pool"
            if self.stopped:
                raise ProcessingTimeout("cancelled: the crawl is stopping") from None
        # pebble gives up on its pool when a worker dies while no step runs (the OOM killer
        # or a kill of an idle worker; pebble issue 70): a new pool, and the crawl goes on
        log.warning("a worker process died while idle and its pool stopped; starting %d new "
                    "worker process(es)", self.count)
        pool.stop()
        pool.join(timeout=5)
        self.pool = new_pool(self.count)
        return self.pool.schedule(fn, args, timeout=self.timeout)

    def _settle(self, done: Deferred, future: Future) -> None:
        """On the reactor thread: fire `done` with what became of `future`."""
        if done.called:  # cancelled while it ran
            return
        try:
            result = future.result()
        except FutureTimeout:
            done.errback(ProcessingTimeout(f"took longer than {self.timeout:g} s; worker replaced"))
        except ProcessExpired as e:
            done.errback(ProcessingTimeout(f"worker process died ({e}); replaced"))
        except BrokenProcessPool as e:  # its pool stopped under it (see _schedule)
            done.errback(ProcessingTimeout(f"worker processes stopped ({e}); replaced"))
        except CancelledError:
            done.errback(ProcessingTimeout("cancelled: the crawl is stopping"))
        except Exception as e:
            done.errback(e)
        else:
            done.callback(result)


def workers_of(crawler: Any) -> Workers:
    """The crawl's workers (one pool per crawler, shared by the spider and the pipelines)."""
    workers = getattr(crawler, "_topicwatch_workers", None)
    if workers is None:
        from crawler.fetch.settings import config_of

        crawl = config_of(crawler.settings).crawl
        workers = Workers(crawl.worker_count, crawl.processing_timeout)
        crawler._topicwatch_workers = workers
        crawler.signals.connect(workers.stop, signal=signals.engine_stopped)
    return workers
