"""Apply topics again to what is already stored: `topicwatch rematch`, and every crawl for its
own topics, so that a topic added or edited in settings.toml, or one a `--topic` crawl did not
try, reaches what was found before, without a single request.

- Stored articles: each one whose topic set (crawler/store/topicsets.py) lacks a topic, or holds
  another fingerprint for it, is matched with those topics again; its `topics`, `matched_terms`
  and `scores` are updated for them (entries of topics not being applied, a retired one for
  instance, are left as they are).  An article is never deleted, even when it matches nothing.
- Kept pages (crawler/store/unmatched.py): each one not yet tried with a topic is matched with
  it; one that matches now goes to the spool, in the same transaction as it leaves `unmatched`,
  and ingest stores it like any crawled page: canonical URL, content hash, near-duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlite_utils import Database

from crawler.config import Topic
from crawler.records import Article, Match, SpoolItem, Tested
from crawler.store import corpus, pages, topicsets, unmatched
from crawler.store.db import write_transaction
from crawler.store.spool import SqliteSpool
from crawler.topics import fingerprints, match_topics

BATCH = 200  # rows per transaction


@dataclass
class RematchStats:
    topics: list[str] = field(default_factory=list)  # the topics applied
    articles: int = 0  # stored articles matched again
    gained: int = 0  # ... of which now carry a topic they did not
    lost: int = 0  # ... of which lost a topic
    pages: int = 0  # kept pages matched again
    spooled: int = 0  # ... of which match now and went to the spool

    @property
    def tested(self) -> bool:
        return bool(self.articles or self.pages)


def apply_topics(db: Database, topics: Sequence[Topic], run_id: int | None = None,
                 everything: bool = False) -> RematchStats:
    """Match stored articles and kept pages with those of `topics` they were not tried with
    (with `everything`, with all of them)."""
    wanted = fingerprints(topics)
    stats = RematchStats()
    by_name = {t.name: t for t in topics}
    sets = topicsets.all_sets(db)
    spool = SqliteSpool(db)
    for table in ("articles", "unmatched"):
        for key in _keys(db, table, wanted, everything):
            todo = [by_name[n] for n in (wanted if everything else topicsets.missing(sets.get(key), wanted))]
            stats.topics += [t.name for t in todo if t.name not in stats.topics]
            if table == "articles":
                for chunk in _chunks(corpus.ids_in_topic_set(db, key)):
                    _rematch_articles(db, chunk, todo, sets.get(key), stats)
            else:
                for chunk in _chunks(unmatched.urls_in_set(db, key)):
                    _rematch_pages(db, spool, chunk, todo, sets.get(key), run_id, stats)
    return stats


def _keys(db: Database, table: str, wanted: Tested, everything: bool) -> list[str | None]:
    if everything:
        return corpus.topic_set_keys(db) if table == "articles" else unmatched.topic_set_keys(db)
    return topicsets.stale_keys(db, table, wanted)


def _chunks(items: list) -> list[list]:
    return [items[i:i + BATCH] for i in range(0, len(items), BATCH)]


def _rematch_articles(db: Database, ids: list[int], topics: list[Topic], tested: Tested | None,
                      stats: RematchStats) -> None:
    with write_transaction(db):
        key = topicsets.key_of(db, {**(tested or {}), **fingerprints(topics)})
        for row in corpus.rows_for_rematch(db, ids):
            article = Article(url=row["url"], source=row["source"], title=row["title"] or "",
                              text=row["text"] or "")
            before, after = _merge(row, match_topics(article, topics), [t.name for t in topics])
            corpus.set_topics(db, row["id"], after, key)
            stats.articles += 1
            stats.gained += bool(set(after["topics"]) - set(before))
            stats.lost += bool(set(before) - set(after["topics"]))


def _merge(row: dict, matches: tuple[Match, ...], applied: list[str]) -> tuple[list[str], dict]:
    """The article's topics before, and its topics / matched terms / scores after: entries of
    the applied topics replaced by the new matches, others kept; highest score first."""
    before = json.loads(row["topics"] or "[]")
    terms = {k: v for k, v in json.loads(row["matched_terms"] or "{}").items() if k not in applied}
    scores = {k: v for k, v in json.loads(row["scores"] or "{}").items() if k not in applied}
    kept = [t for t in before if t not in applied]
    for m in matches:
        terms[m.topic], scores[m.topic] = list(m.terms), m.score
    names = kept + [m.topic for m in matches]
    names.sort(key=lambda n: -float(scores.get(n, 0)))
    return before, {"topics": names, "matched_terms": terms, "scores": scores}


def _rematch_pages(db: Database, spool: SqliteSpool, urls: list[str], topics: list[Topic],
                   tested: Tested | None, run_id: int | None, stats: RematchStats) -> None:
    now_tested = {**(tested or {}), **fingerprints(topics)}
    with write_transaction(db):
        key = topicsets.key_of(db, now_tested)
        for article, _, kept_run in list(unmatched.load(db, urls)):
            stats.pages += 1
            matches = match_topics(article, topics)
            if not matches:
                unmatched.set_tested(db, article.url, key)
                pages.set_tested(db, article.url, key)
                continue
            spool.put(SpoolItem(article=article, matches=matches, run_id=run_id or kept_run,
                                tested=now_tested))
            unmatched.remove(db, article.url)
            stats.spooled += 1
