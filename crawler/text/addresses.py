"""Which addresses a crawl may connect to: the pure half of the guard against server-side
request forgery (no network, no Scrapy; crawler/fetch/guard.py applies it to requests and DNS
answers).

A URL found in fetched content must not make the crawler talk to the machine it runs on or
to its network: loopback, private, link-local (169.254.169.254, the cloud metadata service),
multicast, reserved and unspecified addresses are refused, in IPv4 or IPv6, however the URL
spells them.  Python's `ipaddress` classifies; `socket.inet_aton` reads the legacy IPv4
spellings C libraries and browsers still accept (decimal `2130706433`, hex `0x7f000001`,
octal `0177.0.0.1`, short `127.1`), so the address checked is the address a connection
would reach.  An IPv6 address that carries an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`,
6to4, NAT64, IPv4-compatible) is judged by that IPv4 address too.

`AddressPolicy` adds what the user allows: the hosts of the configured sources themselves and
`[crawl] allow_private` (networks in CIDR notation, or host names).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import urlsplit

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# The legacy IPv4 forms inet_aton accepts: one to four parts, each decimal, octal (leading
# 0) or hex (0x).  Nothing else is let near inet_aton (glibc's stops at whitespace and
# ignores what follows).
_LEGACY_PART = r"(?:0[xX][0-9a-fA-F]*|[0-9]+)"
_LEGACY_V4 = re.compile(rf"{_LEGACY_PART}(?:\.{_LEGACY_PART}){{0,3}}")

# Special-purpose ranges (IANA registries) that some Python versions call global.
_NOT_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/96", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "2001:db8::/32", "fc00::/7",
    "fe80::/10", "fec0::/10", "ff00::/8",
))
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def parse_ip(host: str | None) -> IPAddress | None:
    """The address a URL host names when it is an IP literal in any accepted spelling
    (brackets, an IPv6 zone and a trailing dot ignored); None for a host name."""
    text = (host or "").strip().removeprefix("[").removesuffix("]").rstrip(".")
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    if not _LEGACY_V4.fullmatch(text):
        return None
    try:
        return IPv4Address(socket.inet_aton(text))
    except OSError:  # a part out of range: not an address, and no host name either
        return None


def embedded_ipv4(ip: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64, compatible)."""
    if isinstance(ip, IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in _NAT64) or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def non_public(ip: IPAddress) -> str | None:
    """Why `ip` is no address on the public internet ("loopback", "private", ...), or None."""
    if inner := embedded_ipv4(ip):
        if why := non_public(inner):
            return f"{why} ({inner} inside {ip})"
    for name in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    if isinstance(ip, IPv6Address) and ip.is_site_local:
        return "site-local"
    if not ip.is_global or any(ip in net for net in _NOT_PUBLIC if net.version == ip.version):
        return "special-purpose"
    return None


def normal_host(host: str | None) -> str:
    """A host as the policy compares it: lower case, no brackets or trailing dot, an IP
    literal in its canonical spelling."""
    ip = parse_ip(host)
    if ip is not None:
        return str(ip)
    return (host or "").strip().lower().removeprefix("[").removesuffix("]").rstrip(".")


def is_local_name(host: str) -> bool:
    """`localhost` and `*.localhost` (RFC 6761): loopback whatever DNS says."""
    name = normal_host(host)
    return name == "localhost" or name.endswith(".localhost")


def parse_allowance(item: str) -> IPNetwork | str:
    """One `allow_private` entry: a network (CIDR, or one address) or a host name;
    ValueError when it is neither."""
    text = item.strip()
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        pass
    name = normal_host(text)
    if not re.fullmatch(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?", name) or ".." in name:
        raise ValueError(f"neither a network (CIDR) nor a host name: {item!r}")
    return name


@dataclass(frozen=True)
class AddressPolicy:
    """Where a crawl may connect: public addresses, plus what the user allows."""

    hosts: frozenset[str] = frozenset()  # normal_host() of allowed hosts
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def build(cls, source_urls: Iterable[str], allow_private: Iterable[str] = ()) -> AddressPolicy:
        """The hosts of the sources' own URLs and the `allow_private` entries."""
        hosts = {normal_host(urlsplit(u).hostname) for u in source_urls if urlsplit(u).hostname}
        networks = []
        for item in allow_private:
            allowed = parse_allowance(item)
            if isinstance(allowed, str):
                hosts.add(allowed)
            else:
                networks.append(allowed)
        return cls(frozenset(hosts), tuple(networks))

    def host_allowed(self, host: str | None) -> bool:
        """A configured source host or an allowed name: any address it resolves to will do."""
        return normal_host(host) in self.hosts

    def refusal(self, host: str | None, ip: IPAddress) -> str | None:
        """Why connecting to `ip` (which `host` is or resolves to) is refused; None if not."""
        if self.host_allowed(host) or self._in_allowed_network(ip):
            return None
        why = non_public(ip)
        return f"{ip} is {why}" if why else None

    def literal_refusal(self, host: str | None) -> str | None:
        """The refusal decided without DNS: an IP literal, or a name that is always local;
        None for any other name (its DNS answers decide)."""
        if self.host_allowed(host):
            return None
        ip = parse_ip(host)
        if ip is not None:
            return self.refusal(host, ip)
        return f"{normal_host(host)} is loopback" if host and is_local_name(host) else None

    def _in_allowed_network(self, ip: IPAddress) -> bool:
        candidates = [ip] + ([inner] if (inner := embedded_ipv4(ip)) else [])
        return any(c in net for c in candidates for net in self.networks if net.version == c.version)
