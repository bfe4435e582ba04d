"""The command line: help, listings, exit codes, and crawl options against the fixture site."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
from click.testing import CliRunner
from fixturesite import manifest, shipped_topics
from test_docs import commands
from test_e2e_crawl import ROOT

from crawler.cli import cli
from crawler.store.db import open_db


def run(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """`python -m crawler ...` in a real process: crawls (one Twisted reactor per process),
    exit codes as a shell sees them, signals."""
    return subprocess.run([sys.executable, "-m", "crawler", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def invoke(*args: str) -> Any:
    """The command in this process, through click's CliRunner."""
    return CliRunner().invoke(cli, list(args), prog_name="topicwatch")


@pytest.mark.parametrize("command", sorted(commands()))
def test_every_command_has_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: topicwatch " + command in result.output


def test_help_and_version_in_a_real_process():
    proc = run("--help")
    assert proc.returncode == 0 and "daemon" in proc.stdout and "crawl" in proc.stdout
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("topicwatch ")


def test_sources_topics_and_settings_list_what_is_configured():
    sources = invoke("sources", "--settings", str(ROOT / "settings.toml"))
    assert sources.exit_code == 0 and "36kr" in sources.output and "bing-news-zh" in sources.output
    topics = invoke("topics", "--settings", str(ROOT / "settings.toml"))
    assert topics.exit_code == 0 and "open-vs-closed" in topics.output and "开源" in topics.output
    settings = invoke("settings")
    assert settings.exit_code == 0 and "max_age_days" in settings.output


def test_nothing_fetched_exits_4(tmp_path):
    s = tmp_path / "settings.toml"
    s.write_text(
        f'[corpus]\npath = "{tmp_path / "c.db"}"\n[crawl]\ntimeout = 2\nretries = 0\n'
        '[[sources]]\nname = "gone"\nkind = "feed"\nurl = "http://127.0.0.1:9/feed.xml"\n'
        '[[topics]]\nname = "all"\nkeep_all = true\n',
        encoding="utf-8",
    )
    proc = run("crawl", "--settings", str(s))
    assert proc.returncode == 4, proc.stderr
    assert "nothing could be fetched" in proc.stderr
    with sqlite3.connect(tmp_path / "c.db") as db:
        assert db.execute("SELECT status FROM runs").fetchone()[0] == "nothing-fetched"
        assert db.execute("SELECT reason FROM skipped").fetchone()[0] == "connection-refused"


@pytest.mark.slow
def test_source_option_and_max_age_days(site, tmp_path):
    text = site.settings_toml(tmp_path / "corpus.db").replace("max_age_days = 0", "max_age_days = 1000")
    settings = tmp_path / "settings.toml"
    settings.write_text(text + "\n" + shipped_topics(), encoding="utf-8")
    proc = run("crawl", "--settings", str(settings), "--source", "xinghe-rss")
    assert proc.returncode == 0, proc.stderr
    hosts = {r.host for r in site.requests}
    assert hosts == {"a"}, "only the named source is crawled"
    old = manifest.OLD_ARTICLE[1]
    assert not [r for r in site.requests if r.path == old], "dated too old in the feed: not fetched"
    with sqlite3.connect(tmp_path / "corpus.db") as db:
        published = [r[0] for r in db.execute("SELECT published FROM articles")]
    assert published and all(p >= "2024" for p in published)


def _report_page(title: str, day: str, topic: str) -> bytes:
    """A plain article page of this test's own, dated `day` in its byline."""
    paras = "".join(
        f"<p>{topic}的第{n}段：记者走访了多家机构，整理了他们在{day}前后公布的投入、用电和人员数字，"
        f"并比较了不同城市的做法，写成这段共{40 + n}个字左右的说明文字。</p>" for n in range(1, 7))
    return (f"<html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<article><h1>{title}</h1><p class='byline'>{day} 10:00 来源：本站</p>{paras}"
            "</article></body></html>").encode()


