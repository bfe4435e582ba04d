"""Hostile bytes for the source parsers (crawler/sources/*): entity bombs, external entities,
and Hypothesis-generated random and mutated feeds, sitemaps, robots.txt files and listing
pages.  Whatever the bytes, a parser returns links or raises `SourceError`: nothing else."""

from __future__ import annotations

import gzip
import resource
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crawler.errors import SourceError
from crawler.records import SkipReason
from crawler.sources.feeds import declares_entities, parse_feed
from crawler.sources.listings import listing_links, section_links
from crawler.sources.news_search import publisher_url
from crawler.sources.sitemaps import parse_sitemap, robots_sitemaps

URL = "http://127.0.0.1:9/feed.xml"

RSS = (b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Wire</title>'
       b'<item><title>First</title><link>http://127.0.0.1:9/a/1.html</link>'
       b'<pubDate>Fri, 20 Sep 2024 13:47:00 +0800</pubDate></item>'
       b'<item><title>Second</title><link>/a/2.html</link></item></channel></rss>')
ATOM = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>W</title>'
        b'<entry><title>One</title><link href="http://127.0.0.1:9/b/1.html"/>'
        b'<updated>2024-09-20T10:00:00Z</updated></entry></feed>')
URLSET = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
          b'<url><loc>http://127.0.0.1:9/c/1.html</loc><lastmod>2024-09-20</lastmod></url>'
          b'<url><loc>http://127.0.0.1:9/c/2.html</loc></url></urlset>')
INDEX = (b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
         b'<sitemap><loc>http://127.0.0.1:9/s1.xml</loc></sitemap></sitemapindex>')
ROBOTS = b"User-agent: *\nDisallow: /private\nCrawl-delay: 2\nSitemap: http://127.0.0.1:9/s.xml\n"
LISTING = (b'<html><body><a href="/news/2024/09/20/model-launch.html">A model launches today</a>'
           b'<a href="/about">About</a><a href="/news/sub/">More</a></body></html>')


def entity_feed(count: int, size: int, prolog: bytes = b"", dtd_extra: bytes = b"") -> bytes:
    """A feed whose DTD declares one `size`-character entity, referenced `count` times."""
    return (b'<?xml version="1.0"?>' + prolog + b'\n<!DOCTYPE rss [' + dtd_extra
            + b'\n<!ENTITY big "' + b"x" * size + b'">\n]>\n<rss version="2.0"><channel>'
            b"<title>t</title><item><title>" + b"&big;" * count
            + b"</title><link>http://127.0.0.1:9/a</link></item></channel></rss>")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("body", [
    entity_feed(20_000, 10_000),  # 200 MB once expanded
    entity_feed(20_000, 10_000, prolog=b"<!-- -- -->"),  # malformed: the lenient parser
    entity_feed(20_000, 10_000, dtd_extra=b"<!-- <a> -->"),  # hides the entity from a prolog scan
    entity_feed(20_000, 10_000).decode().encode("utf-16"),
    entity_feed(20_000, 10_000).replace(b'version="1.0"', b'version="1.0" encoding="gbk"'),
    entity_feed(20_000, 10_000).replace(b"<?xml", b"\x00<?xml", 1),
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">' + b"".join(
        b'<!ENTITY %s "%s">' % (b"a" * (i + 2), b"&" + b"a" * (i + 1) + b";" * 1 * 10)
        for i in range(8)) + b']><rss version="2.0"><channel><item><title>&aaaaaaaaa;</title>'
     b"<link>http://127.0.0.1:9/a</link></item></channel></rss>"),  # billion laughs
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     b'<rss version="2.0"><channel><item><title>&x;</title><link>http://127.0.0.1:9/a</link>'
     b"</item></channel></rss>"),  # external entity
])
def test_feeds_declaring_entities_are_refused_without_expanding(body):
    before, start = peak_mb(), time.monotonic()
    with pytest.raises(SourceError) as refused:
        parse_feed(body, URL, "wire")
    assert refused.value.reason == SkipReason.BAD_FEED
    assert "entities" in refused.value.detail
    assert time.monotonic() - start < 5
    assert peak_mb() - before < 100


def test_the_prolog_scan_sees_every_encoding_feedparser_reads():
    assert declares_entities(entity_feed(1, 1))
    assert declares_entities(entity_feed(1, 1).decode().encode("utf-16-le"))
    assert declares_entities(entity_feed(1, 1).decode().encode("utf-32"))
    assert declares_entities(entity_feed(1, 1).decode().encode("cp037"))
    assert not declares_entities(RSS)
    # an entity written as text inside the feed declares nothing
    assert not declares_entities(RSS.replace(b"First", b"<![CDATA[<!ENTITY x 'y'>]]>"))


