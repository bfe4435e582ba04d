"""A host that says "too many requests" (429, or 503 with Retry-After) is given the time it
asks for (crawler/fetch/politeness.py `RateLimits`): a real crawl of a real server on
loopback, whose second article answers 429 once.

- Retry-After within `max_crawl_delay`: no request reaches the host before that many seconds
  have passed, the page is fetched again in the same run and stored, and the other pages wait
  as long (the host's delay for the rest of the run).
- Retry-After past `max_crawl_delay` (an hour): the host is left alone for the rest of the
  run, its pages recorded as `rate-limited` and fetched by the next run.
- A 429 without Retry-After doubles the host's delay (at least 1 s).
- In a fleet (two `topicwatch worker` processes on a real Redis), the worker that got the
  answer tells the other: neither asks the host again before the time it asked for.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from hostile import pages
from hostile.server import Exchange, HostileSite

ROOT = Path(__file__).resolve().parent.parent
PATHS = [f"/news/{n}.html" for n in range(1, 5)]
LIMITED = PATHS[1]
IN_FLIGHT = 0.1  # delay 0: requests sent before the refusal was read arrive this soon after it


def article(n: int) -> bytes:
    extra = (f"<p>Update {n}: the lab added its {n}th ferry operator this week and said the "
             f"timetable checks now cover {n * 40} routes along the coast.</p>")
    return pages.article(f"Harbour lab adds ferry operator number {n}", extra).encode()


class OnceLimited:
    """The page answers `status` with `headers` the first time it is asked for, then 200."""

    def __init__(self, body: bytes, status: int, headers: dict[str, str]):
        self.body, self.status, self.headers = body, status, headers
        self.lock = threading.Lock()
        self.refused = 0
        self.answered_at = 0.0

    def __call__(self, ex: Exchange) -> None:
        with self.lock:
            refuse, self.refused = self.refused == 0, self.refused + 1
        if refuse:
            ex.send(b"<html><body>slow down</body></html>", status=self.status, headers=self.headers)
            self.answered_at = time.monotonic()
        else:
            ex.send(self.body)


def serve(site: HostileSite, limited: OnceLimited, paths: list[str] = PATHS) -> str:
    base = site.base("news")
    site.routes[("news", "/feed.xml")] = lambda ex: ex.send(
        pages.rss(base + p for p in paths), "application/rss+xml")
    for n, path in enumerate(paths, 1):
        body = article(n)
        site.routes[("news", path)] = limited if path == LIMITED else (lambda ex, b=body: ex.send(b))
    limited.body = article(paths.index(LIMITED) + 1)
    return base


def crawl(tmp: Path, base: str) -> subprocess.CompletedProcess:
    settings = tmp / "settings.toml"
    settings.write_text(
        f'[corpus]\npath = "{tmp / "corpus.db"}"\n[crawl]\ndelay = 0\nmax_age_days = 0\n'
        f'[[sources]]\nname = "news"\nkind = "feed"\nurl = "{base}/feed.xml"\n'
        '[[topics]]\nname = "all"\nkeep_all = true\n', encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "crawler", "crawl", "--settings", str(settings)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def stored(tmp: Path) -> set[str]:
    with sqlite3.connect(tmp / "corpus.db") as db:
        return {r[0].split("/", 3)[3] for r in db.execute(
            "SELECT url FROM articles UNION SELECT url FROM copies")}


def hits_after_the_refusal(site: HostileSite, limited: OnceLimited) -> list[float]:
    """Each request to the host sent after the crawl read the refusal, in seconds after the
    server sent it (requests arriving within IN_FLIGHT seconds of it were on their way)."""
    return [round(h.time - limited.answered_at, 2) for h in site.hits("news")
            if h.time > limited.answered_at + IN_FLIGHT]


def test_retry_after_is_waited_for_then_the_page_is_fetched(tmp_path):
    limited = OnceLimited(b"", 429, {"Retry-After": "1"})
    with HostileSite({"news": "127.0.0.1"}) as site:
        base = serve(site, limited)
        run = crawl(tmp_path, base)
        assert run.returncode == 0, run.stderr[-3000:]
        later = hits_after_the_refusal(site, limited)
    assert limited.refused == 2, later  # refused once, fetched again in this run
    # the server answered at once; nothing reached it before the second it asked for
    assert later and min(later) >= 0.85, later  # less the jitter of two loopback deliveries
    assert stored(tmp_path) == {p.lstrip("/") for p in PATHS}


def test_a_503_with_an_http_date_retry_after_is_waited_for_too(tmp_path):
    from email.utils import formatdate

    limited = OnceLimited(b"", 503, {})

    def refuse_until_two_seconds_from_now(ex: Exchange) -> None:
        limited.headers = {"Retry-After": formatdate(time.time() + 2, usegmt=True)}
        limited(ex)

    with HostileSite({"news": "127.0.0.1"}) as site:
        base = serve(site, limited)
        site.routes[("news", LIMITED)] = refuse_until_two_seconds_from_now
        run = crawl(tmp_path, base)
        assert run.returncode == 0, run.stderr[-3000:]
        later = hits_after_the_refusal(site, limited)
    # an HTTP date 2 s ahead, to the second: more than 1 s
    assert later and min(later) >= 0.85, later  # less the jitter of two loopback deliveries
    assert LIMITED.lstrip("/") in stored(tmp_path)


def test_a_429_without_retry_after_slows_the_host_down(tmp_path):
    limited = OnceLimited(b"", 429, {})
    with HostileSite({"news": "127.0.0.1"}) as site:
        base = serve(site, limited)
        run = crawl(tmp_path, base)
        assert run.returncode == 0, run.stderr[-3000:]
        later = hits_after_the_refusal(site, limited)
    assert later and min(later) >= 0.85, later  # delay 0 doubled, at least 1 s
    assert stored(tmp_path) == {p.lstrip("/") for p in PATHS}


def test_a_host_that_asks_for_an_hour_is_left_alone_until_the_next_run(tmp_path):
    limited = OnceLimited(b"", 429, {"Retry-After": "3600"})
    with HostileSite({"news": "127.0.0.1"}) as site:
        base = serve(site, limited)
        first = crawl(tmp_path, base)
        later = hits_after_the_refusal(site, limited)
        assert later == [], later  # nothing more asked of that host in this run
        with sqlite3.connect(tmp_path / "corpus.db") as db:
            reasons = dict(db.execute("SELECT url, reason FROM skipped WHERE run_id = 1").fetchall())
        limited_pages = {url.split("/", 3)[3] for url, reason in reasons.items()
                         if reason == "rate-limited"}
        assert limited_pages, (reasons, first.stderr[-2000:])
        # the next run (the server has its breath back) fetches what was left
        second = crawl(tmp_path, base)
        assert second.returncode == 0, second.stderr[-3000:]
    assert stored(tmp_path) == {p.lstrip("/") for p in PATHS}


def test_retry_after_reads_seconds_and_http_dates():
    from datetime import UTC, datetime

    from crawler.fetch.politeness import retry_after

    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after(b"120", now) == 120.0
    assert retry_after("Tue, 01 Dec 2026 12:01:30 GMT", now) == 90.0
    assert retry_after(b"Tue, 01 Dec 2026 11:00:00 GMT", now) == 0.0  # in the past: now
    assert retry_after(b"soon", now) is None and retry_after(None, now) is None
    assert retry_after(b"-5", now) is None  # not a delay-seconds value


def fleet_settings(stem: Path, crawl: str, redis_server: str, redis_prefix: str, feed: str) -> Path:
    """`stem`.toml for a fleet process: its own `stem`.db, `[crawl]` lines `crawl`, the shared
    Redis, one feed source and a keep-all topic."""
    path = stem.with_suffix(".toml")
    path.write_text(
        f'[corpus]\npath = "{stem}.db"\n[crawl]\n{crawl}\nmax_age_days = 0\n'
        f'[redis]\nurl = "{redis_server}"\nprefix = "{redis_prefix}"\n'
        f'[[sources]]\nname = "news"\nkind = "feed"\nurl = "{feed}"\n'
        '[[topics]]\nname = "all"\nkeep_all = true\n', encoding="utf-8")
    return path


class FirstRefused:
    """Whichever article is asked for first answers 429 with `headers`, once; every other
    request, and that page again, 200. (A fleet's frontier hands pages out in no set order:
    the refusal comes first, so that the requests after it are what is checked.)"""

    def __init__(self, bodies: dict[str, bytes], headers: dict[str, str]):
        self.bodies, self.headers = bodies, headers
        self.lock = threading.Lock()
        self.refused_path: str | None = None
        self.served: Counter[str] = Counter()
        self.answered_at = 0.0

    def __call__(self, ex: Exchange) -> None:
        with self.lock:
            refuse = self.refused_path is None
            self.refused_path = self.refused_path or ex.path
            self.served[ex.path] += 1
        if refuse:
            ex.send(b"<html><body>slow down</body></html>", status=429, headers=self.headers)
            self.answered_at = time.monotonic()
        else:
            ex.send(self.bodies[ex.path])


def behind_a_feed(site: HostileSite, paths: list[str], limited: FirstRefused) -> str:
    """`paths` on the site's "news" host, answered by `limited`, listed by its /feed.xml; the
    host's base URL."""
    base = site.base("news")
    site.routes[("news", "/feed.xml")] = lambda ex: ex.send(pages.rss(base + p for p in paths),
                                                            "application/rss+xml")
    for path in paths:
        site.routes[("news", path)] = limited
    return base


