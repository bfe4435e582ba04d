"""Nothing escapes decoding and extraction: any bytes or text become an Article or a
NotAnArticle with a reason. Property-based (Hypothesis): random bytes, random text, and our
own fixture pages mutated (characters inserted, spans cut or repeated, stray tags, controls),
plus the cases that crashed on the real web (lxml's drop_tree assertion, C0 controls,
binary bodies served as text/html, codec names that are not charsets)."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.extract import NotAnArticle, extract
from crawler.extract.core import _parse
from crawler.extract.htmlprep import prepare, visible_lines
from crawler.records import Article, Page
from crawler.text.binary import looks_binary, strip_controls
from crawler.text.charset import decode_body, normalise_label

PAGES = Path(__file__).parent / "pages"
SEEDS = [p.read_text(encoding="utf-8") for p in sorted(PAGES.glob("*.html"))]
FUZZ = settings(  # a deeper local run: TOPICWATCH_FUZZ_EXAMPLES=2000
    max_examples=int(os.environ.get("TOPICWATCH_FUZZ_EXAMPLES", "40")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
REASONS = {"empty", "too-short", "list-page", "error-page", "not-html"}

CONTENT_TYPES = st.sampled_from(
    [
        None,
        "text/html",
        "text/html; charset=utf-8",
        "text/html; charset=gbk",
        "text/html; charset=big5",
        "text/html; charset=idna",
        "text/html; charset=base64",
        "text/html; charset=utf-7",
        "text/html; charset=utf-16",
        "text/html; charset=undefined",
        "text/html; charset=shift_jis",
        "text/html; charset=",
        'text/html; charset="x-unknown"',
        "image/png",
    ]
)
OVERRIDES = st.sampled_from([None, "", "gb2312", "utf-8", "idna", "rot13", "nonsense", "utf-32"])
# Pieces of markup that break parsers: unbalanced tags, comments, CDATA, declarations,
# processing instructions, entities, controls, NULs, surrogates, non-characters.
# fmt: off
FRAGMENTS = st.sampled_from(
    [
        "<table>", "</table>", "<td>", "</tr>", "<form>", "</form>", "<br>", "<br/>", "<p>",
        "</p>", "<div>", "</div>", "<html>", "</html>", "<body>", "<head>", "<title>",
        "<!--", "-->", "<![CDATA[", "]]>", "<!DOCTYPE html>", '<?xml version="1.0"?>',
        "<?php echo 1; ?>", "<script>", "</script>", "<style>", "<noscript>", "<template>",
        '<script type="application/ld+json">{"@type":"NewsArticle","datePublished":',
        "[[[[[[[[[[", "&#0;", "&#x1b;", "&amp", "&#xD800;", "\x00", "\x1b[31m", "\x0b",
        "\x0c", "\ud800", "\ufffe", "\uffff", "\ufeff", "\u2028", "\r", "<a href='x'>",
        "<h1>", "</h1>", "<meta charset='gbk'>", '<meta property="og:type" content="website">',
        "<time datetime='2024-13-45'>", "发布时间：2024-02-30 25:61", "©2024",
    ]
)
# fmt: on


def outcome(html: str, url: str = "https://news.example.cn/a/1.html") -> str:
    """extract() on `html`: "article", or the NotAnArticle reason; anything else raises."""
    try:
        article = extract(Page(url=url, source="fuzz", html=html))
    except NotAnArticle as e:
        assert e.reason in REASONS, e.reason
        return e.reason
    assert isinstance(article, Article)
    assert strip_controls(article.text) == article.text
    return "article"


@st.composite
def mutated_page(draw: st.DrawFn) -> str:
    """One of our fixture pages with a few random edits."""
    html = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(html)))
        edit = draw(st.sampled_from(["insert", "text", "cut", "repeat", "truncate"]))
        if edit == "insert":
            html = html[:at] + draw(FRAGMENTS) + html[at:]
        elif edit == "text":
            html = html[:at] + draw(st.text(max_size=20)) + html[at:]
        elif edit == "cut":
            html = html[:at] + html[at + draw(st.integers(1, 400)) :]
        elif edit == "repeat":
            html = html[:at] + html[at : at + 200] * draw(st.integers(2, 5)) + html[at:]
        else:
            html = html[:at]
    return html


@FUZZ
@given(st.binary(max_size=3000), CONTENT_TYPES, OVERRIDES)
def test_decode_body_takes_any_bytes(body: bytes, content_type: str | None, override: str) -> None:
    text, encoding = decode_body(body, content_type, override)
    assert isinstance(text, str) and isinstance(encoding, str) and encoding


@FUZZ
@given(st.binary(max_size=3000), CONTENT_TYPES)
def test_extract_takes_any_bytes(body: bytes, content_type: str | None) -> None:
    text, _ = decode_body(body, content_type)
    outcome(text)


@FUZZ
@given(st.text(max_size=2000))
def test_extract_takes_any_text(text: str) -> None:
    outcome(text)


@FUZZ
@given(st.lists(FRAGMENTS | st.text(max_size=30), max_size=60))
def test_extract_takes_any_tag_soup(pieces: list[str]) -> None:
    outcome("".join(pieces))


@FUZZ
@given(mutated_page())
def test_extract_takes_mutated_pages(html: str) -> None:
    outcome(html)


@FUZZ
@given(mutated_page())
def test_prepare_and_visible_lines_take_mutated_pages(html: str) -> None:
    try:
        tree = _parse(html)
    except NotAnArticle:
        return
    prepare(tree)
    assert all(isinstance(line, str) and line for line in visible_lines(tree))


@FUZZ
@given(mutated_page(), st.integers(0, 2**31), st.sampled_from(["utf-8", "gb18030", "big5hkscs"]))
def test_mutated_pages_through_decoding(html: str, seed: int, codec: str) -> None:
    """Encoded in a charset, one byte flipped, decoded as a fetched page is."""
    body = bytearray(html.encode(codec, errors="replace"))
    if body:
        body[seed % len(body)] = seed % 256
    text, _ = decode_body(bytes(body), "text/html; charset=utf-8")
    outcome(text)


# -- the cases the real web showed ----------------------------------------------------------

ZH_PARAS = [
    "今年以来，国内多家云计算厂商相继下调大模型接口的调用价格，部分模型的价格降幅超过九成，中小企业使用大模型的门槛明显降低。",
    "业内人士分析，价格下降一方面得益于推理芯片和软件优化带来的成本下降，另一方面也反映出厂商希望尽快扩大用户规模、培养开发者生态。",
    "不过也有专家提醒，单纯的价格竞争难以持续，厂商最终还是要靠模型能力和行业解决方案赢得客户，尤其是在金融、制造和政务等对可靠性要求很高的领域。",
    "多位受访的创业者表示，更低的调用成本让他们可以在产品中更大胆地使用大模型，例如为每位用户提供个性化的写作助手和数据分析服务。",
]


def article_html(paras: list[str] = ZH_PARAS, before: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in paras)
    return (
        f"{before}<html><head><meta charset='utf-8'><title>云厂商再度下调大模型价格</title>"
        f"</head><body><h1>云厂商再度下调大模型价格</h1>{body}</body></html>"
    )


def test_a_comment_before_the_root_element_is_no_crash() -> None:
    """lxml's drop_tree asserts on an element without a parent: a comment outside <html>."""
    article = extract(
        Page(
            url="https://x.example.cn/1",
            source="t",
            html=article_html(
                before="<!-- saved from url=(0042)https://x.example.cn/ -->\n<!--[if IE]><![endif]-->"
            ),
        )
    )
    assert ZH_PARAS[0] in article.text


