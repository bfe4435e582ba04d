"""The Scrapy layer in unit tests: components built by `scrapy.utils.test.get_crawler` around a
real corpus file, driven with real Request / Response / Failure objects, no reactor.

End to end the same components run in tests/test_e2e_crawl.py; here each decision is pinned
down alone: settings.toml -> Scrapy settings, what the fetch state lets through, what it
records, how a failure is named, and the status a run ends with.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from scrapy.http import HtmlResponse, Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.internet.error import DNSLookupError, TimeoutError
from twisted.python.failure import Failure

from crawler.config import load_settings
from crawler.errors import SourceError
from crawler.fetch.failures import failure_detail
from crawler.fetch.refresh import HEAD_BYTES, QuickMetaRefresh, may_refresh
from crawler.fetch.settings import base_settings
from crawler.fetch.spider import TopicSpider
from crawler.fetch.state import FetchState, failure_reason
from crawler.records import Outcome, RunStats, RunStatus
from crawler.store import corpus, pages, runs
from crawler.store.db import open_db

SETTINGS = """
[corpus]
path = "corpus.db"

[crawl]
user_agent = "TopicwatchTest/2.0 (+http://127.0.0.1/about)"
delay = 2.5
concurrency = 7
concurrency_per_host = 3
timeout = 11
retries = 4
max_page_bytes = 123456
autothrottle = false
max_articles_per_source = {budget}

[[sources]]
name = "wire"
kind = "feed"
url = "http://127.0.0.1:9/feed.xml"

