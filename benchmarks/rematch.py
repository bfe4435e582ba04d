"""How long applying changed topics takes, and what keeping off-topic pages costs on disk.

    .venv/bin/python benchmarks/rematch.py [--articles 5000] [--pages 5000] [--settings settings.toml]

Builds a corpus in a temporary folder with `--articles` stored articles and `--pages` kept
off-topic pages (texts of tests/topicset/labelled.jsonl, repeated to about 2,000 characters, a
typical news story), then times `crawler.store.rematch.apply_topics` with the topics of the
settings file, as `topicwatch rematch --all` (every row, every topic) and as a crawl after one
topic was added (every row, one topic), and prints rows per second and the bytes a kept page
takes in `unmatched` against the size of its text.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler.config import load_settings  # noqa: E402
from crawler.records import Article  # noqa: E402
from crawler.store import corpus, rematch, unmatched  # noqa: E402
from crawler.store.db import open_db, write_transaction  # noqa: E402

TARGET_CHARS = 2000


def texts() -> list[tuple[str, str]]:
    """(title, text): each labelled text followed by the next ones of the same script until
    about TARGET_CHARS (different paragraphs, so compression sees no repeats)."""
    rows = [json.loads(line) for line in (ROOT / "tests/topicset/labelled.jsonl").read_text(encoding="utf-8").splitlines()]
    out = []
    for i, r in enumerate(rows):
        same = [x["text"] for x in rows[i:] + rows[:i] if x["script"] == r["script"]]
        parts, size = [], 0
        for t in same:
            if size >= TARGET_CHARS:
                break
            parts.append(t)
            size += len(t)
        out.append((r["title"], "\n".join(parts)))
    return out


def build(db, n_articles: int, n_pages: int) -> int:
    """Articles with no topic set (as if matched by other topics) and kept pages; returns the
    total size of the kept pages' texts."""
    pool, raw = texts(), 0
    with write_transaction(db):
        for i in range(n_articles):
            title, text = pool[i % len(pool)]
            corpus.insert_article(db, {"url": f"http://a/{i}", "canonical_url": f"http://a/{i}",
                                       "source": "s", "title": title, "text": text, "topics": "[]",
                                       "matched_terms": "{}", "scores": "{}", "content_hash": str(i),
                                       "first_seen": "2026-01-01T00:00:00+00:00"})
        for i in range(n_pages):
            title, text = pool[i % len(pool)]
            unmatched.keep(db, Article(url=f"http://p/{i}", source="s", title=title, text=text), {}, None)
            raw += len(text.encode())
    return raw


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=5000)
    ap.add_argument("--pages", type=int, default=5000)
    ap.add_argument("--settings", default=str(ROOT / "settings.toml"))
    args = ap.parse_args()
    topics = load_settings(args.settings).topics
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "corpus.db")
        raw = build(db, args.articles, args.pages)
        stored = db.execute("SELECT sum(length(article)) FROM unmatched").fetchone()[0] or 0
        print(f"kept pages: {stored / max(args.pages, 1):,.0f} bytes each in `unmatched`, "
              f"text {raw / max(args.pages, 1):,.0f} bytes (UTF-8): {stored / max(raw, 1):.0%}")
        rows = args.articles + args.pages
        start = time.perf_counter()
        stats = rematch.apply_topics(db, topics[:1])
        one = time.perf_counter() - start
        print(f"one topic added ({topics[0].name}): {stats.articles} articles + {stats.pages} pages "
              f"in {one:.1f} s ({rows / one:,.0f} rows/s)")
        start = time.perf_counter()
        stats = rematch.apply_topics(db, topics, everything=True)
        every = time.perf_counter() - start
        print(f"rematch --all ({len(topics)} topics): {stats.articles} articles + {stats.pages} pages "
              f"in {every:.1f} s ({rows / every:,.0f} rows/s); {stats.spooled} pages matched")
        start = time.perf_counter()
        stats = rematch.apply_topics(db, topics)
        print(f"nothing changed: {time.perf_counter() - start:.3f} s (tested: {stats.tested})")


if __name__ == "__main__":
    main()
