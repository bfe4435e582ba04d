"""The project's decoding and extraction over the devset: real pages nobody here wrote.

    .venv/bin/python benchmarks/real_pages.py [--devset ../shared/devset] [--subset NAME]
        [--limit N] [--failures] [--json]

Each page's bytes go through `decode_body(raw, None)` (no charset header, as a server that
sends none) and `extract(Page(...))`, exactly as a fetched page does. Printed:

- pages, crashes (any exception but NotAnArticle), CPU seconds per page (decode + extract);
- kept vs skipped by reason and the article/list confusion matrix, per subset, over the pages
  that count (not synthetic, not a byte-duplicate: see the devset README);
- agreement with the reference tools (never "accuracy": a reference is another extractor's
  output): title, day of publication, author, and main-text F1 over a bag of tokens (Han and
  kana characters one by one, words otherwise); goose3's references are prefixes, scored as
  recall of their tokens;
- dates the page does not state: a stored day that cannot be found written anywhere in the
  page's decoded source or URL in any common form (ISO, slashed, dotted, Chinese, day/month
  names in English, French, Spanish, German, Unix timestamps), and dates given where the
  reference tool found none (informational: those tools miss dates too).

`--failures` lists page paths and reasons per failure kind (never page text); `--json` prints
everything as one JSON object. Nothing here goes into the project's tests.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
import unicodedata
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.extract import NotAnArticle, extract  # noqa: E402
from crawler.records import Article, Page  # noqa: E402
from crawler.text.charset import decode_body  # noqa: E402

# ../shared/devset next to the checkout (or next to the folder of worktrees)
DEVSET = next(
    (d for p in Path(__file__).resolve().parents if (d := p / "shared" / "devset").is_dir()),
    Path("../shared/devset"),
)
_GB = {"gb2312", "gbk", "gb18030"}


@dataclass
class Result:
    """One page's outcome and scores."""

    path: str
    subset: str
    kind: str
    counted: bool  # not synthetic, not a duplicate
    seconds: float = 0.0
    outcome: str = "kept"  # kept | skip:<reason> | crash:<exception>
    encoding: str | None = None
    expected_encoding: str | None = None
    full_text_reference: bool = False  # a reference text that is not a prefix
    scores: dict[str, Any] = field(default_factory=dict)


# -- running ------------------------------------------------------------------------------------


def run_page(root: Path, row: dict[str, Any]) -> Result:
    raw = gzip.decompress((root / row["path"]).read_bytes())
    res = Result(row["path"], row["subset"], row["kind"], _counted(row))
    res.expected_encoding = row.get("encoding")
    ref = row.get("reference") or {}
    res.full_text_reference = "text" in ref and not ref.get("text_is_prefix")
    url = row.get("url") or f"https://devset.invalid/page{zlib.crc32(row['path'].encode())}.html"
    start = time.process_time()  # CPU time: the machine is shared, wall time measures others
    article: Article | None = None
    try:
        html, res.encoding = decode_body(raw, None)
        article = extract(Page(url=url, source="devset", html=html, language_hint=None))
    except NotAnArticle as e:
        res.outcome = f"skip:{e.reason}"
    except Exception as e:  # noqa: BLE001 - a crash is what is being counted
        res.outcome = f"crash:{type(e).__name__}: {str(e)[:80]}"
    res.seconds = time.process_time() - start
    if article is not None:
        res.scores = score(article, row, raw, url)
    return res


def _counted(row: dict[str, Any]) -> bool:
    return not row.get("synthetic") and not row.get("duplicate_of")