@pytest.mark.parametrize("control", ["\x01", "\x08", "\x0b", "\x0c", "\x0e", "\x1b[0m", "\x1f"])
def test_one_control_character_does_not_empty_the_article(control: str) -> None:
    paras = [ZH_PARAS[0][:10] + control + ZH_PARAS[0][10:], *ZH_PARAS[1:]]
    article = extract(Page(url="https://x.example.cn/1", source="t", html=article_html(paras)))
    first = ZH_PARAS[0][:10] + control.lstrip("\x01\x08\x0b\x0c\x0e\x1b\x1f") + ZH_PARAS[0][10:]
    assert article.text.split("\n") == [first, *ZH_PARAS[1:]]


def _png() -> bytes:
    rows = bytes(range(256)) * 40
    return (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"
        + zlib.compress(rows)
        + b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )


def _pdf() -> bytes:
    stream = zlib.compress("".join(ZH_PARAS).encode("utf-8") * 20)
    return (
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length "
        + str(len(stream)).encode()
        + b" /Filter /FlateDecode >>\nstream\n"
        + stream
        + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


@pytest.mark.parametrize(
    "body",
    [
        _png(),
        _pdf(),
        gzip.compress(article_html().encode("utf-8"), mtime=0),  # compressed twice
        b"PK\x03\x04" + bytes(200),
        bytes(range(256)) * 30,  # no signature, mostly control and high bytes
    ],
    ids=["png", "pdf", "gzip", "zip", "noise"],
)
@pytest.mark.parametrize("content_type", ["text/html", "text/html; charset=utf-8", None])
def test_binary_bodies_are_not_html_whatever_the_content_type(
    body: bytes, content_type: str | None
) -> None:
    assert looks_binary(body)
    text, _ = decode_body(body, content_type)
    assert looks_binary(text)
    assert outcome(text) == "not-html"


@pytest.mark.parametrize("content_type, body, reason", [
    ("application/octet-stream", "page", None),  # HTML sent as "some bytes": read as HTML
    ("binary/octet-stream", "page", None),
    ("application/octet-stream", "%PDF-1.7\n" + "x" * 500, "not-html"),
    ("image/png", "page", "not-html"),  # a type that names something else is believed
])
def test_html_sent_as_unspecific_bytes_is_read(content_type: str, body: str, reason: str | None) -> None:
    from crawler.analyse import analyse
    from crawler.config import Topic
    from crawler.records import Fetched

    page = article_html() if body == "page" else body
    fetched = Fetched(url="https://news.example.cn/a/1.html", source="s", status=200,
                      content_type=content_type, body=page.encode("utf-8"))
    verdict = analyse(fetched, [Topic(name="all", keep_all=True)])
    assert verdict.reason == reason and (verdict.item is not None) == (reason is None)


def test_text_with_a_stray_nul_or_escape_is_not_binary() -> None:
    html = article_html([ZH_PARAS[0] + "\x00", "\x1b[1m" + ZH_PARAS[1], *ZH_PARAS[2:]])
    assert not looks_binary(html) and not looks_binary(html.encode("utf-8"))
    assert outcome(html) == "article"


@pytest.mark.parametrize("label", ["idna", "base64", "rot13", "undefined", "utf-7", "zlib"])
def test_codec_names_that_are_not_charsets_are_ignored(label: str) -> None:
    assert normalise_label(label) is None
    body = f"<meta charset='{label}'><p>caf\xe9 {ZH_PARAS[0]}</p>".encode("gb18030")
    text, encoding = decode_body(body, f"text/html; charset={label}", label)
    assert encoding == "gb18030" and ZH_PARAS[0] in text


def test_deeply_nested_json_ld_and_markup_are_no_crash() -> None:
    head = '<script type="application/ld+json">' + "[" * 50000 + "]" * 50000 + "</script>"
    html = article_html().replace("</head>", head + "</head>")
    html = html.replace("<h1>", "<div>" * 3000 + "<h1>", 1)
    assert outcome(html) in {"article", "empty"}


def test_a_megabyte_title_falls_back_to_og_title_then_h1() -> None:
    huge = "大模型" * 350_000
    html = article_html().replace(
        "<title>云厂商再度下调大模型价格</title>", f"<title>{huge}</title>"
    )
    assert extract(Page(url="https://x.example.cn/1", source="t", html=html)).title == (
        "云厂商再度下调大模型价格"  # the <h1>
    )
    og = '<meta property="og:title" content="云厂商下调价格">'
    with_og = html.replace("</head>", og + "</head>").replace(
        "<h1>云厂商再度下调大模型价格</h1>", ""
    )
    assert extract(Page(url="https://x.example.cn/1", source="t", html=with_og)).title == (
        "云厂商下调价格"
    )


@pytest.mark.parametrize("via, listed_days_ago, kept", [
    ("feed", 1, True),            # the feed dates it yesterday: the page's old date is not believed
    ("news-sitemap", 1, True),
    ("search", 1, True),
    ("feed", 400, False),         # the feed says old too
    ("sitemap", 1, False),        # a plain sitemap's date is its lastmod, re-dated at will
    ("listing", None, False),     # nothing but the page's date
])
def test_a_page_dated_old_that_its_feed_lists_as_new_is_kept(via, listed_days_ago, kept) -> None:
    """A stale date on the page (a site's top bar, a wrong meta tag) must not lose a new
    article the feed dates within max_age_days (crawler/analyse.py `_listed_as_recent`)."""
    from datetime import UTC, datetime, timedelta

    from crawler.analyse import analyse
    from crawler.config import Topic
    from crawler.records import Entry, Fetched

    html = article_html().replace(
        "<title>", "<meta property='article:published_time' content='2015-03-02T08:00:00+08:00'><title>")
    listed = (None if listed_days_ago is None
              else (datetime.now(UTC) - timedelta(days=listed_days_ago)).isoformat(timespec="seconds"))
    url = "https://news.example.cn/a/1.html"
    fetched = Fetched(url=url, source="s", status=200, content_type="text/html",
                      body=html.encode("utf-8"), via=via,
                      entry=Entry(url=url, source="s", published=listed))
    verdict = analyse(fetched, [Topic(name="all", keep_all=True)], 30)
    assert verdict.article is not None and verdict.article.published.startswith("2015-03-02")
    assert (verdict.item is not None) == kept and (verdict.reason == "too-old") != kept
