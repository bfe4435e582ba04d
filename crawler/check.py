"""`topicwatch sources --check [NAME ...]`: is each source there, and what does it hold?

One GET per configured URL (plus each host's robots.txt when `[crawl] obey_robots` is on),
with the crawl's user agent, timeout and size limit, and no crawl: the response is parsed as
the crawl would (crawler/sources/) and each URL gets one line: whether it answered, how many
entries it lists, the newest entry's date, and what to change when something is off.  A sitemap
source given as a site root is read through its robots.txt `Sitemap:` lines (the first one);
a search source is asked its first query.  urllib and Protego (Scrapy's robots.txt parser)
rather than a Scrapy crawl: a handful of independent GETs, in a thread pool.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from protego import Protego

from crawler.config import CrawlSettings, Settings, Source
from crawler.errors import SourceError
from crawler.records import Entry
from crawler.sources import feeds, listings, news_search, sitemaps
from crawler.sources.kinds import kind_hint, looks_like
from crawler.sources.rules import LinkRules
from crawler.text.charset import decode_body
from crawler.text.urls import is_site_root

WORKERS = 8
_FEED_LINK = re.compile(
    r"<link[^>]+type=[\"']application/(?:rss|atom)\+xml[\"'][^>]*>", re.I)
_HREF = re.compile(r"href=[\"']([^\"']+)[\"']", re.I)


@dataclass
class Answer:
    """One GET: the response, or why there was none (`reason` as in `skipped.reason`)."""

    url: str
    status: int | None = None
    final_url: str | None = None
    content_type: str | None = None
    body: bytes = b""
    reason: str | None = None  # dns, connection-refused, timeout, robots-disallowed, http-403, ...
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass
class Checked:
    """One URL of a source, checked."""

    source: Source
    url: str
    answered: str  # "HTTP 200", "no: DNS lookup failed", ...
    reason: str | None = None  # why it did not answer; None when it did
    entries: int | None = None
    newest: str | None = None
    advice: list[str] = field(default_factory=list)  # what to change: the source needs work
    notes: list[str] = field(default_factory=list)  # worth knowing, works as it is

    @property
    def ok(self) -> bool:
        return self.reason is None and not self.advice


class Fetcher:
    """GETs with the crawl's user agent, timeout and size limit; robots.txt once per host."""

    def __init__(self, crawl: CrawlSettings):
        self.crawl = crawl
        self.robots: dict[str, str | None] = {}  # host -> its robots.txt
        self.unreadable: dict[str, Answer] = {}  # host -> its robots.txt's failed answer
        self.lock = threading.Lock()
        self.host_locks: dict[str, threading.Lock] = {}

    def get(self, url: str) -> Answer:
        if self.crawl.obey_robots:
            allowed = self._allowed(url)
            failed = self.unreadable.get(urlsplit(url).netloc)
            if failed is not None and failed.status is None:
                # no answer at all (timeout, DNS, refused): the page would wait as long again
                return Answer(url, reason=failed.reason, detail=f"robots.txt: {failed.detail}")
            if failed is not None and (failed.status >= 500 or failed.status == 429):
                return Answer(url, reason="robots-unavailable",
                              detail=f"robots.txt answered HTTP {failed.status}: the crawl stays "
                                     "off the host while it does (RFC 9309)")
            if not allowed:
                return Answer(url, reason="robots-disallowed", detail="robots.txt disallows it")
        return self._get(url)

    def _get(self, url: str) -> Answer:
        request = urllib.request.Request(url, headers={"User-Agent": self.crawl.user_agent})
        try:
            with urllib.request.urlopen(request, timeout=self.crawl.timeout) as response:
                body = response.read(self.crawl.max_page_bytes + 1)
                return Answer(url, response.status, response.geturl(),
                              response.headers.get("Content-Type"), body)
        except urllib.error.HTTPError as e:
            return Answer(url, e.code, reason=f"http-{e.code}", detail=f"HTTP {e.code} {e.reason}")
        except (urllib.error.URLError, OSError, ValueError) as e:
            cause = getattr(e, "reason", e)
            return Answer(url, reason=_reason(e), detail=getattr(cause, "strerror", None) or str(cause))

    def _allowed(self, url: str) -> bool:
        text = self.robots_txt(url)
        return text is None or Protego.parse(text).can_fetch(url, self.crawl.user_agent)

    def robots_txt(self, url: str) -> str | None:
        """The robots.txt of `url`'s host, fetched once; None (everything allowed) when it has
        none or it cannot be read, as the crawl treats it."""
        parts = urlsplit(url)
        with self.lock:  # one lock per host: a slow host does not hold up the others
            host_lock = self.host_locks.setdefault(parts.netloc, threading.Lock())
        with host_lock:
            if parts.netloc not in self.robots:
                answer = self._get(f"{parts.scheme}://{parts.netloc}/robots.txt")
                ok = answer.status == 200
                self.robots[parts.netloc] = answer.body.decode("utf-8", "replace") if ok else None
                if answer.reason is not None and answer.reason != "http-404" and (
                        answer.status is None or answer.status >= 500 or answer.status == 429):
                    self.unreadable[parts.netloc] = answer
        return self.robots[parts.netloc]


def _reason(e: BaseException) -> str:
    cause = getattr(e, "reason", e)
    if isinstance(cause, socket.gaierror):
        return "dns"
    if isinstance(cause, ConnectionRefusedError):
        return "connection-refused"
    if isinstance(cause, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(cause, ssl.SSLError):
        return "tls"
    return "fetch-error"


# ---------------------------------------------------------------- one source

def check_sources(settings: Settings, sources: Sequence[Source]) -> list[Checked]:
    """Every URL of `sources`, checked in parallel, in the sources' order."""
    fetcher = Fetcher(settings.crawl)
    jobs = [(s, u) for s in sources for u in _urls(s, settings)]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(lambda job: check_url(fetcher, settings, *job), jobs))


