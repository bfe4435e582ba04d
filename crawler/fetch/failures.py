"""What a failed download is called: its `skipped.reason`, and whether it is final.

Scrapy and Twisted name failures by exception type; a few only by message (robots.txt,
DOWNLOAD_MAXSIZE during decompression, the redirect limit), matched here in one place.
"""

from __future__ import annotations

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


def _ignored(message: str) -> str:
    """The reason of an IgnoreRequest, which Scrapy tells only by its message."""
    if "DOWNLOAD_MAXSIZE" in message:  # HttpCompressionMiddleware: a decompression bomb
        return SkipReason.TOO_LARGE
    if message.startswith(("max redirections reached", "redirect loop")):
        return SkipReason.TOO_MANY_REDIRECTS
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
