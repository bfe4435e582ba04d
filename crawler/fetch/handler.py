"""Scrapy's HTTP/1.1 download handler with a bound on the response's header section, which
sends nothing once the crawl is stopping.

`DOWNLOAD_MAXSIZE` bounds a response's body, nothing bounds its headers: Twisted keeps every
header line it is sent until the download times out, so a server that answers with an
endless stream of headers grows the crawl by hundreds of megabytes a second on a fast link
(about 350 MB in ten seconds from a Python server on loopback).  Past `MAX_HEADER_BYTES` the
response is given up as `HeadersTooLarge`, recorded as `too-large`.

A graceful stop (the first Ctrl-C or SIGTERM) closes the engine's queue, but what the
downloader already holds in its per-host queues would still be sent, one after the other and
each after the host's delay (AutoThrottle makes it the host's latency): minutes against a
slow host.  At the stop, `drop_queued` fails those at once with `NotSent`, and once the engine
no longer runs the handler sends nothing more either; the spider lets such a request go
unrecorded (the feeds that listed it keep no validators after a stop, so the next crawl finds
it again; a Redis worker releases its lease).  `drop_queued` reads the downloader's per-host
queues (`Downloader.slots`, `Slot.queue`), which Scrapy's own AutoThrottle extension also
reaches into; tests/test_fetch_limits.py checks they are still there.

Scrapy builds its parser in private classes (`_LenientHTTP11ClientFactory` makes the protocol,
whose `request()` swaps in `_LenientHTTPClientParser`); this module subclasses the three and
nothing else.  tests/test_fetch_limits.py checks the names still exist.
"""

from __future__ import annotations

from typing import Any

from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _LenientHTTPClientParser,
)
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from twisted.python.failure import Failure

MAX_HEADER_BYTES = 256 * 1024  # browsers give up far sooner (Chromium: 256 KB)


class NotSent(IgnoreRequest):
    """The crawl is stopping: the request was not sent."""


class HeadersTooLarge(Exception):
    """The response's status line and headers went past MAX_HEADER_BYTES."""


class _BoundedParser(_LenientHTTPClientParser):
    def lineReceived(self, line: bytes) -> None:
        self.header_bytes = getattr(self, "header_bytes", 0) + len(line) + 1
        if self.header_bytes > MAX_HEADER_BYTES:
            raise HeadersTooLarge(f"response headers larger than {MAX_HEADER_BYTES} bytes")
        super().lineReceived(line)


class _BoundedProtocol(_LenientHTTP11ClientProtocol):
    def request(self, request: Any) -> Any:
        d = super().request(request)
        self._parser.__class__ = _BoundedParser  # as Scrapy swaps in its lenient parser
        return d


class _BoundedFactory(_LenientHTTP11ClientFactory):
    def buildProtocol(self, addr: Any) -> _BoundedProtocol:
        return _BoundedProtocol(self._quiescentCallback)


class BoundedHTTP11DownloadHandler(HTTP11DownloadHandler):
    """`DOWNLOAD_HANDLERS` for http and https."""

    def __init__(self, crawler: Any):
        super().__init__(crawler)
        self._pool._factory = _BoundedFactory

    async def download_request(self, request: Request) -> Response:
        if not self._crawler.engine.running:
            raise NotSent(f"not sent, the crawl is stopping: {request.url}")
        return await super().download_request(request)


def drop_queued(downloader: Any) -> int:
    """Fail every request the downloader accepted but has not sent with `NotSent`; how many."""
    dropped = 0
    for slot in list(downloader.slots.values()):
        while slot.queue:
            request, deferred = slot.queue.popleft()
            deferred.errback(Failure(NotSent(f"not sent, the crawl is stopping: {request.url}")))
            dropped += 1
    return dropped
