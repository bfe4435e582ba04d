"""A real HTTP server playing the three hosts of the fixture news site.

One threaded stdlib server per host on 127.0.0.1 / .2 / .3 (all loopback on Linux), each on
its own ephemeral port. Pages are templates holding `{{host_a}}`-style placeholders, filled
when served because ports are only known at run time. Every answer carries a strong ETag
(hash of the filled body) and Last-Modified, and conditional GETs get 304s, so the crawler's
conditional-GET and robots.txt handling are tested against real HTTP, not mocks.
"""

from __future__ import annotations

import hashlib
import socketserver
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from . import build, layouts_en, model

SITE_DIR = Path(__file__).parent
ArticleSpec = model.ArticleSpec
FeedItem = model.FeedItem
Resource = model.Resource
HOST_IPS: dict[str, str] = model.HOST_IPS

NOT_FOUND_BODY = layouts_en.ERROR_404.encode()


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it; `time` is time.monotonic() at arrival."""

    time: float
    host: str
    method: str
    path: str  # path and query, as requested
    status: int
    headers: dict[str, str]
    if_none_match: bool
    if_modified_since: bool

    def header(self, name: str) -> str | None:
        """Case-insensitive request header lookup."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    @property
    def conditional(self) -> bool:
        return self.if_none_match or self.if_modified_since


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison: W/ prefixes are ignored."""
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _not_modified(headers: dict[str, str], etag: str, last_modified: int) -> bool:
    """RFC 9110: If-None-Match decides when present; else If-Modified-Since."""
    lower = {k.lower(): v for k, v in headers.items()}
    if "if-none-match" in lower:
        return _etag_matches(lower["if-none-match"], etag)
    if "if-modified-since" in lower:
        try:
            since = parsedate_to_datetime(lower["if-modified-since"]).timestamp()
        except (TypeError, ValueError):
            return False
        return last_modified <= since
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # never join handler threads on close: a slow one must not hang
    request_queue_size = 64

    def __init__(self, ip: str, site: FixtureSite, host_key: str) -> None:
        self.site = site
        self.host_key = host_key
        super().__init__((ip, 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the FQDN of the address: a DNS wait we do not need.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FixtureSite/1.0"

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the request log is FixtureSite.requests, not stderr

    def _serve(self, head: bool) -> None:
        arrived = time.monotonic()
        site, host = self.server.site, self.server.host_key
        headers = dict(self.headers.items())
        status, out_headers, body, slow = site.respond(host, self.path, headers)
        site._record(RequestRecord(
            time=arrived, host=host, method=self.command, path=self.path, status=status,
            headers=headers, if_none_match="if-none-match" in {k.lower() for k in headers},
            if_modified_since="if-modified-since" in {k.lower() for k in headers},
        ))
        if slow and site._stopping.wait(site.slow_seconds):
            self.close_connection = True
            return  # shutting down: drop the connection instead of answering
        try:
            self.send_response(status)
            for name, value in out_headers:
                self.send_header(name, value)
            self.end_headers()
            if not head and body:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeouts): nothing to do


class FixtureSite:
    """The three-host fixture news site. Use as `with FixtureSite() as site: ...`."""

    def __init__(self, slow_seconds: float = 5.0) -> None:
        self.slow_seconds = slow_seconds
        content = build.build_site()
        self._resources: dict[tuple[str, str], Resource] = content.resources
        self._feeds = content.feeds
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._stopping = threading.Event()
        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> FixtureSite:
        self._stopping.clear()
        for host, ip in HOST_IPS.items():
            server = _Server(ip, self, host)
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                      name=f"fixturesite-{host}", daemon=True)
            thread.start()
            self._servers[host], self._threads = server, self._threads + [thread]
        return self

    def stop(self) -> None:
        self._stopping.set()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=2)
        self._servers, self._threads = {}, []

    def __enter__(self) -> FixtureSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ----------------------------------------------------------------------
    def base(self, host: str) -> str:
        """`http://127.0.0.X:PORT` of host "a", "b" or "c"."""
        ip, port = self._servers[host].server_address[:2]
        return f"http://{ip}:{port}"

    def url(self, host: str, path: str = "/") -> str:
        return self.base(host) + path

    def expand(self, text: str) -> str:
        """Fill `{{host_x}}` placeholders (manifest URL templates, settings templates)."""
        for host in self._servers:
            text = text.replace("{{host_" + host + "}}", self.base(host))
        return text

    def fill(self, data: bytes) -> bytes:
        for host in self._servers:
            data = data.replace(b"{{host_%s}}" % host.encode(), self.base(host).encode())
        return data

    def settings_toml(self, corpus: Path | str) -> str:
        """tests/fixturesite/settings.toml.tmpl with hosts and the corpus path filled."""
        text = (SITE_DIR / "settings.toml.tmpl").read_text(encoding="utf-8")
        return self.expand(text.replace("{{corpus}}", str(corpus)))

    # -- request log ------------------------------------------------------------------
    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._log.append(record)

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def requests_for(self, host: str | None = None, path: str | None = None) -> list[RequestRecord]:
        """Requests to one host and/or one path (query ignored when `path` has none)."""
        return [r for r in self.requests
                if (host is None or r.host == host)
                and (path is None or r.path == path or ("?" not in path and
                                                        urlsplit(r.path).path == path))]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- content changes at run time ----------------------------------------------------
    def _bumped(self, key: tuple[str, str]) -> float:
        """A Last-Modified later than the old one, so If-Modified-Since sees the change."""
        old = self._resources.get(key)
        return float(max(int(time.time()), int(old.last_modified) + 1 if old else 0))

    def add_page(self, host: str, path: str, body: bytes, content_type: str = "text/html",
                 charset: str | None = "utf-8", status: int = 200) -> str:
        """Serve `body` (may hold placeholders) at `path`; returns its URL."""
        with self._lock:
            self._resources[(host, path)] = Resource(
                body, content_type, charset, status=status, last_modified=self._bumped((host, path)))
        return self.url(host, path)

    def remove_page(self, host: str, path: str) -> None:
        with self._lock:
            self._resources.pop((host, path), None)

    def add_feed_item(self, host: str, feed_path: str, item: FeedItem) -> None:
        """Put `item` at the top of a feed; the feed's ETag and Last-Modified change."""
        key = (host, feed_path)
        with self._lock:
            feed = self._feeds[key]
            feed.items.insert(0, item)
            self._resources[key] = build.feed_resource(feed, last_modified=self._bumped(key))

    def add_article(self, spec: ArticleSpec, feed_path: str | None = None) -> str:
        """Render `spec` with its host's layout, serve it, and list it in a feed of its host
        (the host's main feed unless `feed_path` names another); returns its URL."""
        page = build.render_article(spec)
        with self._lock:
            page.last_modified = self._bumped((spec.host, spec.path))
            self._resources[(spec.host, spec.path)] = page
        default = next(p for h, p in self._feeds if h == spec.host)
        self.add_feed_item(spec.host, feed_path or default, build.item(spec))
        return self.url(spec.host, spec.path)

    # -- answering --------------------------------------------------------------------
    def respond(self, host: str, raw_path: str, headers: dict[str, str]
                ) -> tuple[int, list[tuple[str, str]], bytes, bool]:
        """(status, headers, body, slow) for one request; a pure lookup, no I/O."""
        with self._lock:
            res = self._resources.get((host, urlsplit(raw_path).path))
        if res is None:
            res = Resource(NOT_FOUND_BODY, "text/html", "utf-8", status=404)
        body = self.fill(res.body)
        if res.gzip:
            body = build.gzip_bytes(body)
        etag, last_modified = etag_of(body), int(res.last_modified)
        validators = [("ETag", etag), ("Last-Modified", formatdate(last_modified, usegmt=True))]
        if res.status == 200 and _not_modified(headers, etag, last_modified):
            return 304, validators, b"", res.slow
        out = [("Content-Type", res.content_type_header()),
               ("Content-Length", str(len(body))), *validators]
        if res.location:
            out.append(("Location", self.expand(res.location)))
        return res.status, out, body, res.slow


def shipped_topics() -> str:
    """The [[topics]] tables of the shipped settings.toml, to append to a test's settings."""
    text = (Path(__file__).resolve().parents[2] / "settings.toml").read_text(encoding="utf-8")
    start = text.index("[[topics]]")
    return text[start : text.index("[[sources]]", start)].rsplit("\n#", 1)[0]
