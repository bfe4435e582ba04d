"""Fetch: the Scrapy adapters, and the only package that imports Scrapy or Twisted.

- `settings`: `scrapy_settings(settings)`, the one translation of settings.toml into Scrapy
  settings, applied by the spider's `update_settings` for `topicwatch crawl` and
  `scrapy crawl topicwatch` alike.
- `spider`: `TopicSpider` navigates: sources -> feed / sitemap / listing requests -> article
  requests -> `Fetched` items.  It decides nothing about state.
- `state`: `FetchState`, the spider middleware that owns what is known about URLs (never fetch
  an article twice, conditional-GET validators, retries, skipped pages), like scrapy-deltafetch.
- `politeness`: robots.txt, including its Crawl-delay, which Scrapy parses but ignores.
- `pipelines`: `AnalysePipeline` (crawler/analyse.py) and `SpoolPipeline`.
- `run`: `RunRecorder`, the extension that opens the run, writes its results and closes it.
- `crawl`: `run_crawl`, one crawl in this process (CrawlerProcess), for `topicwatch crawl`.
- `signals`: the signals these components talk through.
"""

from __future__ import annotations

import inspect
import sys
import threading
from typing import Any


def _import_tls_factories() -> None:
    """Import Scrapy's TLS context factories without three walks of the whole stack.

    `scrapy.core.downloader.contextfactory`, which Scrapy's HTTP download handler imports,
    makes three deprecated aliases with `scrapy.utils.deprecate.create_deprecated_class`. That
    calls `inspect.stack()` for the one frame that names the aliases' module, and
    `inspect.stack()` reads the source of every frame on the stack and scans `sys.modules` for
    each (CPython issue 92041): 0.07-0.16 s of each crawl's start-up, more than the rest of
    Scrapy's import after the TLS libraries.  For that one import `inspect.stack` gives the two
    frames the function reads, without their source; the aliases' `__module__` comes out the
    same.  tests/test_fetch.py fails when Scrapy stops calling `inspect.stack` there (then this
    adapter goes) and checks the aliases' module.
    """
    if "scrapy.core.downloader.contextfactory" in sys.modules:
        return
    real = inspect.stack
    importing = threading.get_ident()

    def two_frames(context: int = 1) -> list[Any]:
        caller = sys._getframe(1)  # create_deprecated_class; [1] is what made the alias
        if threading.get_ident() != importing or caller.f_code.co_name != "create_deprecated_class":
            return real(context)[1:]  # anyone else (another thread) gets the real stack
        return [inspect.FrameInfo(frame, frame.f_code.co_filename, frame.f_lineno,
                                  frame.f_code.co_name, None, None)
                for frame in (caller, caller.f_back)]

    inspect.stack = two_frames
    try:
        import scrapy.core.downloader.contextfactory  # noqa: F401
    finally:
        inspect.stack = real


_import_tls_factories()
