"""Ingest: drain the spool into the corpus, deduplicating as it goes.

For each spooled item, in one transaction:
1. the same URL or canonical URL already stored  -> a `copies` row (kind 'canonical') or nothing;
2. the same normalised text already stored       -> a `copies` row (kind 'exact');
3. otherwise a new article; MinHash LSH finds a near-duplicate, whose story it joins, or it
   starts a new story;
and the spool row is deleted in that same transaction.  Ingesting twice adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlite_utils import Database

from crawler import dedup, faults
from crawler.config import DedupSettings
from crawler.records import Outcome, SpoolItem
from crawler.store import corpus, pages, runs, topicsets
from crawler.store.db import now, write_transaction
from crawler.store.spool import Spool, SqliteSpool
from crawler.text.urls import canonical_url


@dataclass
class IngestStats:
    """What one `ingest` call did (the runs table holds the per-run counts)."""

    new: int = 0
    duplicates: int = 0


class Ingester:
    """Holds the near-duplicate index for the life of a process (the daemon keeps one).

    `clock` gives the `first_seen` time of what is stored (UTC ISO 8601, default: now); a
    benchmark that builds months of corpus in minutes passes its own."""

    def __init__(self, db: Database, dedup_settings: DedupSettings, clock: Callable[[], str] = now):
        self.db = db
        self.settings = dedup_settings
        self.clock = clock
        self._index: dedup.NearDupIndex | None = None

    @property
    def index(self) -> dedup.NearDupIndex:
        """The LSH index, rebuilt from the `minhashes` table the first time a new article
        needs it (seconds and ~11 KB per article at 200,000 articles), so an ingest that
        finds only known URLs and copies never pays for it."""
        if self._index is None:
            self._index = dedup.NearDupIndex.from_signatures(
                corpus.signatures(self.db),
                threshold=self.settings.near_threshold,
                num_perm=self.settings.num_perm,
                shingle_size=self.settings.shingle_size,
            )
        return self._index

    def ingest(self, spool: Spool | None = None,
               progress: Callable[[IngestStats], None] | None = None) -> IngestStats:
        spool = spool or SqliteSpool(self.db)
        stats = IngestStats()
        while batch := spool.pending(100):
            for key, item in batch:
                self._ingest_one(spool, key, item, stats)
                faults.reached("ingest")
                if progress:
                    progress(stats)
        return stats

    def _ingest_one(self, spool: Spool, key: int | str, item: SpoolItem, stats: IngestStats) -> None:
        added: tuple[int, object] | None = None
        with write_transaction(self.db):
            outcome, added = self._store(item)
            spool.remove(key)
            self._count(item, outcome)
            pages.record_page(self.db, item.article.url, "article", item.article.source,
                              status=200, outcome=Outcome.COPY if outcome == "copy" else Outcome.STORED,
                              run_id=item.run_id)
        if added:
            self.index.add(*added)
        if outcome == "stored":
            stats.new += 1
        elif outcome == "copy":
            stats.duplicates += 1

    def _store(self, item: SpoolItem) -> tuple[str, tuple[int, object] | None]:
        a = item.article
        canon = canonical_url(a.url, a.canonical_url)
        existing = corpus.find_article_by_url(self.db, canon, a.url, item.requested_url)
        if existing is not None:
            return self._copy(item, existing, "canonical"), None
        content_hash = dedup.content_hash(a.text)
        existing = corpus.find_article_by_hash(self.db, content_hash)
        if existing is not None:
            return self._copy(item, existing, "exact"), None
        sig = self.index.signature(a.text)
        seen = self.clock()
        row = {**self._row(item, canon, content_hash, seen),
               "topic_set": topicsets.key_of(self.db, item.tested)}
        article_id = corpus.insert_article(self.db, row)
        corpus.save_signature(self.db, article_id, dedup.sig_to_bytes(sig))
        corpus.set_story(self.db, article_id, self._story_for(sig, article_id, a.title, seen))
        return "stored", (article_id, sig)

    def _copy(self, item: SpoolItem, article_id: int, kind: str) -> str:
        """Record a copy; "known" when this very URL is already the article or a copy."""
        a = item.article
        if not corpus.insert_copy(self.db, url=a.url, source=a.source, article_id=article_id,
                                  kind=kind, title=a.title, run_id=item.run_id,
                                  first_seen=self.clock()):
            return "known"
        return "copy"

    def _story_for(self, sig: object, article_id: int, title: str, seen: str) -> int:
        for candidate in self.index.query(sig):
            story = corpus.story_of(self.db, candidate)
            if story:
                return story
        return corpus.new_story(self.db, article_id, title, seen)

    @staticmethod
    def _row(item: SpoolItem, canon: str, content_hash: str, seen: str) -> dict:
        a = item.article
        return {
            "url": a.url, "canonical_url": canon, "source": a.source, "title": a.title,
            "author": a.author, "published": a.published,
            "published_day": a.published[:10] if a.published else None,
            "language": a.language, "script": a.script, "site_name": a.site_name,
            "description": a.description, "original_source": a.original_source, "text": a.text,
            "topics": json.dumps([m.topic for m in item.matches], ensure_ascii=False),
            "matched_terms": json.dumps({m.topic: list(m.terms) for m in item.matches}, ensure_ascii=False),
            "scores": json.dumps({m.topic: m.score for m in item.matches}),
            "content_hash": content_hash, "first_seen": seen, "run_id": item.run_id,
        }

    def _count(self, item: SpoolItem, outcome: str) -> None:
        """Bump the run's counters inside the item's transaction, so they stay exact."""
        if item.run_id is None or outcome not in ("stored", "copy"):
            return
        if outcome == "stored":
            runs.add_new_article(self.db, item.run_id, item.article.source)
        else:
            runs.add_run_counts(self.db, item.run_id, {"duplicates": 1})
