"""extract(): fixture pages with expected outputs (tests/pages/<name>.html + .json), then
focused cases for dates, titles, junk lines, language and refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawler.extract import NotAnArticle, extract
from crawler.extract.core import _parse, _strip_site_suffix
from crawler.extract.htmlprep import prepare
from crawler.extract.junklines import drop_junk_lines
from crawler.records import Article, Page
from crawler.text.charset import decode_body

PAGES = Path(__file__).parent / "pages"
FIXTURES = sorted(p.stem for p in PAGES.glob("*.html"))
FIELDS = (
    "title",
    "published",
    "author",
    "original_source",
    "language",
    "script",
    "site_name",
    "canonical_url",
    "description",
)


def load(name: str) -> tuple[Page, dict[str, Any]]:
    expected = json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))
    html = (PAGES / f"{name}.html").read_text(encoding="utf-8")
    serve = expected.get("serve")
    encoding = "utf-8"
    if serve:  # the page as a lying server sends it: bytes in one charset, header naming another
        html, encoding = decode_body(html.encode(serve["encoding"]), serve["content_type"])
        assert encoding == serve["decoded_as"]
    page = Page(
        url=expected["url"],
        source="fixture",
        html=html,
        encoding=encoding,
        fetched_at="2024-09-21T00:00:00+00:00",
    )
    return page, expected


def test_there_are_enough_fixture_pages() -> None:
    assert len(FIXTURES) >= 8
    assert all((PAGES / f"{name}.json").exists() for name in FIXTURES)


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_page(name: str) -> None:
    page, expected = load(name)
    if "not_an_article" in expected:
        with pytest.raises(NotAnArticle) as caught:
            extract(page)
        assert caught.value.reason == expected["not_an_article"]
        return
    article = extract(page)
    for field in FIELDS:
        if field in expected:
            assert getattr(article, field) == expected[field], field
    text = article.text
    for snippet in expected["with"]:
        assert snippet in text, snippet
    for snippet in expected["without"]:
        assert snippet not in text, snippet
    lines = text.split("\n")
    assert len(lines) >= expected.get("min_paragraphs", 3)
    assert all(line.strip() == line and line for line in lines)
    assert not text.startswith(article.title)
    assert (article.url, article.source, article.fetched_at) == (
        page.url,
        "fixture",
        page.fetched_at,
    )


def test_same_page_twice_gives_the_same_article() -> None:
    """Guards against trafilatura's process-wide dedup cache (deduplicate=True)."""
    page, _ = load("zh_portal")
    assert extract(page) == extract(page)


# -- synthetic pages ---------------------------------------------------------------------------

ZH_PARAS = [
    "今年以来，国内多家云计算厂商相继下调大模型接口的调用价格，部分模型的价格降幅超过九成，中小企业使用大模型的门槛明显降低。",
    "业内人士分析，价格下降一方面得益于推理芯片和软件优化带来的成本下降，另一方面也反映出厂商希望尽快扩大用户规模、培养开发者生态。",
    "不过也有专家提醒，单纯的价格竞争难以持续，厂商最终还是要靠模型能力和行业解决方案赢得客户，尤其是在金融、制造和政务等对可靠性要求很高的领域。",
    "多位受访的创业者表示，更低的调用成本让他们可以在产品中更大胆地使用大模型，例如为每位用户提供个性化的写作助手和数据分析服务。",
]
EN_PARAS = [
    "Several Chinese cloud providers cut the prices of their large model interfaces again this month, with some reductions of more than ninety percent for the most popular models.",
    "Analysts said the cuts reflect cheaper inference hardware and better serving software, but also a race to sign up developers before the market settles on a few platforms.",
    "Some executives warned that a price war alone cannot last, and that providers will eventually have to win customers with model quality and industry solutions instead.",
    "Start-up founders said the lower costs let them add model features to products they had kept simple, such as writing assistants and data analysis tools for every user.",
]


def page_of(
    body: str,
    head: str = "",
    lang: str = "zh-CN",
    url: str = "https://news.example.cn/a/1.html",
    status: int = 200,
) -> Page:
    html = (
        f'<html lang="{lang}"><head><meta charset="utf-8">{head}</head><body>{body}</body></html>'
    )
    return Page(url=url, source="test", html=html, status=status)


