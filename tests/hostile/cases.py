"""The hostile cases: what each server answers and what a correct crawl makes of it.

Every case registers its routes on a running `HostileSite` and says, by URL path (unique per
case), how the crawl must end there: `stored`, or the `skipped.reason` recorded for that path.
Article cases are listed in one feed of the main server; feed, sitemap, listing and robots
cases are sources of their own (robots cases on their own loopback address, since robots.txt
and Crawl-delay are per host).  The servers named in FORBIDDEN stand for the private network:
links and redirects point at them, and they must never see a request.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from . import pages
from .responses import (
    compressed,
    drip,
    endless,
    endless_headers,
    lazy,
    lying_length,
    page,
    raw,
    redirect,
    reset,
    silent,
)
from .server import HostileSite, Responder

FORBIDDEN = {"forbidden": "127.0.0.2", "octal8": "127.0.0.8", "octal10": "127.0.0.10"}
MAIN = {"main": "127.0.0.1"}
ROBOTS_HOSTS = {f"r{i}": f"127.0.0.{40 + i}" for i in range(10)}
ADDRESSES = {**MAIN, **FORBIDDEN, **ROBOTS_HOSTS}

# what the suite's settings.toml sets for the limits the cases hit
LIMITS = {"max_entries_per_document": 30, "max_sitemap_depth": 4, "max_sitemaps_per_source": 25,
          "max_page_bytes": 5_000_000, "timeout": 10}
STORED = "stored"


@dataclass(frozen=True)
class Expect:
    case: str
    kind: str
    path: str  # the URL path the outcome is recorded for
    outcome: str  # "stored" or a skipped reason
    host: str | None = None  # the server's name, when the path alone is not unique

    @property
    def id(self) -> str:
        return f"{self.case}:{self.path[:40]}"


@dataclass
class Suite:
    site: HostileSite
    expects: list[Expect] = field(default_factory=list)
    sources: list[tuple[str, str, str, str]] = field(default_factory=list)  # name, kind, url, extra
    feed_links: list[str] = field(default_factory=list)

    def forbidden(self, path: str, server: str = "forbidden") -> str:
        return self.site.base(server) + path

    def port(self, server: str = "forbidden") -> int:
        return self.site.port(server)

    def expect(self, case: str, kind: str, path: str, outcome: str, host: str | None = None) -> None:
        self.expects.append(Expect(case, kind, path, outcome, host))

    def article(self, name: str, responder: Responder, outcome: str) -> None:
        """An article URL on the main server, listed in the main feed."""
        path = f"/a/{name}"
        self.feed_links.append(self.site.route("main", path, responder))
        self.expect(name, "article", path, outcome)

    def link(self, name: str, url: str, path: str, outcome: str) -> None:
        """A link the main feed lists that points elsewhere (a private address)."""
        self.feed_links.append(url)
        self.expect(name, "link", path, outcome)

    def listed(self, name: str, responder: Responder) -> str:
        """An article URL in the main feed whose outcome is recorded elsewhere (a redirect)."""
        url = self.site.route("main", f"/a/{name}", responder)
        self.feed_links.append(url)
        return url

    def source(self, name: str, kind: str, url: str, outcome: str, path: str | None = None,
               extra: str = "", host: str | None = None) -> None:
        self.sources.append((name, kind, url, extra))
        self.expect(name, kind, path or urlsplit(url).path or "/", outcome, host)


CASES: list[Callable[[Suite], None]] = []


def case(fn: Callable[[Suite], None]) -> Callable[[Suite], None]:
    CASES.append(fn)
    return fn


def ok_article(title: str = "Harbour lab tests language models on ferry timetables") -> bytes:
    return pages.article(title).encode()


# ---------------------------------------------------------------- articles: size and time

@case
def articles_that_are_fine(s: Suite) -> None:
    s.article("plain", page(ok_article()), STORED)
    s.article("text-plain-type", page(ok_article("Served as text/plain"), "text/plain"), STORED)
    s.article("lying-charset", page(ok_article("A charset nobody knows"), "text/html; charset=x-martian"), STORED)
    s.article("huge-title", page(pages.article("A title that never ends " * 40_000)), STORED)


@case
def compression_bombs(s: Suite) -> None:
    for name, enc in (("gzip-bomb", "gzip"), ("deflate-bomb", "deflate"), ("brotli-bomb", "br"),
                      ("zstd-bomb", "zstd"), ("double-gzip-bomb", "gzip, gzip")):
        s.article(name, compressed(enc), "too-large")


@case
def slow_and_endless(s: Suite) -> None:
    s.article("slow-drip", drip(), "timeout")
    s.article("silent-server", silent, "timeout")
    s.article("endless-chunked", endless(chunked=True), "too-large")
    s.article("endless-until-close", endless(chunked=False), "too-large")
    s.article("huge-page", lazy(lambda: b"<html><body>" + b"<p>words and words</p>" * 1_000_000 + b"</body></html>"), "too-large")
    s.article("length-too-big", lying_length(10**12, b"<html>"), "too-large")
    s.article("length-short", lying_length(100_000, ok_article()), "fetch-error")
    s.article("endless-headers", endless_headers, "too-large")
    s.article("connection-reset", reset, "fetch-error")
    s.article("garbage-status-line", raw(b"HTTP/1.1 abc\r\n\r\n<html></html>"), "fetch-error")
    s.article("no-status-line", raw(b"<html><body>no HTTP at all</body></html>"), "fetch-error")


@case
def not_what_it_says(s: Suite) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>stream\n" + bytes(range(256)) * 40 + b"\nendstream"
    s.article("png-as-html", page(png), "not-html")
    s.article("pdf-as-html", page(pdf), "not-html")
    s.article("image-type", page(png, "image/png"), "not-html")
    s.article("json-type", page(b'{"a": 1}', "application/json"), "not-html")
    s.article("empty-body", page(b""), "empty")
    s.article("http-500", page(b"<html>oops</html>", status=500), "http-500")
    s.article("http-404", page(b"<html>gone</html>", status=404), "http-404")
    s.article("bad-gzip", page(b"\x1f\x8b\x08\x00garbage-not-gzip", headers={"Content-Encoding": "gzip"}), "fetch-error")


@case
def hostile_markup(s: Suite) -> None:
    control = pages.article("Control characters everywhere").replace(
        "harbour", "harb\x01our\x1b[31m").replace("models", "mod\x08els\x0b")
    s.article("c0-controls", page(control), STORED)
    s.article("nul-bytes", page(pages.article("NUL bytes").replace(" the ", " the\x00 ")), STORED)
    deep = "<div>" * 100_000 + "".join(f"<p>{p}</p>" for p in pages.PARAGRAPHS) + "</div>" * 100_000
    s.article("deep-nesting", page(pages.article("Deeply nested page", extra_body=deep)), STORED)
    many = "".join(f"<span class='c{i}'>x</span>" for i in range(100_000))
    s.article("many-elements", page(pages.article("A hundred thousand spans", extra_body=many)), STORED)
    attrs = "<div " + " ".join(f"a{i}='{i}'" for i in range(20_000)) + ">x</div>"
    s.article("many-attributes", page(pages.article("Twenty thousand attributes", extra_body=attrs)), STORED)


# ---------------------------------------------------------------- redirects

@case
def redirects(s: Suite) -> None:
    s.site.route("main", "/a/loop-b", redirect(lambda: s.site.base("main") + "/a/redirect-loop"))
    s.article("redirect-loop", redirect(lambda: s.site.base("main") + "/a/loop-b"), "too-many-redirects")
    for i in range(30):
        s.site.route("main", f"/chain/{i}", redirect(lambda i=i: s.site.base("main") + f"/chain/{i + 1}"))
    s.article("redirect-chain", redirect(lambda: s.site.base("main") + "/chain/0"), "too-many-redirects")
    s.site.route("main", "/a/redirect-ok-target", page(ok_article("Arrived after a redirect")))
    s.listed("redirect-ok", redirect(lambda: s.site.base("main") + "/a/redirect-ok-target", 301))
    s.expect("redirect-ok", "redirect", "/a/redirect-ok-target", STORED)


@case
def redirects_to_private_addresses(s: Suite) -> None:
    port = s.port()
    targets = {
        "redirect-private-dotted": f"http://127.0.0.2:{port}/p/dotted",
        "redirect-private-decimal": f"http://2130706434:{port}/p/decimal",
        "redirect-private-hex": f"http://0x7f000002:{port}/p/hex",
        "redirect-private-octal": f"http://127.0.0.010:{s.port('octal8')}/p/octal",
        "redirect-private-short": f"http://127.2:{port}/p/short",
        "redirect-private-mapped-v6": f"http://[::ffff:127.0.0.2]:{port}/p/mapped",
        "redirect-private-name": f"http://forbidden.test:{port}/p/name",
        "redirect-private-localhost": f"http://localhost:{port}/p/localhost",
    }
    for name, target in targets.items():
        s.listed(name, redirect(target))
        s.expect(name, "redirect", "/p/" + target.rsplit("/p/", 1)[1], "private-address")
    s.listed("meta-refresh-private", page(
        f'<html><head><meta http-equiv="refresh" content="0;url=http://127.0.0.2:{port}/p/refresh">'
        "</head><body>moved</body></html>"))
    s.expect("meta-refresh-private", "redirect", "/p/refresh", "private-address")


@case
def links_to_private_addresses(s: Suite) -> None:
    port = s.port()
    for name, host in (("link-dotted", "127.0.0.2"), ("link-decimal", "2130706434"),
                       ("link-hex", "0x7F000002"), ("link-name", "forbidden.test"),
                       ("link-octal", "127.0.0.010"), ("link-ipv6-loopback", "[::1]")):
        s.link(name, f"http://{host}:{port}/l/{name}", f"/l/{name}", "private-address")
    # DNS rebinding: the check sees 127.0.0.3 (allowed in the suite), the connection would
    # get 127.0.0.2; the resolver refuses that answer too, so the lookup fails (dns)
    s.link("dns-rebinding", f"http://rebind.test:{port}/l/dns-rebinding", "/l/dns-rebinding", "dns")


# ---------------------------------------------------------------- feeds

def feed_source(s: Suite, name: str, responder: Responder, outcome: str, path: str | None = None) -> str:
    url = s.site.route("main", f"/f/{name}.xml", responder)
    s.source(name, "feed", url, outcome, path)
    return url


RSS_ROOT = b'<rss version="2.0"><channel><title>t</title><item><title>@@</title><link>/a/plain</link></item></channel></rss>'


@case
def feeds(s: Suite) -> None:
    feed_source(s, "feed-quadratic-entities", page(pages.entity_bomb(RSS_ROOT), "application/rss+xml"), "bad-feed")
    feed_source(s, "feed-billion-laughs", page(pages.billion_laughs(RSS_ROOT), "application/rss+xml"), "bad-feed")
    feed_source(s, "feed-external-entity", page(
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + RSS_ROOT.replace(b"@@", b"&x;"), "application/rss+xml"), "bad-feed")
    feed_source(s, "feed-binary", page(bytes(range(256)) * 20, "application/rss+xml"), "bad-feed")
    feed_source(s, "feed-html-page", page(ok_article(), "text/html"), "bad-feed")
    feed_source(s, "feed-gzip-bomb", compressed("gzip", "application/rss+xml"), "too-large")
    base = s.site.base("main")
    feed_source(s, "feed-100k-entries", lazy(lambda: pages.compact_rss(f"/gone/{i}" for i in range(100_000)),
                                             "application/rss+xml"), "too-many-entries")
    s.expect("feed-100k-entries", "feed", "/gone/0", "http-404")
    huge_titles = pages.rss([f"{base}/gone/t"], item_title="Title " * 200_000)
    feed_source(s, "feed-huge-titles", page(huge_titles, "application/rss+xml"), "http-404", "/gone/t")
    truncated = pages.rss([f"{base}/gone/trunc"])[:-16]  # no </channel></rss>
    feed_source(s, "feed-truncated", page(truncated, "application/rss+xml"), "http-404", "/gone/trunc")
    feed_source(s, "feed-redirect-private", redirect(f"http://127.0.0.2:{s.port()}/p/feed"),
                "private-address", "/p/feed")


# ---------------------------------------------------------------- sitemaps

def sitemap_source(s: Suite, name: str, responder: Responder, outcome: str, path: str | None = None) -> str:
    url = s.site.route("main", f"/s/{name}.xml", responder)
    s.source(name, "sitemap", url, outcome, path)
    return url


def urlset_root(base: str, path: str) -> bytes:
    return (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>'
            + f"{base}{path}".encode() + b"@@</loc></url></urlset>")


@case
def sitemaps(s: Suite) -> None:
    base = s.site.base("main")

    def chain(ex):  # /s/chain/N.xml lists /s/chain/N+1.xml, for ever
        n = int(ex.path.rsplit("/", 1)[1].split(".")[0])
        ex.send(pages.sitemap_index([f"{base}/s/chain/{n + 1}.xml"]), "application/xml")
    for n in range(1, 200):
        s.site.route("main", f"/s/chain/{n}.xml", chain)
    s.source("sitemap-endless-index", "sitemap", f"{base}/s/chain/1.xml", "sitemap-too-deep",
             f"/s/chain/{LIMITS['max_sitemap_depth']}.xml")
    wide = lazy(lambda: pages.sitemap_index(f"/gone/m{i}.xml" for i in range(100_000)), "application/xml")
    sitemap_source(s, "sitemap-100k-children", wide, "too-many-sitemaps")
    many = lazy(lambda: pages.compact_urlset(f"/gone/u{i}" for i in range(100_000)), "application/xml")
    sitemap_source(s, "sitemap-100k-urls", many, "too-many-entries")
    sitemap_source(s, "sitemap-quadratic-entities", page(pages.entity_bomb(urlset_root(base, "/gone/q")),
                   "application/xml"), "http-404", "/gone/q")
    sitemap_source(s, "sitemap-billion-laughs", page(pages.billion_laughs(urlset_root(base, "/gone/b")),
                   "application/xml"), "http-404", "/gone/b")
    gz_bomb = gzip.compress(b"<urlset>" + b" " * 100_000_000 + b"</urlset>")
    sitemap_source(s, "sitemap-gzip-file-bomb", page(gz_bomb, "application/x-gzip"), "bad-sitemap")
    sitemap_source(s, "sitemap-binary", page(bytes(range(256)) * 20, "application/xml"), "bad-sitemap")
    port = s.port()
    private = pages.urlset([f"http://127.0.0.2:{port}/p/loc-dotted", f"http://2130706434:{port}/p/loc-decimal",
                            f"http://forbidden.test:{port}/p/loc-name"])
    sitemap_source(s, "sitemap-private-locs", page(private, "application/xml"), "private-address", "/p/loc-dotted")
    s.expect("sitemap-private-locs", "sitemap", "/p/loc-decimal", "private-address")
    s.expect("sitemap-private-locs", "sitemap", "/p/loc-name", "private-address")
    child = pages.sitemap_index([f"http://127.0.0.2:{port}/p/child-sitemap.xml"])
    sitemap_source(s, "sitemap-private-child", page(child, "application/xml"), "private-address",
                   "/p/child-sitemap.xml")


# ---------------------------------------------------------------- listings

@case
def listings(s: Suite) -> None:
    many = lazy(lambda: pages.compact_listing(f"/g/2024/09/20/{i}" for i in range(100_000)))
    url = s.site.route("main", "/l/many/", many)
    s.source("listing-100k-links", "listing", url, "too-many-entries")
    port = s.port()
    private = pages.listing([f"http://127.0.0.2:{port}/p/listing-link", f"http://0x7f000002:{port}/p/listing-hex"])
    url = s.site.route("main", "/l/private/", page(private))
    s.source("listing-private-links", "listing", url, "private-address", "/p/listing-link",
             extra='allow = [".*"]')
    s.expect("listing-private-links", "listing", "/p/listing-hex", "private-address")


# ---------------------------------------------------------------- robots.txt

def robots_source(s: Suite, name: str, host: str, robots: Responder, outcome: str, path: str) -> None:
    """A sitemap source at a host's root, so robots.txt is read first; `path` is on that host."""
    s.site.route(host, "/robots.txt", robots)
    s.source(name, "sitemap", s.site.base(host) + "/", outcome, path, host=host)


