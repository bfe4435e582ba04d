"""The one place topicwatch reaches inside scrapy-redis and Scrapy: the shared frontier's
queue with leases, and a poke that makes an idle worker look at the frontier again.

scrapy-redis 0.9.1 works with Scrapy 2.19 as released (its Scheduler, RFPDupeFilter and
RedisMixin are used unchanged, through their settings); the one wrinkle is a deprecation: its
Scheduler passes `spider=` to the stats collector, which Scrapy 2.19 warns will go, and the
test below fails the day it does.  `RedisMixin.start_requests` is the old start API: the
worker's spider defines `start()` instead.  What it does not do is survive a
killed worker: its queues pop destructively (ZRANGE + ZREMRANGEBYRANK), so the requests a
worker had taken die with it, and since their fingerprints stay in the persisted dupefilter,
no later schedule would ever request those pages again.  `LeasedQueue` is scrapy-redis's
`PriorityQueue` (SCHEDULER_QUEUE_CLASS) with a lease on every pop, in one Lua script:

- `pop` moves the best request from the frontier to `<queue>:leases` (id -> deadline) and
  `<queue>:leased` (id -> "score data"), and first puts back every request whose lease ran out
  (counted in `<queue>:requeued`);
- the worker renews the leases it holds every third of `[redis] lease_seconds`
  (`renew`, crawler/fetch/redis_worker.py `LeaseAck`) and acknowledges (`ack`) a request once
  its work is safe elsewhere: its item is in the stream, its links are in the frontier, its
  failure is recorded, or (`push`) the redirect or retry that continues it is queued;
- a worker that stops cleanly `release`s what it holds at once; one killed with -9 stops
  renewing, and its requests go back to the frontier `lease_seconds` later.

A request is thus done at least once: a worker killed between a download and the
acknowledgement has the page requested again by another.

scrapy-redis's `Scheduler.enqueue_request` marks a request seen (SADD to the dupefilter) and
then pushes it (ZADD), two round trips: a worker killed between them left a fingerprint with
no request behind it, and since the page that listed it is read again but its links are then
"seen", that article was never requested (a fleet test lost one so, about once in 30 kills).
`AtomicScheduler` (SCHEDULER) does both in one Lua script (`LeasedQueue.push_unseen`), for the
dupefilter's fingerprints and for the once-per-schedule set of feeds, sitemaps and listing
pages (`tw_once` in the request's meta, crawler/fetch/redis_worker.py).

Scrapy's engine asks the scheduler for requests only when something happened in this process
or on its 5-second heartbeat (`ExecutionEngine._SLOT_HEARTBEAT_INTERVAL`); requests other
workers put in the frontier are news it does not hear of.  `wake` schedules the engine's next
loop (`engine._slot.nextcall`, private) so an idle worker looks every POLL_SECONDS instead.
tests/test_redis_workers.py::test_the_scrapy_internals_the_worker_uses_are_there fails when
either library changes what this module relies on.
"""

from __future__ import annotations

from typing import Any

from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

POLL_SECONDS = 0.5

_REQUEUE = """
local function requeue(queue, leases, leased, id)
  local entry = redis.call('HGET', leased, id)
  if entry then
    local sep = string.find(entry, ' ', 1, true)
    redis.call('ZADD', queue, tonumber(string.sub(entry, 1, sep - 1)), string.sub(entry, sep + 1))
    redis.call('HDEL', leased, id)
  end
  redis.call('ZREM', leases, id)
end
"""

POP = _REQUEUE + """
local queue, leases, leased, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, id in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, 100)) do
  requeue(queue, leases, leased, id)
  redis.call('INCR', KEYS[5])
end
local top = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
if #top == 0 then return false end
redis.call('ZREM', queue, top[1])
local id = redis.call('INCR', seq)
redis.call('ZADD', leases, now + tonumber(ARGV[1]), id)
redis.call('HSET', leased, id, top[2] .. ' ' .. top[1])
return {id, top[1]}
"""

RENEW = """
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', deadline, ARGV[i]) end
return #ARGV - 1
"""