[[topics]]
name = "models"
terms = ["大模型"]
"""

FEED = "http://127.0.0.1:9/feed.xml"
ARTICLE = "http://127.0.0.1:9/news/2024/09/20/story.html"


@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS.format(budget=0), encoding="utf-8")
    return path


def crawler_for(settings_path: Path, **extra):
    """A crawler for TopicSpider as `scrapy crawl` would build it: the path to settings.toml
    given, everything else from crawler/fetch/settings.py; the spider created and attached."""
    config = load_settings(settings_path)
    values = {**base_settings(config), "TOPICWATCH_CONFIG": None, **extra}
    crawler = get_crawler(TopicSpider, values)
    crawler.spider = TopicSpider.from_crawler(crawler)
    return crawler


def state_for(crawler) -> FetchState:
    """The fetch state of a run just opened (as RunRecorder opens it)."""
    db = open_db(crawler.spider.plan.settings.corpus_path)
    state = FetchState.from_crawler(crawler)
    state.run_opened(runs.start_run(db, "test", ["wire"]))
    return state


def listing(url: str = FEED, kind: str = "feed") -> Request:
    return Request(url, meta={"tw_kind": kind, "tw_source": "wire", "tw_parents": ()})


def article(url: str = ARTICLE, parents: tuple = (FEED,)) -> Request:
    return Request(url, meta={"tw_kind": "article", "tw_source": "wire", "tw_parents": parents})


def rows(path: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


# ---------------------------------------------------------------- settings.toml -> Scrapy


def test_the_spider_applies_crawl_settings_whoever_starts_it(settings_path: Path) -> None:
    crawler = crawler_for(settings_path)
    s = crawler.settings
    assert s["USER_AGENT"] == "TopicwatchTest/2.0 (+http://127.0.0.1/about)"
    assert s.getfloat("DOWNLOAD_DELAY") == 2.5
    assert s.getint("CONCURRENT_REQUESTS") == 7 and s.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 3
    assert s.getfloat("DOWNLOAD_TIMEOUT") == 11 and s.getint("RETRY_TIMES") == 4
    assert s.getint("DOWNLOAD_MAXSIZE") == 123456 and s.getbool("AUTOTHROTTLE_ENABLED") is False
    assert crawler.spider.plan.settings.path == settings_path


def test_a_command_line_setting_still_wins(settings_path: Path) -> None:
    config = load_settings(settings_path)
    values = {**base_settings(config), "TOPICWATCH_CONFIG": None}
    crawler = get_crawler(TopicSpider, values)
    crawler.settings.frozen = False
    crawler.settings.set("USER_AGENT", "Override/1", priority="cmdline")
    TopicSpider.update_settings(crawler.settings)
    assert crawler.settings["USER_AGENT"] == "Override/1"


def test_spider_arguments_select_sources_and_topics(settings_path: Path) -> None:
    crawler = crawler_for(settings_path)
    spider = TopicSpider.from_crawler(crawler, source="wire", topic="models", run_id="7",
                                      trigger="schedule:x")
    assert [s.name for s in spider.plan.sources] == ["wire"]
    assert [t.name for t in spider.plan.topics] == ["models"]
    assert (spider.plan.run_id, spider.plan.trigger) == (7, "schedule:x")


# ---------------------------------------------------------------- what the fetch state lets through


def test_known_articles_are_never_requested_again(settings_path: Path) -> None:
    db = open_db(settings_path.parent / "corpus.db")
    corpus.insert_article(db, {"url": ARTICLE, "canonical_url": ARTICLE, "source": "wire", "title": "t",
                               "text": "x", "content_hash": "h", "first_seen": "2024-09-20"})
    pages.record_page(db, "http://127.0.0.1:9/off.html", "article", "wire", status=200,
                      outcome=Outcome.OFF_TOPIC, run_id=None)
    state = state_for(crawler_for(settings_path))
    assert state.route(article()) is None
    assert state.route(article(ARTICLE + "?utm_source=feed")) is None  # the same, canonically
    assert state.route(article("http://127.0.0.1:9/off.html")) is None
    fresh = article("http://127.0.0.1:9/news/new.html")
    assert state.route(fresh) is fresh
    assert state.route(article("http://127.0.0.1:9/news/new.html")) is None  # once per run


def test_the_per_source_budget_stops_requests_and_keeps_the_feed_unvalidated(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS.format(budget=1), encoding="utf-8")
    state = state_for(crawler_for(path))
    assert state.route(article("http://127.0.0.1:9/a.html")) is not None
    assert state.route(article("http://127.0.0.1:9/b.html")) is None
    assert state.incomplete == {FEED}  # next run must not get a 304 for it


def test_listing_requests_carry_the_saved_validators(settings_path: Path) -> None:
    db = open_db(settings_path.parent / "corpus.db")
    settings = load_settings(settings_path)
    wire = next(s for s in settings.sources if s.name == "wire")
    pages.record_page(db, FEED, "feed", "wire", status=200, outcome=Outcome.OK, run_id=None,
                      etag='"abc"', last_modified="Fri, 20 Sep 2024 05:47:00 GMT",
                      read_as=wire.read_as(settings.crawl))
    request = state_for(crawler_for(settings_path)).route(listing())
    assert request.headers["If-None-Match"] == b'"abc"'
    assert request.headers["If-Modified-Since"] == b"Fri, 20 Sep 2024 05:47:00 GMT"
    assert b"If-None-Match" not in state_for(crawler_for(settings_path)).route(listing(FEED + "2")).headers
    # saved while the source had other settings (or before they were recorded): not sent
    for read_as in ("0123456789abcdef", None):
        db.execute("UPDATE pages SET read_as = ? WHERE url = ?", [read_as, FEED])
        db.conn.commit()
        headers = state_for(crawler_for(settings_path)).route(listing()).headers
        assert b"If-None-Match" not in headers and b"If-Modified-Since" not in headers


# ---------------------------------------------------------------- what it records


def feed_response(status: int = 200, etag: str = '"v2"') -> Response:
    return Response(FEED, status=status, headers={"ETag": etag}, request=listing())


def test_validators_are_saved_only_after_a_clean_finish(settings_path: Path) -> None:
    corpus_path = settings_path.parent / "corpus.db"
    state = state_for(crawler_for(settings_path))
    state.process_spider_input(feed_response())
    assert list(state.process_spider_output(feed_response(), [])) == []  # read through
    state.spider_closed(None, "shutdown")
    assert rows(corpus_path, "SELECT etag FROM pages WHERE url = ?", FEED) == []
    state.spider_closed(None, "finished")
    assert rows(corpus_path, "SELECT etag, outcome FROM pages WHERE url = ?", FEED) == [('"v2"', "ok")]
    stats = state.stats.get_stats()
    assert stats["topicwatch/fetched"] == 1 and stats["topicwatch/source/wire/source_ok"] == 1


def test_a_feed_with_a_failed_article_is_not_validated(settings_path: Path) -> None:
    state = state_for(crawler_for(settings_path))
    state.process_spider_input(feed_response())
    page = HtmlResponse(ARTICLE, body=b"<html></html>", request=article())
    state.process_spider_exception(page, RuntimeError("a bug"))
    state.spider_closed(None, "finished")
    assert rows(settings_path.parent / "corpus.db", "SELECT count(*) FROM pages WHERE url = ?", FEED) == [(0,)]


def test_304_is_counted_and_recorded(settings_path: Path) -> None:
    state = state_for(crawler_for(settings_path))
    state.process_spider_input(Response(FEED, status=304, request=listing()))
    assert state.stats.get_value("topicwatch/not_modified") == 1
    assert rows(settings_path.parent / "corpus.db", "SELECT status, outcome FROM pages") == [(304, "not-modified")]


def test_a_feed_that_is_not_one_is_a_bad_feed_and_a_failed_source(settings_path: Path) -> None:
    state = state_for(crawler_for(settings_path))
    response = Response(FEED, body=b"<html>", headers={"ETag": '"w1"'}, request=listing())
    state.process_spider_input(response)  # as Scrapy calls it, before the callback raises
    assert state.process_spider_exception(response, SourceError(FEED, "not a feed")) == []
    assert rows(settings_path.parent / "corpus.db", "SELECT reason, detail FROM skipped") == [
        ("bad-feed", f"{FEED}: not a feed")]
    assert state.stats.get_value("topicwatch/source/wire/source_errors") == 1
    # answered, but not with a feed: the source did not work (runs.record_crawl: ok = a
    # document of it read through, or no error)
    assert state.stats.get_value("topicwatch/source/wire/source_ok") is None
    state.spider_closed(None, "finished")  # and no validators: it is read again next run
    assert rows(settings_path.parent / "corpus.db", "SELECT count(*) FROM pages WHERE url = ?", FEED) == [(0,)]


def fail(request: Request, error: Exception) -> None:
    failure = Failure(error)
    failure.request = request
    return failure


@pytest.mark.parametrize("status, outcome, retried", [(404, "not-article", False), (503, None, True),
                                                     (304, None, True)])
def test_http_errors_are_final_or_retried(settings_path: Path, status, outcome, retried) -> None:
    state = state_for(crawler_for(settings_path))
    request = article()
    state.fetch_failed(request, fail(request, HttpError(Response(ARTICLE, status=status, request=request))))
    corpus_path = settings_path.parent / "corpus.db"
    assert rows(corpus_path, "SELECT reason, status FROM skipped") == [(f"http-{status}", status)]
    page = rows(corpus_path, "SELECT outcome, attempts FROM pages WHERE url = ?", ARTICLE)
    assert page == ([("retry", 1)] if retried else [(outcome, 0)])
    assert state.stats.get_value("topicwatch/errors") == 1
    if status == 304:  # a 304 to a request without validators: no redirect, asked again
        assert rows(corpus_path, "SELECT detail FROM skipped") == [
            ("304 Not Modified to a request that sent no validators",)]


def test_a_redirect_scrapy_does_not_follow_is_final_and_one_to_file_is_refused(settings_path: Path) -> None:
    """A 3xx reaching the errback was not followed (Location file:, ftp:, none): asking again
    next run gets the same; one to a URL that is not http(s) is a private-address refusal."""
    state = state_for(crawler_for(settings_path))
    corpus_path = settings_path.parent / "corpus.db"
    for n, location in enumerate(("file:///etc/passwd", None)):
        request = article(f"{ARTICLE}?{n}")
        headers = {"Location": location} if location else {}
        response = Response(request.url, status=302, headers=headers, request=request)
        state.fetch_failed(request, fail(request, HttpError(response)))
    assert rows(corpus_path, "SELECT reason, status, detail FROM skipped ORDER BY id") == [
        ("private-address", 302, "redirect not followed: Location file:///etc/passwd"),
        ("http-302", 302, "a redirect without a Location header")]
    assert rows(corpus_path, "SELECT outcome, attempts FROM pages ORDER BY url") == [
        ("not-article", 0), ("not-article", 0)]  # never asked again
    assert state.stats.get_value("topicwatch/source/wire/errors") == 1  # the refusal is a skip
    feed = listing()  # a source's own feed refused that way: an error of the source
    moved = Response(FEED, status=301, headers={"Location": "ftp://x/feed"}, request=feed)
    state.fetch_failed(feed, fail(feed, HttpError(moved)))
    assert state.stats.get_value("topicwatch/source/wire/errors") == 2
    assert state.stats.get_value("topicwatch/source/wire/source_errors") == 1


def test_a_response_that_failed_says_why(settings_path: Path) -> None:
    """Twisted's ResponseFailed says nothing itself and its repr lists Failure objects."""
    from twisted.internet.error import ConnectionLost
    from twisted.web._newclient import ParseError, ResponseFailed, ResponseNeverReceived

    state = state_for(crawler_for(settings_path))
    cut = article(f"{ARTICLE}?cut")
    state.fetch_failed(cut, fail(cut, ResponseFailed([Failure(ConnectionLost())])))
    odd = article(f"{ARTICLE}?odd")
    state.fetch_failed(odd, fail(odd, ResponseNeverReceived(
        [Failure(ParseError("non-integer status code", b"HTTP/1.1 OK"))])))
    assert rows(settings_path.parent / "corpus.db", "SELECT reason, detail FROM skipped ORDER BY id") == [
        ("fetch-error", "ConnectionLost: Connection to the other side was lost in a non-clean fashion."),
        ("fetch-error", "ParseError: non-integer status code, b'HTTP/1.1 OK'")]


