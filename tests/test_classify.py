"""Article or list page, judged by what the page is (crawler/classify.py through extract()):
articles buried in link blocks stay articles, news briefs under a dated headline stay
articles, list pages with or without summaries are refused, and metadata and the way a page
was found (Page.via) move the line without replacing the structure."""

from __future__ import annotations

import re

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from crawler.extract import NotAnArticle, extract
from crawler.extract.classify import (
    _BLOCK_TAGS,
    _SKIP_TAGS,
    Layout,
    Line,
    Signals,
    _flush,
    drop_link_lines,
    list_reason,
    page_lines,
    page_text,
    size,
)
from crawler.extract.core import _parse
from crawler.extract.htmlprep import prepare, visible_lines
from crawler.records import Article, Page
from crawler.text.normalise import HAN, clean_spaces, strip_pinyin

ZH = [
    "多家云服务商本周宣布下调大模型推理接口的价格，其中几款常用模型的输入价格降到了每百万词元一元以下。",
    "分析人士认为，降价的底气来自推理芯片利用率的提升和批处理调度的改进，单位算力的成本在一年内下降了一半以上。",
    "也有开发者表示，价格只是选择平台时的考量之一，模型在长文本和工具调用上的稳定性同样重要，迁移成本也不容忽视。",
    "业内预计，随着更多开源模型达到商用水平，云厂商之间的竞争会从价格转向服务质量、数据合规和行业方案的完整程度。",
]
EN = [
    "Three cloud providers cut the list prices of their hosted language models this week, the third round of reductions this year.",
    "Engineers at two of the companies said better batching and higher accelerator utilisation had roughly halved the cost of serving each request.",
    "Customers interviewed for this story said price was only one factor, and that reliability on long documents mattered as much to them.",
    "Analysts expect competition to shift toward service quality, data residency and industry tooling once open models close the remaining gap.",
]
HEADLINES_ZH = [
    "国产推理芯片出货量创新高",
    "多地发布算力中心建设规划",
    "开源模型社区月活突破千万",
    "机器人企业完成新一轮融资",
    "智能体应用进入企业办公场景",
    "数据标注行业迎来薪资上涨",
    "大模型备案数量持续增加",
    "高校开设人工智能通识课程",
    "自动驾驶出租车扩大试点范围",
    "边缘设备运行小模型成为趋势",
    "云厂商发布新一代训练集群",
    "医疗影像模型通过临床评审",
]
HEADLINES_EN = [
    "Chip maker doubles output of inference accelerators",
    "City council approves a second data centre campus",
    "Open model community passes ten million monthly users",
    "Robotics start-up closes a new funding round",
    "Agents move from demos into office software",
    "Annotation workers see wages rise for a third year",
    "Regulator publishes its list of registered models",
    "Universities add an introductory course on machine learning",
    "Driverless taxis expand to two more districts",
    "Small models on phones become the default",
    "Cloud provider unveils its next training cluster",
    "Imaging model passes a clinical review",
]
NAV_ZH = "".join(
    f"<a href='/c{i}/'>{n}</a> "
    for i, n in enumerate("首页 新闻 科技 财经 汽车 房产 体育 娱乐".split())
)
NAV_EN = "".join(
    f"<a href='/{n.lower()}/'>{n}</a> " for n in "Home World Business Tech Science Sport".split()
)


def page(
    body: str,
    head: str = "",
    lang: str = "zh-CN",
    via: str | None = None,
    url: str = "https://news.example.cn/a/77.html",
) -> Page:
    html = (
        f"<html lang='{lang}'><head><meta charset='utf-8'>{head}</head><body>{body}</body></html>"
    )
    return Page(url=url, source="t", html=html, via=via)


def link_list(headlines: list[str], dated: bool = True) -> str:
    items = "".join(
        f"<li><a href='/a/{i}.html'>{h}</a>{' <span>2024-09-1' + str(i % 10) + '</span>' if dated else ''}</li>"
        for i, h in enumerate(headlines)
    )
    return f"<ul>{items}</ul>"


def outcome(p: Page) -> str:
    try:
        extract(p)
    except NotAnArticle as e:
        return e.reason
    return "article"


# -- articles in heavy link blocks stay articles ---------------------------------------------