PUSH_UNSEEN = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
return 1
"""

RELEASE = _REQUEUE + """
for i = 1, #ARGV do requeue(KEYS[1], KEYS[2], KEYS[3], ARGV[i]) end
return #ARGV
"""


class LeasedQueue(PriorityQueue):
    """scrapy-redis's PriorityQueue whose pops are leases (see the module docstring)."""

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None):
        super().__init__(server, spider, key, serializer)
        self.leases, self.leased = f"{self.key}:leases", f"{self.key}:leased"
        self.seq, self.requeued = f"{self.key}:lease-id", f"{self.key}:requeued"
        self.ttl_ms = int(spider.settings.getfloat("TOPICWATCH_LEASE_SECONDS", 60.0) * 1000)
        self.held: set[int] = set()
        self._pop = server.register_script(POP)
        self._renew = server.register_script(RENEW)
        self._release = server.register_script(RELEASE)
        self._push_unseen = server.register_script(PUSH_UNSEEN)
        spider.frontier = self  # for LeaseAck, which acknowledges and renews

    def push(self, request: Any) -> None:
        """Queue a request; one that continues a leased one (a redirect, a retry) ends that
        lease once it is safely queued."""
        lease = request.meta.pop("tw_lease", None)
        super().push(request)
        if lease is not None:
            self.ack(lease)

    def push_unseen(self, request: Any, seen_key: str, member: str, ttl_seconds: int = 0) -> bool:
        """Add `member` to the set `seen_key` and, when it was not there, queue the request,
        in one step (see the module docstring); False when it was seen.  A lease the request
        carries (a redirect's) ends either way: its continuation is queued or was already."""
        lease = request.meta.pop("tw_lease", None)
        score = -request.priority  # as scrapy-redis's PriorityQueue.push scores
        queued = self._push_unseen(keys=[self.key, seen_key],
                                   args=[member, ttl_seconds, score, self._encode_request(request)])
        if lease is not None:
            self.ack(lease)
        return bool(queued)

    def pop(self, timeout: int = 0) -> Any:
        got = self._pop(keys=[self.key, self.leases, self.leased, self.seq, self.requeued],
                        args=[self.ttl_ms])
        if not got:
            return None
        lease, data = int(got[0]), got[1]
        request = self._decode_request(data)
        request.meta["tw_lease"] = lease
        self.held.add(lease)
        return request

    def ack(self, lease: int) -> None:
        if lease in self.held:
            self.held.discard(lease)
            pipe = self.server.pipeline()
            pipe.zrem(self.leases, lease).hdel(self.leased, lease)
            pipe.execute()

    def renew(self) -> int:
        if not self.held:
            return 0
        return self._renew(keys=[self.leases], args=[self.ttl_ms, *self.held])

    def release(self) -> int:
        """Put back at once what this worker holds (it stops cleanly)."""
        held, self.held = list(self.held), set()
        return self._release(keys=[self.key, self.leases, self.leased], args=held) if held else 0

    def clear(self) -> None:
        self.server.delete(self.key, self.leases, self.leased, self.seq, self.requeued)


class AtomicScheduler(Scheduler):
    """scrapy-redis's Scheduler whose "seen?" and push are one step (see the module
    docstring).  A request with `dont_filter` is pushed unless its meta names a once-set
    (`tw_once`: the key of its schedule's set of documents, kept ONCE_SECONDS); the name is
    taken out of the meta, so a retry or a redirect of the request is not held to it."""

    ONCE_SECONDS = 86400

    def enqueue_request(self, request: Any) -> bool:
        once = request.meta.pop("tw_once", None)  # not carried on by a retry or a redirect
        if request.dont_filter and not once:
            self.queue.push(request)
        elif not self.queue.push_unseen(request, *(
                (once, request.url, self.ONCE_SECONDS) if request.dont_filter
                else (self.df.key, self.df.request_fingerprint(request), 0))):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True


def wake(engine: Any) -> None:
    """Have the engine ask the scheduler again soon (see the module docstring)."""
    slot = getattr(engine, "_slot", None)
    if slot is not None and engine.running:
        slot.nextcall.schedule()
