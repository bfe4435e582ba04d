"""Chinese-aware search: the indexed form, the MATCH expressions, and what they find in a real
corpus file written by the store (articles_fts filled by corpus_store.insert_article)."""

from __future__ import annotations

import pytest
from sqlite_utils import Database

from crawler.store import fts


def found(corpus, query: str) -> set[str]:
    db = Database(corpus.path)
    rows = db.execute(
        "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?", [fts.fts_query(query)]
    ).fetchall()
    by_id = {v: k for k, v in corpus.ids.items()}
    return {by_id[r[0]] for r in rows}


def test_index_text_writes_folded_bigrams_and_leaves_english_alone():
    assert fts.index_text("開源大模型GPT-4o").split() == ["开源", "源大", "大模", "模型", "型", "gpt-4o"]
    assert fts.index_text("算").split() == ["算"]
    assert fts.index_text(None) == ""


@pytest.mark.parametrize("query, expected", [
    ("大模型", '"大模 模型"'),
    ("算力", '"算力"'),
    ("模", '"模" *'),
    ("Agent", '"agent" *'),
    ("AI", '"ai"'),
    ("qwen大模型", '"qwen" * "大模 模型"'),  # Han and Latin are separate words
    ("通义千问Qwen", '"通义 义千 千问" "qwen" *'),  # a Han word is never a prefix query
    ('"开源 模型"', '"开源 源 模型"'),  # the run's last character sits between the words
    ('"cut the cost"', '"cut the cost" *'),
    ("!! ，。", ""),
])
def test_fts_query(query, expected):
    assert fts.fts_query(query) == expected


@pytest.mark.parametrize("query, expected", [
    ("inference", {"english"}),
    ("GPU", {"english"}),
    ("agent", {"english"}),  # prefix: agents
    ("算力", {"qwen", "qwen_echo", "hant", "compute"}),
    ("开源", {"qwen", "qwen_echo", "hant"}),  # not `compute`, which has 开发 and 来源
    ("開源", {"qwen", "qwen_echo", "hant"}),
    ("大模型", {"qwen", "qwen_echo"}),  # not 扩散模型
    ("通义千问", {"qwen", "qwen_echo"}),
    ("通義千問", {"qwen", "qwen_echo"}),
    ("商业化", {"hant"}),
    ("模型", {"qwen", "qwen_echo", "hant", "compute"}),
    ("算力 开源", {"qwen", "qwen_echo", "hant"}),
    ('"cut the cost"', {"english"}),
    ('"the cut cost"', set()),
    ("量子", set()),
])
def test_search_finds(corpus, query, expected):
    assert found(corpus, query) == expected


def test_match_spans_are_offsets_into_the_original_text():
    text = "業界認為開源的AI agents改變了Said格局"
    spans = fts.match_spans(text, "开源 ai agent said")
    assert [text[s:e] for s, e in spans] == ["開源", "AI", "agents", "Said"]
    assert fts.match_spans("said", "ai") == []  # whole words for short English words


def test_match_spans_survive_folding_that_changes_length():
    text = "İstanbul……開源™ ＧＰＵ"  # İ lower-cases to two characters, … is NFKC "..."
    assert [text[s:e] for s, e in fts.match_spans(text, "开源 gpu")] == ["開源", "ＧＰＵ"]


def test_snippet_starts_at_the_paragraph_and_marks_every_match():
    text = "第一段与搜索无关，讲的是别的事情。" * 5 + "\n不過，開源模型的算力成本仍高。開源社群很活躍。"
    passage = fts.snippet(text, "开源", width=60)
    assert passage.startswith("…不過，<mark>開源</mark>模型")
    assert passage.count("<mark>開源</mark>") == 2


def test_snippet_drops_literal_mark_tags_and_falls_back_to_the_start():
    text = "正文里<mark>有</mark>一个标签。" + "后文" * 200
    assert "<mark>有</mark>" not in fts.snippet(text, "正文")
    assert fts.snippet(text, "标签").count("<mark>") == 1
    no_match = fts.snippet(text, "量子", width=30)
    assert no_match.startswith("正文里有一个标签") and no_match.endswith("…")
