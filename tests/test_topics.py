"""Topic matching: script/case folding, word boundaries, scoring, require/exclude."""

from __future__ import annotations

import pytest

from crawler.config import Topic, load_settings
from crawler.errors import ConfigError
from crawler.records import Article
from crawler.text.normalise import to_traditional
from crawler.topics import (
    CONTEXT_UNITS,
    context_score,
    explain,
    group_score,
    match_topics,
    parse_term,
)

BODY_ZH = (
    "本周的行业论坛上,几家云厂商都在谈算力价格。一家公司宣布旗下大模型的调用价格再降一半,"
    "并表示会继续开源中小尺寸的模型,方便企业在本地部署。\n"
    "与会者普遍认为,明年的重点是智能体:能自己拆解任务、调用工具的软件会先进入客服和财务流程。"
)
BODY_EN = (
    "Several cloud vendors said this week that the price of running large language models keeps "
    "falling. One of them will open-source two smaller models so that companies can run them on "
    "their own servers, and expects AI agents to take over routine office work next year."
)


def article(text: str, title: str = "会议纪要") -> Article:
    return Article(url="http://127.0.0.2:8123/a.html", source="test", title=title, text=text)


def topic(name: str = "t", terms=(("开源",),), min_score: float = 1.0, **kw) -> Topic:
    return Topic(name=name, terms=terms, min_score=min_score, **kw)


def found(text: str, term: str, title: str = "") -> bool:
    return bool(match_topics(article(text, title), [topic(terms=((term,),))]))


# -- folding ---------------------------------------------------------------------------------


def test_simplified_term_finds_traditional_text_and_back() -> None:
    trad = to_traditional(BODY_ZH)
    assert "開源" in trad and "开源" not in trad
    assert found(trad, "开源")
    assert found(BODY_ZH, "開源")
    assert found(trad, "智能體")


def test_case_and_width_fold() -> None:
    assert found("这家公司发布了新的llm。", "LLM")
    assert found("这家公司发布了新的ＬＬＭ。", "llm")
    assert found("Ｇｏｏｇｌｅ 的新模型", "google")


def test_pinyin_annotations_do_not_hide_terms() -> None:
    assert found("大模型正在成為新的熱點(diǎn),開(kāi)源社區很活躍。", "开源")


def test_chinese_terms_are_substrings_across_spaces() -> None:
    assert found("多模态大模型的训练成本", "大模型")
    assert found("开源 AI 模型越来越多", "开源AI模型")


# -- English words -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["He said so.", "They maintain the servers.", "Email the team.", "Kaiser"])
def test_ai_does_not_match_inside_words(text: str) -> None:
    assert not found(text, "AI")


@pytest.mark.parametrize("text", ["AI is here.", "用AI芯片训练", "the AI's answer", "(AI)", "ai-driven tools"])
def test_ai_matches_as_a_word(text: str) -> None:
    assert found(text, "AI")


def test_plurals_match_but_other_suffixes_need_a_star() -> None:
    assert found("Agents booked the trip.", "agent")
    assert found("Two GPUs were enough.", "GPU")
    assert found("Several agencies agreed.", "agency")
    assert not found("An agentic workflow.", "agent")
    assert found("An agentic workflow.", "agent*")
    assert found("the agent workflows ran", "agent workflow")


def test_phrases_ignore_hyphens_case_and_line_breaks() -> None:
    assert found("They will Open-Source the weights.", "open source")
    assert found("open\nsource models", "open source")
    assert not found("open the source file", "open source")


def test_parse_term_kinds() -> None:
    assert parse_term("開源").han == "开源"
    assert parse_term("Large Language Model").words == ("large", "language", "model")
    assert parse_term("agent*").prefix
    assert parse_term("++") is None


# -- scoring -----------------------------------------------------------------------------------


def test_group_score_rules() -> None:
    assert group_score(0, 0) == 0
    assert group_score(0, 1) == 1
    assert group_score(1, 0) == 2  # title only
    assert group_score(0, 3) == 1.5  # two more mentions: +0.25 each
    assert group_score(0, 50) == 2  # the repeat bonus is capped at +1
    assert group_score(2, 50) == 3


def test_score_sums_groups_and_names_them_by_their_first_term() -> None:
    t = topic(terms=(("大模型", "LLM", "large language model"), ("开源", "open source"), ("量子计算",)), min_score=2)
    [m] = match_topics(article(BODY_EN, title="Cloud prices"), [t])
    assert m.topic == "t"
    assert m.terms == ("大模型", "开源")  # English aliases found, group named by its first term
    assert m.score == 2.0


def test_title_counts_more_and_min_score_gates() -> None:
    t = topic(terms=(("算力",),), min_score=2)
    assert not match_topics(article(BODY_ZH, title="会议纪要"), [t])  # one mention in the text: 1
    [m] = match_topics(article(BODY_ZH, title="算力价格战"), [t])
    assert m.score == 2.0


def test_require_and_exclude() -> None:
    base = dict(terms=(("大模型",), ("开源",)), min_score=2)
    assert match_topics(article(BODY_ZH), [topic(**base)])
    assert match_topics(article(BODY_ZH), [topic(require=(("智能体", "agent"),), **base)])
    assert not match_topics(article(BODY_ZH), [topic(require=(("机器人", "robot"),), **base)])
    assert not match_topics(article(BODY_ZH), [topic(exclude=("客服",), **base)])
    assert not match_topics(article(BODY_ZH), [topic(exclude=(("彩票", "財務"),), **base)])  # 財務 folds to 财务


# -- negative terms ------------------------------------------------------------------------------

ROBOT = ("机器人", "robot", "-聊天机器人", "-扫地机器人", "-robot vacuum")


