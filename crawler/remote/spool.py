"""`RedisSpool`: the spool (crawler/store/spool.py's interface) as a Redis stream, and `drain`,
the one ingester next to the corpus (`topicwatch ingest --redis URL`).

Workers `put` (XADD) from any machine.  The ingester reads through the consumer group `ingest`
as the one consumer `ingester`: an item read but not acknowledged stays in the group's pending
list, and a restarted ingester reads that list first.  `Ingester` calls `remove` inside the
SQLite transaction that stores the item; the acknowledgement (XACK + XDEL) is only sent at the
next `pending`, after that transaction committed.  So a killed ingester loses nothing: what it
had not committed is read again, and what it committed but had not acknowledged is ingested
again, which adds nothing (ingest is idempotent: a URL already stored or copied is "known").
Each acknowledged item's URLs go to the workers' never-fetch set.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable

import redis
from sqlite_utils import Database

from crawler.config import DedupSettings
from crawler.records import RunStatus, SpoolItem
from crawler.remote.shared import Shared
from crawler.store import pages, runs
from crawler.store.ingest import Ingester, IngestStats
from crawler.text.urls import canonical_url

GROUP = "ingest"
TRIGGER = "ingest --redis"
CONSUMER = "ingester"
log = logging.getLogger(__name__)


class RedisSpool:
    def __init__(self, shared: Shared, block_seconds: float = 1.0,
                 stop: Callable[[], bool] | None = None):
        self.shared = shared
        self.stop = stop  # when it says so, `pending` returns nothing: the caller has other work
        self.run_id: int | None = None  # the corpus run that counts what is read (drain's)
        self.client = shared.client
        self.key = shared.keys.items
        self.block_ms = int(block_seconds * 1000)
        self._backlog = True  # first read this consumer's pending list (a previous life's)
        self._read: dict[str, SpoolItem] = {}
        self._done: list[str] = []
        self._aside: dict[str, str] = {}  # key -> the error ingest met on it

    # ------------------------------------------------------------ the workers' side

    def put(self, item: SpoolItem) -> None:
        self.client.xadd(self.key, {"item": json.dumps(item.to_dict(), ensure_ascii=False)})

    # ------------------------------------------------------------ the ingester's side

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.key, GROUP, id="0", mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    def pending(self, limit: int = 100) -> list[tuple[str, SpoolItem]]:
        """Acknowledge what was removed (committed) since the last call, then the next items:
        this consumer's unacknowledged ones first, then new ones (waiting up to a second)."""
        self.flush()
        if self.stop is not None and self.stop():
            return []
        if self._backlog:
            got = self.client.xreadgroup(GROUP, CONSUMER, {self.key: "0"}, count=limit)
            entries = got[0][1] if got else []
            entries = [(i, f) for i, f in entries if f]  # deleted under us: nothing to read
            if not entries:
                self._backlog = False
        if not self._backlog:
            got = self.client.xreadgroup(GROUP, CONSUMER, {self.key: ">"}, count=limit,
                                         block=self.block_ms)
            entries = got[0][1] if got else []
        batch = []
        for entry_id, fields in entries:
            key = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            try:
                item = SpoolItem.from_dict(json.loads(fields[b"item"]))
            except (KeyError, TypeError, ValueError) as e:  # ValueError: bad JSON or UTF-8
                self._set_aside(key, fields, e)
                continue
            if item.run_id is None and self.run_id is not None:
                item = dataclasses.replace(item, run_id=self.run_id)
            self._read[key] = item
            batch.append((key, item))
        return batch

    def remove(self, key: int | str) -> None:
        """Called inside the item's SQLite transaction: acknowledged after it commits."""
        self._done.append(str(key))

    def rolled_back(self) -> None:
        """The batch's transaction was rolled back: what it removed is not stored, so it is not
        acknowledged (it stays in this consumer's pending list), and the next `pending` reads
        that list again, from its start."""
        self._done = []
        self._aside = {}
        self._backlog = True

    def set_aside(self, key: int | str, error: str) -> None:
        """Called inside the item's SQLite transaction: after it commits, the item moves to
        `<items>:unreadable` with `error`, and its URL is not published as stored."""
        self._aside[str(key)] = error

    def _set_aside(self, key: str, fields: dict, error: Exception) -> None:
        """An entry that is no item (not JSON, or not an item's fields) would stop the
        ingester at every read: it goes to the `<items>:unreadable` stream, kept for a person
        to look at, and leaves the items stream."""
        log.error("a spooled entry %s of %s is not an item (%s: %s); moved to %s:unreadable",
                  key, self.key, type(error).__name__, error, self.key)
        pipe = self.client.pipeline()
        pipe.xadd(f"{self.key}:unreadable", {**fields, b"error": f"{type(error).__name__}: {error}"[:500]})
        pipe.xack(self.key, GROUP, key).xdel(self.key, key)
        pipe.execute()

    def flush(self) -> None:
        """Acknowledge and delete the committed items; publish their URLs as stored (those
        set aside go to `<items>:unreadable` instead)."""
        if self._aside:
            pipe = self.client.pipeline()
            for key, error in self._aside.items():
                item = self._read.pop(key, None)
                fields = {"item": json.dumps(item.to_dict(), ensure_ascii=False) if item else "", "error": error}
                pipe.xadd(f"{self.key}:unreadable", fields)
                pipe.xack(self.key, GROUP, key).xdel(self.key, key)
            pipe.execute()
            self._aside = {}
        if not self._done:
            return
        urls = []
        for key in self._done:
            item = self._read.pop(key, None)
            if item is not None:
                a = item.article
                # a canonical URL its page only declared may be fetched once (store/pages.py)
                own = canonical_url(a.url)
                urls += [a.url, own, item.requested_url or ""]
        self.shared.add_stored(urls)
        pipe = self.client.pipeline()
        pipe.xack(self.key, GROUP, *self._done).xdel(self.key, *self._done)
        pipe.execute()
        self._done = []

    def __len__(self) -> int:
        return self.client.xlen(self.key)


def seed_stored(db: Database, shared: Shared) -> int:
    """Publish every URL the corpus must not fetch again (stored, copies, final outcomes)."""
    return shared.add_stored(pages.known_article_urls(db))


def drain(db: Database, dedup: DedupSettings, shared: Shared, *, stop: Callable[[], bool],
          progress: Callable[[IngestStats], None] | None = None,
          block_seconds: float = 1.0) -> IngestStats:
    """Ingest from the stream until `stop()` says so (checked at least every `block_seconds`)."""
    seeded = seed_stored(db, shared)
    log.info("published %d stored URLs to %s", seeded, shared.keys.stored)
    spool = RedisSpool(shared, block_seconds, stop=stop)  # a busy stream still stops promptly
    spool.ensure_group()
    # one run row (trigger "ingest --redis") counts what this ingester stored, for `status`
    spool.run_id = runs.start_run(db, TRIGGER, [], pid=os.getpid())
    ingester = Ingester(db, dedup)
    total = IngestStats()
    try:
        while not stop():
            stats = ingester.ingest(spool)
            spool.flush()
            total.new += stats.new
            total.duplicates += stats.duplicates
            total.set_aside += stats.set_aside
            if progress and (stats.new or stats.duplicates or stats.set_aside):
                progress(total)
    except BaseException:
        runs.finish_run(db, spool.run_id, RunStatus.FAILED, "the ingester stopped on an error")
        raise
    runs.finish_run(db, spool.run_id, RunStatus.OK)
    return total
