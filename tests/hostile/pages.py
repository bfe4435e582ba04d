"""Documents written for the hostile suite: an ordinary article, feeds, sitemaps, listings."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

PARAGRAPHS = (
    "The harbour authority of a small coastal town opened its new model-testing lab on Monday, "
    "a converted warehouse where engineers run language models against years of tide records "
    "and ferry timetables to see which schedules hold up when the weather turns.",
    "Its director said the lab began as a side project of two retired pilots who wanted to "
    "know whether a chatbot could explain berth assignments better than the printed notices "
    "nobody reads, and grew once the ferry operators started sending their own questions.",
    "The first results are modest. The models answer routine questions about departures "
    "well, but they still invent sailings on public holidays, and the team now checks every "
    "answer against the timetable database before anything reaches a passenger.",
    "Funding for the next two years comes from the regional transport fund, and the lab plans "
    "to publish its test questions so that other harbours can compare their own systems on "
    "the same footing rather than on vendor demonstrations.",
)


def article(title: str, extra_body: str = "", head: str = "") -> str:
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in PARAGRAPHS)
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">{head}"
            f"<title>{escape(title)}</title></head><body><article><h1>{escape(title)}</h1>"
            f"<p class=\"byline\">By Test Desk, 2024-09-20</p>{paragraphs}{extra_body}"
            "</article></body></html>")


def rss(links: Iterable[str], title: str = "Hostile wire", item_title: str = "Item") -> bytes:
    items = "".join(f"<item><title>{escape(item_title)} {i}</title><link>{escape(u)}</link></item>"
                    for i, u in enumerate(links))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}'
            f"</title>{items}</channel></rss>").encode()


def urlset(links: Iterable[str]) -> bytes:
    urls = "".join(f"<url><loc>{escape(u)}</loc></url>" for u in links)
    return ('<?xml version="1.0" encoding="utf-8"?><urlset xmlns="http://www.sitemaps.org/'
            f'schemas/sitemap/0.9">{urls}</urlset>').encode()


def sitemap_index(links: Iterable[str]) -> bytes:
    maps = "".join(f"<sitemap><loc>{escape(u)}</loc></sitemap>" for u in links)
    return ('<?xml version="1.0" encoding="utf-8"?><sitemapindex xmlns="http://www.sitemaps.org/'
            f'schemas/sitemap/0.9">{maps}</sitemapindex>').encode()


def listing(links: Iterable[str]) -> bytes:
    anchors = "".join(f'<li><a href="{escape(u)}">A headline long enough to be one, number {i}</a></li>'
                      for i, u in enumerate(links))
    return f"<html><body><ul>{anchors}</ul></body></html>".encode()


def entity_bomb(root: bytes, size: int = 10_000, count: int = 20_000) -> bytes:
    """Quadratic blow-up: one `size`-character entity referenced `count` times."""
    return (b'<?xml version="1.0"?>\n<!DOCTYPE r [\n<!ENTITY big "' + b"x" * size + b'">\n]>\n'
            + root.replace(b"@@", b"&big;" * count))


def billion_laughs(root: bytes, levels: int = 9) -> bytes:
    decls = b'<!ENTITY l0 "lol">' + b"".join(
        b'<!ENTITY l%d "%s">' % (i, b"&l%d;" % (i - 1) * 10) for i in range(1, levels + 1))
    return b'<?xml version="1.0"?>\n<!DOCTYPE r [' + decls + b"]>\n" + root.replace(
        b"@@", b"&l%d;" % levels)


def compact_rss(links: Iterable[str]) -> bytes:
    """A feed as small as a feed of many entries can be (relative links, no titles)."""
    items = "".join(f"<item><link>{u}</link></item>" for u in links)
    return f'<rss version="2.0"><channel><title>w</title>{items}</channel></rss>'.encode()


def compact_urlset(links: Iterable[str]) -> bytes:
    return ("<urlset>" + "".join(f"<url><loc>{u}</loc></url>" for u in links) + "</urlset>").encode()


def compact_listing(links: Iterable[str]) -> bytes:
    return ("<html><body>" + "".join(f'<a href="{u}">x</a>' for u in links)
            + "</body></html>").encode()
