"""How long every browse page takes at 10,000 and 100,000 articles.

    .venv/bin/python benchmarks/browse_latency.py [--sizes 10000,100000] [--dir DIR] [--repeat 15]

The corpora are built once, through the project's own ingest (benchmarks/browse_corpus.py:
generated texts, `Ingester` with a simulated clock; 200 MB and 3 to 8 minutes for 10,000
articles, 2 GB and about an hour for 100,000 on 2 busy cores), and kept in `--dir` (default
$TMPDIR/topicwatch-browse-bench) for the next run.  Each page is requested through
Datasette's own ASGI client, i.e. the whole stack of `topicwatch browse` but the socket:
routing, plugin hooks, SQL, facets, templates.  Per page it prints the first request (cold
caches), the median and 95th percentile of `--repeat` more, the median CPU time of the process
per request (the figure that does not depend on what else the machine runs) and the size of
the answer.  The load average is printed before and after: the machine is shared, and wall
times grow with it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from browse_corpus import build  # noqa: E402
from sqlite_utils import Database  # noqa: E402

from crawler.browse.serve import database_name, make_datasette, prepare_corpus  # noqa: E402

# in 80 % of the generated articles / in 0.5 % (a phrase: the two words side by side)
COMMON_WORD, RARE_WORDS = "大模型", '"硅谷新竹"'


def pages(db_path: Path) -> dict[str, str]:
    """The pages to time, by name; ids and cursors are read from the corpus."""
    db, name = Database(db_path), database_name(db_path)
    mid = db.execute("SELECT max(id) / 2 FROM articles").fetchone()[0]
    story = db.execute("SELECT id FROM stories ORDER BY n_articles + n_copies DESC, id LIMIT 1").fetchone()[0]
    deep = db.execute("SELECT first_seen || ',' || id FROM stories ORDER BY first_seen DESC, id DESC "
                      "LIMIT 1 OFFSET 2000").fetchone()[0]
    table_deep = db.execute("SELECT first_seen || ',' || id FROM articles ORDER BY first_seen DESC, id DESC "
                            "LIMIT 1 OFFSET 2000").fetchone()[0]
    db.close()
    common, rare, table = quote(COMMON_WORD), quote(RARE_WORDS), f"/{name}/articles"
    return {
        "front page": "/",
        "front: topic": "/?topic=robotics",
        "front: common topic": "/?topic=llm-industry",
        "front: Traditional, 7 days": "/?script=zh-Hant&window=7d",
        "front: topic + source": "/?topic=robotics&source=en-05",
        "front: common word": f"/?q={common}",
        "front: rare phrase": f"/?q={rare}",
        "front: 40 pages back": f"/?after={quote(deep)}",
        "story page": f"/-/topicwatch/story/{story}",
        "articles": table,
        "articles.json": f"{table}.json",
        "articles: 40 pages back": f"{table}?_next={quote(table_deep)}",
        "articles: source=": f"{table}?source=hant-03",
        "articles: language=": f"{table}?language=en",
        "articles: common topic": f"{table}?_topic=llm-industry",
        "articles: topic + source": f"{table}?_topic=robotics&source=en-03",
        "search list: common word": f"{table}?_search={common}",
        "search list: rare phrase": f"{table}?_search={rare}",
        "ranked search: common": f"/{name}/search?q={common}",
        "ranked search: rare phrase": f"/{name}/search?q={rare}",
        "article page": f"{table}/{mid}",
        "new per topic": f"/{name}/new_per_topic",
        "new today": f"/{name}/new_today?topic=",
        "top stories": f"/{name}/top_stories",
        "feed: all": "/-/topicwatch/articles.atom",
        "feed: topic": "/-/topicwatch/atom/robotics.atom",
        "feed: search": f"/-/topicwatch/feed.atom?q={common}&topic=compute",
        "feed: rare phrase": f"/-/topicwatch/feed.atom?q={rare}",
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def time_page(ds, path: str, repeat: int) -> dict[str, float]:
    walls, cpus, first, size = [], [], 0.0, 0
    for i in range(repeat + 1):
        wall, cpu = time.perf_counter(), time.process_time()
        response = await ds.client.get(path)
        wall, cpu = (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}\n{response.text[:500]}")
        if i == 0:
            first, size = wall, len(response.content)
        else:
            walls.append(wall)
            cpus.append(cpu)
    return {"first": first, "p50": statistics.median(walls), "p95": percentile(walls, 95),
            "cpu50": statistics.median(cpus), "kb": size / 1024}


async def measure(db_path: Path, repeat: int) -> None:
    prepare_corpus(db_path)
    ds = make_datasette(db_path)
    print(f"\n{db_path.name}: load average before {os.getloadavg()[0]:.1f}")
    print(f"{'page':28} {'first':>6} {'p50':>6} {'p95':>6} {'cpu50':>6} {'KB':>6}   (ms)")
    worst = 0.0
    for name, path in pages(db_path).items():
        t = await time_page(ds, path, repeat)
        worst = max(worst, t["p95"])
        print(f"{name:28} {t['first']:6.0f} {t['p50']:6.0f} {t['p95']:6.0f} {t['cpu50']:6.0f} {t['kb']:6.0f}")
    print(f"slowest p95 {worst:.0f} ms; load average after {os.getloadavg()[0]:.1f}")


def corpus_path(directory: Path, size: int) -> Path:
    path = directory / f"browse-{size // 1000}k.db"
    if not path.exists():
        print(f"building {path} ({size:,} articles, through ingest)...", flush=True)
        print(build(path, size), flush=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="corpus sizes in articles")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "topicwatch-browse-bench",
                        help="where the generated corpora are kept between runs")
    parser.add_argument("--repeat", type=int, default=15, help="timed requests per page after the first")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    for size in (int(s) for s in args.sizes.split(",")):
        asyncio.run(measure(corpus_path(args.dir, size), args.repeat))


if __name__ == "__main__":
    main()
