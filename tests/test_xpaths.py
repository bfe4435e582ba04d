"""crawler/extract/xpaths.py: trafilatura's pruning and body XPaths compiled to Python walks,
which must select what the XPaths select, in the same order, on generated and fixture pages,
and leave alone what they cannot read."""

from __future__ import annotations

import html
import re
from pathlib import Path

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from trafilatura import xpaths as trafilatura_xpaths

import crawler.extract.core  # noqa: F401 (installs the compiled expressions, as the crawl does)
from crawler.extract import xpaths
from crawler.extract.xpaths import Compiled, Unsupported, compile_xpath, compiled
from crawler.text.html import parse_html

REGEXP_NS = {"re": "http://exslt.org/regular-expressions"}


def _installed() -> list[tuple[str, Compiled]]:
    found = []
    for name in xpaths.LISTS:
        for i, x in enumerate(getattr(trafilatura_xpaths, name)):
            if isinstance(x, Compiled):
                found.append((f"{name}[{i}]", x))
    return found


INSTALLED = _installed()


def test_every_expression_that_tests_attributes_is_compiled() -> None:
    """Each expression of the lists that calls a function (`re:test`, `contains`, ...) was
    compiled; the rest are plain paths, left to libxml2.  A trafilatura whose expressions use
    XPath the compiler does not read fails here (and runs with its own XPaths meanwhile)."""
    left = [(name, i, x.path) for name in xpaths.LISTS
            for i, x in enumerate(getattr(trafilatura_xpaths, name)) if not isinstance(x, Compiled)]
    assert all(not re.search(r"\b(?:re:test|contains|starts-with|translate)\(", path)
               for _, _, path in left), left
    assert len(INSTALLED) >= 15
    names = {name for name, _ in INSTALLED}
    assert {"OVERALL_DISCARD_XPATH[0]", "OVERALL_DISCARD_XPATH[1]", "BODY_XPATH[0]"} <= names


def test_install_is_idempotent_and_uninstall_puts_the_xpaths_back() -> None:
    before = [list(getattr(trafilatura_xpaths, name)) for name in xpaths.LISTS]
    try:
        assert len(xpaths.install()) == len(INSTALLED)  # nothing compiled twice
        assert [list(getattr(trafilatura_xpaths, name)) for name in xpaths.LISTS] == before
        xpaths.uninstall()
        assert not any(isinstance(x, Compiled) for name in xpaths.LISTS
                       for x in getattr(trafilatura_xpaths, name))
        assert all(isinstance(x, etree.XPath) for x in trafilatura_xpaths.OVERALL_DISCARD_XPATH)
    finally:
        xpaths.install()
    assert len(_installed()) == len(INSTALLED)


@pytest.mark.parametrize("text", [
    "//p//text()",  # absolute, text nodes
    ".//*[last()]",
    ".//p[@a][1][@b]",  # a test after a position
    ".//*[following-sibling::p]",
    ".//*[string-length(@class) > 3]",
    ".//*[@class!='x']",
    ".//a/b",
])
def test_what_it_does_not_read_stays_an_xpath(text: str) -> None:
    with pytest.raises(Unsupported):
        compile_xpath(text)
    assert compiled(etree.XPath(text)) is None


def test_a_call_it_cannot_take_goes_to_the_xpath() -> None:
    """An ElementTree (not an element), XPath variables, or a walk that fails: the XPath answers."""
    xpath = etree.XPath(".//*[contains(@class, $word)]")
    tree = lxml.html.document_fromstring("<html><body><p class='ab'>x</p><p class='c'>y</p></body></html>")
    calls: list[object] = []

    def broken(context: object) -> list:
        calls.append(context)
        raise RuntimeError("a bug in the walk")

    stand_in = Compiled(xpath, broken)
    assert [el.get("class") for el in stand_in(tree, word="a")] == ["ab"] and calls == []
    assert stand_in(tree.getroottree(), word="b") == xpath(tree.getroottree(), word="b")
    plain = Compiled(etree.XPath(".//p"), broken)
    assert [el.text for el in plain(tree)] == ["x", "y"] and calls == [tree]


# -- the semantics, on expressions written here --------------------------------------------------

OWN = [
    ".//*[self::div or self::p][re:test(@id|@class, '^x')][2]",
    "(.//*[self::div or self::p][re:test(@id|@class, '^x')])[2]",
    "(.//p)[2]|(.//div)[1]",
    ".//*[contains(translate(@class, 'ABQ', 'ab'), 'ab')]",
    ".//*[re:test(@class, 'X y', 'i') and not(.//h1)]",
    ".//*[starts-with(@id|@style|@class, 'x')]",
    ".//*[@class='x y' or @data-k][not(self::p or self::span) or re:test(@id, '^$')]",
    ".//p[re:test(@class, '^$|z')]",
    ".//*[@id|@class='x']",
]
_OWN_TAGS = ["div", "p", "span", "h1", "b"]
_OWN_VALUES = ["x", "X", "xy", "x y", "X Y", "ab", "AB", "aQb", "z", "", " x", "y x", "Ab"]


