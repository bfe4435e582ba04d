"""Sources: turn feed, sitemap, listing-page and search-feed bytes into `Entry` records.

Plain functions over bytes and text; the Scrapy spider fetches and calls them. Nothing here
touches the network: robots.txt, sitemaps and feeds arrive as bytes the spider already has.

- `parse_feed`: RSS 0.9x/1.0/2.0 and Atom (feedparser), links resolved, dates as ISO 8601.
- `parse_sitemap`: sitemap index -> child sitemaps; urlset (plain or Google News) -> entries.
  Gzip is sniffed by its magic bytes and capped, XML parsed without entities or network.
- `robots_sitemaps`, `is_site_root`, `robots_url`, `default_sitemap_urls`: sitemap discovery.
- `listing_links`: article-looking links on a home or section page (patterns or a heuristic).
- `expand_search`, `search_queries`: search-feed URLs from topic terms.
- `is_too_old`: the age filter for entries whose date the feed or sitemap states.
- `site_of`: the site a URL belongs to, for same-site checks here and in dedup.

Dates are read by `crawler.dates` (the parser extraction uses), never by feedparser's
`*_parsed` values; see `crawler.dates.stated_iso` for what a time without a zone means.
"""

from __future__ import annotations

import gzip
import io
import ipaddress
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import SplitResult, quote_plus, urldefrag, urljoin, urlsplit

import feedparser
import lxml.html
import tldextract
from lxml import etree

from crawler.dates import parse_date, stated_iso
from crawler.records import Entry
from crawler.textnorm import han_ratio

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # decompressed; a gzip bomb stops here
GZIP_MAGIC = b"\x1f\x8b"


class SourceError(Exception):
    """A feed or sitemap response that cannot be read as one: a row for `skipped`, not a crash."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class SitemapPage:
    """One parsed sitemap file: child sitemaps to fetch next, and article entries."""

    sitemaps: list[str] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)


# ---------------------------------------------------------------- dates


def is_chinese_source(declared: str | None, hint: str | None, title: str | None) -> bool:
    """Whether a feed or sitemap comes from a Chinese-language source, which decides what its
    zone-less times mean: the language it declares, else the source's configured language
    hint, else a title written mostly in Han characters."""
    for language in (declared, hint):
        if language and language.strip():
            return language.strip().lower().startswith(("zh", "cn", "chi"))
    return bool(title) and han_ratio(title or "") >= 0.5


def is_too_old(published: str | None, max_age_days: int, now: datetime | None = None) -> bool:
    """True only when a stated date is older than the limit: an unknown date is never too old.

    A date without a time counts by calendar day, so an article from "yesterday" with a one-day
    limit is kept whatever its hour or time zone was. Zone-less times are taken as UTC.
    """
    if max_age_days <= 0:
        return False
    when = parse_date(published)
    if when is None:
        return False
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    instant = when.instant()
    if instant is None:
        return (now.astimezone(UTC).date() - when.day).days > max_age_days
    return now - instant > timedelta(days=max_age_days)


# ---------------------------------------------------------------- URLs


def _http_url(href: str | None, base: str) -> str | None:
    """`href` made absolute against `base`, fragment dropped; None unless http(s)."""
    if not href:
        return None
    href = re.sub(r"[\t\r\n]", "", href).strip()
    if not href or href.startswith("#"):
        return None
    try:
        absolute = urldefrag(urljoin(base, href)).url
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return absolute


def is_site_root(url: str) -> bool:
    """A bare site root as a sitemap source means: discover sitemaps through robots.txt."""
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def default_sitemap_urls(base_url: str) -> list[str]:
    """Where to look when robots.txt names no sitemap."""
    parts = urlsplit(base_url)
    return [f"{parts.scheme}://{parts.netloc}/sitemap.xml"]


def robots_sitemaps(robots_txt: str, base_url: str) -> list[str]:
    """The `Sitemap:` lines of a robots.txt, absolute, deduplicated, in file order."""
    found: list[str] = []
    for line in robots_txt.splitlines():
        key, sep, value = line.partition(":")
        if not sep or key.strip().lower() != "sitemap":
            continue
        value = re.split(r"\s#", value, maxsplit=1)[0].strip()
        url = _http_url(value, base_url)
        if url and url not in found:
            found.append(url)
    return found


# ---------------------------------------------------------------- feeds

_PROLOG_CHARSET = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([\w.:-]+)["']""", re.I)
_HTTP_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
# Labels whose real-world bytes are a superset the label does not cover.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "big5": "big5hkscs"}


