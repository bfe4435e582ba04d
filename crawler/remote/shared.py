"""The Redis keys topicwatch uses and the state every worker shares through them.

Every key starts with `[redis] prefix` (default "topicwatch"), so several corpora can share one
Redis:

| key | type | what |
| --- | --- | --- |
| `P:requests` | sorted set | scrapy-redis's request frontier (its PriorityQueue) |
| `P:dupefilter` | set | scrapy-redis's request fingerprints (persisted) |
| `P:requests:leases`, `:leased`, `:lease-id` | sorted set, hash, counter | requests a worker took and has not finished (crawler/fetch/redis_frontier.py) |
| `P:schedules` | list | schedule messages: `{"source": NAME}` |
| `P:items` | stream | spooled items (crawler/remote/spool.py), consumer group `ingest` |
| `P:items:unreadable` | stream | entries of `P:items` that were no item (not JSON, fields missing), with the error, set aside for a person |
| `P:stored` | set | URLs and canonical URLs never to fetch again (the ingester's) |
| `P:validators-2` | hash | URL -> {"etag", "last_modified", "read_as"} of feeds, sitemaps and listing pages (not of those that lead to more of them: sitemap indexes, listing pages with sections) (`P:validators`, where earlier versions kept them, is no longer read) |
| `P:host:HOST` | string with a TTL | held while HOST must not be asked again |
| `P:crawl-delays` | hash | host -> the Crawl-delay its robots.txt asks for |
| `P:rate-wait:HOST` | string with a TTL | seconds between requests HOST asked for (429 / Retry-After) |
| `P:rate-refused:HOST` | string with a TTL | held while HOST asked to be left alone (a Retry-After past max_crawl_delay) |
| `P:listed:SCHEDULE` | set, a day's TTL | feeds, sitemaps and listing pages one schedule message requested |
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import redis

from crawler.errors import RemoteError

# a reservation is this much longer than the host's delay: the request leaves the worker a
# little after the reservation (the reactor may be busy), and the gap the host sees between two
# workers' requests must still be at least the delay
POLITENESS_MARGIN = 0.05
# a worker's first request to a host also resolves its name and opens a connection (DNS
# through the guard's thread pool) between the reservation and the moment it leaves
FIRST_CONTACT_MARGIN = 0.5


@dataclass(frozen=True)
class Keys:
    prefix: str

    def __getattr__(self, name: str) -> str:  # keys.requests -> "P:requests"
        if name.startswith("_"):
            raise AttributeError(name)
        return f"{self.prefix}:{name.replace('_', '-')}"

    def host(self, host: str) -> str:
        return f"{self.prefix}:host:{host}"

    @property
    def validators(self) -> str:
        # "-2": the validators saved before sitemap indexes (and listing pages with sections)
        # were read in full every time may include an index's, whose 304 hid its changed
        # sitemaps for good; those (in P:validators) are no longer read, and every document is
        # read in full once
        return f"{self.prefix}:validators-2"


def connect(url: str) -> redis.Redis:
    """A client of the Redis at `url`, checked to answer (RemoteError naming it otherwise)."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=10, socket_timeout=30,
                                      health_check_interval=30)
        client.ping()
    except (redis.RedisError, ValueError) as e:
        raise RemoteError(f"Redis at {url} cannot be reached: {e}") from e
    return client


