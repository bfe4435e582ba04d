"""What a page's markup says about it: headline candidates, description, site name, canonical
URL, declared language, JSON-LD types and authors, publication dates, and the names of the
publication itself (which are never an author). Read from the parsed page before it is
cleaned; pure functions over lxml trees, shared by extract and its helpers."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import lxml.html

from crawler.extract import bylines
from crawler.text.normalise import HAN, clean_spaces, squash, strip_pinyin

MAX_TITLE_CHARS = 400  # default of [crawl] max_title_chars: a longer headline is junk


class PageMeta:
    """What the markup says: titles, description, site name, canonical URL, language, dates."""

    def __init__(self, tree: lxml.html.HtmlElement, url: str, max_title: int = MAX_TITLE_CHARS) -> None:
        props = meta_props(tree)
        self.max_title = max_title
        self.og_title = title_text(props.get("og:title") or props.get("twitter:title"), max_title)
        self.title_tag = title_text(tree.findtext(".//title"), max_title)
        self.h1s = [t for t in (title_text(h.text_content(), max_title) for h in tree.iter("h1")) if t]
        self.description = tidy(props.get("description") or props.get("og:description"))
        self.site_name = tidy(props.get("og:site_name"))
        self.canonical = canonical(tree, url, props.get("og:url"))
        self.lang = declared_lang(tree, props)
        ld = bylines.jsonld_objects(tree)
        self.types = bylines.jsonld_types(ld)
        self.og_type = props.get("og:type")
        self.props = props
        self.ld_authors = bylines.jsonld_values(ld, ("author", "creator"))
        self.outlets = outlets(props, ld, self.title_tag, self.site_name)
        self.dates = bylines.meta_dates(tree, props, ld)
        self.title_candidates = [t for t in (self.og_title, self.title_tag, *self.h1s) if t]


def meta_props(tree: lxml.html.HtmlElement) -> dict[str, str]:
    """<meta> name/property/itemprop -> content, lower-cased keys, first value wins."""
    props: dict[str, str] = {}
    for el in tree.iter("meta"):
        key = el.get("property") or el.get("name") or el.get("itemprop") or el.get("http-equiv")
        content = el.get("content")
        for name in (key or "").lower().split() if content and content.strip() else ():
            props.setdefault(name, content.strip())  # property="dc:creator og:author" names two
    return props


def tidy(value: str | None) -> str | None:
    if not value:
        return None
    value = clean_spaces(strip_pinyin(value)).replace("\n", " ")
    return value or None


def title_text(value: str | None, limit: int = MAX_TITLE_CHARS) -> str | None:
    """A headline candidate, tidied; None when empty or longer than `limit` characters (the
    next candidate is used: og:title, <title>, <h1>, the text's first line)."""
    if not value or len(value) > 4 * limit:  # not worth tidying
        return None
    value = tidy(value)
    return value if value and len(value) <= limit else None


def canonical(tree: lxml.html.HtmlElement, url: str, og_url: str | None) -> str | None:
    hrefs = tree.xpath(
        "//link[contains(concat(' ', normalize-space(@rel), ' '), ' canonical ')]/@href"
    )
    for href in [*hrefs, og_url]:
        if href and href.strip():
            try:
                absolute = urljoin(url, href.strip())
                scheme = urlsplit(absolute).scheme
            except ValueError:  # Python refuses it: `https://[site_url]/...`, a template's placeholder
                continue
            if scheme in ("http", "https"):
                return absolute
    return None


def declared_lang(tree: lxml.html.HtmlElement, props: dict[str, str]) -> str | None:
    for value in (
        tree.get("lang"),
        tree.get("xml:lang"),
        props.get("content-language"),
        props.get("og:locale"),
        props.get("language"),
    ):
        if value and value.strip():
            return re.split(r"[-_]", value.strip().lower())[0] or None
    return None


def outlets(
    props: dict[str, str], ld: list[dict[str, object]], title: str | None, site: str | None
) -> set[str]:
    """Names of the publication: site name, application name, JSON-LD publisher, and the
    <title> segments beside the headline (`…_科技频道_星河资讯网`)."""
    names = {site or "", props.get("application-name", ""), props.get("twitter:site", "")}
    for publisher in bylines.jsonld_values(ld, ("publisher",)):
        name = publisher.get("name") if isinstance(publisher, dict) else publisher
        names.add(name if isinstance(name, str) else "")
    parts = [p.strip() for p in TITLE_SEP_RE.split(title or "")[::2] if p.strip()]
    # a Chinese portal names itself in the <title> (`…_科技_网易新闻`); a blog's title may
    # end with its author's name, so Latin segments are no evidence of an outlet
    names.update(p for p in sorted(parts, key=len)[:-1] if re.search(f"[{HAN}]", p))
    return {n.strip().lstrip("@") for n in names if n and n.strip()}


TITLE_SEP_RE = re.compile(
    rf"(\s+[-|–—·]\s+|\s*[_｜|]\s*|\s*--+\s*|\s*——\s*|\s*::\s*|(?<=[{HAN}？！）》」])-(?=[{HAN}]))"
)


def headline(meta: PageMeta, extracted_title: Callable[[], str | None], text: str) -> str:
    """The headline: og:title, else <title>, else the extractor's title (asked for only
    then: it costs a metadata pass), without " - Site" / "_频道_网站" suffixes; an <h1> wins
    when it is most of that (h1s carry no suffix, but can be a logo)."""
    base = meta.og_title or meta.title_tag or title_text(extracted_title(), meta.max_title)
    if not base:
        return meta.h1s[0] if meta.h1s else text.split("\n", 1)[0][:80]
    stripped = strip_site_suffix(base, meta.site_name)
    for h1 in sorted(meta.h1s, key=len, reverse=True):
        if squash(h1) in squash(base) and len(h1) >= 0.6 * len(stripped):
            return h1
    return stripped


def strip_site_suffix(title: str, site_name: str | None) -> str:
    """Drop trailing segments that name the site or are shorter than the first (a channel or
    site name), and a leading segment naming the site."""
    tokens = TITLE_SEP_RE.split(title)
    parts = [p.strip() for p in tokens[::2]]
    if len(parts) < 2:
        return title

    def is_site(part: str) -> bool:
        return bool(site_name and part) and (part in site_name or site_name in part)

    keep = len(parts)
    while keep > 1 and (
        is_site(parts[keep - 1])
        or len(parts[keep - 1]) < len(parts[0])
        and len(parts[keep - 1]) <= 30
    ):
        keep -= 1
    start = 1 if keep > 1 and is_site(parts[0]) else 0
    return "".join(tokens[2 * start : 2 * keep - 1]).strip() or title
