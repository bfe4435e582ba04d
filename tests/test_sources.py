"""Tests for crawler/sources.py: feeds, sitemaps, robots.txt, listing pages, search feeds, age.

Every fixture is written here; nothing touches the network.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from crawler.errors import SourceError
from crawler.sources.feeds import parse_feed
from crawler.sources.listings import listing_links, looks_like_article, section_links
from crawler.sources.news_search import expand_search, search_queries
from crawler.sources.rules import LinkRules
from crawler.sources.sitemaps import (
    SitemapPage,
    default_sitemap_urls,
    parse_sitemap,
    robots_sitemaps,
)
from crawler.text.dates import is_too_old
from crawler.text.urls import is_site_root, robots_url, site_of

FEED_URL = "https://news.example.cn/rss/tech.xml"

# ---------------------------------------------------------------- feeds

RSS20 = """<?xml version="1.0" encoding="{enc}"?>
<rss version="2.0">
<channel>
  <title>示例科技频道</title>
  <link>https://news.example.cn/tech/</link>
  <item>
    <title>  百川智能发布新一代大模型  </title>
    <link>/2024/0920/123456.shtml</link>
    <pubDate>Fri, 20 Sep 2024 13:47:00 +0800</pubDate>
  </item>
  <item>
    <title>算力租赁价格回落</title>
    <link>https://news.example.cn/2024/0919/123400.shtml</link>
  </item>
  <item><title>没有链接的条目</title></item>
  <item><title>脚本链接</title><link>javascript:void(0)</link></item>
  <item>
    <title>只有固定链接的条目</title>
    <guid isPermaLink="true">https://news.example.cn/2024/0918/123300.shtml</guid>
  </item>
</channel>
</rss>
"""


def test_rss20_utf8_links_titles_dates():
    entries = parse_feed(RSS20.format(enc="utf-8").encode("utf-8"), FEED_URL, "example")
    assert [e.url for e in entries] == [
        "https://news.example.cn/2024/0920/123456.shtml",
        "https://news.example.cn/2024/0919/123400.shtml",
        "https://news.example.cn/2024/0918/123300.shtml",
    ]
    first = entries[0]
    assert first.title == "百川智能发布新一代大模型"
    assert first.published == "2024-09-20T13:47:00+08:00"  # the stated offset is kept
    assert first.source == "example" and first.found_on == FEED_URL
    assert entries[1].published is None


def test_rss20_gbk_prolog():
    # 镕 is outside GB2312 but inside GBK: a strict gb2312 decoder would fail on it.
    body = RSS20.format(enc="gbk").replace("百川", "朱镕百川").encode("gbk")
    entries = parse_feed(body, FEED_URL, "example")
    assert entries[0].title == "朱镕百川智能发布新一代大模型"
    assert entries[1].title == "算力租赁价格回落"


def test_rss20_gbk_bytes_under_utf8_header():
    body = RSS20.format(enc="gbk").encode("gbk")
    entries = parse_feed(body, FEED_URL, "example", content_type="text/xml; charset=utf-8")
    assert entries[1].title == "算力租赁价格回落"


def test_big5_feed_with_hkscs_character():
    # 啓 is in Big5-HKSCS, not in plain Big5: feedparser alone falls back to windows-1252.
    body = """<?xml version="1.0" encoding="big5"?>
<rss version="2.0"><channel><title>科技新聞</title>
<item><title>台積電擴產 啓動大型語言模型專案</title>
<link>https://tech.example.tw/news/20240920/a1.html</link>
<pubDate>Fri, 20 Sep 2024 09:00:00 +0800</pubDate></item>
</channel></rss>""".encode("big5hkscs")
    entries = parse_feed(body, "https://tech.example.tw/rss", "tw")
    assert entries[0].title == "台積電擴產 啓動大型語言模型專案"
    assert entries[0].published == "2024-09-20T09:00:00+08:00"


def test_big5_http_charset():
    body = """<rss version="2.0"><channel><title>科技</title>
<item><title>輝達財報</title><link>https://tech.example.tw/a/2.html</link></item>
</channel></rss>""".encode("big5")
    entries = parse_feed(body, "https://tech.example.tw/rss", "tw", "application/rss+xml; charset=big5")
    assert entries[0].title == "輝達財報"


def test_rss10_rdf():
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://blog.example.com/">
    <title>Example blog</title><link>https://blog.example.com/</link>
    <description>d</description>
  </channel>
  <item rdf:about="https://blog.example.com/posts/llm-pricing">
    <title>LLM pricing keeps falling</title>
    <link>https://blog.example.com/posts/llm-pricing</link>
    <dc:date>2024-09-20T13:47:00+08:00</dc:date>
  </item>
</rdf:RDF>"""
    [entry] = parse_feed(body, "https://blog.example.com/index.rdf", "blog")
    assert entry.url == "https://blog.example.com/posts/llm-pricing"
    assert entry.title == "LLM pricing keeps falling"
    assert entry.published == "2024-09-20T13:47:00+08:00"


