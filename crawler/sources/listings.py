"""Listing pages: the article links of a home or section page (your `allow` patterns, or a
heuristic over URL shape and anchor text), and the sub-section links a deeper listing follows.
"""

from __future__ import annotations

import re
from urllib.parse import urldefrag, urljoin, urlsplit

from crawler.records import Entry
from crawler.sources.rules import LinkRules
from crawler.text.html import parse_html
from crawler.text.urls import DATE_IN_PATH_RE, http_url, site_of

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
_LONG_NUMBER = re.compile(r"\d{5,}")
_ID_PARAM = re.compile(
    r"(?:^|&)(?:id|aid|p|nid|tid|docid|newsid|articleid|contentid)=\d{3,}(?:&|$)", re.I
)
_MIXED_ID = re.compile(r"^(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{10,}$")
_PAGE_EXT = re.compile(r"\.(?:s?html?|php|aspx?|jsp)$", re.I)
_HAN = re.compile("[\u3400-\u9fff\uf900-\ufaff]")


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
    if DATE_IN_PATH_RE.search(parts.path) or _ID_PARAM.search(parts.query):
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
    if _INDEX_LEAF.match(segments[-1]):  # a section's index, unless its folder is a dated story
        return not (len(segments) >= 2 and DATE_IN_PATH_RE.search(parts.path)
                    and _slug_words(segments[-2]) >= 2)
    return False


def looks_like_article(url: str, page_url: str, anchor_text: str) -> bool:
    """The listing heuristic: same site, not navigation or an asset, article-shaped URL."""
    if site_of(url) != site_of(page_url) or _is_non_article(url):
        return False
    strength = _article_strength(url)
    return strength == 2 or (strength == 1 and _text_weight(anchor_text) >= 12)


def _anchors(html: str, base_url: str) -> list[tuple[str, str]]:
    """(absolute URL, anchor text) of every http(s) link, honouring `<base href>`."""
    doc = parse_html(html)
    if doc is None:
        return []
    base = base_url
    for href in doc.xpath("//base/@href")[:1]:
        try:
            base = urljoin(base_url, href.strip())
        except ValueError:  # a <base> Python refuses (`http://[host]/`): the page's own URL
            base = base_url
    found = []
    for a in doc.iter("a"):
        url = http_url(a.get("href"), base)
        if url:
            text = " ".join(a.text_content().split()) or (a.get("title") or "").strip()
            found.append((url, text))
    return found


NO_RULES = LinkRules()


def listing_links(html: str, base_url: str, source: str,
                  rules: LinkRules = NO_RULES) -> list[Entry]:
    """Article links of a home or section page, in page order, anchor text as title.

    With `allow` patterns a link must match one of them (re.search on the absolute URL) and
    the heuristic is off; `deny` patterns always exclude.
    """
    titles: dict[str, str] = {}
    for url, text in _anchors(html, base_url):
        if urldefrag(url).url == urldefrag(base_url).url or rules.denies(url):
            continue
        if rules.allow:
            if not rules.allows(url):
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
