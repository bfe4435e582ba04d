"""How NearDupIndex (datasketch MinHashLSH) scales: rebuild, insert and lookup cost, memory.

    .venv/bin/python benchmarks/lsh_lookup.py [--sizes 1000,10000,50000,200000] [--probes 400]

Signatures are generated directly rather than from texts (200,000 real signatures would take
minutes): each synthetic article copies every hash value from one of 2,000 "topic" centres
with probability 0.3 (same-topic articles agree on ~9% of their values, like two different
English articles on one story) and draws the others as the minimum of n uniform values,
n = 300..3,000 shingles.  Probes are half near copies of indexed articles (25% of the values
redrawn: estimated Jaccard ~0.75, an edited repost) and half new articles; `recall@0.6` is
measured on further copies with 40% redrawn (Jaccard ~0.6, just above the default threshold).
Memory is what tracemalloc sees the index hold after a second, untimed rebuild (Python heap,
so allocator slack is not included).  The cost of turning a text into a signature is timed
separately on generated Chinese/English text.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.config import DedupSettings  # noqa: E402
from crawler.dedup import NearDupIndex, Signature, sig_to_bytes  # noqa: E402

TOPICS, SHARE, EDIT, EDIT_NEAR = 2_000, 0.3, 0.25, 0.4


def random_values(rng: np.random.Generator, n: int, num_perm: int) -> np.ndarray:
    """Minimum of k uniform 32-bit values per permutation, k = shingles of each article."""
    k = rng.integers(300, 3_000, size=(n, 1))
    u = rng.random((n, num_perm))
    return np.minimum((1 - (1 - u) ** (1 / k)) * 2**32, 2**32 - 2).astype(np.uint32)


def corpus(rng: np.random.Generator, n: int, num_perm: int) -> np.ndarray:
    centres = random_values(rng, TOPICS, num_perm)
    values = random_values(rng, n, num_perm)
    copy = rng.random((n, num_perm)) < SHARE
    topic = rng.integers(0, TOPICS, size=n)
    values[copy] = centres[topic][copy]
    return values


def near_copies(rng: np.random.Generator, values: np.ndarray, edit: float = EDIT) -> np.ndarray:
    out = values.copy()
    redraw = rng.random(values.shape) < edit
    out[redraw] = random_values(rng, len(values), values.shape[1])[redraw]
    return out


def run_size(n: int, probes: int, d: DedupSettings, rng: np.random.Generator) -> dict[str, float]:
    values = corpus(rng, n, d.num_perm)
    header = sig_to_bytes(Signature.of(values[0], d.shingle_size))[:-4 * d.num_perm]
    rows = [(i, header + values[i].tobytes()) for i in range(n)]
    t = time.perf_counter()
    index = rebuild(rows, d)
    build_s = time.perf_counter() - t
    picked = rng.choice(n, size=probes // 2, replace=False)
    times, hits = lookups(index, near_copies(rng, values[picked]), d)
    false_times, false = lookups(index, corpus(rng, probes - len(picked), d.num_perm), d)
    _, near = lookups(index, near_copies(rng, values[picked], EDIT_NEAR), d)
    times += false_times
    extra = corpus(rng, 2_000, d.num_perm)
    t = time.perf_counter()
    for i, v in enumerate(extra):
        index.add(n + i, Signature.of(v, d.shingle_size))
    add_us = (time.perf_counter() - t) / len(extra) * 1e6
    del index, values
    mb = index_mb(rows, d)
    return {"size": n, "build_s": build_s, "add_us": add_us, "mean_us": float(np.mean(times)),
            "p95_us": float(np.percentile(times, 95)),
            "recall": sum(g[:1] == [i] for g, i in zip(hits, picked, strict=True)) / len(picked),
            "recall_near": sum(i in g for g, i in zip(near, picked, strict=True)) / len(picked),
            "false": sum(bool(g) for g in false), "mb": mb}


def rebuild(rows: list[tuple[int, bytes]], d: DedupSettings) -> NearDupIndex:
    return NearDupIndex.from_signatures(rows, threshold=d.near_threshold, num_perm=d.num_perm,
                                        shingle_size=d.shingle_size)


def lookups(index: NearDupIndex, values: np.ndarray, d: DedupSettings) -> tuple[list[float], list[list[int]]]:
    """(µs per query, what each query returned)."""
    times, found = [], []
    for v in values:
        sig = Signature.of(v, d.shingle_size)
        t = time.perf_counter_ns()
        found.append(index.query(sig))
        times.append((time.perf_counter_ns() - t) / 1000)
    return times, found


def index_mb(rows: list[tuple[int, bytes]], d: DedupSettings) -> float:
    """MB of Python heap the index holds (a rebuild under tracemalloc, not timed)."""
    gc.collect()
    tracemalloc.start()
    index = rebuild(rows, d)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del index
    return held / 2**20


def signature_cost(d: DedupSettings, rng: np.random.Generator) -> list[tuple[str, float]]:
    """ms per NearDupIndex.signature() on generated text of a few lengths."""
    han = [chr(c) for c in rng.integers(0x4E00, 0x4E00 + 3_000, size=20_000)]
    words = ["".join(chr(c) for c in rng.integers(97, 123, size=rng.integers(2, 9))) for _ in range(2_000)]
    index, out = NearDupIndex(d.near_threshold, d.num_perm, d.shingle_size), []
    for label, n in (("zh 1,000 chars", 1_000), ("zh 10,000 chars", 10_000)):
        texts = ["".join(rng.choice(han, n)) for _ in range(50)]
        out.append((label, _time_ms(index, texts)))
    for label, n in (("en 1,000 chars", 170), ("en 10,000 chars", 1_700)):
        texts = [" ".join(rng.choice(words, n)) for _ in range(50)]
        out.append((label, _time_ms(index, texts)))
    return out


def _time_ms(index: NearDupIndex, texts: list[str]) -> float:
    t = time.perf_counter()
    for text in texts:
        index.signature(text)
    return (time.perf_counter() - t) / len(texts) * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1000,10000,50000,200000", help="comma-separated corpus sizes")
    p.add_argument("--probes", type=int, default=400, help="queries per size, half near copies")
    args = p.parse_args()
    d, rng = DedupSettings(), np.random.default_rng(42)
    lsh = NearDupIndex(d.near_threshold, d.num_perm, d.shingle_size).lsh
    print(f"threshold {d.near_threshold}, num_perm {d.num_perm}, shingle {d.shingle_size}: "
          f"MinHashLSH {lsh.b} bands x {lsh.r} rows")
    for label, ms in signature_cost(d, rng):
        print(f"signature of {label}: {ms:.2f} ms")
    print(f"{'articles':>9} {'build s':>8} {'add µs':>7} {'query µs':>9} {'p95 µs':>7} {'recall':>6} "
          f"{'recall@0.6':>10} {'false':>5} {'index MB':>8} {'B/article':>9}")
    for n in (int(s) for s in args.sizes.split(",")):
        r = run_size(n, args.probes, d, rng)
        print(f"{r['size']:>9,} {r['build_s']:>8.2f} {r['add_us']:>7.0f} {r['mean_us']:>9.0f} "
              f"{r['p95_us']:>7.0f} {r['recall']:>6.2f} {r['recall_near']:>10.2f} {r['false']:>5} "
              f"{r['mb']:>8.0f} {r['mb'] * 2**20 / n:>9,.0f}", flush=True)


if __name__ == "__main__":
    main()
