"""`topicwatch topics --explain URL_OR_FILE`: why one page would be kept or not."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.table import Table

from crawler import topics
from crawler.config import Settings
from crawler.console import out
from crawler.errors import NotAnArticle, PathError, SourceError, TopicwatchError
from crawler.extract import extract
from crawler.records import Page
from crawler.sources import feeds, sitemaps
from crawler.sources.kinds import looks_like
from crawler.text.addresses import AddressPolicy
from crawler.text.charset import decode_body


def explain_page(settings: Settings, target: str) -> None:
    """Extract one page and show, per topic, the hits behind its verdict."""
    try:
        article = extract(fetch_page(settings, target))
    except NotAnArticle as e:  # which page, and why it is none
        raise TopicwatchError(f"{target}: {e}") from None
    out.print(f"{article.title}  ({article.language or '?'}"
              f"{', ' + article.script if article.script else ''}, {len(article.text)} characters)")
    table = Table("topic", "matched", "score / min", "terms found (title, text)", "require", "excluded by")
    for topic in settings.topics:
        e = topics.explain(article, topic)
        found = ", ".join(f"{g['terms'][0]} ({g['title']}, {g['text']})" for g in e["groups"] if g["score"])
        missing = [" / ".join(r["terms"]) for r in e["require"] if not r["found"]]
        table.add_row(topic.name, "yes" if e["matched"] else "no", f"{e['score']:g} / {e['min_score']:g}",
                      found, "missing: " + "; ".join(missing) if missing else "ok", ", ".join(e["excluded_by"]))
    out.print(table)


def fetch_page(settings: Settings, target: str) -> Page:
    """One page: a saved file, or a single GET with the configured user agent."""
    path = Path(target)
    if not target.lower().startswith(("http://", "https://")):
        if not path.is_file():
            raise PathError(path, "no such file (give a saved HTML file or an http(s) URL)")
        body, ctype, url = path.read_bytes(), None, path.resolve().as_uri()
    else:
        request = urllib.request.Request(target, headers={"User-Agent": settings.crawl.user_agent})
        urls = [target, *(u for source in settings.sources for u in source.all_urls())]
        policy = AddressPolicy.build(urls, settings.crawl.allow_private)
        opener = urllib.request.build_opener(_GuardedRedirects(policy))
        try:
            with opener.open(request, timeout=settings.crawl.timeout) as response:
                body = response.read(settings.crawl.max_page_bytes)
                ctype, url = response.headers.get("Content-Type"), response.geturl()
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise TopicwatchError(f"{target}: cannot fetch: {e}") from None
    what = looks_like(body)
    if what in ("feed", "sitemap"):  # read as a page it gives the feed's item titles as text
        raise TopicwatchError(f"{target}: a {what}, not an article page: --explain takes one "
                              f"article's URL or saved file{_first_links(what, body, url)}")
    html, _ = decode_body(body, ctype)
    return Page(url=url, source="explain", html=html)


def _first_links(what: str, body: bytes, url: str, n: int = 3) -> str:
    """", such as: URL, URL, URL" from the feed or sitemap (nothing when it cannot be read)."""
    try:
        if what == "feed":
            links = [e.url for e in feeds.parse_feed(body, url, "explain")]
        else:
            page = sitemaps.parse_sitemap(body, url, "explain")
            links = [e.url for e in page.entries] or page.sitemaps
    except SourceError:
        return ""
    return f", such as: {', '.join(links[:n])}" if links else ""


class _GuardedRedirects(urllib.request.HTTPRedirectHandler):
    """The page asked for may be anywhere; a redirect from it may not lead to a private
    address (crawler/text/addresses.py), as in a crawl."""

    def __init__(self, policy: AddressPolicy):
        self.policy = policy

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> Any:
        host = urlsplit(newurl).hostname or ""
        why = self.policy.literal_refusal(host)
        if why is None and not self.policy.host_allowed(host):
            for *_, addr in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP):
                why = why or self.policy.refusal(host, ip_address(addr[0].split("%")[0]))
        if why:
            raise urllib.error.URLError(f"refused redirect to {newurl}: {why}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)