class Shared:
    """The workers' shared memory: one client, one prefix."""

    def __init__(self, client: redis.Redis, prefix: str):
        self.client = client
        self.keys = Keys(prefix)

    # ---------------------------------------------------------------- never fetch again

    def any_stored(self, *urls: str) -> bool:
        urls = tuple(u for u in urls if u)
        return bool(urls) and any(self.client.smismember(self.keys.stored, urls))

    def add_stored(self, urls: Iterable[str], chunk: int = 5000) -> int:
        """Add URLs to the never-fetch set; how many were new."""
        added, batch = 0, []
        for url in urls:
            if url:
                batch.append(url)
            if len(batch) >= chunk:
                added += self.client.sadd(self.keys.stored, *batch)
                batch = []
        if batch:
            added += self.client.sadd(self.keys.stored, *batch)
        return added

    def forget(self, dupefilter_key: str, fingerprints: Iterable[str], parents: Iterable[str]) -> None:
        """A page to request again: out of the dupefilter, its listing documents without
        validators (so no 304 hides it from the next schedule)."""
        pipe = self.client.pipeline()
        if fps := list(fingerprints):
            pipe.srem(dupefilter_key, *fps)
        if docs := list(parents):
            pipe.hdel(self.keys.validators, *docs)
        pipe.execute()

    # ---------------------------------------------------------------- conditional GET

    def validators(self, url: str, read_as: str | None = None) -> tuple[str | None, str | None]:
        """A document's validators, when they were saved under the source settings `read_as`
        names (`Source.read_as`): after a change, it is read in full."""
        raw = self.client.hget(self.keys.validators, url)
        if not raw:
            return None, None
        v = json.loads(raw)
        if v.get("read_as") != read_as:
            return None, None
        return v.get("etag"), v.get("last_modified")

    def save_validators(self, url: str, etag: str | None, last_modified: str | None,
                        read_as: str | None = None) -> None:
        if etag or last_modified:
            self.client.hset(self.keys.validators, url, json.dumps(
                {"etag": etag, "last_modified": last_modified, "read_as": read_as}))

    def listed_key(self, schedule: str) -> str:
        """The set of feeds, sitemaps and listing pages one schedule message requested (each
        once; crawler/fetch/redis_frontier.py AtomicScheduler fills it as it queues them)."""
        return f"{self.keys.prefix}:listed:{schedule}"

    # ---------------------------------------------------------------- politeness

    def reserve_host(self, host: str, delay: float, margin: float = POLITENESS_MARGIN) -> float:
        """Take the host's slot for `delay` + `margin` seconds if it is free, atomically for
        every worker (SET NX PX): 0.0 when taken, else the seconds until it frees."""
        ms = int((delay + margin) * 1000)
        key = self.keys.host(host)
        if self.client.set(key, 1, nx=True, px=ms):
            return 0.0
        left = self.client.pttl(key)
        return max(left, 1) / 1000 if left != -2 else 0.001  # -2: expired in between

    def rate_limit(self, host: str, wait: float, refused: bool, hold: float) -> None:
        """HOST answered 429 / 503 asking for `wait` seconds (crawler/fetch/politeness.py):
        every worker leaves it alone that long (its slot is held; or, `refused`, it is
        refused until then), and `wait` is its delay for the next `hold` seconds."""
        ms = max(1, int(wait * 1000))
        if refused:
            self.client.set(f"{self.keys.prefix}:rate-refused:{host}", repr(float(wait)), px=min(ms, 86_400_000))
            return
        if self.client.pttl(self.keys.host(host)) < ms:  # held from now, never shortened
            self.client.set(self.keys.host(host), 1, px=ms)
        key = f"{self.keys.prefix}:rate-wait:{host}"
        if wait > self._float(self.client.get(key)):
            self.client.set(key, repr(float(wait)), px=int(hold * 1000))

    def rate_wait(self, host: str) -> float:
        """The seconds between requests HOST asked for, while that holds (0.0: none)."""
        return self._float(self.client.get(f"{self.keys.prefix}:rate-wait:{host}"))

    def rate_refused(self, host: str) -> float:
        """The wait HOST asked for while it is to be left alone (0.0: it is not)."""
        return self._float(self.client.get(f"{self.keys.prefix}:rate-refused:{host}"))

    @staticmethod
    def _float(raw: bytes | None) -> float:
        return float(raw) if raw else 0.0

    def set_crawl_delay(self, host: str, delay: float) -> None:
        """A host's robots.txt Crawl-delay, for the workers that have not read it yet."""
        self.client.hset(self.keys.crawl_delays, host, repr(float(delay)))

    def crawl_delay(self, host: str) -> float:
        raw = self.client.hget(self.keys.crawl_delays, host)
        return float(raw) if raw else 0.0

    # ---------------------------------------------------------------- schedules

    def enqueue(self, sources: Iterable[str]) -> int:
        """One schedule message per source for the workers; how many."""
        messages = [json.dumps({"source": name}) for name in sources]
        if messages:
            self.client.rpush(self.keys.schedules, *messages)
        return len(messages)

    def frontier(self) -> dict[str, int]:
        """How much work waits or is under way: schedules, requests, leased requests, items."""
        k = self.keys
        pipe = self.client.pipeline()
        pipe.llen(k.schedules).zcard(k.requests).zcard(k.requests + ":leases").xlen(k.items)
        schedules, requests, leased, items = pipe.execute()
        return {"schedules": schedules, "requests": requests, "leased": leased, "items": items}
