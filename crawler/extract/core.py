"""Page -> Article: main text and metadata of one article page, or NotAnArticle(reason).

trafilatura finds the main text; around it this module does what it does not do well on the
Chinese web (see FIELD-NOTES):
- before: layout tables, page-wide <form> wrappers and `text<br><br>text` written straight into
  a <div>/<td> become plain blocks and <p>s, so old portals come out as paragraphs
  (crawler/htmlprep.py);
- trafilatura runs in precision mode; when that yields less than an article's worth, a recall
  pass runs and the longer cleaned text wins;
- after: a line-level pass drops the junk it keeps (disclaimers and what follows, ICP and
  copyright lines, keyword-spam headers, share/print tool lines, bylines, related-link lists,
  "|"-separated navigation) and the pinyin content farms inject (crawler/junklines.py);
- metadata is read here, not taken from trafilatura: title (h1 / og:title over a suffixed
  <title>), dates from markup, then from the byline under the headline, then from the URL path,
  never from a copyright year (htmldate, even non-extensive, picks dates out of "hot news"
  sidebars, so trafilatura's date is ignored; dates and bylines: crawler/bylines.py);
- refusals: a binary body whatever its Content-Type (not-html; control characters are
  removed before parsing, crawler/binary.py), error status or 404-style headline (error-page), text made of the page's link
  texts or summaries alternating with headline links (list-page), nothing (empty), under
  MIN_HAN_CHARS / MIN_WORDS (too-short).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property, lru_cache
from typing import NamedTuple

import lxml.html
import trafilatura
from trafilatura import metadata as _trafilatura_metadata
from trafilatura.settings import Document

from crawler.errors import NotAnArticle
from crawler.extract import authors, bylines, xpaths
from crawler.extract.authorsearch import author_of
from crawler.extract.classify import (
    ARTICLE_VIA,
    Layout,
    Signals,
    anchor_texts,
    drop_link_lines,
    list_reason,
    page_text,
    size,
)
from crawler.extract.htmlprep import prepare, scrub
from crawler.extract.junklines import clean_text
from crawler.extract.metadata import MAX_TITLE_CHARS, PageMeta, headline
from crawler.extract.metadata import strip_site_suffix as _strip_site_suffix  # noqa: F401 (tests)
from crawler.records import Article, Page, SkipReason
from crawler.text.binary import looks_binary, refers_to_controls
from crawler.text.html import parse_html
from crawler.text.normalise import (
    HAN,
    SENTENCE_END_RE,
    detect_script,
    squash,
)

MIN_HAN_CHARS = 200  # a Chinese (Japanese, Korean) article has this many CJK characters
MIN_WORDS = 80  # an article in another language has at least this many words
# a shorter text is an article (a news brief) when it sits right under the page's headline
# and the page states its date, or a feed or news sitemap listed it; never shorter than this
MIN_BRIEF_CJK = 50
MIN_BRIEF_WORDS = 30

# trafilatura's pruning and body XPaths as Python walks selecting the same elements, 1.6-4.3x
# faster (crawler/extract/xpaths.py)
xpaths.install()


def extract(page: Page, max_title_chars: int = MAX_TITLE_CHARS) -> Article:
    """Main text and metadata of `page`; raises NotAnArticle for pages that are not articles.
    A headline candidate longer than `max_title_chars` is passed over for the next one."""
    if page.status >= 400:
        raise NotAnArticle(SkipReason.ERROR_PAGE, f"status {page.status}")
    tree = _parse(page.html)
    meta = PageMeta(tree, page.url, max_title_chars)
    prepare(tree)
    lines, visible = page_text(tree)
    layout = Layout(lines, anchor_texts(tree))
    head = layout.headline_index(meta.title_candidates)
    text, guess = _main_text(tree, page.url, meta, layout, head)
    article = _build(page, meta, visible, text, guess, layout)
    _refuse(meta, layout, Signals(meta.types, meta.og_type, page.via), article, head)
    return article


def _main_text(
    tree: lxml.html.HtmlElement, url: str, meta: PageMeta, layout: Layout, head: int | None
) -> tuple[str, _Guess | None]:
    """trafilatura in precision mode; when that yields less than an article's worth, a recall
    pass, cleaned the same way; when neither does, the prose right under the headline (a
    news brief on a portal page full of link blocks, where trafilatura picks a link block).
    trafilatura's title and author guesses come with the precision pass's text, when it has
    one (_Guess)."""
    doc = _trafilatura(tree, url, precision=True)
    text = _clean(doc, meta, layout)
    if not _long_enough(text):
        recall = _trafilatura(tree, url, precision=False)
        text = max(text, _clean(recall, meta, layout), key=len)
    if not _long_enough(text):
        under = clean_text(layout.prose_under(head), meta.title_candidates)
        if _long_enough(under, MIN_BRIEF_CJK, MIN_BRIEF_WORDS):
            text = under
    return text, _Guess(tree) if doc is not None else None


class _Guess:
    """trafilatura's title and author for the page, each read only when asked for.

    They are fallbacks: the title only when the page has neither og:title nor <title>, the
    author only when no author markup or byline names one (about 60 % of real pages).  Asking
    `bare_extraction` for metadata computed every field on every page: a fifth of extraction's
    CPU, of which its author search (a deep copy of the tree, pruned) is half and categories,
    tags, licence and an htmldate pass (all unused here) the other half.

    One of the three places topicwatch reaches inside trafilatura (`trafilatura.metadata`'s
    `examine_meta`, `extract_meta_json`, `extract_title`, `extract_author` and
    `Document.clean_and_trim`): the steps `trafilatura.extract_metadata` takes for these two
    fields, in its order, without the rest.  The author search is extract_author's, run by
    crawler/extract/authorsearch.py (the second place) in a third of its time; the third is
    crawler/extract/xpaths.py, trafilatura's extraction XPaths compiled to walks.
    tests/test_extract.py checks that the values are `extract_metadata`'s own on every fixture
    page, so a trafilatura that changes them fails there."""

    def __init__(self, tree: lxml.html.HtmlElement) -> None:
        self._tree = tree

    @cached_property
    def _markup(self) -> Document:
        """<meta> tags, then JSON-LD, as extract_metadata reads them first."""
        doc = _trafilatura_metadata.examine_meta(self._tree)
        if doc.author and " " not in doc.author:  # as extract_metadata: one word is no author
            doc.author = None
        try:
            doc = _trafilatura_metadata.extract_meta_json(self._tree, doc)
        except Exception:  # as extract_metadata: a bug in its JSON-LD reading is skipped
            pass
        return doc

    @cached_property
    def title(self) -> str | None:
        return _trimmed("title", self._markup.title or _found(_trafilatura_metadata.extract_title, self._tree))

    @cached_property
    def author(self) -> str | None:
        return _trimmed("author", self._markup.author or _found(author_of, self._tree))


def _found(find: Callable[[lxml.html.HtmlElement], str | None], tree: lxml.html.HtmlElement) -> str | None:
    """What `find` reads in the tree; None where it fails as bare_extraction's metadata pass
    would have failed (TypeError, ValueError), which then dropped the whole document."""
    try:
        return find(tree)
    except (TypeError, ValueError):
        return None


def _trimmed(field: str, value: str | None) -> str | None:
    """`value` cleaned once, as extract_metadata leaves its fields (Document.clean_and_trim)."""
    doc = Document()
    setattr(doc, field, value)
    doc.clean_and_trim()
    return getattr(doc, field)


def _clean(doc: Document | None, meta: PageMeta, layout: Layout) -> str:
    """trafilatura's text without junk lines (crawler/junklines.py) or link lines."""
    return drop_link_lines(clean_text(doc.text if doc else "", meta.title_candidates), layout)