def worker_with(constant: str, seconds: float, settings: Path, log: Path) -> subprocess.Popen:
    """`topicwatch worker` with `crawler.fetch.politeness.<constant>` shortened to `seconds`
    (an hour or a day would not fit in a test)."""
    code = (f"import sys; import crawler.fetch.politeness as p; p.{constant} = {seconds!r}; "
            "from crawler.cli import main; sys.argv = ['topicwatch'] + sys.argv[1:]; main()")
    return subprocess.Popen([sys.executable, "-c", code, "worker", "--settings", str(settings)],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT)


@contextlib.contextmanager
def two_workers(tmp_path: Path, settings: Callable[[str], Path], deadline: float) -> Iterator[list[Path]]:
    """`topicwatch worker` twice (worker1, worker2), ready to take work; their logs. Both are
    stopped with SIGTERM on the way out."""
    procs, logs = [], []
    try:
        for name in ("worker1", "worker2"):
            logs.append(tmp_path / f"{name}.log")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "crawler", "worker", "--settings", str(settings(name))],
                stdout=logs[-1].open("w"), stderr=subprocess.STDOUT, cwd=ROOT))
        while not all("worker ready: " in log.read_text() for log in logs):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), \
                [log.read_text()[-2000:] for log in logs]
            time.sleep(0.05)
        yield logs
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)