def zh_article(byline: str = "", head: str = "", extra: str = "", **kw: Any) -> Page:
    title = "云厂商再度下调大模型价格"
    paras = "".join(f"<p>{p}</p>" for p in ZH_PARAS)
    body = f'<div class="nav"><a href="/">首页</a></div><h1>{title}</h1><div class="info">{byline}</div><div class="content">{paras}</div>{extra}'
    return page_of(body, f"<title>{title}_科技_示例网</title>{head}", **kw)


def en_article(byline: str = "", head: str = "", **kw: Any) -> Page:
    title = "Chinese cloud providers cut model prices again"
    paras = "".join(f"<p>{p}</p>" for p in EN_PARAS)
    body = f"<h1>{title}</h1><p class='byline'>{byline}</p><div>{paras}</div>"
    return page_of(body, f"<title>{title} - Example News</title>{head}", lang="en", **kw)


@pytest.mark.parametrize(
    ("byline", "published"),
    [
        ("2024年09月20日 13:47 来源:界面新闻", "2024-09-20T13:47:00+08:00"),
        ("发布时间：2024-09-20 13:47:55", "2024-09-20T13:47:55+08:00"),
        ("發佈時間：2024/09/20 13:47", "2024-09-20T13:47:00+08:00"),
        ("发布日期:2024-09-10", "2024-09-10"),
        ("2024-09-20 13:47 (GMT+9)", "2024-09-20T13:47:00+09:00"),
        ("阅读：358", None),
    ],
)
def test_chinese_byline_dates(byline: str, published: str | None) -> None:
    assert extract(zh_article(byline)).published == published


def test_naive_chinese_metadata_time_is_beijing_and_a_stated_zone_wins() -> None:
    naive = '<meta name="publishdate" content="2024-09-20 13:47:55">'
    assert extract(zh_article(head=naive)).published == "2024-09-20T13:47:55+08:00"
    utc = '<meta property="article:published_time" content="2024-09-20T05:47:55Z">'
    assert extract(zh_article(head=utc)).published == "2024-09-20T05:47:55+00:00"


def test_date_only_metadata_takes_the_bylines_time_on_the_same_day() -> None:
    head = '<meta name="pubdate" content="2024-09-20">'
    assert (
        extract(zh_article("2024-09-20 08:30", head=head)).published == "2024-09-20T08:30:00+08:00"
    )
    assert extract(zh_article("2024-09-19 08:30", head=head)).published == "2024-09-20"


def test_jsonld_date_and_author() -> None:
    head = (
        '<script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":'
        '"NewsArticle","datePublished":"2024-09-20T10:00:00+08:00","author":[{"@type":"Person",'
        '"name":"李雷"},{"@type":"Person","name":"韩梅梅"}]}]}</script>'
    )
    article = extract(zh_article(head=head))
    assert (article.published, article.author) == ("2024-09-20T10:00:00+08:00", "李雷, 韩梅梅")


def test_english_dates_stay_naive() -> None:
    naive = '<meta property="article:published_time" content="2024-09-20T09:15:00">'
    assert extract(en_article(head=naive)).published == "2024-09-20T09:15:00"
    assert extract(en_article("By Ann Lee | September 20, 2024")).published == "2024-09-20"


def test_no_date_from_copyright_years_or_sidebar_links() -> None:
    extra = (
        '<div class="side"><h3>热点新闻</h3><ul>'
        + "".join(
            f'<li><a href="/n{i}.html">另一条新闻标题第{i}条</a> 2024-09-1{i}</li>'
            for i in range(5)
        )
        + "</ul></div><div class='foot'>Copyright © 2008-2024 示例网 版权所有 © 2021</div>"
    )
    assert extract(zh_article(extra=extra)).published is None


def test_date_in_url_path_is_the_last_resort() -> None:
    page = zh_article(url="https://news.example.cn/2024/09/20/llm-price.html")
    assert extract(page).published == "2024-09-20"