def portal_article(paras: list[str], byline: str = "2024年09月20日 10:15 来源：星河资讯") -> str:
    """A portal page: navigation, breadcrumb, the story, then three blocks of headline links."""
    body = "".join(f"<p>{p}</p>" for p in paras)
    return (
        f"<div class='nav'>{NAV_ZH}</div><div class='crumb'><a href='/'>首页</a> &gt; "
        "<a href='/tech/'>科技</a> &gt; 正文</div><h1>云服务商再度下调大模型推理价格</h1>"
        f"<div class='info'>{byline}</div><div class='content'>{body}</div>"
        f"<div class='related'><h3>相关新闻</h3>{link_list(HEADLINES_ZH[:6])}</div>"
        f"<div class='hot'><h3>热点排行</h3>{link_list(HEADLINES_ZH[6:])}</div>"
        f"<div class='more'><h3>推荐阅读</h3>{link_list(HEADLINES_ZH[::-1])}</div>"
    )


def test_article_among_many_headline_links_is_kept_without_them() -> None:
    article = extract(
        page(portal_article(ZH), "<title>云服务商再度下调大模型推理价格_科技</title>")
    )
    assert article.text.split("\n") == ZH
    assert article.published == "2024-09-20T10:15:00+08:00"


def test_a_dated_news_brief_under_its_headline_is_an_article() -> None:
    brief = [ZH[0], ZH[1][:30] + "。"]  # about 80 Han characters: under MIN_HAN_CHARS
    p = page(portal_article(brief), "<title>云服务商再度下调大模型推理价格</title>")
    article = extract(p)
    assert article.text.split("\n") == brief
    undated = portal_article(brief, byline="来源：星河资讯")
    assert outcome(page(undated)) == "list-page"  # short, undated, among 30 headline links
    assert outcome(page(undated, via="feed")) == "article"  # a feed said it is an article
    assert outcome(page(undated, url="https://news.example.cn/2024/09/20/77.html")) == "article"


def test_article_with_many_inline_links_and_a_see_also_list_is_kept() -> None:
    """An encyclopedia-style page: links in every sentence, then lists of links."""
    linked = [
        " ".join(
            f"<a href='/wiki/{w}'>{w}</a>" if i % 4 == 0 else w for i, w in enumerate(p.split())
        )
        for p in EN
    ]
    body = (
        f"<div>{NAV_EN}</div><h1>Model pricing</h1>"
        + "".join(f"<p>{p}</p>" for p in linked * 2)
        + f"<h2>See also</h2>{link_list(HEADLINES_EN, dated=False)}"
        + f"<h2>Further reading</h2>{link_list(HEADLINES_EN[::-1], dated=False)}"
    )
    article = extract(page(body, "<title>Model pricing</title>", lang="en"))
    assert EN[3].split()[1] in article.text and HEADLINES_EN[0] not in article.text


def test_roundup_article_with_a_few_linked_subheads_is_kept() -> None:
    """A daily briefing: four linked subheads each with a paragraph is still one article."""
    parts = "".join(
        f"<h3><a href='/a/{i}.html'>{HEADLINES_ZH[i]}</a></h3><p>{p}</p>" for i, p in enumerate(ZH)
    )
    body = f"<div>{NAV_ZH}</div><h1>今日人工智能要闻汇总</h1><div>2024-09-20 08:00</div>{parts}"
    assert outcome(page(body, "<title>今日人工智能要闻汇总</title>")) == "article"


# -- list pages are refused --------------------------------------------------------------------


def test_rolling_news_page_is_a_list_page() -> None:
    """Dated, categorised headline links: the dates and labels do not make them prose."""
    rows = "".join(
        f"<li>(2024-09-20 1{i % 10}:0{i % 6}:00)[科技] <a href='/a/{i}.html'>{h}</a></li>"
        for i, h in enumerate(HEADLINES_ZH * 3)
    )
    body = f"<div>{NAV_ZH}</div><h2>滚动新闻</h2><ul class='rolling'>{rows}</ul><p>共36条 第1页</p>"
    with pytest.raises(NotAnArticle) as caught:
        extract(page(body, "<title>滚动新闻_星河资讯</title>"))
    assert caught.value.reason == "list-page"


def teaser_page(n: int, head: str = "", via: str | None = None, own: int = 0) -> Page:
    """A section page: n headline links, each with a summary under it, after `own` sets of
    the page's own paragraphs (a featured story)."""
    items = "".join(
        f"<div class='item'><h3><a href='/s/{i}'>{HEADLINES_EN[i % 12]} ({i})</a></h3>"
        f"<p>{EN[i % 4][:-1]}, says report {i}.</p><span>Sept. {10 + i}, 2024</span></div>"
        for i in range(n)
    )
    lead = "".join(f"<p>{p} ({j})</p>" for j in range(own) for p in EN)
    body = f"<div>{NAV_EN}</div><h1>Technology</h1><div class='lead'>{lead}</div>{items}"
    return page(body, "<title>Technology - Example News</title>" + head, lang="en", via=via)


