"""`topicwatch worker --redis URL`: a crawl worker of a fleet that shares one Redis.

The same spider, pipelines and fetch state as `topicwatch crawl`, with what the workers must
share taken from Redis (crawler/remote/shared.py names the keys):

- the request frontier and the duplicate filter are scrapy-redis's (its Scheduler,
  `DUPEFILTER_CLASS = scrapy_redis.dupefilter.RFPDupeFilter`, `SCHEDULER_PERSIST = True`), its
  queue leased and its "seen?" and push made one step so a killed worker loses nothing
  (crawler/fetch/redis_frontier.py);
- what to crawl arrives as schedule messages (`{"source": NAME}`) read by scrapy-redis's
  `RedisMixin` when the worker is idle; feeds, sitemaps and listing pages are requested again
  by every schedule (dont_filter), article pages once ever (the dupefilter);
- never-refetch: an article link whose URL or canonical URL the ingester stored is not
  requested (`SharedFetchState`);
- conditional GET: feed, sitemap and listing validators live in Redis; a document's new
  validators are saved once its links are in the frontier and none was cut by a limit;
- politeness across workers: just before a request to a host is sent, `SharedPoliteness` takes
  the host's slot in Redis for max([crawl] delay, robots.txt Crawl-delay, the wait a 429 /
  Retry-After asked any worker for) (SET NX PX) and, when another worker holds it, waits
  without blocking the reactor until it frees; a host that asked for longer than
  max_crawl_delay is refused (rate-limited) until then;
- items go to the Redis stream (`RedisSpoolPipeline`), which `topicwatch ingest --redis` drains
  into the corpus.

Each worker keeps its own bookkeeping (runs, pages, skipped rows) in the SQLite file its
settings.toml names as `[corpus] path`: a local file, never the corpus.  Scrapy's own per-host
delay and AutoThrottle are off in a worker: the shared slot is the delay.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.spiders import RedisMixin
from twisted.internet import task

from crawler.config import Settings
from crawler.fetch import signals as tw_signals
from crawler.fetch.crawl import Stopper
from crawler.fetch.failures import failure_reason, is_final
from crawler.fetch.handler import BoundedHTTP11DownloadHandler
from crawler.fetch.pipelines import SpoolPipeline
from crawler.fetch.politeness import UNAVAILABLE_SECONDS
from crawler.fetch.redis_frontier import POLL_SECONDS, wake
from crawler.fetch.settings import base_settings, config_of
from crawler.fetch.spider import TopicSpider
from crawler.fetch.state import LISTING_KINDS, FetchState, with_validators
from crawler.pool import quiet_extractors
from crawler.records import SkipReason
from crawler.remote.shared import FIRST_CONTACT_MARGIN, POLITENESS_MARGIN, Keys, Shared, connect
from crawler.remote.spool import RedisSpool
from crawler.text.urls import canonical_url

log = logging.getLogger(__name__)
# schedules whose per-run counts a worker keeps (SharedFetchState.run_of): far more than run at
# once, so a schedule still running never loses its counts
KEPT_SCHEDULES = 1000


def shared_of(crawler: Any) -> Shared:
    """The crawl's connection to the shared Redis (one per crawler)."""
    shared = getattr(crawler, "_topicwatch_shared", None)
    if shared is None:
        settings = crawler.settings
        shared = Shared(connect(settings.get("TOPICWATCH_REDIS_URL")), settings.get("TOPICWATCH_REDIS_PREFIX"))
        crawler._topicwatch_shared = shared
    return shared


def worker_settings(s: Settings, url: str, **extra: Any) -> dict[str, Any]:
    """Scrapy settings of a worker: `base_settings` with the shared parts swapped in."""
    keys = Keys(s.redis.prefix)
    base = base_settings(s, TOPICWATCH_INGEST=False, **extra)
    return {
        **base,
        "SCHEDULER": "crawler.fetch.redis_frontier.AtomicScheduler",
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_QUEUE_CLASS": "crawler.fetch.redis_frontier.LeasedQueue",
        "SCHEDULER_QUEUE_KEY": keys.requests,
        "SCHEDULER_DUPEFILTER_KEY": keys.dupefilter,
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "REDIS_URL": url,
        "REDIS_START_URLS_KEY": keys.schedules,
        "TOPICWATCH_REDIS_URL": url,
        "TOPICWATCH_REDIS_PREFIX": s.redis.prefix,
        "TOPICWATCH_LEASE_SECONDS": s.redis.lease_seconds,
        "ITEM_PIPELINES": {**base["ITEM_PIPELINES"],
                           "crawler.fetch.pipelines.SpoolPipeline": None,
                           "crawler.fetch.redis_worker.RedisSpoolPipeline": 300},
        "SPIDER_MIDDLEWARES": {**base["SPIDER_MIDDLEWARES"],
                               "crawler.fetch.state.FetchState": None,
                               "crawler.fetch.redis_worker.SharedFetchState": 100,
                               # nearest the engine: sees what the callback's output became
                               "crawler.fetch.redis_worker.LeaseAck": 10},
        "DOWNLOAD_HANDLERS": {"http": "crawler.fetch.redis_worker.PoliteDownloadHandler",
                              "https": "crawler.fetch.redis_worker.PoliteDownloadHandler"},
    }


