"""Tests for crawler/sources/news_search.py `publisher_url`: the publisher URL inside a Bing News click link.

Every link and feed here is written for these tests; nothing touches the network, and one
test proves it by refusing every socket connection while the function runs.
"""

from __future__ import annotations

import socket
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.sources.feeds import parse_feed
from crawler.sources.news_search import publisher_url

PUBLISHER = "https://www.example.cn/tech/2026-11/ai-chip.html"


def click_link(target: str, host: str = "www.bing.com", scheme: str = "http", **extra: str) -> str:
    """A click link shaped like Bing's: ref, aid and tid first, the target, then c and mkt."""
    params = {"ref": "FexRss", "aid": "", "tid": "AB12CD34", "url": target, "c": "1234567", "mkt": "zh-cn"}
    params.update(extra)
    return f"{scheme}://{host}/news/apiclick.aspx?{urlencode(params)}"


def test_the_url_parameter_is_the_publisher_url():
    assert publisher_url(click_link(PUBLISHER)) == PUBLISHER


def test_lower_case_percent_escapes_as_bing_writes_them():
    link = ("http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=X1"
            "&url=https%3a%2f%2fnews.example.org%2fa%2fb.html%3fid%3d42%26src%3drss&c=9&mkt=en-us")
    assert publisher_url(link) == "https://news.example.org/a/b.html?id=42&src=rss"


def test_the_publisher_query_string_and_escapes_survive():
    target = "https://www.example.cn/a/%E5%A4%A7%E6%A8%A1%E5%9E%8B?id=7&from=rss#top"
    assert publisher_url(click_link(target)) == target


def test_any_bing_host_and_either_scheme():
    for host in ("www.bing.com", "cn.bing.com", "bing.com", "WWW.BING.COM"):
        for scheme in ("http", "https"):
            assert publisher_url(click_link(PUBLISHER, host=host, scheme=scheme)) == PUBLISHER


def test_a_parameter_left_html_escaped_is_still_found():
    link = f"http://www.bing.com/news/apiclick.aspx?ref=FexRss&amp;url={quote(PUBLISHER, safe='')}&amp;c=1"
    assert publisher_url(link) == PUBLISHER


def test_a_target_encoded_twice_is_decoded_once_more():
    twice = quote(quote(PUBLISHER, safe=""), safe="")
    link = f"http://www.bing.com/news/apiclick.aspx?ref=FexRss&url={twice}&c=1"
    assert publisher_url(link) == PUBLISHER


@pytest.mark.parametrize("link", [
    PUBLISHER,
    "https://news.example.org/news/apiclick.aspx?url=https%3a%2f%2fexample.com%2fx",
    "https://www.bing.com/news/search?q=%E5%A4%A7%E6%A8%A1%E5%9E%8B&format=rss&url=https%3a%2f%2fexample.com%2fx",
    "http://www.bing.com/news/apiclick.aspx?ref=FexRss&tid=1&c=2",
    "http://www.bing.com/news/apiclick.aspx?ref=FexRss&url=",
    "http://www.bing.com/news/apiclick.aspx?ref=FexRss&url=javascript%3aalert(1)",
    "http://www.bing.com/news/apiclick.aspx?ref=FexRss&url=%2frelative%2fpath",
    "http://www.bing.com/news/apiclick.aspx?ref=FexRss&url=https%3a%2f%2f",
    "http://bing.com.example.net/news/apiclick.aspx?url=https%3a%2f%2fexample.com%2fx",
    "http://notbing.com/news/apiclick.aspx?url=https%3a%2f%2fexample.com%2fx",
    "http://[::1/news/apiclick.aspx?url=https%3a%2f%2fexample.com%2fx",
    "",
])
def test_other_links_are_left_alone(link):
    assert publisher_url(link) == link


def test_no_connection_is_attempted(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("publisher_url opened a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert publisher_url(click_link(PUBLISHER)) == PUBLISHER


_SEGMENT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)


@given(host=st.from_regex(r"[a-z][a-z0-9-]{0,10}\.(cn|com|org)", fullmatch=True),
       segments=st.lists(_SEGMENT, min_size=0, max_size=3),
       query=st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), _SEGMENT, max_size=3),
       scheme=st.sampled_from(["http", "https"]))
def test_any_wrapped_publisher_url_comes_back_unchanged(host, segments, query, scheme):
    target = f"{scheme}://{host}/" + "/".join(quote(s, safe="") for s in segments)
    if query:
        target += "?" + urlencode(query)
    assert publisher_url(click_link(target)) == target


BING_RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:News="https://www.bing.com:443/news/search?q=x&amp;format=rss">
<channel><title>大模型 - 必应资讯</title><link>https://www.bing.com/news/search?q=x&amp;format=rss</link>
<item><title>某公司发布新一代大模型（测试条目）</title>
<link>http://www.bing.com/news/apiclick.aspx?ref=FexRss&amp;aid=&amp;tid=T1&amp;url=https%3a%2f%2fwww.example.cn%2ftech%2f2026-11%2fai-chip.html&amp;c=11&amp;mkt=zh-cn</link>
<pubDate>Mon, 16 Nov 2026 08:30:00 GMT</pubDate><News:Source>示例科技网</News:Source></item>
<item><title>A second made-up item</title>
<link>http://www.bing.com/news/apiclick.aspx?ref=FexRss&amp;aid=&amp;tid=T2&amp;url=https%3a%2f%2fnews.example.org%2fstory%3fid%3d5&amp;c=12&amp;mkt=zh-cn</link>
<pubDate>Mon, 16 Nov 2026 09:00:00 GMT</pubDate><News:Source>Example News</News:Source></item>
</channel></rss>""".encode()


def test_links_of_a_parsed_bing_feed_unwrap_to_the_publishers():
    entries = parse_feed(BING_RSS, "https://www.bing.com/news/search?q=x&format=rss", "bing-news-zh")
    assert [e.url.startswith("http://www.bing.com/news/apiclick.aspx") for e in entries] == [True, True]
    assert [publisher_url(e.url) for e in entries] == [PUBLISHER, "https://news.example.org/story?id=5"]
