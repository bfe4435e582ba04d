"""crawler/extract/authorsearch.py: trafilatura's author search in one walk, selecting what its
XPaths select (generated pages) and finding what extract_author finds (fixture pages)."""

from __future__ import annotations

import html
import re

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_extract import FIXTURES, load
from trafilatura.metadata import extract_author
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS, AUTHOR_XPATHS

from crawler.extract import authorsearch
from crawler.extract.authorsearch import SELECTORS, author_of
from crawler.extract.core import _parse
from crawler.extract.htmlprep import prepare


def test_it_was_written_for_the_installed_trafilatura() -> None:
    """extract_author's steps and its five XPaths are those authorsearch was written for.  A
    trafilatura that changes either fails here (and authorsearch falls back to extract_author
    itself: the next test); then rewrite the functions for the new expressions, check them here
    and record the new digests."""
    assert authorsearch.digests() == (authorsearch.STEPS_DIGEST, authorsearch.XPATHS_DIGEST)
    assert SELECTORS is not None


def test_another_trafilatura_gets_extract_author_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(authorsearch, "XPATHS_DIGEST", "0" * 16)
    assert not authorsearch._trafilatura_is_as_written()
    monkeypatch.setattr(authorsearch, "SELECTORS", None)
    calls: list[object] = []
    monkeypatch.setattr(authorsearch, "extract_author", lambda tree: calls.append(tree) or "Ann Lee")
    tree = lxml.html.document_fromstring("<html><body><p>x</p></body></html>")
    assert author_of(tree) == "Ann Lee" and calls == [tree]


# what the XPaths compare each attribute with, read from them: `@a='x'`, `contains(@a, 'x')`
# and the words of `re:test(@a, ...)` (with `[Aa]` as either letter, `-?` as "-" and ""), so
# that generated attributes hit every test: exactly, cut short, joined, inside other words
def _vocabulary() -> dict[str, list[str]]:
    words: dict[str, set[str]] = {}
    for x in [*AUTHOR_DISCARD_XPATHS, *AUTHOR_XPATHS]:
        for attribute, literal in re.findall(r"@([\w-]+)\s*=\s*'([^']*)'", x.path):
            words.setdefault(attribute, set()).add(literal)
        for attribute, literal in re.findall(r"contains\(@([\w-]+),\s*'([^']*)'\)", x.path):
            words.setdefault(attribute, set()).add(literal)
        for attribute, pattern in re.findall(r"re:test\(@([\w-]+),\s*'([^']*)'\)", x.path):
            for end in (0, -1):  # `[Aa]` as its first letter, then its last
                plain = re.sub(r"\[([^\]]*)\]", lambda m, end=end: m.group(1)[end], pattern)
                for dash in ("-", ""):
                    words.setdefault(attribute, set()).update(
                        w for w in re.split(r"[|^?():]+", plain.replace("-?", dash)) if w)
    return {attribute: sorted(ws) for attribute, ws in words.items()}


_VOCABULARY = _vocabulary()
_ALL_WORDS = sorted({w for ws in _VOCABULARY.values() for w in ws})
_JUNK = ["", " ", "-", "x", "X", "a", "A", "main ", " box", "me", "name"]


def _values(attribute: str) -> st.SearchStrategy[str]:
    own = st.sampled_from(_VOCABULARY.get(attribute, ["x"]))
    cut = st.tuples(own, st.integers(0, 4), st.integers(0, 4)).map(lambda t: t[0][t[1]: len(t[0]) - t[2]])
    return st.one_of(
        own, own, cut,
        st.tuples(st.sampled_from(_JUNK), own, st.sampled_from(_JUNK)).map("".join),
        st.tuples(own, st.sampled_from([" ", "-", ""]), st.sampled_from(_ALL_WORDS)).map("".join),
        st.sampled_from(_ALL_WORDS), st.sampled_from(_JUNK))


_TAGS = ["a", "address", "div", "link", "p", "span", "strong", "h3", "h4", "section", "author",
         "time", "figure", "rel", "li", "b"]
_ATTRIBUTES = st.lists(st.sampled_from(["id", "class", "rel", "itemprop", "data-testid", "data-component"]),
                       max_size=2, unique=True)
