"""Article or list page: judged by what the page is, not by one threshold.

An article has one body of running prose; a list page (front page, section, rolling news,
search results, forum index) is mostly headline links, often each with a summary under it.
The signals, each measured on the page as a reader sees it (block lines, `page_lines`):

- **link lines**: a line whose letters are mostly link text is navigation or a headline
  link, never article prose; it is dropped from the main text (`drop_link_lines`). A page
  whose main text is then too short for an article, among ten or more headline links, is a
  list page;
- **teasers**: a headline link followed, within a few lines, by a paragraph of prose is an
  item of a list with summaries. When most of the main text is such summaries, the page
  is a list even though it reads as prose;
- **metadata**: JSON-LD `@type` (NewsArticle, BlogPosting... against CollectionPage,
  SearchResultsPage, ItemList) and `og:type` (article; website lowers the number of
  teasers that make a list from 8 to 5, as on a blog's index page);
- **how the page was found** (`Page.via`): a page a feed or news sitemap calls an article
  needs stronger evidence to be dropped as a list.

Sizes are in letters: a Han, kana or Hangul character counts 1, any other letter 1/3 (an
English word of five letters is worth about two Han characters, as MIN_WORDS and
MIN_HAN_CHARS are); digits, punctuation and spaces count nothing, so the dates and
counters around a headline do not make a link line look like prose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import lxml.html
from lxml import etree

from crawler.extract.bylines import BYLINE_LABELS
from crawler.text.normalise import HAN, SENTENCE_END_RE, clean_spaces, squash, strip_pinyin

_BLOCK_TAGS = frozenset(
    "address article aside blockquote body br caption center dd details div dl dt fieldset "
    "figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section "
    "summary table tbody td tfoot th thead title tr ul".split()
)
_SKIP_TAGS = frozenset("script style noscript template select option button".split())
# the blocks of `visible_lines`: the same but <caption> and <summary>
_VISIBLE_BLOCK_TAGS = _BLOCK_TAGS - {"caption", "summary"}
_CJK_RE = re.compile(f"[{HAN}\u3040-\u30ff\uac00-\ud7af]")
_LETTER_RE = re.compile(r"[^\W\d_]")
_BULLET_RE = re.compile(r"^(?:[-•·*]\s*)+")
_LABELLED_RE = re.compile(f"(?:{BYLINE_LABELS})\\s*[:：]|^\\s*(?i:by)\\s")  # bylines, not headlines

HEADLINE = 8  # a headline link is at least this size (8 Han characters, 24 Latin letters)
PROSE = 20  # a paragraph of prose is at least this size
LINK_LINE = 0.6  # a line whose letters are this much link text is a link, not prose
_TEASER_GAP = 3  # lines (dates, bylines, credits) allowed between a headline and its summary
_MIN_TEASERS = 8  # fewer summaries than this never make a list (a roundup article has some)
_MIN_TEASERS_WEBSITE = 5  # ... or than this on a page whose og:type is "website" (a blog index)
_MIN_TEASERS_LISTED = 4  # ... or than this on a page whose JSON-LD says collection
_LIST_HEADLINES = 10  # headline links around a main text too short for an article: a list
_UNDER_HEADLINE = 8  # lines between the headline and the first line of a text "right under" it

ARTICLE_TYPES = frozenset(
    "article newsarticle blogposting reportagenewsarticle analysisnewsarticle "
    "opinionnewsarticle reviewnewsarticle backgroundnewsarticle techarticle "
    "scholarlyarticle socialmediaposting liveblogposting report".split()
)
LIST_TYPES = frozenset("collectionpage searchresultspage itemlist profilepage".split())
ARTICLE_VIA = frozenset({"feed", "news-sitemap", "search"})


_ASCII_NON_LETTERS = bytes(c for c in range(128) if not chr(c).isalpha())


def size(text: str) -> float:
    """Letters of `text`: CJK characters count 1, other letters 1/3."""
    if text.isascii():  # most of an English page: its letters counted in C, no regex
        return len(text.encode("ascii").translate(None, _ASCII_NON_LETTERS)) / 3
    cjk = len(_CJK_RE.findall(text))
    return cjk + (len(_LETTER_RE.findall(text)) - cjk) / 3


@dataclass(frozen=True)
class Line:
    """One block of the page as a reader sees it, and how much of it is link text."""

    text: str
    size: float
    link: float  # share of the line's size inside <a>

    @property
    def is_headline(self) -> bool:
        """A link long enough for a headline (a linked `来源：…` byline is not one)."""
        return (
            self.link >= LINK_LINE
            and self.size * self.link >= HEADLINE
            and not _LABELLED_RE.search(self.text)
        )

    @property
    def is_prose(self) -> bool:
        return self.link < 0.3 and self.size >= PROSE


def anchor_texts(tree: lxml.html.HtmlElement) -> set[str]:
    """The text of every link on the page, without spaces (a headline a block splits into
    several lines is found by its parts)."""
    return {k for k in (_key(a.text_content()) for a in tree.iter("a")) if k}


def page_lines(tree: lxml.html.HtmlElement) -> list[Line]:
    """The page's text, one Line per block (a newline inside a text node is a space)."""
    return page_text(tree)[0]


