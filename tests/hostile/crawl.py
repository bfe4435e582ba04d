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
import threading
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
                   "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
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
    worker_peak_rss_mb: float = 0.0  # the largest worker process's peak (they run side by side)
    tree_peak_pss_mb: float = 0.0  # the crawl and its workers together, sampled (shared pages once)

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


class TreeMemory:
    """Samples, every 0.1 s, the memory of a process and its descendants together: their PSS
    (/proc/PID/smaps_rollup, Linux), which counts the pages forked workers share with the crawl
    once, where adding up RSS would count them once per process."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak_mb = 0.0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.done.is_set():
            self.peak_mb = max(self.peak_mb, sum(map(_pss_kb, _tree(self.pid))) / 1024)
            self.done.wait(0.1)

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parent = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            return next((int(line.split()[1]) for line in fh if line.startswith("Pss:")), 0)
    except (OSError, ValueError):
        return 0


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
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(settings), str(report)], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        tree = TreeMemory(proc.pid)
        try:
            _, stderr = proc.communicate(timeout=timeout)
        finally:
            tree.stop()
        figures = json.loads(report.read_text()) if report.exists() else {}
        return Result(suite, site, tmp / "corpus.db", proc.returncode, stderr,
                      figures.get("peak_rss_mb", 0.0), figures.get("seconds", time.monotonic() - started),
                      figures.get("worker_peak_rss_mb", 0.0), tree.peak_mb)
    finally:
        site.stop()
