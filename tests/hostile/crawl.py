"""One crawl over every hostile case, in a child process, and what it left in the corpus.

The child runs `scrapy crawl topicwatch` (the project's own entry point, with ingest) with the
loopback-only resolver of hostile/dns.py, and reports its own peak RSS and wall time when it
exits, so the memory figure is the crawl's alone.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .cases import ADDRESSES, FORBIDDEN, STORED, Expect, Suite, build, settings_toml, warm
from .server import HostileSite

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
CHILD = """
import json, resource, sys, time
from scrapy.cmdline import execute
start = time.monotonic()
code = 0
try:
    execute(["scrapy", "crawl", "topicwatch", "-s", "TOPICWATCH_SETTINGS=" + sys.argv[1],
             "-s", "TWISTED_DNS_RESOLVER=hostile.dns.LoopbackNames", "-s", "LOG_LEVEL=INFO"])
except SystemExit as exit:
    code = exit.code or 0
finally:
    with open(sys.argv[2], "w") as fh:
        json.dump({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "seconds": time.monotonic() - start, "exit": code}, fh)
"""


@dataclass
class Result:
    suite: Suite
    site: HostileSite
    corpus: Path
    returncode: int
    stderr: str
    peak_rss_mb: float
    seconds: float

    def rows(self, sql: str, *params: object) -> list[tuple]:
        with sqlite3.connect(self.corpus) as conn:
            return conn.execute(sql, params).fetchall()

    def outcomes(self, expect: Expect) -> set[str]:
        """Every outcome recorded for the expectation's path (and host): skip reasons, and
        `stored` when the corpus keeps that URL."""
        found = {reason for url, reason in self.rows("SELECT url, reason FROM skipped")
                 if _matches(url, expect)}
        kept = self.rows("SELECT url FROM articles UNION SELECT url FROM copies")
        if any(_matches(url, expect) for (url,) in kept):
            found.add(STORED)  # an article, or another URL of one (the suite's pages share text)
        return found

    def forbidden_hits(self) -> list:
        return [h for name in FORBIDDEN for h in self.site.hits(name)]


def _matches(url: str, expect: Expect) -> bool:
    parts = urlsplit(url)
    if expect.host and parts.hostname != ADDRESSES[expect.host]:
        return False
    return parts.path == expect.path


def expectations() -> list[Expect]:
    """Every case's expected outcome, listed without starting a server."""
    return build(HostileSite(ADDRESSES)).expects


def run(tmp: Path, timeout: float = 600) -> Result:
    """Start the servers, crawl them once in a child process, stop the servers."""
    site = HostileSite(ADDRESSES).start()
    try:
        suite = build(site)
        warm(site)
        settings = tmp / "settings.toml"
        settings.write_text(settings_toml(suite, str(tmp / "corpus.db")), encoding="utf-8")
        report = tmp / "report.json"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)])}
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", CHILD, str(settings), str(report)], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=timeout)
        figures = json.loads(report.read_text()) if report.exists() else {}
        return Result(suite, site, tmp / "corpus.db", proc.returncode, proc.stderr,
                      figures.get("peak_rss_mb", 0.0), figures.get("seconds", time.monotonic() - started))
    finally:
        site.stop()
