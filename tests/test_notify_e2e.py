"""Notifications as a user gets them: real `topicwatch crawl` and `topicwatch daemon` processes
crawling the fixture site, a real HTTP receiver taking Apprise's json:// posts, kill -9 in the
middle of sending, restarts, and a digest on its own interval."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from fixturesite import ArticleSpec, FixtureSite, shipped_topics
from receivers import HookReceiver
from test_daemon import (
    CLEAN_SOURCES,
    EVERY_3S,
    NEW_ARTICLE,
    DaemonProcess,
    ended_runs,
    one,
    wait_until,
    write_settings,
)

from crawler import faults

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent

SECOND_NEW = ArticleSpec(  # island-atom's feed, like NEW_ARTICLE: both reach the daemon's sources
    host="b", path="/news/2024/10/24/campus-open-model-benchmark.html", layout="b",
    title="大學團隊釋出繁體中文開源大模型評測集 免費提供新創使用",
    published="2024-10-24T14:00:00+08:00", language="zh", script="zh-Hant", on_topic=True,
    author="陳思妤", must_include=("一套專門檢驗繁體中文能力的評測集",),
    paragraphs=(
        "一所大學的自然語言處理團隊今天宣布，釋出一套專門檢驗繁體中文能力的評測集，涵蓋法律、"
        "醫療與在地文化等題目，供開發大模型的新創公司免費使用。團隊表示，現有的評測多以英文或簡體"
        "中文為主，難以反映模型在台灣用語上的表現。",
        "負責計畫的教授指出，評測集以開源授權發布，題目由研究生與各領域專家共同撰寫，並定期更新，"
        "避免題目被模型在訓練時看過。團隊也公布了十餘個開源模型的初步成績，多數模型在在地文化題目上"
        "仍有明顯落差。",
        "業界人士認為，公開的評測工具能降低新創比較模型的成本，也讓採購單位在導入人工智能服務前，"
        "有共同的標準可以參考。團隊表示，下一步將加入需要大量算力的長文本題目。",
    ),
)


def crawl(settings: Path, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != faults.ENV}
    if crash_at:
        env[faults.ENV] = crash_at
    return subprocess.run([sys.executable, "-m", "crawler", "crawl", "--settings", str(settings)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)


def stories(corpus: Path) -> dict[int, str]:
    with sqlite3.connect(corpus) as db:
        return dict(db.execute("SELECT id, title FROM stories"))


def notify_toml(*tables: tuple[str, str, str]) -> str:
    return "".join(f'\n[[notify]]\nname = "{n}"\nurls = {json.dumps([u])}\n{extra}' for n, u, extra in tables)


def test_crawl_tells_each_new_story_once_across_runs_and_a_kill_9_mid_send(
        site: FixtureSite, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.db"
    with HookReceiver() as hook:
        settings = tmp_path / "settings.toml"
        settings.write_text(site.settings_toml(corpus) + "\n" + shipped_topics()
                            + notify_toml(("desk", hook.url(), "max_items = 100\n")), encoding="utf-8")
        killed = crawl(settings, crash_at="notify-sent:3")
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        assert len(hook.posts) == 3
        again = crawl(settings)  # nothing new to crawl; the pass sends the rest
        assert again.returncode == 0, again.stderr[-2000:]
        assert "notify desk:" in again.stdout
        told = stories(corpus)
        assert len(told) >= 10
        ids = hook.ids
        assert Counter(ids)[ids[2]] == 2 and len(ids) == len(told) + 1 and len(set(ids)) == len(told)
        assert {b["title"] for b in hook.bodies} == set(told.values())
        site.add_article(NEW_ARTICLE)
        third = crawl(settings)
        assert third.returncode == 0, third.stderr[-2000:]
        (new_story,) = set(stories(corpus)) - set(told)
        assert len(hook.posts) == len(told) + 2
        last = hook.bodies[-1]
        assert last["title"] == NEW_ARTICLE.title
        assert "island-atom" in last["message"] and NEW_ARTICLE.path in last["message"]
        article = one(corpus, "SELECT origin_article_id FROM stories WHERE id = ?", (new_story,))
        assert f"http://127.0.0.1:8001/corpus/articles/{article}" in last["message"]


def test_daemon_tells_each_story_once_and_digests_on_its_interval_across_restarts_and_kill_9(
        site: FixtureSite, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.db"
    with HookReceiver() as hook:
        targets = notify_toml(("desk", hook.url("/desk"), "max_items = 100\n"),
                              ("morning", hook.url("/digest"),
                               'mode = "digest"\ninterval_minutes = 0.25\nmax_items = 100\n'))
        settings = write_settings(site, tmp_path, f'[[schedules]]\nname = "clean"\n{EVERY_3S}'
                                                  f"sources = {CLEAN_SOURCES}\n" + targets)

        def posts(path: str) -> list[dict]:
            return [json.loads(p["body"]) for p in hook.posts if p["path"] == path]

        with DaemonProcess(settings) as d:  # first run, every story told, a digest every 15 s
            wait_until(lambda: ended_runs(corpus), "the first run", daemon=d)
            first = stories(corpus)
            wait_until(lambda: len(posts("/desk")) >= len(first), "a message per story", daemon=d)
            wait_until(lambda: posts("/digest"), "the first digest", timeout=90, daemon=d)
            assert d.terminate() == 0

        site.add_article(NEW_ARTICLE)
        site.add_article(SECOND_NEW)
        desk_before = len(posts("/desk"))
        with DaemonProcess(settings, env={faults.ENV: "notify-sent:1"}) as d:  # dies mid-send
            assert d.proc.wait(timeout=150) == -signal.SIGKILL, d.stderr()[-2000:]
        assert len(posts("/desk")) == desk_before + 1
        with DaemonProcess(settings) as d:  # start-up pass: the in-doubt message again, the other
            wait_until(lambda: len(posts("/desk")) >= desk_before + 3, "the rest after the kill", daemon=d)
            wait_until(lambda: any(len(set(stories(corpus)) - set(first)) == 2 and
                                   all(t in b["message"] for t in (NEW_ARTICLE.title, SECOND_NEW.title))
                                   for b in posts("/digest")), "the digest of the new stories",
                       timeout=90, daemon=d)
            assert d.terminate() == 0

    told = stories(corpus)
    assert len(told) == len(first) + 2
    desk = posts("/desk")
    counts = Counter(b["topicwatch_id"] for b in desk)
    assert len(counts) == len(told) and sum(counts.values()) == len(told) + 1
    (repeated,) = [i for i, n in counts.items() if n == 2]
    assert next(b["title"] for b in desk if b["topicwatch_id"] == repeated) in (NEW_ARTICLE.title, SECOND_NEW.title)
    digests = posts("/digest")
    listed = Counter(t for b in digests for t in told.values() if t in b["message"])
    assert set(listed) == set(told.values()) and set(listed.values()) == {1}  # each story in one digest
    assert len({b["topicwatch_id"] for b in digests}) == len(digests)  # no digest repeated
