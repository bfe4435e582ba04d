"""Near-duplicate lookup and ingest at 10,000, 100,000 and 1,000,000 articles, on a real corpus
file whose LSH bands live in SQLite (`lsh_bands`, crawler/store/lsh.py).

    .venv/bin/python benchmarks/lsh_lookup.py [--sizes 10000,100000,1000000] [--probes 1000]
                                              [--ingest 500] [--dir /tmp] [--keep]

For each size:

1. **Fill** (not measured): a new corpus file is made by the project's `open_db` (the real
   schema, every migration), then filled by bulk inserts of synthetic articles: a short
   `articles` row (first seen spread over the 365 days before the ingest clock), its
   `articles_fts` row (a title of a few words), its signature in `minhashes` and its bands in
   `lsh_bands`, computed by the project's own `crawler.dedup.band_keys` and inserted in
   primary-key order.  Signatures are generated directly: each copies every value from one of 2,000
   "topic" centres with probability 0.3 (same-topic articles agree on ~9% of their values,
   like two different articles on one story), the others are the minimum of k uniform values,
   k = 300..3,000 shingles.  Near copies of `--probes` stored articles are planted for the
   measurement (25% of their values redrawn: estimated Jaccard ~0.75, an edited repost).
   The file is then synced to disk (a corpus that grew over months has no gigabyte of dirty
   pages waiting for the first checkpoint's fsync).
2. **Measure**, in a fresh process (nothing warm but the OS page cache):
   - start-up: `open_db` + `Ingester(...)` + the first lookup (imports are timed apart);
   - lookup p50 / p95 over the planted near copies and as many new signatures, through
     `Ingester.near_duplicates` (band probes in SQLite + verification on the whole signature),
     with the default `[dedup] window_days` (30): the lookup ingest does for each new article;
   - recall: share of planted copies that find their original, with `window_days = 0` (all
     of them, whatever their age; those lookups' p95 is printed as `p95 w=0`) and with the default window (those first seen in the last 30
     days; originals older than that must not be found: `leaked`);
   - ingest rate: `--ingest` generated Chinese articles (~1,500 characters each, all new
     texts) spooled, then drained by the project's `Ingester.ingest()`: per article, in one
     transaction, the URL and content-hash lookups, the MinHash signature, the band lookup,
     the `articles` row, its FTS row (bigram index of the whole text), `article_topics`,
     `article_counts`, `minhashes`, 32 `lsh_bands` rows, its story, its `pages` row and the
     spool row's deletion; one commit per article (WAL, synchronous=NORMAL); ingested in
     batches of 100, the median and best batch's rate printed (the machine may be shared);
   - RSS: the measuring process's peak (VmHWM) after lookups and after ingest;
   - file size: the corpus file (+ WAL) after the fill, and `lsh_bands`'s share (dbstat).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

T_START = time.perf_counter()

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOPICS, SHARE, EDIT = 2_000, 0.3, 0.25
CHUNK = 50_000
INGEST_BATCH = 100
END = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)  # the ingest clock; the corpus spans the year before
SPAN_DAYS = 365


def iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def first_seen(ids: np.ndarray, n: int) -> list[str]:
    start = END - dt.timedelta(days=SPAN_DAYS)
    return [iso(start + dt.timedelta(days=SPAN_DAYS * (i - 1) / n)) for i in ids.tolist()]


def random_values(rng: np.random.Generator, n: int, num_perm: int) -> np.ndarray:
    """Minimum of k uniform 32-bit values per permutation, k = shingles of each article."""
    k = rng.integers(300, 3_000, size=(n, 1))
    u = rng.random((n, num_perm))
    return np.minimum((1 - (1 - u) ** (1 / k)) * 2**32, 2**32 - 2).astype(np.uint32)


def synthetic(rng: np.random.Generator, centres: np.ndarray, n: int) -> np.ndarray:
    values = random_values(rng, n, centres.shape[1])
    copy = rng.random(values.shape) < SHARE
    topic = rng.integers(0, len(centres), size=n)
    values[copy] = centres[topic][copy]
    return values


def near_copies(rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
    out = values.copy()
    redraw = rng.random(values.shape) < EDIT
    out[redraw] = random_values(rng, len(values), values.shape[1])[redraw]
    return out


# ------------------------------------------------------------------------------------ fill

def fill(path: Path, n: int, probes: int, rng: np.random.Generator) -> dict:
    """A real corpus of `n` synthetic articles; returns the planted probes' data."""
    from crawler.config import DedupSettings
    from crawler.dedup import NearDup, Signature, band_keys, sig_to_bytes
    from crawler.store import lsh
    from crawler.store.db import open_db

    d = DedupSettings()
    near = NearDup(d.near_threshold, d.num_perm, d.shingle_size)
    open_db(path).close()  # the real schema, every migration
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -400000")
    centres = random_values(rng, TOPICS, d.num_perm)
    planted = np.sort(rng.choice(np.arange(1, n + 1), size=probes, replace=False))
    planted_values = np.empty((probes, d.num_perm), dtype=np.uint32)
    header = sig_to_bytes(Signature.of(centres[0], d.shingle_size))[: -4 * d.num_perm]
    keys = np.empty((n, near.bands), dtype=np.int64)
    words = [f"w{i}" for i in range(5_000)]
    db.execute("BEGIN")
    db.execute("INSERT INTO stories (id, origin_article_id, title, first_seen, last_seen, n_articles, "
               "n_sources) VALUES (1, 1, 'synthetic', ?, ?, 1, 1)", [iso(END), iso(END)])
    for start in range(1, n + 1, CHUNK):
        ids = np.arange(start, min(start + CHUNK, n + 1))
        values = synthetic(rng, centres, len(ids))
        at = np.searchsorted(planted, ids[0]), np.searchsorted(planted, ids[-1], side="right")
        planted_values[at[0]:at[1]] = values[planted[at[0]:at[1]] - ids[0]]
        keys[ids - 1] = band_keys(values, near.bands, near.rows)
        seen = first_seen(ids, n)
        title_words = rng.integers(0, len(words), size=(len(ids), 6)).tolist()
        db.executemany(
            "INSERT INTO articles (id, url, canonical_url, source, title, text, topics, content_hash, "
            "story_id, first_seen) VALUES (?, ?, ?, ?, ?, ?, '[]', ?, 1, ?)",
            [(i, f"https://bulk.test/{i}", f"https://bulk.test/{i}", f"src{i % 50}", f"t{i}", f"t{i}",
              f"h{i}", s) for i, s in zip(ids.tolist(), seen, strict=True)])
        db.executemany("INSERT INTO articles_fts (rowid, title, text) VALUES (?, ?, '')",
                       [(i, " ".join(words[w] for w in ws)) for i, ws in zip(ids.tolist(), title_words, strict=True)])
        db.executemany("INSERT INTO minhashes (article_id, signature) VALUES (?, ?)",
                       [(i, header + v.tobytes()) for i, v in zip(ids.tolist(), values, strict=True)])
    ids = np.arange(1, n + 1)
    buckets = ids >> lsh.BUCKET_BITS
    for bucket in np.unique(buckets).tolist():  # in primary-key order: appends, not random inserts
        block = np.flatnonzero(buckets == bucket)
        for band in range(near.bands):
            order = block[np.argsort(keys[block, band], kind="stable")]
            db.executemany("INSERT OR IGNORE INTO lsh_bands (bucket, band, hash, article_id) VALUES (?, ?, ?, ?)",
                           zip([bucket] * len(order), [band] * len(order), keys[order, band].tolist(),
                               ids[order].tolist(), strict=True))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    bands_bytes = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name = 'lsh_bands'").fetchone()[0]
    db.close()
    return {"planted": planted, "copies": near_copies(rng, planted_values),
            "fresh": synthetic(rng, centres, probes), "bands_bytes": bands_bytes}


