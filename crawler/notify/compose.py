"""The text of every message: pure functions over rows, in text, Markdown or HTML.

A story message names the headline, the origin source and date, how many other sources
carried the story (and which), its topics with the terms that matched, and links to the
article page in Datasette and to the original.  A digest lists stories under their topics;
alerts say which run failed or which source is flagged and why.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from crawler.records import StoryCard


@dataclass(frozen=True)
class Message:
    """What is sent: `type` is Apprise's notify type (info, success, warning, failure)."""

    title: str
    body: str
    format: str = "text"
    type: str = "info"

    def as_row(self) -> dict[str, str]:
        return {"title": self.title, "body": self.body, "format": self.format, "type": self.type}


@dataclass(frozen=True)
class Links:
    """Addresses in `topicwatch browse` (Datasette at `base_url`, the corpus as `database`)."""

    base_url: str
    database: str = "corpus"

    @property
    def root(self) -> str:
        return self.base_url.rstrip("/")

    def front(self) -> str:
        return self.root + "/"

    def article(self, article_id: int) -> str:
        return f"{self.root}/{quote(self.database)}/articles/{article_id}"

    def run(self, run_id: int) -> str:
        return f"{self.root}/{quote(self.database)}/runs/{run_id}"

    def source(self, name: str) -> str:
        return f"{self.root}/{quote(self.database)}/source_health?source={quote(name, safe='')}"


# ---------------------------------------------------------------- the three formats

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>])")  # what changes the meaning of inline text


class _Text:
    name = "text"

    def esc(self, s: str) -> str:
        return s

    def strong(self, s: str) -> str:
        return s

    def link(self, text: str, url: str) -> str:
        return f"{text}: {url}"

    def heading(self, s: str) -> str:
        return f"\n{s}"  # a blank line before each section

    def doc(self, blocks: Sequence[str | list[str]]) -> str:
        return "\n".join(b if isinstance(b, str) else "\n".join(f"- {i}" for i in b)
                         for b in blocks).strip()


class _Markdown(_Text):
    name = "markdown"

    def esc(self, s: str) -> str:
        return _MD_SPECIAL.sub(r"\\\1", s)

    def strong(self, s: str) -> str:
        return f"**{s}**"

    def link(self, text: str, url: str) -> str:
        return f"[{text}]({url.replace(' ', '%20').replace('(', '%28').replace(')', '%29')})"

    def heading(self, s: str) -> str:
        return f"### {s}"

    def doc(self, blocks: Sequence[str | list[str]]) -> str:
        return "\n\n".join(b if isinstance(b, str) else "\n".join(f"- {i}" for i in b) for b in blocks)


class _Html(_Text):
    name = "html"

    def esc(self, s: str) -> str:
        return html.escape(s, quote=False)

    def strong(self, s: str) -> str:
        return f"<b>{s}</b>"

    def link(self, text: str, url: str) -> str:
        return f'<a href="{html.escape(url)}">{text}</a>'

    def heading(self, s: str) -> str:
        return f"<h3>{s}</h3>"

    def doc(self, blocks: Sequence[str | list[str]]) -> str:
        out = []
        for b in blocks:
            if isinstance(b, list):
                out.append("<ul>" + "".join(f"<li>{i}</li>" for i in b) + "</ul>")
            else:
                out.append(b if b.startswith("<h3>") else f"<p>{b}</p>")
        return "\n".join(out)


FORMATS = {f.name: f for f in (_Text(), _Markdown(), _Html())}


# ---------------------------------------------------------------- stories

def also_in(card: StoryCard) -> str:
    """'also in 2 other sources (a, b)', or that it has no other source yet."""
    n = len(card.other_sources)
    if not n:
        return "no other source yet"
    shown = ", ".join(card.other_sources[:5]) + (", …" if n > 5 else "")
    return f"also in {n} other source{'s' * (n != 1)} ({shown})"


def topic_line(card: StoryCard, f: _Text) -> str:
    parts = []
    for topic in card.topics:
        terms = card.terms_of(topic)
        parts.append(f.strong(f.esc(topic)) + (f" ({f.esc(', '.join(terms))})" if terms else ""))
    return "Topics: " + "; ".join(parts) if parts else "Topics: none"


def _source_line(card: StoryCard, f: _Text) -> str:
    day = (card.published or card.first_seen or "")[:10]
    return " · ".join(x for x in (f.strong(f.esc(card.source)), day, f.esc(also_in(card))) if x)