@pytest.mark.slow
def test_changed_source_settings_read_the_feed_again_and_fetch_what_it_left_out(site, tmp_path):
    """A feed's validators hold only for the settings it was read with: after `allow` and
    `max_age_days` widen, the feed is read in full (no 304 hiding links never followed), the
    link `allow` had left out is fetched, and a page once judged too old is fetched again."""
    items = [("/wide/a/new.html", "新一季算力报告发布", "2026-11-20"),
             ("/wide/a/old.html", "旧年的数据中心报告", "2019-03-05"),
             ("/wide/b/more.html", "另一栏目的机器人报告", "2026-11-21")]
    rss = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>w</title>'
           + "".join(f"<item><title>{t}</title><link>{{{{host_c}}}}{p}</link></item>" for p, t, _ in items)
           + "</channel></rss>")
    site.add_page("c", "/wide/feed.xml", rss.encode(), content_type="application/rss+xml")
    for path, title, day in items:
        site.add_page("c", path, _report_page(title, day, title[:4]))
    settings = tmp_path / "settings.toml"

    def crawl_with(allow: str, max_age_days: int) -> list:
        settings.write_text(
            f'[corpus]\npath = "{tmp_path / "corpus.db"}"\n[crawl]\ndelay = 0\nmax_age_days = {max_age_days}\n'
            f'[[sources]]\nname = "wide"\nkind = "feed"\nurl = "{site.base("c")}/wide/feed.xml"\n{allow}\n'
            '[[topics]]\nname = "all"\nkeep_all = true\n', encoding="utf-8")
        site.clear_log()
        proc = run("crawl", "--settings", str(settings))
        assert proc.returncode == 0, proc.stderr
        return [(r.path, r.status, r.conditional) for r in site.requests if r.path.startswith("/wide/")]

    narrow = 'allow = ["/wide/a/"]'
    assert sorted(crawl_with(narrow, 1000)) == [("/wide/a/new.html", 200, False),
                                                ("/wide/a/old.html", 200, False),
                                                ("/wide/feed.xml", 200, False)]
    assert crawl_with(narrow, 1000) == [("/wide/feed.xml", 304, True)]
    # wider settings: read in full, and what they let in is fetched
    assert sorted(crawl_with("", 0)) == [("/wide/a/old.html", 200, False),
                                         ("/wide/b/more.html", 200, False),
                                         ("/wide/feed.xml", 200, False)]
    assert crawl_with("", 0) == [("/wide/feed.xml", 304, True)]
    with sqlite3.connect(tmp_path / "corpus.db") as db:
        stored = sorted(r[0].split("/wide/")[1] for r in db.execute("SELECT url FROM articles"))
        assert stored == ["a/new.html", "a/old.html", "b/more.html"]
        assert db.execute("SELECT published FROM articles WHERE url LIKE '%old.html'").fetchone()[0][:10] == "2019-03-05"


@pytest.mark.slow
def test_search_source_requests_one_feed_per_query(site, tmp_path):
    spec = next(e for e in manifest.expect("article") if e.host == "c")
    rss = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>search</title>'
        f'<item><title>{spec.title}</title><link>{{{{host_c}}}}{spec.path}</link></item>'
        "</channel></rss>"
    ).encode()
    site.add_page("c", "/feeds/search", rss, content_type="application/rss+xml")
    settings = tmp_path / "settings.toml"
    settings.write_text(
        f'[corpus]\npath = "{tmp_path / "corpus.db"}"\n[crawl]\nmax_age_days = 0\ndelay = 0\n'
        f'[[sources]]\nname = "news-search"\nkind = "search"\nurl = "{site.base("c")}/feeds/search?q={{query}}&hl=zh"\n'
        + shipped_topics(),
        encoding="utf-8",
    )
    proc = run("crawl", "--settings", str(settings), "--topic", "open-vs-closed", "--topic", "agi")
    assert proc.returncode == 0, proc.stderr
    queries = [unquote_plus(r.path.split("q=")[1].split("&")[0]) for r in site.requests if r.path.startswith("/feeds/search")]
    # each query once; with delay = 0 the requests go out together and may arrive in any order
    assert sorted(queries) == sorted(["开源", "闭源", "开源模型", "通用人工智能", "超级智能"])
    with sqlite3.connect(tmp_path / "corpus.db") as db:
        assert db.execute("SELECT title FROM articles").fetchall() == [(spec.title,)]


