"""How much memory and time does one crawl over every hostile case take, and how does each
case end?

Starts the hostile servers of tests/hostile/ on 127.0.0.x, runs one `scrapy crawl` over all
cases in a child process (the loopback-only resolver of tests/hostile/dns.py), and prints the
child's peak RSS and wall time, then one line per case: expected outcome, what the corpus
recorded, and whether they agree.

    .venv/bin/python benchmarks/hostile_crawl.py [--markdown]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from hostile.crawl import run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true", help="print the cases as a table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(Path(tmp))
        agree = 0
        lines = []
        for e in result.suite.expects:
            found = sorted(result.outcomes(e))
            ok = e.outcome in found
            agree += ok
            where = f"{e.path[:32]}{'…' if len(e.path) > 32 else ''}"
            if args.markdown:
                lines.append(f"| {e.case} | {e.kind} | `{where}` | `{e.outcome}` | {'yes' if ok else 'NO: ' + ', '.join(found)} |")
            else:
                lines.append(f"{'ok ' if ok else 'BAD'} {e.case:30} {where:34} {e.outcome:20} {', '.join(found)}")
        print(f"exit code {result.returncode}; peak RSS of the crawl's process {result.peak_rss_mb:.0f} MB, "
              f"of its largest worker process {result.worker_peak_rss_mb:.0f} MB; "
              f"the crawl and its workers together (PSS, sampled) {result.tree_peak_pss_mb:.0f} MB; {result.seconds:.0f} s")
        print(f"{len({e.case for e in result.suite.expects})} cases, {len(result.suite.expects)} "
              f"outcomes, {agree} as expected; requests to private servers: {len(result.forbidden_hits())}")
        if args.markdown:
            print("\n| case | kind | path | expected | as expected |\n|---|---|---|---|---|")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
