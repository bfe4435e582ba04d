"""Politeness: robots.txt obeyed, including its Crawl-delay, for every request.

`RobotsPolicy` is Scrapy's robots.txt middleware with two additions, both through public API:

- Crawl-delay, which Scrapy parses but does not act on (scrapy/scrapy#892).  When a host's
  robots.txt is parsed (the `robots_parsed` signal), its delay becomes the host's download-slot
  delay (`Downloader.per_slot_settings` for a slot not created yet, the slot itself otherwise),
  without jitter (a random delay would go below it half the time), and every request to that
  host carries `autothrottle_dont_adjust_delay`, so AutoThrottle never lowers it again.
- A Crawl-delay longer than `[crawl] max_crawl_delay` is not waited for, which would hold the
  crawl for as long as the host asks (a day, a year): the host's requests are refused as
  robots.txt refusals instead, as Nutch does with `fetcher.max.crawl.delay`.
- Every waiting request is checked.  In Scrapy 2.19 the requests that wait together for a
  host's robots.txt share one Deferred and only the first waiter receives the parser (Twisted's
  asFuture callback returns None); the others get None and would pass unchecked, disallowed
  paths included.  The parser each `robots_parsed` signal carries is kept and handed to them.
- A robots.txt that answers 5xx (or 429) puts its host off limits, as RFC 9309 says for an
  unreachable robots.txt: Scrapy parses any answer's body, and an error page parses as
  "allow all".  The refusal is `robots-unavailable`, a transient failure: articles are
  tried again next run (a fleet's workers forget them in the dupefilter), and a source
  whose own document is refused fails, naming the status.  It holds for UNAVAILABLE_SECONDS
  from the answer (a crawl's whole run); then the next request to the host reads its
  robots.txt again (a fleet's worker lives longer than a run; Scrapy alone would read it once
  per process and go by the error page, no rules, until the worker restarts).  For the same
  reason a robots.txt that was read is read again after ROBOTS_MAX_AGE_SECONDS (24 hours, as
  RFC 9309 asks).
- A host that answers 429 Too Many Requests, or 503 with a Retry-After header, gets the
  time it asks for (`RateLimits`, a downloader middleware of its own: it must see the answer
  before Scrapy's RetryMiddleware turns it into a retry, which no middleware after it sees).
  Scrapy retries such a page at once and AutoThrottle never slows down for it, so the rest
  of a rate-limited host's pages failed too, and after three runs they were given up.  The
  Retry-After (seconds, or an HTTP date), else for a 429 twice the host's delay (at least
  1 s), becomes the host's delay for the rest of the run, and AutoThrottle may not lower it.
  A host that asks for longer than `max_crawl_delay` is left alone until that time has
  passed (in practice the rest of a run; a fleet's worker, which outlives runs, asks it again
  after): its requests are refused as `rate-limited`, a transient failure, tried again next
  run.
  In a fleet, the worker that got the answer tells the others through Redis (the host's
  slot is held for the wait, the wait becomes the host's delay for UNAVAILABLE_SECONDS, or
  the host is refused until the time it asked for has passed): `SharedPoliteness`.
- robots.txt is downloaded once per host.  A sitemap source reads its host's robots.txt for
  its Sitemap: lines (the spider's `robots` request); the response the middleware downloaded
  for the host (seen through the `response_received` signal) answers that request, which would
  otherwise be a second request to the host, a whole delay later.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.downloadermiddlewares import robotstxt
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from crawler.fetch import signals as tw_signals
from crawler.fetch.settings import config_of

UNAVAILABLE_SECONDS = 3600.0  # how long a 5xx / 429 robots.txt keeps the crawl off its host
# how long a robots.txt that was read holds: RFC 9309 (2.4) asks crawlers not to use a cached
# one for more than 24 hours; a fleet's worker lives longer than that
ROBOTS_MAX_AGE_SECONDS = 86400.0
log = logging.getLogger(__name__)


def _one_line(record: Any) -> bool:
    """An unreachable host's robots.txt is logged with a full traceback by Scrapy; the
    message says enough, and the source's own request records the failure."""
    record.exc_info = record.exc_text = None
    return True