_TEXTS = st.sampled_from(["", "Ann Lee", "me", "By Bo Wu", "x" * 130])


@st.composite
def _element(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(st.sampled_from(_TAGS))
    attributes = "".join(f' {n}="{html.escape(draw(_values(n)))}"' for n in draw(_ATTRIBUTES))
    children = "".join(draw(st.lists(_element(depth + 1), max_size=2))) if depth < 2 else ""
    return f"<{tag}{attributes}>{html.escape(draw(_TEXTS))}{children}</{tag}>"


_PAGES = st.lists(_element(), min_size=1, max_size=4).map(
    lambda parts: f"<html><head><title>t</title></head><body>{''.join(parts)}</body></html>")


@settings(max_examples=150, deadline=None)
@given(_PAGES)
def test_each_function_selects_what_its_xpath_selects(page: str) -> None:
    """On generated pages: the same elements, in the same order, for each expression; and the
    same author as extract_author."""
    assert SELECTORS is not None
    tree = lxml.html.document_fromstring(page)
    assert SELECTORS.discarded(tree) == AUTHOR_DISCARD_XPATHS[0](tree)
    assert SELECTORS.names(tree) == [x(tree) for x in AUTHOR_XPATHS]
    assert author_of(tree) == extract_author(tree)


def test_every_word_of_every_test_on_every_tag() -> None:
    """Each tag with each attribute set to each word its tests name, exactly and off by a
    little (cut at either end, in other case, inside other words), and with a <rel> child: one
    page, and each function selects what its XPath selects on it."""
    assert SELECTORS is not None
    parts = []
    for tag in _TAGS:
        for attribute, words in _VOCABULARY.items():
            for word in words:
                for value in {word, word[1:], word[:-1], word.upper(), word.lower(), word.capitalize(),
                              f"x {word} y", f"{word}-x", f"x{word}"}:
                    parts.append(f'<{tag} {attribute}="{html.escape(value)}">Ann Lee</{tag}>')
        parts += [f"<{tag}><rel>me</rel>Bo Wu</{tag}>", f"<{tag}><rel>you</rel>Bo Wu</{tag}>",
                  f"<{tag}><rel> me</rel>Bo Wu</{tag}>", f"<{tag}><b><rel>me</rel></b>Bo Wu</{tag}>",
                  f"<{tag}><rel><i>m</i>e</rel>Bo Wu</{tag}>"]
    tree = lxml.html.document_fromstring(f"<html><body>{''.join(parts)}</body></html>")
    assert len(parts) > 5000
    discarded = SELECTORS.discarded(tree)
    assert discarded == AUTHOR_DISCARD_XPATHS[0](tree) and len(discarded) > 100
    names = SELECTORS.names(tree)
    assert names == [x(tree) for x in AUTHOR_XPATHS] and all(len(found) > 50 for found in names)


def test_the_generated_pages_reach_every_expression() -> None:
    """The generator above is not idle: each expression selects something on some page."""
    assert SELECTORS is not None
    page = ("<html><body><section class='sidebar x'><a rel='author'>A B</a></section>"
            "<div id='comment-list'>c</div><span data-component='Figure'>f</span>"
            "<p><rel>me</rel>Me Too</p><h4 class='byl'>Bo Wu</h4><li id='xAuthor'>C D</li>"
            "<b class='writer'>E F</b><author>G H</author></body></html>")
    tree = lxml.html.document_fromstring(page)
    discarded = SELECTORS.discarded(tree)
    assert [el.tag for el in discarded] == ["section", "div", "span"] == [el.tag for el in AUTHOR_DISCARD_XPATHS[0](tree)]
    names = SELECTORS.names(tree)
    assert [[el.tag for el in found] for found in names] == [["a", "p", "author"], ["h4"], ["li", "b"]]
    assert names == [x(tree) for x in AUTHOR_XPATHS]


@pytest.mark.parametrize("name", FIXTURES)
def test_it_finds_what_extract_author_finds_on_the_fixture_pages(name: str) -> None:
    page, _ = load(name)
    tree = _parse(page.html)
    prepare(tree)
    assert author_of(tree) == extract_author(tree)
