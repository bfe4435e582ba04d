"""What one crawl shares between its spider, pipelines and extensions."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlite_utils import Database

from crawler import dedup, health, store
from crawler.config import Settings, Source, Topic
from crawler.records import RunStats
from crawler.spool import SqliteSpool

log = logging.getLogger(__name__)


@dataclass
class Validators:
    kind: str
    source: str
    status: int
    etag: str | None
    last_modified: str | None


@dataclass
class CrawlContext:
    """One crawl's state: settings, the corpus connection, counters and URL memory."""

    settings: Settings
    sources: tuple[Source, ...]
    topics: tuple[Topic, ...]
    db: Database
    run_id: int
    spool: SqliteSpool
    stats: RunStats = field(default_factory=RunStats)
    known: set[str] = field(default_factory=set)
    # feed/sitemap/listing validators, stored only when everything under them went through
    validators: dict[str, Validators] = field(default_factory=dict)
    failed_parents: set[str] = field(default_factory=set)
    requested: dict[str, int] = field(default_factory=dict)  # article requests per source
    on_progress: Callable[[RunStats], None] | None = None

    @classmethod
    def open(cls, settings: Settings, source_names=(), topic_names=(), run_id: int | None = None,
             trigger: str = "crawl") -> CrawlContext:
        sources = settings.select_sources(source_names)
        topics = settings.select_topics(topic_names)
        db = store.open_db(settings.corpus_path)
        health.refresh_source_settings(db, settings)  # thresholds for the source_health view
        store.mark_interrupted_runs(db)
        if run_id is None:
            run_id = store.start_run(db, trigger, [s.name for s in sources], pid=os.getpid())
        else:
            db.execute("UPDATE runs SET pid = ? WHERE id = ?", [os.getpid(), run_id])
        ctx = cls(settings=settings, sources=sources, topics=topics, db=db, run_id=run_id,
                  spool=SqliteSpool(db))
        ctx.known = store.known_article_urls(db)
        return ctx

    def source(self, name: str) -> Source:
        return next(s for s in self.sources if s.name == name)

    def is_known(self, url: str) -> bool:
        return url in self.known or dedup.canonical_url(url) in self.known

    def remember(self, url: str) -> None:
        self.known.add(url)

    def bump(self, counter: str, source: str | None = None, n: int = 1) -> None:
        self.stats.bump(counter, source, n)
        if self.on_progress:
            self.on_progress(self.stats)

    def mark_source(self, source: str, ok: bool) -> None:
        """A feed/sitemap/listing fetch of `source` went through (or 304) or failed."""
        counters = self.stats.per_source.setdefault(source, {})
        key = "source_ok" if ok else "source_errors"
        counters[key] = counters.get(key, 0) + 1

    def skip(self, url: str, source: str | None, reason: str, *, detail: str | None = None,
             status: int | None = None, outcome: str | None = None, counter: str = "skipped") -> None:
        """Record a page that was not stored, with its reason, and count it."""
        store.record_skipped(self.db, url, source, reason, detail=detail, status=status, run_id=self.run_id)
        if outcome:
            store.record_page(self.db, url, "article", source, status=status, outcome=outcome, run_id=self.run_id)
        self.bump(counter, source)

    def close(self, finished: bool) -> None:
        """Write counters, per-source results and (on a clean finish) the validators."""
        if finished:
            for url, v in self.validators.items():
                if url not in self.failed_parents:
                    store.record_page(self.db, url, v.kind, v.source, status=v.status, outcome="ok",
                                      run_id=self.run_id, etag=v.etag, last_modified=v.last_modified)
        store.add_run_counts(self.db, self.run_id, {k: v for k, v in self.stats.as_row().items()
                                                      if k not in ("new", "duplicates")})
        for src in self.sources:
            c = self.stats.per_source.get(src.name, {})
            ok = bool(c.get("source_ok")) or not c.get("source_errors")
            store.record_source_run(self.db, self.run_id, src.name, c, ok=ok)
