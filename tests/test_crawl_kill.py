"""A crawl killed at any moment leaves a consistent database, and the next run picks up what
the killed one had not stored."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixturesite import FixtureSite, manifest, shipped_topics
from test_e2e_crawl import ROOT, crawl

pytestmark = pytest.mark.slow


def start_crawl(settings: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "crawler", "crawl", "--settings", str(settings)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def spooled_or_stored(db_path: Path) -> int:
    """Items spooled or stored so far; -1 before the crawl has started its run."""
    if not db_path.exists():
        return -1
    with sqlite3.connect(db_path, timeout=30) as db:
        try:
            if not db.execute("SELECT count(*) FROM runs").fetchone()[0]:
                return -1
            return db.execute("SELECT (SELECT count(*) FROM spool) + (SELECT count(*) FROM articles)").fetchone()[0]
        except sqlite3.OperationalError:
            return -1


def mid_crawl(site: FixtureSite, db_path: Path, items: int) -> bool:
    """The moment to kill: with 0, as soon as the server saw the crawl's first request
    (robots.txt and feeds in flight); else once `items` are spooled or stored."""
    if items == 0:
        return bool(site.requests)
    return spooled_or_stored(db_path) >= items


@pytest.mark.parametrize("kill_after_items", [0, 2, 6])
def test_kill_9_mid_crawl_then_rerun_completes_without_duplicates(tmp_path, kill_after_items):
    with FixtureSite(slow_seconds=5.0) as site:
        settings = tmp_path / "settings.toml"
        db_path = tmp_path / "corpus.db"
        settings.write_text(site.settings_toml(db_path) + "\n" + shipped_topics(), encoding="utf-8")
        proc = start_crawl(settings)
        deadline = time.monotonic() + 120
        while not mid_crawl(site, db_path, kill_after_items) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the crawl ended before the kill"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL

        with sqlite3.connect(db_path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            killed = db.execute("SELECT status FROM runs WHERE id = 1").fetchone()[0]
            assert killed == "running"  # nothing got to say otherwise

        done = crawl(settings)
        assert done.returncode == 0, done.stderr[-2000:]
        expected = {site.url(e.host, e.path) for e in manifest.expect("article") + manifest.expect("copy")}

    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT status FROM runs WHERE id = 1").fetchone()[0] == "interrupted"
        urls = [r[0] for r in db.execute("SELECT url FROM articles UNION ALL SELECT url FROM copies")]
        assert len(urls) == len(set(urls))
        assert set(urls) == expected
        assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == len(manifest.expect("article"))
        assert db.execute("SELECT count(*) FROM spool").fetchone()[0] == 0
