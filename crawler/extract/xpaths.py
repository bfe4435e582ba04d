"""trafilatura's pruning and body XPaths, compiled to Python walks that select the same elements.

trafilatura's main pass evaluates a dozen `.//*[...]` expressions over each page
(`OVERALL_DISCARD_XPATH`, `BODY_XPATH`, ...): libxml2 walks the tree and, for every element,
calls back into Python for each EXSLT `re:test` (lxml implements it with `re`), which builds a
Python list of attribute strings each time.  On the devset's pages these evaluations were 29 %
of `crawler.analyse`'s CPU.  The same tests written as a Python walk over `iterdescendants`
(tags filtered in C, an element without any of the tested attributes passed over at once)
select the same elements 1.6-4.3x faster (benchmarks/trafilatura_xpaths.py).

Nothing here is written out by hand: `compile_xpath` parses each expression's own text (its
`.path`) in the small part of XPath 1.0 these expressions use (descendant steps, `self::` and
descendant tests, attributes and their unions, `=`, `contains`, `starts-with`, `translate`,
`re:test`, `not`, `and`, `or`, positional `[n]`, unions of paths) and builds closures from it,
so the regular expressions and words are trafilatura's own, read at import.  An expression it
cannot parse stays an XPath, and so does any call the walk cannot take (an ElementTree rather
than an element, XPath variables) or that fails: a trafilatura with other expressions is slower
here, never wrong.  `install()` puts the compiled expressions in place of the XPaths in
trafilatura's own lists, which its functions iterate and call (`prune_unwanted_nodes`,
`_extract`): the one change this module makes to trafilatura, and the third place topicwatch
reaches inside it (see crawler/extract/core.py).  tests/test_xpaths.py checks that every
expression of those lists compiles, and that each selects what its XPath selects on generated
pages and on every fixture page; benchmarks/trafilatura_xpaths.py measures both.

XPath semantics kept: `.//*` is every element below the context element (not itself) in
document order; a string-valued `@a|@b` is the value of whichever of the two comes first in the
element's attributes (document order), "" when neither is there; `@a='x'` is false without @a;
`re:test(s, p, f)` is `re.search(p, s)` with IGNORECASE when `f` has "i" (lxml's EXSLT);
`.//*[p][n]` keeps the n-th child matching `p` of each parent; `(path)[n]` the n-th of the
whole set; a union is sorted into document order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from lxml import etree
from trafilatura import xpaths as _trafilatura_xpaths

log = logging.getLogger(__name__)

# the lists trafilatura's extraction (not its metadata pass) evaluates on every page
LISTS = ("BODY_XPATH", "OVERALL_DISCARD_XPATH", "TEASER_DISCARD_XPATH", "PRECISION_DISCARD_XPATH",
         "DISCARD_IMAGE_ELEMENTS", "COMMENTS_DISCARD_XPATH", "REMOVE_COMMENTS_XPATH",
         "REMOVE_COMMENTS_AND_LISTS_XPATH", "RAW_TREE_PRUNE_XPATH")
# an expression is worth compiling when it calls functions: a bare `.//header` is faster in C
_CALLS = re.compile(r"\b(?:re:test|contains|starts-with|translate)\(")

Element = etree._Element
Select = Callable[[Element], list[Element]]
Test = Callable[[Element], bool]
Value = Callable[[Element], str]


class Unsupported(ValueError):
    """The expression uses XPath this module does not compile."""


_TOKEN = re.compile(r"""\s*(?:
    (?P<string>'[^']*'|"[^"]*")
  | (?P<number>\d+)
  | (?P<descendants>\.//)
  | (?P<self>self::)
  | (?P<op>[()\[\]|@=,*])
  | (?P<name>[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)
)""", re.X)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise Unsupported(f"cannot read {text[pos:pos + 20]!r}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        out.append((kind, value[1:-1] if kind == "string" else value))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    # -- tokens
    def peek(self, offset: int = 0) -> tuple[str, str]:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else ("end", "")

    def at(self, kind: str, value: str | None = None, offset: int = 0) -> bool:
        k, v = self.peek(offset)
        return k == kind and (value is None or v == value)

    def take(self, kind: str, value: str | None = None) -> str:
        if not self.at(kind, value):
            raise Unsupported(f"expected {value or kind}, found {self.peek()[1]!r}")
        self.pos += 1
        return self.tokens[self.pos - 1][1]

    # -- paths: the whole expression
    def expression(self) -> Select:
        select = self.union()
        if not self.at("end"):
            raise Unsupported(f"unexpected {self.peek()[1]!r}")
        return select

    def union(self) -> Select:
        parts = [self.path()]
        while self.at("op", "|"):
            self.take("op", "|")
            parts.append(self.path())
        return parts[0] if len(parts) == 1 else _union(parts)

    def path(self) -> Select:
        if self.at("op", "("):
            self.take("op", "(")
            inner = self.union()
            self.take("op", ")")
            select = inner
            while self.at("op", "["):
                select = _nth_of_all(select, self.position())
            return select
        self.take("descendants")
        tag = "*" if self.at("op", "*") and self.take("op", "*") else self.take("name")
        tests: list[Test] = []
        nth = 0
        while self.at("op", "["):
            if self.at("number", offset=1):
                if nth:
                    raise Unsupported("two positions in one step")
                nth = self.position()
                continue
            if nth:
                raise Unsupported("a test after a position")
            self.take("op", "[")
            tests.append(self.or_test())
            self.take("op", "]")
        return _step(tag, tests, nth)

    def position(self) -> int:
        self.take("op", "[")
        n = int(self.take("number"))
        self.take("op", "]")
        if n < 1:
            raise Unsupported("position below 1")
        return n

    # -- tests: what goes between [ and ]
    def or_test(self) -> Test:
        tests = [self.and_test()]
        while self.at("name", "or"):
            self.take("name", "or")
            tests.append(self.and_test())
        if len(tests) == 1:
            return tests[0]
        tags = [getattr(t, "self_tags", None) for t in tests]
        if all(tags):  # self::a or self::b: one set lookup
            return _self_tags(frozenset().union(*tags))  # type: ignore[arg-type]

        def any_of(el: Element) -> bool:
            for t in tests:
                if t(el):
                    return True
            return False
        needs = [_needs(t) for t in tests]
        return _needing(any_of, frozenset().union(*needs) if all(needs) else None)  # type: ignore[arg-type]

    def and_test(self) -> Test:
        tests = [self.unary()]
        while self.at("name", "and"):
            self.take("name", "and")
            tests.append(self.unary())
        if len(tests) == 1:
            return tests[0]

        def all_of(el: Element) -> bool:
            for t in tests:
                if not t(el):
                    return False
            return True
        return _needing(all_of, next((n for t in tests if (n := _needs(t))), None))

    def unary(self) -> Test:
        if self.at("name", "not") and self.at("op", "(", 1):
            self.take("name")
            self.take("op", "(")
            inner = self.or_test()
            self.take("op", ")")
            return lambda el: not inner(el)
        if self.at("op", "("):
            self.take("op", "(")
            inner = self.or_test()
            self.take("op", ")")
            return inner
        if self.at("self"):
            self.take("self")
            return _self_tags(frozenset([self.take("name")]))
        if self.at("descendants"):  # a descendant exists: `.//h1`
            self.take("descendants")
            tag = self.take("name")
            return lambda el: next(el.iterdescendants(tag), None) is not None
        if self.at("op", "@"):
            names = self.attributes()
            if self.at("op", "="):
                self.take("op", "=")
                literal = self.take("string")
                if len(names) == 1:
                    name = names[0]
                    return _needing(lambda el: el.get(name) == literal, names)
                return _needing(lambda el: any(el.get(n) == literal for n in names), names)
            return _needing(lambda el: any(el.get(n) is not None for n in names), names)
        if self.at("name") and self.at("op", "(", 1):
            return self.function()
        raise Unsupported(f"test {self.peek()[1]!r}")

    def attributes(self) -> tuple[str, ...]:
        names = []
        self.take("op", "@")
        names.append(self.take("name"))
        while self.at("op", "|") and self.at("op", "@", 1):
            self.take("op", "|")
            self.take("op", "@")
            names.append(self.take("name"))
        return tuple(names)

    def function(self) -> Test:
        name = self.take("name")
        self.take("op", "(")
        value = self.value()
        self.take("op", ",")
        literal = self.take("string")
        flags = ""
        if name == "re:test" and self.at("op", ","):
            self.take("op", ",")
            flags = self.take("string")
        self.take("op", ")")
        test: Test
        if name == "contains":
            test, on_empty = (lambda el: literal in value(el)), literal == ""
        elif name == "starts-with":
            test, on_empty = (lambda el: value(el).startswith(literal)), literal == ""
        elif name == "re:test":
            search = re.compile(literal, re.UNICODE | (re.IGNORECASE if "i" in flags else 0)).search
            test, on_empty = (lambda el: search(value(el)) is not None), search("") is not None
            attribute = getattr(value, "attribute", None)
            if attribute and not on_empty:  # most elements lack it: no search of ""
                def test(el: Element) -> bool:
                    found = el.get(attribute)
                    return bool(found) and search(found) is not None
        else:
            raise Unsupported(f"function {name}")
        # true for an element without the attributes only when true for "" (and then for all)
        return _needing(test, None if on_empty else value.needs)  # type: ignore[attr-defined]

    def value(self) -> Value:
        """A string: attributes (`@a`, `@a|@b`) or `translate(value, 'from', 'to')`."""
        if self.at("op", "@"):
            return _attribute_value(self.attributes())
        if self.at("name", "translate"):
            self.take("name")
            self.take("op", "(")
            inner = self.value()
            self.take("op", ",")
            source = self.take("string")
            self.take("op", ",")
            target = self.take("string")
            self.take("op", ")")
            table = str.maketrans(source[:len(target)], target[:len(source)], source[len(target):])
            translated: Value = lambda el: inner(el).translate(table)  # noqa: E731
            translated.needs = inner.needs  # type: ignore[attr-defined]
            return translated
        raise Unsupported(f"value {self.peek()[1]!r}")


def _self_tags(tags: frozenset[str]) -> Test:
    def test(el: Element) -> bool:
        return el.tag in tags
    test.self_tags = tags  # type: ignore[attr-defined]
    return test


def _needing(test: Test, names: frozenset[str] | tuple[str, ...] | None) -> Test:
    """`test`, marked as false for any element that has none of the attributes `names`
    (None: no such set is known)."""
    test.needs = frozenset(names) if names else None  # type: ignore[attr-defined]
    return test


def _needs(test: Test) -> frozenset[str] | None:
    return getattr(test, "needs", None)


def _attribute_value(names: tuple[str, ...]) -> Value:
    value: Value
    if len(names) == 1:
        name = names[0]
        value = lambda el: el.get(name) or ""  # noqa: E731
        value.attribute = name  # type: ignore[attr-defined]
    elif len(names) == 2:
        first, second = names

        def value(el: Element) -> str:
            a, b = el.get(first), el.get(second)
            if a is None:
                return b or ""
            if b is None:
                return a
            keys = el.keys()
            return a if keys.index(first) < keys.index(second) else b
    else:
        def value(el: Element) -> str:
            found = [(n, v) for n in names if (v := el.get(n)) is not None]
            if len(found) <= 1:
                return found[0][1] if found else ""
            keys = el.keys()
            return min(found, key=lambda nv: keys.index(nv[0]))[1]
    value.needs = frozenset(names)  # type: ignore[attr-defined]
    return value


def _step(tag: str, tests: list[Test], nth: int) -> Select:
    """`.//tag[test]...[nth]`; the tags of a leading `self::a or self::b` test are filtered in C
    by `iterdescendants`.  The function has the matches as a generator too (`.matches`), for
    `(path)[n]` to stop at the n-th."""
    tags: tuple[Any, ...] = (etree.Element,) if tag == "*" else (tag,)
    if tag == "*" and tests and getattr(tests[0], "self_tags", None):
        tags, tests = tuple(sorted(tests[0].self_tags)), tests[1:]  # type: ignore[attr-defined]
    needs = next((n for t in tests if (n := _needs(t))), None)

    def matches(context: Element) -> Iterator[Element]:
        for el in context.iterdescendants(*tags):
            if needs is not None:  # most elements have none of the attributes tested
                keys = el.keys()
                if not keys or needs.isdisjoint(keys):
                    continue
            for t in tests:
                if not t(el):
                    break
            else:
                yield el

    def select(context: Element) -> list[Element]:
        if not nth:
            return list(matches(context))
        seen: dict[Element, int] = {}  # parent -> its children matching so far
        kept = []
        for el in matches(context):
            count = seen[parent] = seen.get(parent := el.getparent(), 0) + 1
            if count == nth:
                kept.append(el)
        return kept
    if not nth:
        select.matches = matches  # type: ignore[attr-defined]
    return select


def _nth_of_all(select: Select, n: int) -> Select:
    matches = getattr(select, "matches", None)
    if matches is not None:
        return lambda context: list(islice(matches(context), n - 1, n))
    return lambda context: select(context)[n - 1:n]


def _union(parts: list[Select]) -> Select:
    def select(context: Element) -> list[Element]:
        found = [r for r in (part(context) for part in parts) if r]
        if len(found) <= 1:
            return found[0] if found else []
        order = {el: i for i, el in enumerate(context.iter())}
        return sorted({el: None for r in found for el in r}, key=order.__getitem__)
    return select


def compile_xpath(text: str) -> Select:
    """A function selecting what the XPath `text` selects from an element; raises Unsupported
    for XPath beyond what this module reads (see the module docstring)."""
    return _Parser(text).expression()


class Compiled:
    """An XPath's stand-in in trafilatura's lists: called as the XPath is (`expr(tree)`), it
    walks in Python; anything the walk cannot take goes to the XPath itself."""

    __slots__ = ("path", "select", "xpath")

    def __init__(self, xpath: etree.XPath, select: Select) -> None:
        self.xpath, self.select, self.path = xpath, select, xpath.path

    def __call__(self, tree: Any, **variables: Any) -> Any:
        if variables or not isinstance(tree, Element) or not isinstance(tree.tag, str):
            return self.xpath(tree, **variables)
        try:
            return self.select(tree)
        except Exception:  # a bug here must not cost a page: the XPath decides
            log.debug("compiled %s failed; using the XPath", self.path.strip()[:60], exc_info=True)
            return self.xpath(tree)

    def __repr__(self) -> str:
        return f"Compiled({self.path.strip()[:60]!r})"


def compiled(xpath: Any) -> Compiled | None:
    """`xpath` compiled, or None when it is not an XPath worth compiling or cannot be."""
    if isinstance(xpath, Compiled) or not isinstance(xpath, etree.XPath) or not _CALLS.search(xpath.path):
        return None
    try:
        return Compiled(xpath, compile_xpath(xpath.path))
    except Unsupported as e:
        log.debug("trafilatura XPath left as it is (%s): %s", e, xpath.path.strip()[:80])
        return None


def install() -> list[str]:
    """Put the compiled expressions in trafilatura's lists (once per process); the names of
    those replaced, as "LIST[i]"."""
    done = []
    for name in LISTS:
        expressions = getattr(_trafilatura_xpaths, name, None)
        if not isinstance(expressions, list):
            continue
        for i, xpath in enumerate(expressions):
            if isinstance(xpath, Compiled):
                done.append(f"{name}[{i}]")
            elif (stand_in := compiled(xpath)) is not None:
                expressions[i] = stand_in
                done.append(f"{name}[{i}]")
    return done


def uninstall() -> None:
    """Put trafilatura's own XPaths back (benchmarks and tests compare the two)."""
    for name in LISTS:
        expressions = getattr(_trafilatura_xpaths, name, None)
        if isinstance(expressions, list):
            expressions[:] = [x.xpath if isinstance(x, Compiled) else x for x in expressions]