def test_section_page_of_teasers_is_a_list_even_when_it_says_article() -> None:
    assert outcome(teaser_page(12)) == "list-page"
    og = '<meta property="og:type" content="article">'
    assert outcome(teaser_page(12, og, via="feed")) == "list-page"


def test_collection_metadata_lowers_the_bar() -> None:
    collection = '<script type="application/ld+json">{"@type": "CollectionPage"}</script>'
    assert outcome(teaser_page(4)) == "article"
    assert outcome(teaser_page(4, collection)) == "list-page"
    website = '<meta property="og:type" content="website">'  # a blog's index page
    assert outcome(teaser_page(5)) == "article"
    assert outcome(teaser_page(5, website)) == "list-page"


def test_a_feed_listing_protects_a_featured_story_with_teasers_below_it() -> None:
    """Eight paragraphs of its own, ten teasers (56 % of the text): a list page unless a
    feed called it an article or its metadata says article."""
    assert outcome(teaser_page(10, own=2)) == "list-page"
    assert outcome(teaser_page(10, own=2, via="feed")) == "article"
    article = '<script type="application/ld+json">{"@type": "NewsArticle"}</script>'
    assert outcome(teaser_page(10, article, own=2)) == "article"
    assert outcome(teaser_page(10, article, via="news-sitemap")) == "list-page"  # all teasers


# -- the pieces --------------------------------------------------------------------------------


def test_size_counts_cjk_characters_and_thirds_of_other_letters() -> None:
    assert size("大模型") == 3
    assert size("abc def") == 2
    assert size("2024-09-20 12:00 | >>") == 0


# the plain definitions the fast paths of size() and clean_spaces() must agree with
_CJK = re.compile(f"[{HAN}\u3040-\u30ff\uac00-\ud7af]")
_LETTER = re.compile(r"[^\W\d_]")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
# ASCII (the fast path), Han, kana, accented letters and every kind of space and line break
_TEXT = st.text(st.sampled_from(list("aZ09 _-.|\t\n\r\x0b\x0c\x1c\x85\u2028\u00a0\u3000\u2002"
                                     "大模型算力のカ한글éß")) | st.characters(), max_size=60)


@given(_TEXT)
def test_size_is_the_plain_count_of_letters(text: str) -> None:
    cjk = len(_CJK.findall(text))
    assert size(text) == pytest.approx(cjk + (len(_LETTER.findall(text)) - cjk) / 3)


@given(_TEXT)
def test_clean_spaces_is_the_plain_line_by_line_cleaning(text: str) -> None:
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    assert clean_spaces(text) == "\n".join(out).strip()


def test_page_lines_skip_blank_runs_but_keep_spaces_between_words() -> None:
    tree = _parse("<html><body><div>\n   <p>  <a href='/a'>Open</a> <b>models</b>\n</p>   "
                  "<p> \u3000 </p><span>cost</span><em> less</em></div></body></html>")
    lines = page_lines(tree)
    assert [line.text for line in lines] == ["Open models", "cost less"]
    assert lines[0].link == pytest.approx(size("Open") / size("Open models"))
    assert lines[1].link == 0


def test_page_lines_measure_link_text_by_letters() -> None:
    tree = _parse(
        "<body><p>(2024-09-20)[科技] <a href='/1'>国产推理芯片出货量创新高</a></p>"
        "<p>正文第一段，<a href='/x'>链接</a>只占一小部分的一句话。</p></body>"
    )
    first, second = page_lines(tree)
    assert first.is_headline and first.link == pytest.approx(12 / 14)
    assert second.is_prose is False and second.link < 0.3  # a sentence, but short


def test_drop_link_lines_keeps_prose_and_drops_menus() -> None:
    tree = _parse(f"<body><div>{NAV_ZH}</div>{link_list(HEADLINES_ZH[:3])}<p>{ZH[0]}</p></body>")
    layout = Layout(page_lines(tree))
    text = "\n".join(
        ["首页 新闻 科技 财经 汽车 房产 体育 娱乐", f"- {HEADLINES_ZH[0]} 2024-09-10", ZH[0]]
    )
    assert drop_link_lines(text, layout) == ZH[0]


