"""What one fetched document can make a crawl do, and where it may connect: the limits the
fetch state applies (crawler/fetch/limits.py) and the SSRF guard's decisions
(crawler/fetch/guard.py), with Scrapy components built by `get_crawler` around a real corpus.

No test here connects anywhere: requests are judged, never downloaded, and the resolver's
lookups are answered by the test (the "private" ranges below are never dialled).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from scrapy.http import Response
from scrapy.utils.test import get_crawler
from twisted.internet import defer
from twisted.python.failure import Failure

from crawler.config import load_settings
from crawler.fetch.guard import AddressGuard, GuardedResolver, PrivateAddress, PrivateAddressError
from crawler.fetch.settings import base_settings
from crawler.fetch.spider import TopicSpider
from crawler.fetch.state import FetchState, failure_reason
from crawler.store import runs
from crawler.store.db import open_db

SITE = "http://127.0.0.1:9"
SETTINGS = f"""
[corpus]
path = "corpus.db"

[crawl]
max_entries_per_document = 3
max_sitemap_depth = 2
max_sitemaps_per_source = 4
allow_private = ["wiki.corp", "192.168.7.0/24"]

[[sources]]
name = "maps"
kind = "sitemap"
url = "{SITE}/sitemap.xml"

[[sources]]
name = "intranet"
kind = "feed"
url = "http://intranet.example/feed.xml"
"""


@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS, encoding="utf-8")
    return path


def crawler_for(settings_path: Path):
    values = {**base_settings(load_settings(settings_path)), "TOPICWATCH_CONFIG": None}
    crawler = get_crawler(TopicSpider, values)
    crawler.spider = TopicSpider.from_crawler(crawler)
    return crawler


def state_for(settings_path: Path) -> FetchState:
    crawler = crawler_for(settings_path)
    state = FetchState.from_crawler(crawler)
    state.run_opened(runs.start_run(open_db(settings_path.parent / "corpus.db"), "test", ["maps"]))
    return state


def skipped(settings_path: Path) -> list[tuple]:
    with sqlite3.connect(settings_path.parent / "corpus.db") as conn:
        return conn.execute("SELECT url, source, reason, detail FROM skipped ORDER BY id").fetchall()


def request(url: str, kind: str, parents: tuple = ()) -> Request:
    return Request(url, meta={"tw_kind": kind, "tw_source": "maps", "tw_parents": parents})


def document(url: str, parents: tuple = ()) -> Response:
    return Response(url, request=request(url, "sitemap", parents))


# ---------------------------------------------------------------- the limits


def test_article_links_past_the_document_limit_are_not_read_and_recorded_once(settings_path):
    state = state_for(settings_path)
    state.known.add(f"{SITE}/a/known.html")  # known links do not count
    listed = [request(f"{SITE}/a/known.html", "article")] + [
        request(f"{SITE}/a/{i}.html", "article") for i in range(100)]
    consumed = []

    def output():
        for r in listed:
            consumed.append(r)
            yield r

    out = list(state.process_spider_output(document(f"{SITE}/big.xml"), output()))
    assert [r.url for r in out] == [f"{SITE}/a/{i}.html" for i in range(3)]
    assert len(consumed) == 5  # the generator is left after the first link past the limit
    [(url, source, reason, detail)] = skipped(settings_path)
    assert (url, source, reason) == (f"{SITE}/big.xml", "maps", "too-many-entries")
    assert detail == f"3 article links followed (max_entries_per_document); not followed from {SITE}/a/3.html on"
    assert f"{SITE}/big.xml" in state.incomplete  # fetched in full next run, no 304


def test_section_links_past_the_page_limit_are_recorded_and_articles_are_read_first(settings_path):
    """A listing page's articles come first, then its section pages, at most
    MAX_SECTIONS_PER_PAGE of them: one more is a recorded cut, not a silent loss."""
    from crawler.fetch.limits import MAX_SECTIONS_PER_PAGE

    state = state_for(settings_path)
    page = f"{SITE}/sec/"
    listed = [request(f"{SITE}/sec/2026/11/story-{i}.html", "article", (page,)) for i in range(2)] + [
        request(f"{SITE}/sec/s{i}/", "listing", (page,)) for i in range(MAX_SECTIONS_PER_PAGE + 5)]
    response = Response(page, request=request(page, "listing"))
    out = list(state.process_spider_output(response, iter(listed)))
    assert [r.url for r in out] == [r.url for r in listed[:2 + MAX_SECTIONS_PER_PAGE]]
    [(url, source, reason, detail)] = skipped(settings_path)
    assert (url, source, reason) == (page, "maps", "too-many-entries")
    assert detail == (f"{MAX_SECTIONS_PER_PAGE} section pages followed (the most one listing page "
                      f"leads to); not followed from {SITE}/sec/s{MAX_SECTIONS_PER_PAGE}/ on")
    assert page in state.incomplete


def test_an_endless_chain_of_sitemap_indexes_stops_at_the_depth_limit(settings_path):
    state = state_for(settings_path)
    top = f"{SITE}/sitemap.xml"
    [child] = state.process_spider_output(document(top), [request(f"{SITE}/s1.xml", "sitemap", (top,))])
    assert child.url == f"{SITE}/s1.xml"
    parents = (top, f"{SITE}/s1.xml")
    deeper = [request(f"{SITE}/s2-{i}.xml", "sitemap", parents) for i in range(3)]
    assert list(state.process_spider_output(document(f"{SITE}/s1.xml", (top,)), deeper)) == []
    [(url, _, reason, detail)] = skipped(settings_path)
    assert (url, reason) == (f"{SITE}/s1.xml", "sitemap-too-deep")
    assert detail == f"sitemap level 3 > max_sitemap_depth 2; not followed from {SITE}/s2-0.xml on"


def test_sitemaps_per_source_are_counted_across_documents(settings_path):
    state = state_for(settings_path)
    top = f"{SITE}/sitemap.xml"
    first = [request(f"{SITE}/s{i}.xml", "sitemap", (top,)) for i in range(3)]
    second = [request(f"{SITE}/t{i}.xml", "sitemap", (top,)) for i in range(3)]
    assert len(list(state.process_spider_output(document(top), first))) == 3
    assert len(list(state.process_spider_output(document(top + "?2"), second))) == 1
    [(url, _, reason, detail)] = skipped(settings_path)
    assert (url, reason) == (top + "?2", "too-many-sitemaps")
    assert detail.endswith(f"(max_sitemaps_per_source); not followed from {SITE}/t1.xml on")


def test_limits_are_settings_with_sane_defaults(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('[[sources]]\nname = "x"\nkind = "feed"\nurl = "http://127.0.0.1:9/f"\n')
    crawl = load_settings(path).crawl
    assert (crawl.max_entries_per_document, crawl.max_sitemap_depth,
            crawl.max_sitemaps_per_source, tuple(crawl.allow_private)) == (5000, 4, 200, ())


@pytest.mark.parametrize("bad", ['["not a host"]', '["10.0.0.0/33"]', '["http://x/"]'])
def test_allow_private_entries_are_validated(tmp_path, bad):
    from crawler.errors import ConfigError

    path = tmp_path / "settings.toml"
    path.write_text(f"[crawl]\nallow_private = {bad}\n")
    with pytest.raises(ConfigError, match="allow_private"):
        load_settings(path)


# ---------------------------------------------------------------- private addresses


def fail(req: Request, error: Exception) -> Failure:
    failure = Failure(error)
    failure.request = req
    return failure


@pytest.mark.parametrize("error, reason", [
    (CannotResolveHostError("DNS lookup failed: no results for hostname lookup: x.test."), "dns"),
    (PrivateAddress("refused http://127.0.0.2/: 127.0.0.2 is loopback"), "private-address"),
    (IgnoreRequest("Ignored response <200 http://x/> because its body (1000 B compressed, "
                   "65536 B decompressed so far) exceeded DOWNLOAD_MAXSIZE (5000 B) during "
                   "decompression."), "too-large"),
])
def test_failure_reasons_of_the_guard_and_of_bombs(error, reason):
    assert failure_reason(Failure(error))[0] == reason


def test_a_refused_article_is_skipped_for_good_and_counted_as_skipped(settings_path):
    state = state_for(settings_path)
    req = request("http://2130706434:9/a.html", "article", (f"{SITE}/sitemap.xml",))
    state.fetch_failed(req, fail(req, PrivateAddress("refused: 127.0.0.2 is loopback")))
    [(url, _, reason, detail)] = skipped(settings_path)
    assert (url, reason, detail) == ("http://2130706434:9/a.html", "private-address",
                                     "refused: 127.0.0.2 is loopback")
    with sqlite3.connect(settings_path.parent / "corpus.db") as conn:
        assert conn.execute("SELECT outcome FROM pages").fetchall() == [("not-article",)]
    assert state.stats.get_value("topicwatch/skipped") == 1
    assert state.stats.get_value("topicwatch/errors") is None


def guard_for(settings_path: Path) -> AddressGuard:
    return AddressGuard.from_crawler(crawler_for(settings_path))


@pytest.mark.parametrize("url", [
    "http://127.0.0.2:9/a", "http://2130706434/a", "http://0x7f000002/a", "http://0177.0.0.2/a",
    "http://127.2/a", "http://[::ffff:127.0.0.2]/a", "http://[::1]:9/a", "http://10.0.0.1/a",
    "http://0xa9fea9fe/latest/meta-data/", "http://169.254.169.254/latest/meta-data/",
    "http://192.168.0.1/", "http://[fe80::1]/", "http://0.0.0.0:9/", "http://localhost:9/",
    "http://LOCALHOST./x", "http://api.localhost/x", "http://[::]/", "http://224.0.0.1/",
    "file:///etc/passwd", "ftp://127.0.0.1/x",
])
def test_the_guard_refuses_literal_private_addresses_before_any_connection(settings_path, url):
    with pytest.raises(PrivateAddress):
        asyncio.run(guard_for(settings_path).process_request(Request(url)))


@pytest.mark.parametrize("url", [
    f"{SITE}/anything", "http://2130706433:9/same-host-other-spelling", "http://127.1:9/x",
    "http://192.168.7.20/allowed-network", "http://wiki.corp/allowed-name",
    "http://intranet.example/source-host-by-name", "http://93.184.216.34/public",
])
def test_the_guard_lets_sources_allowances_and_public_addresses_through(settings_path, url):
    assert asyncio.run(guard_for(settings_path).process_request(Request(url))) is None


class AnsweringResolver(GuardedResolver):
    """The guard's resolver with the test answering lookups: nothing is resolved or dialled."""

    answers: dict[str, str] = {}

    def lookup(self, name, timeout=()):
        return defer.succeed(self.answers[name])


