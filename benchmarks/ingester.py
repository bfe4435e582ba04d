"""The one ingester's capacity: articles per CPU second that `Ingester.ingest()` stores, for
items that carry the dedup keys a crawl's worker computed (`SpoolItem.dedup_keys`, as
`topicwatch crawl` and `topicwatch worker` spool them) and for the same items without (as a
worker of an older version, or one with other `[dedup]` settings, spools them: ingest then
computes each text's content hash and MinHash signature itself).

    .venv/bin/python benchmarks/ingester.py [--devset ../shared/devset] [--pages N] [--repeat 3]

The devset's pages (duplicates and synthetic markup left out) are analysed by the project's
`crawler.analyse.analyse` with one `keep_all` topic and the default `[dedup]` settings, in a
process pool (not measured); the kept items are spooled into a fresh corpus per run, and the
CPU seconds of this process's `Ingester.ingest()` over them are measured, runs alternating
between the two kinds, the best of each printed.  In a fleet the ingester is the one process
every worker's items go through (README, "When one machine is not enough"): its capacity is
the fleet's ceiling.  Nothing leaves this machine; no page or text is copied anywhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from real_crawl import DEVSET, load_pages  # noqa: E402

from crawler.config import DedupSettings, Topic  # noqa: E402
from crawler.dedup import NearDup  # noqa: E402
from crawler.records import Fetched, SpoolItem  # noqa: E402
from crawler.store.db import open_db  # noqa: E402
from crawler.store.ingest import Ingester  # noqa: E402
from crawler.store.spool import SqliteSpool  # noqa: E402

NEAR = NearDup(DedupSettings().near_threshold, DedupSettings().num_perm, DedupSettings().shingle_size)


def _item(job: tuple[int, bytes]) -> SpoolItem | None:
    from crawler.analyse import analyse

    n, body = job
    fetched = Fetched(url=f"http://127.0.0.51/page/{n}.html", source="bench", body=body,
                      content_type="text/html", status=200)
    return analyse(fetched, [Topic(name="all", keep_all=True)], 0, near=NEAR).item


def ingest_cpu(items: list[SpoolItem], folder: Path) -> tuple[float, int]:
    """CPU seconds of one Ingester.ingest() over `items` spooled into a fresh corpus."""
    db = open_db(folder / f"corpus-{time.monotonic_ns()}.db")
    spool = SqliteSpool(db)
    for item in items:
        spool.put(item)
    ingester = Ingester(db, DedupSettings())
    start = time.process_time()
    stats = ingester.ingest()
    cpu = time.process_time() - start
    db.close()
    return cpu, stats.new + stats.duplicates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devset", type=Path, default=DEVSET)
    parser.add_argument("--pages", type=int, help="only the first N devset pages")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pages = load_pages(args.devset, args.pages)
    with ProcessPoolExecutor() as pool:
        items = [i for i in pool.map(_item, enumerate(pages), chunksize=4) if i is not None]
    bare = [dataclasses.replace(i, dedup_keys=None) for i in items]
    assert all(i.dedup_keys is not None for i in items)
    best = {"with the workers' keys": float("inf"), "without (ingest computes them)": float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        ingest_cpu(items[:20], Path(tmp))  # imports and caches warmed
        for _ in range(args.repeat):
            for label, batch in zip(best, (items, bare), strict=True):
                cpu, done = ingest_cpu(batch, Path(tmp))
                assert done == len(batch), (done, len(batch))
                best[label] = min(best[label], cpu)
    print(f"{len(items)} articles from {len(pages)} devset pages, best of {args.repeat} runs each:")
    for label, cpu in best.items():
        print(f"  {label:32s} {cpu:6.2f} CPU s = {len(items) / cpu:6.0f} articles per CPU second "
              f"({1000 * cpu / len(items):.2f} ms each)")


if __name__ == "__main__":
    main()