def test_list_reason_needs_enough_prose_or_enough_headlines() -> None:
    tree = _parse(f"<body>{link_list(HEADLINES_ZH[:5])}<p>{ZH[0]}</p></body>")
    layout = Layout(page_lines(tree))
    assert list_reason(ZH[0], False, layout, Signals()) is None  # too short, but no list
    tree = _parse(f"<body>{link_list(HEADLINES_ZH)}<p>{ZH[0]}</p></body>")
    assert list_reason(ZH[0], False, Layout(page_lines(tree)), Signals()) is not None


def test_signals() -> None:
    assert Signals(frozenset({"newsarticle"})).says_article
    assert Signals(og_type="Article").says_article
    assert Signals(frozenset({"collectionpage", "breadcrumblist"})).says_list
    assert not Signals(frozenset({"collectionpage", "blogposting"})).says_list


def test_a_kept_page_is_an_article_record() -> None:
    assert isinstance(extract(page(portal_article(ZH))), Article)


def test_a_paragraph_also_linked_from_a_sidebar_stays_in_the_text() -> None:
    """The lead paragraph doubles as this story's teaser in a "top stories" box."""
    box = f"<div class='top'><a href='/a/77.html'>{ZH[0]}</a></div>"
    article = extract(
        page(box + portal_article(ZH), "<title>云服务商再度下调大模型推理价格</title>")
    )
    assert article.text.split("\n") == ZH


# page_text walks the tree once for what two walks gave: the block lines and the visible lines.
# These are those two walks, written plainly, as they were before they were joined.
def _walked_lines(tree: lxml.html.HtmlElement) -> list[Line]:
    body = tree.find("body")
    lines: list[Line] = []
    run: list[tuple[str, bool]] = []
    in_link = skip = 0
    for event, el in etree.iterwalk(body if body is not None else tree, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in _BLOCK_TAGS and run:
            _flush(run, lines)
        if tag == "a":
            in_link += 1 if event == "start" else -1
        elif tag in _SKIP_TAGS:
            skip += 1 if event == "start" else -1
        text = (el.text if tag else None) if event == "start" else el.tail
        if text and not skip and (run or not text.isspace()):
            run.append((text, in_link > 0))
    if run:
        _flush(run, lines)
    return lines


def _walked_visible(tree: lxml.html.HtmlElement) -> list[str]:
    body = tree.find("body")
    parts: list[str] = []
    for event, el in etree.iterwalk(body if body is not None else tree, events=("start", "end")):
        if not isinstance(el.tag, str) or el.tag == "script":
            if event == "end" and el.tail:
                parts.append(el.tail)
            continue
        if el.tag in _BLOCK_TAGS - {"caption", "summary"}:
            parts.append("\n")
        parts.append((el.text or "") if event == "start" else (el.tail or ""))
    return [line for line in clean_spaces(strip_pinyin("".join(parts))).split("\n") if line]


_WORDS = st.sampled_from(["", " ", "  \n ", "\u3000", "Open models", "大模型算力", "(dà mó xíng)",
                          "成本下降。", "cost", "&amp;", "x\ny", "张三 (Zhāng Sān)", "\t"])
_HTML_TAGS = ["p", "div", "a", "b", "span", "li", "ul", "h1", "td", "tr", "table", "caption",
              "summary", "details", "select", "option", "button", "script", "br", "section", "em"]


@st.composite
def _node(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(st.sampled_from(["element"] * 5 + ["comment", "text"]))
    if kind == "comment":
        return f"<!--{draw(_WORDS)}-->{draw(_WORDS)}"
    if kind == "text" or depth > 3:
        return draw(_WORDS)
    tag = draw(st.sampled_from(_HTML_TAGS))
    attrs = ' type="application/ld+json"' if tag == "script" and draw(st.booleans()) else ""
    inner = "".join(draw(st.lists(_node(depth + 1), max_size=3)))
    return f"<{tag}{attrs}>{draw(_WORDS)}{inner}</{tag}>{draw(_WORDS)}"


@settings(max_examples=300, deadline=None)
@given(st.lists(_node(), min_size=1, max_size=5), st.booleans(), st.booleans())
def test_page_text_is_the_two_walks_it_replaces(nodes: list[str], with_body: bool, prepared: bool) -> None:
    page = "".join(nodes)
    tree = _parse(f"<html><head><title>t</title></head><body>{page}</body></html>" if with_body
                  else f"<div>{page}</div>")
    if tree is None:
        return
    if prepared:
        prepare(tree)
    assert page_text(tree) == (_walked_lines(tree), _walked_visible(tree))
    assert page_lines(tree) == _walked_lines(tree) and visible_lines(tree) == _walked_visible(tree)