# --------------------------------------------------------------------------------- measure

def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def generated_articles(rng: np.random.Generator, count: int, run: str) -> list:
    from crawler.records import Article, Match, SpoolItem

    han = [chr(c) for c in range(0x4E00, 0x4E00 + 3_000)]
    items = []
    for i in range(count):
        text = "".join(rng.choice(han, 1_500)) + "大模型"
        article = Article(url=f"https://new.test/{run}/{i}", source=f"new{i % 10}", title=f"新文章 {i}",
                          text=text, published="2026-05-31T10:00:00+08:00", language="zh",
                          script="zh-Hans")
        items.append(SpoolItem(article=article, matches=(Match("large-models", 3.0, ("大模型",)),)))
    return items


def measure(path: Path, probes_file: Path, ingest_count: int) -> dict:
    from crawler.config import DedupSettings
    from crawler.dedup import Signature
    from crawler.store.db import open_db
    from crawler.store.ingest import Ingester
    from crawler.store.spool import SqliteSpool
    imports_s = time.perf_counter() - T_START

    data = np.load(probes_file)
    d = DedupSettings()
    seen = iso(END)
    t = time.perf_counter()
    db = open_db(path)
    ingester = Ingester(db, d, clock=lambda: seen)
    copies = [Signature.of(v, d.shingle_size) for v in data["copies"]]
    first = ingester.near_duplicates(copies[0], seen)
    startup_s = time.perf_counter() - t

    times, found = [], []
    for sig in copies + [Signature.of(v, d.shingle_size) for v in data["fresh"]]:
        t = time.perf_counter_ns()
        found.append(ingester.near_duplicates(sig, seen))
        times.append((time.perf_counter_ns() - t) / 1e6)
    planted = data["planted"].tolist()
    n = int(data["n"])
    window_from = iso(END - dt.timedelta(days=d.window_days))
    in_window = [s >= window_from for s in first_seen(data["planted"], n)]
    hit = [i in [a for a, _ in g] for g, i in zip(found, planted, strict=False)]
    false = sum(bool(g) for g in found[len(planted):])
    rss_lookup = rss_mb("VmHWM")

    everything = Ingester(db, DedupSettings(window_days=0), clock=lambda: seen)
    found_all, times_all = [], []
    for sig in copies:
        t = time.perf_counter_ns()
        found_all.append(everything.near_duplicates(sig, seen))
        times_all.append((time.perf_counter_ns() - t) / 1e6)
    recall_all = np.mean([i in [a for a, _ in g] for g, i in zip(found_all, planted, strict=True)])

    spool = SqliteSpool(db)
    clock = iter(iso(END + dt.timedelta(seconds=i)) for i in range(10**7))
    writer = Ingester(db, d, clock=lambda: next(clock))
    rates = []
    items = generated_articles(np.random.default_rng(n), ingest_count, "r")
    for start in range(0, ingest_count, INGEST_BATCH):  # batches: the machine may be busy
        batch = items[start:start + INGEST_BATCH]
        for item in batch:
            spool.put(item)
        t = time.perf_counter()
        stats = writer.ingest()
        rates.append(len(batch) / (time.perf_counter() - t))
        assert stats.new == len(batch), stats
    return {
        "imports_s": imports_s, "startup_s": startup_s, "first_found": bool(first),
        "p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95)),
        "max_ms": float(np.max(times)), "p95_all_ms": float(np.percentile(times_all, 95)),
        "recall_all": float(recall_all),
        "recall_window": sum(h for h, w in zip(hit, in_window, strict=True) if w) / max(1, sum(in_window)),
        "in_window": sum(in_window),
        "leaked": sum(h for h, w in zip(hit, in_window, strict=True) if not w),
        "false": false, "rss_lookup_mb": rss_lookup, "rss_peak_mb": rss_mb("VmHWM"),
        "ingest_median": float(np.median(rates)), "ingest_best": max(rates),
    }