@pytest.mark.parametrize("declaration", [b"", b'<?xml version="1.0" encoding="utf-8"?>'])
@pytest.mark.parametrize("doctype", [
    b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
    b'"http://my.netscape.com/publish/formats/rss-0.91.dtd">',
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
    b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
    b'<!doctype rss SYSTEM "rss.dtd">',
])
def test_a_feed_with_an_external_dtd_and_no_entities_is_still_read(declaration, doctype):
    """RSS 0.91's DOCTYPE names the Netscape DTD: read the feed, never fetch the DTD."""
    body = RSS[RSS.index(b"<rss"):] if RSS.startswith(b"<?xml") else RSS
    body = declaration + doctype + b"\n" + body
    assert [e.title for e in parse_feed(body, URL, "wire")] == ["First", "Second"]


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY big "' + b"x" * 10_000 + b'">]>'
    b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://127.0.0.1:9/'
    + b"&big;" * 100_000 + b"</loc></url></urlset>",
    b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY a "aaaaaaaaaa">' + b"".join(
        b'<!ENTITY %s "%s">' % (b"a" * (i + 2), (b"&" + b"a" * (i + 1) + b";") * 10)
        for i in range(9)) + b']><urlset><url><loc>http://127.0.0.1:9/&aaaaaaaaaa;</loc></url></urlset>',
    b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
    b"<urlset><url><loc>http://127.0.0.1:9/&x;</loc></url></urlset>",
])
def test_sitemaps_never_expand_entities(body):
    before = peak_mb()
    try:
        page = parse_sitemap(body, URL, "maps")
    except SourceError:
        return
    assert all(len(e.url) < 100 for e in page.entries), [e.url[:100] for e in page.entries]
    assert peak_mb() - before < 100


def test_deeply_nested_sitemap_is_no_crash():
    body = b"<urlset>" + b"<x>" * 100_000 + b"</x>" * 100_000 + b"</urlset>"
    try:
        parse_sitemap(body, URL, "maps")
    except SourceError:
        pass


# ---------------------------------------------------------------- Hypothesis

@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """`seed` cut, spliced, with bytes replaced or inserted: a damaged copy of a valid document."""
    body = bytearray(seed)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, max(len(body) - 1, 0)))
        op = draw(st.sampled_from(["flip", "insert", "delete", "cut", "dup"]))
        chunk = draw(st.binary(min_size=1, max_size=12) | st.sampled_from(
            [b"<", b">", b"&", b"&amp;", b"]]>", b"<!DOCTYPE x [", b"\x00", b"\xff\xfe",
             b"<!ENTITY e 'v'>", b"&e;", b"<item>", b"</channel>", b"\x1b[31m", b"\xe4\xb8"]))
        if op == "flip" and body:
            body[at] = draw(st.integers(0, 255))
        elif op == "insert":
            body[at:at] = chunk
        elif op == "delete":
            del body[at:at + len(chunk)]
        elif op == "cut":
            del body[at:]
        else:
            body[at:at] = body[at:at + 40]
    return bytes(body)


def mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    return mutated(seed)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEEDS = st.one_of(st.binary(max_size=400), mutations(RSS), mutations(ATOM), mutations(URLSET))
SITEMAPS = st.one_of(st.binary(max_size=400), mutations(URLSET), mutations(INDEX),
                     mutations(gzip.compress(URLSET)), mutations(RSS))


@FUZZ
@given(FEEDS, st.sampled_from([None, "application/rss+xml", "text/xml; charset=gbk",
                               "text/html; charset=big5", "application/xml; charset=bogus"]))
def test_parse_feed_raises_nothing_but_source_error(body, content_type):
    try:
        entries = parse_feed(body, URL, "wire", content_type, "zh")
    except SourceError:
        return
    assert all(e.url.startswith(("http://", "https://")) for e in entries)


@FUZZ
@given(SITEMAPS)
@example(b"<?xml ><:")  # lxml recovers a tag named ":", which QName refused (ValueError)
@example(b"<urlset><a:><loc>http://127.0.0.1:9/x</loc></a:></urlset>")
def test_parse_sitemap_raises_nothing_but_source_error(body):
    try:
        page = parse_sitemap(body, URL, "maps", max_bytes=100_000, language="zh")
    except SourceError:
        return
    assert all(u.startswith(("http://", "https://")) for u in page.sitemaps)
    assert all(e.url.startswith(("http://", "https://")) for e in page.entries)


@FUZZ
@given(st.one_of(st.binary(max_size=300), mutations(ROBOTS)))
def test_robots_sitemaps_raise_nothing(body):
    found = robots_sitemaps(body.decode("utf-8", "replace"), "http://127.0.0.1:9/")
    assert all(u.startswith(("http://", "https://")) for u in found)


@FUZZ
@given(st.one_of(st.text(max_size=300), mutations(LISTING).map(lambda b: b.decode("utf-8", "replace"))))
def test_listing_parsers_raise_nothing(html):
    for entry in listing_links(html, "http://127.0.0.1:9/news/", "front"):
        assert entry.url.startswith(("http://", "https://"))
    section_links(html, "http://127.0.0.1:9/news/")


@FUZZ
@given(st.text(max_size=200))
def test_publisher_url_raises_nothing(link):
    assert isinstance(publisher_url(link), str)
    assert isinstance(publisher_url("http://www.bing.com/news/apiclick.aspx?url=" + link), str)