def test_robots_refusals_of_articles_are_counted_and_of_sources_recorded(settings_path: Path) -> None:
    state = state_for(crawler_for(settings_path))
    refused = IgnoreRequest("Forbidden by robots.txt")
    state.fetch_failed(article(), fail(article(), refused))
    assert rows(settings_path.parent / "corpus.db", "SELECT count(*) FROM skipped") == [(0,)]
    state.fetch_failed(listing(), fail(listing(), refused))
    assert rows(settings_path.parent / "corpus.db", "SELECT reason FROM skipped") == [("robots-disallowed",)]
    assert state.stats.get_value("topicwatch/skipped") == 2


def test_an_unavailable_robots_txt_is_a_transient_failure_retried_next_run(settings_path: Path) -> None:
    """A 5xx robots.txt (RobotsPolicy): not a refusal; the article is tried again next run (a
    fleet worker forgets it in the shared dupefilter: not final)."""
    from crawler.fetch.failures import is_final

    state = state_for(crawler_for(settings_path))
    unavailable = IgnoreRequest("robots.txt unavailable: it answered HTTP 503, so the host is off limits")
    assert failure_reason(Failure(unavailable)) == ("robots-unavailable", None)
    assert not is_final("robots-unavailable", None)
    state.fetch_failed(article(), fail(article(), unavailable))
    corpus_path = settings_path.parent / "corpus.db"
    assert rows(corpus_path, "SELECT reason FROM skipped") == [("robots-unavailable",)]
    assert rows(corpus_path, "SELECT outcome FROM pages WHERE url = ?", article().url) == [("retry",)]