def test_rss091():
    body = b"""<?xml version="1.0"?>
<rss version="0.91"><channel><title>Old</title><link>http://old.example.com/</link>
<description>x</description><language>en</language>
<item><title>Chip export rules</title><link>http://old.example.com/story.php?id=4821</link></item>
</channel></rss>"""
    [entry] = parse_feed(body, "http://old.example.com/rss.xml", "old")
    assert entry.url == "http://old.example.com/story.php?id=4821"
    assert entry.published is None


def test_atom_relative_links_and_updated():
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Example Atom</title><id>urn:x</id><updated>2024-09-21T00:00:00Z</updated>
  <entry>
    <title>Kimi adds long context</title><id>urn:e1</id>
    <link rel="alternate" href="/posts/kimi-long-context"/>
    <updated>2024-09-20T10:00:00Z</updated>
  </entry>
  <entry>
    <title>Qwen release</title><id>urn:e2</id>
    <link rel="alternate" href="https://other.example.org/qwen"/>
    <published>2024-09-19T08:00:00-04:00</published>
    <updated>2024-09-20T00:00:00Z</updated>
  </entry>
</feed>"""
    entries = parse_feed(body, "https://atom.example.com/feeds/all.atom", "atom")
    assert [e.url for e in entries] == [
        "https://atom.example.com/posts/kimi-long-context",
        "https://other.example.org/qwen",
    ]
    assert entries[0].published == "2024-09-20T10:00:00+00:00"
    assert entries[1].published == "2024-09-19T08:00:00-04:00"  # published wins over updated


def test_utm_parameters_kept():
    body = b"""<rss version="2.0"><channel><title>t</title><item><title>x</title>
<link>https://news.example.com/a/12345.html?utm_source=rss&amp;utm_medium=feed</link>
</item></channel></rss>"""
    [entry] = parse_feed(body, "https://news.example.com/rss", "n")
    assert entry.url == "https://news.example.com/a/12345.html?utm_source=rss&utm_medium=feed"


def test_empty_feed_is_not_an_error():
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>empty</title></channel></rss>'
    assert parse_feed(body, FEED_URL, "example") == []


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\x01\x02 garbage \xff\xfe\xfd",
        b"<html><head><title>Not found</title></head><body><p>404</p></body></html>",
        b"",
    ],
)
def test_not_a_feed_raises(body):
    with pytest.raises(SourceError) as info:
        parse_feed(body, FEED_URL, "example")
    assert info.value.url == FEED_URL
    assert "not a feed" in info.value.detail


# ---------------------------------------------------------------- sitemaps

SITEMAP_URL = "https://www.example.com/sitemap.xml"


def test_sitemap_index():
    body = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://www.example.com/sitemap-news.xml</loc><lastmod>2024-09-20</lastmod></sitemap>
  <sitemap><loc> /sitemap-2024-09.xml.gz </loc></sitemap>
  <sitemap><loc>https://www.example.com/sitemap-news.xml</loc></sitemap>
</sitemapindex>"""
    page = parse_sitemap(body, SITEMAP_URL, "ex")
    assert page == SitemapPage(
        sitemaps=[
            "https://www.example.com/sitemap-news.xml",
            "https://www.example.com/sitemap-2024-09.xml.gz",
        ],
        entries=[],
    )


URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://www.example.com/2024/09/20/deepseek-update</loc><lastmod>2024-09-20T13:47:00+08:00</lastmod></url>
  <url><loc>https://www.example.com/2024/09/19/zhipu-funding</loc><lastmod>2024-09-19</lastmod></url>
  <url><loc>https://www.example.com/about</loc></url>
  <url><lastmod>2024-09-19</lastmod></url>
