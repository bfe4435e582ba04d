"""The crawl's worker processes, as a pebble `ProcessPool`; no Scrapy or Twisted here.

`crawler/fetch/workers.py` hands the crawl's CPU work (decoding, extraction, topic matching,
parsing feeds and sitemaps) to these processes and brings the results back to the reactor.
This module only makes the pool, so that `topicwatch crawl` can fork it first (`fork_early`):

- the workers are forked before the crawl's process imports Scrapy, Twisted and the corpus
  code, so what they import themselves (`PRELOAD`: trafilatura and the extraction code, a
  quarter of a second) runs on the second core while the crawl's process imports Scrapy on
  the first; forked later, the first article waited for those imports.  The dedup keys' code
  (crawler/dedup.py: numpy, datasketch) is imported with the first article page, when its
  step's `NearDup` is unpickled: a crawl that fetches no article page never imports it;
- they do not carry Scrapy's and Twisted's modules they never use (less memory per worker);
- pebble forks every worker inside the first `schedule` call, on the calling thread
  (`ProcessPool._start_pool`; tests/test_workers.py checks it, as it must stay so: a fork
  from another thread while this one imports a module would leave that module's import lock
  held forever in the child).  Replacements (after `MAX_TASKS` steps, or for a worker that
  died or hung) are forked later by pebble's manager thread, and a whole new pool by
  `Workers` on the reactor thread, with everything imported.

What goes to a worker is pickled: module-level functions and plain records (`Fetched`,
`Topic`, `Source`, bytes), never a Scrapy object; the functions must live in modules that do
not import Scrapy (a worker forked early would import it to unpickle them).
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import signal
import sys
from typing import Any

from pebble import ProcessPool

MAX_TASKS = 500  # steps a worker process runs before a fresh one replaces it
IMPORT_TURN_SECONDS = 10  # longest a starting worker waits for another to finish its imports
# imported (a "module") or called (a "module:function") by each worker as it starts, not by
# the crawl's process: the steps' modules, and what they would otherwise build on first use
PRELOAD = ("crawler.analyse", "crawler.sources.read", "crawler.text.normalise:warm_up")


# loggers that restate, page by page, what the crawl records and counts itself (the `skipped`
# table, the summary's errors and failed sources): trafilatura's "discarding data: URL" (a
# page without text), Scrapy's "Gave up retrying", "larger than download max size" and a
# robots.txt that could not be fetched.  Shown with -v (quiet_extractors); a bug in topicwatch
# (Scrapy's "Spider error processing", with its traceback) is always shown.
EXTRACTOR_LOGGERS = ("trafilatura", "scrapy.downloadermiddlewares.retry",
                     "scrapy.core.downloader.handlers.http11", "scrapy.downloadermiddlewares.robotstxt")
# Scrapy's LOG_FORMAT and LOG_DATEFORMAT, for the lines of workers forked before Scrapy set up
# logging (tests/test_workers.py checks they are still Scrapy's)
LOG_FORMAT = "%(asctime)s [%(name)s] %(levelname)s: %(message)s"
LOG_DATEFORMAT = "%Y-%m-%d %H:%M:%S"


def quiet_extractors(log_level: str) -> None:
    """Below -v (`log_level` WARNING or higher) these loggers are silent but for critical
    messages; worker processes forked later inherit it."""
    quiet = logging.getLevelName(log_level.upper()) not in (logging.DEBUG, logging.INFO)
    for name in EXTRACTOR_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL if quiet else logging.NOTSET)


def _log_as_the_crawl(log_level: str) -> None:
    """In a worker forked before the crawl set up logging: what the crawl's process gets from
    Scrapy (LOG_INSTALL_ROOT_HANDLER), one stderr handler at `log_level`, and quiet_extractors."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATEFORMAT))
    handler.setLevel(log_level.upper())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Scrapy leaves the root logger at NOTSET and filters in its handler; here the root
    # filters too, so the libraries' debug calls build no records (same lines come out)
    root.setLevel(log_level.upper())
    logging.captureWarnings(True)  # as Scrapy does: warnings in the same format
    quiet_extractors(log_level)


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when the crawl's process dies (kill -9 included); a worker
    busy on a page that never ends would otherwise outlive it."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the worker ends when its pipe closes
        pass


def _worker_started(preload: tuple[str, ...], one_at_a_time: Any, log_level: str | None = None) -> None:
    """In each worker: Ctrl-C and SIGTERM are the crawl's to handle (it stops the pool); the
    crawl's own handlers, when it had installed them before the fork, must not run here.  A
    pool forked before the crawl set up logging is given its `log_level`.  The workers import
    `preload` one after the other: on two cores, two importing beside the crawl's process
    starting up would take a third of its core (its first request went out 1.2 s later,
    measured)."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if log_level is not None:
        _log_as_the_crawl(log_level)
    # bounded: a worker killed in its turn never gives it back; the worker that waited
    # IMPORT_TURN_SECONDS for it gives it back in its stead, so the next ones do not wait
    one_at_a_time.acquire(timeout=IMPORT_TURN_SECONDS)
    try:
        for target in preload:
            if ":" in target:
                call(target)
            else:
                importlib.import_module(target)
    finally:
        try:
            one_at_a_time.release()
        except ValueError:  # given back already, by a worker that waited too long for it
            pass


def call(target: str, *args: Any) -> Any:
    """In a worker: the function `target` names ("module:function") applied to `args`."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)(*args)


def ready() -> None:
    """A step that does nothing: scheduling it starts the processes."""


def new_pool(count: int, log_level: str | None = None) -> ProcessPool:
    """A pool of `count` worker processes, not started yet; `log_level` when this process has
    not set up the crawl's logging yet (the workers inherit it otherwise)."""
    # fork: the workers start with what this process has imported, in milliseconds
    context = multiprocessing.get_context("fork")
    return ProcessPool(max_workers=count, max_tasks=MAX_TASKS, initializer=_worker_started,
                       initargs=(PRELOAD, context.Lock(), log_level), context=context)


_early: dict[int, ProcessPool] = {}


def fork_early(count: int, log_level: str) -> None:
    """Fork `count` workers now, for the crawl this process is about to run (`take_early`),
    which will log at `log_level`."""
    stop_early()
    pool = _early[count] = new_pool(count, log_level)  # stop_early finds it, whatever happens next
    pool.schedule(ready)  # pebble forks every worker here, on this thread


def take_early(count: int) -> ProcessPool | None:
    """The pool `fork_early` made, when it has `count` workers; it is then the caller's."""
    pool = _early.pop(count, None)
    stop_early()  # one of another size is of no use
    return pool


def stop_early() -> None:
    """Stop a pool `fork_early` made that no crawl took (the command ended before its crawl)."""
    while _early:
        _, pool = _early.popitem()
        pool.stop()
        pool.join(timeout=10)
