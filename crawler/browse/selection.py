"""What a reader asked for, read from a page's query string: words, topic, source, language,
script and a time window.  The front page, the articles list and the feeds spell their
parameters differently (Datasette's list uses `_search` and `_topic`) but mean the same, so a
search on any of them can be followed as the same Atom feed (`feed_path`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from crawler.store import fts
from crawler.store.queries import ARTICLE_COLUMNS, NO_BEFORE, Selection

FEED_PATH = "/-/topicwatch/feed.atom"
WINDOWS = {"today": ("today", 1), "7d": ("7 days", 7), "30d": ("30 days", 30)}  # value: (label, days)
SCRIPT_NAMES = {"zh-Hans": "Simplified", "zh-Hant": "Traditional"}
LANGUAGE_NAMES = {"zh": "Chinese", "en": "English"}


def since(window: str, now: dt.datetime | None = None) -> str:
    """The start (UTC midnight) of a window of whole days ending today; "" for any time."""
    if window not in WINDOWS:
        return ""
    today = (now or dt.datetime.now(dt.UTC)).date()
    return (today - dt.timedelta(days=WINDOWS[window][1] - 1)).isoformat()


@dataclass(frozen=True)
class Asked:
    """The filters as typed (for forms and links) and as a `Selection` (for queries)."""

    words: str = ""
    topics: tuple[str, ...] = ()
    source: str = ""
    language: str = ""
    script: str = ""
    window: str = ""
    before: int = NO_BEFORE  # words: only matches stored before this article id

    @classmethod
    def from_args(cls, args, words_key: str = "q", topic_key: str = "topic") -> Asked:
        """From request args (Datasette's `MultiParams`; the list spells `before` `_before`);
        unknown windows count as any time."""
        window = args.get("window", "")
        before = args.get("_before" if words_key.startswith("_") else "before") or ""
        return cls(
            words=(args.get(words_key) or "").strip(),
            topics=tuple(t for t in args.getlist(topic_key) if t),
            **{c: (args.get(c) or "").strip() for c in ARTICLE_COLUMNS},
            window=window if window in WINDOWS else "",
            before=int(before) if before.isdigit() else NO_BEFORE,
        )

    @classmethod
    def of_list(cls, args) -> Asked:
        """As the articles list spells it: `_search`, `_topic`, `_before`."""
        return cls.from_args(args, words_key="_search", topic_key="_topic")

    @property
    def match(self) -> str:
        """The FTS5 expression of the words; '""' (matches nothing) when none is searchable."""
        return fts.fts_query(self.words) or ('""' if self.words else "")

    def selection(self, now: dt.datetime | None = None) -> Selection:
        return Selection(match=self.match, topics=self.topics, source=self.source,
                         language=self.language, script=self.script, since=since(self.window, now),
                         before=self.before)

    def params(self) -> list[tuple[str, str]]:
        """Query-string pairs of the front page and the feeds (not `before`: a page of it)."""
        pairs = [("q", self.words)] + [("topic", t) for t in self.topics]
        pairs += [(c, getattr(self, c)) for c in ARTICLE_COLUMNS] + [("window", self.window)]
        return [(k, v) for k, v in pairs if v]

    def feed_path(self) -> str:
        """The Atom feed that follows this search (no time window: a feed is always new)."""
        pairs = [(k, v) for k, v in self.params() if k != "window"]
        return FEED_PATH + ("?" + urlencode(pairs) if pairs else "")

    def describe(self) -> str:
        """In words, for a feed's title: 开源 · topic compute · source 36kr."""
        parts = [self.words] if self.words else []
        parts += [f"topic {t}" for t in self.topics]
        parts += [f"{c} {getattr(self, c)}" for c in ARTICLE_COLUMNS if getattr(self, c)]
        return " · ".join(parts)


def version_label(language: str | None, script: str | None) -> str:
    """How a version is named on the page: Simplified, Traditional, English, or the code."""
    if script:
        return SCRIPT_NAMES.get(script, script)
    return LANGUAGE_NAMES.get(language or "", language or "")
