"""How NearDupIndex scales: rebuild time, insert and lookup cost, memory, per corpus size.

    .venv/bin/python benchmarks/lsh_lookup.py [--sizes 1000,10000,50000,200000] [--probes 400]

Signatures are generated directly rather than from texts (200,000 real signatures would take
minutes): each synthetic article copies every hash value from one of 2,000 "topic" centres
with probability 0.3 (same-topic articles agree on ~9% of their values, like two different
English articles on one story) and draws the others as the minimum of n uniform values,
n = 300..3,000 shingles.  Probes are half near copies of indexed articles (25% of the values
redrawn: estimated Jaccard ~0.75, an edited repost) and half new articles.  The cost of
turning a text into a signature is timed separately on generated Chinese/English text.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.config import DedupSettings  # noqa: E402
from crawler.dedup import NearDupIndex, Signature, sig_to_bytes  # noqa: E402

TOPICS, SHARE, EDIT = 2_000, 0.3, 0.25


def rss_mb() -> float:
    """Current resident memory (Linux /proc), else the peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def near_copies(rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
    out = values.copy()
    redraw = rng.random(values.shape) < EDIT
    out[redraw] = random_values(rng, len(values), values.shape[1])[redraw]
    return out


def run_size(n: int, probes: int, d: DedupSettings, rng: np.random.Generator) -> dict[str, float]:
    gc.collect()
    base_rss = rss_mb()
    values = corpus(rng, n, d.num_perm)
    header = sig_to_bytes(Signature.of(values[0], d.shingle_size))[:-4 * d.num_perm]
    rows = [(i, header + values[i].tobytes()) for i in range(n)]
    t = time.perf_counter()
    index = NearDupIndex.from_signatures(rows, d.near_threshold, d.num_perm, d.shingle_size)
    rebuild = time.perf_counter() - t
    del rows
    picked = rng.choice(n, size=probes // 2, replace=False)
    hits = near_copies(rng, values[picked])
    misses = corpus(rng, probes - len(picked), d.num_perm)
    del values
    gc.collect()
    rss = rss_mb() - base_rss
    times, found, false = [], 0, 0
    for j, v in enumerate(np.concatenate([hits, misses])):
        sig = Signature.of(v, d.shingle_size)
        t = time.perf_counter_ns()
        got = index.query(sig)
        times.append((time.perf_counter_ns() - t) / 1000)
        if j < len(picked):
            found += bool(got) and got[0] == picked[j]
        else:
            false += bool(got)
    extra = corpus(rng, 5_000, d.num_perm)
    t = time.perf_counter()
    for i, v in enumerate(extra):  # includes one merge of the recent inserts
        index.add(n + i, Signature.of(v, d.shingle_size))
    add_us = (time.perf_counter() - t) / len(extra) * 1e6
    return {"size": n, "rebuild_s": rebuild, "add_us": add_us, "mean_us": float(np.mean(times)),
            "p95_us": float(np.percentile(times, 95)), "recall": found / len(picked),
            "false": false, "rss_mb": rss}


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
    bands = NearDupIndex(d.near_threshold, d.num_perm, d.shingle_size)
    print(f"threshold {d.near_threshold}, num_perm {d.num_perm}, shingle {d.shingle_size}: "
          f"{bands.bands} bands x {bands.rows} rows")
    for label, ms in signature_cost(d, rng):
        print(f"signature of {label}: {ms:.2f} ms")
    print(f"{'articles':>9} {'rebuild s':>9} {'add µs':>7} {'query µs':>9} {'p95 µs':>7} "
          f"{'recall':>6} {'false':>5} {'RSS MB':>7}")
    for n in (int(s) for s in args.sizes.split(",")):
        r = run_size(n, args.probes, d, rng)
        print(f"{r['size']:>9,} {r['rebuild_s']:>9.2f} {r['add_us']:>7.0f} {r['mean_us']:>9.0f} "
              f"{r['p95_us']:>7.0f} {r['recall']:>6.2f} {r['false']:>5} {r['rss_mb']:>7.0f}")


if __name__ == "__main__":
    main()
