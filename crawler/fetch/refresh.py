"""Scrapy's meta-refresh redirects, without decoding every page to look for one.

Scrapy's `MetaRefreshMiddleware` looks for `<meta http-equiv="refresh">` in
`response.text[0:4096]`: it decodes the whole body (a 1 MB page whose charset is not declared is
decoded twice, once to guess it) to read its first 4,096 characters, on the crawl's own thread,
and the text stays on the response while its page waits for a worker.  On the devset's real
pages that was 6 % of the crawl process's CPU.

A refresh is declared with the ASCII word "refresh", which sits within the first
`4 x 4,096` bytes of any body whose encoding writes ASCII as ASCII (UTF-8, GBK, GB18030, Big5
and the single-byte ones take at most four bytes a character).  So a body whose head holds
neither that word (in any case) nor a NUL byte (UTF-16 and UTF-32 write ASCII with NULs) has no
refresh for Scrapy to find: it goes on untouched.  Any other body gets Scrapy's own check,
unchanged (tests/test_fetch.py compares the two on generated pages).

A page that refreshes itself (a news page reloading every minute, or `0;url=` its own URL) is
the page, not a redirect: Scrapy would follow it until its redirect limit and record the
article as a redirect loop. And `METAREFRESH_MAXDELAY` is 10 s (crawler/fetch/settings.py;
Scrapy's 100 s follows a page that only reloads itself after a minute to another URL, where a
browser shows the page): redirect pages wait a few seconds at most.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.http import HtmlResponse, Response
from scrapy.utils.response import get_meta_refresh

# the bytes that can hold Scrapy's 4,096 characters in an ASCII-compatible encoding
HEAD_BYTES = 4 * 4096


def may_refresh(body: bytes) -> bool:
    """Whether Scrapy's check could find a refresh in this body (see the module docstring)."""
    head = body[:HEAD_BYTES]
    return b"\x00" in head or b"refresh" in head.lower()


class QuickMetaRefresh(MetaRefreshMiddleware):
    """`MetaRefreshMiddleware` for the pages that may declare a refresh (`may_refresh`), and
    not for a page refreshing itself."""

    def __init__(self, settings: Any):
        super().__init__(settings)
        # the tags Scrapy's check skips: the first lookup of a response is the cached one
        self.ignore_tags = settings.getlist("METAREFRESH_IGNORE_TAGS")

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if not may_refresh(response.body):
            return response
        if isinstance(response, HtmlResponse):
            _, url = get_meta_refresh(response, ignore_tags=self.ignore_tags)
            if url is not None and url.split("#")[0] == response.url.split("#")[0]:
                return response  # the page reloads itself: it is the page
        return super().process_response(request, response)
