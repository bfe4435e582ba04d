"""Responders: what a hostile server writes for one request (see server.Exchange)."""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Callable
from functools import cache

import brotli

try:
    from compression import zstd  # Python 3.14
except ImportError:
    from backports import zstd  # what Scrapy itself uses before 3.14

from .server import Exchange, Responder

BOMB_BYTES = 200 * 1024 * 1024  # what a bomb expands to


BOMB_HEAD, BOMB_TAIL, BOMB_CHUNK = b"<html><body><p>", b"</p></body></html>", b"A" * (1 << 20)


@cache
def bomb(encoding: str) -> bytes:
    """BOMB_BYTES of one HTML-ish filler, compressed (~200 KB on the wire or less)."""
    if encoding == "gzip":
        return _gzip_bomb()
    if encoding == "deflate":  # HTTP's "deflate" is the zlib format
        return b"\x78\x9c" + _deflated() + struct.pack(">I", _checksum(zlib.adler32, 1))
    if encoding == "gzip, gzip":
        return gzip.compress(_gzip_bomb(), compresslevel=6)
    plain = BOMB_HEAD + b"A" * (BOMB_BYTES - len(BOMB_HEAD) - len(BOMB_TAIL)) + BOMB_TAIL
    if encoding == "br":
        return brotli.compress(plain, quality=1)
    if encoding == "zstd":
        return zstd.compress(plain, 1)
    raise ValueError(encoding)


def _pieces() -> tuple[int, int]:
    """How many whole BOMB_CHUNKs the filler holds, and the bytes left over."""
    return divmod(BOMB_BYTES - len(BOMB_HEAD) - len(BOMB_TAIL), len(BOMB_CHUNK))


@cache
def _deflated() -> bytes:
    """The bomb's raw deflate stream, built in milliseconds instead of seconds: after a full
    flush the compressor starts afresh, so every BOMB_CHUNK compresses to the same bytes, and
    the chunk is compressed once and its bytes repeated (tests/test_hostile.py decompresses it)."""
    whole, rest = _pieces()
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    first = c.compress(BOMB_HEAD) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(BOMB_CHUNK) + c.flush(zlib.Z_FULL_FLUSH)
    return first + block * whole + c.compress(BOMB_CHUNK[:rest]) + c.compress(BOMB_TAIL) + c.flush()


def _checksum(step: Callable[[bytes, int], int], start: int) -> int:
    """crc32 or adler32 of the bomb's plain bytes, chunk by chunk."""
    whole, rest = _pieces()
    value = step(BOMB_HEAD, start)
    for _ in range(whole):
        value = step(BOMB_CHUNK, value)
    return step(BOMB_TAIL, step(BOMB_CHUNK[:rest], value))


def _gzip_bomb() -> bytes:
    """The raw deflate stream in gzip's framing (RFC 1952: header, data, CRC-32, length)."""
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + _deflated()
            + struct.pack("<II", _checksum(zlib.crc32, 0), BOMB_BYTES & 0xFFFFFFFF))


def page(body: bytes | str, content_type: str = "text/html; charset=utf-8", status: int = 200,
         headers: dict[str, str] | None = None) -> Responder:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return lambda ex: ex.send(data, content_type, status, headers)


class lazy:  # noqa: N801  (a responder, used like the functions here)
    """A page whose body is built once, by `warm()` before the crawl (large documents and
    bombs take seconds to build, and a server thread building one holds up the others)."""

    def __init__(self, make: Callable[[], bytes], content_type: str = "text/html; charset=utf-8",
                 headers: dict[str, str] | None = None):
        self.make, self.content_type, self.headers = make, content_type, headers
        self.body: bytes | None = None

    def warm(self) -> None:
        if self.body is None:
            self.body = self.make()

    def __call__(self, ex: Exchange) -> None:
        self.warm()
        ex.send(self.body or b"", self.content_type, headers=self.headers)


def compressed(encoding: str, content_type: str = "text/html; charset=utf-8") -> Responder:
    return lazy(lambda: bomb(encoding), content_type, {"Content-Encoding": encoding})


def redirect(location: Callable[[], str] | str, status: int = 302) -> Responder:
    def respond(ex: Exchange) -> None:
        target = location() if callable(location) else location
        ex.send(b"", status=status, headers={"Location": target})
    return respond


def drip(head_first: bool = True, every: float = 1.0) -> Responder:
    """A byte a second (after honest headers, or instead of them)."""
    def respond(ex: Exchange) -> None:
        if head_first and not ex.head(200, {"Content-Type": "text/html", "Content-Length": "100000"}):
            return
        while ex.wait(every) and ex.write(b"<"):
            pass
    return respond


def silent(ex: Exchange) -> None:
    """Accept the connection, then say nothing at all."""
    while ex.wait(0.5):
        pass


def endless(chunked: bool) -> Responder:
    """A body that never ends, as fast as the client reads (chunked, or until close)."""
    chunk = b"<p>" + b"and on " * 1000 + b"</p>\n"
    def respond(ex: Exchange) -> None:
        headers = {"Content-Type": "text/html"}
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        if not ex.head(200, headers):
            return
        data = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") if chunked else chunk
        while ex.write(data):
            pass
    return respond


def lying_length(declared: int, sent: bytes) -> Responder:
    def respond(ex: Exchange) -> None:
        if ex.head(200, {"Content-Type": "text/html", "Content-Length": str(declared)}):
            ex.write(sent)
    return respond


def raw(data: bytes) -> Responder:
    """Exactly these bytes, then close: a broken status line, no headers, anything."""
    return lambda ex: ex.write(data)


def endless_headers(ex: Exchange) -> None:
    if not ex.write(b"HTTP/1.1 200 OK\r\n"):
        return
    n = 0
    while ex.write(b"X-Filler-%d: %s\r\n" % (n, b"y" * 1000)):
        n += 1


def reset(ex: Exchange) -> None:
    """Close the connection without a word (RST where the platform allows it)."""
    import socket
    import struct

    conn = ex.handler.connection
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def conditional(body: Callable[[], bytes], content_type: str) -> Responder:
    """What `body()` returns now, with an ETag of its bytes, as a static file server sends it:
    304 to a request whose If-None-Match names that ETag."""
    def respond(ex: Exchange) -> None:
        data = body()
        etag = f'"{zlib.crc32(data):08x}-{len(data)}"'
        if ex.handler.headers.get("If-None-Match") == etag:
            ex.send(b"", content_type, status=304, headers={"ETag": etag})
        else:
            ex.send(data, content_type, headers={"ETag": etag})
    return respond
