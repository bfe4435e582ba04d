"""Page -> Article: main text and metadata of one article page, or NotAnArticle(reason).

trafilatura finds the main text; around it this module does what it does not do well on the
Chinese web (see FIELD-NOTES):
- before: layout tables and page-wide <form> wrappers become plain blocks, so text in <td> on old
  portals comes out as paragraphs and not as one " | "-joined line of cells;
- after: a line-level pass drops the junk it keeps (disclaimers and what follows, ICP and
  copyright lines, keyword-spam headers, share/print tool lines, bylines, related-link lists,
  "|"-separated navigation) and the pinyin content farms inject;
- metadata is read here, not from trafilatura: title (h1 / og:title over a suffixed <title>),
  dates from markup then from the byline under the title, never from a copyright year
  (htmldate, even non-extensive, picks dates out of "hot news" sidebars).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from datetime import time as dtime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

import lxml.html
import trafilatura
from lxml import etree
from trafilatura.settings import Document

from crawler.records import Article, Page
from crawler.textnorm import HAN, clean_spaces, detect_script, strip_pinyin

MIN_HAN_CHARS = 200  # a Chinese article has at least this many Han characters of main text
MIN_WORDS = 80  # an article in another language has at least this many words
_LIST_LINK_SHARE = 0.5  # main text made mostly of the page's link texts: a list page


class NotAnArticle(Exception):
    """The page is not an article; `reason` is one of empty, too-short, list-page, error-page."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def extract(page: Page) -> Article:
    """Main text and metadata of `page`; raises NotAnArticle for pages that are not articles."""
    if page.status >= 400:
        raise NotAnArticle("error-page", f"status {page.status}")
    tree = _parse(page.html)
    meta = _Meta(tree, page.url)
    _prepare(tree)
    lines = _visible_lines(tree)
    doc = _trafilatura(tree, page.url, precision=True)
    text = _clean_text(doc.text if doc else "", meta.title_candidates)
    if not _long_enough(text):  # precision missed it: a recall pass, cleaned the same way
        recall = _trafilatura(tree, page.url, precision=False)
        text = max(text, _clean_text(recall.text if recall else "", meta.title_candidates), key=len)
    _refuse(tree, meta, lines, text)
    return _build(page, meta, lines, text, doc)


# -- parsing and preparing the tree ------------------------------------------------------------

_CONTAINER_TAGS = tuple(
    "div td th article section body center blockquote font span main form dd li".split()
)
_INLINE_TAGS = frozenset(
    "a abbr b big cite code em font i img kbd mark q s small span strong sub sup time u".split()
)
_HAN_RE = re.compile(f"[{HAN}]+")
_KANA_RE = re.compile("[\u3040-\u30ff]+")
_HANGUL_RE = re.compile("[\uac00-\ud7af]+")
_NON_LETTER_RE = re.compile(r"[\W\d_]+")
_SAMPLE = 20000  # characters of main text measured for length and language
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")
_BLOCK_TAGS = frozenset(
    "address article aside blockquote body br center dd details div dl dt fieldset figcaption "
    "figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody "
    "td tfoot th thead title tr ul".split()
)


def _parse(html: str) -> lxml.html.HtmlElement:
    html = _XML_DECL_RE.sub("", html.replace("\x00", ""))
    if not html.strip():
        raise NotAnArticle("empty", "no HTML")
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError) as e:
        raise NotAnArticle("empty", f"unparsable HTML: {e}") from None


def _prepare(tree: lxml.html.HtmlElement) -> None:
    """Drop what is never text; turn layout tables and page-wide forms into plain blocks."""
    for el in tree.xpath(
        "//script[not(@type='application/ld+json')]|//style|//noscript|//template|//comment()"
    ):
        el.drop_tree()
    total = len(tree.text_content())
    for form in tree.iter("form"):
        if total and len(form.text_content()) > total / 2:
            form.tag = "div"  # ASP.NET wraps the whole body in one <form>
    for table in tree.xpath("//table"):
        if _is_layout_table(table):
            for el in table.xpath(
                ".|./tbody|./thead|./tfoot|./tr|./*/tr|./tr/td|./tr/th|./*/tr/td|./*/tr/th"
            ):
                el.tag = "div"
    for el in list(tree.iter(*_CONTAINER_TAGS)):
        if _has_loose_text(el):
            _paragraphise(el)


