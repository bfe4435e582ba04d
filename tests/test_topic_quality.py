"""The shipped topics on the team's labelled set (tests/topicset/labelled.jsonl): they keep
on-topic stories and leave off-topic tech stories alone, in every script and every facet.

These are the goals of the shipped settings.toml: an edit to its [[topics]] that breaks them
fails here.  `benchmarks/topic_quality.py --failures` shows which texts go wrong and why.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from crawler.config import load_settings
from crawler.records import Article
from crawler.topics import match_topics

ROOT = Path(__file__).resolve().parent.parent
TOPICS = load_settings(ROOT / "settings.toml").topics
ITEMS = [json.loads(line) for line in (ROOT / "tests/topicset/labelled.jsonl").read_text(encoding="utf-8").splitlines()
         if line.strip()]
SCRIPTS = ("zh-Hans", "zh-Hant", "en")


def matched(item: dict) -> set[str]:
    article = Article(url=f"http://127.0.0.1/{item['id']}", source="topicset", title=item["title"], text=item["text"])
    return {m.topic for m in match_topics(article, TOPICS)}


GOT = {item["id"]: matched(item) for item in ITEMS}


def rates(items: list[dict]) -> tuple[float, float]:
    """(share of on-topic texts that kept a topic, share of off-topic texts that matched one)."""
    on = [i for i in items if i["topics"]]
    off = [i for i in items if not i["topics"]]
    return (sum(bool(GOT[i["id"]]) for i in on) / len(on), sum(bool(GOT[i["id"]]) for i in off) / len(off))


def test_the_set_is_big_enough_and_balanced() -> None:
    assert len(ITEMS) >= 150 and len({i["id"] for i in ITEMS}) == len(ITEMS)
    per_script = Counter((i["script"], bool(i["topics"])) for i in ITEMS)
    assert all(per_script[(s, on)] >= 30 for s in SCRIPTS for on in (True, False)), per_script
    labelled = Counter(t for i in ITEMS for t in i["topics"])
    assert set(labelled) == {t.name for t in TOPICS} and min(labelled.values()) >= 5, labelled


def test_goals_on_the_whole_set() -> None:
    kept, false_positive = rates(ITEMS)
    assert kept >= 0.95, f"on-topic kept {kept:.1%}"
    assert false_positive <= 0.05, f"off-topic matched {false_positive:.1%}"


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_is_served(script: str) -> None:
    kept, false_positive = rates([i for i in ITEMS if i["script"] == script])
    assert kept >= 0.9 and false_positive <= 0.1, (script, kept, false_positive)


@pytest.mark.parametrize("topic", [t.name for t in TOPICS])
def test_every_facet_means_something(topic: str) -> None:
    """Precision: a facet is not set on texts about something else; recall: it is set on the
    texts about it."""
    hits = [i for i in ITEMS if topic in GOT[i["id"]]]
    wrong = [i["id"] for i in hits if topic not in i["topics"] + i.get("also", [])]
    labelled = [i for i in ITEMS if topic in i["topics"]]
    missed = [i["id"] for i in labelled if topic not in GOT[i["id"]]]
    assert len(wrong) <= 0.1 * len(hits), (topic, wrong)
    assert len(missed) <= 0.2 * len(labelled), (topic, missed)


def test_names_acronyms_and_lookalikes_alone_never_match() -> None:
    """The traps of the brief: a company or person name, AGI the news agency, chatbots and robot
    vacuums as robots, 开源节流, fashion and car models: none of these texts matches a topic."""
    traps = ("big-tech", "AGI", "ASI", "chatbot", "robot-vacuum", "开源节流", "model", "phone")
    texts = [i for i in ITEMS if not i["topics"] and any(t in i["trap"] for t in traps)]
    assert len(texts) >= 25
    assert {i["id"]: GOT[i["id"]] for i in texts if GOT[i["id"]]} == {}