def enqueue(settings: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "crawler", "enqueue", "--settings", str(settings)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr


def until_all_served(limited: FirstRefused, paths: list[str], deadline: float, logs: list[Path]) -> None:
    """Until every page was served, the refused one twice."""
    while set(limited.served) < set(paths) or limited.served[limited.refused_path] < 2:
        assert time.monotonic() < deadline, (limited.served, [log.read_text()[-2000:] for log in logs])
        time.sleep(0.1)


def test_a_fleet_leaves_a_rate_limited_host_alone_on_every_worker(tmp_path, redis_server, redis_prefix):
    """Two workers taking one request at a time from the shared frontier, 0.5 s apart on the
    host (time enough for the worker that reads the 429 to tell Redis): after the 429 with
    Retry-After: 1 that one of them got, no request from either reaches the host for a second
    (the other would have sent one 0.5 s later), nor closer than that for the rest of the run."""
    paths = [f"/news/{n}.html" for n in range(1, 7)]
    limited = FirstRefused({path: article(n) for n, path in enumerate(paths, 1)}, {"Retry-After": "1"})
    with HostileSite({"news": "127.0.0.1"}) as site:
        base = behind_a_feed(site, paths, limited)

        def settings(name: str) -> Path:
            return fleet_settings(tmp_path / name, "delay = 0.5\nconcurrency = 1", redis_server,
                                  redis_prefix, f"{base}/feed.xml")

        with two_workers(tmp_path, settings, time.monotonic() + 60) as logs:
            enqueue(settings("enqueue"))
            until_all_served(limited, paths, time.monotonic() + 60, logs)
        later = hits_after_the_refusal(site, limited)
        fetched = [sqlite3.connect(tmp_path / f"{name}.db").execute(
            "SELECT sum(fetched) FROM runs").fetchone()[0] or 0 for name in ("worker1", "worker2")]
    # every page was fetched (which worker fetched which is the frontier's business: without
    # the shared wait, the other worker's next request came 0.25-0.55 s after the refusal)
    assert sum(fetched) >= len(paths), fetched
    # the five other pages and the refused one again, after it (two may have been on their way)
    assert len(later) >= 4 and min(later) >= 0.85, (later, fetched)  # less loopback jitter
    gaps = [b - a for a, b in zip(later, later[1:], strict=False)]
    assert min(gaps) >= 0.85, (later, fetched)


def test_what_the_fleet_shares_of_a_rate_limited_host(redis_server, redis_prefix):
    """Shared.rate_limit on a real Redis: the slot held for the wait, the wait kept as the
    host's delay (never lowered by a shorter one), a refusal until the time asked for."""
    import redis

    from crawler.remote.shared import Shared

    shared = Shared(redis.Redis.from_url(redis_server), redis_prefix)
    assert (shared.rate_wait("a.test"), shared.rate_refused("a.test")) == (0.0, 0.0)
    shared.rate_limit("a.test", 5.0, refused=False, hold=60)
    assert 4.0 < shared.reserve_host("a.test", 0.2) <= 5.0  # every worker waits the 5 s
    shared.rate_limit("a.test", 2.0, refused=False, hold=60)
    assert shared.rate_wait("a.test") == 5.0
    assert 50_000 < shared.client.pttl(f"{redis_prefix}:rate-wait:a.test") <= 60_000
    assert shared.reserve_host("c.test", 30.0) == 0.0  # a Crawl-delay of 30 s
    shared.rate_limit("c.test", 1.0, refused=False, hold=60)
    assert shared.client.pttl(shared.keys.host("c.test")) > 29_000  # a shorter wait never shortens it
    shared.rate_limit("b.test", 7200.0, refused=True, hold=60)
    assert shared.rate_refused("b.test") == 7200.0 and shared.rate_wait("b.test") == 0.0
    assert 7_000_000 < shared.client.pttl(f"{redis_prefix}:rate-refused:b.test") <= 7_200_000


def test_a_worker_reads_a_5xx_robots_txt_again_once_its_refusal_ends(tmp_path, redis_server, redis_prefix):
    """A fleet's worker outlives a run: once the refusal a 503 robots.txt brought is over
    (UNAVAILABLE_SECONDS, 2 s here), the next request to the host reads robots.txt again and
    obeys what it now says, instead of the error page Scrapy parsed (no rules) until the
    worker restarts."""
    paths = ["/news/1.html", "/private/2.html"]
    state = {"up": False}
    with HostileSite({"news": "127.0.0.1"}) as site:
        base = site.base("news")
        site.routes[("news", "/robots.txt")] = lambda ex: ex.send(
            b"User-agent: *\nDisallow: /private/\n", "text/plain") if state["up"] else ex.send(
            b"<html><body>down for maintenance</body></html>", status=503)
        site.routes[("news", "/feed.xml")] = lambda ex: ex.send(
            pages.rss(base + p for p in paths), "application/rss+xml")
        for n, path in enumerate(paths, 1):
            site.routes[("news", path)] = lambda ex, n=n: ex.send(article(n))

        def settings(name: str) -> Path:
            return fleet_settings(tmp_path / name, "delay = 0.2\nretries = 0", redis_server,
                                  redis_prefix, f"{base}/feed.xml")

        def robots_hits() -> list[float]:
            return [h.time for h in site.hits("news") if h.path == "/robots.txt"]

        log = tmp_path / "worker.log"
        worker = worker_with("UNAVAILABLE_SECONDS", 2.0, settings("worker"), log)
        try:
            deadline = time.monotonic() + 60
            while "worker ready: " not in log.read_text():
                assert time.monotonic() < deadline and worker.poll() is None, log.read_text()[-2000:]
                time.sleep(0.05)
            enqueue(settings("enqueue"))
            while not robots_hits():  # the 503: the feed is refused
                assert time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.05)
            time.sleep(0.5)
            assert not [h for h in site.hits("news") if h.path != "/robots.txt"]
            state["up"] = True
            time.sleep(max(0.0, robots_hits()[-1] + 2.2 - time.monotonic()))  # the refusal is over
            enqueue(settings("enqueue"))
            while not [h for h in site.hits("news") if h.path == "/news/1.html"]:
                assert time.monotonic() < deadline, ([(h.path, round(h.time, 1)) for h in site.hits("news")], log.read_text()[-2000:])
                time.sleep(0.05)
            time.sleep(0.5)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        asked = [h.path for h in site.hits("news")]
    assert asked.count("/robots.txt") == 2, asked  # read again, once
    assert "/feed.xml" in asked and "/private/2.html" not in asked, asked  # and obeyed



