"""Workers on several machines: `topicwatch worker` processes sharing a real Redis (scrapy-redis
frontier and dupefilter, leases, shared politeness, never-refetch, validators) and one
`topicwatch ingest --redis` writing the corpus, over the fixture site."""

from __future__ import annotations

import contextlib
import inspect
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis
from fixturesite import FixtureSite, build, manifest, shipped_topics
from scrapy import Request
from scrapy_redis.dupefilter import RFPDupeFilter

from crawler.config import DedupSettings, load_settings
from crawler.dedup import NearDup
from crawler.records import Article, Match, SpoolItem
from crawler.remote.shared import Shared
from crawler.remote.spool import RedisSpool, drain
from crawler.store.db import open_db
from crawler.store.ingest import Ingester

ROOT = Path(__file__).resolve().parent.parent
DELAY = 0.3


class Fleet:
    """One ingester and N workers as real processes, each with its own settings file (the
    workers' [corpus] path is their own state file; the ingester's is the corpus)."""

    def __init__(self, site: FixtureSite, tmp: Path, url: str, prefix: str, lease: float = 4.0):
        self.site, self.tmp, self.url, self.prefix = site, tmp, url, prefix
        self.client = redis.Redis.from_url(url)
        self.shared = Shared(self.client, prefix)
        self.corpus = tmp / "corpus.db"
        self.lease = lease
        self.concurrency: int | None = None  # [crawl] concurrency of the workers
        self.procs: dict[str, subprocess.Popen] = {}

    def settings(self, name: str, corpus: Path) -> Path:
        crawl = f"delay = {DELAY}\n"
        if self.concurrency and name.startswith("worker"):
            crawl += f"concurrency = {self.concurrency}\n"
        text = self.site.settings_toml(corpus).replace("delay = 0\n", crawl)
        text += f'\n[redis]\nurl = "{self.url}"\nprefix = "{self.prefix}"\nlease_seconds = {self.lease}\n'
        path = self.tmp / f"{name}.toml"
        path.write_text(text + "\n" + shipped_topics(), encoding="utf-8")
        return path

    def start(self, name: str, *args: str) -> subprocess.Popen:
        corpus = self.corpus if name == "ingester" else self.tmp / f"{name}.db"
        log = (self.tmp / f"{name}.log").open("w")
        command = "ingest" if name == "ingester" else "worker"
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", command, "--settings", str(self.settings(name, corpus)),
             "--redis", self.url, *args], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        self.procs[name] = proc
        return proc

    def wait_ready(self, *names: str, timeout: float = 60.0) -> None:
        """Until each worker says it takes work from the frontier."""
        deadline = time.monotonic() + timeout
        for name in names:
            while "worker ready: " not in self.log(name):
                assert self.procs[name].poll() is None, (name, self.log(name)[-3000:])
                assert time.monotonic() < deadline, (name, self.log(name)[-3000:])
                time.sleep(0.05)

    @property
    def names(self) -> list[str]:
        return [*getattr(self, "stopped", {}), *self.procs]

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def enqueue(self) -> None:
        done = subprocess.run([sys.executable, "-m", "crawler", "enqueue", "--settings",
                               str(self.settings("enqueue", self.corpus))],
                              capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "enqueued 5 source(s)" in done.stdout

    def wait_idle(self, timeout: float = 60.0, quiet: float = 0.6) -> None:
        """Until no schedule, request, lease or item is left for `quiet` seconds."""
        deadline, since = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                assert proc.poll() is None or name.startswith("killed"), (name, self.log(name)[-3000:])
            busy = any(self.shared.frontier().values())
            if busy or not self.site.requests:
                since = None
            elif since is None:
                since = time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.2)
        raise AssertionError(f"still busy after {timeout} s: {self.shared.frontier()}")

    def stop(self) -> dict[str, int]:
        codes = {}
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait()
        self.stopped, self.procs = {**getattr(self, "stopped", {}), **self.procs}, {}
        return codes

    def rows(self, sql: str) -> list[sqlite3.Row]:
        db = sqlite3.connect(self.corpus)
        db.row_factory = sqlite3.Row
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()


def assert_stored_once(fleet: Fleet) -> None:
    """Every on-topic article of the site stored once, each copy pointing at its original.
    Which page of a group becomes the article depends on arrival order (a print page with the
    original as its canonical URL may come first), so groups are checked by article id."""
    rows = fleet.rows("SELECT id, url, canonical_url FROM articles")
    ids = {**{r["url"]: r["id"] for r in rows}, **{r["canonical_url"]: r["id"] for r in rows}}
    ids.update({r["url"]: r["article_id"] for r in fleet.rows("SELECT url, article_id FROM copies")})
    assert len(rows) == len(manifest.expect("article")), why_not_stored(fleet, ids)
    for group in manifest.story_groups():
        urls = [fleet.site.url(e.host, e.path) for e in group]
        assert len({ids.get(u) for u in urls}) == 1 and ids.get(urls[0]), (urls, why_not_stored(fleet, ids))
    for e in manifest.expect("article") + manifest.expect("copy"):
        assert fleet.site.url(e.host, e.path) in ids, (e.path, why_not_stored(fleet, ids))


