"""`export`: the corpus as JSON Lines or CSV, filtered by first_seen and topic."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from corpus_factory import ARTICLES, MIDNIGHT, NOW
from sqlite_utils import Database

from crawler.browse.export import COLUMNS, export, since_bound
from crawler.errors import TopicwatchError


@pytest.fixture(scope="module")
def shared(corpus):
    """The shared corpus (conftest), opened through sqlite-utils as export opens it."""
    return Database(corpus.path)


def jsonl(db, **filters) -> list[dict]:
    out = io.StringIO()
    written = export(db, "jsonl", out, **filters)
    lines = out.getvalue().splitlines()
    assert written == len(lines)
    return [json.loads(line) for line in lines]


def titles(records) -> list[str]:
    return [r["title"] for r in records]


def oldest_first(*keys: str) -> list[str]:
    return [ARTICLES[k]["title"] for k in sorted(keys, key=lambda k: ARTICLES[k]["first_seen"])]


def test_jsonl_everything_oldest_first_with_json_values(shared):
    records = jsonl(shared)
    assert titles(records) == oldest_first(*ARTICLES)
    hant = next(r for r in records if r["source"] == "ithome-tw")
    assert list(hant) == list(COLUMNS)
    assert hant["topics"] == ["open-source", "compute"]
    assert hant["matched_terms"] == {"open-source": ["開源"], "compute": ["算力"]}
    assert hant["text"] == ARTICLES["hant"]["text"]


def test_since_a_date(shared):
    records = jsonl(shared, since=MIDNIGHT.date().isoformat())
    assert titles(records) == oldest_first("qwen", "qwen_echo", "compute")


def test_since_a_time_with_an_offset_is_compared_in_utc(shared):
    # the first_seen of `qwen_echo`, written in UTC+8: it and what came after it
    local = NOW.astimezone(dt.timezone(dt.timedelta(hours=8)))
    bound = since_bound(ARTICLES["qwen_echo"]["first_seen"])
    assert since_bound(local.isoformat()) == NOW.isoformat()
    assert titles(jsonl(shared, since=bound)) == oldest_first("qwen_echo", "compute")


def test_topic_filter(shared):
    assert titles(jsonl(shared, topic="compute")) == oldest_first("english", "hant", "compute")
    assert jsonl(shared, topic="no-such-topic") == []


def test_csv_round_trip(shared):
    out = io.StringIO(newline="")
    assert export(shared, "csv", out, topic="open-source") == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert [r["title"] for r in rows] == oldest_first("hant", "qwen", "qwen_echo")
    assert rows[1]["text"] == ARTICLES["qwen"]["text"]  # multi-line text survives
    assert json.loads(rows[0]["topics"]) == ["open-source", "compute"]


@pytest.mark.parametrize("since", ["yesterday", "2024-13-01", "2024/05/01"])
def test_bad_since_is_a_clean_error(shared, since):
    with pytest.raises(TopicwatchError, match="--since"):
        export(shared, "jsonl", io.StringIO(), since=since)


def test_unknown_format(shared):
    with pytest.raises(TopicwatchError, match="jsonl, csv"):
        export(shared, "xml", io.StringIO())