def _is_layout_table(table: lxml.html.HtmlElement) -> bool:
    """A table used for page layout: it holds another table or a cell of running text."""
    if table.find(".//table") is not None:
        return True
    cells = table.xpath("./tr/td|./*/tr/td")
    return any(len(cell.text_content().strip()) > 150 for cell in cells)


def _has_loose_text(el: lxml.html.HtmlElement) -> bool:
    """Running text sits directly in `el` (not in <p>): in its text and tails, or in inline
    children (links aside: a <br>-separated column of links is navigation) between <br>s."""
    loose = len((el.text or "").strip()) + sum(len((c.tail or "").strip()) for c in el)
    if loose >= 100:
        return True
    if el.find("br") is None:
        return False
    inline = sum(
        len(c.text_content().strip()) for c in el if c.tag in _INLINE_TAGS and c.tag != "a"
    )
    return loose + inline >= 100


def _paragraphise(el: lxml.html.HtmlElement) -> None:
    """Wrap the loose text of `el` into <p> elements, one per <br>-separated run: portals write
    `text<br><br>text` straight into a <div>/<td>, which trafilatura's precision mode skips."""
    pieces: list[object] = [el.text]
    for child in list(el):
        pieces += [child, child.tail]
        child.tail = None
        el.remove(child)
    el.text = None
    run: list[object] = []
    for piece in pieces:
        if isinstance(piece, str):
            run.append(piece)
        elif piece is None:
            continue
        elif piece.tag in _INLINE_TAGS:
            run.append(piece)
        else:
            _flush_run(el, run)
            if piece.tag != "br":
                el.append(piece)
    _flush_run(el, run)


def _flush_run(el: lxml.html.HtmlElement, run: list[object]) -> None:
    if any(isinstance(x, str) and x.strip() or not isinstance(x, str) for x in run):
        para = el.makeelement("p", {})
        el.append(para)
        last = None
        for piece in run:
            if not isinstance(piece, str):
                para.append(piece)
                last = piece
            elif last is None:
                para.text = (para.text or "") + piece
            else:
                last.tail = (last.tail or "") + piece
    run.clear()


def _visible_lines(tree: lxml.html.HtmlElement) -> list[str]:
    """The page's text, one line per block, pinyin removed: where bylines are looked for."""
    body = tree.find("body")
    parts: list[str] = []
    for event, el in etree.iterwalk(body if body is not None else tree, events=("start", "end")):
        if not isinstance(el.tag, str) or el.tag == "script":
            if event == "end" and el.tail:
                parts.append(el.tail)
            continue
        if el.tag in _BLOCK_TAGS:
            parts.append("\n")
        if event == "start":
            parts.append(el.text or "")
        elif el.tail:
            parts.append(el.tail)
    return [line for line in clean_spaces(strip_pinyin("".join(parts))).split("\n") if line]


# -- metadata from markup -----------------------------------------------------------------------


class _Meta:
    """What the markup says: titles, description, site name, canonical URL, language, dates."""

    def __init__(self, tree: lxml.html.HtmlElement, url: str) -> None:
        props = _meta_props(tree)
        self.og_title = _tidy(props.get("og:title") or props.get("twitter:title"))
        self.title_tag = _tidy(tree.findtext(".//title"))
        self.h1s = [t for t in (_tidy(h.text_content()) for h in tree.iter("h1")) if t]
        self.description = _tidy(props.get("description") or props.get("og:description"))
        self.site_name = _tidy(props.get("og:site_name"))
        self.canonical = _canonical(tree, url, props.get("og:url"))
        self.lang = _declared_lang(tree, props)
        self.author = _meta_author(tree, props)
        self.dates = _meta_dates(tree, props)
        self.title_candidates = [t for t in (self.og_title, self.title_tag, *self.h1s) if t]


