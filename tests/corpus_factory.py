"""A small real corpus file, written with the store's own functions, for the browse, search
and export tests.  Every text here was written for these tests.

Articles (keys of `Corpus.ids`):
- `qwen`      Simplified, today: 通义千问, 开源, 大模型, 算力; story `qwen` origin, one copy
- `qwen_echo` Simplified, today, another source, same story as `qwen`
- `hant`      Traditional, 2 days ago: 開源, 模型, 商業化, 算力
- `compute`   Simplified, today: 算力 but neither 开源 (only 开发/来源) nor 大模型 (扩散模型)
- `english`   English, 10 days ago: inference, GPU, agents, open-source
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from crawler.store import corpus as store_corpus
from crawler.store import runs
from crawler.store.db import open_db
from crawler.text.normalise import detect_script, normalise_for_hash

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
MIDNIGHT = NOW.replace(hour=0, minute=0, second=0)


def today(minutes_ago: int) -> str:
    """A time today (UTC), never before midnight whatever the time the tests run, and in the
    same order as `minutes_ago` even when the tests run just after midnight: both terms fall
    as `minutes_ago` grows, so their maximum does too."""
    assert 0 <= minutes_ago < 60
    return max(NOW - dt.timedelta(minutes=minutes_ago),
               MIDNIGHT + dt.timedelta(seconds=60 - minutes_ago)).isoformat()


def days_ago(days: int) -> str:
    return (NOW - dt.timedelta(days=days)).isoformat()


ARTICLES = {
    "qwen": dict(
        source="36kr", url="https://36kr.example/p/1001", language="zh",
        title="阿里云发布通义千问新版本，开源大模型再提速",
        text="阿里云周四发布通义千问的新版本，并宣布继续开源多个尺寸的大模型。\n"
             "公司表示，新模型在推理效率上提升明显，对算力的需求下降约三成。\n"
             "多位开发者认为，开源生态正在改变国内大模型的竞争格局。",
        topics={"llm-industry": ["通义千问", "大模型"], "open-source": ["开源"]},
        first_seen=today(30), published="2024-05-09T10:00:00+08:00"),
    "qwen_echo": dict(
        source="sina-tech", url="https://tech.sina.example/a/2002", language="zh",
        title="通义千问新版本发布 开源大模型提速",
        text="据报道，阿里云发布通义千问新版本，继续开源多个尺寸的大模型，推理效率提升，算力需求下降。",
        topics={"llm-industry": ["通义千问", "大模型"], "open-source": ["开源"]},
        first_seen=today(20), published="2024-05-09T11:30:00+08:00"),
    "hant": dict(
        source="ithome-tw", url="https://ithome.example/news/3003", language="zh",
        title="業界熱議開源模型的商業化路徑",
        text="多家新創公司表示，開源模型降低了進入門檻。\n"
             "不過，算力成本與資料品質仍是商業化的主要挑戰。",
        topics={"open-source": ["開源"], "compute": ["算力"]},
        first_seen=days_ago(2), published="2024-05-07T09:00:00+08:00"),
    "compute": dict(
        source="jiqizhixin", url="https://jiqizhixin.example/articles/4004", language="zh",
        title="智算中心扩容，算力租赁价格回落",
        text="多地智算中心完成扩容，算力租赁价格较年初回落。\n"
             "开发者表示，扩散模型的训练成本随之下降；数据来源为行业调研。",
        topics={"compute": ["算力"]},
        first_seen=today(10), published="2024-05-09"),
    "english": dict(
        source="scmp", url="https://scmp.example/tech/5005", language="en",
        title="Chinese labs race to cut inference costs",
        text="Several Chinese labs said they had cut the cost of inference on domestic GPU clusters.\n"
             "Engineers are building agents on top of open-source models, one researcher said.",
        topics={"llm-industry": ["inference"], "compute": ["GPU"]},
        first_seen=days_ago(10), published="2024-04-30T08:00:00+00:00"),
}


@dataclass
class Corpus:
    path: Path
    ids: dict[str, int]
    story_ids: dict[str, int]


def _row(key: str, spec: dict, run_id: int) -> dict:
    script = detect_script(spec["text"]) if spec["language"] == "zh" else None
    return {
        "url": spec["url"], "canonical_url": spec["url"], "source": spec["source"],
        "title": spec["title"], "text": spec["text"], "language": spec["language"],
        "script": script, "published": spec["published"], "published_day": spec["published"][:10],
        "topics": json.dumps(list(spec["topics"]), ensure_ascii=False),
        "matched_terms": json.dumps(spec["topics"], ensure_ascii=False),
        "scores": json.dumps({t: 2.0 + len(terms) for t, terms in spec["topics"].items()}),
        "content_hash": normalise_for_hash(spec["text"])[:40], "first_seen": spec["first_seen"],
        "run_id": run_id, "description": None, "author": None,
    }


def _add_runs(db) -> int:
    """Three runs: `broken` fails in all of them (flagged), `ithome-tw` only in the last."""
    run_ids = []
    for n in range(3):
        run_id = runs.start_run(db, "test", ["36kr", "ithome-tw", "broken"])
        runs.record_source_run(db, run_id, "36kr", {"fetched": 5, "new": 2 - n % 2}, ok=True)
        runs.record_source_run(db, run_id, "ithome-tw", {"fetched": 3, "new": 1}, ok=n < 2)
        runs.record_source_run(db, run_id, "broken", {"errors": 1}, ok=False)
        runs.finish_run(db, run_id, "ok")
        run_ids.append(run_id)
    return run_ids[-1]


def build_corpus(path: Path) -> Corpus:
    """Write the corpus to `path` with store.open_db and the store's insert functions."""
    db = open_db(path)
    run_id = _add_runs(db)
    ids: dict[str, int] = {}
    stories: dict[str, int] = {}
    for key, spec in ARTICLES.items():
        with db.atomic():
            ids[key] = store_corpus.insert_article(db, _row(key, spec, run_id))
            story = stories["qwen"] if key == "qwen_echo" else store_corpus.new_story(
                db, ids[key], spec["title"], spec["first_seen"])
            stories.setdefault(key, story)
            store_corpus.set_story(db, ids[key], story)
    store_corpus.insert_copy(db, url="https://www.163.example/tech/9009", source="163-tech",
                      article_id=ids["qwen"], kind="exact", title=ARTICLES["qwen"]["title"],
                      run_id=run_id, first_seen=today(5))
    db.close()
    return Corpus(path=path, ids=ids, story_ids=stories)
