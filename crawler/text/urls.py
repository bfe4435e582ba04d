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
    quote,
    unquote_plus,
    urldefrag,
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
    session_id sessid phpsessid jsessionid aspsessionid cfid cftoken
""".split())
# `sid` names a session on some sites and a section or story id on others: dropped only when
# its value is as long as a session's random token (PHP's 26 characters, a servlet's 32 hex
# digits); a 24-hex-digit value is a database id (a MongoDB ObjectId) far more often
_SESSION_NAMES = frozenset({"sid", "s"})
_SESSION_TOKEN = re.compile(r"[A-Za-z0-9]{26,}")
# cache-busters: a timestamp or a random number under a name that says so
# (`?_=1764556800000`, `?t=1764556800`, `?r=0.7351`); `?v=3` or `?t=news` stay
_BUSTER_NAMES = frozenset({"_", "t", "ts", "timestamp", "time", "r", "rand", "random", "rnd",
                           "nocache", "cachebuster", "cb", "v"})
_BUSTER_VALUE = re.compile(r"\d{10}|\d{13}|0?\.\d{4,}|\d{14,}")
# a servlet session in the path: /story.html;jsessionid=1A2B3C
_PATH_SESSION_RE = re.compile(r";(?:jsessionid|phpsessid|sid)=[^/;?#]*", re.I)

# A date written in a URL path: /2024/09/20/, /20240920/, /2024-09-20-slug, /2024_0920/.
DATE_IN_PATH_RE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})[/_-]?(0[1-9]|1[0-2])[/_-]?(0[1-9]|[12]\d|3[01])(?!\d)"
)

# The suffix list bundled with tldextract: no download (no URLs), no cache file (no cache_dir).
# Private suffixes count (user1.github.io and user2.github.io are two sites).
_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ESCAPE_RE = re.compile(r"%[0-9a-fA-F]{2}")
# what stays unquoted in a query item (RFC 3986 query characters, and "%" of existing escapes)
_QUERY_SAFE = "%=/?:@!$'()*+,;~-._"


def canonical_url(url: str, declared: str | None = None) -> str:
    """The identity of an article URL: `declared` (rel=canonical / og:url) when it is an
    absolute http(s) URL on the same site and not the site's home page, else `url`; then
    cleaned (see `clean_url`)."""
    return clean_url(declared if _trust_declared(url, declared) else url)


def _trust_declared(url: str, declared: str | None) -> bool:
    """Sites declare canonicals that point elsewhere (syndication partners), at their home
    page or at the section the article sits in (template bugs that would make every article
    of the site or section one); trust none of them."""
    if not declared:
        return False
    try:  # Python refuses some URLs a page may declare (`https://[site_url]/`): not trusted
        d, u = urlsplit(declared.strip()), urlsplit(url.strip())
        if d.scheme.lower() not in ("http", "https") or not d.hostname:
            return False
        if site_of(declared) != site_of(url):
            return False
        cleaned = urlsplit(clean_url(declared))
    except ValueError:
        return False
    return cleaned.query != "" or not _is_above(_directory(cleaned.path), u.path)


# a folder's index page: /news/index.html is the section /news/
_INDEX_PAGE_RE = re.compile(r"(?:^|/)(?:index|default|home)\.(?:s?html?|php|jsp|aspx?)$", re.I)


def _directory(path: str) -> str | None:
    """The folder a path names ("/news/" for "/news/" and "/news/index.html"), else None."""
    path = _INDEX_PAGE_RE.sub("/", path or "/")
    return path if path.endswith("/") else None


def _is_above(folder: str | None, path: str) -> bool:
    """`folder` holds `path` further down (AMP's `story/amp/` under `story/` excepted)."""
    if folder is None or not (path or "/").startswith(folder):
        return False
    rest = (path or "/")[len(folder):].strip("/")
    return bool(rest) and rest.lower() != "amp"


def clean_url(url: str) -> str:
    """Lowercase scheme and host, no default port, no fragment (except `#!` routes), no
    tracking or session parameters (nor a `;jsessionid=` in the path), remaining parameters
    sorted, path case kept, an empty path is "/"."""
    parts = urlsplit(url.strip())
    fragment = parts.fragment if parts.fragment.startswith("!") else ""
    path = _PATH_SESSION_RE.sub("", parts.path)
    base = urlunsplit((parts.scheme, parts.netloc, path or "/", "", ""))
    try:
        base = normalize_url(base)  # courlan: case, default port, // and /../ in paths, quoting
    except (ValueError, AttributeError):
        base = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path or "/", "", ""))
    b = urlsplit(base)
    path = _ESCAPE_RE.sub(lambda m: m.group(0).upper(), b.path or "/")
    return urlunsplit((b.scheme, b.netloc, path, _clean_query(parts.query), fragment))


def _clean_query(query: str) -> str:
    """The query without trackers, sessions and cache-busters, its items sorted. Each item
    is kept as written (only quoted where a browser would quote it), so that a server reads
    it as before: `?12345` and `?/archives/2026/story.html` stay what they are, and a value
    percent-encoded in GBK is not re-encoded as UTF-8."""
    kept = []
    for item in query.split("&"):
        if not item:
            continue
        raw_name, _, raw_value = item.partition("=")
        name, value = unquote_plus(raw_name), unquote_plus(raw_value)
        if _is_tracker(name) or _is_session(name, value) or _is_cache_buster(name, value):
            continue
        item = quote(item, safe=_QUERY_SAFE)
        kept.append(_ESCAPE_RE.sub(lambda m: m.group(0).upper(), item))
    return "&".join(sorted(kept))


def _is_session(name: str, value: str) -> bool:
    return name.lower() in _SESSION_NAMES and _SESSION_TOKEN.fullmatch(value) is not None


def _is_cache_buster(name: str, value: str) -> bool:
    return name.lower() in _BUSTER_NAMES and _BUSTER_VALUE.fullmatch(value) is not None


def _is_tracker(name: str) -> bool:
    n = name.lower()
    return n in _TRACKERS or n.startswith(_TRACKER_PREFIXES)


_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def http_url(href: str | None, base: str) -> str | None:
    """`href` made absolute against `base`, fragment dropped; None unless http(s).  As in a
    browser (the WHATWG URL standard), a backslash before the query is a slash in an http(s)
    URL: pages made on Windows link `\\news\\2024\\12345.html`."""
    if not href:
        return None
    href = re.sub(r"[\t\r\n]", "", href).strip()
    if not href or href.startswith("#"):
        return None
    before_query = re.match(r"[^?#]*", href).group(0)  # type: ignore[union-attr]
    if "\\" in before_query:
        scheme = _SCHEME_RE.match(href)
        if scheme is None or scheme.group(0).lower() in ("http:", "https:"):
            href = before_query.replace("\\", "/") + href[len(before_query):]
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
