"""settings.toml loading and validation, and the CLI's handling of bad settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crawler.config import load_settings
from crawler.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "settings.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_shipped_settings_load():
    s = load_settings(ROOT / "settings.toml")
    assert s.corpus.path == "corpus.db"
    assert {t.name for t in s.topics} >= {"large-models", "compute", "open-vs-closed", "agents"}
    assert {src.kind for src in s.sources} == {"feed", "sitemap", "listing", "search"}
    assert s.schedules, "the shipped settings schedule the daemon"
    # alias groups become tuples of strings; a plain string is a group of one
    lm = s.select_topics(["large-models"])[0]
    assert ("Transformer",) in lm.terms
    assert all(isinstance(g, tuple) for g in lm.terms)


def test_defaults_apply_to_an_empty_file(tmp_path):
    s = load_settings(write(tmp_path, ""))
    assert s.crawl.obey_robots is True
    assert s.crawl.max_age_days == 30
    assert s.corpus_path == tmp_path / "corpus.db"
    assert s.sources == () and s.topics == ()
    assert s.dedup.window_days == 30


@pytest.mark.parametrize(
    "text, key, problem",
    [
        ("[crawl]\ndelay = 'soon'\n", "[crawl] delay", "expected a number"),
        ("[crawl]\nobey_robots = 1\n", "[crawl] obey_robots", "expected true or false, got 1"),
        ("[crawl]\ndelay = true\n", "[crawl] delay", "expected a number, got true"),
        ("[crawl]\ndelay = 'soon'\n", "[crawl] delay", 'expected a number, got "soon"'),
        ("[crawl]\nspeed = 3\n", "[crawl] speed", "unknown key"),
        ("[crawling]\n", "crawling", "unknown section"),
        ("[crawl]\nconcurrency = 0\n", "[crawl] concurrency", "at least 1"),
        ("[crawl]\nworkers = -1\n", "[crawl] workers", "at least 0"),
        ("[crawl]\nworkers = 1000\n", "[crawl] workers", "at most 256"),
        ("[crawl]\nprocessing_timeout = 0\n", "[crawl] processing_timeout", "at least 1"),
        ("[[sources]]\nname='a'\nkind='feed'\nurl='not a url'\n", "[[sources]] #1 (a) url", "not an http(s) URL"),
        ("[[sources]]\nname='a'\nkind='feed'\nurl='http://x.org:99999/f'\n", "[[sources]] #1 (a) url",
         "bad port (0-65535) in 'http://x.org:99999/f'"),
        ("[[sources]]\nname='a'\nkind='feed'\nurls=['http://x.org/f', 'http://x y.org/f']\n",
         "[[sources]] #1 (a) url", "not a host name in 'http://x y.org/f'"),
        ("[[sources]]\nname='a'\nkind='rss'\nurl='http://x.org/'\n", "[[sources]] #1 (a) kind", "must be one of"),
        ("[[sources]]\nname='a'\nkind='feed'\n", "[[sources]] #1 (a) url", "needs url or urls"),
        ("[[sources]]\nname='a'\nkind='feed'\nurl='http://x.org/f'\nallow=['(unclosed']\n",
         "[[sources]] #1 (a) allow", "invalid regular expression"),
        ("[[sources]]\nname='a'\nkind='search'\nurl='http://x.org/s?q=1'\n", "[[sources]] #1 (a) url", "{query}"),
        ("[[sources]]\nname='a'\nkind='feed'\nurl='http://x.org/f'\nencoding='klingon'\n",
         "[[sources]] #1 (a) encoding", "unknown encoding"),
        ("[[sources]]\nkind='feed'\nurl='http://x.org/f'\n", "[[sources]] #1 name", "is required"),
        ("[[topics]]\nname='t'\n", "[[topics]] #1 (t) terms", "needs terms"),
        ("[[topics]]\nname='t'\nterms=[[1, 2]]\n", "[[topics]] #1 (t) terms", "non-empty string"),
        ("[[topics]]\nname='t'\nterms=['-foo']\n", "[[topics]] #1 (t) terms", "only negative terms"),
        ("[[topics]]\nname='t'\nterms=['ai']\nrequire=[['-x', '-y']]\n", "[[topics]] #1 (t) require",
         "only negative terms"),
        ("[[schedules]]\nname='s'\ncron='every day'\n", "[[schedules]] #1 (s) cron", "invalid cron"),
        ("[[schedules]]\nname='s'\n", "[[schedules]] #1 (s) cron", "exactly one of"),
        ("[[schedules]]\nname='s'\ninterval_minutes=5\nsources=['nope']\n", "sources", "no such source"),
        ("[[topics]]\nname='t'\nkeep_all=true\n[[topics]]\nname='t'\nkeep_all=true\n", "[[topics]] name", "duplicate"),
        ("[corpus]\npath = ''\n", "[corpus] path", "must not be empty"),
        ("[dedup]\nwindow_days = -1\n", "[dedup] window_days", "at least 0"),
        ("[dedup]\nwindow_days = 'a month'\n", "[dedup] window_days", "expected"),
        ("[corpus]\npath = '.'\n", "[corpus] path", "is a directory"),
        ("[[sources]]\nname='a'\nkind='search'\nurl='http://x.org/s?q={query}'\nqueries=[1]\n",
         "[[sources]] #1 (a) queries", "list of non-empty strings"),
        ("[[schedules]]\nname='s'\ninterval_minutes=5\nsources=[3]\n", "[[schedules]] #1 (s) sources", "list of non-empty strings"),
        ("this is = = not toml", None, "not valid TOML"),
    ],
)
def test_invalid_settings_name_file_key_and_problem(tmp_path, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert str(path) in message
    if key:
        assert key in message
    assert problem in message


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.toml")


def test_cli_exits_2_with_one_line_and_no_traceback(tmp_path):
    path = write(tmp_path, "[crawl]\ndelay = 'soon'\n")
    for command in (["crawl"], ["sources"], ["topics"]):
        proc = subprocess.run(
            [sys.executable, "-m", "crawler", *command, "--settings", str(path)],
            capture_output=True, text=True, timeout=60,
        )
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert "[crawl] delay: expected a number" in proc.stderr
        assert str(path) in proc.stderr.replace("\n", "")


def test_unknown_source_on_the_command_line(tmp_path):
    path = write(tmp_path, "[[sources]]\nname='a'\nkind='feed'\nurl='http://127.0.0.1:9/f'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", "--settings", str(path), "--source", "b"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "--source b: no such source" in proc.stderr.replace("\n", "")


def test_cron_weekdays_are_read_as_cron_reads_them(tmp_path):
    s = load_settings(write(tmp_path, "[[schedules]]\nname='s'\ncron='0 8 * * 7'\n"))
    assert s.schedules[0].cron == "0 8 * * 7"  # Sunday; APScheduler alone rejects 7


def test_crawl_with_no_enabled_source_exits_2(tmp_path):
    path = write(tmp_path, "[[sources]]\nname='a'\nkind='feed'\nurl='http://127.0.0.1:9/f'\nenabled=false\n")
    proc = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--settings", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "no enabled source" in proc.stderr


def test_workers_default_to_one_per_usable_core(tmp_path):
    import os

    assert load_settings(write(tmp_path, "")).crawl.worker_count == len(os.sched_getaffinity(0))
    assert load_settings(write(tmp_path, "[crawl]\nworkers = 3\n")).crawl.worker_count == 3


def _two_sources(first: str, second: str) -> str:
    return (f'[[sources]]\nname = "one"\n{first}\n\n[[sources]]\nname = "two"\n{second}\n'
            '[[topics]]\nname = "all"\nkeep_all = true\n')


@pytest.mark.parametrize("first, second, refused", [
    ('kind = "feed"\nurl = "https://news.example.cn/rss.xml"',
     'kind = "feed"\nurl = "https://news.example.cn/rss.xml"', True),
    ('kind = "feed"\nurl = "https://news.example.cn/rss.xml"',
     'kind = "feed"\nurls = ["https://a.example.cn/feed", "HTTPS://News.Example.CN/rss.xml#top"]', True),
    ('kind = "listing"\nurl = "https://news.example.cn"',
     'kind = "listing"\nurl = "https://news.example.cn/"', True),
    ('kind = "feed"\nurl = "https://news.example.cn/rss.xml"',  # not crawled: no clash
     'kind = "feed"\nurl = "https://news.example.cn/rss.xml"\nenabled = false', False),
    ('kind = "search"\nurl = "https://search.example.cn/rss?q={query}"\nqueries = ["大模型"]',
     'kind = "search"\nurl = "https://search.example.cn/rss?q={query}"\nqueries = ["具身智能"]', False),
    ('kind = "sitemap"\nurl = "https://news.example.cn/"',  # robots.txt, not the page itself
     'kind = "listing"\nurl = "https://news.example.cn/"', False),
])
def test_two_sources_with_the_same_url_are_refused(tmp_path, first, second, refused):
    """The crawl asks for a URL once: a second source with it would never be read."""
    path = write(tmp_path, _two_sources(first, second))
    if not refused:
        assert len(load_settings(path).sources) == 2
        return
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert "[[sources]] (two) url" in message and "source 'one'" in message and str(path) in message
