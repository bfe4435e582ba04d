"""Dates, authors and credited outlets: from the markup, and from the byline a reader sees.

Chinese pages state the publication date, the reporter and the outlet a story came from in a
byline under the headline (`2024年09月20日 13:47 来源:界面新闻 作者:张三`) or in a credit line
(`（来源：新华社）`), far more often than in <meta>. This module finds both; the dates in them
are read by `crawler.text.dates.parse_date`, the one date parser feeds and sitemaps use too.

`junklines` uses `has_date` to recognise bylines it drops from the main text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

import lxml.html

# BEIJING, has_date and has_relative_date are re-exported: extract and junklines reach them
# through this module.
from crawler.text.dates import BEIJING as BEIJING
from crawler.text.dates import When, parse_date, plausible, relative_date
from crawler.text.dates import has_date as has_date
from crawler.text.dates import has_relative_date as has_relative_date
from crawler.text.normalise import CJK_SENTENCE_RE, squash
from crawler.text.urls import date_in_path

# -- dates --------------------------------------------------------------------------------------

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


def choose_date(meta: list[str], byline: When | None, url: str, local: tzinfo | None,
                relative: When | None = None) -> str | None:
    """Markup first; the byline when markup is silent or gives the same day without a time;
    then a date in the URL path, unless the byline's relative date ("3小时前", `relative_in`)
    falls on that day or the path has none. Never a bare year: nothing stated means None."""
    stated = _first_date(meta)
    if stated and (stated.clock or not byline or byline.day != stated.day or not byline.clock):
        return stated.iso(local)
    if byline:
        return byline.iso(local)
    day = date_in_path(url)
    day = day if day and plausible(day) else None
    if relative and (day is None or relative.day == day):
        return relative.iso(local)
    return day.isoformat() if day else None


def relative_in(window: tuple[str, ...], fetched_at: str | None, local: tzinfo | None) -> When | None:
    """A relative date in the byline ("3小时前", "昨天 14:30", "2 hours ago"), as of the fetch."""
    if not window or not fetched_at:
        return None
    try:
        at = datetime.fromisoformat(fetched_at)
    except ValueError:
        return None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return next((w for line in _publication_lines(list(window))
                 if (w := relative_date(line, at, local))), None)


# other <meta> names that state a publication date (`article_date_original`, `pub_time`...);
# modification and expiry dates are not publication dates
_META_DATE_NAME_RE = re.compile(
    r"(?=.*(?:publi|pub\b|pub[_:-]|release|issued|original|creat))(?=.*(?:date|time))"
)
_NOT_PUBLISHED_RE = re.compile(r"modif|updat|expir|revis|edit")
# the first <time datetime> after the headline that is not in a link, a list or a sidebar
_TIME_AFTER_H1 = (
    "//h1[1]/following::time[@datetime][not(ancestor::a or ancestor::li or ancestor::nav or "
    "ancestor::aside or ancestor::footer)][1]/@datetime"
)


def meta_dates(tree: lxml.html.HtmlElement, props: dict[str, str], ld: list[dict]) -> list[str]:
    """Publication dates the markup states, best first: <meta>, JSON-LD, <time> marked as the
    publication date, other <meta> names that say so, the first <time> under the headline."""
    found = [props[k] for k in _META_DATE_KEYS if k in props]
    found += [str(v) for v in jsonld_values(ld, ("datePublished", "dateCreated")) if v]
    found += tree.xpath(
        "//time[@itemprop='datePublished' or @pubdate or contains(@class, 'publish')]/@datetime"
        "|//article//time/@datetime|//*[@itemprop='datePublished']/@content"
    )
    found += [
        value
        for key, value in props.items()
        if _META_DATE_NAME_RE.search(key) and not _NOT_PUBLISHED_RE.search(key)
    ]
    found += tree.xpath(_TIME_AFTER_H1)
    return [str(t) for t in found if str(t).strip()]


def jsonld_objects(tree: lxml.html.HtmlElement) -> list[dict[str, object]]:
    """Every object in the page's JSON-LD blocks, nested ones included, in document order."""
    objects: list[dict[str, object]] = []
    for script in tree.xpath("//script[@type='application/ld+json']"):
        data = _load_json(script.text or "")
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                objects.append(item)
                stack.extend(v for v in item.values() if isinstance(v, list | dict))
    return objects


_JSON_WRAPPER_RE = re.compile(r"^\s*(?://\s*)?(?:<!\[CDATA\[|<!--)|(?://\s*)?(?:\]\]>|-->)\s*$")
_TRAILING_COMMA_RE = re.compile(r",\s*([}\]])")


def _load_json(text: str) -> object:
    """A JSON-LD block as CMSes write it: inside <![CDATA[ ]]> or <!-- -->, with raw control
    characters in strings or a trailing comma; None when it cannot be read."""
    text = _JSON_WRAPPER_RE.sub("", text)
    for attempt in (text, _TRAILING_COMMA_RE.sub(r"\1", text)):
        try:
            return json.loads(attempt, strict=False)
        except (ValueError, RecursionError):  # RecursionError: [[[[... nested past the stack
            continue
    return None


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


# a date that is not the publication date: an update, or a "today" widget in the page header
_NOT_PUBLISHED_LINE_RE = re.compile(
    r"^\W*(?:last\s+)?(?:updated|modified|edited)\b|(?:更新|修改|最后修改|最後修改)(?:时间|時間|日期|于|於)?\s*[:：]|"
    r"current\s*date|today\s+is|今天是|今日是|现在是|現在是|农历|農曆|星期[一二三四五六日天]\s*$",
    re.I,
)


@dataclass(frozen=True)
class Byline:
    """What the byline says: the publication date, the outlet credited, and the lines it was
    read from (where authors are looked for)."""

    date: When | None = None
    source: str | None = None
    window: tuple[str, ...] = ()


def find_byline(
    lines: list[str], title: str, is_headline_link: Callable[[str], bool] = lambda _: False
) -> Byline:
    """Date and credited outlet from the lines around the headline, as a reader sees them
    (`2024年09月20日 13:47 来源:界面新闻 作者:张三`); else from the first short line with a
    labelled date (`发布时间：…`) anywhere on the page. Update dates, "today" widgets and
    dated headline links (`另一条新闻 2024-09-18` in a list under a short text) are passed
    over."""
    window = [line for line in _byline_window(lines, title) if not is_headline_link(line)]
    when = _first_date(_publication_lines(window))
    if when is None:
        labelled = [line for line in lines if _is_dated_label_line(line)]
        when = _first_date(_publication_lines(labelled))
        window = window or labelled[:1]
    credits = [line for line in lines if _CREDIT_LINE_RE.search(line)]
    source = next((s for s in map(_source_in, window + credits) if s), None)
    return Byline(when, source, tuple(window))


def _publication_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if not _NOT_PUBLISHED_LINE_RE.search(line)]


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


def _source_in(line: str) -> str | None:
    m = _SOURCE_RE.search(line)
    if not m:
        return None
    name = _LABEL_STOP_RE.sub("", m.group(1)).strip()
    return name if len(name) >= 2 and name not in _NOT_A_SOURCE else None
