"""Sending one message to one URL through Apprise: the only module that imports it.

- A new `Apprise` object per message: Apprise's e-mail plugin waits 5.5 s between two mails
  sent through the same object, which one message per story cannot afford.
- Each message carries its stable id where the service has a place for one: the
  `topicwatch_id` key of the JSON / form / XML payload and an `X-Topicwatch-Id` header for
  those and for e-mail, so a receiver can drop the copy a retry may send (Apprise reports
  some failures and timeouts of messages that did arrive).
- Apprise's log lines are captured per call (`NotifyResult`) and become the recorded error;
  they are kept out of the root logger, and the caller scrubs secrets from them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise

from crawler.notify.compose import Message

logging.getLogger("apprise").propagate = False

FORMATS = {"text": apprise.NotifyFormat.TEXT, "markdown": apprise.NotifyFormat.MARKDOWN,
           "html": apprise.NotifyFormat.HTML}
PAYLOAD_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
HEADER_SCHEMES = PAYLOAD_SCHEMES | {"mailto", "mailtos"}
ID_KEY = "topicwatch_id"
ID_HEADER = "X-Topicwatch-Id"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str = ""


def scheme(url: str) -> str:
    return url.partition("://")[0].lower()


def check_url(url: str) -> str | None:
    """Why Apprise cannot use `url`, or None.  Never quotes the URL."""
    if apprise.Apprise.instantiate(url) is None:
        return f"Apprise cannot use this {scheme(url)}:// URL (unknown service or missing parts)"
    return None


def with_id(url: str, message_id: str) -> str:
    """`url` asking Apprise to carry `message_id` in the payload and / or a header."""
    kind = scheme(url)
    if kind not in HEADER_SCHEMES or "#" in url:
        return url
    extra = [f"+{ID_HEADER}={message_id}"]
    if kind in PAYLOAD_SCHEMES:
        extra.append(f":{ID_KEY}={message_id}")
    joiner = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
    return url + joiner + "&".join(extra)


def send(url: str, message: Message, message_id: str) -> Outcome:
    """Deliver `message` to one URL; ok only when the service acknowledged it."""
    sender = apprise.Apprise()
    if not sender.add(with_id(url, message_id)):
        return Outcome(False, f"Apprise cannot use this {scheme(url)}:// URL")
    result = sender.notify(body=message.body, title=message.title, notify_type=message.type,
                           body_format=FORMATS[message.format])
    if result:
        return Outcome(True)
    lines = [str(entry.message) for service in result for attempt in service.attempts
             for entry in attempt]
    return Outcome(False, f"{result.status.name}: " + " ".join(dict.fromkeys(lines)).strip())