</urlset>"""


def test_urlset_lastmod():
    page = parse_sitemap(URLSET, SITEMAP_URL, "ex")
    assert page.sitemaps == []
    assert [(e.url, e.published) for e in page.entries] == [
        ("https://www.example.com/2024/09/20/deepseek-update", "2024-09-20T13:47:00+08:00"),
        ("https://www.example.com/2024/09/19/zhipu-funding", "2024-09-19"),
        ("https://www.example.com/about", None),
    ]
    assert all(e.found_on == SITEMAP_URL and e.source == "ex" for e in page.entries)


def test_gzipped_sitemap_sniffed_by_magic_not_name():
    page = parse_sitemap(gzip.compress(URLSET), "https://www.example.com/sitemap.xml", "ex")
    assert len(page.entries) == 3


def test_gzip_bomb_capped():
    bomb = gzip.compress(b"<urlset>" + b" " * 2_000_000 + b"</urlset>")
    with pytest.raises(SourceError, match="larger than"):
        parse_sitemap(bomb, SITEMAP_URL, "ex", max_bytes=1_000_000)


def test_truncated_gzip():
    with pytest.raises(SourceError, match="gzip"):
        parse_sitemap(gzip.compress(URLSET)[:40], SITEMAP_URL, "ex")


def test_news_sitemap_publication_date_and_title_win():
    body = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url>
    <loc>https://news.example.cn/2024/0920/123456.shtml</loc>
    <lastmod>2024-09-21T08:00:00+08:00</lastmod>
    <news:news>
      <news:publication><news:name>示例新闻</news:name><news:language>zh-cn</news:language></news:publication>
      <news:publication_date>2024-09-20T13:47:00+08:00</news:publication_date>
      <news:title>月之暗面发布长文本模型</news:title>
    </news:news>
  </url>
</urlset>""".encode()
    [entry] = parse_sitemap(body, "https://news.example.cn/news-sitemap.xml", "cn").entries
    assert entry.title == "月之暗面发布长文本模型"
    assert entry.published == "2024-09-20T13:47:00+08:00"


def test_namespaceless_sitemap():
    body = b"""<?xml version="1.0"?>
<urlset><url><loc>http://old.example.com/n/20240920/1.htm</loc><lastmod>2024-09-20</lastmod></url></urlset>"""
    [entry] = parse_sitemap(body, "http://old.example.com/sitemap.xml", "old").entries
    assert entry.url == "http://old.example.com/n/20240920/1.htm"
    assert entry.published == "2024-09-20"


def test_other_namespace_sitemap_index():
    body = b"""<sitemapindex xmlns="http://www.google.com/schemas/sitemap/0.84">
<sitemap><loc>https://www.example.com/s1.xml</loc></sitemap></sitemapindex>"""
    assert parse_sitemap(body, SITEMAP_URL, "ex").sitemaps == ["https://www.example.com/s1.xml"]


def test_a_feed_with_one_cut_character_is_read_as_its_charset_not_as_mojibake():
    """A CMS that cut one title in the middle of a character: no charset reads the feed without
    an error, and feedparser fell back to windows-1252 for every entry (and the garbled channel
    title no longer read as Chinese, so zone-less dates were taken as UTC, 8 h off).  Read as
    a browser reads it: UTF-8 (or GBK), that one character replaced."""
    items = "".join(f"<item><title>{t}</title><link>https://news.example.cn/a/{i}.html</link>"
                    "<pubDate>Fri, 20 Sep 2024 13:47:00</pubDate></item>"
                    for i, t in enumerate(["央行宣布降息", "CUT", "股市收盘上涨"]))
    doc = ('<?xml version="1.0" encoding="{enc}"?><rss version="2.0"><channel><title>财经新闻</title>'
           f"<link>https://news.example.cn/</link>{items}</channel></rss>")
    for enc in ("utf-8", "gbk"):
        body = doc.format(enc=enc).encode(enc).replace(b"CUT", "市场价格".encode(enc)[:-1])
        entries = parse_feed(body, FEED_URL, "example", content_type=f"application/rss+xml; charset={enc}")
        assert [e.title for e in entries] == ["央行宣布降息", "市场价\ufffd", "股市收盘上涨"], enc
        assert {e.published for e in entries} == {"2024-09-20T13:47:00+08:00"}, enc


def test_sitemap_urls_with_a_bare_ampersand_keep_it():
    """CMS sitemaps write query strings unescaped; libxml2 recovering dropped the `&` and the
    name after it (`?id=1=2`), and every later `&amp;` too."""
    body = (b'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            b"<url><loc>https://www.example.com/show.php?id=10001&catid=2&x=&#233;</loc></url>"
            b"<url><loc>https://www.example.com/show.php?id=10002&amp;catid=2</loc></url>"
            b"<url><loc>https://www.example.com/a.php?q=AT&T&amp;p=1</loc></url></urlset>")
    page = parse_sitemap(body, "https://www.example.com/sitemap.xml", "ex")
    assert [e.url for e in page.entries] == [
        "https://www.example.com/show.php?id=10001&catid=2&x=é",  # a character reference is one
        "https://www.example.com/show.php?id=10002&catid=2",
        "https://www.example.com/a.php?q=AT&T&p=1",
    ]