def page_text(tree: lxml.html.HtmlElement) -> tuple[list[Line], list[str]]:
    """The page's block lines (`page_lines`) and its visible lines
    (`crawler.extract.htmlprep.visible_lines`: every text but scripts', pinyin removed, where
    bylines are looked for), from one walk of the tree: walking it is most of what each costs.

    A hot loop (a tenth of a page's extraction time): a run of text is started only by a
    piece that is not all spaces (spaces before a line's first word change nothing), so
    blocks holding only indentation cost no _flush."""
    body = tree.find("body")
    lines: list[Line] = []
    visible: list[str] = []
    show = visible.append
    run: list[tuple[str, bool]] = []
    in_link = skip = 0
    blocks, skips, visible_blocks = _BLOCK_TAGS, _SKIP_TAGS, _VISIBLE_BLOCK_TAGS
    for event, el in etree.iterwalk(body if body is not None else tree, events=("start", "end")):
        tag = el.tag
        if tag.__class__ is not str:  # a comment, processing instruction or entity: its tail
            if event == "end":
                text = el.tail
                if text:
                    show(text)
                    if not skip and (run or not text.isspace()):
                        run.append((text, in_link > 0))
            continue
        if tag in blocks and run:
            _flush(run, lines)
        if event == "start":
            if tag == "a":
                in_link += 1
            elif tag in skips:
                skip += 1
            text = el.text
            if tag != "script":
                if tag in visible_blocks:
                    show("\n")
                if text:
                    show(text)
            if text and not skip and (run or not text.isspace()):
                run.append((text, in_link > 0))
        else:
            if tag == "a":
                in_link -= 1
            elif tag in skips:
                skip -= 1
            if tag in visible_blocks:
                show("\n")
            text = el.tail
            if text:
                show(text)
                if not skip and (run or not text.isspace()):
                    run.append((text, in_link > 0))
    if run:
        _flush(run, lines)
    return lines, [line for line in clean_spaces(strip_pinyin("".join(visible))).split("\n") if line]


def _flush(run: list[tuple[str, bool]], lines: list[Line]) -> None:
    # single spaces, no line breaks: removing pinyin leaves nothing for clean_spaces to do
    words = " ".join("".join([t for t, _ in run]).split())
    text = strip_pinyin(words) if words else ""
    if text:
        total = size(text)
        linked = [t for t, in_link in run if in_link]
        share = min(1.0, size("".join(linked)) / total) if linked and total else 0.0
        lines.append(Line(text, total, share))
    run.clear()