@case
def robots(s: Suite) -> None:
    port = s.port()
    robots_source(s, "robots-private-sitemap", "r0", page(
        f"User-agent: *\nAllow: /\nSitemap: http://127.0.0.2:{port}/p/robots-sitemap.xml\n", "text/plain"),
        "private-address", "/p/robots-sitemap.xml")
    s.expects[-1] = Expect("robots-private-sitemap", "sitemap", "/p/robots-sitemap.xml", "private-address", "forbidden")
    r1 = s.site.base("r1")
    robots_source(s, "robots-100k-sitemaps", "r1", lazy(
        lambda: "".join(f"Sitemap: {r1}/gone/{i}.xml\n" for i in range(100_000)).encode(), "text/plain"),
        "too-many-sitemaps", "/robots.txt")
    robots_source(s, "robots-huge", "r2", lazy(lambda: b"User-agent: *\nDisallow: /x\n" * 1_000_000, "text/plain"),
                  "too-large", "/robots.txt")
    robots_source(s, "robots-slow", "r3", drip(), "timeout", "/robots.txt")
    robots_source(s, "robots-crawl-delay-day", "r4", page(
        "User-agent: *\nCrawl-delay: 86400\nSitemap: /s.xml\n", "text/plain"), "robots-disallowed", "/robots.txt")
    s.site.route("r4", "/s.xml", page(pages.urlset([s.site.base("r4") + "/a/1"]), "application/xml"))
    robots_source(s, "robots-redirect-loop", "r5", redirect(lambda: s.site.base("r5") + "/robots.txt"),
                  "too-many-redirects", "/robots.txt")
    robots_source(s, "robots-disallow-all", "r6", page("User-agent: *\nDisallow: /\n", "text/plain"),
                  "robots-disallowed", "/sitemap.xml")
    wild = "User-agent: *\nDisallow: /" + "*a" * 40 + "*b\n" + "".join(f"Disallow: /p{i}/*x*y*z\n" for i in range(20_000))
    robots_source(s, "robots-wildcards", "r7", page(wild + "Sitemap: /s.xml\n", "text/plain"), STORED, "/" + "a" * 300)
    s.site.route("r7", "/s.xml", page(pages.urlset([s.site.base("r7") + "/" + "a" * 300]), "application/xml"))
    s.site.route("r7", "/" + "a" * 300, page(ok_article("Robots wildcards cost nothing")))
    robots_source(s, "robots-binary", "r8", page(bytes(range(256)) * 100, "text/plain"), "http-404", "/sitemap.xml")