def _meta_props(tree: lxml.html.HtmlElement) -> dict[str, str]:
    """<meta> name/property/itemprop -> content, lower-cased keys, first value wins."""
    props: dict[str, str] = {}
    for el in tree.iter("meta"):
        key = el.get("property") or el.get("name") or el.get("itemprop") or el.get("http-equiv")
        content = el.get("content")
        if key and content and content.strip():
            props.setdefault(key.strip().lower(), content.strip())
    return props


def _tidy(value: str | None) -> str | None:
    if not value:
        return None
    value = clean_spaces(strip_pinyin(value)).replace("\n", " ")
    return value or None


def _canonical(tree: lxml.html.HtmlElement, url: str, og_url: str | None) -> str | None:
    hrefs = tree.xpath(
        "//link[contains(concat(' ', normalize-space(@rel), ' '), ' canonical ')]/@href"
    )
    for href in [*hrefs, og_url]:
        if href and href.strip():
            absolute = urljoin(url, href.strip())
            if urlsplit(absolute).scheme in ("http", "https"):
                return absolute
    return None


def _declared_lang(tree: lxml.html.HtmlElement, props: dict[str, str]) -> str | None:
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


# -- main text ----------------------------------------------------------------------------------


def _trafilatura(tree: lxml.html.HtmlElement, url: str, precision: bool) -> Document | None:
    """One trafilatura pass over the prepared tree (it copies the tree). Metadata only on the
    precision pass, for its author and title; its date is not used. Never deduplicate=True:
    that cache is process-wide and drops repeat documents (adbar/trafilatura#778)."""
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        fast=True,
        favor_precision=precision,
        favor_recall=not precision,
        include_comments=False,
        include_tables=True,
        with_metadata=precision,
        date_extraction_params={"extensive_search": False, "original_date": True},
        deduplicate=False,
    )
    return doc if isinstance(doc, Document) else None


def _clean_text(text: str, titles: list[str]) -> str:
    """trafilatura's text, pinyin stripped, junk lines dropped, one paragraph per line."""
    lines = [line for line in clean_spaces(strip_pinyin(text or "")).split("\n") if line]
    kept = _drop_junk_lines(lines)
    while kept and _is_headline(kept[0], titles):
        kept.pop(0)  # the headline repeated as the first paragraph
    return "\n".join(kept)


def _is_headline(line: str, titles: list[str]) -> bool:
    squashed = _squash(line)
    return len(squashed) >= 4 and any(squashed in _squash(t) for t in titles)


@lru_cache(maxsize=16)
def _stats(text: str) -> tuple[int, int, float, float, float]:
    """(Han characters, words outside Han, and the Han, kana and Hangul shares of letters) of
    the first _SAMPLE characters: enough to judge length and language, and bounded on
    megabyte pages. Cached: one text is measured for length, list-ness and language."""
    sample = text[:_SAMPLE]
    letters = len(_NON_LETTER_RE.sub("", sample)) or 1
    han = len(sample) - len(_HAN_RE.sub("", sample))
    kana = len(sample) - len(_KANA_RE.sub("", sample))
    hangul = len(sample) - len(_HANGUL_RE.sub("", sample))
    words = len(_WORD_RE.findall(_HAN_RE.sub(" ", sample)))
    return han, words, han / letters, kana / letters, hangul / letters


def _long_enough(text: str) -> bool:
    han, words, share, _, _ = _stats(text)
    return han >= MIN_HAN_CHARS if share >= 0.3 else words >= MIN_WORDS


# -- refusing pages that are not articles -------------------------------------------------------

_ERROR_RE = re.compile(
    r"\b404\b|not found|page not found|no longer available|页面不存在|頁面不存在|页面未找到|"
    r"找不到(?:该|此|您要的|網)?(?:页面|頁面|网页|網頁)|您访问的页面|您訪問的頁面|页面已删除|"
    r"出错了|出錯了|访问出错|無法找到|无法找到该页",
    re.I,
)