class Layout:
    """The page's lines, looked up by their text, with the teasers among them."""

    def __init__(self, lines: list[Line], anchors: set[str] | None = None) -> None:
        self.lines = lines
        self.anchors = anchors or set()
        self.by_text: dict[str, int] = {}  # text -> its least linked occurrence
        for i, line in enumerate(lines):
            seen = self.by_text.setdefault(_key(line.text), i)
            if line.link < lines[seen].link:
                self.by_text[_key(line.text)] = i
        self.summaries = _teaser_summaries(lines)
        self.headlines = sum(line.is_headline for line in lines)

    def find(self, text: str) -> Line | None:
        i = self.by_text.get(_key(text))
        return None if i is None else self.lines[i]

    def is_link(self, text: str) -> bool:
        """`text` is mostly link text: a line of the page that is, or a link's text."""
        found = self.find(text)
        if found is not None:
            return found.link >= LINK_LINE
        return _key(text) in self.anchors

    def is_headline(self, text: str) -> bool:
        """`text` is a line of the page that is a headline link."""
        found = self.find(text)
        return found is not None and found.is_headline

    def is_summary(self, text: str) -> bool:
        return self.by_text.get(_key(text), -1) in self.summaries

    def headline_index(self, titles: list[str]) -> int | None:
        """The first line that is not a link and carries one of `titles`."""
        keys = [k for k in (squash(t) for t in titles) if k]
        for i, line in enumerate(self.lines):
            if line.link < LINK_LINE and any(_carries(squash(line.text), k) for k in keys):
                return i
        return None

    def under_headline(self, text: str, head: int | None) -> bool:
        """The first line of `text` found on the page comes right after line `head`."""
        if head is None:
            return False
        found = (self.by_text.get(_key(line)) for line in text.split("\n"))
        first = next((i for i in found if i is not None), None)
        return first is not None and head < first <= head + _UNDER_HEADLINE

    def prose_under(self, head: int | None) -> str:
        """The prose right under line `head`: what a reader takes for the article when the
        extractors find nothing else. Short lines (bylines, tools) are passed over; it ends
        at a headline link, or at three lines without prose once prose has begun."""
        if head is None:
            return ""
        found: list[str] = []
        gap = 0
        for line in self.lines[head + 1 : head + 1 + 4 * _UNDER_HEADLINE]:
            if line.is_headline and found:
                break
            if line.link < 0.3 and (line.is_prose or SENTENCE_END_RE.search(line.text)):
                found.append(line.text)
                gap = 0
            elif found and (gap := gap + 1) >= 3:
                break
        return "\n".join(found)


def _carries(line: str, title: str) -> bool:
    """`line` is the headline `title` (maybe with a little around it), or most of it."""
    if title[:12] in line and len(line) <= 2 * len(title) + 10:
        return True
    return bool(line) and line in title and len(line) >= 0.6 * len(title)


def _key(text: str) -> str:
    return squash(_BULLET_RE.sub("", text))


def _teaser_summaries(lines: list[Line]) -> set[int]:
    """Indexes of prose lines that follow a headline link within _TEASER_GAP lines."""
    found: set[int] = set()
    for i, line in enumerate(lines):
        if not line.is_headline:
            continue
        for j in range(i + 1, min(len(lines), i + 2 + _TEASER_GAP)):
            if lines[j].is_headline:
                break
            if lines[j].is_prose:
                found.add(j)
                break
    return found


def drop_link_lines(text: str, layout: Layout) -> str:
    """The main text without lines that are mostly link text (menus, headline lists,
    "read more" lines that trafilatura kept)."""
    return "\n".join(line for line in text.split("\n") if not layout.is_link(line))


@dataclass(frozen=True)
class Signals:
    """What the page says it is, and how it was found."""

    types: frozenset[str] = frozenset()  # JSON-LD @type values, lower case
    og_type: str | None = None
    via: str | None = None

    @property
    def says_article(self) -> bool:
        return bool(self.types & ARTICLE_TYPES) or (self.og_type or "").lower() == "article"

    @property
    def says_list(self) -> bool:
        return bool(self.types & LIST_TYPES) and not self.types & ARTICLE_TYPES


def list_reason(text: str, enough: bool, layout: Layout, signals: Signals) -> str | None:
    """Why the page is a list page (a short detail), or None when it is not one.

    `text` is the main text without link lines; `enough` says whether it is an article's
    worth (long, or a dated brief right under its headline)."""
    if not enough:
        if layout.headlines >= _LIST_HEADLINES:
            return f"{layout.headlines} headline links around too little prose"
        return None
    teasers = len(layout.summaries)
    least = (
        _MIN_TEASERS_LISTED
        if signals.says_list
        else _MIN_TEASERS_WEBSITE
        if (signals.og_type or "").lower() == "website"
        else _MIN_TEASERS
    )
    if teasers < least:
        return None
    share = _summary_share(text.split("\n"), layout)
    if share >= _summary_threshold(signals):
        return f"{teasers} headlines with summaries; summaries make {share:.0%} of the text"
    return None


def _summary_share(lines: Iterable[str], layout: Layout) -> float:
    """Share of the main text's size in teaser summaries."""
    total = teaser = 0.0
    for line in lines:
        n = size(line)
        total += n
        teaser += n if layout.is_summary(line) else 0.0
    return teaser / total if total else 0.0


def _summary_threshold(signals: Signals) -> float:
    """How much of the text must be teaser summaries: more when the page or the way it
    was found says article, less when its metadata says collection."""
    if signals.says_list:
        return 0.3
    strong = signals.says_article + (signals.via in ARTICLE_VIA)
    return (0.5, 0.7, 0.85)[strong]