@pytest.mark.parametrize("error, reason", [
    (TimeoutError(), "timeout"), (DNSLookupError(), "dns"), (IgnoreRequest("offsite"), "ignored"),
    # what Scrapy 2.19's downloader really raises for an unknown host (the offline test in
    # tests/test_exit_codes.py sees it end to end)
    (CannotResolveHostError("no results for hostname lookup"), "dns"),
    (ValueError("other"), "fetch-error"),
])
def test_failure_reasons(error: Exception, reason: str) -> None:
    assert failure_reason(Failure(error))[0] == reason


def test_a_redirect_to_a_location_python_refuses_is_described_not_raised() -> None:
    response = Response("http://127.0.0.1/a.html", status=302, headers={"Location": "http://[bad/x"})
    error = HttpError(response, "Ignoring non-200 response")
    assert failure_reason(Failure(error)) == ("http-302", 302)
    assert failure_detail(Failure(error)) == "redirect not followed: Location http://[bad/x"


# ---------------------------------------------------------------- runs and the library underneath


def test_a_run_status_comes_from_how_the_crawl_closed() -> None:
    assert runs.final_status("finished", RunStats(fetched=3)) == RunStatus.OK
    assert runs.final_status("finished", RunStats(not_modified=2)) == RunStatus.OK
    assert runs.final_status("finished", RunStats(errors=2)) == RunStatus.NOTHING_FETCHED
    assert runs.final_status("shutdown", RunStats(fetched=3)) == RunStatus.INTERRUPTED