def robot_hits(text: str, title: str = "") -> float:
    [g] = explain(article(text, title), topic(terms=(ROBOT,)))["groups"]
    return g["title"] + g["text"]


def test_negative_terms_are_not_counted_inside_their_phrase() -> None:
    assert robot_hits("银行上线了新的聊天机器人。") == 0
    assert robot_hits("店铺促销的掃地機器人。") == 0  # folded like any term
    assert robot_hits("聊天机器人之外，工厂里的工业机器人也在增加。") == 1
    assert robot_hits("Deals on a robot vacuum and two robot vacuums, not on a robot arm.") == 1
    assert robot_hits("聊天 机器人 和 聊天机器人", title="机器人") == 1  # across spaces, like Han terms


def test_negative_terms_narrow_their_group_only() -> None:
    t = topic(terms=(ROBOT, ("聊天机器人", "chatbot")), min_score=1)
    [m] = match_topics(article("客服用的聊天机器人又升级了。"), [t])
    assert m.terms == ("聊天机器人",)
    named = topic(terms=(("-聊天机器人", "机器人"),), min_score=1)  # named by its first positive term
    assert match_topics(article("工业机器人"), [named])[0].terms == ("机器人",)


def test_a_group_of_negative_terms_only_is_ignored() -> None:
    t = topic(terms=(("-开源节流",), ("开源",)), min_score=1)
    assert match_topics(article("开源节流之外，公司开源了代码。"), [t])[0].terms == ("开源",)


# -- require_score: how much context a require group must bring ---------------------------------

AI = (("AI", "人工智能"),)
SHORT = "新款手机发布，支持AI修图。"  # one mention in a short text
FILLER = "这款手机的屏幕更亮，电池更大，充电更快，机身也更轻。" * 40  # about 1,000 Han characters


def test_context_score_counts_mentions_per_500_units_of_a_long_text() -> None:
    assert context_score(0, 1, 40) == 1  # a short text: one mention is enough
    assert context_score(0, 1, 2 * CONTEXT_UNITS) == 0.5  # a long one: its share
    assert context_score(0, 4, 2 * CONTEXT_UNITS) == 1.25  # two per 500 units
    assert context_score(1, 0, 10 * CONTEXT_UNITS) == 2  # the title is the title, however long


def test_require_score_zero_only_asks_that_the_group_is_found() -> None:
    t = topic(terms=(("手机",),), require=AI)
    assert match_topics(article(FILLER + SHORT), [t])


@pytest.mark.parametrize(("title", "text", "kept"), [
    ("新品", SHORT, True),  # a short flash that mentions AI
    ("新品", FILLER + SHORT, False),  # the same mention in passing in a long story
    ("AI手机新品", FILLER, True),  # in the title
    ("新品", FILLER + SHORT * 2 + "人工智能。", True),  # three mentions in ~1,000 units
    ("新品", FILLER, False),  # not at all
])
def test_require_score_one_asks_for_a_mention_per_500_units_or_the_title(title: str, text: str, kept: bool) -> None:
    t = topic(terms=(("手机",),), require=AI, require_score=1)
    assert bool(match_topics(article(text, title), [t])) is kept


def test_explain_shows_the_require_score() -> None:
    t = topic(terms=(("手机",),), require=AI, require_score=1)
    info = explain(article(FILLER + SHORT), t)
    assert not info["matched"] and info["require_score"] == 1
    [r] = info["require"]
    assert not r["found"] and 0 < r["score"] < 1


def test_keep_all_matches_everything_without_terms() -> None:
    [m] = match_topics(article("与主题无关的一段文字。"), [topic(terms=(), keep_all=True)])
    assert (m.score, m.terms) == (0.0, ())


def test_matches_sorted_by_score() -> None:
    low = topic("low", terms=(("开源",),), min_score=1)
    high = topic("high", terms=(("开源",), ("算力",), ("智能体",)), min_score=1)
    none = topic("none", terms=(("量子计算",),), min_score=1)
    got = match_topics(article(BODY_ZH), [low, none, high])
    assert [m.topic for m in got] == ["high", "low"]
    assert got[0].score == 3.0


def test_explain_shows_hits_per_group() -> None:
    t = topic(terms=(("算力",), ("量子计算",)), require=(("开源",),), exclude=("彩票",), min_score=2)
    info = explain(article(BODY_ZH, title="算力价格战"), t)
    assert info["matched"] and info["score"] == 2.0
    assert info["groups"][0] == {"terms": ["算力"], "title": 1, "text": 1, "score": 2.0}
    assert info["groups"][1]["score"] == 0
    assert info["require"] == [{"terms": ["开源"], "found": True, "score": 1.0}]
    assert info["excluded_by"] == []


def test_require_score_is_loaded_and_checked(tmp_path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[[topics]]\nname = "t"\nterms = ["手机"]\nrequire = [["AI"]]\nrequire_score = 1\n',
                    encoding="utf-8")
    [t] = load_settings(path).topics
    assert t.require_score == 1 and not match_topics(article(FILLER + SHORT), [t])
    path.write_text('[[topics]]\nname = "t"\nterms = ["手机"]\nrequire_score = -1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="require_score"):
        load_settings(path)


def test_topics_loaded_from_settings(tmp_path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(
        '[[topics]]\nname = "models"\nterms = [["大模型", "LLM"], "开源", ["agent", "智能体"]]\n'
        'exclude = ["彩票"]\nmin_score = 2\n\n'
        '[[topics]]\nname = "robots"\nterms = [["机器人", "robot"]]\n',
        encoding="utf-8",
    )
    topics = load_settings(path).topics
    got = match_topics(article(to_traditional(BODY_ZH)), topics)
    assert [(m.topic, m.terms) for m in got] == [("models", ("大模型", "开源", "agent"))]
