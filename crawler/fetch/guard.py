"""The guard against server-side request forgery: a link or redirect found in fetched content
never makes the crawler connect to a private, loopback, link-local, multicast, reserved or
unspecified address (crawler/text/addresses.py decides; this module applies it).

Two halves, both needed:

- `AddressGuard`, a downloader middleware ahead of robots.txt, refuses a request whose host
  is such an address (any spelling) or resolves to one, before anything is sent to that host,
  robots.txt included.  Redirects pass through it too: Scrapy's redirect middleware hands the
  new request back to the engine, and every downloader middleware sees it again.  A refusal
  is a `PrivateAddress` (an `IgnoreRequest`), recorded as skipped `private-address`.
- `GuardedResolver`, installed as Scrapy's `TWISTED_DNS_RESOLVER`, is the resolver every
  connection asks: Scrapy's own caching resolver, answering only addresses the policy
  allows.  The address a connection uses is therefore always a checked one, so a name that
  resolves to a public address for the check and to a private one a moment later (DNS
  rebinding) still cannot reach the private one.

The hosts of the configured sources are always allowed, and so is `[crawl] allow_private`.
"""

from __future__ import annotations

import logging
from functools import cached_property
from ipaddress import ip_address
from typing import Any

from scrapy.exceptions import IgnoreRequest
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError

from crawler.config import Settings
from crawler.fetch.settings import config_of
from crawler.text.addresses import AddressPolicy, parse_ip

log = logging.getLogger(__name__)


class PrivateAddress(IgnoreRequest):
    """A request refused because its host is, or resolves to, a non-public address."""


class PrivateAddressError(DNSLookupError):
    """The resolver's refusal: `host` resolved to an address the policy does not allow."""

    def __init__(self, host: str, why: str):
        super().__init__(f"{host}: {why}")
        self.host, self.why = host, why


def address_policy(config: Settings) -> AddressPolicy:
    """The policy of a crawl: its sources' hosts and `[crawl] allow_private` are allowed."""
    urls = [url for source in config.sources for url in source.all_urls()]
    return AddressPolicy.build(urls, config.crawl.allow_private)


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's default resolver (IPv4, cached, `DNS_TIMEOUT`) that fails a lookup whose
    answer the policy refuses, so no connection is ever made to it."""

    def __init__(self, reactor: Any, cache_size: int, timeout: float, settings: Any):
        super().__init__(reactor, cache_size, timeout)
        self._settings = settings

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> GuardedResolver:
        # `crawler` is the CrawlerProcess here: the resolver is the process's, built from
        # its settings as Scrapy builds its own
        s = crawler.settings
        cache_size = s.getint("DNSCACHE_SIZE") if s.getbool("DNSCACHE_ENABLED") else 0
        return cls(reactor, cache_size, s.getfloat("DNS_TIMEOUT"), s)

    @cached_property
    def policy(self) -> AddressPolicy:
        """Read when the first name is resolved: `scrapy list` needs no settings.toml."""
        return address_policy(config_of(self._settings))

    def getHostByName(self, name: str, timeout: Any = ()) -> Deferred:
        return self.lookup(name, timeout).addCallback(self.checked, name)

    def lookup(self, name: str, timeout: Any = ()) -> Deferred:
        """The address `name` resolves to, unchecked (Scrapy's cached, threaded lookup)."""
        return super().getHostByName(name, timeout)

    def checked(self, address: str, name: str) -> str:
        why = self.policy.refusal(name, ip_address(address))
        if why:
            log.info("refused to connect to %s: %s", name, why)
            raise PrivateAddressError(name, why)
        return address


class AddressGuard:
    """Downloader middleware: refuse a request to a non-public address before it is made."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.policy = address_policy(config_of(crawler.settings))

    @classmethod
    def from_crawler(cls, crawler: Any) -> AddressGuard:
        return cls(crawler)

    async def process_request(self, request: Any) -> None:
        parts = urlparse_cached(request)
        if parts.scheme not in ("http", "https"):  # file:, data:, ftp:... read nothing local
            raise PrivateAddress(f"refused {request.url}: not an http(s) URL")
        host = parts.hostname or ""
        why = self.policy.literal_refusal(host)
        if why is None and parse_ip(host) is None and not self.policy.host_allowed(host):
            why = await self.resolved_refusal(host)
        if why:
            raise PrivateAddress(f"refused {request.url}: {why}")

    async def resolved_refusal(self, host: str) -> str | None:
        """Resolve `host` through the installed resolver (a `GuardedResolver` caches the
        answer the connection will use) and judge the answer; a lookup that fails for any
        other reason is left to the download, which reports it as it always has."""
        from twisted.internet import reactor

        try:
            address = await maybe_deferred_to_future(reactor.resolve(host))
        except PrivateAddressError as refused:
            return refused.why
        except Exception:
            return None
        return self.policy.refusal(host, ip_address(address))