def _pages(tags: list[str], attributes: list[str], values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """One to four trees of elements (three levels deep) of `tags`, each with up to three of
    `attributes`, in any order, set to `values`."""
    @st.composite
    def element(draw: st.DrawFn, depth: int = 0) -> str:
        tag = draw(st.sampled_from(tags))
        names = draw(st.lists(st.sampled_from(attributes), max_size=3, unique=True))
        attrs = "".join(f' {n}="{html.escape(draw(values))}"' for n in names)
        children = "".join(draw(st.lists(element(depth + 1), max_size=3))) if depth < 3 else ""
        return f"<{tag}{attrs}>t{children}</{tag}>"
    return st.lists(element(), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(_pages(_OWN_TAGS, ["id", "class", "style", "data-k"], st.sampled_from(_OWN_VALUES)))
def test_positions_unions_translate_flags_and_attribute_order(parts: list[str]) -> None:
    """Per-parent `[n]`, whole-set `(...)[n]`, unions in document order, `translate` with
    deleted letters, the `i` flag, `not(.//h1)`, and `@a|@b` as whichever comes first."""
    tree = lxml.html.document_fromstring(f"<html><body>{''.join(parts)}</body></html>")
    for text in OWN:
        assert compile_xpath(text)(tree) == etree.XPath(text, namespaces=REGEXP_NS)(tree), text


def test_attribute_order_decides_a_union_value() -> None:
    tree = lxml.html.document_fromstring(
        "<html><body><p id='x1' class='q'>a</p><p class='q' id='x2'>b</p></body></html>")
    text = ".//p[starts-with(@id|@class, 'x')]"
    assert [el.text for el in compile_xpath(text)(tree)] == ["a"]
    assert compile_xpath(text)(tree) == etree.XPath(text)(tree)


# -- trafilatura's own expressions ---------------------------------------------------------------

def _vocabulary() -> tuple[list[str], list[str], list[str]]:
    """Tags, attribute names and words the installed expressions test, read from them: the
    literals, and the words of their regular expressions (with `[Aa]` as either letter and
    `-?` as "-" and "")."""
    tags, attributes, words = {"h1", "p", "a", "li", "b"}, set(), set()
    for _, x in INSTALLED:
        tags.update(re.findall(r"(?:self::|\.//)([a-z][\w-]*)", x.path))
        attributes.update(re.findall(r"@([\w-]+)", x.path))
        for literal in re.findall(r"'([^']*)'", x.path):
            for end in (0, -1):
                plain = re.sub(r"\[([^\]]*)\]", lambda m, end=end: m.group(1)[end] if m.group(1) else "", literal)
                for dash in ("-", ""):
                    words.update(w for w in re.split(r"[|^?():$\\]+|\(\?:", plain.replace("-?", dash)) if w)
    return sorted(tags), sorted(attributes), sorted(words)


_TAGS, _ATTRIBUTES, _WORDS = _vocabulary()
_JUNK = ["", " ", "-", "x", "X", "a ", " b", "_", "main", "content"]


def _value() -> st.SearchStrategy[str]:
    word = st.sampled_from(_WORDS)
    return st.one_of(
        word,
        st.tuples(st.sampled_from(_JUNK), word, st.sampled_from(_JUNK)).map("".join),
        st.tuples(word, st.sampled_from([" ", "-", ""]), word).map("".join),
        st.tuples(word, st.integers(0, 3)).map(lambda t: t[0][t[1]:]),
        word.map(str.upper), word.map(str.capitalize), st.sampled_from(_JUNK))


@settings(max_examples=120, deadline=None)
@given(_pages(_TAGS, _ATTRIBUTES, _value()))
def test_each_compiled_expression_selects_what_its_xpath_selects(parts: list[str]) -> None:
    """On generated pages of the tags, attributes and words the expressions test (in any
    attribute order): the same elements, in the same order, from the root and from <body>."""
    tree = lxml.html.document_fromstring(f"<html><body>{''.join(parts)}</body></html>")
    body = tree.find("body")
    for name, x in INSTALLED:
        for context in (tree, body):
            assert x.select(context) == x.xpath(context), name


def test_every_word_of_every_expression_on_every_tag() -> None:
    """Each tag with each attribute set to each word, exactly and off by a little, in one
    page: every compiled expression selects what its XPath selects, and most select something."""
    parts = []
    for tag in _TAGS:
        for attribute in _ATTRIBUTES:
            for word in _WORDS:
                for value in {word, word[1:], word.upper(), f"x {word}-x"}:
                    parts.append(f'<{tag} {attribute}="{html.escape(value)}">t</{tag}>')
        parts.append(f"<{tag} class='x' id='x'><{tag} class='x'><h1>h</h1></{tag}></{tag}>")
    tree = lxml.html.document_fromstring(f"<html><body>{''.join(parts)}</body></html>")
    assert len(parts) > 5000
    selecting = 0
    for name, x in INSTALLED:
        found = x.select(tree)
        assert found == x.xpath(tree), name
        selecting += bool(found)
    assert selecting >= len(INSTALLED) - 2


def _fixture_pages() -> list[Path]:
    root = Path(__file__).parent
    return sorted(p for p in root.rglob("*.html") if p.stat().st_size < 2_000_000)


@pytest.mark.parametrize("path", _fixture_pages(), ids=lambda p: p.name)
def test_on_every_fixture_page(path: Path) -> None:
    tree = parse_html(path.read_bytes().decode("utf-8", errors="replace"))
    assert tree is not None
    for name, x in INSTALLED:
        assert x.select(tree) == x.xpath(tree), name