def test_a_worker_reads_robots_txt_again_a_day_later(tmp_path, redis_server, redis_prefix):
    """RFC 9309 asks a crawler not to go by a robots.txt read more than 24 hours ago; a fleet's
    worker lives longer. Once ROBOTS_MAX_AGE_SECONDS (2 s here) have passed, its next request
    to the host reads robots.txt again and obeys what it now says (it had read it once, and
    went by those rules until it was restarted)."""
    paths = ["/news/1.html"]
    rules = {"text": b"User-agent: *\nDisallow:\n"}  # everything allowed, at first
    with HostileSite({"news": "127.0.0.1"}) as site:
        base = site.base("news")
        site.routes[("news", "/robots.txt")] = lambda ex: ex.send(rules["text"], "text/plain")
        site.routes[("news", "/feed.xml")] = lambda ex: ex.send(
            pages.rss(base + p for p in paths), "application/rss+xml")
        for n in (1, 2):
            site.routes[("news", f"/news/{n}.html")] = lambda ex, n=n: ex.send(article(n))

        def settings(name: str) -> Path:
            return fleet_settings(tmp_path / name, "delay = 0.2\nretries = 0", redis_server,
                                  redis_prefix, f"{base}/feed.xml")

        def asked(path: str) -> list[float]:
            return [h.time for h in site.hits("news") if h.path == path]

        def until(done: Callable[[], bool]) -> None:
            while not done():
                assert time.monotonic() < deadline and worker.poll() is None, \
                    ([(h.path, round(h.time, 1)) for h in site.hits("news")], log.read_text()[-2000:])
                time.sleep(0.05)

        log = tmp_path / "worker.log"
        worker = worker_with("ROBOTS_MAX_AGE_SECONDS", 2.0, settings("worker"), log)
        try:
            deadline = time.monotonic() + 60
            until(lambda: "worker ready: " in log.read_text())
            enqueue(settings("enqueue"))
            until(lambda: bool(asked("/news/1.html")))
            # the site now keeps crawlers out of /news/, and its feed lists a new page there
            rules["text"], paths[:] = b"User-agent: *\nDisallow: /news/\n", ["/news/1.html", "/news/2.html"]
            time.sleep(max(0.0, asked("/robots.txt")[-1] + 2.2 - time.monotonic()))
            enqueue(settings("enqueue"))
            until(lambda: len(asked("/feed.xml")) == 2)
            time.sleep(1.0)  # time enough for the new page's request, had it been made
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        hits = [h.path for h in site.hits("news")]
    assert hits.count("/robots.txt") == 2, hits  # read again, once
    assert "/news/2.html" not in hits, hits  # and obeyed


