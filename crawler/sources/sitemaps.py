"""Sitemaps: a sitemap index (child sitemaps) or urlset (plain or Google News) -> `Entry`
records; robots.txt `Sitemap:` lines for discovery.  Gzip is sniffed by its magic bytes and
capped, XML parsed without entities or network access.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from crawler.errors import SourceError
from crawler.records import Entry, SkipReason
from crawler.sources.feeds import is_chinese_source
from crawler.text.charset import xml_bytes
from crawler.text.dates import stated_iso
from crawler.text.urls import http_url

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # decompressed; a gzip bomb stops here
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class SitemapPage:
    """One parsed sitemap file: child sitemaps to fetch next, and article entries."""

    sitemaps: list[str] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)


def default_sitemap_urls(base_url: str) -> list[str]:
    """Where to look when robots.txt names no sitemap."""
    parts = urlsplit(base_url)
    return [f"{parts.scheme}://{parts.netloc}/sitemap.xml"]


def robots_sitemaps(robots_txt: str, base_url: str) -> list[str]:
    """The `Sitemap:` lines of a robots.txt, absolute, deduplicated, in file order."""
    found: dict[str, None] = {}  # ordered and O(1): robots.txt files list 100,000 sitemaps
    for line in robots_txt.splitlines():
        key, sep, value = line.partition(":")
        if not sep or key.strip().lower() != "sitemap":
            continue
        value = re.split(r"\s#", value, maxsplit=1)[0].strip()
        if url := http_url(value, base_url):
            found.setdefault(url)
    return list(found)


def _gunzip(body: bytes, url: str, limit: int) -> bytes:
    """Decompress at most `limit` bytes: a gzip bomb becomes a SourceError, not an OOM."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as fh:
            data = fh.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(url, f"bad gzip: {exc}", SkipReason.BAD_SITEMAP) from exc
    if len(data) > limit:
        raise SourceError(url, f"sitemap larger than {limit} bytes decompressed", SkipReason.BAD_SITEMAP)
    return data


def _local(tag: Any) -> str:
    """Element name without its namespace or prefix: old sitemaps have none, some have odd
    ones, and lxml's recovering parser keeps names QName refuses (`:`, `a:`)."""
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


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
    loc = http_url(_child_text(node, "loc"), url)
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
    lines = [ln.strip() for ln in text.decode("utf-8-sig", "replace").splitlines() if ln.strip()]
    if not lines or not all(re.match(r"https?://\S+$", ln) for ln in lines):
        return None
    return SitemapPage(entries=[Entry(url=ln, source=source, found_on=url) for ln in lines])


_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, recover=True, load_dtd=False
)
# what the sitemap is read as once decoded here (xml_bytes): UTF-8, whatever it declares
_UTF8_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, recover=True, load_dtd=False,
    encoding="utf-8",
)
# an `&` that starts no entity or character reference: CMS sitemaps write query strings
# unescaped (`?id=1&catid=2`), and libxml2 recovering drops the `&` and what it takes for a
# name, which corrupts that URL (and later `&amp;`s); a browser shows it as `&`
_BARE_AMP = re.compile(rb"&(?!(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z_][\w.-]*);)")


def _readable(body: bytes) -> tuple[bytes, Any]:
    """The sitemap's bytes for lxml, and the parser to read them with: decoded with the
    charset `xml_bytes` chooses (labels widened as browsers widen them: a GB2312 sitemap
    holding a GBK-only character would otherwise lose every entry after it) and re-encoded
    as UTF-8, bare `&`s escaped; a UTF-16 one with its byte-order mark as it is."""
    data, charset = xml_bytes(body)
    if charset is None:
        return data, _XML_PARSER
    if charset != "utf-8":
        data = data.decode(charset).encode("utf-8")
    return _BARE_AMP.sub(b"&amp;", data), _UTF8_PARSER


def parse_sitemap(
    body: bytes, url: str, source: str, max_bytes: int = MAX_SITEMAP_BYTES,
    language: str | None = None,
) -> SitemapPage:
    """A sitemap index (child sitemaps) or urlset (entries); gzip sniffed by magic bytes.
    `language` is the source's configured hint, used when a Google News entry declares none."""
    if body.startswith(GZIP_MAGIC):
        body = _gunzip(body, url, max_bytes)
    elif len(body) > max_bytes:
        raise SourceError(url, f"sitemap larger than {max_bytes} bytes", SkipReason.BAD_SITEMAP)
    if not body.lstrip().startswith((b"<", b"\xef\xbb\xbf<")):
        if page := _text_sitemap(body, url, source):
            return page
    try:
        root = etree.fromstring(*_readable(body.lstrip()))
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise SourceError(url, f"not XML: {exc}", SkipReason.BAD_SITEMAP) from exc
    kind = _local(root.tag) if root is not None else ""
    if kind == "sitemapindex":
        return SitemapPage(sitemaps=_children(root, url))
    if kind == "urlset":
        entries = (_url_entry(n, url, source, language) for n in root if _local(n.tag) == "url")
        return SitemapPage(entries=_newest_first(_unique_entries(e for e in entries if e)))
    raise SourceError(url, f"not a sitemap (root element {kind or 'missing'!r})", SkipReason.BAD_SITEMAP)


def _children(root: Any, url: str) -> list[str]:
    """The child sitemaps of an index, newest first where it dates them (undated ones keep
    their order, after the dated): the crawl's sitemap budget goes to recent ones."""
    dated: dict[str, str] = {}
    for node in root:
        if _local(node.tag) == "sitemap" and (child := http_url(_child_text(node, "loc"), url)):
            dated.setdefault(child, stated_iso(_child_text(node, "lastmod"), False) or "")
    return sorted(dated, key=lambda child: dated[child], reverse=True)


def _newest_first(entries: list[Entry]) -> list[Entry]:
    """Entries by stated date, newest first (a stable sort: undated ones keep their order)."""
    return sorted(entries, key=lambda e: e.published or "", reverse=True)


def _unique_entries(entries: Iterable[Entry]) -> list[Entry]:
    seen: dict[str, Entry] = {}
    for entry in entries:
        seen.setdefault(entry.url, entry)
    return list(seen.values())
