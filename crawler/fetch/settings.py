"""Scrapy settings: the module named in scrapy.cfg, and `scrapy_settings()` which derives the
real values from settings.toml so that `topicwatch crawl` and `scrapy crawl topicwatch` agree."""

from __future__ import annotations

from typing import Any

from crawler.config import Settings

BOT_NAME = "topicwatch"
SPIDER_MODULES = ["crawler.scrapy_app.spider"]
NEWSPIDER_MODULE = "crawler.scrapy_app.spider"
ROBOTSTXT_OBEY = True
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
TOPICWATCH_SETTINGS = "settings.toml"

ITEM_PIPELINES = {
    "crawler.scrapy_app.pipelines.ExtractPipeline": 100,
    "crawler.scrapy_app.pipelines.TooOldPipeline": 150,
    "crawler.scrapy_app.pipelines.TopicPipeline": 200,
    "crawler.scrapy_app.pipelines.SpoolPipeline": 300,
}
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.scrapy_app.middlewares.RobotsTxtMiddleware": 100,
    # after RobotsTxtMiddleware (100): robots.txt is parsed by then
    "crawler.scrapy_app.middlewares.CrawlDelayMiddleware": 110,
}
EXTENSIONS = {
    "crawler.scrapy_app.extensions.IngestAtClose": 500,
    "scrapy.extensions.throttle.AutoThrottle": None,
    "crawler.scrapy_app.extensions.PoliteAutoThrottle": 0,
}
# Scrapy's default duplicate filter grows without bound on long crawls (scrapy/scrapy#5307);
# a run's requests are bounded by its sources, and seen article URLs are filtered against the
# corpus before any request is made, so the in-memory filter stays small.
DUPEFILTER_CLASS = "scrapy.dupefilters.RFPDupeFilter"
HTTPERROR_ALLOW_ALL = False
REDIRECT_ENABLED = True
COOKIES_ENABLED = False
LOG_FORMATTER = "crawler.scrapy_app.logformatter.QuietLogFormatter"


def scrapy_settings(s: Settings, **extra: Any) -> dict[str, Any]:
    """Scrapy settings for one crawl described by topicwatch settings `s`."""
    c = s.crawl
    return {
        "BOT_NAME": BOT_NAME,
        "SPIDER_MODULES": SPIDER_MODULES,
        "ITEM_PIPELINES": ITEM_PIPELINES,
        "DOWNLOADER_MIDDLEWARES": DOWNLOADER_MIDDLEWARES,
        "EXTENSIONS": EXTENSIONS,
        "TELNETCONSOLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "LOG_FORMATTER": LOG_FORMATTER,
        "ROBOTSTXT_OBEY": c.obey_robots,
        "USER_AGENT": c.user_agent,
        "CONCURRENT_REQUESTS": c.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": c.concurrency_per_host,
        "DOWNLOAD_DELAY": c.delay,
        "AUTOTHROTTLE_ENABLED": c.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(c.delay, 1.0),
        "DOWNLOAD_TIMEOUT": c.timeout,
        "RETRY_TIMES": c.retries,
        "DOWNLOAD_MAXSIZE": c.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "TOPICWATCH_SETTINGS": str(s.path),
        **extra,
    }