def why_not_stored(fleet: Fleet, ids: dict[str, int]) -> str:
    """What a failed count needs to be understood: the expected pages the corpus lacks, what
    the server answered for them, and what each worker recorded as skipped."""
    missing = [e for e in manifest.expect("article") + manifest.expect("copy")
               if fleet.site.url(e.host, e.path) not in ids]
    dupefilter = RFPDupeFilter(fleet.client, fleet.shared.keys.dupefilter)
    lines = [f"{len(ids)} URL(s) known; missing:"]
    for e in missing:
        seen = [(round(r.time, 2), r.status) for r in fleet.site.requests_for(e.host, e.path)]
        fingerprint = dupefilter.request_fingerprint(Request(fleet.site.url(e.host, e.path)))
        lines.append(f"  {e.host}{e.path} ({e.outcome}, linked by {e.sources}): requests {seen}, "
                     f"in the dupefilter: {bool(fleet.client.sismember(dupefilter.key, fingerprint))}")
    for name in fleet.names:
        state = fleet.tmp / f"{name.removeprefix('killed-')}.db"
        if "worker" in name and state.exists():
            db = sqlite3.connect(state)
            try:
                skipped = db.execute("SELECT url, reason, detail FROM skipped").fetchall()
            except sqlite3.Error as e:
                skipped = [str(e)]
            finally:
                db.close()
            lines.append(f"  {name} skipped: {skipped}")
    lines.append(f"  frontier: {fleet.shared.frontier()}")
    return "\n".join(lines)


def page_counts(site: FixtureSite) -> Counter:
    """Requests per (host, path); robots.txt left out: each worker reads it for itself."""
    return Counter((r.host, r.path) for r in site.requests if r.path != "/robots.txt")


@pytest.fixture
def fleet(site: FixtureSite, tmp_path: Path, redis_server: str, redis_prefix: str):
    f = Fleet(site, tmp_path, redis_server, redis_prefix)
    yield f
    f.stop()


@pytest.mark.slow
def test_three_workers_and_one_ingester_store_each_article_once_politely(fleet: Fleet):
    # three workers, each holding at most three requests at once ([crawl] concurrency): what
    # one of them cannot take waits in the frontier for the others
    fleet.concurrency = 3
    fleet.start("ingester")
    for n in (1, 2, 3):
        fleet.start(f"worker{n}")
    fleet.wait_ready("worker1", "worker2", "worker3")
    fleet.enqueue()
    fleet.wait_idle()
    codes = fleet.stop()
    assert codes == {"ingester": 143, "worker1": 143, "worker2": 143, "worker3": 143}, codes

    assert_stored_once(fleet)
    twice = {k: n for k, n in page_counts(fleet.site).items() if n > 1}
    assert not twice, twice
    # the frontier was scrapy-redis's, its persisted dupefilter holds every article request
    fingerprints = fleet.client.scard(fleet.shared.keys.dupefilter)
    assert fingerprints >= len(manifest.expect("article")) + len(manifest.expect("copy"))
    # the work was shared: each worker's own run (in its state file) counts what it fetched
    assert "Traceback" not in "".join(fleet.log(n) for n in fleet.names)
    fetched = {n: sqlite3.connect(fleet.tmp / f"{n}.db").execute(
        "SELECT sum(fetched) FROM runs").fetchone()[0] or 0 for n in ("worker1", "worker2", "worker3")}
    assert len([n for n, k in fetched.items() if k]) >= 2, fetched
    assert sum(fetched.values()) >= len(manifest.expect("article")), fetched
    # per-host politeness across the workers: [crawl] delay, and host b's Crawl-delay
    # (robots.txt left out: each worker reads it before it knows the Crawl-delay)
    for host, least in (("a", DELAY), ("b", max(DELAY, build.CRAWL_DELAY_B)), ("c", DELAY)):
        log = sorted((r.time, r.path) for r in fleet.site.requests if r.host == host and r.path != "/robots.txt")
        gaps = [(b[0] - a[0], a[1], b[1]) for a, b in zip(log, log[1:], strict=False)]
        assert len(log) >= 3, (host, log)
        assert not [g for g in gaps if g[0] < least], (host, [g for g in gaps if g[0] < least])
    # never-refetch and the validators are shared: a second schedule fetches no article and
    # gets 304s for the feeds
    fleet.site.clear_log()
    fleet.start("ingester")
    fleet.start("worker1")
    # a worker already running reads the schedule when idle (scrapy-redis's spider_idle),
    # not through start(): its requests must be routed (validators) all the same
    fleet.wait_ready("worker1")
    fleet.enqueue()
    fleet.wait_idle()
    article_paths = {e.path for e in manifest.ARTICLES
                     if e.outcome in ("article", "copy", "off_topic", "too_large")}
    assert not [r.path for r in fleet.site.requests if r.path.split("?")[0] in article_paths]
    # host c's 500 and slow pages failed transiently: requested again, through its feed read
    # in full; the other feeds answer 304
    second = [(r.host, r.path) for r in fleet.site.requests]
    assert manifest.SERVER_ERROR in second and manifest.SLOW in second, second
    feeds = [r for r in fleet.site.requests if (r.host, r.path) in set(manifest.FEEDS.values())]
    assert {r.host for r in feeds} == {"a", "b", "c"}
    assert all(r.conditional and r.status == 304 for r in feeds if r.host != "c"), feeds
    assert [r.status for r in feeds if r.host == "c"] == [200]
    assert len(fleet.rows("SELECT id FROM articles")) == len(manifest.expect("article"))


