"""A source's document told by its first bytes (crawler/sources/kinds.py), and the kind hint a
failed crawl and `sources --check` give in the same words."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crawler.sources.kinds import kind_hint, looks_like

ROOT = Path(__file__).resolve().parent.parent
RSS = b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>t</title></channel></rss>'
ATOM = b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>'
RDF = b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"></rdf:RDF>'
SITEMAP = b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"></urlset>'
INDEX = b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
HTML = (b'<!DOCTYPE html>\n<html><head><link rel="alternate" type="application/rss+xml" '
        b'href="/rss"><title>news</title></head><body><a href="/a">a</a></body></html>')


@pytest.mark.parametrize(("body", "what"), [
    (RSS, "feed"), (ATOM, "feed"), (RDF, "feed"), (SITEMAP, "sitemap"), (INDEX, "sitemap"),
    (HTML, "html"), (b"<html lang='zh'><body>x</body></html>", "html"),
    (b"\xef\xbb\xbf<?xml-stylesheet href='s.xsl'?><rss version='2.0'>", "feed"),
    (b"just text", None), (b"", None), (b"{\"items\": []}", None),
])
def test_what_a_document_looks_like(body: bytes, what: str | None) -> None:
    assert looks_like(body) == what


@pytest.mark.parametrize(("kind", "body", "hint"), [
    ("feed", HTML, 'an HTML page, not a feed: set kind = "listing" (with allow patterns if needed)'),
    ("sitemap", RSS, 'a feed, not a sitemap: set kind = "feed"'),
    ("feed", SITEMAP, 'a sitemap, not a feed: set kind = "sitemap"'),
    ("listing", ATOM, 'a feed, not a page: set kind = "feed"'),
    ("listing", INDEX, 'a sitemap, not a page: set kind = "sitemap"'),
    ("feed", RSS, None), ("sitemap", SITEMAP, None), ("listing", HTML, None), ("feed", b"junk", None),
])
def test_the_kind_to_set(kind: str, body: bytes, hint: str | None) -> None:
    assert kind_hint(kind, body) == hint


def test_a_crawl_of_sources_of_the_wrong_kind_says_which_kind_to_set(site, tmp_path: Path) -> None:
    feed = site.add_page("c", "/other/feed.xml", RSS.replace(b"<title>t</title>", b"<title>t</title>"
                                                             b"<item><link>{{host_c}}/a</link></item>"),
                         content_type="application/rss+xml")
    settings = tmp_path / "settings.toml"
    settings.write_text(
        f'[corpus]\npath = "{tmp_path / "c.db"}"\n[crawl]\ndelay = 0\nretries = 0\n'
        f'[[sources]]\nname = "html-as-feed"\nkind = "feed"\nurl = "{site.base("c")}/news/"\n'
        f'[[sources]]\nname = "feed-as-sitemap"\nkind = "sitemap"\nurl = "{site.base("c")}/feed.xml"\n'
        f'[[sources]]\nname = "feed-as-listing"\nkind = "listing"\nurl = "{feed}"\n'
        '[[topics]]\nname = "all"\nkeep_all = true\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--settings", str(settings)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    # fetched, but none could be read: sources failed (5), not "nothing fetched" (4)
    assert proc.returncode == 5 and "error: 3 of 3 source(s) failed:" in proc.stderr, proc.stderr
    lines = {ln.split(":")[0].strip(): ln for ln in proc.stderr.splitlines() if ln.startswith("  ")}
    assert 'an HTML page, not a feed: set kind = "listing"' in lines["html-as-feed"]
    assert 'a feed, not a sitemap: set kind = "feed"' in lines["feed-as-sitemap"]
    assert lines["feed-as-listing"].startswith("  feed-as-listing: bad-listing (")
    assert 'a feed, not a page: set kind = "feed"' in lines["feed-as-listing"]


def test_only_the_sources_own_listing_page_is_held_to_its_kind() -> None:
    """A section page a listing leads to may be a feed (WordPress's /news/feed/): it gives no
    links and no error; the source's own page being one is the source's mistake."""
    from crawler.config import Source
    from crawler.errors import SourceError
    from crawler.sources.read import read_document

    source = Source(name="s", kind="listing", url="http://news.test/", depth=2)
    assert read_document(RSS, "http://news.test/news/feed/", "text/xml", "listing", 2, source, 30) == ([], [], [])
    with pytest.raises(SourceError) as refused:
        read_document(RSS, "http://news.test/", "text/xml", "listing", 1, source, 30)
    assert refused.value.reason == "bad-listing" and 'set kind = "feed"' in str(refused.value)