def _refuse(tree: lxml.html.HtmlElement, meta: _Meta, lines: list[str], text: str) -> None:
    heads = " ".join([meta.title_tag or "", *meta.h1s[:2]])
    if (_ERROR_RE.search(heads) and len(text) < 1500) or (
        len(text) < 300 and _ERROR_RE.search(text)
    ):
        raise NotAnArticle("error-page", heads[:80])
    if _is_list_page(tree, text, lines):
        raise NotAnArticle("list-page")
    if not text:
        raise NotAnArticle("empty")
    if not _long_enough(text):
        han, words, *_ = _stats(text)
        raise NotAnArticle("too-short", f"{han} Han characters, {words} words")


def _is_list_page(tree: lxml.html.HtmlElement, text: str, lines: list[str]) -> bool:
    """Most of the main text (or, when it is short, of the page) is link text; or the main
    text's paragraphs alternate with headline links (a section page with summaries)."""
    anchors = {_LIST_ITEM_RE.sub("", _squash(a.text_content())) for a in tree.iter("a")}
    anchors = {a for a in anchors if len(a) >= 4}
    basis = text if _long_enough(text) else "\n".join(lines)
    squashed = _squash(basis)
    if len(anchors) < 10 or not squashed:
        return False
    if sum(len(a) for a in anchors if a in squashed) / len(squashed) >= _LIST_LINK_SHARE:
        return True
    paragraphs = {_squash(line) for line in text.split("\n") if len(line) >= 20}
    marks = "".join(
        "p"
        if squashed_line in paragraphs
        else "a"
        if _LIST_ITEM_RE.sub("", squashed_line) in anchors
        else ""
        for squashed_line in map(_squash, lines)
    ).strip("a")
    return marks.count("a") >= 4 and marks.count("a") >= 0.5 * marks.count("p")


_LIST_ITEM_RE = re.compile(r"^[-•·*]|[\d\-/:.年月日\[\]()]+$")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# -- assembling the article ---------------------------------------------------------------------


def _build(page: Page, meta: _Meta, lines: list[str], text: str, doc: Document | None) -> Article:
    language = _language(text, meta.lang or page.language_hint)
    title = _title(meta, doc, text)
    found = _find_byline(lines, title)
    local = _BEIJING if language == "zh" else None
    published = _choose_date(meta.dates, found.date, page.url, local)
    author = meta.author or _clean_author(getattr(doc, "author", None)) or found.author
    return Article(
        url=page.url,
        source=page.source,
        title=title,
        text=text,
        canonical_url=meta.canonical,
        author=author,
        published=published,
        language=language,
        script=detect_script(title + "\n" + text) if language == "zh" else None,
        site_name=meta.site_name,
        description=meta.description,
        original_source=found.source,
        fetched_at=page.fetched_at,
    )


_EN_STOPWORDS = frozenset("the of and to in a is that for on with as by at from it was are".split())


def _language(text: str, declared: str | None) -> str | None:
    """Character statistics decide Chinese (a template's lang="en" on a Chinese page is common);
    otherwise the declared language, else English when its stopwords are there."""
    _, _, han, kana, hangul = _stats(text)
    if kana >= 0.05:
        return "ja"
    if hangul >= 0.3:
        return "ko"
    if han >= 0.3:
        return "zh"
    if declared and declared != "zh":
        return declared
    words = re.findall(r"[a-z]+", text[:_SAMPLE].lower())
    if words and sum(w in _EN_STOPWORDS for w in words) / len(words) >= 0.08:
        return "en"
    return None


_TITLE_SEP_RE = re.compile(
    rf"(\s+[-|–—·]\s+|\s*[_｜|]\s*|\s*--+\s*|\s*——\s*|\s*::\s*|(?<=[{HAN}？！）》」])-(?=[{HAN}]))"
)


def _title(meta: _Meta, doc: Document | None, text: str) -> str:
    """The headline: og:title, else <title>, without " - Site" / "_频道_网站" suffixes; an <h1>
    wins when it is most of that (h1s carry no suffix, but can be a logo)."""
    base = meta.og_title or meta.title_tag or _tidy(doc.title if doc else None)
    if not base:
        return meta.h1s[0] if meta.h1s else text.split("\n", 1)[0][:80]
    stripped = _strip_site_suffix(base, meta.site_name)
    for h1 in sorted(meta.h1s, key=len, reverse=True):
        if _squash(h1) in _squash(base) and len(h1) >= 0.6 * len(stripped):
            return h1
    return stripped