def _urls(source: Source, settings: Settings) -> list[str]:
    if source.kind != "search":
        return list(source.all_urls())
    queries = source.queries or news_search.search_queries(settings.topics) or ["AI"]
    return [news_search.expand_search(u, queries[:1])[0] for u in source.all_urls()]


def check_url(fetcher: Fetcher, settings: Settings, source: Source, url: str) -> Checked:
    if source.kind == "sitemap" and is_site_root(url):
        url = _first_sitemap(fetcher, url)
    answer = fetcher.get(url)
    if not answer.ok:
        return Checked(source, url, f"no: {answer.detail or answer.reason}", answer.reason,
                       advice=[_fix_for(answer)])
    checked = Checked(source, url, f"HTTP {answer.status}")
    if answer.final_url and answer.final_url != url:
        checked.notes.append(f"redirects to {answer.final_url}: you may use that URL")
    if len(answer.body) > settings.crawl.max_page_bytes:
        checked.advice.append(f"larger than max_page_bytes ({settings.crawl.max_page_bytes}): "
                              "the crawl drops it")
        return checked
    _read(checked, answer, settings)
    return checked


def _first_sitemap(fetcher: Fetcher, root: str) -> str:
    text = fetcher.robots_txt(root) or ""
    return (sitemaps.robots_sitemaps(text, root) or sitemaps.default_sitemap_urls(root))[0]


def _fix_for(answer: Answer) -> str:
    return {
        "dns": "the host name does not resolve: check the URL (or the network)",
        "connection-refused": "nothing listens there: check the URL and port",
        "timeout": "no answer in time: try later, or raise [crawl] timeout",
        "robots-disallowed": "robots.txt disallows it: disable the source (enabled = false)",
        "robots-unavailable": "the site's robots.txt fails: try later; if it keeps failing, tell the site",
        "tls": "the TLS handshake failed: check the URL's scheme and host",
    }.get(answer.reason or "", _http_fix(answer))


def _http_fix(answer: Answer) -> str:
    status = answer.status or 0
    if status in (401, 403, 429):
        return f"HTTP {status}: the site refuses this client; disable the source or find another URL"
    if status in (404, 410):
        return f"HTTP {status}: the URL is gone; find the site's current feed"
    if status >= 500:
        return f"HTTP {status}: the site failed; try later"
    return answer.detail or "it could not be fetched"


# ---------------------------------------------------------------- what it holds

def _read(checked: Checked, answer: Answer, settings: Settings) -> None:
    source, kind = checked.source, checked.source.kind
    try:
        entries, children = _entries(answer, source)
    except SourceError as e:
        checked.advice.append(_not_a(kind, answer, str(e.detail)))
        return
    checked.entries = len(entries) if not children else len(children)
    if children:
        checked.answered += f", sitemap index of {len(children)} sitemap(s)"
        return
    dates = [e.published for e in entries if e.published]
    checked.newest = max(dates) if dates else None
    _advise(checked, entries, answer, settings)


def _entries(answer: Answer, source: Source) -> tuple[list[Entry], list[str]]:
    body, ctype = answer.body, answer.content_type
    language = source.language or None
    if source.kind in ("feed", "search"):
        return feeds.parse_feed(body, answer.final_url or answer.url, source.name, ctype, language), []
    if source.kind == "sitemap":
        page = sitemaps.parse_sitemap(body, answer.url, source.name, language=language)
        return page.entries, page.sitemaps
    text = decode_body(body, ctype, source.encoding or None)[0]
    rules = LinkRules.of(source.allow, source.deny)
    return listings.listing_links(text, answer.final_url or answer.url, source.name, rules), []


def _not_a(kind: str, answer: Answer, detail: str) -> str:
    """What to change when the bytes are not what the source's kind says (the crawl's error
    line says the same: crawler/sources/kinds.py)."""
    if looks_like(answer.body) == "html":
        feed = _feed_link(answer)
        if feed:
            return f"an HTML page, not a {kind}; it names a feed: set url = \"{feed}\""
    return kind_hint(kind, answer.body) or detail


def _feed_link(answer: Answer) -> str | None:
    for tag in _FEED_LINK.findall(answer.body[:200_000].decode("utf-8", "replace")):
        href = _HREF.search(tag)
        if href:
            try:
                return urljoin(answer.final_url or answer.url, href.group(1))
            except ValueError:  # a link Python refuses (`http://[host]/`): look at the next
                continue
    return None


def _advise(checked: Checked, entries: list[Entry], answer: Answer, settings: Settings) -> None:
    kind = checked.source.kind
    if not entries:
        hint = kind_hint(kind, answer.body) if kind == "listing" else None
        if hint:
            checked.advice.append(hint)
        else:
            checked.advice.append("0 entries" + (": add allow patterns that match its article "
                                                 "links" if kind == "listing" else ""))
        return
    limit = settings.crawl.max_age_days
    if checked.newest and limit and _age_days(checked.newest) > limit:
        checked.advice.append(f"newest entry is {_age_days(checked.newest):.0f} days old, older "
                              f"than max_age_days = {limit}: nothing would be fetched")


def _age_days(iso: str) -> float:
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (dt.datetime.now(dt.UTC) - moment).total_seconds() / 86400
