"""decode_body: browser order, and right answers when the declared charset lies."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.text import charset
from crawler.text.charset import (
    decode_body,
    http_charset,
    meta_charset,
    normalise_label,
    plausibility,
)

HANS = (
    "阿里巴巴集团首席执行官在云栖大会上表示，下一代先进模型的研发投入将达到百亿美元级别，"
    "推理价格在一年内下降了九成以上，更多中小企业开始把大模型用到自己的业务中。"
)
HANT = (
    "沈向洋在外灘大會上指出，訓練前沿模型所需的算力每年都在成倍增長，高品質的公開文本正在"
    "逐漸被用完，產業界必須尋找新的數據來源，行業模型會在金融與醫療領域率先落地。"
)
FRENCH = "Le président a présenté un modèle d'intelligence artificielle très coûteux à l'été."


def html(body_text: str, meta: str | None = None) -> str:
    head = f'<meta charset="{meta}">' if meta else ""
    return f"<html><head>{head}<title>t</title></head><body><p>{body_text}</p></body></html>"


def test_utf8_bytes_declaring_gb2312_come_out_as_utf8() -> None:
    text = html(HANS, meta="gb2312")
    got, used = decode_body(text.encode("utf-8"), "text/html; charset=gb2312")
    assert (got, used) == (text, "utf-8")


@pytest.mark.parametrize(
    "content_type", [None, "text/html; charset=utf-8", "text/html; charset=big5", "text/html"]
)
def test_gbk_bytes_under_any_header(content_type: str | None) -> None:
    text = html(HANS, meta="utf-8")
    got, used = decode_body(text.encode("gbk"), content_type)
    assert (got, used) == (text, "gb18030")


def test_gb18030_only_characters_under_gb2312_label() -> None:
    text = html(HANS + "㐀䶵€", meta="gb2312")  # four-byte gb18030 sequences
    got, used = decode_body(text.encode("gb18030"))
    assert (got, used) == (text, "gb18030")


@pytest.mark.parametrize("content_type", ["text/html; charset=GBK", "text/html; charset=gb2312"])
def test_big5_bytes_under_gbk_header(content_type: str) -> None:
    text = html(HANT, meta="gbk")
    got, used = decode_body(text.encode("big5"), content_type)
    assert (got, used) == (text, "big5hkscs")


def test_gbk_bytes_under_big5_header() -> None:
    text = html(HANS)
    got, used = decode_body(text.encode("gbk"), "text/html; charset=big5")
    assert (got, used) == (text, "gb18030")


def test_honest_big5_and_hkscs() -> None:
    text = html(HANT + "香港特區：啲嘢", meta="big5")
    got, used = decode_body(text.encode("big5hkscs"))
    assert (got, used) == (text, "big5hkscs")


def test_short_gbk_text_under_utf8_header() -> None:
    text = "<p>大模型的算力</p>"
    got, used = decode_body(text.encode("gbk"), "text/html; charset=utf-8")
    assert (got, used) == (text, "gb18030")


def test_latin1_text_under_utf8_header_is_cp1252() -> None:
    text = html(FRENCH + " Prix : 10 €.")
    got, used = decode_body(text.encode("cp1252"), "text/html; charset=utf-8")
    assert (got, used) == (text, "cp1252")


def test_undeclared_latin_text_is_cp1252() -> None:
    got, used = decode_body(html(FRENCH).encode("cp1252"))
    assert (got, used) == (html(FRENCH), "cp1252")


def test_utf8_with_one_bad_byte_stays_utf8() -> None:
    body = html(HANS).encode("utf-8").replace(b"<title>t", b"<title>t\xff")
    got, used = decode_body(body, "text/html; charset=utf-8")
    assert used == "utf-8"
    assert HANS in got and got.count("\ufffd") == 1


def test_bom_wins_over_header() -> None:
    text = html(HANS)
    assert decode_body(b"\xef\xbb\xbf" + text.encode("utf-8"), "text/html; charset=gbk") == (
        text,
        "utf-8",
    )
    assert decode_body(b"\xff\xfe" + text.encode("utf-16-le")) == (text, "utf-16-le")


def test_override_is_obeyed_even_against_the_bytes() -> None:
    body = html(HANS).encode("gbk")
    assert decode_body(body, override="gbk") == (html(HANS), "gb18030")
    garbled, used = decode_body(body, override="big5")
    assert used == "big5hkscs" and garbled != html(HANS)


def test_declared_encoding_outside_judged_families_is_trusted() -> None:
    text = html("大規模言語モデルの推論コストは下がり続けている。", meta="shift_jis")
    got, used = decode_body(text.encode("shift_jis"))
    assert (got, used) == (text, "shift_jis")


def test_declarations_and_their_forms() -> None:
    body = b'<meta http-equiv="Content-Type" content="text/html; charset=GB2312">'
    assert meta_charset(body) == "gb18030"
    assert http_charset("text/html; charset=Big5") == "big5hkscs"
    assert http_charset("text/html") is None
    assert meta_charset(b'<?xml version="1.0" encoding="gbk"?><html/>') == "gb18030"
    assert meta_charset(b"<meta charset='utf-16'>") == "utf-8"
    assert meta_charset(b"<meta charset=bogus-label>") is None
    assert meta_charset(b"<p>no declaration</p>") is None


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("GB2312", "gb18030"),
        ("x-gbk", "gb18030"),
        ("BIG5", "big5hkscs"),
        ("ISO-8859-1", "cp1252"),
        ("UTF8", "utf-8"),
        ("koi8-r", "koi8-r"),
        ("nonsense", None),
        (None, None),
    ],
)
def test_normalise_label(label: str | None, codec: str | None) -> None:
    assert normalise_label(label) == codec


def _plausibility_by_character(text: str) -> float:
    """plausibility() written as a loop over the characters: the definition its C-speed
    counting must agree with."""
    common = charset._common() | charset._CJK_PUNCT
    n = good = bad = 0
    for run in re.findall(r"[^\x00-\x7f]+", text):
        for ch in run:
            n += 1
            code = ord(ch)
            if ch == "\ufffd" or 0xE000 <= code <= 0xF8FF or 0x80 <= code <= 0x9F:
                bad += 1
            elif ch in common:
                good += 1
            elif len(run) <= 3 and (ch in charset._LATIN_OK or 0xC0 <= code <= 0x24F):
                good += 1
        if n >= charset._SAMPLE_CHARS:
            break
    return 1.0 if n == 0 else (good - 3 * bad) / n


# ASCII, common and rare Han, CJK punctuation, accented Latin, typographic marks, C1 controls,
# private use, replacement characters; and long runs that reach the sample limit
_MIXED = st.text(st.sampled_from(list("a 1.大模型算力發展罕镕，。「」éüßÀ’—…·©\x85\x9f\ue000\ufffdЖ")) | st.characters(),
                 max_size=80)


@given(st.lists(_MIXED, max_size=6), st.integers(0, 3))
def test_plausibility_counts_as_the_character_loop_does(parts: list[str], long_runs: int) -> None:
    text = " ".join(parts) + " " + "大模型發展é" * 900 * long_runs  # past _SAMPLE_CHARS
    assert plausibility(text) == pytest.approx(_plausibility_by_character(text))


def test_plausibility_separates_text_from_mojibake() -> None:
    assert plausibility(HANS) > 0.8 and plausibility(HANT) > 0.8
    assert plausibility(HANT.encode("big5").decode("gb18030", "replace")) < 0.3
    assert plausibility(HANS.encode("gbk").decode("big5hkscs", "replace")) < 0.3
    assert plausibility(HANS.encode("gbk").decode("cp1252", "replace")) < 0.3
    assert plausibility("plain ascii") == 1.0
