"""Downloader middlewares."""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares import robotstxt
from scrapy.exceptions import NotConfigured
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class CrawlDelayMiddleware:
    """Honour robots.txt `Crawl-delay`, which Scrapy parses but does not act on (scrapy#892).

    When a host's robots.txt is parsed its Crawl-delay is remembered; before each request to
    that host the download slot's delay is raised to it (AutoThrottle may lower a slot's delay
    between requests, so it is raised again every time)."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.user_agent = crawler.settings.get("USER_AGENT", "")
        # shared with PoliteAutoThrottle, which must not lower a slot below its Crawl-delay
        self.delays: dict[str, float] = crawler.__dict__.setdefault("topicwatch_crawl_delays", {})

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlDelayMiddleware:
        if not crawler.settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        mw = cls(crawler)
        crawler.signals.connect(mw.robots_parsed, signal=signals.robots_parsed)
        return mw

    def robots_parsed(self, robotparser, request: Request) -> None:
        delay = robotparser.crawl_delay(self.user_agent)
        if delay:
            self.delays[urlsplit(request.url).hostname or ""] = float(delay)

    def process_request(self, request: Request) -> None:
        delay = self.delays.get(urlsplit(request.url).hostname or "")
        if delay:
            _, slot = self.crawler.engine.downloader._get_slot(request)
            slot.delay = max(slot.delay, delay)
            slot.jitter = 0.0  # a random delay would go below Crawl-delay half the time


def _one_line(record) -> bool:
    """An unreachable host's robots.txt is logged with a full traceback by Scrapy; the
    message says enough, and the source's own request records the failure."""
    record.exc_info = record.exc_text = None
    return True


class RobotsTxtMiddleware(robotstxt.RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with every waiting request checked.

    In Scrapy 2.19 the requests that wait for a host's robots.txt share one Deferred, and only
    the first waiter receives the parser (Twisted's asFuture callback returns None); the others
    get None and are let through unchecked, disallowed paths included.  Once the first waiter
    resumes the parser is cached, so the others are handed that."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        robotstxt.logger.addFilter(_one_line)

    async def robot_parser(self, request: Request):
        parser = await super().robot_parser(request)
        if parser is None:
            cached = self._parsers.get(urlparse_cached(request).netloc)
            if cached is not None and not isinstance(cached, Deferred):
                return cached
        return parser
