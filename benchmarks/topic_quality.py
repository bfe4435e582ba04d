"""How well the shipped topics separate AI-industry stories from other tech news.

    .venv/bin/python benchmarks/topic_quality.py [--settings settings.toml]
        [--set tests/topicset/labelled.jsonl] [--failures] [--devset ../shared/devset]

Runs `crawler.topics.match_topics` with the topics of a settings file over a labelled set of
short articles (written by the team, in Simplified, Traditional and English; one JSON object a
line: `title`, `text`, `topics` it must match, `also` topics it may match either way; an
empty `topics` is an off-topic story, most of them hard negatives) and prints:

- per topic: precision (matches that were labelled `topics` or `also`) and recall (labelled
  `topics` that matched);
- overall: on-topic recall (on-topic texts that kept at least one topic) and the off-topic
  false-positive rate (off-topic texts that matched any topic), also per script;
- `--failures`: every miss, with the matched topics and their terms;
- `--devset`: the share of the development pages' reference texts (real web pages, nearly all
  unrelated to AI) that match any topic, and with `--failures` which ones, to read by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler.config import Topic, load_settings  # noqa: E402
from crawler.records import Article, Match  # noqa: E402
from crawler.topics import match_topics  # noqa: E402


@dataclass(frozen=True)
class Item:
    id: str
    script: str
    title: str
    text: str
    topics: frozenset[str]
    also: frozenset[str] = field(default_factory=frozenset)
    batch: str = ""

    @property
    def on_topic(self) -> bool:
        return bool(self.topics)


def load_items(path: Path) -> list[Item]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            items.append(Item(d["id"], d["script"], d["title"], d["text"], frozenset(d["topics"]),
                              frozenset(d.get("also", ())), str(d.get("batch", ""))))
    return items


def run(items: list[Item], topics: tuple[Topic, ...]) -> dict[str, tuple[Match, ...]]:
    return {i.id: match_topics(Article(url=f"http://127.0.0.1/{i.id}", source="topicset",
                                       title=i.title, text=i.text), topics) for i in items}


def per_topic(items: list[Item], got: dict[str, tuple[Match, ...]], names: list[str]) -> list[tuple]:
    rows = []
    for name in names:
        tp = fp = fn = 0
        for i in items:
            hit = any(m.topic == name for m in got[i.id])
            tp += hit and name in i.topics
            fp += hit and name not in i.topics | i.also
            fn += not hit and name in i.topics
        rows.append((name, tp, fp, fn, _ratio(tp, tp + fp), _ratio(tp, tp + fn)))
    return rows


def overall(items: list[Item], got: dict[str, tuple[Match, ...]]) -> tuple[int, int, int, int]:
    """(on-topic kept, on-topic total, off-topic matched, off-topic total)."""
    on = [i for i in items if i.on_topic]
    off = [i for i in items if not i.on_topic]
    return (sum(bool(got[i.id]) for i in on), len(on), sum(bool(got[i.id]) for i in off), len(off))


def _ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


def print_report(items: list[Item], got: dict[str, tuple[Match, ...]], names: list[str]) -> None:
    print(f"{'topic':<26}{'TP':>4}{'FP':>4}{'FN':>4}{'precision':>11}{'recall':>8}")
    for name, tp, fp, fn, p, r in per_topic(items, got, names):
        print(f"{name:<26}{tp:>4}{fp:>4}{fn:>4}{p:>11.2f}{r:>8.2f}")
    print()
    subsets = [("all", items)] + [(s, [i for i in items if i.script == s]) for s in sorted({i.script for i in items})]
    subsets += [(f"batch {b}", [i for i in items if i.batch == b]) for b in sorted({i.batch for i in items} - {""})]
    for label, subset in subsets:
        kept, on, bad, off = overall(subset, got)
        print(f"{label:<8} on-topic kept {kept:>3}/{on:<3} = {_ratio(kept, on):6.1%}   "
              f"off-topic matched {bad:>3}/{off:<3} = {_ratio(bad, off):6.1%}")


def print_failures(items: list[Item], got: dict[str, tuple[Match, ...]]) -> None:
    print("\nfailures (id: expected -> got [topic score terms])")
    for i in items:
        matched = {m.topic for m in got[i.id]}
        missing, extra = i.topics - matched, matched - i.topics - i.also
        if (i.on_topic and not matched) or (not i.on_topic and matched) or missing or extra:
            desc = " ".join(f"[{m.topic} {m.score} {'/'.join(m.terms)}]" for m in got[i.id]) or "-"
            print(f"{i.id}: {sorted(i.topics) or 'off-topic'} -> {desc}   | {i.title}")


def devset_report(root: Path, topics: tuple[Topic, ...], failures: bool) -> None:
    """Reference texts of the devset's real article pages (not synthetic, not duplicates)."""
    pages = [json.loads(x) for x in (root / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    pages = [p for p in pages if p["kind"] == "article" and not p["synthetic"] and not p["duplicate_of"]
             and (p.get("reference") or {}).get("text")]
    hits = []
    for p in pages:
        ref = p["reference"]
        got = match_topics(Article(url=p["url"] or "http://127.0.0.1/", source="devset",
                                   title=ref.get("title") or "", text=ref["text"]), topics)
        if got:
            hits.append((p, got))
    langs = Counter(p["language"] for p in pages)
    print(f"\ndevset: {len(hits)}/{len(pages)} reference texts match a topic ({dict(langs)})")
    if failures:
        for p, got in hits:
            desc = " ".join(f"[{m.topic} {m.score} {'/'.join(m.terms)}]" for m in got)
            print(f"  {p['path']}: {desc}   | {(p['reference'].get('title') or '')[:60]}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--settings", type=Path, default=ROOT / "settings.toml")
    ap.add_argument("--set", dest="set_path", type=Path, default=ROOT / "tests/topicset/labelled.jsonl")
    ap.add_argument("--failures", action="store_true", help="list every miss")
    ap.add_argument("--devset", type=Path, help="also match the devset's reference texts (../shared/devset)")
    args = ap.parse_args(argv)
    topics = load_settings(args.settings).topics
    items = load_items(args.set_path)
    got = run(items, topics)
    print(f"{len(items)} texts, {sum(i.on_topic for i in items)} on-topic; topics from {args.settings}\n")
    print_report(items, got, [t.name for t in topics])
    if args.failures:
        print_failures(items, got)
    if args.devset:
        devset_report(args.devset, topics, args.failures)


if __name__ == "__main__":
    main()
