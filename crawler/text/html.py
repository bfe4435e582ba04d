"""Decoded HTML -> an lxml tree, the one way every stage parses a page."""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from crawler.text.binary import strip_controls

_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")


def parse_html(html: str) -> lxml.html.HtmlElement | None:
    """The document tree of `html`, or None when nothing can be parsed.

    lxml refuses a `str` that starts with an XML declaration naming an encoding, and text
    holding NUL or other control characters; all are common in what sites serve as HTML."""
    html = _XML_DECL_RE.sub("", strip_controls(html))
    if not html.strip():
        return None
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None
