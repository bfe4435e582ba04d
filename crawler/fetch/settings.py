"""Scrapy settings: the module scrapy.cfg names, and `scrapy_settings()`, the one function that
turns settings.toml into Scrapy settings.

`TopicSpider.update_settings` applies `scrapy_settings()` at the "spider" priority whichever way
the crawl was started, so `topicwatch crawl` and `scrapy crawl topicwatch` fetch alike; a
`scrapy crawl -s KEY=VALUE` (the "cmdline" priority) still wins.
"""

from __future__ import annotations

from typing import Any

from scrapy.settings import default_settings

from crawler.config import Settings, load_settings

BOT_NAME = "topicwatch"
SPIDER_MODULES = ["crawler.fetch.spider"]
NEWSPIDER_MODULE = "crawler.fetch.spider"
ROBOTSTXT_OBEY = True
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19's remote control: an HTTP server on localhost that runs Python sent to it (with a
# token it writes under ~/.local/state/scrapy).  A crawler that runs unattended opens no such
# door and writes nothing outside its corpus.  Off, and out of Scrapy's extensions with the
# telnet console (also off): an extension named anywhere, in EXTENSIONS_BASE or with None in
# EXTENSIONS, is imported to be compared, and this one imports aiohttp (a fifth of a second of
# every crawl's start, before the first request).
REMOTE_CONTROL_ENABLED = False
_LEFT_OUT = ("scrapy.extensions.remote_control.RemoteControl", "scrapy.extensions.telnet.TelnetConsole")
EXTENSIONS_BASE = {path: order for path, order in default_settings.EXTENSIONS_BASE.items()
                   if path not in _LEFT_OUT}
LOG_LEVEL = "INFO"
TOPICWATCH_SETTINGS = "settings.toml"  # the settings.toml to read (`-s TOPICWATCH_SETTINGS=PATH`)
TOPICWATCH_INGEST = True  # ingest the spool when the crawl closes (the daemon ingests itself)

ITEM_PIPELINES = {
    "crawler.fetch.pipelines.AnalysePipeline": 100,
    "crawler.fetch.pipelines.SpoolPipeline": 300,
}
SPIDER_MIDDLEWARES = {
    # after HttpErrorMiddleware (50): it sees the responses that reach the spider
    "crawler.fetch.state.FetchState": 100,
}
DOWNLOADER_MIDDLEWARES = {
    # before robots.txt: a request to a private address is refused before its host is asked
    # for anything, robots.txt included; redirects come back through it
    "crawler.fetch.guard.AddressGuard": 50,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.fetch.politeness.RobotsPolicy": 100,
    # above RetryMiddleware (550): a 429 / 503 is seen before it becomes a retry
    "crawler.fetch.politeness.RateLimits": 560,
    # Scrapy's, at its place, for the pages that may declare a refresh (crawler/fetch/refresh.py)
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.fetch.refresh.QuickMetaRefresh": 580,
}
# Every connection resolves its host through the guard: only checked addresses are used.
TWISTED_DNS_RESOLVER = "crawler.fetch.guard.GuardedResolver"
# Scrapy's HTTP/1.1 handler, with a bound on response headers (DOWNLOAD_MAXSIZE bounds bodies)
DOWNLOAD_HANDLERS = {"http": "crawler.fetch.handler.BoundedHTTP11DownloadHandler",
                     "https": "crawler.fetch.handler.BoundedHTTP11DownloadHandler"}
EXTENSIONS = {"crawler.fetch.run.RunRecorder": 500}
# Scrapy's default duplicate filter grows without bound on long crawls (scrapy/scrapy#5307);
# a run's requests are bounded by its sources, and seen article URLs are filtered against the
# corpus before any request is made, so the in-memory filter stays small.
DUPEFILTER_CLASS = "scrapy.dupefilters.RFPDupeFilter"
HTTPERROR_ALLOW_ALL = False
REDIRECT_ENABLED = True
# a meta refresh is a redirect when it comes within 10 s; later, the page is what a browser
# shows (crawler/fetch/refresh.py)
METAREFRESH_MAXDELAY = 10
COOKIES_ENABLED = False
LOG_FORMATTER = "crawler.fetch.logformatter.QuietLogFormatter"
# `delay` is a floor: Scrapy's default jitter (0.5-1.5 x the delay) would go below it half the
# time (Scrapy 2.19 names it DOWNLOAD_DELAY_JITTER; tests/test_workers.py measures the gaps)
DOWNLOAD_DELAY_JITTER = 0
# Requests are taken for the host with the fewest in flight, not in one global order: a queue
# that handed the downloader 16 requests for one host would leave the other hosts idle while
# that host's delay spaces them out (Scrapy's recommendation for crawls of many hosts)
SCHEDULER_PRIORITY_QUEUE = "scrapy.pqueues.DownloaderAwarePriorityQueue"
# Scrapy starts this many asyncio tasks for every response's output: 100 (its default) cost
# more CPU than the rest of the crawl's process together, for an article page that yields one
# item; the requests a feed yields are only queued, one at a time or not
CONCURRENT_ITEMS = 4


def scrapy_settings(s: Settings) -> dict[str, Any]:
    """Scrapy settings for a crawl described by settings.toml `s` (its `[crawl]` table)."""
    c = s.crawl
    return {
        "ROBOTSTXT_OBEY": c.obey_robots,
        "USER_AGENT": c.user_agent,
        "CONCURRENT_REQUESTS": c.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": c.concurrency_per_host,
        "DOWNLOAD_DELAY": c.delay,
        "AUTOTHROTTLE_ENABLED": c.autothrottle,
        # AutoThrottle only ever slows a host down from `delay`: it starts there (a start at
        # 1 s made a `delay = 0` crawl wait seconds per host for its first documents)
        "AUTOTHROTTLE_START_DELAY": c.delay,
        "DOWNLOAD_TIMEOUT": c.timeout,
        "RETRY_TIMES": c.retries,
        "DOWNLOAD_MAXSIZE": c.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "TOPICWATCH_CONFIG": s,
    }


def base_settings(s: Settings, **extra: Any) -> dict[str, Any]:
    """Everything this module sets, for a CrawlerProcess started from code; the spider adds
    `scrapy_settings(s)` on top, as it does for `scrapy crawl`."""
    names = [n for n in globals() if n.isupper()]
    return {**{n: globals()[n] for n in names}, "TOPICWATCH_SETTINGS": str(s.path),
            "TOPICWATCH_CONFIG": s, **extra}


def config_of(settings: Any) -> Settings:
    """The loaded settings.toml of a crawl: given by the caller, else read from its path."""
    return settings.get("TOPICWATCH_CONFIG") or load_settings(settings.get("TOPICWATCH_SETTINGS"))