def _strip_site_suffix(title: str, site_name: str | None) -> str:
    """Drop trailing segments that name the site or are shorter than the first (a channel or
    site name), and a leading segment naming the site."""
    tokens = _TITLE_SEP_RE.split(title)
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


# -- dates --------------------------------------------------------------------------------------

_BEIJING = timezone(timedelta(hours=8))
_DATE_RE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)\s*日?"
    r"(?:(?:T|\s*)(\d{1,2})\s*[:：时時]\s*(\d{2})(?:\s*[:：分]\s*(\d{2}))?(?:\.\d+)?"
    r"(?:\s*[(（]?\s*(Z|[+-]\d{2}:?\d{2}|(?:UTC|GMT)\s*[+-]\s*\d{1,2}(?::?\d{2})?|UTC|GMT|"
    r"北京时间|北京時間|台北時間|Beijing time)(?![A-Za-z]))?)?"
)
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_MON = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_EN_DATE_RES = (
    re.compile(rf"\b{_MON}\s+(\d{{1,2}}),?\s+((?:19|20)\d{{2}})\b", re.I),  # Sep 20, 2024
    re.compile(rf"\b(\d{{1,2}})\s+{_MON},?\s+((?:19|20)\d{{2}})\b", re.I),  # 20 Sep 2024
)
_URL_DATE_RE = re.compile(r"(?<!\d)(20\d{2})[/_-]?(0[1-9]|1[0-2])[/_-]?(0[1-9]|[12]\d|3[01])(?!\d)")


@dataclass(frozen=True)
class _When:
    """A date as the page states it: the day, maybe a time, maybe a UTC offset."""

    day: date
    clock: dtime | None = None
    tz: tzinfo | None = None

    def iso(self, local: tzinfo | None) -> str:
        if self.clock is None:
            return self.day.isoformat()
        return datetime.combine(self.day, self.clock, self.tz or local).isoformat()


def _parse_date(raw: str | None) -> _When | None:
    """The first date stated in `raw` (ISO, Chinese, RFC 2822 or English month forms)."""
    if not raw:
        return None
    match = _DATE_RE.search(raw)
    if match:
        return _when_from_match(match)
    if ":" in raw:
        try:
            stamp = parsedate_to_datetime(raw.strip())
        except (TypeError, ValueError, IndexError):
            stamp = None
        if stamp is not None and _plausible(stamp.date()):
            return _When(stamp.date(), stamp.time().replace(microsecond=0), stamp.tzinfo)
    return _english_date(raw)


def _when_from_match(match: re.Match[str]) -> _When | None:
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        the_day = date(int(year), int(month), int(day))
        clock = dtime(int(hour), int(minute), int(second or 0)) if hour else None
    except ValueError:
        return None
    if not _plausible(the_day):
        return None
    return _When(the_day, clock, _zone(zone))


def _zone(text: str | None) -> tzinfo | None:
    if not text:
        return None
    text = re.sub(r"\s+", "", text.upper())
    if text in ("北京时间", "北京時間", "台北時間", "BEIJINGTIME"):
        return _BEIJING
    if text in ("Z", "UTC", "GMT"):
        return UTC
    m = re.search(r"([+-])(\d{1,2}):?(\d{2})?$", text)
    if not m or int(m.group(2)) > 14:
        return None
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
    return timezone(-delta if m.group(1) == "-" else delta)


def _english_date(raw: str) -> _When | None:
    for pattern in _EN_DATE_RES:
        m = pattern.search(raw)
        if not m:
            continue
        first, second, year = m.groups()
        mon, dd = (first, second) if pattern is _EN_DATE_RES[0] else (second, first)
        try:
            the_day = date(int(year), _MONTHS.index(mon[:3].lower()) + 1, int(dd))
        except ValueError:
            continue
        if _plausible(the_day):
            return _When(the_day)
    return None