def resolver_for(settings_path: Path, answers: dict[str, str]) -> AnsweringResolver:
    crawler = get_crawler(settings_dict={"TOPICWATCH_SETTINGS": str(settings_path)})
    resolver = AnsweringResolver.from_crawler(crawler, reactor=None)
    resolver.answers = answers
    return resolver


def resolved(resolver: GuardedResolver, name: str):
    outcome = []
    resolver.getHostByName(name).addBoth(outcome.append)
    return outcome[0]


def test_the_resolver_answers_only_addresses_the_policy_allows(settings_path):
    resolver = resolver_for(settings_path, {
        "metadata.example": "169.254.169.254", "ten.example": "10.1.2.3",
        "home.example": "192.168.1.1", "loop.example": "127.0.0.2", "public.example": "93.184.216.34",
        "wiki.corp": "172.16.0.9", "intranet.example": "10.9.9.9", "lan.example": "192.168.7.7",
    })
    for name in ("metadata.example", "ten.example", "home.example", "loop.example"):
        outcome = resolved(resolver, name)
        assert isinstance(outcome, Failure) and outcome.check(PrivateAddressError), name
    assert resolved(resolver, "public.example") == "93.184.216.34"
    assert resolved(resolver, "wiki.corp") == "172.16.0.9"  # allowed by name
    assert resolved(resolver, "intranet.example") == "10.9.9.9"  # a source's own host
    assert resolved(resolver, "lan.example") == "192.168.7.7"  # in an allowed network
    assert "169.254.169.254 is link-local" in str(resolved(resolver, "metadata.example").value)