@pytest.mark.slow
def test_a_worker_killed_mid_crawl_loses_nothing(fleet: Fleet):
    fleet.start("ingester")
    fleet.start("worker1")
    fleet.enqueue()
    # worker1 alone takes work; once it holds leases mid-crawl the others start, and it dies
    deadline = time.monotonic() + 60
    while len(fleet.site.requests) < 10 or not fleet.shared.frontier()["leased"]:
        assert time.monotonic() < deadline, fleet.shared.frontier()
        time.sleep(0.05)
    for n in (2, 3):
        fleet.start(f"worker{n}")
    at_kill = fleet.shared.frontier()
    victim = fleet.procs.pop("worker1")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    fleet.procs["killed-worker1"] = victim
    assert at_kill["leased"] > 0, at_kill
    fleet.wait_idle(timeout=90)

    assert_stored_once(fleet)
    # what the killed worker had in flight may be requested again by another; nothing else
    twice = {k: n for k, n in page_counts(fleet.site).items() if n > 1}
    assert len(twice) <= 16 and all(n == 2 for n in twice.values()), twice
    assert fleet.shared.frontier() == {"schedules": 0, "requests": 0, "leased": 0, "items": 0}
    # the killed worker's leased requests ran out and went back to the frontier
    assert int(fleet.client.get(fleet.shared.keys.requests + ":requeued") or 0) >= 1


def test_the_redis_spool_acknowledges_only_after_commit_and_ingest_is_idempotent(
        tmp_path: Path, redis_server: str, redis_prefix: str):
    """A killed ingester's read-but-unacknowledged items are read again, and ingesting an item
    twice adds nothing; acknowledged URLs go to the workers' never-fetch set."""
    shared = Shared(redis.Redis.from_url(redis_server), redis_prefix)
    settings_path = tmp_path / "settings.toml"
    settings_path.write_text(f'[corpus]\npath = "{tmp_path / "corpus.db"}"\n', encoding="utf-8")
    settings = load_settings(settings_path)
    db = open_db(settings.corpus_path)

    near = NearDup()

    def item(n: int) -> SpoolItem:
        text = f"第{n}篇文章。" + "人工智能芯片的新闻正文，写了很多内容，" * (5 + n) + f"编号{n * 7919}。"
        # the dedup keys a worker computed travel with the item
        return SpoolItem(article=Article(url=f"https://news.test/{n}", source="s", title=f"t{n}",
                                         text=text), matches=(Match("ai", 1.0, ("人工智能",)),),
                         dedup_keys=near.dedup_keys(text))

    spool = RedisSpool(shared)
    spool.ensure_group()
    for n in range(3):
        spool.put(item(n))
    # an ingester that read two items and died before acknowledging them
    first = RedisSpool(shared).pending(2)
    assert [i.article.url for _, i in first] == ["https://news.test/0", "https://news.test/1"]
    assert [i for _, i in first] == [item(0), item(1)]  # the dedup keys too
    assert not shared.any_stored("https://news.test/0")
    # the next ingester reads them again (its pending list), then the third; it stops once
    # the stream is empty (the stop is also asked between batches)
    def drained() -> bool:
        return shared.client.xlen(shared.keys.items) == 0

    stats = drain(db, settings.dedup, shared, stop=drained, block_seconds=0.2)
    assert stats.new == 3
    assert len(spool) == 0 and shared.client.xpending(shared.keys.items, "ingest")["pending"] == 0
    assert shared.any_stored("https://news.test/2")
    # the same items again (a redelivery after a crash between commit and ack): nothing new
    for n in range(3):
        spool.put(item(n))
    again = drain(db, settings.dedup, shared, stop=drained, block_seconds=0.2)
    assert again.new == 0 and again.duplicates == 0
    assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 3
    # each drain is one run in the corpus, counting what it stored
    assert db.execute("SELECT trigger, status, new FROM runs ORDER BY id").fetchall() == [
        ("ingest --redis", "ok", 3), ("ingest --redis", "ok", 0)]