def _plausible(day: date) -> bool:
    return date(1990, 1, 1) <= day <= datetime.now(UTC).date() + timedelta(days=2)


def _choose_date(
    meta: list[str], byline: _When | None, url: str, local: tzinfo | None
) -> str | None:
    """Markup first; the byline when markup is silent or gives the same day without a time;
    then a date in the URL path. Never a bare year: nothing stated means None."""
    stated = next((w for w in map(_parse_date, meta) if w), None)
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
        return day.isoformat() if _plausible(day) else None
    return None


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


def _meta_dates(tree: lxml.html.HtmlElement, props: dict[str, str]) -> list[str]:
    """Publication dates the markup states, best first: <meta>, JSON-LD, <time>."""
    found = [props[k] for k in _META_DATE_KEYS if k in props]
    found += [str(v) for v in _jsonld_values(tree, ("datePublished", "dateCreated")) if v]
    times = tree.xpath(
        "//time[@itemprop='datePublished' or @pubdate or contains(@class, 'publish')]/@datetime"
        "|//article//time/@datetime|//*[@itemprop='datePublished']/@content"
    )
    return found + [t for t in times if t.strip()]


def _jsonld_values(tree: lxml.html.HtmlElement, keys: tuple[str, ...]) -> list[object]:
    """Values of `keys` in the page's JSON-LD blocks, in key order then document order."""
    objects: list[dict[str, object]] = []
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                objects.append(item)
                stack.extend(v for v in item.values() if isinstance(v, list | dict))
    return [obj[k] for k in keys for obj in objects if obj.get(k)]


# -- authors and bylines ------------------------------------------------------------------------

_NAME = rf"[{HAN}·]{{2,5}}(?:[、，,][{HAN}·]{{2,5}})*"
_AUTHOR_RE = re.compile(
    rf"(?:作\s*者|记\s*者|記\s*者|撰\s*文|编\s*译|編\s*譯)\s*[:：|｜/\s]\s*({_NAME})"
    rf"|(?:记者|記者)([{HAN}]{{2,4}}?)(?:报道|報導|摄|攝)"
)
_SOURCE_RE = re.compile(
    r"(?:来源|來源|稿源|出处|出處)\s*[:：]\s*([^\s|｜/()（）【】\[\]<>,，。;；]{2,30})"
)
_LABEL_STOP_RE = re.compile(
    r"(?:来源|來源|作者|记者|記者|编辑|編輯|责编|責編|时间|時間|日期|发布|發佈|發布|点击|點擊|"
    r"浏览|瀏覽|阅读|閱讀|人气|人氣|报道|報導|摄影|攝影|字号|字號).*$"
)
_NOT_A_SOURCE = frozenset(
    "本站 本网 本網 网络 網絡 網路 互联网 互聯網 网友 網友 原创 原創 综合 綜合 未知".split()
)
# a credit line outside the byline: `文章来源：新华社` on its own, or `（来源：新华社）` closing a paragraph
_CREDIT_LINE_RE = re.compile(
    r"^[(（【\[]?\s*(?:文章|本文|信息|新闻|新聞)?(?:来源|來源|稿源)\s*[:：]|[(（](?:来源|來源)\s*[:：][^)）]*[)）]$"
)
_DATE_LABEL_RE = re.compile(r"(发布|發布|發佈|发表|發表|时间|時間|日期|Published|Posted)", re.I)


@dataclass(frozen=True)
class _Byline:
    date: _When | None = None
    author: str | None = None
    source: str | None = None


def _find_byline(lines: list[str], title: str) -> _Byline:
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
    return _Byline(when, author, source)


def _first_date(lines: list[str]) -> _When | None:
    return next((w for w in map(_parse_date, lines) if w), None)


def _is_dated_label_line(line: str) -> bool:
    return (
        len(line) < 120 and bool(_DATE_LABEL_RE.search(line)) and not _CJK_SENTENCE_RE.search(line)
    )


