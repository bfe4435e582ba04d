"""Dates, authors and credited outlets: from the markup, and from the byline a reader sees.

Chinese pages state the publication date, the reporter and the outlet a story came from in a
byline under the headline (`2024年09月20日 13:47 来源:界面新闻 作者:张三`) or in a credit line
(`（来源：新华社）`), far more often than in <meta>. This module finds both; the dates in them
are read by `crawler.dates.parse_date`, the one date parser feeds and sitemaps use too.

`junklines` uses `has_date` to recognise bylines it drops from the main text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, tzinfo
from urllib.parse import urlsplit

import lxml.html

# BEIJING and has_date are re-exported: extract and junklines reach them through this module.
from crawler.dates import BEIJING as BEIJING
from crawler.dates import When, parse_date, plausible
from crawler.dates import has_date as has_date
from crawler.textnorm import CJK_SENTENCE_RE, HAN, squash

# -- dates --------------------------------------------------------------------------------------

_URL_DATE_RE = re.compile(r"(?<!\d)(20\d{2})[/_-]?(0[1-9]|1[0-2])[/_-]?(0[1-9]|[12]\d|3[01])(?!\d)")
_META_DATE_KEYS = (
    "article:published_time",
    "og:article:published_time",
    "published_time",
    "datepublished",
    "publishdate",
    "publish_date",
    "pubdate",
    "publication_date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.created",
    "date",
    "sailthru.date",
    "parsely-pub-date",
    "weibo: article:create_at",
    "og:release_date",
    "article.published",
    "originalpublicationdate",
)


def _first_date(lines: list[str]) -> When | None:
    return next((w for w in map(parse_date, lines) if w), None)


def choose_date(meta: list[str], byline: When | None, url: str, local: tzinfo | None) -> str | None:
    """Markup first; the byline when markup is silent or gives the same day without a time;
    then a date in the URL path. Never a bare year: nothing stated means None."""
    stated = _first_date(meta)
    if stated and (stated.clock or not byline or byline.day != stated.day or not byline.clock):
        return stated.iso(local)
    if byline:
        return byline.iso(local)
    m = _URL_DATE_RE.search(urlsplit(url).path)
    if m:
        try:
            day = date(*map(int, m.groups()))
        except ValueError:
            return None
        return day.isoformat() if plausible(day) else None
    return None


def meta_dates(tree: lxml.html.HtmlElement, props: dict[str, str], ld: list[dict]) -> list[str]:
    """Publication dates the markup states, best first: <meta>, JSON-LD, <time>."""
    found = [props[k] for k in _META_DATE_KEYS if k in props]
    found += [str(v) for v in jsonld_values(ld, ("datePublished", "dateCreated")) if v]
    times = tree.xpath(
        "//time[@itemprop='datePublished' or @pubdate or contains(@class, 'publish')]/@datetime"
        "|//article//time/@datetime|//*[@itemprop='datePublished']/@content"
    )
    return found + [t for t in times if t.strip()]


def jsonld_objects(tree: lxml.html.HtmlElement) -> list[dict[str, object]]:
    """Every object in the page's JSON-LD blocks, nested ones included, in document order."""
    objects: list[dict[str, object]] = []
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except (ValueError, RecursionError):  # RecursionError: [[[[... nested past the stack
            continue
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                objects.append(item)
                stack.extend(v for v in item.values() if isinstance(v, list | dict))
    return objects


def jsonld_values(ld: list[dict[str, object]], keys: tuple[str, ...]) -> list[object]:
    """Values of `keys` in JSON-LD objects, in key order then document order."""
    return [obj[k] for k in keys for obj in ld if obj.get(k)]


def jsonld_types(ld: list[dict[str, object]]) -> frozenset[str]:
    """The @type values of the page's JSON-LD objects, lower case."""
    found: set[str] = set()
    for obj in ld:
        value = obj.get("@type")
        for t in value if isinstance(value, list) else [value]:
            if isinstance(t, str):
                found.add(t.rsplit("/", 1)[-1].lower())
    return frozenset(found)


# -- authors and bylines ------------------------------------------------------------------------