def _ai_item(n: int) -> SpoolItem:
    text = f"第{n}篇报道。" + "大模型算力成本的讨论越来越多，" * (6 + n) + f"编号{n * 104729}。"
    return SpoolItem(article=Article(url=f"https://news.test/{n}", source="s", title=f"t{n}", text=text),
                     matches=(Match("ai", 1.0, ("大模型",)),))


def test_a_batch_that_fails_is_not_acknowledged_and_is_read_again(
        tmp_path: Path, redis_server: str, redis_prefix: str):
    """The daemon ingests the stream with one RedisSpool for its whole life: when a batch's
    transaction rolls back (here a trigger refuses the third article: a full disk, a bug), the
    items it had stored in its savepoints are not acknowledged, not published as stored, and
    are read again by the next ingest, with the one that failed."""
    shared = Shared(redis.Redis.from_url(redis_server), redis_prefix)
    db = open_db(tmp_path / "corpus.db")
    spool = RedisSpool(shared, block_seconds=0.2)
    spool.ensure_group()
    for n in range(4):
        spool.put(_ai_item(n))
    db.execute("CREATE TRIGGER boom BEFORE INSERT ON articles WHEN NEW.url = 'https://news.test/2' "
               "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
    ingester = Ingester(db, DedupSettings())
    with pytest.raises(Exception, match="disk on fire"):
        ingester.ingest(spool)
    assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
    assert shared.client.xpending(shared.keys.items, "ingest")["pending"] == 4
    # the next cycle (the daemon's), same spool: nothing acknowledged, nothing published
    db.execute("DROP TRIGGER boom")
    assert not shared.any_stored("https://news.test/0")
    stats = ingester.ingest(spool)
    spool.flush()
    assert stats.new == 4
    assert sorted(r[0] for r in db.execute("SELECT url FROM articles")) == [f"https://news.test/{n}" for n in range(4)]
    assert shared.client.xlen(shared.keys.items) == 0 and shared.any_stored("https://news.test/0")


def test_an_item_ingest_fails_on_is_set_aside_unpublished_and_the_rest_is_stored(
        tmp_path: Path, redis_server: str, redis_prefix: str, url_code_raising_for):
    """A bug met on one item (the URL code raising for it) would stop the ingester at every
    read: the item goes to `<items>:unreadable` with its error, its URL is not published as
    stored (a worker may fetch it again), and the others are stored and published."""
    shared = Shared(redis.Redis.from_url(redis_server), redis_prefix)
    db = open_db(tmp_path / "corpus.db")
    spool = RedisSpool(shared, block_seconds=0.2)
    spool.ensure_group()
    for n in range(3):
        spool.put(_ai_item(n))
    url_code_raising_for("https://news.test/1")
    stats = Ingester(db, DedupSettings()).ingest(spool)
    spool.flush()
    assert (stats.new, stats.set_aside) == (2, 1)
    assert sorted(r[0] for r in db.execute("SELECT url FROM articles")) == ["https://news.test/0", "https://news.test/2"]
    aside = shared.client.xrange(shared.keys.items + ":unreadable")
    assert [json.loads(f[b"item"])["article"]["url"] for _, f in aside] == ["https://news.test/1"]
    assert aside[0][1][b"error"] == b"ingest: TypeError: a bug met on this page"
    assert shared.client.xlen(shared.keys.items) == 0
    assert shared.any_stored("https://news.test/0") and not shared.any_stored("https://news.test/1")


def test_an_entry_that_is_no_item_is_set_aside_and_the_rest_is_ingested(
        tmp_path: Path, redis_server: str, redis_prefix: str):
    """A stream entry that is not an item (not JSON, or an article without its text) would stop
    the ingester at every read: it goes to `<items>:unreadable` with its error; an item from a
    newer version, with an article field this one does not know, is stored without it."""
    shared = Shared(redis.Redis.from_url(redis_server), redis_prefix)
    db = open_db(tmp_path / "corpus.db")
    spool = RedisSpool(shared, block_seconds=0.2)
    spool.ensure_group()
    shared.client.xadd(shared.keys.items, {"item": "{not json"})
    broken = _ai_item(1).to_dict()
    del broken["article"]["text"]
    shared.client.xadd(shared.keys.items, {"item": json.dumps(broken)})
    newer = _ai_item(2).to_dict()
    newer["article"]["sentiment"] = "upbeat"  # a field a later version might add
    shared.client.xadd(shared.keys.items, {"item": json.dumps(newer)})
    spool.put(_ai_item(3))
    stats = Ingester(db, DedupSettings()).ingest(spool)
    spool.flush()
    assert stats.new == 2
    assert sorted(r[0] for r in db.execute("SELECT url FROM articles")) == ["https://news.test/2", "https://news.test/3"]
    aside = shared.client.xrange(shared.keys.items + ":unreadable")
    assert [f[b"item"] for _, f in aside] == [b"{not json", json.dumps(broken).encode()]
    assert [f[b"error"].split(b":")[0] for _, f in aside] == [b"JSONDecodeError", b"TypeError"]
    assert shared.client.xlen(shared.keys.items) == 0


def test_the_ingester_stops_promptly_while_items_keep_coming(
        tmp_path: Path, redis_server: str, redis_prefix: str):
    """`topicwatch ingest --redis` asked to stop (SIGTERM) in a busy fleet: the stop is asked
    between batches too, not only after a quiet second, so it ends while items still arrive."""
    shared = Shared(redis.Redis.from_url(redis_server), redis_prefix)
    settings_path = tmp_path / "settings.toml"
    settings_path.write_text(f'[corpus]\npath = "{tmp_path / "corpus.db"}"\n', encoding="utf-8")
    db = open_db(tmp_path / "corpus.db")
    RedisSpool(shared).ensure_group()
    producing = threading.Event()
    producing.set()

    def produce() -> None:  # for 8 s at most: an ingester that never stops fails, not hangs
        n = 0
        while producing.is_set() and time.monotonic() - start < 8:
            RedisSpool(shared).put(_ai_item(n))
            n += 1
            time.sleep(0.1)

    start = time.monotonic()
    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        stats = drain(db, DedupSettings(), shared, stop=lambda: time.monotonic() - start > 1.0,
                      block_seconds=1.0)
        took = time.monotonic() - start
    finally:
        producing.clear()
        producer.join(timeout=5)
    assert stats.new >= 3 and took < 4.0, (stats, took)


def test_the_scrapy_internals_the_worker_uses_are_there():
    """crawler/fetch/redis_frontier.py relies on these; when a release changes them, this fails."""
    from scrapy.core.engine import ExecutionEngine, _Slot
    from scrapy_redis.queue import PriorityQueue
    from scrapy_redis.scheduler import Scheduler

    assert "nextcall" in inspect.signature(_Slot.__init__).parameters
    assert ExecutionEngine._SLOT_HEARTBEAT_INTERVAL >= 1  # why the worker wakes its engine
    assert {"push", "pop", "_encode_request", "_decode_request"} <= set(vars(PriorityQueue)) | set(
        vars(PriorityQueue.__mro__[1]))
    assert "self.queue.pop(" in inspect.getsource(Scheduler.next_request)
    # scrapy-redis pops destructively (why LeasedQueue exists)
    assert "zremrangebyrank" in inspect.getsource(PriorityQueue.pop)
    # scrapy-redis 0.9.1's Scheduler passes spider= to the stats, which Scrapy 2.19 deprecates:
    # when Scrapy drops the argument, the released scheduler breaks (pin Scrapy, or adapt)
    from scrapy.statscollectors import StatsCollector

    assert "spider" in inspect.signature(StatsCollector.inc_value).parameters
    assert "spider=self.spider" in inspect.getsource(Scheduler.next_request)


@pytest.mark.slow
def test_the_daemon_in_redis_mode_enqueues_its_schedules_and_ingests_what_workers_found(
        site: FixtureSite, tmp_path: Path, redis_server: str, redis_prefix: str):
    settings = tmp_path / "settings.toml"
    settings.write_text(
        site.settings_toml(tmp_path / "corpus.db") + "\n" + shipped_topics()
        + f'\n[redis]\nurl = "{redis_server}"\nprefix = "{redis_prefix}"\n'
        + '\n[daemon]\ncrawls = "redis"\n\n[[schedules]]\nname = "often"\ninterval_minutes = 0.05\n',
        encoding="utf-8")
    shared = Shared(redis.Redis.from_url(redis_server), redis_prefix)
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen([sys.executable, "-m", "crawler", "daemon", "--settings", str(settings)],
                              stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while shared.frontier()["schedules"] < 5:
            assert daemon.poll() is None and time.monotonic() < deadline, (
                (tmp_path / "daemon.log").read_text())
            time.sleep(0.1)
        messages = [json.loads(m) for m in shared.client.lrange(shared.keys.schedules, 0, -1)]
        assert {m["source"] for m in messages} == {"xinghe-rss", "xinghe-sitemap", "island-atom",
                                                   "ledger-rss", "ledger-news"}
        text = "深度求索发布新的开源推理模型，人工智能研究者称其训练成本很低。" * 6
        RedisSpool(shared).put(SpoolItem(
            article=Article(url="https://worker.test/a1", source="ledger-rss", title="t", text=text),
            matches=(Match("ai", 1.0, ("人工智能",)),)))
        while not Path(tmp_path / "corpus.db").exists() or not sqlite3.connect(tmp_path / "corpus.db").execute(
                "SELECT count(*) FROM articles").fetchone()[0]:
            assert daemon.poll() is None and time.monotonic() < deadline, (
                (tmp_path / "daemon.log").read_text())
            time.sleep(0.1)
        assert shared.any_stored("https://worker.test/a1")
        assert site.requests == []  # the daemon crawls nothing itself
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0, (tmp_path / "daemon.log").read_text()


def test_the_fleet_commands_say_what_is_wrong(tmp_path: Path, redis_server: str, redis_prefix: str):
    from click.testing import CliRunner

    from crawler.cli import cli

    settings = tmp_path / "settings.toml"
    settings.write_text(f'[corpus]\npath = "{tmp_path / "c.db"}"\n\n[redis]\nprefix = "{redis_prefix}"\n'
                        '\n[[sources]]\nname = "s"\nkind = "feed"\nurl = "http://127.0.0.1:9/f"\n',
                        encoding="utf-8")
    run = CliRunner().invoke
    no_url = run(cli, ["worker", "--settings", str(settings)])
    assert no_url.exit_code == 2 and "[redis] url: is empty and no --redis URL" in no_url.output
    bad = run(cli, ["ingest", "--settings", str(settings), "--redis", "http://x"])
    assert bad.exit_code == 2 and "not a Redis URL" in bad.output
    down = run(cli, ["enqueue", "--settings", str(settings), "--redis", "redis://127.0.0.1:1/0"])
    assert down.exit_code == 1 and "Redis at redis://127.0.0.1:1/0 cannot be reached" in down.output
    ok = run(cli, ["enqueue", "--settings", str(settings), "--redis", redis_server])
    assert ok.exit_code == 0 and "enqueued 1 source(s)" in ok.output
    assert redis.Redis.from_url(redis_server).lrange(f"{redis_prefix}:schedules", 0, -1) == [b'{"source": "s"}']


class _Killed(BaseException):
    """The worker process died (SIGKILL) before sending a command."""


class _DyingRedis(redis.Redis):
    """A real client whose process dies as it is about to send its (budget+1)-th command:
    everything sent before reached Redis, nothing after."""

    budget = 1 << 30

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if self.budget <= 0:
            raise _Killed
        self.budget -= 1
        return super().execute_command(*args, **options)


def _scheduler(cls: type, url: str, prefix: str) -> Any:
    from scrapy import Spider
    from scrapy.utils.test import get_crawler
    from scrapy_redis.scheduler import Scheduler

    crawler = get_crawler(Spider, {"REDIS_URL": url, "SCHEDULER_PERSIST": True,
                                   "SCHEDULER_QUEUE_CLASS": "crawler.fetch.redis_frontier.LeasedQueue",
                                   "SCHEDULER_QUEUE_KEY": f"{prefix}:requests",
                                   "SCHEDULER_DUPEFILTER_KEY": f"{prefix}:dupefilter",
                                   "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter"})
    scheduler = cls.from_crawler(crawler)
    if cls.enqueue_request is Scheduler.enqueue_request:
        scheduler.stats = None  # its spider= argument to the stats warns (Scrapy 2.19)
    scheduler.server = _DyingRedis.from_url(url)  # the queue's scripts are registered on it
    scheduler.open(crawler._create_spider("worker"))
    scheduler.df.server = scheduler.server
    return scheduler


@pytest.mark.parametrize("released", [False, True], ids=["atomic", "scrapy-redis"])
def test_a_worker_killed_while_queueing_leaves_no_request_seen_but_unqueued(
        redis_server: str, redis_prefix: str, released: bool):
    """The dupefilter's fingerprint (or the schedule's once-set entry) and the queued request
    are written in one step: whenever the worker dies, a request is either both seen and
    queued or neither, so a page listing it again gets it queued.  scrapy-redis's own
    Scheduler writes them in two commands (why AtomicScheduler exists): the test fails the
    day it no longer does."""
    from scrapy_redis.scheduler import Scheduler

    from crawler.fetch.redis_frontier import AtomicScheduler

    client = redis.Redis.from_url(redis_server)
    torn = []
    for budget in range(6):
        for once in (False, True):
            prefix = f"{redis_prefix}:{budget}{once:d}"
            scheduler = _scheduler(Scheduler if released else AtomicScheduler, redis_server, prefix)
            request = Request(f"https://news.test/{budget}", dont_filter=once)
            if once:
                request.meta["tw_once"] = f"{prefix}:listed:s1"
            scheduler.server.budget = budget
            with contextlib.suppress(_Killed):
                scheduler.enqueue_request(request)
            queued = client.zcard(f"{prefix}:requests")
            seen = (client.sismember(f"{prefix}:listed:s1", request.url) if once else
                    client.sismember(f"{prefix}:dupefilter", scheduler.df.request_fingerprint(request)))
            if bool(seen) != bool(queued):
                torn.append((budget, once, bool(seen), queued))
            # and the page that lists it, read again (by another worker), gets it queued
            scheduler.server.budget = 1 << 30
            retry = Request(request.url, dont_filter=once)
            if once:
                retry.meta["tw_once"] = f"{prefix}:listed:s1"
            scheduler.enqueue_request(retry)
            if not client.zcard(f"{prefix}:requests"):
                torn.append((budget, once, "lost"))
    if released:
        assert (1, False, True, 0) in torn, torn  # SADD sent, ZADD not
    else:
        assert not torn, torn


def test_the_fleets_validators_hold_only_for_the_settings_they_were_read_with(
        redis_server: str, redis_prefix: str):
    shared = Shared(redis.Redis.from_url(redis_server), redis_prefix)
    shared.save_validators("https://news.test/feed", '"e1"', "Mon, 30 Nov 2026 08:00:00 GMT", "narrow")
    assert shared.validators("https://news.test/feed", "narrow") == ('"e1"', "Mon, 30 Nov 2026 08:00:00 GMT")
    assert shared.validators("https://news.test/feed", "wide") == (None, None)
    assert shared.validators("https://news.test/other", "narrow") == (None, None)


@pytest.mark.slow
def test_one_worker_outlives_its_runs_each_schedule_is_a_run(tmp_path: Path, redis_server: str,
                                                              redis_prefix: str):
    """A worker lives for many schedules, and each schedule message is a run of its source:
    an article that failed for a while (a 500) is asked for again by the next schedule of
    that same worker, and the per-run limits count per schedule (with max_sitemaps_per_source
    = 2 the second schedule still reads the index and its sitemap, where the worker's whole
    life used to count as one run: the page was never asked for again, the sitemaps cut as
    too-many-sitemaps). The index is static (its ETag never changes) and its sitemap gains a
    page: the index is read in full every schedule, so the new page is found (its saved
    validators had brought a 304, and its sitemap was never read again)."""
    from hostile import pages
    from hostile.responses import conditional
    from hostile.server import HostileSite

    answers: Counter[str] = Counter()

    def flaky(ex: Any) -> None:  # 500 the first time, then the page
        answers[ex.path] += 1
        if answers[ex.path] == 1:
            ex.send(b"<html><body>busy</body></html>", status=500)
        else:
            ex.send(pages.article("Harbour lab asks again after a busy server", "<p>" + "The second "
                                  "answer of the port's ferry timetable service came in full. " * 20
                                  + "</p>").encode())

    with HostileSite({"news": "127.0.0.1"}) as site:
        base = site.base("news")
        site.route("news", "/feed.xml", lambda ex: ex.send(pages.rss([f"{base}/news/1.html"]),
                                                           "application/rss+xml"))
        site.route("news", "/news/1.html", flaky)
        mapped = ["/s/1.html"]
        site.route("news", "/sitemap_index.xml", conditional(
            lambda: pages.sitemap_index([f"{base}/news-sitemap.xml"]), "application/xml"))
        site.route("news", "/news-sitemap.xml", conditional(
            lambda: pages.urlset(base + path for path in mapped), "application/xml"))
        for n in (1, 2):
            site.route("news", f"/s/{n}.html", lambda ex, n=n: ex.send(pages.article(
                f"Sitemap page {n}", f"<p>Page {n} of the sitemap tells its own story. " * (10 * n)
                + "</p>").encode()))
        settings = tmp_path / "worker.toml"
        settings.write_text(
            f'[corpus]\npath = "{tmp_path / "worker.db"}"\n'
            "[crawl]\ndelay = 0.1\nretries = 0\nmax_age_days = 0\nmax_sitemaps_per_source = 2\n"
            f'[redis]\nurl = "{redis_server}"\nprefix = "{redis_prefix}"\n'
            f'[[sources]]\nname = "feed"\nkind = "feed"\nurl = "{base}/feed.xml"\n'
            f'[[sources]]\nname = "map"\nkind = "sitemap"\nurl = "{base}/sitemap_index.xml"\n'
            '[[topics]]\nname = "all"\nkeep_all = true\n', encoding="utf-8")
        shared = Shared(redis.Redis.from_url(redis_server), redis_prefix)
        log = tmp_path / "worker.log"
        proc = subprocess.Popen([sys.executable, "-m", "crawler", "worker", "--settings", str(settings)],
                                stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT)

        def schedule_and_wait(requests_before: int) -> None:
            done = subprocess.run([sys.executable, "-m", "crawler", "enqueue", "--settings", str(settings)],
                                  capture_output=True, text=True, cwd=ROOT, timeout=60)
            assert done.returncode == 0, done.stderr
            deadline, quiet_since = time.monotonic() + 60, None
            while quiet_since is None or time.monotonic() - quiet_since < 1.0:
                assert time.monotonic() < deadline and proc.poll() is None, (shared.frontier(), log.read_text()[-3000:])
                f = shared.frontier()
                busy = f["schedules"] or f["requests"] or f["leased"] or len(site.hits()) <= requests_before
                quiet_since = None if busy else (quiet_since or time.monotonic())
                time.sleep(0.05)

        try:
            deadline = time.monotonic() + 60
            while "worker ready: " not in log.read_text():
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()[-3000:]
                time.sleep(0.05)
            schedule_and_wait(0)
            first = Counter(h.path for h in site.hits())
            mapped.append("/s/2.html")  # the sitemap changes, its index does not
            schedule_and_wait(len(site.hits()))
            both = Counter(h.path for h in site.hits())
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    assert first["/news/1.html"] == 1 and first["/s/1.html"] == 1, first
    assert first["/sitemap_index.xml"] == 1 and first["/news-sitemap.xml"] == 1, first
    # the second schedule: the failed page again, the index and its sitemap read again, the
    # new page found, the old one not asked for again (the shared dupefilter has it)
    assert both["/news/1.html"] == 2 and both["/s/1.html"] == 1 and both["/s/2.html"] == 1, both
    assert both["/sitemap_index.xml"] == 2 and both["/news-sitemap.xml"] == 2, both
    with sqlite3.connect(tmp_path / "worker.db") as db:
        cut = db.execute("SELECT url FROM skipped WHERE reason = 'too-many-sitemaps'").fetchall()
    assert cut == [], cut
    assert "Traceback" not in log.read_text()


def test_a_worker_counts_each_schedules_run_apart_and_keeps_the_latest_schedules():
    """SharedFetchState.run_of: per-run limits count per schedule message (a request of no
    schedule, a retry the worker started with, under its source), and past KEPT_SCHEDULES the
    oldest schedules' counts go, never the one being counted."""
    from crawler.fetch import redis_worker
    from crawler.fetch.limits import SitemapLimits

    state = object.__new__(redis_worker.SharedFetchState)  # the counting alone: no crawler
    state.requested, state.sitemaps = Counter(), object.__new__(SitemapLimits)
    state.sitemaps.fetched = Counter()

    def run(schedule: str | None, source: str = "feed") -> str:
        meta = {"tw_source": source, **({"tw_schedule": schedule} if schedule else {})}
        return state.run_of(Request("http://127.0.0.1/a", meta=meta))

    assert run(None) == "feed" and run("s1") == "s1/feed" and run("s1", "map") == "s1/map"
    for n in range(redis_worker.KEPT_SCHEDULES):
        state.requested[run(f"s{n}")] += 1
    assert len(state.requested) == redis_worker.KEPT_SCHEDULES and state.requested["s0/feed"] == 1
    state.requested[run("new")] += 1
    kept = redis_worker.KEPT_SCHEDULES - redis_worker.KEPT_SCHEDULES // 2 + 1
    assert len(state.requested) == kept and "s0/feed" not in state.requested
    assert state.requested["new/feed"] == 1 and f"s{redis_worker.KEPT_SCHEDULES - 1}/feed" in state.requested
    state.requested[run("new")] += 1  # one already counted is never dropped for itself
    assert state.requested["new/feed"] == 2 and len(state.requested) == kept


def test_the_fleet_no_longer_reads_validators_saved_where_earlier_versions_kept_them(
        redis_server: str, redis_prefix: str):
    """`P:validators` may hold a sitemap index's validators (saved before indexes were read in
    full), whose 304 would hide its sitemaps: they are no longer read; new ones go to
    `P:validators-2`."""
    shared = Shared(redis.Redis.from_url(redis_server), redis_prefix)
    url = "https://a.test/sitemap_index.xml"
    shared.client.hset(f"{redis_prefix}:validators", url, json.dumps({"etag": '"v1"', "last_modified": None,
                                                                      "read_as": None}))
    assert shared.validators(url) == (None, None)
    shared.save_validators(url, '"v2"', None, None)
    assert shared.validators(url) == ('"v2"', None)
    assert shared.client.hexists(f"{redis_prefix}:validators-2", url)
