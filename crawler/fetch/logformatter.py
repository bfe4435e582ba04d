"""Log lines that stay short: Scrapy's default formatter prints whole items (page bytes)."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import logformatter


class QuietLogFormatter(logformatter.LogFormatter):
    def scraped(self, item: Any, response: Any, spider: Any) -> dict[str, Any]:
        return {"level": logging.DEBUG, "msg": "spooled %(url)s", "args": {"url": _url(item, response)}}

    def dropped(self, item: Any, exception: Any, response: Any, spider: Any) -> dict[str, Any]:
        return {"level": logging.INFO, "msg": "skipped %(url)s: %(reason)s",
                "args": {"url": _url(item, response), "reason": getattr(exception, "reason", exception)}}

    def item_error(self, item: Any, exception: Any, response: Any, spider: Any) -> dict[str, Any]:
        return {"level": logging.ERROR, "msg": "error processing %(url)s",
                "args": {"url": _url(item, response)}}


def _url(item: Any, response: Any) -> str:
    page = getattr(item, "article", item)
    return getattr(page, "url", None) or getattr(response, "url", "?")
