"""A resolver for hostile crawls that never asks a DNS server: the guard's own resolver
(crawler/fetch/guard.py, unchanged policy) with its lookup step answered from a fixed table of
loopback addresses and the IP-literal spellings `inet_aton` reads.

Crawls in tests run with `-s TWISTED_DNS_RESOLVER=hostile.dns.LoopbackNames`, so even when
the guard is broken no name is ever sent to the machine's name server (which is not on
loopback) and every name leads to a loopback address.
"""

from __future__ import annotations

import os

from twisted.internet import defer
from twisted.internet.error import DNSLookupError

from crawler.fetch.guard import GuardedResolver
from crawler.text.addresses import parse_ip

# name -> the addresses it resolves to, one per lookup in turn (the last one repeats)
NAMES: dict[str, list[str]] = {
    "forbidden.test": ["127.0.0.2"],
    "rebind.test": ["127.0.0.3", "127.0.0.2"],  # allowed for the check, forbidden after
    "localhost": ["127.0.0.1"],
}
EXTRA_NAMES = "HOSTILE_DNS"  # "name=ip,ip;name=ip": added by the test that starts the crawl


def table() -> dict[str, list[str]]:
    names = {k: list(v) for k, v in NAMES.items()}
    for item in filter(None, os.environ.get(EXTRA_NAMES, "").split(";")):
        name, _, ips = item.partition("=")
        names[name.strip().lower()] = [ip.strip() for ip in ips.split(",")]
    return names


class LoopbackNames(GuardedResolver):
    """Names from the table; loopback literals as inet_aton reads them; anything else
    fails, so nothing but a loopback address is ever connected to."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.names = table()
        self.asked: dict[str, int] = {}
        for ips in self.names.values():
            if not all(ip.startswith("127.") for ip in ips):
                raise ValueError(f"loopback only: {ips}")

    def lookup(self, name, timeout=()):
        key = name.lower().rstrip(".")
        if key in self.names:
            answers = self.names[key]
            n = self.asked[key] = self.asked.get(key, 0) + 1
            return defer.succeed(answers[min(n, len(answers)) - 1])
        ip = parse_ip(name)
        if ip is not None and ip.version == 4 and ip.is_loopback:
            return defer.succeed(str(ip))
        return defer.fail(DNSLookupError(f"{name}: not a loopback name in the test's table"))
