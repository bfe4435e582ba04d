"""Real HTTP servers on loopback addresses, answering each path with a raw responder.

`HostileSite` runs one threaded server per loopback address it is given (ephemeral ports),
logs every request it receives, and answers a path with whatever its responder writes to the
socket: a plain page, a bomb, a drip, a stream that never ends, a lie.  Responders stop as
soon as the client goes away or the site stops, so a test never waits on one.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Responder = Callable[["Exchange"], None]


@dataclass(frozen=True)
class Hit:
    """One request as a server saw it."""

    host: str  # the server's name
    path: str
    time: float


class Exchange:
    """What a responder works with: the request path, the raw socket file, the stop flag."""

    def __init__(self, handler: _Handler, site: HostileSite):
        self.handler, self.site = handler, site
        self.path = handler.path

    @property
    def stopping(self) -> bool:
        return self.site.stopping.is_set()

    def write(self, data: bytes) -> bool:
        """Write and flush; False once the client has gone (or the site is stopping)."""
        if self.stopping:
            return False
        try:
            self.handler.wfile.write(data)
            self.handler.wfile.flush()
            return True
        except (BrokenPipeError, ConnectionResetError, OSError):
            return False

    def head(self, status: int = 200, headers: dict[str, str] | None = None,
             reason: str = "OK") -> bool:
        lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
        return self.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def send(self, body: bytes, content_type: str = "text/html; charset=utf-8", status: int = 200,
             headers: dict[str, str] | None = None) -> None:
        """A complete, honest response."""
        all_headers = {"Content-Type": content_type, "Content-Length": str(len(body)),
                       "Connection": "close", **(headers or {})}
        if self.head(status, all_headers):
            self.write(body)

    def wait(self, seconds: float) -> bool:
        """Sleep; False when the site stops meanwhile."""
        return not self.site.stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, ip: str, name: str, site: HostileSite):
        self.name, self.site = name, site
        super().__init__((ip, 0), _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # no FQDN lookup: no DNS, ever
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that went away mid-answer is the point of most cases here


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        site, name = self.server.site, self.server.name
        site.record(Hit(name, self.path, time.monotonic()))
        responder = site.routes.get((name, urlsplit(self.path).path))
        self.close_connection = True
        if responder is None:
            Exchange(self, site).send(b"<html><body>not here</body></html>", status=404)
            return
        try:
            responder(Exchange(self, site))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


class HostileSite:
    """Servers named by loopback address: `HostileSite({"main": "127.0.0.1", ...})`."""

    def __init__(self, addresses: dict[str, str]):
        for ip in addresses.values():
            if not ip.startswith("127."):
                raise ValueError(f"loopback only: {ip}")
        self.addresses = addresses
        self.routes: dict[tuple[str, str], Responder] = {}
        self.stopping = threading.Event()
        self._servers: dict[str, _Server] = {}
        self._log: list[Hit] = []
        self._lock = threading.Lock()

    def start(self) -> HostileSite:
        for name, ip in self.addresses.items():
            server = _Server(ip, name, self)
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                             daemon=True, name=f"hostile-{name}").start()
            self._servers[name] = server
        return self

    def stop(self) -> None:
        self.stopping.set()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()

    def __enter__(self) -> HostileSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def port(self, name: str) -> int:
        """The server's port; 0 before `start()` (the cases can be listed without servers)."""
        server = self._servers.get(name)
        return server.server_address[1] if server else 0

    def base(self, name: str) -> str:
        return f"http://{self.addresses[name]}:{self.port(name)}"

    def route(self, name: str, path: str, responder: Responder) -> str:
        """Answer `path` on server `name` with `responder`; returns the URL."""
        self.routes[(name, path)] = responder
        return self.base(name) + path

    def record(self, hit: Hit) -> None:
        with self._lock:
            self._log.append(hit)

    def hits(self, name: str | None = None) -> list[Hit]:
        with self._lock:
            return [h for h in self._log if name is None or h.host == name]


def reachable(ip: str) -> bool:
    """Whether this machine answers on `ip` (every 127/8 address does on Linux)."""
    with socket.socket() as s:
        try:
            s.bind((ip, 0))
            return True
        except OSError:
            return False
