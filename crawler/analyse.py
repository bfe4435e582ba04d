"""One fetched page -> a verdict: an item for the spool, or a skip with its reason.

decode (crawler/text/charset.py) -> extract (crawler/extract/) -> the age limit -> topics
(crawler/topics.py) -> the kept text's dedup keys (crawler/dedup.py), for ingest.  A pure
function of its arguments, with no Scrapy and no SQLite, so the crawl can run it away from
the thread that downloads (and tests can run it alone).  It never raises: a bug met on one
page becomes that page's `processing-error`, retried in later runs.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from crawler import faults
from crawler.config import Topic
from crawler.errors import NotAnArticle
from crawler.extract import extract
from crawler.extract.metadata import MAX_TITLE_CHARS
from crawler.records import Fetched, Outcome, Page, SkipReason, SpoolItem, Verdict
from crawler.text.charset import decode_body
from crawler.text.dates import is_too_old
from crawler.topics import fingerprints, match_topics

if TYPE_CHECKING:  # the crawl passes one; its module is imported when it is unpickled
    from crawler.dedup import NearDup

log = logging.getLogger(__name__)

# Content types an article may come as; an absent one is judged by the bytes, and so is one
# that only says "some bytes" (servers send HTML as application/octet-stream)
HTML_TYPES = ("text/html", "application/xhtml", "text/plain")
UNSPECIFIC_TYPES = ("application/octet-stream", "binary/octet-stream", "application/unknown",
                    "unknown/unknown", "application/x-unknown-content-type")
_HTML_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta|title)\b",
                         re.IGNORECASE | re.DOTALL)


def looks_like_html(body: bytes) -> bool:
    """Whether the bytes start as an HTML page does (after a UTF-8 BOM, spaces, comments)."""
    return _HTML_START.match(body[:2048]) is not None


def analyse(fetched: Fetched, topics: Sequence[Topic], max_age_days: int = 0,
            max_title_chars: int = MAX_TITLE_CHARS, near: NearDup | None = None) -> Verdict:
    """The verdict on one article response (see the module docstring); with `near`, an item
    carries its text's dedup keys (`SpoolItem.dedup_keys`), so that ingest need not compute
    them."""
    faults.page_reached(fetched.url)
    try:
        return _analyse(fetched, topics, max_age_days, max_title_chars, near)
    except Exception as e:  # a bug met on this page: the crawl goes on
        log.exception("processing %s failed", fetched.url)
        return Verdict(reason=SkipReason.PROCESSING_ERROR, detail=f"{type(e).__name__}: {e}"[:300],
                       outcome=Outcome.RETRY)


# what states a publication date for its entries (a plain sitemap's date is its lastmod)
DATED_BY = ("feed", "news-sitemap", "search")


def _listed_as_recent(fetched: Fetched, max_age_days: int) -> bool:
    """Whether the feed (or news sitemap, or search feed) that listed the page gave it a date
    within the limit.  A page whose own date is older is then kept, not dropped as too old:
    the date read off a page can be the wrong one (a stale date in a site's top bar, a related
    story's), and a new article lost is worse than an old one kept.  A plain sitemap's lastmod
    does not count: a site re-dates its whole sitemap when a template changes."""
    entry = fetched.entry
    return bool(entry and entry.published and fetched.via in DATED_BY
                and not is_too_old(entry.published, max_age_days))


def _analyse(fetched: Fetched, topics: Sequence[Topic], max_age_days: int,
             max_title_chars: int, near: NearDup | None) -> Verdict:
    ctype = (fetched.content_type or "").split(";")[0].strip().lower()
    if ctype and not ctype.startswith(HTML_TYPES) and not (
            ctype in UNSPECIFIC_TYPES and looks_like_html(fetched.body)):
        return Verdict(reason=SkipReason.NOT_HTML, detail=ctype, outcome=Outcome.NOT_ARTICLE)
    try:
        article = extract(page_of(fetched), max_title_chars)
    except NotAnArticle as e:
        return Verdict(reason=e.reason, detail=e.detail, outcome=Outcome.NOT_ARTICLE)
    entry = fetched.entry
    if entry and not article.published and entry.published:
        article = dataclasses.replace(article, published=entry.published)
    if is_too_old(article.published, max_age_days) and not _listed_as_recent(fetched, max_age_days):
        return Verdict(article=article, reason=SkipReason.TOO_OLD,
                       detail=f"published {article.published}", outcome=Outcome.TOO_OLD)
    matches, tested = match_topics(article, topics), fingerprints(topics)
    if not matches:
        return Verdict(article=article, reason=SkipReason.OFF_TOPIC, detail="matches no topic",
                       outcome=Outcome.OFF_TOPIC, tested=tested)
    item = SpoolItem(article=article, matches=matches, requested_url=fetched.requested_url,
                     tested=tested, dedup_keys=near.dedup_keys(article.text) if near else None)
    return Verdict(item=item, article=article, tested=tested)


def page_of(fetched: Fetched) -> Page:
    """The response decoded to text (see crawler/text/charset.py)."""
    html, encoding = decode_body(fetched.body, fetched.content_type, fetched.encoding)
    return Page(url=fetched.url, source=fetched.source, html=html, status=fetched.status,
                encoding=encoding, requested_url=fetched.requested_url, entry=fetched.entry,
                language_hint=fetched.language_hint, fetched_at=fetched.fetched_at, via=fetched.via)