def build(site: HostileSite) -> Suite:
    """Every case's routes and expectations; the article cases listed in feeds of 20 (below
    the suite's max_entries_per_document)."""
    suite = Suite(site)
    for register in CASES:
        register(suite)
    links = suite.feed_links
    for n, start in enumerate(range(0, len(links), 20)):
        url = site.route("main", f"/articles-{n}.xml", page(pages.rss(links[start:start + 20]),
                                                            "application/rss+xml"))
        suite.sources.insert(n, (f"articles-{n}", "feed", url, ""))
    return suite


def warm(site: HostileSite) -> None:
    """Build every large body and bomb before the crawl starts."""
    for responder in site.routes.values():
        if hasattr(responder, "warm"):
            responder.warm()


def settings_toml(suite: Suite, corpus: str) -> str:
    crawl = "\n".join(f"{k} = {v}" for k, v in LIMITS.items())
    sources = "\n".join(
        f'[[sources]]\nname = "{name}"\nkind = "{kind}"\nurl = "{url}"\n{extra}\n'
        for name, kind, url, extra in suite.sources)
    return (f'[corpus]\npath = "{corpus}"\n\n[crawl]\n{crawl}\ndelay = 0\nretries = 0\n'
            "max_age_days = 0\nautothrottle = false\nconcurrency = 32\nconcurrency_per_host = 16\n"
            'allow_private = ["127.0.0.3/32"]\n\n'
            '[[topics]]\nname = "everything"\nkeep_all = true\n\n' + sources)