def test_byline_author_and_source() -> None:
    article = extract(zh_article("2024-09-20 13:47 来源：新华社 作者：王五"))
    assert (article.author, article.original_source) == ("王五", "新华社")
    article = extract(zh_article("来源:网络 记者 赵六报道"))
    assert (article.author, article.original_source) == ("赵六", None)


def test_chinese_page_with_english_template_lang_is_chinese() -> None:
    article = extract(zh_article(lang="en"))
    assert (article.language, article.script) == ("zh", "zh-Hans")
    assert article.title == "云厂商再度下调大模型价格"


def test_canonical_from_og_url_resolved_against_page() -> None:
    head = '<meta property="og:url" content="/a/1.html">'
    assert extract(zh_article(head=head)).canonical_url == "https://news.example.cn/a/1.html"
    assert extract(zh_article()).canonical_url is None


def test_a_canonical_python_refuses_is_passed_over() -> None:
    """`https://[site_url]/...` (a template's placeholder left in) makes urllib raise "Invalid
    IPv6 URL": the page is still an article, with the next declared URL or none."""
    bad = '<link rel="canonical" href="https://[site_url]/a/1.html">'
    article = extract(zh_article(head=bad + '<meta property="og:url" content="/a/1.html">'))
    assert article.canonical_url == "https://news.example.cn/a/1.html"
    assert extract(zh_article(head=bad.replace("[site_url]", "[::1"))).canonical_url is None


def test_paragraphs_written_as_loose_text_with_br() -> None:
    body = (
        "<h1>云厂商再度下调大模型价格</h1><div class='c'><span>"
        + "<br><br>".join(ZH_PARAS)
        + "</span></div>"
    )
    article = extract(page_of(body))
    assert article.text.split("\n") == ZH_PARAS


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        (zh_article(status=404), "error-page"),
        (page_of("<h1>出错了</h1><p>对不起，您访问的页面不存在。</p>"), "error-page"),
        (page_of(f"<h1>快讯</h1><p>{ZH_PARAS[0]}</p>"), "too-short"),
        (page_of(f"<h1>Brief</h1><p>{EN_PARAS[0]}</p>", lang="en"), "too-short"),
        (Page(url="https://x.example.com/", source="t", html="   "), "empty"),
        (page_of("<div><img src='a.png'></div>"), "empty"),
    ],
)
def test_refusals(page: Page, reason: str) -> None:
    with pytest.raises(NotAnArticle) as caught:
        extract(page)
    assert caught.value.reason == reason


def test_xml_declaration_and_nul_bytes_do_not_break_parsing() -> None:
    page = zh_article()
    html = '<?xml version="1.0" encoding="gb2312"?>\n' + page.html.replace("<p>", "<p>\x00", 1)
    article = extract(Page(url=page.url, source="t", html=html))
    assert isinstance(article, Article) and ZH_PARAS[0] in article.text


@pytest.mark.parametrize(
    ("title", "site", "expected"),
    [
        ("吴泳铭谈大模型投入_科技频道_星河资讯网", None, "吴泳铭谈大模型投入"),
        (
            "三问人工智能发展：开源还是闭源？--科教频道--东方信息港",
            None,
            "三问人工智能发展：开源还是闭源？",
        ),
        (
            "Alibaba's chief says models will cost billions | Harbor Tech Daily",
            None,
            "Alibaba's chief says models will cost billions",
        ),
        (
            "Harbor Tech Daily | A much longer headline about models",
            "Harbor Tech Daily",
            "A much longer headline about models",
        ),
        ("GPT-5 - what we know", None, "GPT-5 - what we know"),
        ("没有后缀的标题", None, "没有后缀的标题"),
    ],
)
def test_strip_site_suffix(title: str, site: str | None, expected: str) -> None:
    assert _strip_site_suffix(title, site) == expected


