"""Tests of the fixture news site itself: if these fail, an e2e failure means nothing."""

from __future__ import annotations

import dataclasses
import gzip
import http.client
import re
import socket
import threading
import time
import tomllib
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import opencc
import pytest
from fixturesite import FeedItem, FixtureSite, build, etag_of, manifest

T2S = opencc.OpenCC("t2s")


def get(site: FixtureSite, host: str, path: str, headers: dict[str, str] | None = None,
        method: str = "GET", timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    """One raw request (no redirect following, no decompression)."""
    netloc = urlsplit(site.base(host)).netloc
    conn = http.client.HTTPConnection(netloc, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def page(site: FixtureSite, e: manifest.Expected) -> str:
    """An article page decoded with its true encoding (not what its headers claim)."""
    status, _, body = get(site, e.host, e.path)
    assert status == 200, e.path
    return body.decode(e.encoding)


# -- hosts, placeholders, robots -------------------------------------------------------

def test_each_host_is_its_own_loopback_address(site: FixtureSite) -> None:
    assert [urlsplit(site.base(h)).hostname for h in "abc"] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert get(site, "a", "/rss.xml")[0] == 200
    assert get(site, "b", "/atom.xml")[0] == 200
    assert get(site, "c", "/feed.xml")[0] == 200
    assert get(site, "b", "/rss.xml")[0] == 404  # host A's feed is not on host B
    assert [r.host for r in site.requests] == ["a", "b", "c", "b"]


def test_placeholders_are_filled_with_the_running_ports(site: FixtureSite) -> None:
    _, _, body = get(site, "c", "/feed.xml")
    text = body.decode()
    assert "{{" not in text
    assert site.url("c", "/news/2024/10/03/moonshot-kimi-compute-bills") in text
    assert f"{site.base('c')}/news/2024/09/19/alibaba-qwen-open-models?utm_source=rss&amp;utm_medium=feed" in text


def test_robots_txt_per_host(site: FixtureSite) -> None:
    a = get(site, "a", "/robots.txt")[2].decode()
    assert "Disallow: /private/" in a
    assert f"Sitemap: {site.base('a')}/sitemap_index.xml" in a
    assert f"Crawl-delay: {build.CRAWL_DELAY_B}" in get(site, "b", "/robots.txt")[2].decode()
    assert "Crawl-delay" not in get(site, "c", "/robots.txt")[2].decode()


def test_private_page_is_linked_from_the_feed_but_disallowed(site: FixtureSite) -> None:
    feed = get(site, "a", "/rss.xml")[2].decode("gbk")
    assert site.url(*manifest.PRIVATE) in feed
    assert manifest.BY_PATH[manifest.PRIVATE].outcome == "never_requested"


# -- conditional GET -----------------------------------------------------------------------

def test_conditional_get_with_etag_and_last_modified(site: FixtureSite) -> None:
    path = "/tech/2024/0919/1001.shtml"
    status, headers, body = get(site, "a", path)
    assert status == 200 and headers["ETag"] == etag_of(body)
    assert re.fullmatch(r'"[0-9a-f]{32}"', headers["ETag"])  # strong
    assert headers["Last-Modified"] == "Thu, 19 Sep 2024 02:15:00 GMT"  # 10:15 +08:00
    etag, lm = headers["ETag"], headers["Last-Modified"]
    assert get(site, "a", path, {"If-None-Match": etag})[::2] == (304, b"")
    assert get(site, "a", path, {"If-None-Match": f'"other", W/{etag}'})[0] == 304
    assert get(site, "a", path, {"If-Modified-Since": lm})[::2] == (304, b"")
    older = formatdate(time.mktime((2024, 9, 1, 0, 0, 0, 0, 0, 0)), usegmt=True)
    assert get(site, "a", path, {"If-Modified-Since": older})[0] == 200
    # If-None-Match wins over If-Modified-Since when both are sent
    assert get(site, "a", path, {"If-None-Match": '"stale"', "If-Modified-Since": lm})[0] == 200
    log = site.requests_for("a", path)
    assert [(r.status, r.if_none_match, r.if_modified_since) for r in log] == [
        (200, False, False), (304, True, False), (304, True, False), (304, False, True),
        (200, False, True), (200, True, True)]
    assert log[1].header("if-none-match") == etag


def test_every_response_has_validators(site: FixtureSite) -> None:
    for host, path in [("a", "/robots.txt"), manifest.NOT_FOUND, manifest.SERVER_ERROR,
                       next(iter(manifest.REDIRECTS)), manifest.PDF]:
        headers = get(site, host, path)[1]
        assert "ETag" in headers and "Last-Modified" in headers, path


# -- special paths ---------------------------------------------------------------------------

def test_redirect_404_500_pdf_and_oversized(site: FixtureSite) -> None:
    (old_host, old), (_, new) = next(iter(manifest.REDIRECTS.items()))
    status, headers, _ = get(site, old_host, old)
    assert status == 301 and headers["Location"] == site.url("a", new)
    assert get(site, *manifest.NOT_FOUND)[0] == 404
    assert get(site, *manifest.SERVER_ERROR)[0] == 500
    status, headers, body = get(site, *manifest.PDF)
    assert headers["Content-Type"] == "application/pdf" and body.startswith(b"%PDF-1.4")
    assert body.rstrip().endswith(b"%%EOF")
    status, headers, body = get(site, *manifest.OVERSIZED)
    assert status == 200 and int(headers["Content-Length"]) == len(body) > 3_000_000


def test_gzipped_child_sitemap(site: FixtureSite) -> None:
    index = get(site, *manifest.SITEMAP_INDEX)[2].decode()
    assert site.url(*manifest.SITEMAP_GZ) in index and site.url(*manifest.NEWS_SITEMAP) in index
    status, headers, body = get(site, *manifest.SITEMAP_GZ)
    assert headers["Content-Type"] == "application/x-gzip" and body[:2] == b"\x1f\x8b"
    assert "Content-Encoding" not in headers  # a gzip file, not a compressed transfer
    xml = gzip.decompress(body).decode()
    assert "<urlset" in xml and site.url("a", "/news/2024-07/waic-humanoid-robots.html") in xml
    assert get(site, *manifest.SITEMAP_GZ)[2] == body  # deterministic: stable ETag
    news = get(site, *manifest.NEWS_SITEMAP)[2].decode()
    assert "<news:publication_date>2024-10-11T15:20:00+08:00</news:publication_date>" in news


def test_slow_path_is_slow_and_shutdown_is_quick() -> None:
    site = FixtureSite(slow_seconds=5.0).start()
    try:
        started = time.monotonic()
        with pytest.raises((TimeoutError, socket.timeout)):
            get(site, *manifest.SLOW, timeout=0.5)
        assert 0.5 <= time.monotonic() - started < 2
        pending = threading.Thread(target=lambda: _swallow(get, site, *manifest.SLOW, timeout=10))
        pending.start()
        deadline = time.monotonic() + 10
        while len(site.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # until the second request is sleeping in the server
    finally:
        started = time.monotonic()
        site.stop()
    assert time.monotonic() - started < 1.0
    pending.join(timeout=2)
    assert not pending.is_alive()
    assert [r.path for r in site.requests] == [manifest.SLOW[1]] * 2


def _swallow(fn: Callable[..., object], *args: object, **kwargs: object) -> None:
    try:
        fn(*args, **kwargs)
    except (OSError, http.client.HTTPException):
        pass


def test_slow_path_answers_eventually() -> None:
    with FixtureSite(slow_seconds=0.3) as site:
        started = time.monotonic()
        assert get(site, *manifest.SLOW)[0] == 200
        assert time.monotonic() - started >= 0.3


# -- encodings -------------------------------------------------------------------------------

def _body(site: FixtureSite, key: tuple[str, str]) -> tuple[str, bytes]:
    _, headers, body = get(site, *key)
    return headers["Content-Type"], body


def test_gbk_pages_are_gbk_bytes(site: FixtureSite) -> None:
    ctype, body = _body(site, ("a", "/tech/2024/0919/1001.shtml"))
    assert ctype == "text/html; charset=gb2312"
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    with pytest.raises(UnicodeDecodeError):
        body.decode("gb2312")  # 王喆: a GBK-only character under a GB2312 label
    assert "通义千问" in body.decode("gbk") and "作者:王喆" in body.decode("gbk")


def test_big5_pages_are_big5_bytes(site: FixtureSite) -> None:
    ctype, body = _body(site, ("b", "/news/2024/09/20/yunqi-qwen-open-models.html"))
    assert ctype == "text/html; charset=big5"
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    text = body.decode("big5")
    assert "通義千問" in text and '<meta charset="big5">' in text


def test_lying_charsets(site: FixtureSite) -> None:
    ctype, body = _body(site, ("a", "/news/2024-08/zhipu-glm-agents.html"))
    assert ctype == "text/html; charset=gb2312" and '<meta charset="gb2312">' in body.decode()
    assert "智谱" in body.decode("utf-8")  # really UTF-8
    ctype, body = _body(site, ("a", "/tech/2024/0423/0612.shtml"))
    assert ctype == "text/html; charset=utf-8"
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert "商汤" in body.decode("gbk")


def test_feeds_parse_with_feedparser(site: FixtureSite) -> None:
    """The GBK feed declares its encoding only in the XML prolog."""
    ctype, body = _body(site, manifest.FEEDS["a"])
    assert ctype == "application/rss+xml" and body.startswith(b'<?xml version="1.0" encoding="gbk"?>')
    parsed = feedparser.parse(body, response_headers={"content-type": ctype})
    titles = [e.title for e in parsed.entries]
    assert not parsed.bozo and "云栖大会开幕 阿里云发布新一代通义千问开源模型" in titles
    old = next(e for e in parsed.entries if e.link.endswith(manifest.OLD_ARTICLE[1]))
    assert old.published_parsed.tm_year == 2019
    atom = feedparser.parse(_body(site, manifest.FEEDS["b"])[1])
    assert not atom.bozo and len(atom.entries) == 4
    assert atom.entries[0].published == "2024-10-06T22:40:00+08:00"


# -- run-time changes ------------------------------------------------------------------------

def test_add_and_remove_page(site: FixtureSite) -> None:
    url = site.add_page("b", "/news/new.html", "<p>{{host_c}}新頁</p>".encode("big5"),
                        charset="big5")
    assert url == site.url("b", "/news/new.html")
    status, headers, body = get(site, "b", "/news/new.html")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=big5"
    assert body.decode("big5") == f"<p>{site.base('c')}新頁</p>"
    site.remove_page("b", "/news/new.html")
    assert get(site, "b", "/news/new.html")[0] == 404


def test_add_article_changes_the_feed_validators(site: FixtureSite) -> None:
    _, first, _ = get(site, "c", "/feed.xml")
    spec = dataclasses.replace(
        build.C.QWEN_OPEN, path="/news/2024/10/20/new-story",
        title="A brand new story about compute", published="2024-10-20T08:00:00+00:00")
    url = site.add_article(spec)
    assert get(site, "c", "/news/2024/10/20/new-story")[0] == 200
    status, second, body = get(site, "c", "/feed.xml", {"If-None-Match": first["ETag"]})
    assert status == 200 and second["ETag"] != first["ETag"]
    assert second["Last-Modified"] != first["Last-Modified"]
    assert get(site, "c", "/feed.xml", {"If-Modified-Since": first["Last-Modified"]})[0] == 200
    entries = feedparser.parse(body).entries
    assert entries[0].link == url and entries[0].title == "A brand new story about compute"
    site.add_feed_item("c", "/feed.xml", FeedItem(url="{{host_c}}/x", title="x"))
    assert feedparser.parse(get(site, "c", "/feed.xml")[2]).entries[0].link == site.url("c", "/x")


def test_request_log_is_thread_safe(site: FixtureSite) -> None:
    threads = [threading.Thread(target=get, args=(site, "abc"[i % 3], "/robots.txt"))
               for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(site.requests) == 30 and len(site.requests_for("b")) == 10
    assert all(earlier.time <= later.time for earlier, later in
               zip(site.requests_for("a"), site.requests_for("a")[1:], strict=False))
    site.clear_log()
    assert site.requests == []


def test_settings_template(site: FixtureSite, site_settings: Path) -> None:
    settings = tomllib.loads(site_settings.read_text(encoding="utf-8"))
    assert settings["crawl"] == {"max_age_days": 0, "timeout": 2, "delay": 0,
                                 "max_page_bytes": 1_000_000, "retries": 0}
    assert [s["name"] for s in settings["sources"]] == list(manifest.SOURCE_NAMES)
    assert settings["sources"][1]["url"] == site.base("a")
    assert settings["corpus"]["path"].endswith("corpus.db") and "topics" not in settings


# -- the manifest agrees with the pages ------------------------------------------------------

SPECS = dict(zip(manifest.ARTICLES, build.ARTICLES, strict=True))
HAN = re.compile(r"[\u4e00-\u9fff]")


def _body_text(e: manifest.Expected) -> str:
    return "\n".join(SPECS[e].paragraphs)


def _terms_in(text: str) -> set[str]:
    folded = T2S.convert(text).lower()
    found = set()
    for term in manifest.TOPIC_TERMS:
        t = term.lower()
        if t.isascii():
            if re.search(rf"(?<![a-z0-9]){re.escape(t)}(?![a-z0-9])", folded):
                found.add(term)
        elif t in folded:
            found.add(term)
    return found


def test_every_page_holds_its_snippets_and_boilerplate(site: FixtureSite) -> None:
    site.slow_seconds = 0  # read at request time: the slow page answers at once
    for e in manifest.ARTICLES:
        html, body = page(site, e), _body_text(e)
        assert e.title in html, e.path
        for snippet in e.must_include:
            assert snippet in html and snippet in body, (e.path, snippet)
        for snippet in e.must_exclude:
            assert snippet in html and snippet not in body, (e.path, snippet)


def test_articles_are_long_enough_for_an_extractor() -> None:
    for e in manifest.ARTICLES:
        if e.outcome in ("never_requested", "timeout"):
            continue
        body = _body_text(e)
        if e.language == "zh":
            assert len(HAN.findall(body)) >= 400, e.path
        else:
            assert len(body.split()) >= 150, e.path


def test_on_topic_pages_use_topic_terms_and_off_topic_pages_none(site: FixtureSite) -> None:
    for e in manifest.ARTICLES:
        if e.on_topic:
            assert len(_terms_in(_body_text(e))) >= 3, e.path
        else:
            assert _terms_in(page(site, e)) == set(), e.path  # boilerplate included
    assert len(manifest.expect("off_topic")) == 4


def test_scripts_are_what_the_manifest_says() -> None:
    s2t = opencc.OpenCC("s2t")
    for e in manifest.ARTICLES:
        body = "".join(HAN.findall(_body_text(e)))
        if e.script == "zh-Hant":
            assert T2S.convert(body) != body, e.path
        elif e.script == "zh-Hans":
            changed = sum(a != b for a, b in zip(body, T2S.convert(body), strict=True))
            assert changed <= len(body) // 100 and s2t.convert(body) != body, e.path  # 昇腾
        else:
            assert body == "", e.path


def test_copies_and_their_originals() -> None:
    groups = manifest.story_groups()
    assert sorted(len(g) for g in groups) == [2, 2, 2]
    for original, *copies in groups:
        for copy in copies:
            assert copy.outcome == "copy" and original.outcome == "article"
            assert T2S.convert(_body_text(copy)) == _body_text(original)
    canonical = next(e for e in manifest.ARTICLES if e.duplicate_kind == "canonical")
    assert canonical.canonical == canonical.duplicate_of[1]  # type: ignore[index]


def test_canonical_link_points_to_the_original(site: FixtureSite) -> None:
    e = next(e for e in manifest.ARTICLES if e.duplicate_kind == "canonical")
    assert f'<link rel="canonical" href="{site.url(*e.duplicate_of)}" />' in page(site, e)  # type: ignore[misc]


def test_every_page_is_reached_by_a_configured_source() -> None:
    for e in manifest.ARTICLES:
        assert e.sources and e.linked_as, e.path
    by = manifest.BY_PATH
    huawei = by[next(iter(manifest.REDIRECTS.values()))]
    assert huawei.linked_as == ("{{host_a}}" + next(iter(manifest.REDIRECTS))[1],)
    waic = by[("a", "/news/2024-07/waic-humanoid-robots.html")]
    assert set(waic.sources) == {"xinghe-rss", "xinghe-sitemap"}
    assert any("utm_source=rss" in u for u in waic.linked_as)
    assert any("utm_source=rss" not in u for u in waic.linked_as)
    assert by[manifest.NO_DATE].sources == ("ledger-news",)
    assert by[manifest.OLD_ARTICLE].published_day == "2019-08-30"


def test_dated_pages_show_their_date_and_the_dateless_one_none(site: FixtureSite) -> None:
    site.slow_seconds = 0
    for e in manifest.ARTICLES:
        html = page(site, e)
        if e.published is None:
            assert re.findall(r"\b(?:19|20)\d\d\b", html) == ["2024"], e.path  # © 2024 only
            continue
        when = manifest.published_dt(e)
        assert when is not None
        shown = {"zh": [f"{when:%Y年%m月%d日 %H:%M}", f"{when:%Y/%m/%d %H:%M}",
                        f"{when:%Y-%m-%d %H:%M}"],
                 "en": [e.published]}[e.language]
        assert any(s in html for s in shown), e.path