_NAME = rf"[{HAN}·]{{2,5}}(?:[、，,][{HAN}·]{{2,5}})*"
_AUTHOR_RE = re.compile(
    rf"(?:作\s*者|记\s*者|記\s*者|撰\s*文|编\s*译|編\s*譯)\s*[:：|｜/\s]\s*({_NAME})"
    rf"|(?:记者|記者)([{HAN}]{{2,4}}?)(?:报道|報導|摄|攝)"
)
_SOURCE_RE = re.compile(
    r"(?:来源|來源|稿源|出处|出處)\s*[:：]\s*([^\s|｜/()（）【】\[\]<>,，。;；]{2,30})"
)
# Labels of byline fields (source, author, editor, time, views, ...), in both scripts.
BYLINE_LABELS = (
    "来源|來源|作者|记者|記者|编辑|編輯|责编|責編|时间|時間|日期|发布|發佈|發布|点击|點擊|"
    "浏览|瀏覽|阅读|閱讀|人气|人氣|报道|報導|摄影|攝影|字号|字號"
)
_LABEL_STOP_RE = re.compile(f"(?:{BYLINE_LABELS}).*$")
_NOT_A_SOURCE = frozenset(
    "本站 本网 本網 网络 網絡 網路 互联网 互聯網 网友 網友 原创 原創 综合 綜合 未知".split()
)
# a credit line outside the byline: `文章来源：新华社` on its own, or `（来源：新华社）` closing a paragraph
_CREDIT_LINE_RE = re.compile(
    r"^[(（【\[]?\s*(?:文章|本文|信息|新闻|新聞)?(?:来源|來源|稿源)\s*[:：]|[(（](?:来源|來源)\s*[:：][^)）]*[)）]$"
)
# a label that labels the date right after it (`发布时间：2024-…`, `Published: Sept. 20, 2024`);
# a headline that merely holds 发布 (`多地发布算力规划 2024-09-11`) is no byline
_DATE_LABEL_RE = re.compile(
    r"(?:(?:发布|發布|發佈|发表|發表)(?:时间|時間|日期|于|於)?|时间|時間|日期|(?:published|posted)"
    r"(?:\s+on)?)\s*[:：]?\s*(?=(?:19|20)\d\d|\d{1,2}\s*[-/.月]|[a-z]{3,9}\.?\s+\d)",
    re.I,
)
_AUTHOR_META_KEYS = ("author", "article:author", "dc.creator", "byl", "sailthru.author")


@dataclass(frozen=True)
class Byline:
    """What the byline says: the publication date, the author, the outlet credited."""

    date: When | None = None
    author: str | None = None
    source: str | None = None


def find_byline(lines: list[str], title: str) -> Byline:
    """Date, author and credited outlet from the lines around the headline, as a reader sees
    them (`2024年09月20日 13:47 来源:界面新闻 作者:张三`); else from the first short line with
    a labelled date (`发布时间：…`) anywhere on the page."""
    window = _byline_window(lines, title)
    when = _first_date(window)
    if when is None:
        labelled = [line for line in lines if _is_dated_label_line(line)]
        when = _first_date(labelled)
        window = window or labelled[:1]
    author = next((a for a in map(_author_in, window) if a), None)
    credits = [line for line in lines if _CREDIT_LINE_RE.search(line)]
    source = next((s for s in map(_source_in, window + credits) if s), None)
    return Byline(when, author, source)


def _is_dated_label_line(line: str) -> bool:
    return (
        len(line) < 120 and bool(_DATE_LABEL_RE.search(line)) and not CJK_SENTENCE_RE.search(line)
    )


def _byline_window(lines: list[str], title: str) -> list[str]:
    """The short lines right after (then right before) the first line carrying the headline:
    where a reader finds the byline. Stops at the first paragraph of prose, so that a short
    article's window never reaches a sidebar's dated links."""
    target = squash(title)
    for i, line in enumerate(lines):
        squashed = squash(line)
        if target and (
            target[:12] in squashed or squashed in target and len(squashed) >= 0.6 * len(target)
        ):
            after: list[str] = []
            for following in lines[i + 1 : i + 6]:
                if len(following) > 100 or CJK_SENTENCE_RE.search(following):
                    break
                after.append(following)
            before = [prev for prev in lines[max(0, i - 2) : i] if len(prev) <= 100]
            rest = line.replace(title, " ") if title in line else ""
            return [rest, *after, *reversed(before)]
    return []


def _author_in(line: str) -> str | None:
    m = _AUTHOR_RE.search(line)
    return clean_author(m.group(1) or m.group(2)) if m else None


def _source_in(line: str) -> str | None:
    m = _SOURCE_RE.search(line)
    if not m:
        return None
    name = _LABEL_STOP_RE.sub("", m.group(1)).strip()
    return name if len(name) >= 2 and name not in _NOT_A_SOURCE else None


def clean_author(name: str | None) -> str | None:
    """`name` without a leading `作者:`/`By` label or trailing labels; None unless it looks
    like a name (2-60 characters, not a URL)."""
    if not name:
        return None
    name = re.sub(r"^(?:作者|记者|記者|By)\s*[:：|｜]?\s*", "", name.strip(), flags=re.I)
    name = _LABEL_STOP_RE.sub("", name).strip(" ,，、|")
    return name if 2 <= len(name) <= 60 and not name.startswith("http") else None


def meta_author(props: dict[str, str], ld: list[dict[str, object]]) -> str | None:
    """The author the markup states: <meta> first, then JSON-LD `author` (names joined)."""
    for key in _AUTHOR_META_KEYS:
        name = clean_author(props.get(key))
        if name:
            return name
    for value in jsonld_values(ld, ("author",)):
        items = value if isinstance(value, list) else [value]
        names = [i.get("name") if isinstance(i, dict) else i for i in items]
        name = clean_author(", ".join(n.strip() for n in names if isinstance(n, str) and n.strip()))
        if name:
            return name
    return None