def test_junk_lines_are_dropped_and_a_disclaimer_ends_the_text() -> None:
    lines = [
        "免费电影在线看,高清视频下载,美女直播平台,午夜影院大全,成人网站导航,私密相册,无码资源,色情小说",
        "首页 | 新闻 | 科技 | 财经 | 汽车",
        "当前位置：首页 > 科技 > 正文",
        "【发送给朋友】【打印本文】【关闭窗口】",
        "Share on X | Share on LinkedIn | Email | Print",
        "2024-09-20 13:47 来源：界面新闻 作者：张三",
        ZH_PARAS[0],
        "相关阅读",
        "云栖大会开幕 多款产品亮相",
        "算力价格战升温",
        ZH_PARAS[1],
        "责任编辑：李四",
        "京ICP备12345678号-1",
        "Copyright © 2008-2024 示例网 版权所有",
        "免责声明：本文仅代表作者观点，不构成投资建议。",
        ZH_PARAS[2],
    ]
    assert drop_junk_lines(lines) == [ZH_PARAS[0], ZH_PARAS[1]]


def test_prose_with_commas_and_bars_survives() -> None:
    prose = [
        "他列举了阿里巴巴、腾讯、百度、字节跳动、华为、小米、京东、美团等公司的做法，并认为竞争还会继续。",
        "Prices fell by 90%, 80%, 75%, 60%, 50%, 40%, 30% and 20% in turn, the report said.",
        ZH_PARAS[3],
    ]
    assert drop_junk_lines(prose) == prose


def test_prepare_unwraps_layout_tables_page_forms_and_loose_text() -> None:
    cell = "<br><br>".join(ZH_PARAS)
    html = (
        "<html><body><form id='aspnetForm'><table><tr><td><a href='/'>首页</a></td></tr>"
        f"<tr><td class='content'>{cell}</td></tr></table>"
        "<table class='data'><tr><td>模型</td><td>价格</td></tr></table></form></body></html>"
    )
    tree = _parse(html)
    prepare(tree)
    assert tree.find(".//form") is None
    assert [t.get("class") for t in tree.iter("table")] == ["data"]  # data tables stay tables
    content = tree.find(".//div[@class='content']")
    assert [p.text for p in content.iter("p")] == ZH_PARAS


def test_recall_pass_when_precision_finds_too_little() -> None:
    """trafilatura's precision mode drops lists; an article written as <li> items needs the
    recall pass (cleaned the same way)."""
    items = "".join(f"<li>{p}</li>" for p in ZH_PARAS)
    body = (
        f"<h1>云厂商再度下调大模型价格</h1><ul class='article'>{items}</ul><p>京ICP备12345678号</p>"
    )
    article = extract(page_of(body))
    assert all(p in article.text for p in ZH_PARAS)
    assert "ICP" not in article.text


def test_dated_lead_sentences_and_interview_questions_survive() -> None:
    prose = [
        "2024年9月19日，阿里云发布了通义千问的新版本。",
        "记者：您怎么看今年的大模型价格战？",
        "The copyright lawsuit over training data was filed on Monday.",
        "Recommended by several analysts, the cheaper plan drew many new users.",
        "版权问题是大模型训练数据面临的一大挑战，多家出版社已经提起诉讼。",
    ]
    assert drop_junk_lines(prose) == prose


def test_credit_line_after_the_text_names_the_outlet_but_sidebar_credits_do_not() -> None:
    sidebar = "<div class='side'><p>外媒热议 来源：路透社</p></div>"
    assert extract(zh_article(extra=sidebar)).original_source is None
    credit = "<p>（来源：新华社）</p>"
    assert extract(zh_article(extra=credit + sidebar)).original_source == "新华社"


def test_section_page_with_summaries_is_a_list_page() -> None:
    items = "".join(
        f"<div class='item'><h3><a href='/story/{i}'>Story number {i} about cloud model pricing</a></h3>"
        f"<p>{EN_PARAS[i % 4]}</p><span>2024-09-{10 + i}</span></div>"
        for i in range(8)
    )
    sections = "World Business Markets Technology Science Health Opinion Video".split()
    nav = "".join(f"<a href='/{name.lower()}'>{name}</a> " for name in sections)
    page = page_of(f"<div class='nav'>{nav}</div><h1>Cloud</h1>{items}", lang="en")
    with pytest.raises(NotAnArticle) as caught:
        extract(page)
    assert caught.value.reason == "list-page"