@pytest.mark.parametrize("declared, encoding, first", [
    ("gb2312", "gbk", "朱镕基谈改革"),  # 镕 is in GBK, not in GB2312
    ("big5", "big5hkscs", "啓動新計劃"),  # 啓 is in Big5-HKSCS, not in plain Big5
])
def test_a_news_sitemap_read_with_its_widened_charset_keeps_every_entry(declared, encoding, first):
    """libxml2 reads the declared label strictly and stopped at the first character outside
    it, losing every entry after; browsers (and topicwatch) widen gb2312 to GBK, big5 to HKSCS."""
    titles = [first, "第二条", "第三条", "第四条", "第五条"]
    urls = "".join(f"<url><loc>https://news.example.cn/n/{i}.html</loc><news:news><news:title>{t}"
                   "</news:title></news:news></url>" for i, t in enumerate(titles))
    body = (f'<?xml version="1.0" encoding="{declared}"?><urlset xmlns="http://www.sitemaps.org/schemas/'
            'sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"{urls}</urlset>").encode(encoding)
    page = parse_sitemap(body, "https://news.example.cn/sitemap.xml", "cn")
    assert sorted(e.title for e in page.entries) == sorted(titles)


def test_text_sitemap_with_a_byte_order_mark():
    body = b"\xef\xbb\xbfhttps://www.example.com/a/1.html\r\nhttps://www.example.com/a/2.html\r\n"
    page = parse_sitemap(body, "https://www.example.com/sitemap.txt", "ex")
    assert [e.url for e in page.entries] == ["https://www.example.com/a/1.html", "https://www.example.com/a/2.html"]


def test_text_sitemap():
    body = b"https://www.example.com/a/1.html\nhttps://www.example.com/a/2.html\n"
    page = parse_sitemap(body, "https://www.example.com/sitemap.txt", "ex")
    assert [e.url for e in page.entries] == [
        "https://www.example.com/a/1.html",
        "https://www.example.com/a/2.html",
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\x01 this is not xml \xff",
        b"",
        b"<html><body><p>Sitemap moved</p></body></html>",
    ],
)
def test_sitemap_garbage_raises(body):
    with pytest.raises(SourceError):
        parse_sitemap(body, SITEMAP_URL, "ex")


def test_sitemap_entities_not_expanded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    body = f"""<?xml version="1.0"?>
<!DOCTYPE urlset [
  <!ENTITY xxe SYSTEM "file://{secret}">
  <!ENTITY a "aaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<urlset><url><loc>https://www.example.com/x/&xxe;&c;</loc></url>
<url><loc>https://www.example.com/2024/09/20/plain</loc></url></urlset>""".encode()
    page = parse_sitemap(body, SITEMAP_URL, "ex")
    urls = [e.url for e in page.entries]
    assert "https://www.example.com/2024/09/20/plain" in urls
    assert not any("TOPSECRET" in u or "aaaaaaaaaa" in u for u in urls)


# ---------------------------------------------------------------- robots.txt and roots


def test_robots_sitemaps():
    robots = """User-agent: *
Disallow: /admin/
SITEMAP: https://www.example.com/sitemap_index.xml
sitemap:/news-sitemap.xml   # the news one
Sitemap: https://www.example.com/sitemap_index.xml
# Sitemap: https://www.example.com/commented.xml
Sitemap-Extra: https://www.example.com/not-this.xml
Sitemap: ftp://www.example.com/nope.xml
"""
    assert robots_sitemaps(robots, "https://www.example.com/") == [
        "https://www.example.com/sitemap_index.xml",
        "https://www.example.com/news-sitemap.xml",
    ]
    assert robots_sitemaps("User-agent: *\nDisallow:\n", "https://www.example.com/") == []


def test_site_root_and_defaults():
    assert is_site_root("https://www.example.com")
    assert is_site_root("https://www.example.com/")
    assert not is_site_root("https://www.example.com/sitemap.xml")
    assert not is_site_root("https://www.example.com/?lang=en")
    assert robots_url("https://www.example.com:8080/") == "https://www.example.com:8080/robots.txt"
    assert default_sitemap_urls("http://127.0.0.1:8765") == ["http://127.0.0.1:8765/sitemap.xml"]


# ---------------------------------------------------------------- listing pages

CN_HOME = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>示例网 - 科技</title>
<link rel="stylesheet" href="/static/site.css"></head>
<body>
<div class="nav">
  <a href="/">首页</a> <a href="/tech/">科技</a> <a href="/finance/index.shtml">财经</a>
  <a href="https://passport.example.com.cn/login?from=home">登录</a>
  <a href="/search?q=">搜索</a> <a href="#top">顶部</a>
  <a href="javascript:void(0)">更多</a> <a href="mailto:editor@example.com.cn">联系我们</a>
