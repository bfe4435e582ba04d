"""The crawl's worker processes (crawler/fetch/workers.py): a real crawl of the fixture site
with `workers = 2` stores the same corpus as ever, while one page kills its worker, one page
and one feed hang theirs past `processing_timeout`; those are recorded `processing-timeout`,
the workers are replaced, the other pages are stored, and downloads go on while a worker hangs.
The same crawl runs with `delay = 0.5`: no two requests to one host closer than that (Scrapy's
randomised delay would go below it), and one robots.txt request per host."""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixturesite import FixtureSite, manifest, shipped_topics
from fixturesite.model import FeedItem

from crawler.errors import NotAnArticle, ProcessingTimeout, SourceError
from crawler.faults import PAGE_ENV

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 4  # [crawl] processing_timeout of the crawl below
DELAY = 0.5  # [crawl] delay of the crawl below
PAGE = b"<html><head><title>Planted</title></head><body><p>planted page</p></body></html>"
FEED = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>x</title>
<item><title>never read</title><link>{{host_c}}/planted/never.html</link></item></channel></rss>"""


def test_errors_that_come_back_from_a_worker_survive_pickling():
    for error in (SourceError("http://x/feed", "not a feed", "bad-feed"),
                  NotAnArticle("too-short", "12 characters"), ProcessingTimeout("took too long")):
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error) and str(again) == str(error)
        assert getattr(again, "reason", None) == getattr(error, "reason", None)


class Crawled:
    def __init__(self, site: FixtureSite, tmp: Path):
        self.site = site
        for name in ("die", "hang"):
            site.add_page("c", f"/planted/{name}.html", PAGE)
            site.add_feed_item("c", "/feed.xml", FeedItem(url=f"{{{{host_c}}}}/planted/{name}.html",
                                                         title=f"planted {name}"))
        site.add_page("c", "/planted/hang-feed.xml", FEED.encode(), content_type="application/rss+xml")
        settings = site.settings_toml(tmp / "corpus.db").replace(
            "[crawl]\n", f"[crawl]\nworkers = 2\nprocessing_timeout = {TIMEOUT}\n", 1
        ).replace("\ndelay = 0\n", f"\ndelay = {DELAY}\n", 1)
        assert f"delay = {DELAY}" in settings
        settings += ('\n[[sources]]\nname = "planted-feed"\nkind = "feed"\n'
                     f'url = "{site.base("c")}/planted/hang-feed.xml"\n\n' + shipped_topics())
        path = tmp / "settings.toml"
        path.write_text(settings, encoding="utf-8")
        env = {**os.environ, PAGE_ENV: "kill:/planted/die.html,hang:/planted/hang"}
        self.proc = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--settings", str(path)],
                                   capture_output=True, text=True, timeout=240, cwd=ROOT, env=env)
        self.db = sqlite3.connect(tmp / "corpus.db")

    def rows(self, sql: str, *params) -> list[tuple]:
        return self.db.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> Crawled:
    with FixtureSite(slow_seconds=5.0) as site:
        c = Crawled(site, tmp_path_factory.mktemp("workers"))
        yield c
        c.db.close()


@pytest.mark.slow
def test_the_crawl_finishes_and_stores_the_same_corpus(crawled):
    # 5: the planted feed whose reading hung could not be read, so its source failed (only it)
    assert crawled.proc.returncode == 5, crawled.proc.stderr[-3000:]
    feed = crawled.site.url("c", "/planted/hang-feed.xml")
    assert crawled.proc.stderr.rstrip().endswith(
        f"error: 1 of 6 source(s) failed:\n  planted-feed: processing-timeout ({feed}: took longer "
        f"than {TIMEOUT} s; worker replaced)"), crawled.proc.stderr[-3000:]
    assert "Traceback" not in crawled.proc.stderr
    # the summary's title says so too (the run finished: its status is ok)
    assert "run 1: ok, 1 of 6 source(s) failed" in crawled.proc.stdout, crawled.proc.stdout
    stored = {url for (url,) in crawled.rows("SELECT canonical_url FROM articles")}
    copies = {url for (url,) in crawled.rows("SELECT url FROM copies")}
    assert stored | copies == {crawled.site.url(e.host, e.path)
                               for e in (*manifest.expect("article"), *manifest.expect("copy"))}
    assert len(stored) == len(manifest.expect("article"))


@pytest.mark.slow
def test_a_worker_that_dies_or_hangs_costs_only_its_page(crawled):
    skipped = dict(crawled.rows("SELECT url, reason FROM skipped WHERE url LIKE '%/planted/%'"))
    base = crawled.site.base("c")
    assert skipped == {f"{base}/planted/die.html": "processing-timeout",
                       f"{base}/planted/hang.html": "processing-timeout",
                       f"{base}/planted/hang-feed.xml": "processing-timeout"}
    details = dict(crawled.rows("SELECT url, detail FROM skipped WHERE url LIKE '%/planted/%'"))
    assert "died" in details[f"{base}/planted/die.html"]
    assert f"longer than {TIMEOUT} s" in details[f"{base}/planted/hang.html"]
    # the pages are tried again in the next runs, like any processing failure
    outcomes = dict(crawled.rows("SELECT url, outcome FROM pages WHERE url LIKE '%/planted/%.html'"))
    assert outcomes == {f"{base}/planted/die.html": "retry", f"{base}/planted/hang.html": "retry"}
    assert not crawled.site.requests_for("c", "/planted/never.html")  # the hung feed was not read


@pytest.mark.slow
def test_downloads_go_on_while_a_worker_hangs(crawled):
    hung = crawled.site.requests_for("c", "/planted/hang.html")[0].time
    during = [r for r in crawled.site.requests if hung + 0.5 < r.time < hung + TIMEOUT - 0.5]
    assert during, "no request was made while a worker hung"


@pytest.mark.slow
def test_no_host_is_asked_twice_within_the_delay(crawled):
    for host in ("a", "c"):  # b asks for its own (Crawl-delay, tests/test_e2e_crawl.py)
        times = sorted(r.time for r in crawled.site.requests_for(host))
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        # a request can reach the server up to ~0.1 s late on a busy machine; Scrapy's jitter
        # would give gaps from DELAY / 2
        assert len(gaps) > 5 and min(gaps) >= DELAY - 0.1, (host, gaps)


@pytest.mark.slow
def test_robots_txt_is_requested_once_per_host(crawled):
    # host a has a sitemap source whose Sitemap: lines come from the same robots.txt
    for host in ("a", "b", "c"):
        assert len(crawled.site.requests_for(host, "/robots.txt")) == 1, host
    assert crawled.rows("SELECT count(*) FROM pages WHERE url LIKE '%sitemap%'")[0][0] > 0


def test_the_step_the_pipeline_names_is_the_project_s_analyse():
    from crawler.fetch.pipelines import ANALYSE
    from crawler.fetch.workers import call
    from crawler.records import Fetched, Verdict

    page = Fetched(url="http://127.0.0.1/x.html", source="s", status=200, content_type="image/png",
                   body=b"\x89PNG")
    verdict = call(ANALYSE, page, (), 0, 400)
    assert isinstance(verdict, Verdict) and verdict.reason == "not-html"


CHILD = """
import os, sys, time
from crawler.fetch.workers import Workers
workers = Workers(1, 3600)
workers._started().schedule(time.sleep, (3600,))
time.sleep(0.5)
print(" ".join(open(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read().split()), flush=True)
time.sleep(3600)
"""


def test_a_worker_busy_on_an_endless_page_dies_with_the_crawl():
    proc = subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert pids and all(Path(f"/proc/{p}").exists() for p in pids)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids)


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its (dead) parent's reaper."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


EARLY = """
import os, sys, threading
from crawler import pool

def state():
    return os.getpid(), sorted(m for m in ("scrapy", "twisted", "trafilatura") if m in sys.modules)

before = set(open(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read().split())
pool.fork_early(2, "WARNING")
# pebble forked both workers inside fork_early, on this thread: were it to fork later from
# its manager thread, a fork while this thread imports Scrapy could leave a module's import
# lock held for ever in the worker
forked = set(open(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read().split()) - before
import scrapy, twisted.internet.reactor  # as `topicwatch crawl` does next
early = pool.take_early(2)
assert pool.take_early(2) is None  # taken once
results = [early.schedule(state).result(timeout=60) for _ in range(8)]
print(len(forked), {pid for pid, _ in results} <= {int(p) for p in forked},
      sorted({tuple(mods) for _, mods in results}))
pool.fork_early(1, "WARNING")
other = set(open(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read().split()) - before - forked
pool.stop_early()  # a crawl that ended before its spider started
early.stop(); early.join(timeout=10)
print(len(other), sorted(p for p in other if os.path.exists(f"/proc/{p}")
                         and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"))
"""


def test_workers_forked_early_run_without_scrapy_and_a_pool_not_taken_is_stopped():
    """`topicwatch crawl` forks its workers before it imports Scrapy (crawler/pool.py): they
    are forked at once, they carry no Scrapy or Twisted (they import what they run, and only
    trafilatura's extraction here), and a pool no crawl took is stopped."""
    out = subprocess.run([sys.executable, "-c", EARLY], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    first, second = out.stdout.splitlines()
    assert first == "2 True [('trafilatura',)]", out.stdout
    assert second == "1 []", out.stdout


TURN_NEVER_GIVEN_BACK = """
import multiprocessing, sys, time
from crawler import pool

turn = multiprocessing.get_context("fork").Lock()
turn.acquire()  # taken by a worker the OOM killer then killed
pool.IMPORT_TURN_SECONDS = 1
start = time.monotonic()
pool._worker_started(("json",), turn)
waited = time.monotonic() - start
start = time.monotonic()
pool._worker_started(("csv",), turn)  # the next worker: the turn was given back
print(round(waited), round(time.monotonic() - start), "json" in sys.modules, "csv" in sys.modules)
"""


def test_a_worker_whose_import_turn_never_comes_imports_anyway():
    """The workers take turns importing (crawler/pool.py); a turn taken by a worker that was
    killed is never given back: the next worker waits IMPORT_TURN_SECONDS, not for ever, and
    gives it back, so the one after it does not wait."""
    out = subprocess.run([sys.executable, "-c", TURN_NEVER_GIVEN_BACK], cwd=ROOT, capture_output=True,
                         text=True, timeout=90, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["1", "0", "True", "True"]


def test_early_workers_log_in_scrapy_s_format():
    """Workers forked before Scrapy set up logging write their lines as the crawl's process
    does (crawler/pool.py copies Scrapy's defaults: this fails when Scrapy changes them)."""
    from scrapy.settings import default_settings

    from crawler import pool

    assert (pool.LOG_FORMAT, pool.LOG_DATEFORMAT) == (default_settings.LOG_FORMAT,
                                                      default_settings.LOG_DATEFORMAT)


IDLE_DEATH = """
import asyncio, os, signal, time
from scrapy.utils.reactor import install_reactor
install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
from twisted.internet import reactor
from crawler.fetch.workers import Workers

workers = Workers(1, 60)
out = []

async def main():
    try:
        first = await workers.run(os.getpid)
        broken = workers.pool
        os.kill(first, signal.SIGKILL)  # while it waits for work
        deadline = time.monotonic() + 30
        while broken.active and time.monotonic() < deadline:  # pebble gives up on its pool
            await asyncio.sleep(0.05)
        workers.start()  # what the spider does first: no error out of it
        second = await workers.run(os.getpid)
        out.append(f"{first != second} {second > 0} {workers.pool is not broken}")
    except BaseException as e:
        out.append(repr(e))
    finally:
        workers.stop()
        reactor.stop()

reactor.callWhenRunning(lambda: asyncio.ensure_future(main()))
reactor.run()
print(out[0])
"""


def test_a_worker_killed_while_idle_is_replaced():
    """pebble stops a pool whose worker dies while no step runs (the OOM killer picks the
    largest process, which may be an idle worker); the crawl's Workers start a new pool and
    the next page is analysed, where before every later page failed."""
    out = subprocess.run([sys.executable, "-c", IDLE_DEATH], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["True", "True", "True"], (out.stdout, out.stderr[-2000:])
    assert "a worker process died while idle" in out.stderr


DYING_AT_BIRTH = """
import asyncio, os, sys
from pathlib import Path
from scrapy.utils.reactor import install_reactor
install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
from twisted.internet import reactor
from crawler import pool
from crawler.errors import ProcessingTimeout
from crawler.fetch import workers as w

deaths = Path(sys.argv[1])

def die():
    with deaths.open("a") as f:
        f.write(f"{os.getpid()}\\n")
    os._exit(1)

pool.PRELOAD = ("__main__:die",)
w.WATCH_SECONDS = 0.2  # the check that fails what a stopped pool holds: sooner, a shorter test
workers = w.Workers(1, 60)
out = []

async def main():
    try:
        for _ in range(8):
            try:
                await workers.run(os.getpid)
                out.append("ran")
            except ProcessingTimeout as e:
                out.append("gave-up" if "not started again" in str(e) else "timeout")
    finally:
        workers.stop()
        reactor.stop()

reactor.callWhenRunning(lambda: asyncio.ensure_future(main()))
reactor.run()
print(" ".join(out), len(deaths.read_text().split()))
"""


def test_workers_that_die_as_they_start_are_not_forked_for_every_page(tmp_path):
    """A worker that cannot start (a broken install: its imports fail) makes pebble give up on
    the pool; the crawl starts new pools MAX_NEW_POOLS times, then records the pages as
    failed instead of forking for each one."""
    from crawler.fetch.workers import MAX_NEW_POOLS

    out = subprocess.run([sys.executable, "-c", DYING_AT_BIRTH, str(tmp_path / "deaths")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    *steps, deaths = out.stdout.split()
    assert "ran" not in steps and steps[-1] == "gave-up", out.stdout
    assert int(deaths) <= MAX_NEW_POOLS + 1, out.stdout