def _parse(html: str) -> lxml.html.HtmlElement:
    """The page as a tree; a binary body is not-html, control characters never reach lxml."""
    if looks_binary(html):
        raise NotAnArticle(SkipReason.NOT_HTML, "binary body")
    tree = parse_html(html)
    if tree is None:
        raise NotAnArticle(SkipReason.EMPTY, "no HTML")
    if refers_to_controls(html):
        scrub(tree)
    return tree


# -- main text ----------------------------------------------------------------------------------

_HAN_RE = re.compile(f"[{HAN}]+")
_KANA_RE = re.compile("[\u3040-\u30ff]+")
_HANGUL_RE = re.compile("[\uac00-\ud7af]+")
_NON_LETTER_RE = re.compile(r"[\W\d_]+")
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_SAMPLE = 20000  # characters of main text measured for length and language


def _trafilatura(tree: lxml.html.HtmlElement, url: str, precision: bool) -> Document | None:
    """One trafilatura pass over the prepared tree (it copies the tree), text only: its
    metadata is read apart, when needed (_Guess). Never deduplicate=True: that cache is
    process-wide and drops repeat documents (adbar/trafilatura#778)."""
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        fast=True,
        favor_precision=precision,
        favor_recall=not precision,
        include_comments=False,
        include_tables=True,
        with_metadata=False,
        deduplicate=False,
    )
    return doc if isinstance(doc, Document) else None