</div>
<div class="cats">
  <a href="/category/ai/">人工智能</a> <a href="/tag/大模型">大模型</a>
  <a href="/author/zhangsan/">张三</a> <a href="/tech/list_2.shtml">下一页</a>
</div>
<div class="focus">
  <a href="/2024/0920/123456.shtml"><img src="/img/focus1.jpg" alt=""></a>
  <a href="/2024/0920/123456.shtml">百川智能发布新一代大模型，上下文长度翻倍</a>
  <a href="/news/20240920/abc.html">算力租赁价格回落，中小厂商承压</a>
  <a href="/article/98765">智谱完成新一轮融资</a>
  <a href="https://tech.example.com.cn/2024/0919/654321.shtml">子站：月之暗面推出新功能</a>
  <a href="
     /2024/0918/111222.shtml
  ">换行的链接：昇腾芯片出货量</a>
  <a href="/2024/0920/123456.shtml#comments">评论</a>
</div>
<div class="ads">
  <a href="https://www.other-portal.com/2024/0920/999999.shtml">外站文章</a>
  <a href="/download/report-2024.pdf">下载报告</a>
  <a href="/img/poster-20240920.jpg">海报</a>
</div>
</body></html>"""


def test_listing_heuristic_chinese_portal():
    entries = listing_links(CN_HOME, "https://www.example.com.cn/", "cn")
    assert [e.url for e in entries] == [
        "https://www.example.com.cn/2024/0920/123456.shtml",
        "https://www.example.com.cn/news/20240920/abc.html",
        "https://www.example.com.cn/article/98765",
        "https://tech.example.com.cn/2024/0919/654321.shtml",
        "https://www.example.com.cn/2024/0918/111222.shtml",
    ]
    assert entries[0].title == "百川智能发布新一代大模型，上下文长度翻倍"  # image link came first
    assert all(e.found_on == "https://www.example.com.cn/" and e.source == "cn" for e in entries)


EN_HOME = """<html><head><title>Example Tech</title></head><body>
<nav><a href="/">Home</a> <a href="/about">About</a> <a href="/tag/ai">AI</a>
<a href="/section/technology/">Technology</a> <a href="/privacy-policy">Privacy policy</a>
<a href="/newsletter">Newsletter</a> <a href="/authors/jane-doe">Jane Doe</a>
<a href="/page/2">Older posts</a> <a href="/feed">RSS</a></nav>
<main>
<h2><a href="/2024/09/20/some-long-slug-about-ai">Some long story about AI chips</a></h2>
<h2><a href="https://www.example.com/news/openai-ships-new-reasoning-model">OpenAI ships a new reasoning model</a></h2>
<h3><a href="/opinion/chip-export-limits">Why chip export limits keep tightening</a></h3>
<h3><a href="/opinion/three-word-slug">Go</a></h3>
<a href="/video/interview.mp4">Watch the interview</a>
<a href="https://elsewhere.example.org/2024/09/20/rival-story-about-models">Rival story</a>
</main></body></html>"""


def test_listing_heuristic_english():
    entries = listing_links(EN_HOME, "https://www.example.com/", "en")
    assert [(e.url, e.title) for e in entries] == [
        ("https://www.example.com/2024/09/20/some-long-slug-about-ai", "Some long story about AI chips"),
        ("https://www.example.com/news/openai-ships-new-reasoning-model", "OpenAI ships a new reasoning model"),
        # a three-word slug counts only with a headline-sized anchor text
        ("https://www.example.com/opinion/chip-export-limits", "Why chip export limits keep tightening"),
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://finance.portal.cn/tech/2024-09-20/doc-abcdefg1234567.shtml", True),
        ("https://www.portal.cn/tech/article/JC7ABCDEF00097U7.html", True),
        ("https://www.portal.cn/a/812345678_121123456", True),
        ("https://tech.portal.cn/c/8ZXabcdEFgh", True),
        ("https://www.portal.cn/newsDetail_forward_28812345", True),
        ("https://www.portal.cn/zhengce/202409/content_6975123.htm", True),
        ("https://www.portal.cn/show.php?id=4821", True),
        ("https://www.portal.cn/archives/12345", True),
        ("https://www.portal.cn/list_25434", False),
        ("https://www.portal.cn/news/list_3.shtml", False),
        ("https://www.portal.cn/channel/106.html", False),
        ("https://www.portal.cn/topics/artificial-intelligence", False),
        ("https://www.portal.cn/user/123456789", False),
        ("https://www.portal.cn/news/", False),
        # a dated story kept as a folder's index page is an article; a day's or a section's index is not
        ("https://www.portal.cn/tech/2026/11/25/open-weights-release/index.html", True),
        ("https://www.portal.cn/tech/2026/11/25/index.html", False),
        ("https://www.portal.cn/tech/ai-industry/index.html", False),
    ],
)
def test_article_url_shapes(url, expected):
    assert looks_like_article(url, "https://www.portal.cn/", "一条足够长的新闻标题文字") is expected


def test_listing_allow_and_deny():
    rules = LinkRules.of(allow=(r"/20\d\d/\d{4}/\d+\.shtml$", r"passport\."),
                         deny=(r"tech\.example\.com\.cn", r"login"))
    entries = listing_links(CN_HOME, "https://www.example.com.cn/", "cn", rules)
    assert [e.url for e in entries] == [
        "https://www.example.com.cn/2024/0920/123456.shtml",
        "https://www.example.com.cn/2024/0918/111222.shtml",
        # allow patterns replace the heuristic, so an off-site match is kept
        "https://www.other-portal.com/2024/0920/999999.shtml",
    ]


def test_listing_deny_without_allow():
    rules = LinkRules.of(deny=(r"/article/",))
    urls = [e.url for e in listing_links(CN_HOME, "https://www.example.com.cn/", "cn", rules)]
    assert "https://www.example.com.cn/article/98765" not in urls
    assert "https://www.example.com.cn/news/20240920/abc.html" in urls


def test_listing_base_href_and_xml_declaration():
    html = """<?xml version="1.0" encoding="utf-8"?>