class RobotsPolicy(robotstxt.RobotsTxtMiddleware):
    def __init__(self, crawler: Any):
        super().__init__(crawler)
        self.user_agent = crawler.settings.get("USER_AGENT", "")
        self.parsers: dict[str, Any] = {}  # netloc -> the parsed robots.txt
        self.delays: dict[str, float] = {}  # host -> its Crawl-delay in seconds
        self.max_delay = config_of(crawler.settings).crawl.max_crawl_delay
        self.responses: dict[str, Response] = {}  # netloc -> its robots.txt response
        self.answered_at: dict[str, float] = {}  # netloc -> when (time.monotonic())
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)
        crawler.signals.connect(self.response_received, signal=signals.response_received)
        robotstxt.logger.addFilter(_one_line)

    def robots_parsed(self, robotparser: Any, request: Request) -> None:
        url = urlparse_cached(request)
        self.parsers[url.netloc] = robotparser
        delay = robotparser.crawl_delay(self.user_agent)
        if delay:
            self.delays[url.hostname or ""] = float(delay)
            if float(delay) <= self.max_delay:
                self._slow_down(request, float(delay))

    def response_received(self, response: Response, request: Request) -> None:
        """Keep the robots.txt responses this middleware asked for."""
        if request.meta.get("dont_obey_robotstxt") and request.meta.get("tw_kind") is None:
            first = (request.meta.get("redirect_urls") or [request.url])[0]
            if urlparse_cached(Request(first)).path == "/robots.txt":
                netloc = urlparse_cached(Request(first)).netloc
                self.responses[netloc], self.answered_at[netloc] = response, time.monotonic()

    async def robot_parser(self, request: Request) -> Any:
        parser = await super().robot_parser(request)
        return parser if parser is not None else self.parsers.get(urlparse_cached(request).netloc)

    async def process_request(self, request: Request) -> Response | None:
        if not request.meta.get("dont_obey_robotstxt"):
            self._forget_if_stale(urlparse_cached(request).netloc)
        await super().process_request(request)
        if not request.meta.get("dont_obey_robotstxt"):
            netloc = urlparse_cached(request).netloc
            answered = self.responses.get(netloc)
            if (answered is not None and (answered.status >= 500 or answered.status == 429)
                    and time.monotonic() - self.answered_at[netloc] < UNAVAILABLE_SECONDS):
                raise IgnoreRequest(f"robots.txt unavailable: it answered HTTP {answered.status}, so "
                                    "the host is off limits for now (RFC 9309); tried again later")
        delay = self.delays.get(urlparse_cached(request).hostname or "")
        if delay and delay > self.max_delay:
            raise IgnoreRequest(f"Forbidden by robots.txt: Crawl-delay {delay:g} s is longer "
                                f"than max_crawl_delay {self.max_delay:g} s")
        if request.meta.get("tw_kind") == "robots":
            kept = self.responses.get(urlparse_cached(request).netloc)
            if kept is not None and kept.url == request.url:
                return kept.replace(request=request)
        if delay:
            request.meta["autothrottle_dont_adjust_delay"] = True
            self._slow_down(request, delay)
        return None

    def _forget_if_stale(self, netloc: str) -> None:
        """A 5xx / 429 robots.txt answered UNAVAILABLE_SECONDS ago or more, and any robots.txt
        read ROBOTS_MAX_AGE_SECONDS ago, is read again by the next request to its host: Scrapy
        reads a host's robots.txt once per process, so a fleet's worker would otherwise go by
        the error page (no rules) after the refusal, and by rules a day or a month old, until
        it restarts.  The one place this reaches into Scrapy's RobotsTxtMiddleware: its
        per-host cache `_parsers`, which it fills on a host's first request (tests/test_fetch.py
        checks that it still does)."""
        answered = self.responses.get(netloc)
        if answered is None or isinstance(self._parsers.get(netloc), Deferred):  # being read now
            return
        age = time.monotonic() - self.answered_at[netloc]
        unavailable = answered.status >= 500 or answered.status == 429
        if age < (UNAVAILABLE_SECONDS if unavailable else ROBOTS_MAX_AGE_SECONDS):
            return
        del self.responses[netloc], self.answered_at[netloc]
        self.parsers.pop(netloc, None)
        self._parsers.pop(netloc, None)
        self.delays.pop(urlsplit("//" + netloc).hostname or "", None)  # read again with it

    def _slow_down(self, request: Request, delay: float) -> None:
        slow_down(self.crawler, request, delay)