@lru_cache(maxsize=16)
def _prose_lines(text: str) -> str:
    return "\n".join(
        line for line in text.split("\n") if size(line) >= 10 or SENTENCE_END_RE.search(line)
    )


class _Stats(NamedTuple):
    han: int  # Han characters
    cjk: int  # Han, kana and Hangul characters
    words: int  # words outside Han
    han_share: float  # shares of all letters
    kana_share: float
    hangul_share: float


@lru_cache(maxsize=16)
def _stats(text: str) -> _Stats:
    """Counts and script shares of the first _SAMPLE characters: enough to judge length and
    language, and bounded on megabyte pages. Cached: one text is measured several times."""
    sample = text[:_SAMPLE]
    letters = len(_NON_LETTER_RE.sub("", sample)) or 1
    han = len(sample) - len(_HAN_RE.sub("", sample))
    kana = len(sample) - len(_KANA_RE.sub("", sample))
    hangul = len(sample) - len(_HANGUL_RE.sub("", sample))
    words = len(_WORD_RE.findall(_HAN_RE.sub(" ", sample)))
    return _Stats(han, han + kana + hangul, words, han / letters, kana / letters, hangul / letters)


def _long_enough(text: str, cjk_min: int = MIN_HAN_CHARS, words_min: int = MIN_WORDS) -> bool:
    """CJK characters are counted in Chinese, Japanese and Korean text, words otherwise; only
    in lines of prose (a sentence, or ten characters / thirty letters), so that a column of
    menu items, counters and share buttons never adds up to an article."""
    s = _stats(_prose_lines(text))
    if s.han_share + s.kana_share + s.hangul_share >= 0.3:
        return s.cjk >= cjk_min
    return s.words >= words_min


# -- refusing pages that are not articles -------------------------------------------------------

_ERROR_RE = re.compile(
    # "404" with an error word near it, or alone: a podcast called "The 404" is no error
    r"\b404\b.{0,40}(?:not|error|page|found|错误|錯誤|页面|頁面|不存在|找不到)|"
    r"(?:error|错误|錯誤)\W{0,3}404|^\W*404\b|"
    r"not found|page not found|no longer available|页面不存在|頁面不存在|页面未找到|(?:没有|沒有)找到|"
    r"找不到(?:该|此|您要的|網)?(?:页面|頁面|网页|網頁)|您访问的页面|您訪問的頁面|页面已删除|"
    r"出错了|出錯了|访问出错|無法找到|无法找到该页",
    re.I,
)


