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
- the processes are forked once per crawl, when the spider starts (and after every
  `MAX_TASKS` steps, which bounds what a leaking parser can hold), so they start with Scrapy
  and the crawler already imported; what only they use (trafilatura, by `crawler.analyse`:
  a third of a second) they import themselves, side by side, while the crawl's own process
  fetches robots.txt and the feeds; steps name such functions as "module:function" strings.
  They are stopped when the spider closes or the reactor shuts down.

What goes to a worker is pickled: module-level functions and plain records (`Fetched`,
`Topic`, `Source`, bytes), never a Scrapy object.
"""

from __future__ import annotations

import importlib
import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from pebble import ProcessExpired, ProcessPool
from scrapy import signals
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

from crawler.errors import ProcessingTimeout

T = TypeVar("T")
MAX_TASKS = 500  # steps a worker process runs before a fresh one replaces it
PRELOAD = ("crawler.analyse",)  # imported by each worker as it starts, not by the crawl


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when the crawl's process dies (kill -9 included); a worker
    busy on a page that never ends would otherwise outlive it."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the worker ends when its pipe closes
        pass


def _worker_started(preload: tuple[str, ...]) -> None:
    """In each worker: Ctrl-C and SIGTERM are the crawl's to handle (it stops the pool); the
    crawl's own handlers, inherited by fork, must not run here."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for module in preload:
        importlib.import_module(module)


def call(target: str, *args: Any) -> Any:
    """In a worker: the function `target` names ("module:function") applied to `args`."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)(*args)


def _ready() -> None:
    """A step that does nothing: scheduling it starts the processes."""


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

            # fork: the workers start with everything imported, in milliseconds
            self.pool = ProcessPool(max_workers=self.count, max_tasks=MAX_TASKS,
                                    initializer=_worker_started, initargs=(PRELOAD,),
                                    context=multiprocessing.get_context("fork"))
            reactor.addSystemEventTrigger("during", "shutdown", self.stop)
        return self.pool

    def start(self) -> None:
        """Start the processes now, before the first step needs them."""
        self._started().schedule(_ready)

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
        future = self._started().schedule(fn, args, timeout=self.timeout)
        done: Deferred = Deferred(lambda _: future.cancel())
        future.add_done_callback(lambda f: reactor.callFromThread(self._settle, done, f))
        return await maybe_deferred_to_future(done)

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