def score(article: Article, row: dict[str, Any], raw: bytes, url: str) -> dict[str, Any]:
    ref = row.get("reference") or {}
    out: dict[str, Any] = {"has_date": bool(article.published), "has_author": bool(article.author)}
    if "text" in ref:
        out["text"] = text_score(article.text, ref["text"], bool(ref.get("text_is_prefix")))
    if "title" in ref:
        out["title"] = title_agreement(article.title, ref["title"])
    if "author" in ref:
        out["author"] = author_agreement(article.author, ref["author"])
    if "date" in ref:
        out["date"] = date_agreement(article.published, ref["date"])
    if article.published:
        haystack = raw.decode(row.get("encoding") or "utf-8", errors="replace") + " " + url
        out["date_stated"] = day_is_written(article.published[:10], haystack)
    return out


# -- agreement with references ------------------------------------------------------------------

_TOKEN_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+")


def tokens(text: str) -> Counter[str]:
    """Han and kana characters one by one, other runs of letters and digits as words."""
    return Counter(_TOKEN_RE.findall(unicodedata.normalize("NFKC", text).lower()))


def text_score(ours: str, ref: str, prefix: bool) -> dict[str, float]:
    a, b = tokens(ours), tokens(ref)
    common = sum((a & b).values())
    recall = common / max(1, sum(b.values()))
    if prefix:
        return {"recall": recall}
    precision = common / max(1, sum(a.values()))
    f1 = 2 * precision * recall / (precision + recall) if common else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}


def _norm(text: str | None) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text or "").casefold())


def title_agreement(ours: str, ref: str) -> str:
    a, b = _norm(ours), _norm(ref)
    if not b:
        return "no-reference"
    if a == b:
        return "same"
    return "contained" if a and (a in b or b in a) else "different"


_BY_RE = re.compile(r"^\s*(?:by|par|por|von|作者|记者|記者)\s*[:：]?\s*", re.I)


def _names(text: str) -> list[str]:
    parts = re.split(r",|;|/|、|，|\band\b|&|\|", _BY_RE.sub("", text or ""))
    return [n for n in (_norm(p) for p in parts) if len(n) >= 2]


def author_agreement(ours: str | None, ref: str) -> str:
    if not ours:
        return "missing"
    a, b = _names(ours), _names(ref)
    if any(x in y or y in x for x in a for y in b):
        return "same"
    return "different"