<html><head><base href="https://cdn.example.net/site/"></head><body>
<a href="2024/09/20/relative-article-about-model-pricing">Model pricing story</a>
</body></html>"""
    [entry] = listing_links(html, "https://cdn.example.net/", "x")
    assert entry.url == "https://cdn.example.net/site/2024/09/20/relative-article-about-model-pricing"


def test_listing_base_href_python_refuses_is_the_page_url():
    html = """<html><head><base href="https://[cdn_host]/site/"></head><body>
<a href="/2024/09/20/relative-article-about-model-pricing">Model pricing story</a>
</body></html>"""
    [entry] = listing_links(html, "https://www.example.net/news/", "x")
    assert entry.url == "https://www.example.net/2024/09/20/relative-article-about-model-pricing"


def test_listing_localhost_same_host():
    html = '<a href="/2024/09/20/local-test-article">Local</a><a href="http://127.0.0.2/2024/09/20/x-y-z-w">Other</a>'
    entries = listing_links(html, "http://127.0.0.1:8765/", "local")
    assert [e.url for e in entries] == ["http://127.0.0.1:8765/2024/09/20/local-test-article"]


def test_listing_empty_html():
    assert listing_links("", "https://www.example.com/", "x") == []
    assert listing_links("   ", "https://www.example.com/", "x") == []


# ---------------------------------------------------------------- search feeds


def test_expand_search_chinese():
    template = "https://news.example.com/rss/search?q={query}&hl=zh-CN"
    urls = expand_search(template, ["大模型", "AI 芯片", "大模型", "  "])
    assert urls == [
        "https://news.example.com/rss/search?q=%E5%A4%A7%E6%A8%A1%E5%9E%8B&hl=zh-CN",
        "https://news.example.com/rss/search?q=AI+%E8%8A%AF%E7%89%87&hl=zh-CN",
    ]


def test_expand_search_needs_placeholder():
    with pytest.raises(ValueError, match="query"):
        expand_search("https://news.example.com/rss/search?q=", ["x"])


@dataclass(frozen=True)
class _Topic:
    name: str
    terms: tuple[tuple[str, ...], ...]
    keep_all: bool = False


def test_search_queries():
    topics = [
        _Topic("llm", (("大模型", "大型語言模型", "LLM"), ("算力", "compute"))),
        _Topic("all", (("anything",),), keep_all=True),
        _Topic("chips", (("算力",), ("昇腾", "Ascend"), ())),
    ]
    assert search_queries(topics) == ["大模型", "算力", "昇腾"]


# ---------------------------------------------------------------- age

NOW = datetime(2024, 9, 21, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("published", "days", "expected"),
    [
        (None, 7, False),
        ("", 7, False),
        ("not a date", 7, False),
        ("2020-01-01T00:00:00+00:00", 0, False),  # 0 = no limit
        ("2024-09-20T12:00:00+00:00", 1, False),  # exactly one day: not older
        ("2024-09-20T11:59:00+00:00", 1, True),
        ("2024-09-20T20:30:00+08:00", 1, False),  # 12:30 UTC: the offset counts
        ("2024-09-20T19:30:00+08:00", 1, True),  # 11:30 UTC
        ("2024-09-20T11:00:00", 1, True),  # naive = UTC
        ("2024-09-20", 1, False),  # a date: counted by calendar day
        ("2024-09-19", 1, True),
        ("2024-09-14", 7, False),
        ("2024-09-13", 7, True),
        ("2024-09-20T11:59Z", 1, True),
        ("2025-01-01T00:00:00+00:00", 1, False),  # future
    ],
)
def test_is_too_old(published, days, expected):
    assert is_too_old(published, days, now=NOW) is expected


def test_is_too_old_naive_now_and_default_now():
    assert is_too_old("2024-09-01", 7, now=datetime(2024, 9, 21)) is True
    assert is_too_old("2000-01-01", 30) is True


def test_section_links_follow_sub_sections_not_articles_or_other_hosts():
    html = """<html><body>
    <a href="/news/ai/">AI</a> <a href="/news/page/2">next</a> <a href="/about">about</a>
    <a href="/news/2024/09/20/qwen-open-models-released-today">Qwen models released</a>
    <a href="http://other.example/news/ai/">elsewhere</a> <a href="/news/logo.png">logo</a>
    </body></html>"""
    links = section_links(html, "http://news.example/news/")
    assert links == ["http://news.example/news/ai/", "http://news.example/news/page/2"]


# ---------------------------------------------------------------- stated dates: one rule

ZH_FEED = """<rss version="2.0"><channel><title>{title}</title>{lang}
<item><title>条目</title><link>https://news.example.cn/a/1.html</link><pubDate>{date}</pubDate></item>
</channel></rss>"""


def feed_date(date: str, lang: str = "", title: str = "科技频道", hint: str | None = None) -> str | None:
    tag = f"<language>{lang}</language>" if lang else ""
    body = ZH_FEED.format(title=title, lang=tag, date=date).encode("utf-8")
    [entry] = parse_feed(body, FEED_URL, "ex", language=hint)
    return entry.published


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        # feedparser reads the first two as 2024-11-01: they must come from our parser
        ("2024/09/20 13:47", "2024-09-20T13:47:00+08:00"),
        ("2024年09月20日 13:47", "2024-09-20T13:47:00+08:00"),
        ("Fri, 20 Sep 2024 13:47:00 +0800", "2024-09-20T13:47:00+08:00"),
        ("Fri, 20 Sep 2024 05:47:00 GMT", "2024-09-20T05:47:00+00:00"),
        ("Fri, 20 Sep 2024 13:47:00", "2024-09-20T13:47:00+08:00"),
        ("Fri, 20 Sep 2024 13:47:00 CST", "2024-09-20T13:47:00+08:00"),  # China Standard Time
        ("2024-09-20T13:47:00", "2024-09-20T13:47:00+08:00"),
        ("2024-09-20T13:47:00+09:00", "2024-09-20T13:47:00+09:00"),
        # JavaScript's Date.toString; an hour-only offset (PostgreSQL's text form); a zone
        # email.utils does not read, and a 12-hour clock: each stated zone kept
        ("Fri Sep 20 2024 13:47:00 GMT+0800 (China Standard Time)", "2024-09-20T13:47:00+08:00"),
        ("2024-09-20 13:47:00+08", "2024-09-20T13:47:00+08:00"),
        ("2024-09-20 13:47:00-05", "2024-09-20T13:47:00-05:00"),
        ("20 Sep 2024 13:47 +08:00", "2024-09-20T13:47:00+08:00"),
        ("Fri, 20 Sep 2024 1:47:00 PM +0800", "2024-09-20T13:47:00+08:00"),
        ("2024-09-20", "2024-09-20"),
        ("明天", None),
    ],
)
def test_chinese_feed_dates(date, expected):
    assert feed_date(date, lang="zh-cn") == expected


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("2024/09/20 13:47", "2024-09-20T13:47:00+00:00"),
        ("2024年09月20日 13:47", "2024-09-20T13:47:00+08:00"),  # Chinese characters: Beijing
        ("Fri, 20 Sep 2024 13:47:00 +0800", "2024-09-20T13:47:00+08:00"),
        ("Fri, 20 Sep 2024 13:47:00", "2024-09-20T13:47:00+00:00"),
        ("Fri, 20 Sep 2024 13:47:00 CST", "2024-09-20T13:47:00-06:00"),  # US Central here
        ("2024-09-20T13:47:00", "2024-09-20T13:47:00+00:00"),
        ("2024-09-20T13:47:00Z", "2024-09-20T13:47:00+00:00"),
    ],
)
def test_english_feed_dates(date, expected):
    assert feed_date(date, lang="en-us", title="Example Tech") == expected


def test_feed_language_from_title_then_hint():
    assert feed_date("2024/09/20 13:47") == "2024-09-20T13:47:00+08:00"  # Han title
    assert feed_date("2024/09/20 13:47", title="Tech") == "2024-09-20T13:47:00+00:00"
    assert feed_date("2024/09/20 13:47", title="Tech", hint="zh") == "2024-09-20T13:47:00+08:00"
    assert feed_date("2024/09/20 13:47", lang="en", hint="zh") == "2024-09-20T13:47:00+00:00"


def test_slashed_feed_date_feeds_the_age_filter():
    published = feed_date("2024/09/10 13:47", lang="zh-cn")
    assert is_too_old(published, 7, now=NOW) is True
    assert is_too_old(feed_date("2024/09/20 13:47", lang="zh-cn"), 7, now=NOW) is False


def sitemap_date(lastmod: str, news_language: str | None = None, hint: str | None = None) -> str | None:
    news = ""
    if news_language:
        news = (f"<news:news><news:publication><news:name>示例</news:name><news:language>{news_language}"
                "</news:language></news:publication><news:title>T</news:title></news:news>")
    body = f"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
    xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
    <url><loc>https://www.example.com/a/1.html</loc><lastmod>{lastmod}</lastmod>{news}</url></urlset>"""
    [entry] = parse_sitemap(body.encode("utf-8"), SITEMAP_URL, "ex", language=hint).entries
    return entry.published


