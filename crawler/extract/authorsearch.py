"""trafilatura's author search (`trafilatura.metadata.extract_author`), in one pass of Python.

extract_author finds a page's author in three steps: a copy of the tree pruned by
`AUTHOR_DISCARD_XPATHS`, the first short text `AUTHOR_XPATHS` select in it
(`extract_metainfo`), then `normalize_authors`.  Four of those five XPaths are `//*[...]`:
libxml2 walks the whole tree for each and tests every element against a chain of `self::`,
attribute and EXSLT regular-expression tests.  That took 15 ms a devset page, 14 % of
`crawler.analyse`'s CPU, more than any step of topicwatch's own.  (The regular expressions are
not the cost: the same XPaths with `contains()` in their place took as long.)

So `author_of` runs extract_author's own steps (trafilatura's `prune_unwanted_nodes`,
`extract_metainfo` and `normalize_authors`; each calls its expressions with the tree and goes
through the elements they return, so a Python function can stand in for an XPath) with the four
written as one walk that reads each element's tag and attributes once and selects, for each
expression, the same elements in document order (`_Selectors`; `//time|//figure` stays an
XPath).  The regular expressions are trafilatura's own, read from its expressions (`re:test`
is Python's `re.search` in lxml too); the rest is written out here, for trafilatura 2.3.
Over the devset's 588 pages: the same author on every page, 3.2 s instead of 9.0 s, and
analyse's CPU down 10-15 % (alternating runs of benchmarks/real_pages.py).

This holds only while trafilatura's expressions and extract_author's body are those it was
written for: both are checked (by digest) at import, and when either has changed, `author_of`
is extract_author itself.  tests/test_authorsearch.py fails on such a change, and checks that
each function selects what its XPath selects: every word the XPaths test on every tag, and
generated pages, where the author found is extract_author's too, as on the fixture pages.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Callable
from copy import deepcopy

import lxml.html
from lxml import etree
from trafilatura.htmlprocessing import prune_unwanted_nodes
from trafilatura.metadata import extract_author, extract_metainfo, normalize_authors
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS, AUTHOR_XPATHS

# sha256 of extract_author's source, and of the expressions' paths (discard ones first), as in
# trafilatura 2.3.1: `python -c "from crawler.extract import authorsearch as a; print(a.digests())"`
STEPS_DIGEST = "e356580cb8515cbb"
XPATHS_DIGEST = "29298d1fa7279c60"
_RE_TEST = re.compile(r"re:test\(\s*@([\w-]+)\s*,\s*'([^']*)'\s*\)")

Select = Callable[[lxml.html.HtmlElement], list[lxml.html.HtmlElement]]


def digests() -> tuple[str, str]:
    """The digests of the installed trafilatura's extract_author and author XPaths."""
    paths = "\n".join(x.path for x in [*AUTHOR_DISCARD_XPATHS, *AUTHOR_XPATHS])
    return (hashlib.sha256(inspect.getsource(extract_author).encode()).hexdigest()[:16],
            hashlib.sha256(paths.encode()).hexdigest()[:16])


def _patterns(expression: etree.XPath) -> dict[str, re.Pattern[str]]:
    """The `re:test` regular expressions of `expression`, by attribute."""
    return {attribute: re.compile(pattern) for attribute, pattern in _RE_TEST.findall(expression.path)}


