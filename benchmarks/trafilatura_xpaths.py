"""trafilatura's XPaths against their compiled walks (crawler/extract/xpaths.py), on the devset.

    .venv/bin/python benchmarks/trafilatura_xpaths.py [--devset ../shared/devset] [--pages N]
        [--repeat 2]

Prints, for each compiled expression, the seconds of the XPath and of the walk over every
devset page's tree (and its <body>), and whether they selected the same elements in the same
order on all of them; then `crawler.analyse.analyse` over the same pages with trafilatura's own
XPaths and with the compiled ones, alternating `--repeat` times (CPU seconds, best of each), and
on how many pages the two verdicts are equal.  Nothing here goes into the tests; no page or
text is copied anywhere.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from crawl_throughput import near_of  # noqa: E402
from real_crawl import DEVSET, KEEP_ALL, load_pages  # noqa: E402

from crawler.analyse import analyse  # noqa: E402
from crawler.config import load_settings  # noqa: E402
from crawler.extract import xpaths  # noqa: E402
from crawler.records import Fetched  # noqa: E402
from crawler.text.charset import decode_body  # noqa: E402
from crawler.text.html import parse_html  # noqa: E402


def expressions(pages: list[bytes]) -> None:
    from trafilatura import xpaths as trafilatura_xpaths

    trees = [t for t in (parse_html(decode_body(b, "text/html")[0]) for b in pages) if t is not None]
    trees += [body for t in trees for body in t.iter("body")]
    total_x = total_c = 0.0
    print(f"{len(trees)} trees (pages and their <body>)")
    print(f"{'expression':36} {'XPath s':>8} {'walk s':>8} {'faster':>7}  same")
    for name in xpaths.LISTS:
        for i, x in enumerate(getattr(trafilatura_xpaths, name)):
            if not isinstance(x, xpaths.Compiled):
                continue
            start = time.process_time()
            by_xpath = [x.xpath(t) for t in trees]
            tx = time.process_time() - start
            start = time.process_time()
            by_walk = [x.select(t) for t in trees]
            tc = time.process_time() - start
            total_x, total_c = total_x + tx, total_c + tc
            print(f"{name + f'[{i}]':36} {tx:8.2f} {tc:8.2f} {tx / tc:6.1f}x  {by_xpath == by_walk}")
    print(f"{'all':36} {total_x:8.2f} {total_c:8.2f} {total_x / total_c:6.1f}x")


def verdicts(pages: list[bytes], compiled: bool) -> tuple[float, list[str]]:
    if compiled:
        xpaths.install()
    else:
        xpaths.uninstall()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "settings.toml"
        path.write_text(KEEP_ALL, encoding="utf-8")
        settings = load_settings(path)
    near, out = near_of(settings), []
    start = time.process_time()
    for n, body in enumerate(pages):
        fetched = Fetched(url=f"http://127.0.0.51/page/{n}.html", source="bench", body=body,
                          content_type="text/html", fetched_at="2026-01-01T00:00:00+00:00")
        out.append(repr(analyse(fetched, settings.topics, 0, near=near)))
    return time.process_time() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devset", type=Path, default=DEVSET, help="the devset folder")
    parser.add_argument("--pages", type=int, default=0, help="pages (default: all usable)")
    parser.add_argument("--repeat", type=int, default=2, help="alternating analyse passes (best counts)")
    args = parser.parse_args()
    if not (args.devset / "manifest.jsonl").is_file():
        parser.error(f"--devset {args.devset}: no manifest.jsonl there")
    pages = load_pages(args.devset, args.pages or None)
    expressions(pages)
    verdicts(pages[:20], True)  # warm: imports, caches
    own, walked = [], []
    for _ in range(args.repeat):
        seconds, before = verdicts(pages, False)
        own.append(seconds)
        seconds, after = verdicts(pages, True)
        walked.append(seconds)
    same = sum(a == b for a, b in zip(before, after, strict=True))
    print(f"analyse over {len(pages)} pages: {min(own):.2f} CPU s with trafilatura's XPaths, "
          f"{min(walked):.2f} with the walks ({1 - min(walked) / min(own):.0%} less); "
          f"same verdict on {same} of {len(pages)} pages")


if __name__ == "__main__":
    main()