def story_message(card: StoryCard, fmt: str, links: Links) -> Message:
    """One new story, as its own message."""
    f = FORMATS[fmt]
    blocks: list[str | list[str]] = [
        f.strong(f.link(f.esc(card.title), links.article(card.article_id)))
        if fmt != "text" else card.title,
        _source_line(card, f),
        topic_line(card, f),
        f.link("Article page", links.article(card.article_id)) + ("\n" if fmt == "text" else " · ")
        + f.link("Original", card.url),
    ]
    return Message(title=card.title, body=f.doc(blocks), format=fmt)


def _story_item(card: StoryCard, f: _Text, links: Links) -> str:
    terms = sorted({t for topic in card.topics for t in card.terms_of(topic)})
    head = f.link(f.esc(card.title), links.article(card.article_id)) if f.name != "text" else card.title
    tail = [f.esc(card.source), f.esc(also_in(card))] + ([f.esc(", ".join(terms))] if terms else [])
    if f.name == "text":
        return f"{head}\n  " + " · ".join(tail) + f"\n  {links.article(card.article_id)} · {card.url}"
    return f"{head} — " + " · ".join(tail) + " · " + f.link("original", card.url)


def group_by_topic(cards: Sequence[StoryCard], order: Sequence[str]) -> dict[str, list[StoryCard]]:
    """Each story under the first of its topics in `order` (or its own first topic)."""
    groups: dict[str, list[StoryCard]] = {t: [] for t in order}
    for card in cards:
        home = next((t for t in order if t in card.topics), card.topics[0] if card.topics else "other")
        groups.setdefault(home, []).append(card)
    return {t: g for t, g in groups.items() if g}


def listing_message(cards: Sequence[StoryCard], fmt: str, links: Links, topic_order: Sequence[str],
                    max_items: int, title: str) -> Message:
    """Stories grouped per topic, the most widely carried first, at most `max_items` listed."""
    f = FORMATS[fmt]
    ranked = sorted(cards, key=lambda c: (-len(c.other_sources), c.story_id))
    listed = {c.story_id for c in ranked[:max_items]}
    blocks: list[str | list[str]] = []
    for topic, group in group_by_topic(ranked, topic_order).items():
        shown = [c for c in group if c.story_id in listed]
        blocks.append(f.heading(f"{f.esc(topic)} ({len(group)} new)"))
        items = [_story_item(c, f, links) for c in shown]
        if len(group) > len(shown):
            items.append(f"… and {len(group) - len(shown)} more")
        blocks.append(items)
    if len(cards) > max_items:
        blocks.append(f.link(f"All {len(cards)} new stories", links.front()))
    return Message(title=title, body=f.doc(blocks), format=fmt)


def digest_title(cards: Sequence[StoryCard]) -> str:
    n = len(cards)
    return f"topicwatch digest: {n} new stor{'ies' if n != 1 else 'y'}"


def more_title(cards: Sequence[StoryCard]) -> str:
    return f"topicwatch: {len(cards)} more new stor{'ies' if len(cards) != 1 else 'y'}"


# ---------------------------------------------------------------- alerts and tests

def run_alert(run: dict[str, Any], fmt: str, links: Links) -> Message:
    f = FORMATS[fmt]
    what = "fetched nothing" if run["status"] == "nothing-fetched" else run["status"]
    error = (run.get("error") or "").strip()[-500:]
    blocks: list[str | list[str]] = [
        f"Run {run['id']} ({f.esc(run.get('trigger') or 'crawl')}), started {run['started']}, "
        f"ended {run['ended']}: {f.strong(f.esc(what))}.",
        *([f.esc(error)] if error else []),
        f.link(f"Run {run['id']}", links.run(run["id"])),
    ]
    return Message(title=f"topicwatch: run {run['id']} {what}", body=f.doc(blocks), format=fmt,
                   type="failure")


def source_alert(row: dict[str, Any], fmt: str, links: Links) -> Message:
    f = FORMATS[fmt]
    details = [f"last success: {row.get('last_success') or 'never'}"]
    if row.get("last_error_reason"):
        details.append(f"last error: {f.esc(str(row['last_error_reason'])[:300])}")
    blocks: list[str | list[str]] = [
        f"Source {f.strong(f.esc(row['source']))} is flagged: {f.esc(row.get('flag_reason') or '')}.",
        details,
        f.link("Source health", links.source(row["source"])),
    ]
    return Message(title=f"topicwatch: source {row['source']} flagged", body=f.doc(blocks),
                   format=fmt, type="warning")


def test_message(name: str, fmt: str, links: Links) -> Message:
    f = FORMATS[fmt]
    blocks: list[str | list[str]] = [
        f"A test message for the notify target {f.strong(f.esc(name))}: new stories will arrive "
        "like this one.",
        f.link("Browse the corpus", links.front()),
    ]
    return Message(title=f"topicwatch: test message for {name}", body=f.doc(blocks), format=fmt)
