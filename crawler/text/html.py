"""Decoded HTML -> an lxml tree, the one way every stage parses a page."""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")


def parse_html(html: str) -> lxml.html.HtmlElement | None:
    """The document tree of `html`, or None when nothing can be parsed.

    lxml refuses a `str` that starts with an XML declaration naming an encoding, and text
    holding NUL characters; both are common in what sites serve as HTML."""
    html = _XML_DECL_RE.sub("", html.replace("\x00", ""))
    if not html.strip():
        return None
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None
