"""The daemon as a user runs it: `python -m crawler daemon` in a real process, a real SQLite
corpus, the fixture site over real HTTP, schedules a few seconds apart.  Kills are real
SIGKILLs, sent by the test once the corpus shows the crawl it waits for; only a kill in the
middle of an ingest (hundreds of commits a second) is timed from inside, by
`TOPICWATCH_CRASH_AT` (crawler/faults.py)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import logging.handlers
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import opencc
import pytest
from fixturesite import ArticleSpec, FixtureSite, build, manifest

from crawler import faults
from crawler.config import Schedule, load_settings
from crawler.cron import standard_crontab
from crawler.store import schedules as schedule_store
from crawler.store import schema
from crawler.store.db import open_db
from jobs.daemon import setup_logging
from jobs.runner import crawl_command
from jobs.schedule import build_trigger, missed_run

SHIPPED = Path(__file__).parents[1] / "settings.toml"
EVERY_3S = "interval_minutes = 0.05\n"
CLEAN_SOURCES = '["xinghe-sitemap", "island-atom", "ledger-news"]'  # no always-failing links

# ---------------------------------------------------------------- helpers


def shipped_topics() -> str:
    text = SHIPPED.read_text(encoding="utf-8")
    return text[text.index("[[topics]]"):text.index("[[sources]]")]


def write_settings(site: FixtureSite, tmp: Path, schedules: str, daemon: str = "",
                   sources: str = "") -> Path:
    """The fixture-site settings, tuned for seconds-long crawls, plus schedules."""
    site.add_page("b", "/robots.txt", b"User-agent: *\nDisallow: /admin/\n", content_type="text/plain")
    text = site.settings_toml(tmp / "corpus.db")
    for key, value in (("autothrottle", "false"), ("retries", "0"), ("timeout", "1")):
        text = _set_crawl(text, key, value)
    path = tmp / "settings.toml"
    path.write_text(f"{text}\n{sources}\n{shipped_topics()}\n[daemon]\n{daemon}\n{schedules}",
                    encoding="utf-8")
    return path


def _set_crawl(text: str, key: str, value: str) -> str:
    """Set one [crawl] key of the settings template, whether the template has it or not."""
    line = re.compile(rf"^{key} = .*$", re.M)
    if line.search(text):
        return line.sub(f"{key} = {value}", text, count=1)
    return text.replace("[crawl]\n", f"[crawl]\n{key} = {value}\n", 1)


class DaemonProcess:
    """`python -m crawler daemon` with its stderr in a file; killed at exit if still alive."""

    count = 0

    def __init__(self, settings: Path, env: dict[str, str] | None = None):
        DaemonProcess.count += 1
        self.log = settings.parent / f"daemon-{DaemonProcess.count}.log"
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "crawler", "daemon", "--settings", str(settings)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                cwd=settings.parent, env={**os.environ, **(env or {})})
        self.pid = self.proc.pid

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def terminate(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def q(corpus: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(corpus, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def one(corpus: Path, sql: str, params: tuple = ()) -> Any:
    return q(corpus, sql, params)[0][0]


def wait_until(check: Callable[[], Any], what: str, timeout: float = 45,
               daemon: DaemonProcess | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except sqlite3.OperationalError:  # the corpus is not created yet
            result = None
        if result:
            return result
        if daemon is not None and daemon.proc.poll() is not None:
            break
        time.sleep(0.1)
    tail = daemon.stderr()[-3000:] if daemon else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def ended_runs(corpus: Path, trigger: str | None = None) -> list[tuple]:
    """(id, status, error) of the runs whose whole cycle is over: crawl *and* ingest (the
    crawl process ends its run row before the daemon ingests; the schedule's state says when
    the daemon is done)."""
    sql = ("SELECT r.id, r.status, r.error FROM runs r WHERE r.status != 'running' "
           "AND r.ended IS NOT NULL AND NOT EXISTS (SELECT 1 FROM schedules_state s "
           "WHERE s.last_run_id = r.id AND s.last_status = 'running')")
    if trigger:
        return q(corpus, sql + " AND r.trigger = ? ORDER BY r.id", (trigger,))
    return q(corpus, sql + " ORDER BY r.id")


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie (a container's pid 1 may never reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def url_rows(corpus: Path) -> dict[tuple[str, str], int]:
    """(host ip:port, path) of every stored URL -> its article id (articles and copies)."""
    from urllib.parse import urlsplit

    rows = q(corpus, "SELECT url, id FROM articles UNION ALL SELECT canonical_url, id FROM articles "
                     "UNION ALL SELECT url, article_id FROM copies")
    return {(urlsplit(u).netloc, urlsplit(u).path): i for u, i in rows}


def key_of(site: FixtureSite, host: str, path: str) -> tuple[str, str]:
    return site.base(host).removeprefix("http://"), path


def assert_complete_and_clean(site: FixtureSite, corpus: Path) -> None:
    """Every article of the manifest stored, each duplicate group one article, nothing twice,
    nothing left in the spool, a sound file."""
    stored = url_rows(corpus)
    for e in manifest.expect("article") + manifest.expect("copy"):
        assert key_of(site, e.host, e.path) in stored, f"missing {e.host}{e.path}"
    for group in manifest.story_groups():
        ids = {stored[key_of(site, e.host, e.path)] for e in group}
        assert len(ids) == 1, f"duplicate group stored as {len(ids)} articles: {group[0].path}"
    assert one(corpus, "SELECT count(*) - count(DISTINCT content_hash) FROM articles") == 0
    assert one(corpus, "SELECT count(*) FROM spool") == 0
    assert one(corpus, "SELECT count(*) FROM pages WHERE outcome = 'spooled'") == 0
    assert one(corpus, "SELECT count(*) FROM runs WHERE status = 'running'") == 0
    assert one(corpus, TOPICS_OUT_OF_STEP) == 0  # written in each article's own transaction
    assert one(corpus, schema.ARTICLE_COUNTS_CHECK) == 0
    assert one(corpus, "PRAGMA integrity_check") == "ok"


# article_topics rows that are not in the articles' JSON topics, and the other way round
TOPICS_OUT_OF_STEP = """SELECT count(*) FROM (
    SELECT * FROM (SELECT a.id, t.value FROM articles a, json_each(a.topics) t
                   EXCEPT SELECT article_id, topic FROM article_topics)
    UNION ALL
    SELECT * FROM (SELECT article_id, topic FROM article_topics
                   EXCEPT SELECT a.id, t.value FROM articles a, json_each(a.topics) t))"""


# ---------------------------------------------------------------- pure parts


@pytest.mark.parametrize("expr, expected", [
    ("0 8 * * 1-5", "0 8 * * mon,tue,wed,thu,fri"),
    ("0 8 * * 0", "0 8 * * sun"),
    ("0 8 * * 7", "0 8 * * sun"),
    ("0 8 * * 5-7", "0 8 * * sun,fri,sat"),
    ("0 8 * * sat,sun", "0 8 * * sun,sat"),
    ("*/30 * * * *", "*/30 * * * *"),
])
def test_crontab_weekdays_count_from_sunday(expr: str, expected: str) -> None:
    assert standard_crontab(expr) == expected


def test_missed_run_is_the_latest_due_within_grace() -> None:
    now = dt.datetime(2024, 10, 15, 12, 0, 30, tzinfo=dt.UTC)
    hourly = Schedule(name="h", interval_minutes=60)
    due, following = missed_run(hourly, now - dt.timedelta(minutes=150), now, grace_seconds=3600)
    assert due == now - dt.timedelta(minutes=30)  # the latest of two missed runs, once
    assert following == now + dt.timedelta(minutes=30)  # anchored on the last run
    assert missed_run(hourly, now - dt.timedelta(minutes=150), now, 600)[0] is None
    assert missed_run(hourly, now - dt.timedelta(minutes=20), now, 3600)[0] is None
    assert missed_run(hourly, None, now, 3600) == (None, None)
    cron = Schedule(name="c", cron="15 * * * *")
    due, _ = missed_run(cron, now - dt.timedelta(hours=5), now, 3600)
    assert due == dt.datetime(2024, 10, 15, 11, 15, tzinfo=dt.UTC)
    assert missed_run(cron, now - dt.timedelta(hours=5), now, 600)[0] is None
    assert missed_run(cron, dt.datetime(2024, 10, 15, 11, 20, tzinfo=dt.UTC), now, 3600)[0] is None


def test_crawl_command_names_run_trigger_and_sources(tmp_path: Path) -> None:
    cmd = crawl_command(tmp_path / "s.toml", 7, Schedule(name="feeds", interval_minutes=5,
                                                          sources=("a", "b"), topics=("t",)))
    assert cmd[1:4] == ["-m", "crawler", "crawl"]
    assert cmd[cmd.index("--run-id") + 1] == "7"
    assert cmd[cmd.index("--trigger") + 1] == "schedule:feeds"
    assert "--no-ingest" in cmd and cmd.count("--source") == 2 and "--topic" in cmd


def fire_offsets(schedule: Schedule, base: dt.datetime, draws: int = 300) -> list[float]:
    """Seconds past the jitter-free fire time after `base`, of `draws` jittered fire times."""
    plain = build_trigger(schedule, jitter=False)
    jittered = build_trigger(schedule)
    due = plain.get_next_fire_time(base, base)
    assert plain.get_next_fire_time(base, base) == due  # no jitter: the same time every time
    return [(jittered.get_next_fire_time(base, base) - due).total_seconds() for _ in range(draws)]


@pytest.mark.parametrize("schedule", [
    Schedule(name="i", interval_minutes=60, jitter_seconds=30),
    Schedule(name="c", cron="0 8 * * 1-5", jitter_seconds=30),
])
def test_jitter_spreads_fire_times_within_the_jitter(schedule: Schedule) -> None:
    base = dt.datetime(2024, 10, 15, 6, 0, tzinfo=dt.UTC)
    offsets = fire_offsets(schedule, base)
    assert all(0 <= o <= 30 for o in offsets), (min(offsets), max(offsets))
    assert max(offsets) - min(offsets) > 20  # spread over the window, not one fixed delay
    assert len({round(o, 3) for o in offsets}) > 250


def test_no_jitter_means_exact_fire_times() -> None:
    base = dt.datetime(2024, 10, 15, 6, 0, tzinfo=dt.UTC)
    assert set(fire_offsets(Schedule(name="i", interval_minutes=5), base, draws=20)) == {0.0}
    assert build_trigger(Schedule(name="c", cron="*/5 * * * *")).jitter is None


MINIMAL = ('[[sources]]\nname = "s"\nkind = "feed"\nurl = "http://127.0.0.1:9/f.xml"\n'
           '[[topics]]\nname = "t"\nterms = ["大模型"]\n'
           '[[schedules]]\nname = "x"\ninterval_minutes = 30\n')


@pytest.fixture
def restore_logging() -> Any:
    """setup_logging changes the root logger: undo it, closing the handlers it added."""
    root, aps = logging.getLogger(), logging.getLogger("apscheduler")
    before, level, aps_level = list(root.handlers), root.level, aps.level
    yield
    for h in [h for h in root.handlers if h not in before]:
        root.removeHandler(h)
        h.close()
    root.setLevel(level)
    aps.setLevel(aps_level)


def test_log_file_rotates_at_midnight_keeping_14_and_is_relative_to_the_settings(
        tmp_path: Path, restore_logging: None) -> None:
    path = tmp_path / "conf" / "settings.toml"
    path.parent.mkdir()
    path.write_text(f'[daemon]\nlog_file = "logs/daemon.log"\nlog_level = "WARNING"\n{MINIMAL}',
                    encoding="utf-8")
    setup_logging(load_settings(path))
    files = [h for h in logging.getLogger().handlers
             if isinstance(h, logging.handlers.TimedRotatingFileHandler)]
    assert len(files) == 1
    handler = files[0]
    assert handler.baseFilename == str(tmp_path / "conf" / "logs" / "daemon.log")
    assert (handler.when, handler.interval, handler.backupCount) == ("MIDNIGHT", 86400, 14)
    assert logging.getLogger().level == logging.WARNING
    logging.getLogger("topicwatch.daemon").warning("a line for the file")
    logging.getLogger("topicwatch.daemon").info("below the level")
    handler.flush()
    text = (tmp_path / "conf" / "logs" / "daemon.log").read_text(encoding="utf-8")
    assert "WARNING topicwatch.daemon: a line for the file" in text and "below the level" not in text
    setup_logging(load_settings(path))  # again, as a second start in one process would
    assert sum(isinstance(h, logging.handlers.TimedRotatingFileHandler)
               for h in logging.getLogger().handlers) == 1


@pytest.mark.parametrize("log_file", ["a-directory", "settings.toml/daemon.log"])
def test_a_log_file_that_cannot_be_written_stops_the_daemon_with_exit_2(
        tmp_path: Path, log_file: str) -> None:
    (tmp_path / "a-directory").mkdir()
    path = tmp_path / "settings.toml"
    path.write_text(f'[daemon]\nlog_file = "{log_file}"\n{MINIMAL}', encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "crawler", "daemon", "--settings", str(path)],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "COLUMNS": "1000"})  # rich must not wrap the message
    assert out.returncode == 2, out.stderr
    assert f"{path}: [daemon] log_file: cannot write the log file {tmp_path / log_file}: " in out.stderr
    if "/" in log_file:
        assert f"{path} is not a directory" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "corpus.db").exists()  # stopped before opening anything


# ---------------------------------------------------------------- the daemon, end to end


NEW_ARTICLE = ArticleSpec(
    host="b", path="/news/2024/10/21/open-model-compute-pool.html", layout="b",
    title="三家新創共建開源大模型算力池 每小時租金降至五成",
    published="2024-10-21T10:00:00+08:00", language="zh", script="zh-Hant", on_topic=True,
    author="吳佳穎", must_include=("共同出資建置一座算力池",),
    paragraphs=(
        "三家專注於大模型應用的新創公司今天宣布，將共同出資建置一座算力池，集中採購圖形處理器，"
        "再依照各家的實際用量分攤成本。三家公司都以開源模型為基礎開發產品，過去各自向雲端業者租用算力，"
        "尖峰時段常常一卡難求。",
        "負責規劃的工程師表示，算力池啟用後，每小時的租金預計可以降到原本的五成左右，閒置的運算資源"
        "也能轉給合作的大學實驗室使用。他認為，對於人工智能新創而言，算力成本已經超過人事費用，"
        "成為最大的一筆開銷。",
        "業界人士指出，類似的共享模式在海外已有前例，但要長期運作，仍須解決排程公平、資料隔離與"
        "設備維護等問題。三家公司預計在明年第一季完成第一期建置，屆時將開放更多開源模型團隊申請加入。",
    ),
)


def repost_of(original: ArticleSpec) -> ArticleSpec:
    """The original in Traditional script with a paragraph of commentary added: a near copy."""
    s2t = opencc.OpenCC("s2t")
    comment = ("本報評論：這場討論提醒業界，人工智能產品在上線之前，"
               "就應該想清楚出錯時由誰負責，而不是等到事故發生之後才補上規則。")
    return replace(
        original, host="b", path="/news/2024/10/22/bund-governance-repost.html", layout="b",
        title=s2t.convert(original.title) + "（轉載）", script="zh-Hant", encoding="utf-8",
        header_charset=None, meta_charset=None, credit=None,
        paragraphs=tuple(s2t.convert(p) for p in original.paragraphs) + (comment,),
    )


@pytest.mark.slow
def test_new_articles_once_reposts_join_their_story_and_an_unchanged_site_costs_304s(
        site: FixtureSite, tmp_path: Path) -> None:
    settings = write_settings(site, tmp_path, f'[[schedules]]\nname = "clean"\n{EVERY_3S}'
                                              f"sources = {CLEAN_SOURCES}\n")
    corpus = tmp_path / "corpus.db"
    original = build.A.BUND_GOVERNANCE
    with DaemonProcess(settings) as d:
        wait_until(lambda: ended_runs(corpus), "the first run", daemon=d)
        stored = url_rows(corpus)
        assert key_of(site, original.host, original.path) in stored
        new_url = site.add_article(NEW_ARTICLE)
        repost_url = site.add_article(repost_of(original))
        wait_until(lambda: one(corpus, "SELECT count(*) FROM articles WHERE url IN (?, ?)",
                               (new_url, repost_url)) == 2, "the new articles", daemon=d)
        site.clear_log()  # every later run sees an unchanged site
        found_in = one(corpus, "SELECT max(run_id) FROM articles WHERE url IN (?, ?)", (new_url, repost_url))
        wait_until(lambda: any(r[0] >= found_in + 2 for r in ended_runs(corpus)),
                   "two more runs", daemon=d)
        requests = site.requests
        assert d.terminate() == 0
    assert "daemon stopped cleanly" in d.stderr()

    for url in (new_url, repost_url):  # once each, across all the cycles
        assert one(corpus, "SELECT count(*) FROM articles WHERE url = ?", (url,)) == 1
        assert one(corpus, "SELECT count(*) FROM copies WHERE url = ?", (url,)) == 0
    story = one(corpus, "SELECT story_id FROM articles WHERE id = ?",
                (url_rows(corpus)[key_of(site, original.host, original.path)],))
    assert one(corpus, "SELECT story_id FROM articles WHERE url = ?", (repost_url,)) == story
    assert one(corpus, "SELECT n_articles FROM stories WHERE id = ?", (story,)) == 2
    assert one(corpus, "SELECT story_id FROM articles WHERE url = ?", (new_url,)) != story

    assert requests, "the later runs made no request at all"
    # robots.txt and the sitemap index are read in full every run (an index's sitemaps change
    # while it does not); everything else answers 304
    index = build.SITEMAP_INDEX[1]
    not_conditional = [(r.host, r.path, r.status) for r in requests
                       if r.path not in ("/robots.txt", index) and not (r.status == 304 and r.conditional)]
    assert not_conditional == []
    assert {(r.status, r.conditional) for r in requests if r.path == index} == {(200, False)}
    assert sum(r.status == 304 for r in requests) >= 4  # 3 sources: feed, listing, 2 sitemaps
    statuses = [r[1] for r in ended_runs(corpus)]
    assert set(statuses[:-1]) == {"ok"} and statuses[-1] in ("ok", "interrupted")  # by SIGTERM
    assert one(corpus, "SELECT sum(new) FROM runs") == one(corpus, "SELECT count(*) FROM articles")
    assert one(corpus, "PRAGMA integrity_check") == "ok"


# A run whose crawl process (not the daemon) holds it and has spooled at least n items.
CRAWL_IN_FLIGHT = ("SELECT r.id FROM runs r WHERE r.status = 'running' AND r.pid != ? "
                   "AND (SELECT count(*) FROM spool s WHERE s.run_id = r.id) >= ?")


@pytest.mark.slow
def test_kill_9_mid_crawl_and_mid_ingest_then_restart_completes_the_corpus(
        site: FixtureSite, tmp_path: Path) -> None:
    settings = write_settings(site, tmp_path, f'[[schedules]]\nname = "all"\n{EVERY_3S}')
    corpus = tmp_path / "corpus.db"
    cut_short = []  # runs whose crawl was in flight at the kill
    # crawl:3 then ingest:3: the restarted daemon dies inside its start-up ingest of what the
    # killed crawl spooled (at least 3 items).  With crawl:2, a kill that found exactly 2 let
    # the next crawl fetch the whole site first, and the later phases had nothing left to do.
    for point in ("crawl:3", "ingest:3", "crawl:0", "ingest:1"):
        phase, n = point.split(":")
        env = {faults.ENV: point} if phase == "ingest" else {}
        with DaemonProcess(settings, env=env) as d:
            if phase == "crawl":  # once the crawl in flight has spooled n items
                wait_until(lambda d=d, n=int(n): q(corpus, CRAWL_IN_FLIGHT, (d.pid, n)),
                           f"a crawl that spooled {n} item(s)", timeout=150, daemon=d)
                d.proc.kill()
            assert d.proc.wait(timeout=150) == -signal.SIGKILL, d.stderr()[-2000:]
            children = [pid for (pid,) in q(corpus, "SELECT pid FROM runs WHERE pid != ?", (d.pid,))]
            wait_until(lambda children=children: not any(alive(pid) for pid in children),
                       "the orphaned crawl to die with the daemon", timeout=30)
            cut_short += [i for (i,) in q(corpus, "SELECT id FROM runs WHERE status = 'running'")]
    assert len(cut_short) >= 2
    killed_runs = one(corpus, "SELECT count(*) FROM runs")
    with DaemonProcess(settings) as d:
        wait_until(lambda: any(r[0] > killed_runs and r[1] == "ok" for r in ended_runs(corpus)),
                   "a complete run after the kills", timeout=150, daemon=d)
        assert d.terminate() == 0
    assert_complete_and_clean(site, corpus)
    statuses = dict(q(corpus, "SELECT id, status FROM runs"))
    assert {statuses[i] for i in cut_short} == {"interrupted"}


@pytest.mark.slow
def test_sigterm_mid_crawl_stops_the_child_ingests_and_exits_0(site: FixtureSite, tmp_path: Path) -> None:
    settings = write_settings(site, tmp_path, f'[[schedules]]\nname = "all"\n{EVERY_3S}')
    corpus = tmp_path / "corpus.db"
    with DaemonProcess(settings) as d:
        wait_until(lambda: one(corpus, "SELECT count(*) FROM spool"), "a spooled item", daemon=d)
        child = one(corpus, "SELECT pid FROM runs WHERE id = 1")
        assert child != d.pid and alive(child)
        assert d.terminate() == 0
    assert not alive(child)
    assert "daemon stopped cleanly" in d.stderr()
    assert q(corpus, "SELECT status FROM runs") == [("interrupted",)]
    # the child closed its spider gracefully: it wrote its per-source results
    assert one(corpus, "SELECT count(*) FROM source_runs WHERE run_id = 1") == len(manifest.SOURCE_NAMES)
    assert one(corpus, "SELECT count(*) FROM spool") == 0
    assert one(corpus, "SELECT count(*) FROM pages WHERE outcome = 'spooled'") == 0
    assert one(corpus, "SELECT count(*) FROM articles") > 0
    assert one(corpus, "PRAGMA integrity_check") == "ok"


def status_json(settings: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "crawler", "status", "--settings", str(settings), "--json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.slow
def test_one_daemon_per_corpus_and_a_kill_9_leaves_no_stale_lock(site: FixtureSite, tmp_path: Path) -> None:
    settings = write_settings(site, tmp_path, '[[schedules]]\nname = "yearly"\ncron = "0 0 1 1 *"\n')
    with DaemonProcess(settings) as first:
        wait_until(lambda: "daemon ready" in first.stderr(), "the first daemon", daemon=first)
        second = subprocess.run([sys.executable, "-m", "crawler", "daemon", "--settings", str(settings)],
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 3
        assert f"pid {first.pid}" in second.stderr and "corpus.db.lock" in second.stderr
        assert status_json(settings)["daemon"] == {"running": True, "pid": first.pid}
        first.proc.kill()
        first.proc.wait()
    with DaemonProcess(settings) as third:
        wait_until(lambda: "daemon ready" in third.stderr(), "a daemon after kill -9", daemon=third)
        assert status_json(settings)["daemon"]["pid"] == third.pid
        assert third.terminate() == 0
    assert status_json(settings)["daemon"] == {"running": False, "pid": None}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_failing_and_crashing_crawls_are_recorded_and_the_daemon_goes_on(
        site: FixtureSite, tmp_path: Path) -> None:
    dead = f'[[sources]]\nname = "dead"\nkind = "feed"\nurl = "http://127.0.0.1:{closed_port()}/feed.xml"\n'
    slow = f'[[sources]]\nname = "slow"\nkind = "feed"\nurl = "{site.url(*manifest.SLOW)}"\n'
    schedules = (f'[[schedules]]\nname = "dead"\n{EVERY_3S}sources = ["dead"]\n\n'
                 f'[[schedules]]\nname = "slow"\n{EVERY_3S}sources = ["slow"]\n')
    settings = write_settings(site, tmp_path, schedules, daemon="failure_threshold = 2\n",
                              sources=dead + slow)
    corpus = tmp_path / "corpus.db"
    good_text = settings.read_text(encoding="utf-8")
    with DaemonProcess(settings) as d:
        # a crawl process killed by a signal
        running = wait_until(lambda: q(corpus, "SELECT id, pid FROM runs WHERE status = 'running' "
                                               "AND pid != ? AND trigger = 'schedule:slow'", (d.pid,)),
                             "a slow crawl in flight", daemon=d)
        os.kill(running[0][1], signal.SIGKILL)
        killed = running[0][0]
        wait_until(lambda: one(corpus, "SELECT status FROM runs WHERE id = ?", (killed,)) == "failed",
                   "the killed crawl recorded", daemon=d)
        # a crawl process that exits with an error: settings.toml broken under the daemon
        settings.write_text("[crawl\nthis is not TOML", encoding="utf-8")
        broken = wait_until(lambda: q(corpus, "SELECT id FROM runs WHERE error LIKE '%not valid TOML%'"),
                            "a crawl failing on the broken settings", daemon=d)[0][0]
        settings.write_text(good_text, encoding="utf-8")
        wait_until(lambda: any(r[0] > broken and "TOML" not in (r[2] or "") for r in ended_runs(corpus)),
                   "a run after the settings are repaired", daemon=d)
        wait_until(lambda: len(ended_runs(corpus, "schedule:dead")) >= 2, "two dead runs", daemon=d)
        report = status_json(settings)
        assert d.proc.poll() is None
        assert d.terminate() == 0

    error = one(corpus, "SELECT error FROM runs WHERE id = ?", (killed,))
    assert "killed by SIGKILL" in error
    error = one(corpus, "SELECT error FROM runs WHERE id = ?", (broken,))
    assert error.startswith("crawl process exit 2") and "not valid TOML" in error
    assert q(corpus, "SELECT ok FROM source_runs WHERE run_id = ?", (broken,)) == [(0,)]
    dead_runs = ended_runs(corpus, "schedule:dead")
    assert "nothing-fetched" in {r[1] for r in dead_runs}
    assert {r[1] for r in dead_runs} <= {"nothing-fetched", "failed", "interrupted"}  # by SIGTERM
    assert any("connection" in (r[2] or "").lower() or "refused" in (r[2] or "").lower()
               or "nothing could be fetched" in (r[2] or "") for r in dead_runs)
    flagged = {f["source"]: f for f in report["flagged"]}
    assert flagged["dead"]["consecutive_failures"] >= 2
    assert flagged["dead"]["flag_reason"].startswith("failed ")
    assert report["daemon"]["pid"] == d.pid
    assert {s["name"]: bool(s["last_run_id"]) for s in report["schedules"]} == {"dead": True, "slow": True}
    final = dict(q(corpus, "SELECT name, last_status FROM schedules_state"))
    assert final["dead"] in ("nothing-fetched", "failed", "interrupted")  # never 'running' after exit
    assert one(corpus, "PRAGMA integrity_check") == "ok"


RUN_LINE = re.compile(r"run (\d+) \(schedule tick\): (crawling|[a-z-]+, \d+ new)")


@pytest.mark.slow
def test_a_schedule_firing_during_its_own_run_is_skipped_and_the_log_file_has_it_all(
        site: FixtureSite, tmp_path: Path) -> None:
    """Every second, a crawl that takes longer (its one page answers after 5 s, its timeout is
    1 s, plus a fresh interpreter): runs of the schedule follow one another, never overlap."""
    slow = f'[[sources]]\nname = "slow"\nkind = "feed"\nurl = "{site.url(*manifest.SLOW)}"\n'
    settings = write_settings(site, tmp_path, '[[schedules]]\nname = "tick"\n'
                              'interval_minutes = 0.0167\nsources = ["slow"]\n',
                              daemon='log_file = "logs/daemon.log"\n', sources=slow)
    corpus = tmp_path / "corpus.db"
    most_running = []

    def two_runs_done() -> bool:
        most_running.append(one(corpus, "SELECT count(*) FROM runs WHERE status = 'running'"))
        return len(ended_runs(corpus, "schedule:tick")) >= 2

    with DaemonProcess(settings) as d:
        wait_until(two_runs_done, "two runs of the schedule", daemon=d)
        assert d.terminate() == 0
    assert max(most_running) == 1

    log = (tmp_path / "logs" / "daemon.log").read_text(encoding="utf-8")
    assert "daemon ready" in log and "daemon stopped cleanly" in log
    assert "schedule tick fired while its previous run is not done: skipped" in log
    # each run's line carries its errors: the one source timed out
    assert re.search(r"run \d+ \(schedule tick\): nothing-fetched, 0 new, 0 duplicates, 1 errors; "
                     r"1 of 1 source\(s\) failed: slow \(timeout\)", log), log[-3000:]
    events = [(int(m[1]), m[2] == "crawling") for m in RUN_LINE.finditer(log)]
    assert len(events) >= 4
    for i, (run_id, starts) in enumerate(events):  # start 1, end 1, start 2, end 2, ...
        assert starts == (i % 2 == 0), events
        assert run_id == events[i - i % 2][0], events
    runs = q(corpus, "SELECT started, ended FROM runs WHERE trigger = 'schedule:tick' ORDER BY id")
    assert len(runs) == len(events) // 2
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(runs))


@pytest.mark.slow
def test_a_run_missed_while_stopped_runs_once_at_start_up(site: FixtureSite, tmp_path: Path) -> None:
    schedules = ('[[schedules]]\nname = "hourly"\ninterval_minutes = 60\nsources = ["island-atom"]\n\n'
                 '[[schedules]]\nname = "two-hourly"\ninterval_minutes = 120\nsources = ["island-atom"]\n')
    settings = write_settings(site, tmp_path, schedules, daemon="misfire_grace_seconds = 600\n")
    corpus = tmp_path / "corpus.db"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    hourly_last, two_last = now - dt.timedelta(minutes=62), now - dt.timedelta(minutes=150)
    db = open_db(corpus)
    schedule_store.record_schedule_state(db, "hourly", last_run=hourly_last.isoformat(), last_status="ok")
    schedule_store.record_schedule_state(db, "two-hourly", last_run=two_last.isoformat(), last_status="ok")
    db.close()
    with DaemonProcess(settings) as d:
        wait_until(lambda: ended_runs(corpus, "schedule:hourly"), "the missed hourly run", daemon=d)
        time.sleep(1.5)
        assert d.terminate() == 0
    assert len(ended_runs(corpus, "schedule:hourly")) == 1
    assert ended_runs(corpus, "schedule:two-hourly") == []  # missed by 30 min > 10 min grace
    assert "schedule hourly: a run was due" in d.stderr()
    states = dict(q(corpus, "SELECT name, next_run FROM schedules_state"))
    assert dt.datetime.fromisoformat(states["hourly"]) == hourly_last + dt.timedelta(minutes=120)
    assert dt.datetime.fromisoformat(states["two-hourly"]) == two_last + dt.timedelta(minutes=240)


def test_the_daemon_index_sees_articles_another_process_stored(tmp_path: Path) -> None:
    """A manual `topicwatch crawl` ingests with its own index; the daemon's long-lived index
    must still find that article when a near copy of it arrives."""
    from crawler.records import Article, Match, SpoolItem
    from crawler.store.ingest import Ingester
    from crawler.store.spool import SqliteSpool
    from jobs.daemon import Daemon

    path = tmp_path / "settings.toml"
    path.write_text('[[sources]]\nname = "s"\nkind = "feed"\nurl = "http://127.0.0.1:9/f.xml"\n'
                    '[[topics]]\nname = "t"\nterms = ["大模型"]\n'
                    '[[schedules]]\nname = "x"\ninterval_minutes = 30\n', encoding="utf-8")
    from crawler.config import load_settings

    settings = load_settings(path)
    daemon = Daemon(settings)
    daemon.open()
    text = "".join(NEW_ARTICLE.paragraphs)

    def item(url: str, body: str) -> SpoolItem:
        return SpoolItem(Article(url=url, source="s", title="t", text=body), (Match("t", 3.0, ("大模型",)),))

    other = open_db(settings.corpus_path)  # another process's connection and index
    SqliteSpool(other).put(item("http://e/original", text))
    Ingester(other, settings.dedup).ingest()
    SqliteSpool(other).put(item("http://e/repost", text + "轉載時加上的一句評語，說明原文出處。"))
    stats = daemon.ingest("test")
    assert stats.new == 1
    rows = dict(q(settings.corpus_path, "SELECT url, story_id FROM articles"))
    assert rows["http://e/repost"] == rows["http://e/original"]
