"""Ingest: drain the spool into the corpus, deduplicating as it goes.

For each spooled item, in one transaction:
1. the same URL or canonical URL already stored  -> a `copies` row (kind 'canonical') or nothing;
   a page claiming a stored article's URL with another text is its own article, and the
   page at a URL another page only claimed takes it back (`_reclaim`);
2. the same normalised text already stored       -> a `copies` row (kind 'exact');
3. otherwise a new article, its signature and LSH bands; the bands find a near-duplicate
   first seen within `[dedup] window_days`, whose story it joins, or it starts a new story;
and the spool row is deleted in that same transaction.  Ingesting twice adds nothing.

An item ingest meets a bug on (an exception that is not the database's) would roll back its
batch in every run and hold up every item after it: its savepoint is rolled back, and it is
set aside instead, out of the spool, recorded as a `processing-error` skip whose page is fetched
again in a later run, as a page whose extraction met a bug is (`Spool.set_aside`; the Redis
spool keeps it in `<items>:unreadable`).  A database error rolls back the whole batch, which
stays spooled.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from sqlite_utils import Database

from crawler import dedup, faults
from crawler.config import DedupSettings
from crawler.records import Outcome, SkipReason, SpoolItem
from crawler.store import corpus, lsh, pages, runs, topicsets
from crawler.store.db import now, write_transaction
from crawler.store.spool import Spool, SqliteSpool
from crawler.text.urls import canonical_url

log = logging.getLogger(__name__)

BATCH = 50  # spooled items ingested per transaction (the write lock is held ~0.3 s)
# a page claiming another article's URL as its canonical one is that article only when this
# alike (shingle Jaccard): print, AMP and mobile renderings of one text are far above it,
# two different stories far below (a lenient bar: wrong "copies" lose text, wrong articles
# only add a row)
SAME_PAGE_JACCARD = 0.5


@dataclass
class IngestStats:
    """What one `ingest` call did (the runs table holds the per-run counts)."""

    new: int = 0
    duplicates: int = 0
    set_aside: int = 0  # items a bug was met on: not stored, their pages fetched again later

    def summary(self) -> str:
        """"3 new, 1 duplicates", and what was set aside when anything was."""
        aside = f", {self.set_aside} set aside (a bug met on them: see `skipped`)" if self.set_aside else ""
        return f"{self.new} new, {self.duplicates} duplicates{aside}"


class Ingester:
    """Ingests spooled items into the corpus.  The near-duplicate index is the corpus's own
    `lsh_bands` table (crawler/store/lsh.py), written in each article's transaction and read
    by index probes, so an Ingester holds no index: a new process, the daemon's long-lived one
    and a concurrent `topicwatch crawl` all see the same, complete index.

    `clock` gives the `first_seen` time of what is stored (UTC ISO 8601, default: now); a
    benchmark that builds months of corpus in minutes passes its own.  Near-duplicate
    candidates are the articles first seen within `[dedup] window_days` of that time."""

    def __init__(self, db: Database, dedup_settings: DedupSettings, clock: Callable[[], str] = now):
        self.db = db
        self.settings = dedup_settings
        self.clock = clock
        self.near = dedup.NearDup(dedup_settings.near_threshold, dedup_settings.num_perm,
                                  dedup_settings.shingle_size)
        self._ensure_bands()

    def _ensure_bands(self) -> None:
        """Rebuild `lsh_bands` if it follows another banding than these settings' (another
        `near_threshold` or `num_perm`, now or since another process last rebuilt it)."""
        if lsh.stored_shape(self.db) != self.near.shape:
            with write_transaction(self.db):
                lsh.ensure_shape(self.db, self.near)

    def ingest(self, spool: Spool | None = None,
               progress: Callable[[IngestStats], None] | None = None) -> IngestStats:
        spool = spool or SqliteSpool(self.db)
        self._ensure_bands()
        stats = IngestStats()
        while batch := spool.pending(BATCH):
            # one commit per batch, each item in its own savepoint: a commit writes every page
            # the item touched (articles, full-text index, bands), 1.6 ms of a crawl's process
            # per article; a kill leaves the whole batch in the spool, to be ingested again
            try:
                with write_transaction(self.db):
                    for key, item in batch:
                        self._ingest_one(spool, key, item, stats)
                        faults.reached("ingest")
                        if progress:
                            progress(stats)
            except BaseException:
                # nothing of the batch is stored: a spool that acknowledges removals after the
                # commit (the Redis one) must forget them, and hand the batch out again
                spool.rolled_back()
                raise
        return stats

    def _ingest_one(self, spool: Spool, key: int | str, item: SpoolItem, stats: IngestStats) -> None:
        try:
            with write_transaction(self.db):  # a savepoint inside the batch's transaction
                outcome = self._store(item)
                spool.remove(key)
                self._count(item, outcome)
                pages.record_page(self.db, item.article.url, "article", item.article.source,
                                  status=200, outcome=Outcome.COPY if outcome == "copy" else Outcome.STORED,
                                  run_id=item.run_id)
        except (sqlite3.Error, MemoryError):
            raise  # the database or the machine: the whole batch waits for the next try
        except Exception as e:  # a bug met on this item: it would stop its batch in every run
            self._set_aside(spool, key, item, e)
            stats.set_aside += 1
            return
        if outcome == "stored":
            stats.new += 1
        elif outcome == "copy":
            stats.duplicates += 1

    def _set_aside(self, spool: Spool, key: int | str, item: SpoolItem, error: Exception) -> None:
        """Out of the spool, not stored (its savepoint rolled back), recorded as a
        `processing-error` skip; its page is fetched again in a later run, as a page whose
        extraction met a bug is."""
        a = item.article
        detail = f"ingest: {type(error).__name__}: {error}"[:300]
        log.error("ingesting %s failed (%s); set aside, to be fetched again", a.url, detail,
                  exc_info=error)
        with write_transaction(self.db):
            spool.set_aside(key, detail)
            pages.record_skipped(self.db, a.url, a.source, SkipReason.PROCESSING_ERROR,
                                 detail=detail, run_id=item.run_id)
            pages.record_page(self.db, a.url, "article", a.source, status=200,
                              outcome=Outcome.RETRY, run_id=item.run_id)

    def _store(self, item: SpoolItem) -> str:
        a = item.article
        canon = canonical_url(a.url, a.canonical_url)
        # the worker that extracted the text computed its keys, when it had these settings
        content_hash, sig = self.near.known(item.dedup_keys) or (dedup.content_hash(a.text), None)
        existing = corpus.find_article_by_url(self.db, canon, a.url, item.requested_url)
        if existing is not None and canon != canonical_url(a.url) and corpus.find_article_by_url(
                self.db, a.url, item.requested_url) is None:
            # only its declared canonical names that article: the same page elsewhere (print,
            # AMP, mobile) has its text; a template that names one article on every page
            # (og:url of the day's lead story) does not, and would swallow the site
            sig = sig if sig is not None else self.near.signature(a.text)
            if not self._same_page(existing, content_hash, sig):
                # its own URL, cleaned, may be stored already (reached with other tracking)
                canon = canonical_url(a.url)
                existing = corpus.find_article_by_url(self.db, canon)
        elif existing is not None and canon == canonical_url(a.url):
            existing, sig, adopted = self._reclaim(existing, canon, content_hash, item, sig)
            if adopted:
                return "copy"
        if existing is not None:
            return self._copy(item, existing, "canonical")
        existing = corpus.find_article_by_hash(self.db, content_hash)
        if existing is not None:
            return self._copy(item, existing, "exact")
        sig = sig if sig is not None else self.near.signature(a.text)
        keys = self.near.keys(sig)
        seen = self.clock()
        story = self._story_for(sig, keys, seen)
        row = {**self._row(item, canon, content_hash, seen),
               "topic_set": topicsets.key_of(self.db, item.tested)}
        article_id = corpus.insert_article(self.db, row)
        corpus.save_signature(self.db, article_id, dedup.sig_to_bytes(sig))
        lsh.add(self.db, article_id, keys)
        if story is None:
            story = corpus.new_story(self.db, article_id, a.title, seen)
        corpus.set_story(self.db, article_id, story)
        return "stored"

    def _reclaim(self, holder: int, url: str, content_hash: str, item: SpoolItem,
                 sig: dedup.Signature | None) -> tuple[int | None, dedup.Signature | None, bool]:
        """The page at `url` itself, while the article `holder` holds `url` only because its
        own page declared it (a template naming the day's lead story on every page, fetched
        before the lead story, or its own print version): the page at the URL decides. When it
        shows the holder's text it becomes the holder's page (`_adopt`: the third value says
        so); otherwise the holder goes back to its own URL and (None, signature) says to store
        this page as the article at `url`."""
        own_url, held = corpus.urls_of(self.db, holder)
        own = canonical_url(own_url)
        if held != url or own == url:
            return holder, sig, False
        sig = sig if sig is not None else self.near.signature(item.article.text)
        if self._same_page(holder, content_hash, sig):
            return holder, sig, self._adopt(holder, item)
        if corpus.find_article_by_url(self.db, own) not in (None, holder):
            return holder, sig, False  # its own URL is another article's: left as it was
        corpus.set_canonical_url(self.db, holder, own)
        return None, sig, False

    def _adopt(self, article_id: int, item: SpoolItem) -> bool:
        """The page of `item`, at the URL the article only claimed (its print or AMP version,
        fetched first, declared it canonical), shows the article's text: it becomes the
        article's page: its URL, and its title, author, date, site and description where it has them
        (the page a print version was made from has its byline); the page that claimed it
        becomes its copy.  Whichever of the two a crawl's workers finish first, the corpus
        ends the same.  False when the page's URL is another article's or a copy's."""
        a = item.article
        own_url, source, title = corpus.page_of(self.db, article_id)
        if not corpus.url_is_free(self.db, a.url, article_id):
            return False
        corpus.adopt_page(self.db, article_id, a.url, {
            "title": a.title, "author": a.author, "published": a.published,
            "published_day": a.published[:10] if a.published else None, "site_name": a.site_name,
            "description": a.description, "original_source": a.original_source})
        corpus.insert_copy(self.db, url=own_url, source=source, article_id=article_id,
                           kind="canonical", title=title, run_id=item.run_id, first_seen=self.clock())
        return True

    def _same_page(self, article_id: int, content_hash: str, sig: dedup.Signature) -> bool:
        """Whether a page whose declared canonical URL is that of `article_id` shows its text
        (same hash, or estimated Jaccard ≥ SAME_PAGE_JACCARD); yes when it cannot be told."""
        if corpus.find_article_by_hash(self.db, content_hash) == article_id:
            return True
        blob = corpus.signature_of(self.db, article_id)
        similarity = None if blob is None else self.near.similarity(sig, blob)
        return similarity is None or similarity >= SAME_PAGE_JACCARD

    def _copy(self, item: SpoolItem, article_id: int, kind: str) -> str:
        """Record a copy; "known" when this very URL is already the article or a copy."""
        a = item.article
        if not corpus.insert_copy(self.db, url=a.url, source=a.source, article_id=article_id,
                                  kind=kind, title=a.title, run_id=item.run_id,
                                  first_seen=self.clock()):
            return "known"
        return "copy"

    def near_duplicates(self, sig: dedup.Signature, seen: str,
                        keys: list[tuple[int, int]] | None = None) -> list[tuple[int, float]]:
        """(article id, estimated Jaccard) of the stored near-duplicates of a signature first
        seen within `[dedup] window_days` before `seen`, the most similar first: the articles
        sharing a band (index probes in `lsh_bands`), verified on the whole signature."""
        keys = self.near.keys(sig) if keys is None else keys
        found = lsh.candidates(self.db, keys, window_start(seen, self.settings.window_days))
        return self.near.verify(sig, found)

    def _story_for(self, sig: dedup.Signature, keys: list[tuple[int, int]], seen: str) -> int | None:
        """The story of the most similar near-duplicate first seen within the window, if any."""
        for candidate, _ in self.near_duplicates(sig, seen, keys):
            story = corpus.story_of(self.db, candidate)
            if story:
                return story
        return None

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


def window_start(seen: str, days: float) -> str | None:
    """The earliest `first_seen` (same ISO 8601 form as `seen`) of a near-duplicate candidate
    for an article seen at `seen`; None when the window is 0 (no limit)."""
    if not days:
        return None
    start = dt.datetime.fromisoformat(seen) - dt.timedelta(days=days)
    return start.isoformat(timespec="seconds")
