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
  (`crawler.pool.fork_early`), else when the spider starts; a worker is replaced after
  `MAX_TASKS` steps, which bounds what a leaking parser can hold.  What only they use
  (trafilatura, by `crawler.analyse`) they import themselves, one after the other; steps name
  such functions as "module:function" strings.  They are stopped when the spider closes or
  the reactor shuts down;
- pebble gives up on its pool when a worker dies while no step runs (pebble issue 70); a new
  pool replaces it, up to `MAX_NEW_POOLS` times in a row without a step done in between
  (workers that die as they start would otherwise be forked again for every page).  The
  steps still queued in a pool pebble gave up on are never answered by it (pebble issue 163):
  a check every `WATCH_SECONDS` fails them, or the crawl would wait for them for ever.

The pool itself, and what runs in the workers, is `crawler/pool.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, InvalidStateError
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
MAX_NEW_POOLS = 3  # pools started in a row, after pebble gave up, with no step done in between
WATCH_SECONDS = 1.0  # how often a pool is checked for having stopped under waiting steps


class Workers:
    """The crawl's worker processes: the pool `topicwatch crawl` forked early, else one forked
    on first use."""

    def __init__(self, count: int, timeout: float):
        self.count = count
        self.timeout = timeout
        self.pool: ProcessPool | None = None
        self.stopped = False
        self.new_pools = 0  # started in a row since a step last came back
        self.pending: set[Future] = set()  # scheduled, not answered yet
        self.watch: Any = None  # the LoopingCall of _fail_if_stopped
        self.stopped_seen: ProcessPool | None = None  # the pool found stopped at the last check

    def _started(self) -> ProcessPool:
        if self.pool is None:
            from twisted.internet import reactor
            from twisted.internet.task import LoopingCall

            self.pool = take_early(self.count) or new_pool(self.count)
            reactor.addSystemEventTrigger("during", "shutdown", self.stop)
            self.watch = LoopingCall(self._fail_if_stopped)
            self.watch.start(WATCH_SECONDS, now=False)
        return self.pool

    def _fail_if_stopped(self) -> None:
        """Fail the steps waiting in a pool pebble gave up on (see the module docstring); at
        the second check that finds it stopped, when pebble has failed what it will."""
        pool = self.pool
        if self.stopped or pool is None or not self.pending or pool.active:
            self.stopped_seen = None
            return
        if self.stopped_seen is not pool:
            self.stopped_seen = pool
            return
        for future in list(self.pending):
            try:
                future.set_exception(BrokenProcessPool("its worker processes died before taking it"))
            except InvalidStateError:  # answered meanwhile
                pass

    def start(self) -> None:
        """Start the processes now, before the first step needs them."""
        try:
            self._schedule(ready, ())
        except ProcessingTimeout as e:  # the first step says it again, and is recorded
            log.warning("worker processes: %s", e)

    def stop(self) -> None:
        """Stop the processes (a step still running is abandoned)."""
        if self.pool is not None and not self.stopped:
            self.stopped = True
            if self.watch is not None and self.watch.running:
                self.watch.stop()
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
        self.pending.add(future)
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
        if self.new_pools >= MAX_NEW_POOLS:
            raise ProcessingTimeout(f"worker processes died {MAX_NEW_POOLS} times in a row before "
                                    "they did any work (see the log above); not started again")
        self.new_pools += 1
        log.warning("a worker process died while idle and its pool stopped; starting %d new "
                    "worker process(es)", self.count)
        pool.stop()
        pool.join(timeout=5)
        self.pool = new_pool(self.count)
        try:
            return self.pool.schedule(fn, args, timeout=self.timeout)
        except RuntimeError as e:  # BrokenProcessPool: the fork itself failed
            raise ProcessingTimeout(f"worker processes could not be started ({e})") from None

    def _settle(self, done: Deferred, future: Future) -> None:
        """On the reactor thread: fire `done` with what became of `future`."""
        self.pending.discard(future)
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
            self.new_pools = 0
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
