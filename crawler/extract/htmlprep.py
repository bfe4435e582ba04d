"""Pre-cleaning the parsed page before trafilatura sees it, and the page as a reader sees it.

Old Chinese portals lay pages out in tables, wrap the whole body in one ASP.NET <form>, and
write `text<br><br>text` straight into a <div>/<td>; trafilatura's precision mode skips such
text or joins table cells into one " | " line. `prepare` turns those into plain blocks and
<p>s in place. `visible_lines` gives the page's text one line per block, where bylines are
looked for (trafilatura drops them from the main text).
"""

from __future__ import annotations

import lxml.html

from crawler.text.binary import has_controls, strip_controls

_CONTAINER_TAGS = tuple(
    "div td th article section body center blockquote font span main form dd li".split()
)
_INLINE_TAGS = frozenset(
    "a abbr b big cite code em font i img kbd mark q s small span strong sub sup time u".split()
)
_LOOSE_TEXT = 100  # characters of running text outside <p> that make a container a paragraph
_LAYOUT_CELL = 150  # a table cell with more text than this holds running text, not data


def scrub(tree: lxml.html.HtmlElement) -> None:
    """Remove the control characters character references put back (`&#x1b;` parses to
    ESC): lxml refuses to set such text later, trafilatura discards the document."""
    for el in tree.iter():
        if el.text and has_controls(el.text):
            el.text = strip_controls(el.text)
        if el.tail and has_controls(el.tail):
            el.tail = strip_controls(el.tail)
        for key, value in el.attrib.items() if isinstance(el.tag, str) else ():
            if has_controls(value):
                el.set(key, strip_controls(value))


def prepare(tree: lxml.html.HtmlElement) -> None:
    """Drop what is never text; turn layout tables and page-wide forms into plain blocks and
    loose `<br>`-separated text into <p>s."""
    for el in tree.xpath(
        "//script[not(@type='application/ld+json')]|//style|//noscript|//template|//comment()"
    ):
        if el.getparent() is not None:  # a comment before <html> has none: drop_tree asserts
            el.drop_tree()
    total = len(tree.text_content())
    for form in tree.iter("form"):
        if total and len(form.text_content()) > total / 2:
            form.tag = "div"  # ASP.NET wraps the whole body in one <form>
    for table in tree.xpath("//table"):
        if _is_layout_table(table):
            _unwrap_table(table)
    for el in list(tree.iter(*_CONTAINER_TAGS)):
        if _has_loose_text(el):
            _paragraphise(el)


def _is_layout_table(table: lxml.html.HtmlElement) -> bool:
    """A table used for page layout: it holds another table or a cell of running text."""
    if table.find(".//table") is not None:
        return True
    cells = table.xpath("./tr/td|./*/tr/td")
    return any(len(cell.text_content().strip()) > _LAYOUT_CELL for cell in cells)


def _unwrap_table(table: lxml.html.HtmlElement) -> None:
    """The table, its row groups, rows and cells (not those of nested tables) become <div>s."""
    for el in table.xpath(
        ".|./tbody|./thead|./tfoot|./tr|./*/tr|./tr/td|./tr/th|./*/tr/td|./*/tr/th"
    ):
        el.tag = "div"


def _has_loose_text(el: lxml.html.HtmlElement) -> bool:
    """Running text sits directly in `el` (not in <p>): in its text and tails, or in inline
    children (links aside: a <br>-separated column of links is navigation) between <br>s."""
    loose = len((el.text or "").strip()) + sum(len((c.tail or "").strip()) for c in el)
    if loose >= _LOOSE_TEXT:
        return True
    if el.find("br") is None:
        return False
    inline = sum(
        len(c.text_content().strip()) for c in el if c.tag in _INLINE_TAGS and c.tag != "a"
    )
    return loose + inline >= _LOOSE_TEXT


def _paragraphise(el: lxml.html.HtmlElement) -> None:
    """Wrap the loose text of `el` into <p> elements, one per <br>-separated run of text and
    inline children; block children stay where they were, between the new <p>s."""
    pieces: list[object] = [el.text]
    for child in list(el):
        pieces += [child, child.tail]
        child.tail = None
        el.remove(child)
    el.text = None
    run: list[object] = []
    for piece in pieces:
        if piece is None:
            continue
        if isinstance(piece, str) or piece.tag in _INLINE_TAGS:
            run.append(piece)
            continue
        _flush_run(el, run)
        if piece.tag != "br":
            el.append(piece)
    _flush_run(el, run)


def _flush_run(el: lxml.html.HtmlElement, run: list[object]) -> None:
    """Append `run` (strings and inline elements) to `el` as one <p>, unless it is blank."""
    if any(not isinstance(x, str) or x.strip() for x in run):
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


def visible_lines(tree: lxml.html.HtmlElement) -> list[str]:
    """The page's text, one line per block, pinyin removed: where bylines are looked for.
    Walked with the block lines, in `crawler.extract.classify.page_text`."""
    from crawler.extract.classify import page_text

    return page_text(tree)[1]