def _refuse(
    meta: PageMeta, layout: Layout, signals: Signals, article: Article, head: int | None
) -> None:
    text = article.text
    heads = " ".join([meta.title_tag or "", *meta.h1s[:2]])
    if (_ERROR_RE.search(heads) and len(text) < 1500) or (
        len(text) < 300 and _ERROR_RE.search(text)
    ):
        raise NotAnArticle(SkipReason.ERROR_PAGE, heads[:80])
    enough = _long_enough(text) or _is_brief(article, layout, head, signals)
    why = list_reason(text, enough, layout, signals)
    if why:
        raise NotAnArticle(SkipReason.LIST_PAGE, why)
    if not text:
        raise NotAnArticle(SkipReason.EMPTY)
    if not enough:
        s = _stats(text)
        raise NotAnArticle(SkipReason.TOO_SHORT, f"{s.cjk} CJK characters, {s.words} words")


def _is_brief(article: Article, layout: Layout, head: int | None, signals: Signals) -> bool:
    """A short text is a news brief when it sits right under the headline and the page
    states its date or a feed, news sitemap or news search listed it."""
    dated = article.published is not None or signals.via in ARTICLE_VIA
    return (
        dated
        and _long_enough(article.text, MIN_BRIEF_CJK, MIN_BRIEF_WORDS)
        and layout.under_headline(article.text, head)
    )


# -- assembling the article ---------------------------------------------------------------------

_EN_STOPWORDS = frozenset("the of and to in a is that for on with as by at from it was are".split())


def _build(
    page: Page, meta: PageMeta, lines: list[str], text: str, guess: _Guess | None, layout: Layout
) -> Article:
    language = _language(text, meta.lang or page.language_hint)
    title = headline(meta, lambda: guess.title if guess else None, text)
    found = bylines.find_byline(lines, title, layout.is_headline)
    local = bylines.BEIJING if language == "zh" else None
    published = bylines.choose_date(meta.dates, found.date, page.url, local,
                                    bylines.relative_in(found.window, page.fetched_at, local))
    return Article(
        url=page.url,
        source=page.source,
        title=title,
        text=text,
        canonical_url=meta.canonical,
        author=_author(meta, found, lines, text, guess),
        published=published,
        language=language,
        script=detect_script(title + "\n" + text) if language == "zh" else None,
        site_name=meta.site_name,
        description=meta.description,
        original_source=found.source,
        fetched_at=page.fetched_at,
    )


def _author(
    meta: PageMeta, found: bylines.Byline, lines: list[str], text: str, guess: _Guess | None
) -> str | None:
    """The markup's author, else the writer a byline, dispatch or credit line names, else
    trafilatura's guess, else the editor; never an outlet (crawler/authors.py)."""
    outlets = meta.outlets | ({found.source} if found.source else set())
    opening = text.split("\n", 2)[:2]
    closing = _after(lines, text)
    writer, editor = authors.from_lines(list(found.window), opening, closing, lines, outlets)
    markup = authors.from_markup(meta.props, meta.ld_authors, outlets)
    if markup or writer:
        return markup or writer
    name = guess.author if guess else None  # only now: it costs a metadata pass (_Guess)
    near = squash(" ".join([*found.window, *opening, *closing]))
    return authors.plausible_guess(name, near, outlets) or editor or authors.editor(name, outlets)


def _after(lines: list[str], text: str, n: int = 6) -> list[str]:
    """The `n` page lines after the main text's last paragraph: where credit lines sit."""
    prose = [line for line in text.split("\n") if size(line) >= 10]
    last = squash(prose[-1])[:20] if prose else ""
    if not last:
        return []
    for i in range(len(lines) - 1, -1, -1):
        if last in squash(lines[i]):
            return lines[i + 1 : i + 1 + n]
    return []


def _language(text: str, declared: str | None) -> str | None:
    """Character statistics decide Chinese (a template's lang="en" on a Chinese page is common);
    otherwise the declared language, else English when its stopwords are there."""
    _, _, _, han, kana, hangul = _stats(text)
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