def _feed_charset(body: bytes, content_type: str | None) -> str | None:
    """The charset to hand feedparser: strict UTF-8, then the declarations, then gb18030.

    feedparser already widens gb2312 to gb18030, but a big5 feed holding one HKSCS character
    falls through to windows-1252 and comes out as mojibake; choosing here avoids that.
    """
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # UTF-16 with BOM: feedparser sniffs it
    declared = []
    if content_type and (m := _HTTP_CHARSET.search(content_type)):
        declared.append(m.group(1))
    if m := _PROLOG_CHARSET.match(body[:512]):
        declared.append(m.group(1).decode("ascii", "replace"))
    candidates = ["utf-8"] + [_SUPERSETS.get(c.lower(), c.lower()) for c in declared]
    for charset in candidates + ["gb18030"]:
        try:
            body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
        return charset
    return None


def _entry_link(entry: Any) -> str | None:
    """The entry's page: `link`, else an alternate link, else a URL-shaped guid."""
    if entry.get("link"):
        return entry["link"]
    for link in entry.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link["href"]
    guid = entry.get("id") or ""
    return guid if guid.startswith(("http://", "https://")) else None


def _entry_published(entry: Any, chinese: bool) -> str | None:
    """The entry's stated date, read from the raw text (dict.get: FeedParserDict maps
    `updated` to `published` with a DeprecationWarning)."""
    for key in ("published", "updated", "created"):
        if iso := stated_iso(dict.get(entry, key), chinese):
            return iso
    return None


def parse_feed(
    body: bytes, url: str, source: str, content_type: str | None = None,
    language: str | None = None,
) -> list[Entry]:
    """Entries of an RSS or Atom feed; `SourceError` when the bytes are no feed at all.
    `language` is the source's configured hint, used when the feed declares none."""
    headers = {"content-location": url}
    charset = _feed_charset(body, content_type)
    if charset:
        headers["content-type"] = f"application/xml; charset={charset}"
    elif content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(body, response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception") or "no RSS or Atom feed found"
        raise SourceError(url, f"not a feed: {reason}")
    feed = parsed.get("feed", {})
    chinese = is_chinese_source(feed.get("language"), language, feed.get("title"))
    entries: list[Entry] = []
    for item in parsed.entries:
        link = _http_url(_entry_link(item), url)
        if link is None:
            continue
        title = " ".join((item.get("title") or "").split()) or None
        entries.append(
            Entry(url=link, source=source, title=title, published=_entry_published(item, chinese),
                  found_on=url)
        )
    return entries


# ---------------------------------------------------------------- sitemaps


def _gunzip(body: bytes, url: str, limit: int) -> bytes:
    """Decompress at most `limit` bytes: a gzip bomb becomes a SourceError, not an OOM."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as fh:
            data = fh.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(url, f"bad gzip: {exc}") from exc
    if len(data) > limit:
        raise SourceError(url, f"sitemap larger than {limit} bytes decompressed")
    return data


def _local(tag: Any) -> str:
    """Element name without its namespace: old sitemaps have none, some have odd ones."""
    return etree.QName(tag).localname.lower() if isinstance(tag, str) else ""


def _child_text(element: Any, *path: str) -> str | None:
    """Text of the first descendant reached by local names, whatever the namespaces."""
    current = [element]
    for name in path:
        current = [c for parent in current for c in parent if _local(c.tag) == name]
    for node in current:
        text = (node.text or "").strip()
        if text:
            return text
    return None


def _url_entry(node: Any, url: str, source: str, language: str | None) -> Entry | None:
    loc = _http_url(_child_text(node, "loc"), url)
    if loc is None:
        return None
    title = _child_text(node, "news", "title")
    declared = _child_text(node, "news", "publication", "language")
    chinese = is_chinese_source(declared, language, title)
    published = stated_iso(_child_text(node, "news", "publication_date"), chinese) or stated_iso(
        _child_text(node, "lastmod"), chinese
    )
    return Entry(url=loc, source=source, title=title, published=published, found_on=url)


def _text_sitemap(text: bytes, url: str, source: str) -> SitemapPage | None:
    """The protocol's plain-text form: one URL per line, nothing else."""
    lines = [ln.strip() for ln in text.decode("utf-8", "replace").splitlines() if ln.strip()]
    if not lines or not all(re.match(r"https?://\S+$", ln) for ln in lines):
        return None
    return SitemapPage(entries=[Entry(url=ln, source=source, found_on=url) for ln in lines])


_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, recover=True, load_dtd=False
)