@pytest.mark.parametrize(
    ("lastmod", "news_language", "hint", "expected"),
    [
        ("2024/09/20 13:47", None, None, "2024-09-20T13:47:00+00:00"),  # no sign of Chinese
        ("2024/09/20 13:47", "zh-cn", None, "2024-09-20T13:47:00+08:00"),
        ("2024/09/20 13:47", None, "zh", "2024-09-20T13:47:00+08:00"),
        ("2024年09月20日 13:47", None, None, "2024-09-20T13:47:00+08:00"),
        ("Fri, 20 Sep 2024 13:47:00 +0800", None, None, "2024-09-20T13:47:00+08:00"),
        ("Fri, 20 Sep 2024 13:47:00", "zh-tw", None, "2024-09-20T13:47:00+08:00"),
        ("2024-09-20T13:47:00", None, None, "2024-09-20T13:47:00+00:00"),
        ("2024-09-20T13:47:00", "zh", None, "2024-09-20T13:47:00+08:00"),
        ("2024-09-20T13:47:00-04:00", "zh", None, "2024-09-20T13:47:00-04:00"),
        ("2024-09-20T13:47+08:00", None, None, "2024-09-20T13:47:00+08:00"),
        ("not a date", None, None, None),
    ],
)
def test_sitemap_dates(lastmod, news_language, hint, expected):
    assert sitemap_date(lastmod, news_language, hint) == expected