def _byline_window(lines: list[str], title: str) -> list[str]:
    """The short lines right after (then right before) the first line carrying the headline:
    where a reader finds the byline. Stops at the first paragraph of prose, so that a short
    article's window never reaches a sidebar's dated links."""
    target = _squash(title)
    for i, line in enumerate(lines):
        squashed = _squash(line)
        if target and (
            target[:12] in squashed or squashed in target and len(squashed) >= 0.6 * len(target)
        ):
            after: list[str] = []
            for following in lines[i + 1 : i + 6]:
                if len(following) > 100 or _CJK_SENTENCE_RE.search(following):
                    break
                after.append(following)
            before = [prev for prev in lines[max(0, i - 2) : i] if len(prev) <= 100]
            rest = line.replace(title, " ") if title in line else ""
            return [rest, *after, *reversed(before)]
    return []


def _author_in(line: str) -> str | None:
    m = _AUTHOR_RE.search(line)
    return _clean_author(m.group(1) or m.group(2)) if m else None


def _source_in(line: str) -> str | None:
    m = _SOURCE_RE.search(line)
    if not m:
        return None
    name = _LABEL_STOP_RE.sub("", m.group(1)).strip()
    return name if len(name) >= 2 and name not in _NOT_A_SOURCE else None


def _clean_author(name: str | None) -> str | None:
    if not name:
        return None
    name = re.sub(r"^(?:作者|记者|記者|By)\s*[:：|｜]?\s*", "", name.strip(), flags=re.I)
    name = _LABEL_STOP_RE.sub("", name).strip(" ,，、|")
    return name if 2 <= len(name) <= 60 and not name.startswith("http") else None


def _meta_author(tree: lxml.html.HtmlElement, props: dict[str, str]) -> str | None:
    for key in ("author", "article:author", "dc.creator", "byl", "sailthru.author"):
        name = _clean_author(props.get(key))
        if name:
            return name
    for value in _jsonld_values(tree, ("author",)):
        items = value if isinstance(value, list) else [value]
        names = [i.get("name") if isinstance(i, dict) else i for i in items]
        joined = ", ".join(n.strip() for n in names if isinstance(n, str) and n.strip())
        if _clean_author(joined):
            return _clean_author(joined)
    return None


# -- junk lines ---------------------------------------------------------------------------------

_DISCLAIMER_RE = re.compile(
    r"^[【\[（(]?\s*(?:免责声明|免責聲明|版权声明|版權聲明|特别声明|特別聲明|disclaimer)\s*[】\]）)]?\s*[:：]?",
    re.I,
)
_ICP_RE = re.compile(
    r"ICP\s*[备備证證]|ICP\s*\d{5,}|公网安备|公網安備|网安备|增值电信业务|经营许可证|經營許可證|网站标识码",
    re.I,
)
_COPYRIGHT_RE = re.compile(
    r"^\s*(?:copyright|©|\(c\))|copyright\s*(?:©|\(c\)|\d{4})|©\s*\d{4}|版权所有|版權所有|"
    r"all rights? reserved",
    re.I,
)
_TOOL_RE = re.compile(
    r"发送给朋友|推荐给朋友|打印本文|打印本页|打印|关闭窗口|關閉窗口|收藏本文|收藏|分享到|分享|"
    r"放大字体|缩小字体|字体|字體|字号|字號|返回顶部|返回首页|我要评论|我要糾錯|纠错|复制链接|"
    r"\b(?:share(?: (?:on|to|via) \w+)?|print|e-?mail|tweet|facebook|linkedin|whatsapp|"
    r"copy link|comments?)\b|[【\[]?\s*大\s*中\s*小\s*[】\]]?",
    re.I,
)
_SEPARATORS_RE = re.compile(r"[\s|｜/【】\[\]()（）·•:：,，、>»›<«]+")
_BYLINE_LABEL_RE = re.compile(
    r"来源|來源|作者|记者|記者|编辑|編輯|浏览|瀏覽|点击|點擊|阅读|閱讀|人气|人氣|发布|發佈|發布|"
    r"时间|時間|日期"
)
_LEAD_LABEL_RE = re.compile(
    r"^[(（]?(?:责任编辑|責任編輯|编辑|編輯|责编|責編|(?:文章)?来源|(?:文章)?來源)\s*[:：]"
)
_NAV_RE = re.compile(
    r"您现在的位置|您的位置|当前位置|當前位置|所在位置|^首页\s*[>»›]|^首頁\s*[>»›]"
)
_RELATED = (
    "相关阅读 相关新闻 相关文章 相关推荐 相关报道 推荐阅读 延伸阅读 热点新闻 热门新闻 热门文章 "
    "热门推荐 热点推荐 猜你喜欢 精彩推荐 更多精彩 本周排行 排行榜 今日推荐 编辑推荐 最新文章 "
    "最新新闻 热点阅读 相關閱讀 相關新聞 相關文章 相關推薦 推薦閱讀 延伸閱讀 熱點新聞 熱門新聞 "
    "熱門文章 熱門推薦 猜你喜歡 精彩推薦 本週排行 排行榜 編輯推薦 最新文章 最新新聞"
)
_RELATED_RE = re.compile(
    rf"^[【\[]?\s*(?:{'|'.join(_RELATED.split())}|related(?: stories| articles| news| posts)?|"
    r"read more|more from [\w ]+|most read|recommended|you may also like|trending)\s*[】\]]?\s*"
    r"(?:[:：>»].*)?$",
    re.I,
)
_SENTENCE_END_RE = re.compile(r"[。！？!?]|\.\s|\.$")
_CJK_SENTENCE_RE = re.compile(r"[。！？]")