def test_pages_that_fail_are_counted_not_logged_one_by_one_unless_verbose(site, tmp_path):
    """trafilatura warns "discarding data: URL" for each page it finds no text in, Scrapy
    logs "Gave up retrying" for each page that kept failing; the crawl records and counts
    those pages itself, so these lines show with -v only."""
    rss = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
           "<item><title>a stub</title><link>{{host_c}}/stub/1.html</link></item>"
           "<item><title>broken</title><link>{{host_c}}/stub/500.html</link></item></channel></rss>")
    site.add_page("c", "/stub/feed.xml", rss.encode(), content_type="application/rss+xml")
    site.add_page("c", "/stub/1.html", b"<html><head><title>stub</title></head><body><ul>"
                  b"<li><a href='/a'>one</a></li><li><a href='/b'>two</a></li></ul></body></html>")
    site.add_page("c", "/stub/500.html", b"oops", status=500)
    for verbose in (False, True):
        corpus = tmp_path / f"corpus-{verbose}.db"
        settings = tmp_path / f"settings-{verbose}.toml"
        settings.write_text(
            f'[corpus]\npath = "{corpus}"\n[crawl]\ndelay = 0\n'
            f'[[sources]]\nname = "stubs"\nkind = "feed"\nurl = "{site.base("c")}/stub/feed.xml"\n'
            '[[topics]]\nname = "all"\nkeep_all = true\n', encoding="utf-8")
        proc = run("crawl", "--settings", str(settings), *(["-v"] if verbose else []))
        assert proc.returncode == 0, proc.stderr
        assert ("discarding data" in proc.stderr) == verbose, proc.stderr
        assert ("Gave up retrying" in proc.stderr) == verbose, proc.stderr
        with closing(sqlite3.connect(corpus)) as db:
            assert sorted(db.execute("SELECT url, reason FROM skipped").fetchall()) == [
                (site.url("c", "/stub/1.html"), "empty"), (site.url("c", "/stub/500.html"), "http-500")]
        assert "errors 1" in proc.stdout.replace(",", "")  # counted in the summary


def test_a_source_forbidden_by_robots_txt_is_recorded(site, tmp_path):
    settings = tmp_path / "settings.toml"
    settings.write_text(
        f'[corpus]\npath = "{tmp_path / "corpus.db"}"\n'
        f'[[sources]]\nname = "blocked"\nkind = "feed"\nurl = "{site.base("c")}/search/feed.xml"\n'
        '[[topics]]\nname = "all"\nkeep_all = true\n',
        encoding="utf-8",
    )
    proc = run("crawl", "--settings", str(settings))
    assert [r.path for r in site.requests] == ["/robots.txt"]
    with sqlite3.connect(tmp_path / "corpus.db") as db:
        assert db.execute("SELECT reason FROM skipped").fetchall() == [("robots-disallowed",)]
        assert db.execute("SELECT ok FROM source_runs").fetchall() == [(0,)]
    assert "NO" in proc.stdout


def test_a_robots_txt_answering_5xx_puts_its_host_off_limits_for_the_run(site, tmp_path):
    """RFC 9309: a robots.txt that cannot be read because the server fails means "disallow
    all" (Scrapy reads the error page as a robots.txt allowing everything)."""
    site.add_page("c", "/robots.txt", b"<html><body>Service busy</body></html>", status=503)
    settings = tmp_path / "settings.toml"
    settings.write_text(
        f'[corpus]\npath = "{tmp_path / "corpus.db"}"\n[crawl]\nretries = 0\ndelay = 0\n'
        f'[[sources]]\nname = "ledger"\nkind = "feed"\nurl = "{site.base("c")}/feed.xml"\n'
        '[[topics]]\nname = "all"\nkeep_all = true\n', encoding="utf-8")
    refused = run("crawl", "--settings", str(settings))
    assert refused.returncode == 4, refused.stderr
    assert [r.path for r in site.requests] == ["/robots.txt"]
    assert "robots.txt unavailable: it answered HTTP 503, so the host is off limits for now" in refused.stderr
    with sqlite3.connect(tmp_path / "corpus.db") as db:
        assert db.execute("SELECT reason FROM skipped").fetchall() == [("robots-unavailable",)]
    site.remove_page("c", "/robots.txt")  # a 404 now: no rules
    site.clear_log()
    answered = run("crawl", "--settings", str(settings))
    assert answered.returncode in (0, 5), answered.stderr
    assert "/feed.xml" in [r.path for r in site.requests]