_REF_DAY_RE = re.compile(r"((?:19|20)\d\d)\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_MONTH_DAY_RE = re.compile(r"^\s*(\d{1,2})月(\d{1,2})日\s*$")


def reference_day(ref: str) -> date | tuple[int, int] | None:
    """The day a reference states; (month, day) for a reference without a year."""
    m = _REF_DAY_RE.search(ref)
    if m:
        return date(*map(int, m.groups()))
    m = _MONTH_DAY_RE.match(ref)
    if m:
        return int(m.group(1)), int(m.group(2))
    from dateutil import parser  # trafilatura's htmldate depends on it

    try:
        return parser.parse(ref, fuzzy=True, ignoretz=True).date()
    except (ValueError, OverflowError):
        return None


def date_agreement(ours: str | None, ref: str) -> str:
    day = reference_day(ref)
    if day is None:
        return "unparsable-reference"
    if not ours:
        return "missing"
    mine = date.fromisoformat(ours[:10])
    if isinstance(day, tuple):
        return "same" if (mine.month, mine.day) == day else "different"
    if mine == day:
        return "same"
    return "one-day-off" if abs((mine - day).days) == 1 else "different"


# -- is the stored day written anywhere in the page? --------------------------------------------

_MONTH_NAMES = [
    "january|janvier|enero|januar|jan|janv|ene|jän",
    "february|février|fevrier|febrero|februar|feb|févr|fevr",
    "march|mars|marzo|märz|maerz|mar|mär",
    "april|avril|abril|apr|avr|abr",
    "may|mai|mayo",
    "june|juin|junio|juni|jun",
    "july|juillet|julio|juli|jul|juil",
    "august|août|aout|agosto|aug|ago",
    "september|septembre|septiembre|sept|sep|set",
    "october|octobre|octubre|oktober|oct|okt",
    "november|novembre|noviembre|nov",
    "december|décembre|decembre|diciembre|dezember|dec|déc|dic|dez",
]
_EPOCH_RE = re.compile(r"(?<!\d)1[0-9]{9}(?:[0-9]{3})?(?!\d)")


def day_is_written(iso_day: str, haystack: str) -> bool:
    """`iso_day` (YYYY-MM-DD) is written in `haystack` in a common form, or as a Unix
    timestamp within a day of it (a stated time in another zone)."""
    day = date.fromisoformat(iso_day)
    if any(p.search(haystack) for p in _day_patterns(day)):
        return True
    for m in _EPOCH_RE.finditer(haystack):
        value = int(m.group())
        stamp = datetime.fromtimestamp(value / 1000 if value > 10**11 else value, UTC).date()
        if abs((stamp - day).days) <= 1:
            return True
    return False


def _day_patterns(day: date) -> list[re.Pattern[str]]:
    y, m, d = day.year, rf"0?{day.month}", rf"0?{day.day}"
    mon = _MONTH_NAMES[day.month - 1]
    th = r"(?:st|nd|rd|th|er|º)?"
    return [
        re.compile(rf"(?<!\d){y}\s*[-/._年]\s*{m}\s*[-/._月]\s*{d}(?!\d)"),
        re.compile(rf"(?<!\d){y}{day.month:02d}{day.day:02d}(?!\d)"),
        re.compile(rf"(?<!\d){d}\s*[-/.]\s*{m}\s*[-/.]\s*{y}(?!\d)"),
        re.compile(rf"(?<!\d){m}\s*[-/.]\s*{d}\s*[-/.]\s*{y}(?!\d)"),
        re.compile(rf"\b(?:{mon})\.?\s+{d}{th},?\s+{y}\b", re.I),
        re.compile(rf"(?<!\d){d}{th}\.?\s+(?:de\s+|of\s+)?(?:{mon})\.?,?\s+(?:de\s+)?{y}\b", re.I),
    ]


# -- summing up ---------------------------------------------------------------------------------


def summarise(results: list[Result]) -> dict[str, Any]:
    counted = [r for r in results if r.counted]
    secs = sorted(r.seconds for r in results)
    return {
        "pages": len(results),
        "counted": len(counted),
        "crashes": sum(r.outcome.startswith("crash") for r in results),
        "seconds": {
            "p50": round(_quantile(secs, 0.5), 3),
            "p95": round(_quantile(secs, 0.95), 3),
            "max": round(secs[-1] if secs else 0.0, 3),
            "total": round(sum(secs), 1),
        },
        "outcomes": dict(
            Counter(
                r.outcome.split(":")[0] if r.outcome.startswith("crash") else r.outcome
                for r in counted
            ).most_common()
        ),
        "confusion": _confusion(counted),
        "per_subset": {s: _subset(rs) for s, rs in sorted(_by_subset(counted).items())},
        "agreement": _agreement([r for r in counted if r.kind == "article"]),
        "agreement_all_pages": _agreement(results),
        "dates_not_stated": _unstated(results),
        "decoding": _decoding(results),
    }


def _decoding(results: list[Result]) -> dict[str, int]:
    """Does our codec agree with the devset's (the narrowest strict one; GB family as one)?"""
    out = Counter()
    for r in results:
        if r.expected_encoding:
            out["same" if _family(r.encoding) == _family(r.expected_encoding) else "different"] += 1
    return dict(out)


def _family(name: str | None) -> str | None:
    name = (name or "").lower().replace("_", "-")
    if name in _GB:
        return "gb18030"
    return {"ascii": "utf-8", "utf-8-sig": "utf-8", "big5": "big5hkscs"}.get(name, name)


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(q * len(values)))]


def _by_subset(results: list[Result]) -> dict[str, list[Result]]:
    groups: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        groups[r.subset].append(r)
    return groups


def _label(outcome: str) -> str:
    if outcome == "kept":
        return "kept"
    if outcome.startswith("skip"):
        return "skipped list-page" if outcome == "skip:list-page" else "skipped other"
    return "crash"


