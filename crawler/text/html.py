"""Decoded HTML -> an lxml tree, the one way every stage parses a page."""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from crawler.text.binary import strip_controls

_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")

# lxml.html's own parser picks each element's class in Python (HtmlElementClassLookup.lookup,
# to give <form>, <input>, <select>, <textarea> and <label> their form classes), once per
# element proxy: millions of calls per hundred pages, about 7 % of extraction's CPU, paid
# again in every trafilatura pass over the copied tree.  Nothing here or in trafilatura uses
# the form classes, so every element is a plain HtmlElement, chosen in C.  Still lxml.html's
# classes (trafilatura accepts only an HtmlElement tree) and parser, through public API.
_PARSER = lxml.html.HTMLParser()
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=lxml.html.HtmlElement,
        comment=lxml.html.HtmlComment,
        pi=lxml.html.HtmlProcessingInstruction,
        entity=lxml.html.HtmlEntity,
    )
)


def parse_html(html: str) -> lxml.html.HtmlElement | None:
    """The document tree of `html`, or None when nothing can be parsed.

    lxml refuses a `str` that starts with an XML declaration naming an encoding, and text
    holding NUL or other control characters; all are common in what sites serve as HTML."""
    html = _XML_DECL_RE.sub("", strip_controls(html))
    if not html.strip():
        return None
    try:
        return lxml.html.document_fromstring(html, parser=_PARSER)
    except (etree.ParserError, ValueError):
        return None