def parse_sitemap(
    body: bytes, url: str, source: str, max_bytes: int = MAX_SITEMAP_BYTES,
    language: str | None = None,
) -> SitemapPage:
    """A sitemap index (child sitemaps) or urlset (entries); gzip sniffed by magic bytes.
    `language` is the source's configured hint, used when a Google News entry declares none."""
    if body.startswith(GZIP_MAGIC):
        body = _gunzip(body, url, max_bytes)
    elif len(body) > max_bytes:
        raise SourceError(url, f"sitemap larger than {max_bytes} bytes")
    if not body.lstrip().startswith((b"<", b"\xef\xbb\xbf<")):
        if page := _text_sitemap(body, url, source):
            return page
    try:
        root = etree.fromstring(body.lstrip(), _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise SourceError(url, f"not XML: {exc}") from exc
    kind = _local(root.tag) if root is not None else ""
    if kind == "sitemapindex":
        children = (_http_url(_child_text(n, "loc"), url) for n in root if _local(n.tag) == "sitemap")
        return SitemapPage(sitemaps=_unique(c for c in children if c))
    if kind == "urlset":
        entries = (_url_entry(n, url, source, language) for n in root if _local(n.tag) == "url")
        return SitemapPage(entries=_unique_entries(e for e in entries if e))
    raise SourceError(url, f"not a sitemap (root element {kind or 'missing'!r})")


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _unique_entries(entries: Iterable[Entry]) -> list[Entry]:
    seen: dict[str, Entry] = {}
    for entry in entries:
        seen.setdefault(entry.url, entry)
    return list(seen.values())


# ---------------------------------------------------------------- listing pages

_ASSET_EXT = re.compile(
    r"\.(?:jpe?g|png|gif|webp|svg|ico|bmp|tiff?|css|js|json|xml|rss|atom|pdf|zip|rar|7z|gz|tgz|"
    r"tar|exe|apk|dmg|msi|docx?|xlsx?|pptx?|txt|csv|mp3|mp4|m4a|avi|mov|flv|wmv|m3u8|swf|"
    r"woff2?|ttf|eot)$",
    re.I,
)
_NON_ARTICLE_SEGMENTS = frozenset(
    "tag tags category categories author authors login logout signin signup register search "
    "user users account member about about-us aboutus contact contact-us contactus privacy "
    "terms legal copyright sitemap help faq careers jobs advertise subscribe newsletter feed "
    "rss topics page label channel column list lists".split()
)
# index.html, default.aspx, list_2.shtml, list_25434: section pages and their pagination.
_INDEX_LEAF = re.compile(
    r"^(?:index|default|home|main|list)(?:[_-]\d+)?(?:\.(?:s?html?|php|aspx?|jsp))?$", re.I
)
_DATE_IN_PATH = re.compile(
    r"(?<!\d)(?:19|20)\d{2}[/_-]?(?:0[1-9]|1[0-2])[/_-]?(?:0[1-9]|[12]\d|3[01])"
)
_LONG_NUMBER = re.compile(r"\d{5,}")
_ID_PARAM = re.compile(
    r"(?:^|&)(?:id|aid|p|nid|tid|docid|newsid|articleid|contentid)=\d{3,}(?:&|$)", re.I
)
_MIXED_ID = re.compile(r"^(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{10,}$")
_PAGE_EXT = re.compile(r"\.(?:s?html?|php|aspx?|jsp)$", re.I)
_HAN = re.compile("[\u3400-\u9fff\uf900-\ufaff]")


# The suffix list bundled with tldextract: no download (no URLs), no cache file (no cache_dir).
# Private suffixes count (user1.github.io and user2.github.io are two sites).
_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)
_DEFAULT_PORTS = {"http": 80, "https": 443}


@lru_cache(maxsize=4096)
def site_of(url: str) -> str:
    """The site a URL belongs to, for "same site" decisions (listing links, declared canonicals).

    A name under a public suffix: its registered domain, whatever the port (news.qq.com ->
    qq.com). An IP address, a single-label host like localhost, or a name under no known
    suffix: the host with its port when not the scheme's default (127.0.0.1:8123; IPv6 in
    brackets), because there every port is its own site (test servers, intranet apps).
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    if host and not _is_ip(host):
        name = _TLD(host)
        if name.suffix and name.domain:
            return f"{name.domain}.{name.suffix}"
    shown = f"[{host}]" if ":" in host else host
    port = _port(parts)
    return f"{shown}:{port}" if port is not None else shown


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _port(parts: SplitResult) -> int | None:
    """The explicit port, None when it is the scheme's default or unreadable."""
    try:
        port = parts.port
    except ValueError:
        return None
    return None if port == _DEFAULT_PORTS.get(parts.scheme.lower()) else port


def _text_weight(text: str) -> int:
    """Rough length of a headline: Han characters count double, so 6 Han ~ 12 Latin."""
    return len(text) + len(_HAN.findall(text))


