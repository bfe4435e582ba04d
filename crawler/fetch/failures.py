"""What a failed download is called: its `skipped.reason`, and whether it is final.

Scrapy and Twisted name failures by exception type; a few only by message (robots.txt,
DOWNLOAD_MAXSIZE during decompression, the redirect limit), matched here in one place.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError
from twisted.internet.error import (
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure

from crawler.fetch.guard import PrivateAddress
from crawler.fetch.handler import HeadersTooLarge
from crawler.records import SkipReason, http_reason

FINAL_HTTP_ERRORS = (404, 410, 451)
# an article that failed for one of these is never fetched again
FINAL_REASONS = (SkipReason.TOO_LARGE, SkipReason.PRIVATE_ADDRESS, SkipReason.TOO_MANY_REDIRECTS)
# refusals counted as skipped pages, not as errors of the source
NOT_FAILURES = (SkipReason.PRIVATE_ADDRESS,)


def failure_reason(failure: Failure) -> tuple[str, int | None]:
    """The `skipped.reason` of a failed download, and its HTTP status when it had one."""
    if failure.check(HttpError):
        status = failure.value.response.status
        if _redirect_target(failure.value.response)[0] not in (None, "http", "https"):
            return SkipReason.PRIVATE_ADDRESS, status  # a redirect to file:, ftp:...: refused
        return http_reason(status), status
    if failure.check(PrivateAddress):
        return SkipReason.PRIVATE_ADDRESS, None
    if any(isinstance(e, HeadersTooLarge) for e in _causes(failure.value)):
        return SkipReason.TOO_LARGE, None
    if failure.check(IgnoreRequest):
        return _ignored(failure.getErrorMessage()), None
    if failure.check(TimeoutError, TCPTimedOutError, DownloadTimeoutError):
        return SkipReason.TIMEOUT, None
    if failure.check(DNSLookupError, CannotResolveHostError):  # Scrapy 2.14+ wraps it
        return SkipReason.DNS, None
    if failure.check(DownloadConnectionRefusedError, ConnectionRefusedError):
        return SkipReason.REFUSED, None
    if failure.check(DownloadCancelledError, CancelledError):  # past DOWNLOAD_MAXSIZE
        return SkipReason.TOO_LARGE, None
    return SkipReason.FETCH_ERROR, None


def is_final(reason: str, status: int | None) -> bool:
    """Whether a page that failed so is never asked for again: 404, 410, 451; a redirect
    Scrapy did not follow (no Location, or not to http(s)), which the next run gets again;
    and the FINAL_REASONS. A 304 to an unconditional request is tried again."""
    # a 304 reaching here answered a request that sent no validators: a confused server or
    # cache, which may answer properly next time
    return status in FINAL_HTTP_ERRORS or (status is not None and 300 <= status < 400
                                           and status != 304) or reason in FINAL_REASONS


def failure_detail(failure: Failure) -> str:
    """The `skipped.detail` of a failed download: what went wrong, in words (Twisted's
    ResponseFailed says nothing itself, and its repr lists Failure objects)."""
    error = failure.value
    if isinstance(error, HttpError) and error.response.status == 304:
        return "304 Not Modified to a request that sent no validators"
    if isinstance(error, HttpError) and 300 <= error.response.status < 400:
        scheme, location = _redirect_target(error.response)
        return (f"redirect not followed: Location {location}" if location else
                "a redirect without a Location header")[:300]
    message = failure.getErrorMessage()
    if getattr(error, "reasons", None) or not message.strip():
        return _describe(error)[:300]
    return message[:300]


def _describe(error: BaseException) -> str:
    """`Name: what it says`; the causes of a Twisted ResponseFailed / ResponseNeverReceived."""
    reasons = getattr(error, "reasons", None)
    if reasons:
        return "; ".join(dict.fromkeys(_describe(getattr(r, "value", r)) for r in reasons))
    if len(error.args) > 1:  # ParseError('non-integer status code', b'HTTP/1.1 OK')
        words = ", ".join(a if isinstance(a, str) else repr(a)[:80] for a in error.args)
    else:
        words = str(error)[:200]
    name = type(error).__name__.lstrip("_")
    return f"{name}: {words}" if words else name


def _redirect_target(response: object) -> tuple[str | None, str | None]:
    """The scheme and URL a 3xx response's Location names (None, None: not a redirect)."""
    status = getattr(response, "status", 0)
    location = response.headers.get("Location") if 300 <= status < 400 else None  # type: ignore[attr-defined]
    if not location:
        return None, None
    url = location.decode("latin-1").strip()
    try:
        url = urljoin(response.url, url)  # type: ignore[attr-defined]
        return (urlsplit(url).scheme.lower() or None), url
    except ValueError:  # a Location Python refuses (`http://[host]/`): no scheme to judge
        return None, url


def _ignored(message: str) -> str:
    """The reason of an IgnoreRequest, which Scrapy tells only by its message."""
    if "DOWNLOAD_MAXSIZE" in message:  # HttpCompressionMiddleware: a decompression bomb
        return SkipReason.TOO_LARGE
    if message.startswith(("max redirections reached", "redirect loop")):
        return SkipReason.TOO_MANY_REDIRECTS
    if message.startswith("robots.txt unavailable"):
        return SkipReason.ROBOTS_UNAVAILABLE  # RobotsPolicy: a 5xx robots.txt, not a refusal
    if message.startswith("rate limited"):
        return SkipReason.RATE_LIMITED  # RateLimits: the host asked for more than max_crawl_delay
    if "robots" in message.lower():
        return SkipReason.ROBOTS
    return SkipReason.IGNORED


def _causes(error: BaseException | None, depth: int = 0) -> list[BaseException]:
    """`error`, what caused it, and the failures a Twisted ResponseFailed carries."""
    if error is None or depth > 5:
        return []
    found = [error]
    for inner in [error.__cause__, error.__context__] + [
            getattr(r, "value", None) for r in getattr(error, "reasons", None) or []]:
        found += _causes(inner, depth + 1)
    return found