def test_stats_become_run_counters() -> None:
    stats = RunStats.from_counts({"topicwatch/fetched": 4, "topicwatch/source/a/fetched": 3,
                                  "topicwatch/source/a b/source_ok": 1, "other": 9}, "topicwatch/")
    assert stats.fetched == 4 and stats.per_source == {"a": {"fetched": 3}, "a b": {"source_ok": 1}}


def test_the_downloader_api_politeness_relies_on(settings_path: Path) -> None:
    """RobotsPolicy (crawler/fetch/politeness.py) sets a host's Crawl-delay through
    `Downloader.per_slot_settings` (read when a slot is created), `Downloader.slots`,
    `get_slot_key` and `Slot.delay` / `Slot.jitter`, and stops AutoThrottle with the
    `autothrottle_dont_adjust_delay` meta key: if Scrapy renames any of them, this fails."""
    import inspect

    from scrapy.extensions.throttle import AutoThrottle

    downloader = Downloader(crawler_for(settings_path))
    request = Request("http://127.0.0.1:9/a")
    key = downloader.get_slot_key(request)
    assert key == "127.0.0.1"
    assert isinstance(downloader.per_slot_settings, dict) and isinstance(downloader.slots, dict)
    downloader.per_slot_settings[key] = {"delay": 3.0, "jitter": 0}
    slot = Slot(2, 3.0, 0)
    assert (slot.delay, slot.jitter, slot.download_delay()) == (3.0, 0, 3.0)
    assert "autothrottle_dont_adjust_delay" in inspect.getsource(AutoThrottle)
    assert "per_slot_settings" in inspect.getsource(Downloader)


# ---------------------------------------------------------------- meta refresh

_REFRESH_TAGS = st.sampled_from([
    '<meta http-equiv="refresh" content="0; url=/moved/{n}">',
    "<META HTTP-EQUIV='Refresh' CONTENT='3;URL=http://127.0.0.1/elsewhere/{n}'>",
    '<meta http-equiv="REFRESH" content="0;url=/far/{n}">',
    '<meta http-equiv="refresh" content="600">',  # a reload, no URL
    '<meta content="0; url=/moved/{n}" http-equiv="refresh">',
    '<script>var refresh = "<meta http-equiv=refresh content=0;url=/no/{n}>";</script>',
    '<meta name="description" content="refresh rates of GPUs">',
])
_FILLER = st.sampled_from(["<p>算力成本持续下降。</p>", "<p>開源模型與閉源模型。</p>", "<div>open models</div>",
                           "<p>x</p>" * 300, "<p>大模型</p>" * 150, "<p>大模型</p>" * 900,
                           "<!-- a comment -->", ""])


@given(before=st.lists(_FILLER, max_size=6), tag=st.one_of(st.none(), _REFRESH_TAGS),
       after=st.lists(_FILLER, max_size=3), encoding=st.sampled_from(["utf-8", "gbk", "big5", "utf-16"]),
       declared=st.booleans(), n=st.integers(0, 99))
@settings(max_examples=300, deadline=None)
def test_the_quick_meta_refresh_decides_as_scrapys_own(before, tag, after, encoding, declared, n) -> None:
    """A page is redirected by QuickMetaRefresh exactly when Scrapy's MetaRefreshMiddleware
    redirects it, to the same URL: a refresh early or late in the head, in any case, inside a
    script (ignored by both), in multi-byte and wide encodings, declared or not."""
    html = "<html><head>" + "".join(before) + (tag or "").format(n=n) + "</head><body>" + "".join(after)
    body = html.encode(encoding, errors="ignore")
    headers = {"Content-Type": f"text/html; charset={encoding}" if declared else "text/html"}
    crawler = get_crawler(settings_dict={"METAREFRESH_ENABLED": True})
    theirs = MetaRefreshMiddleware.from_crawler(crawler)
    ours = QuickMetaRefresh.from_crawler(crawler)
    request = Request("http://127.0.0.1/page")

    def decision(mw) -> str | None:
        response = HtmlResponse("http://127.0.0.1/page", body=body, headers=headers, request=request)
        out = mw.process_response(request, response)
        return out.url if isinstance(out, Request) else None

    assert decision(ours) == decision(theirs)