def _slug_words(leaf: str) -> int:
    return len([w for w in re.split(r"[-_]+", _PAGE_EXT.sub("", leaf)) if w])


def _article_strength(url: str) -> int:
    """2 = the URL alone says article, 1 = plausible if the anchor text is headline-sized."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    leaf = segments[-1] if segments else ""
    if _DATE_IN_PATH.search(parts.path) or _ID_PARAM.search(parts.query):
        return 2
    if _LONG_NUMBER.search(leaf) or _MIXED_ID.match(_PAGE_EXT.sub("", leaf)):
        return 2
    if _slug_words(leaf) >= 4:
        return 2
    if _slug_words(leaf) >= 3 or (_PAGE_EXT.search(leaf) and re.search(r"\d{3,}", leaf)):
        return 1
    return 0


def _is_non_article(url: str) -> bool:
    parts = urlsplit(url)
    segments = [s.lower() for s in parts.path.split("/") if s]
    if not segments or _ASSET_EXT.search(parts.path):
        return True
    if any(s in _NON_ARTICLE_SEGMENTS for s in segments):
        return True
    return bool(_INDEX_LEAF.match(segments[-1]))


def looks_like_article(url: str, page_url: str, anchor_text: str) -> bool:
    """The listing heuristic: same site, not navigation or an asset, article-shaped URL."""
    if site_of(url) != site_of(page_url) or _is_non_article(url):
        return False
    strength = _article_strength(url)
    return strength == 2 or (strength == 1 and _text_weight(anchor_text) >= 12)


def _anchors(html: str, base_url: str) -> list[tuple[str, str]]:
    """(absolute URL, anchor text) of every http(s) link, honouring `<base href>`."""
    html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html)  # lxml rejects str with an encoding decl
    if not html.strip():
        return []
    try:
        doc = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    base = base_url
    for href in doc.xpath("//base/@href")[:1]:
        base = urljoin(base_url, href.strip())
    found = []
    for a in doc.iter("a"):
        url = _http_url(a.get("href"), base)
        if url:
            text = " ".join(a.text_content().split()) or (a.get("title") or "").strip()
            found.append((url, text))
    return found


def listing_links(
    html: str,
    base_url: str,
    source: str,
    allow: Sequence[re.Pattern[str]] = (),
    deny: Sequence[re.Pattern[str]] = (),
) -> list[Entry]:
    """Article links of a home or section page, in page order, anchor text as title.

    With `allow` patterns a link must match one of them (re.search on the absolute URL) and
    the heuristic is off; `deny` patterns always exclude.
    """
    titles: dict[str, str] = {}
    for url, text in _anchors(html, base_url):
        if urldefrag(url).url == urldefrag(base_url).url or any(p.search(url) for p in deny):
            continue
        if allow:
            if not any(p.search(url) for p in allow):
                continue
        elif not looks_like_article(url, base_url, text):
            continue
        if not titles.get(url):
            titles[url] = text  # an image link first, its headline link later: keep the words
    return [
        Entry(url=u, source=source, title=t or None, found_on=base_url) for u, t in titles.items()
    ]


def section_links(html: str, base_url: str, limit: int = 30) -> list[str]:
    """Links a listing of depth 2+ follows as more listing pages: same host, under the
    listing page's own path, neither an article nor an asset (sub-sections, next pages)."""
    base = urlsplit(base_url)
    prefix = base.path.rsplit("/", 1)[0] + "/"
    found: list[str] = []
    for url, text in _anchors(html, base_url):
        parts = urlsplit(url)
        if (parts.netloc != base.netloc or not parts.path.startswith(prefix)
                or urldefrag(url).url == urldefrag(base_url).url or _ASSET_EXT.search(parts.path)
                or looks_like_article(url, base_url, text) or url in found):
            continue
        found.append(url)
        if len(found) >= limit:
            break
    return found


# ---------------------------------------------------------------- search feeds


def expand_search(template: str, queries: Sequence[str]) -> list[str]:
    """One search URL per query: `{query}` filled with the URL-encoded query."""
    if "{query}" not in template:
        raise ValueError(f"search template has no {{query}} placeholder: {template!r}")
    urls = (template.replace("{query}", quote_plus(q.strip())) for q in queries if q.strip())
    return _unique(urls)


def search_queries(topics: Iterable[Any]) -> list[str]:
    """One query per alias group (its first term); keep_all topics match everything, so none."""
    queries = []
    for topic in topics:
        if getattr(topic, "keep_all", False):
            continue
        for group in topic.terms:
            if group and group[0].strip():
                queries.append(group[0].strip())
    return _unique(queries)