class _Test:
    """`re:test(@attribute, pattern)`, where an absent attribute is the empty string: `search`
    for a value that is not empty, else `on_empty` (most elements have no class or id)."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.search = pattern.search
        self.on_empty = pattern.search("") is not None


class _Selectors:
    """The five expressions as functions (AUTHOR_DISCARD_XPATHS' `//time|//figure` stays an
    XPath: it tests no attribute), the three author ones found in one walk (`names`)."""

    DISCARD_TAGS = frozenset({"a", "div", "section", "span"})
    SPECIFIC_TAGS = frozenset({"a", "address", "div", "link", "p", "span", "strong"})
    GENERIC_TAGS = frozenset({"a", "div", "h3", "h4", "p", "span"})

    def __init__(self) -> None:
        discard = _patterns(AUTHOR_DISCARD_XPATHS[0])
        specific, generic, last = (_patterns(x) for x in AUTHOR_XPATHS)
        self.discard_id, self.discard_class = _Test(discard["id"]), _Test(discard["class"])
        self.name_class = _Test(specific["class"])
        self.generic_id, self.generic_class = _Test(generic["id"]), _Test(generic["class"])
        self.last_id, self.last_class = _Test(last["id"]), _Test(last["class"])
        self.discard: list[Select] = [self.discarded, AUTHOR_DISCARD_XPATHS[1]]

    def discarded(self, tree: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
        """AUTHOR_DISCARD_XPATHS[0]: `.//*`, below the tree's root, not the root itself."""
        found = []
        tags, by_id, by_class = self.DISCARD_TAGS, self.discard_id, self.discard_class
        for el in tree.iterdescendants(etree.Element):
            if el.tag in tags:
                get = el.get
                id_, class_ = get("id"), get("class")
                if (id_ == "comments" or class_ in ("comments", "title", "date")
                        or (by_id.search(id_) is not None if id_ else by_id.on_empty)
                        or (by_class.search(class_) is not None if class_ else by_class.on_empty)
                        or "Figure" in (get("data-component") or "")):
                    found.append(el)
        return found

    def names(self, tree: lxml.html.HtmlElement) -> list[list[lxml.html.HtmlElement]]:
        """What each of AUTHOR_XPATHS selects (`//*`: every element of the tree's document),
        in document order."""
        specific: list[lxml.html.HtmlElement] = []
        generic: list[lxml.html.HtmlElement] = []
        last: list[lxml.html.HtmlElement] = []
        root = tree.getroottree().getroot()
        # `rel='me'`: a child element <rel> whose string value is "me"
        rel_me = {rel.getparent() for rel in root.iter("rel") if rel.xpath("string()") == "me"}
        name_class, generic_id, generic_class = self.name_class, self.generic_id, self.generic_class
        last_id, last_class = self.last_id, self.last_class
        for el in root.iter(etree.Element):
            tag, get = el.tag, el.get
            id_, class_, itemprop = get("id"), get("class"), get("itemprop") or ""
            # each `re:test` once, and only when it can decide
            if id_:
                generic_by_id = generic_id.search(id_) is not None
                last_by_id = last_id.search(id_) is not None
            else:
                generic_by_id, last_by_id = generic_id.on_empty, last_id.on_empty
            if tag == "author" or tag in self.SPECIFIC_TAGS and (
                    get("rel") == "author" or id_ == "author" or class_ == "author"
                    or itemprop == "author name" or get("data-testid") in ("AuthorCard", "AuthorURL")
                    or (name_class.search(class_) is not None if class_ else name_class.on_empty)
                    or el in rel_me):
                specific.append(el)
            if tag in self.GENERIC_TAGS and (
                    class_ in ("byline", "username", "byl", "BBL") or "author" in itemprop or generic_by_id
                    or (generic_class.search(class_) is not None if class_ else generic_class.on_empty)):
                generic.append(el)
            if ("Byline" in (get("data-component") or "") or "author" in itemprop or last_by_id
                    or (last_class.search(class_) is not None if class_ else last_class.on_empty)):
                last.append(el)
        return [specific, generic, last]


def _trafilatura_is_as_written() -> bool:
    try:
        return digests() == (STEPS_DIGEST, XPATHS_DIGEST)
    except (OSError, TypeError):  # no source to read (a frozen install): take no chances
        return False


SELECTORS = _Selectors() if _trafilatura_is_as_written() else None


def author_of(tree: lxml.html.HtmlElement) -> str | None:
    """What `trafilatura.metadata.extract_author(tree)` returns."""
    if SELECTORS is None:
        return extract_author(tree)
    subtree = prune_unwanted_nodes(deepcopy(tree), SELECTORS.discard)  # type: ignore[arg-type]
    found = SELECTORS.names(subtree)
    expressions = [lambda _, found=found[k]: found for k in range(3)]  # extract_metainfo's order
    author = extract_metainfo(subtree, expressions, len_limit=120)  # type: ignore[arg-type]
    if author:
        author = normalize_authors(None, author)
    return author