def test_a_fleet_leaves_a_host_that_asks_for_too_long_alone_on_every_worker_until_then(
        tmp_path, redis_server, redis_prefix):
    """The refused path in a fleet: one worker gets a 429 asking for longer than
    `max_crawl_delay` (4 s against 1 s here, an hour against a minute in life); through Redis
    neither worker asks the host for anything more in that schedule, and the pages not fetched
    are recorded as `rate-limited` by the worker that took them.  They are not lost: once the
    time asked for has passed, the next schedule fetches them (a worker outlives a run, and
    used to leave the host alone until it was restarted)."""
    import redis

    from crawler.remote.shared import Shared

    wait = 4.0
    paths = [f"/news/{n}.html" for n in range(1, 7)]
    limited = FirstRefused({path: article(n) for n, path in enumerate(paths, 1)},
                           {"Retry-After": f"{wait:g}"})
    shared = Shared(redis.Redis.from_url(redis_server), redis_prefix)
    with HostileSite({"news": "127.0.0.1"}) as site:
        base = behind_a_feed(site, paths, limited)

        def settings(name: str) -> Path:
            return fleet_settings(tmp_path / name, "delay = 0.5\nconcurrency = 1\nmax_crawl_delay = 1",
                                  redis_server, redis_prefix, f"{base}/feed.xml")

        def wait_idle(deadline: float, logs: list[Path]) -> None:
            """Until no schedule or request waits or is leased for half a second."""
            quiet_since = None
            while quiet_since is None or time.monotonic() - quiet_since < 0.5:
                assert time.monotonic() < deadline, (shared.frontier(), [log.read_text()[-2000:] for log in logs])
                f = shared.frontier()
                busy = f["schedules"] or f["requests"] or f["leased"] or limited.refused_path is None
                quiet_since = None if busy else (quiet_since or time.monotonic())
                time.sleep(0.05)

        def skipped(reason: str) -> set[str]:
            found = set()
            for name in ("worker1", "worker2"):
                with sqlite3.connect(tmp_path / f"{name}.db") as db:
                    found |= {url.split("/", 3)[3] for (url,) in db.execute(
                        "SELECT url FROM skipped WHERE reason = ?", (reason,))}
            return found

        deadline = time.monotonic() + 90
        with two_workers(tmp_path, settings, deadline) as logs:
            enqueue(settings("enqueue"))
            wait_idle(deadline, logs)
            assert time.monotonic() - limited.answered_at < wait - 1, "the schedule took too long to check"
            during = hits_after_the_refusal(site, limited)
            first_served = {p for p, n in limited.served.items() if n}
            left = skipped("rate-limited")
            assert shared.rate_refused("127.0.0.1") == wait
            # the time asked for is over: the next schedule fetches what was left
            time.sleep(max(0.0, limited.answered_at + wait + 0.2 - time.monotonic()))
            enqueue(settings("enqueue"))
            until_all_served(limited, paths, deadline, logs)
    # in that schedule nothing more reached the host after the refusal, from either worker
    assert during == [], (during, [log.read_text()[-2000:] for log in logs])
    # the refused page and every page not fetched before it were recorded as rate-limited
    unfetched = {p.lstrip("/") for p in paths} - {p.lstrip("/") for p in first_served}
    assert limited.refused_path.lstrip("/") in left and unfetched <= left, (left, unfetched)
    assert len(left) >= 3, left  # the refusal held the other worker's pages too