def _confusion(results: list[Result]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for r in results:
        row = table.setdefault(r.kind, {})
        label = _label(r.outcome)
        row[label] = row.get(label, 0) + 1
    return table


def _subset(results: list[Result]) -> dict[str, Any]:
    arts = [r for r in results if r.kind == "article"]
    lists = [r for r in results if r.kind == "list"]
    return {
        "articles": len(arts),
        "articles_kept": sum(r.outcome == "kept" for r in arts),
        "lists": len(lists),
        "lists_skipped": sum(r.outcome.startswith("skip") for r in lists),
        "skips": dict(Counter(r.outcome for r in arts if r.outcome != "kept")),
        "text_f1_mean": _mean(
            [r.scores["text"]["f1"] for r in arts if "f1" in r.scores.get("text", {})]
        ),
    }


def _mean(values: list[float]) -> float | None:
    return round(statistics.mean(values), 3) if values else None


def _agreement(results: list[Result]) -> dict[str, Any]:
    kept = [r for r in results if r.outcome == "kept"]
    f1 = [r.scores["text"]["f1"] for r in kept if "f1" in r.scores.get("text", {})]
    prefix = [
        r.scores["text"]["recall"]
        for r in kept
        if "text" in r.scores and "f1" not in r.scores["text"]
    ]
    scored = [r for r in results if r.full_text_reference and r.kind == "article"]
    f1_all = [r.scores.get("text", {}).get("f1", 0.0) for r in scored]
    return {
        "text_f1_skipped_as_zero": {"pages": len(f1_all), "mean": _mean(f1_all)},
        "title": dict(Counter(r.scores["title"] for r in kept if "title" in r.scores)),
        "date": dict(Counter(r.scores["date"] for r in kept if "date" in r.scores)),
        "author": dict(Counter(r.scores["author"] for r in kept if "author" in r.scores)),
        "text_f1": {
            "pages": len(f1),
            "mean": _mean(f1),
            "median": round(statistics.median(f1), 3) if f1 else None,
        },
        "prefix_recall": {"pages": len(prefix), "mean": _mean(prefix)},
        "dated": sum(r.scores.get("has_date", False) for r in kept),
        "with_author": sum(r.scores.get("has_author", False) for r in kept),
        "kept": len(kept),
    }


def _unstated(results: list[Result]) -> dict[str, int]:
    kept = [r for r in results if r.outcome == "kept"]
    dated = [r for r in kept if r.scores.get("has_date")]
    no_ref_date = [r for r in dated if "date" not in r.scores and r.subset in _DATED_SUBSETS]
    return {
        "dated_pages": len(dated),
        "day_not_written_in_page": sum(not r.scores.get("date_stated", True) for r in dated),
        "dated_where_reference_has_none": len(no_ref_date),
    }


# Subsets whose reference tool reports dates at all (GNE, goose3, newspaper4k, Readability).
_DATED_SUBSETS = {
    "zh_gne_kingname",
    "multi_goose3",
    "multi_newspaper4k",
    "multi_mozilla_readability",
}


def failures(results: list[Result]) -> dict[str, list[str]]:
    """Page paths per failure kind, with a short reason; no page text."""
    out: dict[str, list[str]] = defaultdict(list)
    for r in results:
        s = r.scores
        if r.outcome.startswith("crash"):
            out["crash"].append(f"{r.path}  {r.outcome}")
        if r.counted and r.kind == "article" and r.outcome != "kept":
            out["article-skipped"].append(f"{r.path}  {r.outcome}")
        if r.counted and r.kind == "list" and r.outcome == "kept":
            out["list-kept"].append(r.path)
        if r.expected_encoding and _family(r.encoding) != _family(r.expected_encoding):
            out["decoded-differently"].append(f"{r.path}  {r.encoding} vs {r.expected_encoding}")
        if s.get("has_date") and not s.get("date_stated", True):
            out["date-not-in-page"].append(r.path)
        for key in ("date", "author", "title"):
            if s.get(key) in ("different", "missing", "one-day-off"):
                out[f"{key}-{s[key]}"].append(r.path)
        f1 = s.get("text", {}).get("f1")
        if f1 is not None and f1 < 0.5:
            out["text-f1-below-0.5"].append(f"{r.path}  f1={f1:.2f}")
    return dict(out)


# -- printing -----------------------------------------------------------------------------------


def show(summary: dict[str, Any]) -> None:
    s = summary
    print(
        f"pages {s['pages']}  counted (not synthetic, not duplicate) {s['counted']}  "
        f"crashes {s['crashes']}"
    )
    t = s["seconds"]
    print(
        f"CPU seconds per page: p50 {t['p50']}  p95 {t['p95']}  max {t['max']}  total {t['total']}"
    )
    print("\noutcomes (counted pages):")
    for k, v in s["outcomes"].items():
        print(f"  {k:28} {v}")
    print("\nconfusion (label -> outcome, counted pages):")
    for kind, row in sorted(s["confusion"].items()):
        print(f"  {kind:8} " + "  ".join(f"{k} {v}" for k, v in sorted(row.items())))
    print("\nper subset:")
    for name, sub in s["per_subset"].items():
        a, ls = sub["articles"], sub["lists"]
        print(
            f"  {name:26} articles kept {sub['articles_kept']}/{a} ({_pct(sub['articles_kept'], a)})"
            f"  lists skipped {sub['lists_skipped']}/{ls}  text F1 {sub['text_f1_mean']}"
            + (f"  skips {sub['skips']}" if sub["skips"] else "")
        )
    _show_agreement("agreement with the references (counted article pages, kept)", s["agreement"])
    _show_agreement("agreement with the references (all pages, kept)", s["agreement_all_pages"])
    u = s["dates_not_stated"]
    print(
        f"\ndates the page does not state (all kept pages): {u['day_not_written_in_page']} of "
        f"{u['dated_pages']} dated pages have a day written nowhere in the page or URL; "
        f"{u['dated_where_reference_has_none']} dated where the reference tool has no date "
        f"(informational)"
    )
    print(f"decoding, codec agreement with the devset's: {s['decoding']}")


def _show_agreement(heading: str, a: dict[str, Any]) -> None:
    print(f"\n{heading}:")
    print(f"  kept {a['kept']}, dated {a['dated']}, with author {a['with_author']}")
    for key in ("title", "date", "author"):
        print(f"  {key:7} " + "  ".join(f"{k} {v}" for k, v in sorted(a[key].items())))
    f1, pr, f0 = a["text_f1"], a["prefix_recall"], a["text_f1_skipped_as_zero"]
    print(
        f"  text F1 mean {f1['mean']} median {f1['median']} over {f1['pages']} pages;"
        f"  prefix references (goose3): token recall {pr['mean']} over {pr['pages']} pages"
    )
    print(f"  text F1 with skipped article pages as 0: {f0['mean']} over {f0['pages']} pages")


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devset", type=Path, default=DEVSET)
    ap.add_argument("--subset", help="only this subset")
    ap.add_argument("--limit", type=int, help="only the first N pages")
    ap.add_argument("--failures", action="store_true", help="list page paths per failure kind")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    rows = [json.loads(line) for line in (args.devset / "manifest.jsonl").open(encoding="utf-8")]
    rows = [r for r in rows if not args.subset or r["subset"] == args.subset][: args.limit]
    results = [run_page(args.devset, row) for row in rows]
    summary = summarise(results)
    if args.failures:
        summary["failures"] = failures(results)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
        return
    show(summary)
    for kind, paths in sorted(summary.get("failures", {}).items()):
        print(f"\n{kind} ({len(paths)}):")
        for p in paths:
            print(f"  {p}")


if __name__ == "__main__":
    main()
