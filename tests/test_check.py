"""`topicwatch sources --check`: one request per URL (plus robots.txt), parsed as the crawl
would, and a line per source saying what it holds and what to change; against the fixture site
and broken sources served on loopback."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from fixturesite import FixtureSite, build

from crawler.cli import cli

EMPTY_RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def check(settings: Path, *names: str):
    return CliRunner().invoke(cli, ["sources", "--settings", str(settings), "--check", *names],
                              prog_name="topicwatch")


def line_of(output: str, name: str) -> str:
    return next(ln for ln in output.splitlines() if ln.startswith(f"│ {name} "))


def test_the_fixture_sources_answer_with_their_entries(site: FixtureSite, site_settings: Path):
    result = check(site_settings)
    assert result.exit_code == 0, result.output
    rss = line_of(result.stdout, "xinghe-rss")
    listed = next(f.items for f in build.build_feeds() if (f.host, f.path) == build.FEED_A)
    assert "HTTP 200" in rss and f"│ {len(listed)} " in rss and "2024-10-" in rss and "nothing" in rss
    assert "sitemap index of 2 sitemap(s)" in line_of(result.stdout, "xinghe-sitemap")
    assert "nothing" in line_of(result.stdout, "ledger-news")
    # one request per URL, robots.txt once per host, with the configured user agent
    paths = sorted((r.host, r.path) for r in site.requests)
    assert paths == sorted([("a", "/robots.txt"), ("a", "/sitemap_index.xml"), ("a", "/rss.xml"),
                            ("b", "/robots.txt"), ("b", "/atom.xml"),
                            ("c", "/robots.txt"), ("c", "/feed.xml"), ("c", "/news/")])
    assert {r.header("User-Agent") for r in site.requests} == {"topicwatch/0.1 (+https://github.com/topicwatch/topicwatch)"}


BROKEN = """
[[sources]]
name = "page-as-feed"
kind = "feed"
url = "{c}/news/"

[[sources]]
name = "forbidden"
kind = "feed"
url = "{c}/members/feed.xml"

[[sources]]
name = "blocked"
kind = "feed"
url = "{c}/search/feed.xml"

[[sources]]
name = "empty"
kind = "feed"
url = "{c}/empty.xml"

[[sources]]
name = "feed-as-listing"
kind = "listing"
url = "{c}/empty.xml"

[[sources]]
name = "nobody-home"
kind = "feed"
url = "http://127.0.0.1:9/feed.xml"
"""


def test_broken_sources_say_what_to_change(site: FixtureSite, tmp_path: Path):
    site.add_page("c", "/members/feed.xml", b"no", content_type="text/plain", status=403)
    site.add_page("c", "/empty.xml", EMPTY_RSS, content_type="application/rss+xml")
    settings = tmp_path / "settings.toml"
    settings.write_text(f'[corpus]\npath = "{tmp_path / "c.db"}"\n[crawl]\ntimeout = 3\n'
                        + BROKEN.format(c=site.base("c")), encoding="utf-8")
    result = check(settings)
    assert result.exit_code == 5, result.output
    out = result.stdout
    assert 'HTML page, not a feed: set kind = "listing"' in line_of(out, "page-as-feed")
    assert "HTTP 403" in line_of(out, "forbidden") and "refuses" in line_of(out, "forbidden")
    assert "robots.txt disallows it" in line_of(out, "blocked")
    assert "0 entries" in line_of(out, "empty")
    assert 'a feed, not a page: set kind = "feed"' in line_of(out, "feed-as-listing")
    assert "nothing listens there" in line_of(out, "nobody-home")
    assert "6 of 6 URL(s) need a change" in result.stderr
    assert not [r for r in site.requests if r.path.startswith("/search")], "robots.txt obeyed"
    # named sources only
    one = check(settings, "empty")
    assert one.exit_code == 5 and "page-as-feed" not in one.stdout
    misspelt = check(settings, "emty")
    assert misspelt.exit_code == 2 and "did you mean empty?" in misspelt.stderr


def test_when_no_source_answers_the_exit_code_is_4(tmp_path: Path):
    settings = tmp_path / "settings.toml"
    settings.write_text(f'[corpus]\npath = "{tmp_path / "c.db"}"\n'
                        '[[sources]]\nname = "gone"\nkind = "feed"\nurl = "http://127.0.0.1:9/f.xml"\n',
                        encoding="utf-8")
    result = check(settings)
    assert result.exit_code == 4 and "nothing could be fetched" in result.stderr
    assert "gone: connection-refused" in result.stderr


def test_a_host_whose_robots_txt_fails_is_not_asked_again_for_the_feed(site: FixtureSite, tmp_path: Path):
    """A robots.txt that never answers: the source says so at once, without waiting a second
    timeout for its feed; one that answers 503: the crawl would stay off the host, and so
    does the check, with advice to match."""
    import socket
    import threading

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    accepted = []

    def hold() -> None:
        while True:
            try:
                conn, _ = silent.accept()
            except OSError:
                return
            accepted.append(conn)  # kept open, never answered

    threading.Thread(target=hold, daemon=True).start()
    site.add_page("c", "/robots.txt", b"<html>busy</html>", status=503)
    settings = tmp_path / "settings.toml"
    settings.write_text(
        f'[corpus]\npath = "{tmp_path / "c.db"}"\n[crawl]\ntimeout = 1\n'
        f'[[sources]]\nname = "silent"\nkind = "feed"\nurl = "http://127.0.0.1:{silent.getsockname()[1]}/feed.xml"\n'
        f'[[sources]]\nname = "failing"\nkind = "feed"\nurl = "{site.base("c")}/feed.xml"\n',
        encoding="utf-8")
    try:
        result = check(settings)
    finally:
        silent.close()
        for conn in accepted:
            conn.close()
    assert result.exit_code == 4, result.output
    assert len(accepted) == 1, "robots.txt only"
    assert "robots.txt: timed out" in line_of(result.stdout, "silent")
    assert "silent: timeout" in result.stderr
    failing = line_of(result.stdout, "failing")
    assert "robots.txt answered HTTP 503" in failing
    assert [r.path for r in site.requests] == ["/robots.txt"]


def test_a_feed_link_python_refuses_is_passed_over_for_the_next() -> None:
    """`href="https://[site_url]/rss.xml"` (a template's placeholder) made urllib raise."""
    from crawler.check import Answer, _feed_link

    body = (b'<html><head><link rel="alternate" type="application/rss+xml" href="https://[site_url]/rss.xml">'
            b'<link rel="alternate" type="application/atom+xml" href="/atom.xml"></head></html>')
    assert _feed_link(Answer(url="http://127.0.0.1/", body=body)) == "http://127.0.0.1/atom.xml"
