"""Real receivers for the notification tests, on 127.0.0.1 and free ports.

- `HookReceiver`: an HTTP server taking Apprise's `json://` POSTs (its JSON body, path and
  headers are kept); `start()` can come after the port was handed out, for a receiver that
  was down and comes back.
- `MailReceiver`: an aiosmtpd SMTP server taking Apprise's `mailto://` mail, parsed with the
  standard library's `email` package.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], Any], what: str, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class HookReceiver:
    """`json://127.0.0.1:<port>/hook`: every POST kept as {path, headers, body}."""

    def __init__(self, port: int | None = None, status: int = 200):
        self.port = port or free_port()
        self.status = status
        self.posts: list[dict[str, Any]] = []
        self.server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hook", query: str = "") -> str:
        return f"json://127.0.0.1:{self.port}{path}" + (f"?{query}" if query else "")

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(p["body"]) for p in self.posts]

    @property
    def ids(self) -> list[str]:
        return [b.get("topicwatch_id") for b in self.bodies]

    def start(self) -> HookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append({"path": self.path, "headers": dict(self.headers),
                                       "body": body.decode("utf-8")})
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self) -> HookReceiver:
        return self.start() if self.server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Sink:
    def __init__(self, messages: list[EmailMessage]):
        self.messages = messages

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK"


class MailReceiver:
    """`mailto://127.0.0.1:<port>?from=...&to=analyst@example.org`, no TLS, no login."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.controller: Controller | None = None

    def url(self) -> str:
        return (f"mailto://127.0.0.1:{self.port}?from=topicwatch@example.org"
                f"&to=analyst@example.org&name=topicwatch")

    def start(self) -> MailReceiver:
        self.controller = Controller(_Sink(self.messages), hostname="127.0.0.1", port=self.port,
                                     server_hostname="receiver.test")
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def text(self, message: EmailMessage) -> str:
        """The plain-text part (or the only part) of a received mail."""
        part = message.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""

    def __enter__(self) -> MailReceiver:
        return self.start() if self.controller is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
