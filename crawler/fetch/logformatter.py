"""Log lines that stay short: Scrapy's default formatter prints whole items (page HTML)."""

from __future__ import annotations

import logging

from scrapy import logformatter


class QuietLogFormatter(logformatter.LogFormatter):
    def scraped(self, item, response, spider):
        return {"level": logging.DEBUG, "msg": "spooled %(url)s", "args": {"url": _url(item, response)}}

    def dropped(self, item, exception, response, spider):
        return {"level": logging.INFO, "msg": "skipped %(url)s: %(reason)s",
                "args": {"url": _url(item, response), "reason": getattr(exception, "reason", exception)}}

    def item_error(self, item, exception, response, spider):
        return {"level": logging.ERROR, "msg": "error processing %(url)s",
                "args": {"url": _url(item, response)}}


def _url(item, response) -> str:
    page = getattr(item, "article", item)
    return getattr(page, "url", None) or getattr(response, "url", "?")
