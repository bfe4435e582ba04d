"""Downloader middlewares."""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured


class CrawlDelayMiddleware:
    """Honour robots.txt `Crawl-delay`, which Scrapy parses but does not act on (scrapy#892).

    When a host's robots.txt is parsed its Crawl-delay is remembered; before each request to
    that host the download slot's delay is raised to it (AutoThrottle may lower a slot's delay
    between requests, so it is raised again every time)."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.user_agent = crawler.settings.get("USER_AGENT", "")
        self.delays: dict[str, float] = {}

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