# ---------------------------------------------------------------- the site of a URL


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://news.qq.com/a/20240920/1.htm", "qq.com"),
        ("https://tech.sina.com.cn/roll/1.shtml", "sina.com.cn"),
        ("http://NEWS.Example.COM./a", "example.com"),
        ("https://www.example.com:8443/a", "example.com"),  # a name: the port does not matter
        ("https://user1.github.io/p", "user1.github.io"),  # private suffixes count
        ("https://新华网.中国/a", "新华网.中国"),
        ("http://127.0.0.1:8123/a", "127.0.0.1:8123"),  # an IP: each port its own site
        ("http://127.0.0.1/a", "127.0.0.1"),
        ("http://127.0.0.1:80/a", "127.0.0.1"),  # the scheme's default port is no port
        ("https://127.0.0.1:443/a", "127.0.0.1"),
        ("http://[::1]:8080/a", "[::1]:8080"),
        ("http://localhost:5000/", "localhost:5000"),
        ("http://intranet.corp:8080/x", "intranet.corp:8080"),  # no known suffix: like a host
    ],
)
def test_site_of(url, site):
    assert site_of(url) == site


def test_site_of_works_offline_and_writes_no_cache(tmp_path):
    """The bundled suffix list only: with sockets refused and a fresh cache location, the
    answers are the same and nothing is written."""
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse; socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from crawler.text.urls import site_of\n"
        "print(site_of('https://news.qq.com/a'), site_of('https://a.b.bbc.co.uk/x'))\n"
    )
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "TLDEXTRACT_CACHE": str(tmp_path / "tld")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["qq.com", "bbc.co.uk"]
    assert list(tmp_path.iterdir()) == []