def test_pinyin_is_stripped_from_title_tag_description_and_byline() -> None:
    head = (
        "<title>雲廠商再度下調大模型價(jià)格 - 熱點(diǎn)網</title>"
        '<meta name="description" content="多家廠商下調價(jià)格">'
    )
    body = "<div>發(fā)佈時(shí)間：2024/09/20 10:30 來(lái)源：財經週報</div>" + "".join(
        f"<p>{p}</p>" for p in ZH_PARAS
    )
    article = extract(page_of(body, head, lang="zh-TW"))
    assert article.title == "雲廠商再度下調大模型價格"
    assert article.description == "多家廠商下調價格"
    assert (article.published, article.original_source) == ("2024-09-20T10:30:00+08:00", "財經週報")


def test_a_headline_longer_than_the_limit_is_passed_over_for_the_next():
    """[crawl] max_title_chars: a stuffed <title> gives way to og:title, then to the <h1>."""
    stuffed = "大模型" * 300
    body = "<p>" + "算力成本正在下降，多家公司调整了推理服务的价格。" * 20 + "</p>"
    html = (f'<html><head><title>{stuffed}</title><meta property="og:title" content="{"长" * 60}"></head>'
            f"<body><h1>推理价格下调</h1>{body}</body></html>")
    page = Page(url="https://news.example.cn/a/1.html", source="s", html=html)
    assert extract(page).title == "长" * 60
    assert extract(page, max_title_chars=50).title == "推理价格下调"


def test_trafilaturas_metadata_is_read_only_when_a_fallback_needs_it(monkeypatch) -> None:
    """trafilatura's title and author are fallbacks: its author search (a deep copy of the
    tree, pruned: the costly part of its metadata) runs only when neither author markup nor a
    byline answers."""
    from crawler.extract import core

    calls: list[str | None] = []
    real = core.author_of

    def counted(tree: Any) -> str | None:
        calls.append(real(tree))
        return calls[-1]

    monkeypatch.setattr(core, "author_of", counted)
    assert extract(zh_article("作者：王五")).author == "王五"
    assert calls == []  # the byline names the writer: never asked
    paras = "".join(f"<p>{p}</p>" for p in EN_PARAS)
    guessed = page_of(f'<h1>Model prices fall</h1><div class="post-meta"><span class="author-name">'
                      f"Ann Lee</span></div><div>{paras}</div>",
                      "<title>Model prices fall - Example News</title>", lang="en")
    assert extract(guessed).author == "Ann Lee"
    assert calls == ["Ann Lee"]  # asked once, and its guess is the author


GUESS_PAGES = [
    page_of("<h1>Only heading</h1><p>Text.</p>"),  # no <title>: extract_title's h1
    page_of("<h2>A second-level heading</h2><div class='byline'><span class='author'>Ann "
            "Lee</span></div>", '<meta name="author" content="Bo">'),  # one word: no author
    page_of("<h1>Tom &amp;amp; Jerry</h1><p>x</p>",
            '<meta name="author" content="Li &amp;amp; Wang Team">'),  # entities: unescaped once
    page_of("<p>x</p>", '<script type="application/ld+json">{"@type":"NewsArticle","headline":'
            '"LD headline","author":{"@type":"Person","name":"Zhang San"}}</script>'),
    page_of("<p>x</p>", '<script type="application/ld+json">{"@type": broken</script>'),
]


@pytest.mark.parametrize("page", [load(name)[0] for name in FIXTURES] + GUESS_PAGES)
def test_the_title_and_author_guesses_are_trafilaturas_own(page: Page) -> None:
    """`_Guess` (the one adapter reaching inside trafilatura.metadata, crawler/extract/core.py)
    gives what `trafilatura.extract_metadata` gives for the title and the author, on every
    fixture page's prepared tree: a trafilatura that changes either fails here."""
    import trafilatura

    from crawler.extract.core import _Guess

    tree = _parse(page.html)
    prepare(tree)
    expected = trafilatura.extract_metadata(tree, page.url)
    guess = _Guess(tree)
    assert (guess.title, guess.author) == (expected.title, expected.author)