def run_size(n: int, args: argparse.Namespace, rng: np.random.Generator) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"lsh{n}-", dir=args.dir))
    path = folder / "corpus.db"
    t = time.perf_counter()
    data = fill(path, n, args.probes, rng)
    os.sync()  # the fill's dirty pages on disk: else the first checkpoint's fsync waits for them
    fill_s = time.perf_counter() - t
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    probes_file = folder / "probes.npz"
    np.savez(probes_file, planted=data["planted"], copies=data["copies"], fresh=data["fresh"], n=n)
    out = subprocess.run([sys.executable, __file__, "--measure", str(path), "--probes-file", str(probes_file),
                          "--ingest", str(args.ingest)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(n=n, fill_s=fill_s, size_mb=size_mb, bands_mb=data["bands_bytes"] / 2**20)
    if not args.keep:
        shutil.rmtree(folder)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated corpus sizes")
    p.add_argument("--probes", type=int, default=1000, help="planted near copies (and as many new signatures)")
    p.add_argument("--ingest", type=int, default=1000, help="generated articles ingested on top of each corpus")
    p.add_argument("--dir", default=None, help="where the corpus files go (default: the system's temp folder)")
    p.add_argument("--keep", action="store_true", help="keep the corpus files")
    p.add_argument("--measure", help=argparse.SUPPRESS)
    p.add_argument("--probes-file", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), Path(args.probes_file), args.ingest)))
        return
    from crawler.config import DedupSettings
    from crawler.dedup import NearDup

    d = DedupSettings()
    near = NearDup(d.near_threshold, d.num_perm, d.shingle_size)
    print(f"threshold {d.near_threshold}, num_perm {d.num_perm}, shingle {d.shingle_size}: {near.bands} bands "
          f"x {near.rows} rows (MinHashLSH's choice); window_days {d.window_days}; {os.cpu_count()} cores")
    print(f"{'articles':>9} {'fill s':>7} {'file MB':>8} {'bands MB':>8} {'imports s':>9} {'start-up s':>10} "
          f"{'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'p95 w=0':>7} {'recall':>6} {'recall 30d':>10} {'leaked':>6} "
          f"{'false':>5} {'RSS MB':>6} {'peak MB':>7} {'ingest/s':>8} {'best':>5}")
    rng = np.random.default_rng(42)
    for n in (int(s) for s in args.sizes.split(",")):
        r = run_size(n, args, rng)
        print(f"{r['n']:>9,} {r['fill_s']:>7.1f} {r['size_mb']:>8.0f} {r['bands_mb']:>8.0f} {r['imports_s']:>9.2f} "
              f"{r['startup_s']:>10.3f} {r['p50_ms']:>7.2f} {r['p95_ms']:>7.2f} {r['max_ms']:>7.1f} {r['p95_all_ms']:>7.2f} "
              f"{r['recall_all']:>6.3f} {r['recall_window']:>10.3f} {r['leaked']:>6} {r['false']:>5} "
              f"{r['rss_lookup_mb']:>6.0f} {r['rss_peak_mb']:>7.0f} {r['ingest_median']:>8.0f} {r['ingest_best']:>5.0f}",
              flush=True)


if __name__ == "__main__":
    main()