@pytest.mark.slow
def test_scrapy_crawl_works_from_the_project_folder(site, tmp_path):
    settings = tmp_path / "settings.toml"
    settings.write_text(site.settings_toml(tmp_path / "corpus.db") + "\n" + shipped_topics(), encoding="utf-8")
    scrapy = Path(sys.executable).parent / "scrapy"
    listed = subprocess.run([str(scrapy), "list"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert listed.stdout.split() == ["topicwatch"]
    proc = subprocess.run(
        [str(scrapy), "crawl", "topicwatch", "-s", f"TOPICWATCH_SETTINGS={settings}", "-a", "source=island-atom"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    with sqlite3.connect(tmp_path / "corpus.db") as db:
        assert db.execute("SELECT status, trigger FROM runs").fetchall() == [("ok", "scrapy crawl")]
        n = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    # alone, island-atom's Traditional repost has no original to be a copy of
    assert n == len([e for e in manifest.expect("article") + manifest.expect("copy") if e.host == "b"])


@pytest.mark.slow
def test_scrapy_crawl_honours_the_crawl_settings(site, tmp_path):
    """`scrapy crawl topicwatch` reads [crawl] through the spider: the server sees the
    configured User-Agent on every request and the configured delay between them."""
    text = site.settings_toml(tmp_path / "corpus.db").replace("delay = 0", "delay = 0.8")
    text = text.replace("[crawl]\n", '[crawl]\nuser_agent = "ScrapyPathCheck/1.0"\nautothrottle = false\n', 1)
    settings = tmp_path / "settings.toml"
    settings.write_text(text + "\n" + shipped_topics(), encoding="utf-8")
    scrapy = Path(sys.executable).parent / "scrapy"
    proc = subprocess.run([str(scrapy), "crawl", "topicwatch", "-s", f"TOPICWATCH_SETTINGS={settings}",
                           "-a", "source=ledger-news"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    requests = site.requests_for("c")
    assert len(requests) >= 4
    assert {r.header("User-Agent") for r in requests} == {"ScrapyPathCheck/1.0"}
    times = sorted(r.time for r in requests)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.8 * 0.5, gaps  # Scrapy varies the delay by up to ±50 %


def test_crawls_open_no_remote_control_and_an_unchanged_one_loads_no_ingester(site, tmp_path):
    """Scrapy 2.19 starts a remote-control HTTP server (Python sent to it runs in the crawl)
    and writes its token under ~/.local/state unless told not to: neither happens, whichever
    way the crawl is started, and the modules it needs (aiohttp, a fifth of a second of the
    crawl's start) are not imported.  And with nothing spooled the crawl never builds the ingester:
    datasketch (a third of a second of imports) is not
    even imported."""
    home = tmp_path / "home"
    home.mkdir()
    settings = tmp_path / "settings.toml"
    settings.write_text(site.settings_toml(tmp_path / "corpus.db") + "\n" + shipped_topics(),
                        encoding="utf-8")
    env = {**os.environ, "HOME": str(home), "XDG_STATE_HOME": str(home / "state"),
           "PYTHONPROFILEIMPORTTIME": "1"}
    scrapy = Path(sys.executable).parent / "scrapy"
    counts = []
    for command in ([sys.executable, "-m", "crawler", "crawl", "-v", "--settings", str(settings),
                     "--source", "xinghe-rss"],
                    [str(scrapy), "crawl", "topicwatch", "-s", f"TOPICWATCH_SETTINGS={settings}",
                     "-a", "source=xinghe-rss"]):
        proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        log = proc.stdout + proc.stderr
        assert "Spider opened" in log  # the log is there to be read
        # the articles the first crawl stored were matched with these topics (articles.topic_set):
        # the second one, with the same topics, has nothing to match again
        assert "topics new or changed" not in log
        # neither enabled nor even imported, nor the telnet console: the import log lists the
        # modules imported by `import` statements (not the extension itself, which Scrapy
        # imports with importlib, but what it imports: aiohttp, twisted.conch)
        assert "Remote control" not in log and "scrapy.extensions.remote_control" not in log
        assert re.search(r"\|\s+twisted\.internet$", proc.stderr, re.MULTILINE)  # a log to read
        assert not re.search(r"\|\s+(aiohttp|twisted\.conch)$", proc.stderr, re.MULTILINE)
        assert [p for p in home.rglob("*")] == [], "the crawl wrote into HOME"
        # every corpus connection was closed at exit (checkpointed, its log removed), also
        # after `topicwatch` froze the heap before exiting (crawler/cli.py: _about_to_exit);
        # the crawl lock's file stays, unlocked (crawler/locks.py: never unlinked)
        assert sorted(p.name for p in tmp_path.glob("corpus.db*")) == ["corpus.db", "corpus.db.crawl.lock"]
        with closing(sqlite3.connect(tmp_path / "corpus.db")) as db:
            counts.append(db.execute("SELECT count(*) FROM articles").fetchone()[0])
            assert db.execute("SELECT count(*) FROM articles WHERE topic_set IS NULL").fetchone()[0] == 0
        imported = re.search(r"\|\s+crawler\.dedup$", proc.stderr, re.MULTILINE) is not None
        # the first crawl stores articles (ingested: the import of crawler.dedup, which imports
        # datasketch, is seen); the second, with nothing new, does not import it; neither
        # imports scipy.integrate (crawler/dedup.py: datasketch without it)
        assert imported == (len(counts) == 1), (counts, imported)
        assert not re.search(r"\|\s+scipy\.integrate$", proc.stderr, re.MULTILINE)
    assert counts[0] > 0 and counts[1] == counts[0]


def test_browse_and_export_refuse_a_missing_corpus(tmp_path):
    s = tmp_path / "settings.toml"
    s.write_text(f'[corpus]\npath = "{tmp_path / "nope.db"}"\n', encoding="utf-8")
    for command in (["browse", "--port", "9"], ["export"], ["ingest"], ["rematch"]):
        result = invoke(*command, "--settings", str(s))
        assert result.exit_code == 6
        assert f"{tmp_path / 'nope.db'}: no corpus here yet" in result.stderr
    assert not (tmp_path / "nope.db").exists()
    proc = run("export", "--settings", str(s))  # and as a shell sees it
    assert proc.returncode == 6 and "no corpus here yet" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("nope.db*")), "nothing created"
    bad_port = invoke("browse", "--port", "99999", "--settings", str(s))
    assert bad_port.exit_code == 2 and "99999 is not in the range 0<=x<=65535" in bad_port.stderr


def test_export_of_an_unknown_topic_is_an_error(tmp_path):
    
    open_db(tmp_path / "c.db").close()
    s = tmp_path / "settings.toml"
    s.write_text(f'[corpus]\npath = "{tmp_path / "c.db"}"\n[[topics]]\nname = "agi"\nterms = ["AGI"]\n',
                 encoding="utf-8")
    result = invoke("export", "--settings", str(s), "--topic", "agl")
    assert result.exit_code == 2 and "--topic agl: no such topic (did you mean agi?" in result.stderr
    assert "known: agi" in result.stderr
    ok = invoke("export", "--settings", str(s), "--topic", "agi")
    assert ok.exit_code == 0 and "exported 0 article(s)" in ok.stderr


def test_an_export_that_cannot_be_written_is_one_line_naming_where(tmp_path):
    from crawler.store import corpus
    from crawler.store.db import write_transaction

    db = open_db(tmp_path / "c.db")
    with write_transaction(db):
        corpus.insert_article(db, {"url": "http://x/1", "canonical_url": "http://x/1", "source": "s",
                                   "title": "t", "text": "大模型" * 3000, "topics": '["all"]',
                                   "content_hash": "h", "first_seen": "2026-01-01T00:00:00+00:00"})
    db.close()
    s = tmp_path / "settings.toml"
    s.write_text(f'[corpus]\npath = "{tmp_path / "c.db"}"\n', encoding="utf-8")
    # a CSV file for Excel starts with a byte-order mark; JSON lines and standard output do not
    for fmt in ("csv", "jsonl"):
        done = run("export", "--settings", str(s), "--format", fmt, "--output", str(tmp_path / f"a.{fmt}"))
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "a.csv").read_bytes().startswith(b"\xef\xbb\xbfid,")
    assert (tmp_path / "a.jsonl").read_bytes().startswith(b"{")
    assert not run("export", "--settings", str(s), "--format", "csv").stdout.startswith("\ufeff")
    full = run("export", "--settings", str(s), "--output", "/dev/full")  # a disk that is full
    assert full.returncode == 6 and "Traceback" not in full.stderr, full.stderr
    assert full.stderr.strip().splitlines()[-1] == "error: /dev/full: No space left on device"
    with open("/dev/full", "w") as sink:
        piped = subprocess.run([sys.executable, "-m", "crawler", "export", "--settings", str(s)],
                               stdout=sink, stderr=subprocess.PIPE, text=True, timeout=120, cwd=ROOT)
    assert piped.returncode == 6 and "Traceback" not in piped.stderr, piped.stderr
    assert piped.stderr.strip().splitlines()[-1] == "error: /dev/stdout: No space left on device"


def test_topics_explain_shows_why_a_page_matches_or_not(site, tmp_path):
    settings = tmp_path / "settings.toml"
    settings.write_text(site.settings_toml(tmp_path / "corpus.db") + "\n" + shipped_topics(), encoding="utf-8")
    on = next(e for e in manifest.expect("article") if e.host == "a")
    result = invoke("topics", "--settings", str(settings), "--explain", site.url(on.host, on.path))
    assert result.exit_code == 0, result.output
    assert on.title in result.stdout and "yes" in result.stdout
    off = manifest.expect("off_topic")[0]
    page = tmp_path / "saved.html"
    page.write_bytes(site.respond(off.host, off.path, {})[2])
    result = invoke("topics", "--settings", str(settings), "--explain", str(page))
    assert result.exit_code == 0, result.output
    assert off.title in result.stdout
    assert "yes" not in result.stdout.split(off.title, 1)[1]
    gone = invoke("topics", "--settings", str(settings), "--explain", "http://127.0.0.1:9/x")
    assert gone.exit_code == 1 and "cannot fetch" in gone.stderr
    stub = tmp_path / "stub.html"
    stub.write_text("<html><body><nav><a href='/'>home</a></nav></body></html>", encoding="utf-8")
    none = invoke("topics", "--settings", str(settings), "--explain", str(stub))
    assert none.exit_code == 1 and f"error: {stub}: not an article (empty)" in none.stderr
    # a feed is no article (read as a page, its item titles made a text that matched topics)
    feed = invoke("topics", "--settings", str(settings), "--explain", site.url("b", "/atom.xml"))
    assert feed.exit_code == 1, feed.output
    assert "a feed, not an article page: --explain takes one article's URL" in feed.stderr
    assert "such as: http://" in feed.stderr and "score" not in feed.stdout


def test_topics_explain_follows_no_redirect_to_a_private_address(tmp_path):
    from hostile.responses import redirect
    from hostile.server import HostileSite

    settings = tmp_path / "settings.toml"
    settings.write_text('[[topics]]\nname = "all"\nkeep_all = true\n', encoding="utf-8")
    with HostileSite({"page": "127.0.0.1", "private": "127.0.0.2"}) as servers:
        target = servers.route("page", "/moved", redirect(lambda: servers.base("private") + "/x"))
        result = invoke("topics", "--settings", str(settings), "--explain", target)
        assert result.exit_code == 1
        message = " ".join(result.stderr.split())
        assert "refused redirect to http://127.0.0.2:" in message and "127.0.0.2 is loopback" in message
        assert [h.path for h in servers.hits("page")] == ["/moved"]
        assert servers.hits("private") == []


def feed_settings(tmp_path, name, url):
    """settings.toml for one feed source, every article kept, no delay and no age limit."""
    settings = tmp_path / "settings.toml"
    settings.write_text(
        f'[corpus]\npath = "{tmp_path / "corpus.db"}"\n[crawl]\nmax_age_days = 0\ndelay = 0\n'
        f'[[sources]]\nname = "{name}"\nkind = "feed"\nurl = "{url}"\n'
        '[[topics]]\nname = "all"\nkeep_all = true\n',
        encoding="utf-8",
    )
    return settings


def test_a_malformed_link_in_a_feed_does_not_stop_the_rest(site, tmp_path):
    good = [e for e in manifest.expect("article") if e.host == "c"][:2]
    items = "".join(
        f"<item><title>{t}</title><link>{u}</link></item>"
        for t, u in [(good[0].title, "{{host_c}}" + good[0].path), ("broken", "http://[oops/x"),
                     (good[1].title, "{{host_c}}" + good[1].path)]
    )
    rss = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    site.add_page("c", "/odd.xml", rss.encode(), content_type="application/rss+xml")
    settings = feed_settings(tmp_path, "odd", f"{site.base('c')}/odd.xml")
    for _ in range(2):
        assert run("crawl", "--settings", str(settings)).returncode == 0
    with sqlite3.connect(tmp_path / "corpus.db") as db:
        assert {r[0] for r in db.execute("SELECT title FROM articles")} == {good[0].title, good[1].title}
        assert db.execute("SELECT status FROM pages WHERE url LIKE '%/odd.xml'").fetchone()[0] in (200, 304)


def test_a_meta_refresh_is_followed_to_the_article(site, tmp_path):
    target = [e for e in manifest.expect("article") if e.host == "c"][0]
    site.add_page("c", "/moved.html", ('<html><head><title>moved</title><meta http-equiv="Refresh" '
                                       f'content="0; url={target.path}"></head><body></body></html>').encode())
    rss = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
           '<item><title>moved</title><link>{{host_c}}/moved.html</link></item></channel></rss>')
    site.add_page("c", "/moved.xml", rss.encode(), content_type="application/rss+xml")
    settings = feed_settings(tmp_path, "moved", f"{site.base('c')}/moved.xml")
    assert run("crawl", "--settings", str(settings)).returncode == 0
    with sqlite3.connect(tmp_path / "corpus.db") as db:
        assert db.execute("SELECT title, url FROM articles").fetchall() == [
            (target.title, site.base("c") + target.path)]


def test_settings_shows_section_names_and_is_not_wrapped_into_a_pipe():
    result = invoke("settings")
    assert result.exit_code == 0
    for section in ("[corpus]", "[crawl]", "[[sources]]", "[[topics]]", "[[schedules]]"):
        assert f"│ {section} " in result.stdout, section
    # CliRunner's output is not a terminal: each row stays on one line, however long
    line = next(ln for ln in result.stdout.splitlines() if "keep_unmatched_days" in ln)
    assert "apply to them without fetching them again; 0 keeps none" in line


def test_topics_shows_the_first_terms_of_a_long_group_and_a_count():
    result = invoke("topics", "--settings", str(ROOT / "settings.toml"))
    assert result.exit_code == 0
    assert "人工智能 / 人工智慧 / AI / artificial intelligence" in result.stdout
    assert re.search(r"… \(\+\d+ more\)", result.stdout)
    assert "(score at least 1)" in result.stdout
    assert len(result.stdout.splitlines()) < 120, "the shared AI group is not printed in full"


def test_misspelt_names_get_a_close_match(tmp_path):
    s = tmp_path / "settings.toml"
    s.write_text('[corpsu]\npath = "c.db"\n', encoding="utf-8")
    result = invoke("sources", "--settings", str(s))
    assert result.exit_code == 2 and "unknown section (did you mean corpus?)" in result.stderr
    s.write_text('[[sources]]\nname = "tech-feed"\nkind = "feed"\nurl = "http://127.0.0.1:9/f"\n',
                 encoding="utf-8")
    result = invoke("crawl", "--settings", str(s), "--source", "tech-fed")
    assert result.exit_code == 2 and "no such source (did you mean tech-feed?; known: tech-feed)" in result.stderr


def test_browse_on_a_port_in_use_is_one_line(tmp_path):
    open_db(tmp_path / "c.db").close()
    s = tmp_path / "settings.toml"
    s.write_text(f'[corpus]\npath = "{tmp_path / "c.db"}"\n', encoding="utf-8")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke("browse", "--settings", str(s), "--port", str(port))
    assert result.exit_code == 1
    assert f"error: cannot serve on 127.0.0.1:{port}: in use" in result.stderr


def test_sources_and_status_say_what_is_not_there_as_it_was_asked(tmp_path):
    s = tmp_path / "settings.toml"
    s.write_text(f'[corpus]\npath = "{tmp_path / "c.db"}"\n[[sources]]\nname = "loop"\nkind = "feed"\n'
                 'url = "http://127.0.0.1:9/f"\n[[topics]]\nname = "all"\nkeep_all = true\n', encoding="utf-8")
    unknown = invoke("sources", "--settings", str(s), "loop-rs")
    assert unknown.exit_code == 2
    assert "sources loop-rs: no such source (did you mean loop?; known: loop)" in unknown.stderr
    open_db(tmp_path / "c.db").close()
    status = invoke("status", "--settings", str(s))
    assert status.exit_code == 0, status.output
    assert "schedules: none in the settings" in status.stdout and "next run" not in status.stdout