@pytest.mark.parametrize(("tag", "redirected"), [
    ('<meta http-equiv="refresh" content="0; url=/moved">', "http://127.0.0.1/moved"),
    ('<meta http-equiv="refresh" content="5;url=/moved">', "http://127.0.0.1/moved"),
    # a page reloading itself, at once or later, by URL or by path: the page
    ('<meta http-equiv="refresh" content="0; url=http://127.0.0.1/page">', None),
    ('<meta http-equiv="refresh" content="60; URL=/page#top">', None),
    # a refresh to elsewhere a minute later: a browser shows the page first
    ('<meta http-equiv="refresh" content="90;url=/index.html">', None),
])
def test_a_meta_refresh_to_itself_or_after_seconds_is_the_page(tag: str, redirected: str | None) -> None:
    from crawler.fetch import settings as fetch_settings

    crawler = get_crawler(settings_dict={"METAREFRESH_ENABLED": True,
                                         "METAREFRESH_MAXDELAY": fetch_settings.METAREFRESH_MAXDELAY})
    request = Request("http://127.0.0.1/page")
    body = f"<html><head>{tag}</head><body><p>大模型</p></body></html>".encode()
    response = HtmlResponse("http://127.0.0.1/page", body=body, request=request,
                            headers={"Content-Type": "text/html; charset=utf-8"})
    out = QuickMetaRefresh.from_crawler(crawler).process_response(request, response)
    assert (out.url if isinstance(out, Request) else None) == redirected


def test_may_refresh_is_false_only_without_the_word_and_nul_bytes_in_the_head() -> None:
    assert not may_refresh(b"<html><head><title>t</title></head>" + b"<p>x</p>" * 10000)
    assert may_refresh(b"<meta http-equiv=REFRESH content=0;url=/a>")
    assert may_refresh("<title>t</title>".encode("utf-16"))  # wide: Scrapy's own check
    chinese = ("<p>大模型</p>" * 300 + '<meta http-equiv="refresh" content="0;url=/a">').encode()
    assert chinese.index(b"refresh") > 4096 and may_refresh(chinese)  # within 4,096 characters
    late = b"<p>x</p>" * 3000 + b"<meta http-equiv=refresh content=0;url=/a>"
    assert len(late) > HEAD_BYTES and not may_refresh(late)  # beyond any 4,096 characters


TLS_IMPORT = """
import inspect, sys
calls = []
real = inspect.stack
if sys.argv[1] == "scrapy":  # Scrapy alone: does it still walk the stack there?
    inspect.stack = lambda context=1: calls.append(1) or real(context)[1:]  # less its own frame
else:
    import crawler.fetch  # the adapter
import scrapy.core.downloader.contextfactory as tls
print(len(calls), inspect.stack is real, tls.ScrapyClientContextFactory.__module__,
      tls.AcceptableProtocolsContextFactory.__module__)
"""


def test_scrapy_s_tls_factories_import_without_walking_the_stack():
    """crawler/fetch/__init__.py imports scrapy.core.downloader.contextfactory with a cheap
    `inspect.stack`.  The first run fails when Scrapy stops calling `inspect.stack` there (the
    adapter is then of no use: remove it); the second, when the aliases' module comes out
    otherwise or `inspect.stack` stays replaced."""
    root = Path(__file__).resolve().parent.parent
    module = "scrapy.core.downloader.contextfactory"
    runs = {}
    for mode in ("scrapy", "adapter"):
        out = subprocess.run([sys.executable, "-c", TLS_IMPORT, mode], cwd=root, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        runs[mode] = out.stdout.split()
    assert int(runs["scrapy"][0]) >= 1 and runs["scrapy"][2:] == [module, module]
    assert runs["adapter"] == ["0", "True", module, module]


def test_scrapy_still_caches_robots_txt_per_host_where_robots_policy_forgets_it(settings_path: Path) -> None:
    """RobotsPolicy._forget_if_stale drops a stale 5xx robots.txt from Scrapy's per-host cache
    (`RobotsTxtMiddleware._parsers`) so that it is read again; a Scrapy that keeps it elsewhere
    fails here (tests/test_rate_limits.py checks the behaviour end to end)."""
    import inspect

    from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware

    from crawler.fetch.politeness import RobotsPolicy

    policy = RobotsPolicy.from_crawler(crawler_for(settings_path))
    assert policy._parsers == {}
    source = inspect.getsource(RobotsTxtMiddleware.robot_parser)
    assert "if netloc not in self._parsers:" in source and "self._parsers[netloc] = Deferred()" in source
