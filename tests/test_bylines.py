"""Dates and authors as pages state them: markup first, then the byline under the headline,
then the URL; never an update date, a "today" widget or a sidebar headline; authors are
people, never the outlet, a role or a placeholder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.extract import extract
from crawler.extract.authors import person
from crawler.records import Article, Page
from crawler.text.dates import BEIJING, parse_date, relative_date

PARAS = [
    "多家云服务商本周宣布下调大模型推理接口的价格，其中几款常用模型的输入价格降到了每百万词元一元以下。",
    "分析人士认为，降价的底气来自推理芯片利用率的提升和批处理调度的改进，单位算力的成本在一年内下降了一半以上。",
    "也有开发者表示，价格只是选择平台时的考量之一，模型在长文本和工具调用上的稳定性同样重要，迁移成本也不容忽视。",
    "业内预计，随着更多开源模型达到商用水平，云厂商之间的竞争会从价格转向服务质量、数据合规和行业方案的完整程度。",
    "一家咨询机构的报告显示，今年上半年国内大模型调用量同比增长了十倍以上，其中企业客户贡献了超过六成的调用。",
]
EN = [
    "Three cloud providers cut the list prices of their hosted language models this week, the third round of reductions this year.",
    "Engineers at two of the companies said better batching and higher accelerator utilisation had roughly halved the cost of serving each request.",
    "Customers interviewed for this story said price was only one factor, and that reliability on long documents mattered as much to them.",
    "Analysts expect competition to shift toward service quality, data residency and industry tooling once open models close the remaining gap.",
]
TITLE_ZH = "云服务商再度下调大模型推理价格"
TITLE_EN = "Cloud providers cut model prices again"


FETCHED = "2026-12-01T02:30:00+00:00"  # 10:30 in Beijing


def zh(byline: str = "", head: str = "", before: str = "", after: str = "",
       fetched_at: str | None = None) -> Article:
    body = "".join(f"<p>{p}</p>" for p in PARAS)
    html = (
        f"<html lang='zh-CN'><head><meta charset='utf-8'><title>{TITLE_ZH}_科技_星河资讯</title>"
        f"<meta property='og:site_name' content='星河资讯'>{head}</head><body>"
        f"<div class='top'>{before}</div><h1>{TITLE_ZH}</h1><div class='info'>{byline}</div>"
        f"<div class='content'>{body}</div>{after}</body></html>"
    )
    return extract(Page(url="https://news.example.cn/a/77.html", source="t", html=html,
                        fetched_at=fetched_at))


def en(byline: str = "", head: str = "", after: str = "", fetched_at: str | None = None) -> Article:
    body = "".join(f"<p>{p}</p>" for p in EN)
    html = (
        f"<html lang='en'><head><meta charset='utf-8'><title>{TITLE_EN} | Harbor Daily</title>"
        f"<meta property='og:site_name' content='Harbor Daily'>{head}</head><body>"
        f"<h1>{TITLE_EN}</h1><div class='byline'>{byline}</div><div>{body}</div>{after}"
        "</body></html>"
    )
    return extract(Page(url="https://harbor.example.com/story/77", source="t", html=html,
                        fetched_at=fetched_at))


def jsonld(body: str, wrap: str = "") -> str:
    opening, closing = {"cdata": ("<![CDATA[", "]]>"), "comment": ("<!--", "-->")}.get(
        wrap, ("", "")
    )
    return f'<script type="application/ld+json">{opening}{body}{closing}</script>'


# -- dates -------------------------------------------------------------------------------------


def test_a_today_widget_above_the_headline_is_not_the_date() -> None:
    assert zh(before="2024年9月22日 星期日").published is None
    assert zh(before="今天是：2024年9月22日").published is None
    assert zh("2024-09-20 10:15 来源：星河资讯", before="2024年9月22日 星期日").published == (
        "2024-09-20T10:15:00+08:00"
    )


def test_an_update_date_is_not_the_publication_date() -> None:
    assert en("Last updated: September 21, 2024").published is None
    assert zh("更新时间：2024-09-21 08:00").published is None
    head = '<meta property="article:modified_time" content="2024-09-21T08:00:00Z">'
    assert en(head=head).published is None


def test_english_byline_time_with_am_pm_and_zone() -> None:
    assert en("By Ann Lee | September 20, 2024, 6:37 PM EDT").published == (
        "2024-09-20T18:37:00-04:00"
    )
    assert en("Posted on Sept. 20, 2024 at 9:05 a.m.").published == "2024-09-20T09:05:00"


@pytest.mark.parametrize("wrap", ["", "cdata", "comment"])
def test_json_ld_as_cmses_write_it(wrap: str) -> None:
    body = (
        '{"@type": "NewsArticle", "datePublished": "2024-09-20T10:00:00+08:00",}'  # trailing comma
    )
    assert zh(head=jsonld(body, wrap)).published == "2024-09-20T10:00:00+08:00"


def test_compact_iso_dates() -> None:
    body = '{"@type": "NewsArticle", "datePublished": "20240920T055000+0900"}'
    assert en(head=jsonld(body)).published == "2024-09-20T05:50:00+09:00"


def test_time_element_under_the_headline_but_not_in_a_related_list() -> None:
    related = "<ul><li><a href='/b'>Another story</a> <time datetime='2024-09-18'>Sept 18</time></li></ul>"
    assert en(after=related).published is None
    byline = "<time datetime='2024-09-20T07:30:00Z'></time> By Ann Lee"
    assert en(byline, after=related).published == "2024-09-20T07:30:00+00:00"


def test_other_meta_names_for_the_publication_date() -> None:
    head = '<meta name="article_date_original" content="Friday, September 20, 2024, 12:06 PM">'
    assert en(head=head).published == "2024-09-20T12:06:00"


@pytest.mark.parametrize(
    ("byline", "published"),
    [
        ("3小时前 来源：星河资讯", "2026-12-01T07:30:00+08:00"),
        ("来源：星河资讯 25分鐘前", "2026-12-01T10:05:00+08:00"),
        ("2个小时前 · 作者：李雷", "2026-12-01T08:30:00+08:00"),
        ("1小时5分钟前 来源：星河资讯", "2026-12-01T09:25:00+08:00"),
        ("刚刚 来源：星河资讯", "2026-12-01T10:30:00+08:00"),
        ("昨天 14:30 来源：星河资讯", "2026-11-30T14:30:00+08:00"),
        ("前天 09:05", "2026-11-29T09:05:00+08:00"),
        ("3天前 来源：星河资讯", "2026-11-28"),
        # names and phrases that are no relative date
        ("来源：今日头条", None),
        ("本报讯 日前 来源：星河资讯", None),
        ("更新时间：3小时前", None),
    ],
)
def test_relative_byline_dates_count_from_the_fetch(byline: str, published: str | None) -> None:
    article = zh(byline, fetched_at=FETCHED)
    assert article.published == published
    if published:  # the byline is not left at the top of the text
        assert byline.split()[0] not in article.text
    assert zh(byline).published is None  # no fetch time (a saved file): no date


def test_relative_english_bylines_and_what_wins_over_them() -> None:
    assert en("By Ann Lee | 2 hours ago", fetched_at=FETCHED).published == "2026-12-01T00:30:00+00:00"
    assert en("By Ann Lee, an hour ago", fetched_at=FETCHED).published == "2026-12-01T01:30:00+00:00"
    assert en("AP – 1 hr 4 mins ago", fetched_at=FETCHED).published == "2026-12-01T01:26:00+00:00"
    assert en("Yesterday at 9:05 p.m.", fetched_at=FETCHED).published == "2026-11-30T21:05:00"
    assert en("Updated 2 hours ago", fetched_at=FETCHED).published is None
    # a date the page states wins
    head = '<meta property="article:published_time" content="2026-11-30T20:00:00Z">'
    assert en("2 hours ago", head=head, fetched_at=FETCHED).published == "2026-11-30T20:00:00+00:00"
    assert zh("2026-11-30 18:00 来源：星河资讯 3小时前", fetched_at=FETCHED).published == (
        "2026-11-30T18:00:00+08:00")
    # the relative phrase must sit in the byline, not in a list further down the page
    related = "<ul><li><a href='/b'>另一条新闻</a> 3小时前</li></ul>"
    assert zh(after=related, fetched_at=FETCHED).published is None


def test_a_relative_byline_inside_the_article_body_leaves_the_text() -> None:
    body = "".join(f"<p>{p}</p>" for p in ["3小时前 来源：星河资讯", *PARAS])
    html = (f"<html lang='zh-CN'><head><meta charset='utf-8'><title>{TITLE_ZH}</title></head><body>"
            f"<h1>{TITLE_ZH}</h1><div class='content'>{body}</div></body></html>")
    article = extract(Page(url="https://news.example.cn/a/78.html", source="t", html=html,
                           fetched_at=FETCHED))
    assert article.published == "2026-12-01T07:30:00+08:00"
    assert article.text.startswith(PARAS[0][:20])


@given(st.integers(min_value=0, max_value=999), st.sampled_from(["分钟前", "分鐘前", " minutes ago"]),
       st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)))
def test_minutes_ago_is_the_fetch_time_less_those_minutes(n: int, unit: str, at: datetime) -> None:
    at = at.replace(tzinfo=UTC)
    when = relative_date(f"发布于 {n}{unit}", at, BEIJING)
    assert when is not None
    expected = (at - timedelta(minutes=n)).astimezone(BEIJING).replace(second=0, microsecond=0)
    assert datetime.combine(when.day, when.clock, when.tz) == expected


def test_parse_date_forms() -> None:
    when = parse_date("Thu, 19 Sep 2024 17:55 UTC")
    assert when is not None and when.iso(None) == "2024-09-19T17:55:00+00:00"
    assert parse_date("20240920T0550").iso(None) == "2024-09-20T05:50:00"
    assert parse_date("2024092012") is None  # digits without the T are no date
    assert parse_date("Fri, 20 Sep 2024 13:47:00 CST").iso(None) == "2024-09-20T13:47:00-06:00"


# -- authors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("byline", "author"),
    [
        ("2024-09-20 10:15 界面新闻记者 | 肖芳", "肖芳"),
        ("文｜张三 2024-09-20", "张三"),
        ("作者：李雷 来源：星河资讯", "李雷"),
        ("记者 韩梅梅 报道", "韩梅梅"),
        ("記者陳美玲／台北報導", "陳美玲"),
        ("〔記者林志明/新竹報導〕", "林志明"),
        ("記者 陳美玲、林志明／台北報導", "陳美玲、林志明"),
        ("記者陳美玲、林志明／台北報導", "陳美玲、林志明"),
        ("記者會現場/圖", None),  # a press conference, no reporter
        ("记者会现场 摄", None),
        ("来源：星河资讯", None),
    ],
)
def test_chinese_bylines(byline: str, author: str | None) -> None:
    assert zh(byline).author == author


def test_dispatch_line_and_editor_credit() -> None:
    body = "".join(
        f"<p>{p}</p>" for p in ["新华社北京9月20日电（记者王五）" + PARAS[0], *PARAS[1:]]
    )
    html = (
        f"<html><head><title>{TITLE_ZH}</title></head><body><h1>{TITLE_ZH}</h1>"
        f"<div>2024-09-20</div>{body}<p>责任编辑：赵六</p></body></html>"
    )
    article = extract(Page(url="https://news.example.cn/a/1.html", source="t", html=html))
    assert article.author == "王五"
    assert zh(after="<div class='editor'><span>责任编辑:</span><span>赵六</span></div>").author == (
        "赵六"
    )


def test_outlet_names_are_not_authors() -> None:
    assert zh(head="<meta name='author' content='星河资讯'>").author is None
    assert zh("作者：张三", head="<meta name='author' content='新京报'>").author == "张三"
    org = '{"@type": "NewsArticle", "author": {"@type": "Organization", "name": "Harbor Daily"}}'
    assert en(head=jsonld(org)).author is None
    assert en(head="<meta name='author' content='Harbor Daily'>").author is None


def test_english_by_lines() -> None:
    assert en("By Ann Lee and Bo Chen, Harbor Daily").author == "Ann Lee, Bo Chen"
    assert en("By Reuters").author is None
    assert en("Sponsored links by Partnerads").author is None


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Ann Lee March 5, 2024", "Ann Lee"),
        ("Ann Lee, Senior Editor", "Ann Lee"),
        ("Nathan Willis March", "Nathan Willis"),
        ("Theresa May", "Theresa May"),
        ("By Ann Lee", "Ann Lee"),
        ("Ann Lee (https://ann.example.com/)", "Ann Lee"),
        ("Ann Lee, Bo Chen and CNN", "Ann Lee, Bo Chen"),
        ("name, email@example.com", None),
        ("Username", None),
        ("Follow Author", None),
        ("Associated Press", None),
        ("新京报", None),
        ("星河财经-自媒体综合", None),
        ("责任编辑：张申", None),
        ("王志", "王志"),
        ("小编", None),
    ],
)
def test_person(raw: str, clean: str | None) -> None:
    assert person(raw) == clean


def test_a_personal_site_named_after_its_author() -> None:
    assert person("Ann Lee", {"Ann Lee"}) == "Ann Lee"
    assert person("The Harbor", {"The Harbor"}) is None


def test_dated_headline_links_under_the_headline_are_not_a_byline() -> None:
    related = "".join(
        f"<li><a href='/a/{i}.html'>国产推理芯片出货量创新高第{i}期</a> 2024-09-1{i}</li>"
        for i in range(3)
    )
    assert zh(f"<ul>{related}</ul>").published is None
    assert zh(f"2024-09-20 10:15<ul>{related}</ul>").published == "2024-09-20T10:15:00+08:00"
