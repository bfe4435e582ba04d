"""URLs: the identity of an article (`canonical_url`), the site it belongs to (`site_of`),
and links resolved the way a browser resolves them (`http_url`).

`canonical_url` keeps the page's declared canonical (rel=canonical / og:url) when it stays
on the same site and is not the site's home page, then cleans it: fragments and tracking
parameters dropped, the rest sorted.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date
from functools import lru_cache
from urllib.parse import (
    SplitResult,
    parse_qsl,
    quote,
    urldefrag,
    urlencode,
    urljoin,
    urlsplit,
    urlunsplit,
)

import tldextract
from courlan import normalize_url

# Query parameters that say how a reader arrived, never which article it is.  An explicit list
# rather than courlan's tracker regex: that one also drops `cid`, `eid`, `uid`, `ga*`, `gl*`,
# `aff*` and `ref*`, and `show.php?cid=123` is an article id on many Chinese CMS sites.
_TRACKER_PREFIXES = ("utm_", "mtm_", "pk_", "mc_", "itm_", "hmsr", "hmpl", "hmcu", "hmkw",
                     "hmci", "_hs", "at_", "ns_", "vero_", "oly_")
_TRACKERS = frozenset("""
    fbclid gclid dclid gbraid wbraid msclkid yclid twclid ttclid igshid igsh _ga _gl
    spm scm from share share_from share_source share_token shareid isappinstalled wfr
    tt_from tt_medium ref ref_src ref_url referrer referer source src_type rss feature
    ncid ocid cmpid xtor ito smid sr_share bd_vid wt_mc wt.mc_id chksm scene sessionid
""".split())

# A date written in a URL path: /2024/09/20/, /20240920/, /2024-09-20-slug, /2024_0920/.
DATE_IN_PATH_RE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})[/_-]?(0[1-9]|1[0-2])[/_-]?(0[1-9]|[12]\d|3[01])(?!\d)"
)

# The suffix list bundled with tldextract: no download (no URLs), no cache file (no cache_dir).
# Private suffixes count (user1.github.io and user2.github.io are two sites).
_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ESCAPE_RE = re.compile(r"%[0-9a-fA-F]{2}")


def canonical_url(url: str, declared: str | None = None) -> str:
    """The identity of an article URL: `declared` (rel=canonical / og:url) when it is an
    absolute http(s) URL on the same site and not the site's home page, else `url`; then
    cleaned (see `clean_url`)."""
    return clean_url(declared if _trust_declared(url, declared) else url)


def _trust_declared(url: str, declared: str | None) -> bool:
    """Sites declare canonicals that point elsewhere (syndication partners) or at their home
    page (a template bug that would make every article one); trust neither."""
    if not declared:
        return False
    d, u = urlsplit(declared.strip()), urlsplit(url.strip())
    if d.scheme.lower() not in ("http", "https") or not d.hostname:
        return False
    if d.path in ("", "/") and not d.query and u.path not in ("", "/"):
        return False
    return site_of(declared) == site_of(url)


def clean_url(url: str) -> str:
    """Lowercase scheme and host, no default port, no fragment (except `#!` routes), no
    tracking parameters, remaining parameters sorted, path case kept, an empty path is "/"."""
    parts = urlsplit(url.strip())
    fragment = parts.fragment if parts.fragment.startswith("!") else ""
    base = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))
    try:
        base = normalize_url(base)  # courlan: case, default port, // and /../ in paths, quoting
    except (ValueError, AttributeError):
        base = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "", ""))
    b = urlsplit(base)
    path = _ESCAPE_RE.sub(lambda m: m.group(0).upper(), b.path or "/")
    return urlunsplit((b.scheme, b.netloc, path, _clean_query(parts.query), fragment))


def _clean_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = sorted((k, v) for k, v in pairs if not _is_tracker(k))
    return urlencode(kept, quote_via=quote)


def _is_tracker(name: str) -> bool:
    n = name.lower()
    return n in _TRACKERS or n.startswith(_TRACKER_PREFIXES)


def http_url(href: str | None, base: str) -> str | None:
    """`href` made absolute against `base`, fragment dropped; None unless http(s)."""
    if not href:
        return None
    href = re.sub(r"[\t\r\n]", "", href).strip()
    if not href or href.startswith("#"):
        return None
    try:
        absolute = urldefrag(urljoin(base, href)).url
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return absolute


def is_site_root(url: str) -> bool:
    """A bare site root as a sitemap source means: discover sitemaps through robots.txt."""
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def date_in_path(url: str) -> date | None:
    """The day written in the URL's path (`/2024/09/20/`, `/20240920/`), if a valid one."""
    m = DATE_IN_PATH_RE.search(urlsplit(url).path)
    if not m:
        return None
    try:
        return date(*map(int, m.groups()))
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def site_of(url: str) -> str:
    """The site a URL belongs to, for "same site" decisions (listing links, declared canonicals).

    A name under a public suffix: its registered domain, whatever the port (news.qq.com ->
    qq.com). An IP address, a single-label host like localhost, or a name under no known
    suffix: the host with its port when not the scheme's default (127.0.0.1:8123; IPv6 in
    brackets), because there every port is its own site (test servers, intranet apps).
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    if host and not _is_ip(host):
        name = _TLD(host)
        if name.suffix and name.domain:
            return f"{name.domain}.{name.suffix}"
    shown = f"[{host}]" if ":" in host else host
    port = _port(parts)
    return f"{shown}:{port}" if port is not None else shown


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _port(parts: SplitResult) -> int | None:
    """The explicit port, None when it is the scheme's default or unreadable."""
    try:
        port = parts.port
    except ValueError:
        return None
    return None if port == _DEFAULT_PORTS.get(parts.scheme.lower()) else port