def slow_down(crawler: Any, request: Request, delay: float) -> None:
    """The download slot of `request`'s host waits `delay` seconds between requests."""
    downloader = crawler.engine.downloader
    key = downloader.get_slot_key(request)
    downloader.per_slot_settings[key] = {**downloader.per_slot_settings.get(key, {}),
                                         "delay": delay, "jitter": 0}
    slot = downloader.slots.get(key)
    if slot is not None:
        slot.delay = max(slot.delay, delay)
        slot.jitter = 0.0


def retry_after(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """The seconds a Retry-After header asks for (a number, or an HTTP date); None when it
    says nothing that can be read."""
    if not value:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RateLimits:
    """Retry-After and 429: see the module docstring."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.max_wait = config_of(crawler.settings).crawl.max_crawl_delay
        self.waits: dict[str, float] = {}  # slot key -> its delay for the rest of the run
        # slot key -> (the wait it asked for, past max_wait; when that wait is over)
        self.closed: dict[str, tuple[float, float]] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> RateLimits:
        return cls(crawler)

    def _key(self, request: Request) -> str:
        return self.crawler.engine.downloader.get_slot_key(request)

    def process_request(self, request: Request) -> None:
        key = self._key(request)
        if key in self.closed:
            wait, until = self.closed[key]
            # over once the time asked for has passed: a fleet's worker outlives a run, and
            # would otherwise leave the host alone until it is restarted
            if time.monotonic() < until:
                raise IgnoreRequest(f"rate limited: the host asked for {wait:g} s before the next "
                                    f"request (Retry-After), longer than max_crawl_delay "
                                    f"{self.max_wait:g} s; tried again next run")
            del self.closed[key]
        if key in self.waits:
            request.meta["autothrottle_dont_adjust_delay"] = True

    def process_response(self, request: Request, response: Response) -> Response:
        key = self._key(request)
        wait = None
        if response.status in (429, 503):
            wait = retry_after(response.headers.get("Retry-After"))
            if wait is None and response.status == 429:
                slot = self.crawler.engine.downloader.slots.get(key)
                wait = max(1.0, 2 * (slot.delay if slot is not None else 0.0))
        if wait is not None and wait > self.waits.get(key, 0.0):
            if wait > self.max_wait:
                self.closed[key] = (wait, time.monotonic() + wait)
                log.warning("%s answered HTTP %d asking for %g s before the next request: longer "
                            "than max_crawl_delay %g s, so its pages wait for the next run",
                            key, response.status, wait, self.max_wait)
            else:
                self.waits[key] = wait
                log.warning("%s answered HTTP %d: %g s between its requests for the rest of the run",
                            key, response.status, wait)
            # a fleet's workers share it (crawler/fetch/redis_worker.py, SharedPoliteness)
            self.crawler.signals.send_catch_log(tw_signals.rate_limited, request=request, wait=wait,
                                                refused=wait > self.max_wait)
        if key in self.waits:  # AutoThrottle may have lowered it on a response sent before
            slow_down(self.crawler, request, self.waits[key])
        return response