def _drop_junk_lines(lines: list[str]) -> list[str]:
    """Drop boilerplate lines; a disclaimer ends the text; a related-links heading drops
    itself and the link-like lines after it."""
    kept: list[str] = []
    in_related = False
    for line in lines:
        if _DISCLAIMER_RE.match(line):
            break
        if _RELATED_RE.match(line) and len(line) < 80:
            in_related = True
            continue
        if in_related and len(line) < 40 and not _SENTENCE_END_RE.search(line):
            continue
        in_related = False
        if not _is_junk(line):
            kept.append(line)
    return kept


def _is_junk(line: str) -> bool:
    short = len(line) < 120
    return bool(
        _ICP_RE.search(line)
        and short
        or _COPYRIGHT_RE.search(line)
        and short
        or _NAV_RE.search(line)
        and short
        or _LEAD_LABEL_RE.match(line)
        and len(line) < 60
        and not _CJK_SENTENCE_RE.search(line)
        or _is_byline(line)
        or _is_tool_line(line)
        or _is_keyword_list(line)
        or _is_nav_line(line)
    )


def _is_byline(line: str) -> bool:
    """A short dated line with byline labels and no sentence: `2024-09-20 来源:… 作者:…`."""
    if len(line) >= 120 or _CJK_SENTENCE_RE.search(line):
        return False
    if not (_DATE_RE.search(line) or _english_date(line)):
        return False
    return bool(_BYLINE_LABEL_RE.search(line) or re.match(r"by\s", line, re.I) and len(line) < 80)


def _is_tool_line(line: str) -> bool:
    if len(line) > 80 or not _TOOL_RE.search(line):
        return False
    return not _SEPARATORS_RE.sub("", _TOOL_RE.sub("", line))


def _is_keyword_list(line: str) -> bool:
    """A long comma-separated run of short phrases with no sentence in it: a spam header
    or a keyword line."""
    if sum(map(line.count, ",，|｜")) < 7:
        return False
    parts = [p for p in re.split(r"[,，|｜]", line) if p.strip()]
    if len(parts) < 8 or _SENTENCE_END_RE.search(line):
        return False
    return sum(len(p.strip()) for p in parts) / len(parts) <= 10


def _is_nav_line(line: str) -> bool:
    """`首页 | 新闻 | 科技 | 财经`: three or more short items between bars."""
    if line.count("|") + line.count("｜") < 3:
        return False
    parts = [p.strip() for p in re.split(r"[|｜]", line)]
    if len(parts) < 4:
        return False
    return sum(len(p) for p in parts) / len(parts) <= 8