def test_scrapy_is_told_to_use_the_guard_everywhere(settings_path):
    values = base_settings(load_settings(settings_path))
    assert values["TWISTED_DNS_RESOLVER"] == "crawler.fetch.guard.GuardedResolver"
    middlewares = values["DOWNLOADER_MIDDLEWARES"]
    assert middlewares["crawler.fetch.guard.AddressGuard"] < middlewares["crawler.fetch.politeness.RobotsPolicy"]


# ---------------------------------------------------------------- response headers


def test_a_response_whose_headers_never_end_is_given_up_past_the_bound():
    from twisted.internet.testing import StringTransport
    from twisted.web._newclient import Request as TxRequest
    from twisted.web._newclient import ResponseFailed
    from twisted.web.http_headers import Headers

    from crawler.fetch.handler import MAX_HEADER_BYTES, HeadersTooLarge, _BoundedParser

    parser = _BoundedParser(TxRequest(b"GET", b"/", Headers(), None), lambda rest: None)
    parser.makeConnection(StringTransport())
    parser.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
    line = b"X-Filler: " + b"y" * 1000 + b"\r\n"
    with pytest.raises(HeadersTooLarge):
        for _ in range(MAX_HEADER_BYTES // len(line) + 2):
            parser.dataReceived(line)
    wrapped = Failure(ResponseFailed([Failure(HeadersTooLarge("too big"))]))
    assert failure_reason(wrapped)[0] == "too-large"


def test_the_scrapy_internals_the_header_bound_relies_on():
    """crawler/fetch/handler.py subclasses Scrapy's private parser, protocol and factory and
    sets the connection pool's factory: if Scrapy renames any of them, this fails."""
    import inspect

    from scrapy.core.downloader.handlers import http11

    for name in ("_LenientHTTP11ClientFactory", "_LenientHTTP11ClientProtocol",
                 "_LenientHTTPClientParser"):
        assert hasattr(http11, name), name
    assert "self._pool._factory = _LenientHTTP11ClientFactory" in inspect.getsource(http11)
    assert "self._parser.__class__ = _LenientHTTPClientParser" in inspect.getsource(http11)


def test_the_downloader_queues_drop_queued_empties_are_still_there():
    """crawler/fetch/handler.py `drop_queued` reads `Downloader.slots` and each `Slot.queue`
    of (request, deferred) pairs that `_enqueue_request` fills and waits on."""
    import inspect

    from scrapy.core.downloader import Downloader, Slot

    source = inspect.getsource(Downloader._enqueue_request)
    assert "slot.queue.append((request, d))" in source
    assert "request, queue_dfd = slot.queue.popleft()" in inspect.getsource(Downloader._process_queue)
    slot = Slot(concurrency=1, delay=0, jitter=0)
    assert hasattr(slot.queue, "popleft") and "self.slots" in inspect.getsource(Downloader.__init__)


def test_scrapy_downloads_through_the_bounded_handler(settings_path):
    handlers = base_settings(load_settings(settings_path))["DOWNLOAD_HANDLERS"]
    assert handlers == {"http": "crawler.fetch.handler.BoundedHTTP11DownloadHandler",
                        "https": "crawler.fetch.handler.BoundedHTTP11DownloadHandler"}