class WorkerSpider(RedisMixin, TopicSpider):
    """TopicSpider fed by schedule messages from Redis instead of its settings' sources."""

    redis_batch_size = 4  # schedule messages taken at once when idle

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        super().update_settings(settings)
        # the shared per-host slot (SharedPoliteness) is the delay; a local one on top would
        # only slow each worker down
        settings.setdict({"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False}, priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> WorkerSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.setup_redis(crawler)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        for request in self.next_requests():
            yield request

    def schedule_next_requests(self) -> None:
        """scrapy-redis's (called when the worker is idle), with each request routed as the
        spider middleware routes `start()`'s: RedisMixin hands them to `engine.crawl`, past
        the middlewares, so a schedule message read while running sent its feeds without
        validators (never a 304) and without the once-per-schedule mark."""
        state = getattr(self.crawler, "_topicwatch_fetch_state", None)
        for request in self.next_requests():
            routed = state.route(request) if state is not None else request
            if routed is not None:
                self.crawler.engine.crawl(routed)

    def make_request_from_data(self, data: bytes) -> list[Request]:
        """A schedule message -> the source's feed, sitemap or listing requests."""
        try:
            name = json.loads(data)["source"]
            source = self.plan.source(name)
        except (ValueError, KeyError, TypeError, StopIteration):
            log.warning("schedule message %r names no source of this worker's settings", data[:200])
            return []
        schedule = uuid.uuid4().hex
        requests = list(self.source_requests(source))
        for request in requests:
            request.meta["tw_schedule"] = schedule
        return requests

    def listing_request(self, url: str, source: Any, kind: str, parents: tuple,
                        depth: int = 1) -> Request:
        # fetched again by every schedule (once per schedule: SharedFetchState); the persisted
        # dupefilter is for article pages
        return super().listing_request(url, source, kind, parents, depth).replace(dont_filter=True)

    async def parse_robots(self, response: Any) -> AsyncIterator[Request]:
        async for request in super().parse_robots(response):
            yield _same_schedule(request, response)

    async def parse_listing_page(self, response: Any) -> AsyncIterator[Request]:
        async for request in super().parse_listing_page(response):
            yield _same_schedule(request, response)


def _same_schedule(request: Request, response: Any) -> Request:
    """Documents found through a schedule belong to it."""
    if "tw_schedule" in response.meta:
        request.meta.setdefault("tw_schedule", response.meta["tw_schedule"])
    return request


class SharedFetchState(FetchState):
    """FetchState whose never-refetch and validators are the fleet's."""

    def __init__(self, crawler: Any):
        super().__init__(crawler)
        self.shared = shared_of(crawler)
        crawler._topicwatch_fetch_state = self  # for WorkerSpider.schedule_next_requests
        # scrapy-redis's own fingerprints, to take a page out of the shared dupefilter
        self.dupefilter = RFPDupeFilter(self.shared.client, crawler.settings.get("SCHEDULER_DUPEFILTER_KEY"))

    def _conditional(self, request: Request) -> Request | None:
        if schedule := request.meta.get("tw_schedule"):
            # a sitemap two documents list: once per schedule, as in one crawl (the scheduler
            # adds it to the schedule's set and queues it in one step, or drops it)
            request.meta["tw_once"] = self.shared.listed_key(schedule)
        return with_validators(request, *self.shared.validators(
            request.url, self.read_as(request.meta.get("tw_source"))))

    def run_of(self, request: Request) -> str:
        """A worker outlives runs: each schedule message is one run of its source, and its
        per-run limits count apart (counted for the worker's whole life, a source with an index
        of five sitemaps hit max_sitemaps_per_source after 40 schedules and was read no more).
        The counts of the oldest schedules are dropped past KEPT_SCHEDULES."""
        run = super().run_of(request)
        if schedule := request.meta.get("tw_schedule"):
            run = f"{schedule}/{run}"
            for counts in (self.requested, self.sitemaps.fetched):
                if run not in counts and len(counts) >= KEPT_SCHEDULES:
                    for old in list(counts)[:len(counts) // 2]:  # the oldest first
                        del counts[old]
        return run

    def _article(self, request: Request, doc: Any) -> Request | None:
        if self.shared.any_stored(request.url, canonical_url(request.url)):
            return None
        routed = super()._article(request, doc)
        # the shared dupefilter remembers it, for every worker; kept in `known` too, a page
        # that then failed for a while would never be asked for again by this worker (which
        # outlives runs), and the set would grow for as long as it lives
        self.known.discard(request.url)
        return routed

    def process_spider_output(self, response: Any, result: Iterable[Any]) -> Iterator[Any]:
        yield from super().process_spider_output(response, result)
        self._publish(response)

    async def process_spider_output_async(self, response: Any,
                                          result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for item in super().process_spider_output_async(response, result):
            yield item
        self._publish(response)

    def fetch_failed(self, request: Request, failure: Any) -> None:
        super().fetch_failed(request, failure)
        meta = request.meta
        reason, status = failure_reason(failure)
        final = is_final(reason, status) or reason == SkipReason.ROBOTS
        if meta.get("tw_kind", "article") == "article" and not final:
            self._try_again(request)

    def _retry(self, item: Any, response: Any, reason: str, detail: str) -> None:
        super()._retry(item, response, reason, detail)
        self._try_again(response.request)

    def _try_again(self, request: Request) -> None:
        """An article page that failed transiently is requested again by a later schedule:
        its fingerprints leave the shared dupefilter, and the documents that listed it lose
        their validators, so they are read in full next time (no 304 hides it)."""
        urls = [request.url, *(request.meta.get("redirect_urls") or [])]
        self.known.difference_update(urls)  # a retry this worker started with (process_start)
        self.shared.forget(self.dupefilter.key, [self.dupefilter.request_fingerprint(request.replace(url=u))
                                                 for u in urls],
                           request.meta.get("tw_parents", ()))

    def _publish(self, response: Any) -> None:
        """A document's links are all in the frontier: its validators may answer next time."""
        v = self.validators.pop(response.url, None)
        if (v is not None and response.meta.get("tw_kind") in LISTING_KINDS
                and response.url not in self.incomplete):
            self.shared.save_validators(response.url, v.etag, v.last_modified, self.read_as(v.source))


class SharedPoliteness:
    """Per-host politeness across every worker: before a request leaves, the host's slot in
    Redis is taken for max([crawl] delay, robots.txt Crawl-delay), or waited for (without
    blocking the reactor) while another worker holds it.  It runs in the download handler
    (`PoliteDownloadHandler`), after Scrapy's own slot queue, so the reservation is made just
    before the request is sent and the host never sees two requests closer than the delay.
    The slot is held a little longer than the delay (POLITENESS_MARGIN), and longer still for
    a worker's first request to a host, which resolves the name and connects before it leaves
    (FIRST_CONTACT_MARGIN)."""

    def __init__(self, crawler: Any):
        self.shared = shared_of(crawler)
        crawl = config_of(crawler.settings).crawl
        self.delay, self.max_crawl_delay = crawl.delay, crawl.max_crawl_delay
        self.user_agent = crawler.settings.get("USER_AGENT", "")
        self.crawl_delays: dict[str, float] = {}
        self.contacted: set[str] = set()  # hosts this worker has sent a request to
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)
        crawler.signals.connect(self.rate_limited, signal=tw_signals.rate_limited)

    def rate_limited(self, request: Request, wait: float, refused: bool) -> None:
        """A host's 429 / Retry-After, which RateLimits acts on in this worker, for every worker."""
        self.shared.rate_limit(urlparse_cached(request).hostname or "", wait, refused, UNAVAILABLE_SECONDS)

    def robots_parsed(self, robotparser: Any, request: Request) -> None:
        delay = robotparser.crawl_delay(self.user_agent)
        if delay:
            host = urlparse_cached(request).hostname or ""
            self.crawl_delays[host] = float(delay)
            self.shared.set_crawl_delay(host, float(delay))

    def delay_of(self, host: str) -> float:
        if host not in self.crawl_delays:  # another worker may have read its robots.txt
            if shared := self.shared.crawl_delay(host):
                self.crawl_delays[host] = shared
        # a longer Crawl-delay than max_crawl_delay: RobotsPolicy refuses the host's requests
        return max(self.delay, min(self.crawl_delays.get(host, 0.0), self.max_crawl_delay),
                   self.shared.rate_wait(host))

    async def wait(self, request: Request) -> None:
        from twisted.internet import reactor

        host = urlparse_cached(request).hostname or ""
        margin = POLITENESS_MARGIN if host in self.contacted else FIRST_CONTACT_MARGIN
        # the refusal and the delay are read again after each wait: the request the slot was
        # held for may have brought a 429 meanwhile (a refusal checked only before waiting let
        # the next request through as soon as the slot freed)
        while True:
            if asked := self.shared.rate_refused(host):  # another worker's answer from the host
                raise IgnoreRequest(f"rate limited: the host asked for {asked:g} s before the next "
                                    f"request (Retry-After), longer than max_crawl_delay "
                                    f"{self.max_crawl_delay:g} s; tried again later")
            if (delay := self.delay_of(host)) <= 0 or (wait := self.shared.reserve_host(host, delay, margin)) <= 0:
                break
            await maybe_deferred_to_future(task.deferLater(reactor, wait, lambda: None))
        self.contacted.add(host)


class PoliteDownloadHandler(BoundedHTTP11DownloadHandler):
    """The crawl's HTTP handler, sending each request once the host's shared slot is ours."""

    def __init__(self, crawler: Any):
        super().__init__(crawler)
        self.gate = SharedPoliteness(crawler)

    async def download_request(self, request: Request) -> Any:
        await self.gate.wait(request)
        return await super().download_request(request)


class RedisSpoolPipeline(SpoolPipeline):
    """Matched items into the Redis stream; their run is the ingester's business."""

    def run_opened(self, run_id: int) -> None:
        self.run_id = None  # the worker's run lives in its own file, not in the corpus
        self.spool = RedisSpool(shared_of(self.crawler))


class LeaseAck:
    """Ends the lease of each request taken from the frontier when its work is safe elsewhere,
    renews the leases in hand, releases them on a clean stop, and wakes an idle engine so it
    sees what other workers queued (spider middleware nearest the engine)."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.loops: list[task.LoopingCall] = []
        for handler, signal in ((self.item_done, signals.item_scraped),
                                (self.item_done, signals.item_dropped),
                                (self.item_done, signals.item_error),
                                (self.request_done, tw_signals.fetch_failed),
                                (self.request_done, signals.request_dropped),
                                (self.spider_opened, signals.spider_opened),
                                (self.spider_closed, signals.spider_closed)):
            crawler.signals.connect(handler, signal=signal)

    @classmethod
    def from_crawler(cls, crawler: Any) -> LeaseAck:
        return cls(crawler)

    @property
    def frontier(self) -> Any:
        return getattr(self.crawler.spider, "frontier", None)

    def ack(self, request: Any) -> None:
        lease = request.meta.get("tw_lease") if request is not None else None
        if lease is not None and self.frontier is not None:
            self.frontier.ack(lease)

    # a callback's output: requests are queued as they come; an item is acknowledged when the
    # pipelines are done with it (item_done), anything else when the output ends
    def process_spider_output(self, response: Any, result: Iterable[Any]) -> Iterator[Any]:
        items = False
        for x in result:
            items = items or not isinstance(x, Request)
            yield x
        if not items:
            self.ack(response.request)

    async def process_spider_output_async(self, response: Any,
                                          result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        items = False
        async for x in result:
            items = items or not isinstance(x, Request)
            yield x
        if not items:
            self.ack(response.request)

    def item_done(self, item: Any, response: Any, **kwargs: Any) -> None:
        self.ack(getattr(response, "request", None))

    def request_done(self, request: Any, **kwargs: Any) -> None:
        self.ack(request)

    def spider_opened(self, spider: Any) -> None:
        seconds = self.crawler.settings.getfloat("TOPICWATCH_LEASE_SECONDS", 60.0)
        self.loops = [task.LoopingCall(self._renew), task.LoopingCall(wake, self.crawler.engine)]
        self.loops[0].start(seconds / 3, now=False)
        self.loops[1].start(POLL_SECONDS, now=False)

    def _renew(self) -> None:
        if self.frontier is not None:
            self.frontier.renew()

    def spider_closed(self, spider: Any, reason: str) -> None:
        for loop in self.loops:
            if loop.running:
                loop.stop()
        if self.frontier is not None:
            released = self.frontier.release()
            if released:
                log.info("put %d unfinished request(s) back in the frontier", released)


def run_worker(settings: Settings, url: str, log_level: str = "WARNING",
               on_ready: Callable[[], None] | None = None) -> int | None:
    """Work until SIGINT / SIGTERM; the signal that stopped it (None: the engine stopped).
    `on_ready` is called once the worker takes work from the frontier."""
    process = CrawlerProcess(worker_settings(settings, url, LOG_LEVEL=log_level,
                                             LOG_INSTALL_ROOT_HANDLER=True))
    crawler = process.create_crawler(WorkerSpider)
    if on_ready is not None:
        crawler.signals.connect(lambda spider: on_ready(), signal=signals.spider_opened, weak=False)
    quiet_extractors(log_level)  # after Scrapy configured logging, which resets scrapy.* levels
    stopper = Stopper(process, crawler)
    process.crawl(crawler, trigger="worker")
    stopper.install()
    try:
        process.start(install_signal_handlers=False)
    finally:
        stopper.uninstall()
    return stopper.received
