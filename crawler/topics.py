"""Topic matching: which configured topics an article is about, with a score a person can check.

How a term is found (title and text are folded once per article with `textnorm`: pinyin
annotations stripped, Traditional folded to Simplified, NFKC, lower case; terms the same way,
so 開源 finds 开源 and "LLM" finds "ｌｌｍ"):

- A term with a Han character is a substring of the folded text with whitespace removed
  (Chinese has no word boundaries: 大模型 is found in 多模态大模型 and in "大 模型").
- Any other term is a sequence of whole words.  Words are runs of Latin letters and digits, so
  punctuation, hyphens and Han characters are breaks ("open-source" is "open source", "AI芯片"
  contains "ai") and "AI" is not found in "said" or "maintain".  The last word also matches
  its simple plural (agent/agents, GPU/GPUs, agency/agencies, box/boxes).  A term ending in
  `*` is a prefix of its last word: "agent*" also finds "agentic".

A term starting with `-` in a group is a negative term: the group's other terms are not
counted inside it ("机器人" with "-聊天机器人" does not count a chatbot as a robot, "开源" with
"-开源节流" skips the idiom for cost-cutting).  It narrows that group only; other groups and
topics still see the text.

Score of a topic: each `terms` group (a list of aliases of one idea) that is found adds 1,
+1 more when it is in the title, +0.25 for every further mention in the text up to +1 (so a
group is worth 1 to 3).  An article matches when the score reaches `min_score`, every
`require` group is there and no `exclude` term is found.  Require groups gate, they do not add
to the score.  With `require_score` 0 (the default) a require group only has to be found.  With
`require_score` > 0 it must reach that score, counted like terms except that in a text longer
than 500 units (Han characters plus words) its mentions count per 500 units, and below one
mention per 500 units it is worth only its share: 1 = in the title, or at least one mention
per 500 units (one mention in a short news flash; "AI" twice in passing in a long story about
phones is not enough).  `Match.terms` names each matched group by its first term, as written
in settings.toml.
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from crawler.config import Topic
from crawler.records import Article, Match
from crawler.text.normalise import HAN, fold, fold_term, strip_pinyin

_HAN_RE = re.compile(f"[{HAN}]")
_WORD_RE = re.compile(r"[0-9a-z\u00c0-\u024f]+")
_SPACE_RE = re.compile(r"\s+")

TITLE_BONUS = 1.0
REPEAT_BONUS = 0.25
REPEAT_CAP = 1.0
CONTEXT_UNITS = 500  # with require_score, require groups count text mentions per this many units


@dataclass(frozen=True)
class Term:
    """A folded term: a `han` substring, or whole `words` whose last word may take any of
    `forms` (itself and its plurals), or, with `prefix`, any word starting with it."""

    han: str = ""
    words: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    prefix: bool = False


@dataclass(frozen=True)
class _Group:
    names: tuple[str, ...]  # the spellings as configured
    terms: tuple[Term, ...]
    masks: tuple[Term, ...] = ()  # negative terms: the group's terms are not counted inside them

    @property
    def name(self) -> str:
        return next((n for n in self.names if not n.startswith("-")), self.names[0])


@dataclass(frozen=True)
class _Compiled:
    topic: Topic
    groups: tuple[_Group, ...]
    require: tuple[_Group, ...]
    exclude: tuple[Term, ...]


def parse_term(term: str) -> Term | None:
    """The folded form of one configured term; None when nothing searchable is left."""
    folded = fold_term(term)
    if _HAN_RE.search(folded):
        return Term(han=_SPACE_RE.sub("", folded.rstrip("*")))
    prefix = folded.endswith("*")
    words = tuple(_WORD_RE.findall(folded))
    if not words:
        return None
    return Term(words=words, forms=(words[-1], *_plurals(words[-1])), prefix=prefix)


def _plurals(word: str) -> tuple[str, ...]:
    if len(word) < 2 or not word.isalpha():
        return ()
    out = [word + "s"]
    if word.endswith(("s", "x", "z", "ch", "sh")):
        out.append(word + "es")
    if word.endswith("y") and word[-2] not in "aeiou":
        out.append(word[:-1] + "ies")
    return tuple(out)


class _View:
    """One side (title or text) of an article as terms see it: `han`, the folded text without
    whitespace (Han terms), and `phrase`, its words joined by single spaces (word terms)."""

    def __init__(self, han: str, phrase: str):
        self.han, self.phrase = han, phrase

    @classmethod
    def of(cls, raw: str) -> _View:
        folded = fold(strip_pinyin(raw or ""))
        return cls(_SPACE_RE.sub("", folded), " " + " ".join(_WORD_RE.findall(folded)) + " ")

    def masked(self, masks: Sequence[Term]) -> _View:
        """This view with every occurrence of the `masks` blanked out (longest first)."""
        han, phrase = self.han, self.phrase
        for m in sorted(masks, key=lambda t: -len(t.han or " ".join(t.words))):
            if m.han:
                han = han.replace(m.han, _BLANK)
            else:
                phrase = _word_pattern(m).sub(_BLANK, phrase)
        return _View(han, phrase)

    @cached_property
    def words(self) -> list[str]:
        return self.phrase.split()

    @cached_property
    def units(self) -> int:
        """Length for densities: Han characters plus words."""
        return len(_HAN_RE.findall(self.han)) + len(self.words)

    @cached_property
    def word_counts(self) -> Counter[str]:
        return Counter(self.words)

    @cached_property
    def vocabulary(self) -> list[str]:
        return sorted(self.word_counts)

    def count(self, term: Term) -> int:
        if term.han:
            return self.han.count(term.han)
        head, last = term.words[:-1], term.words[-1]
        if term.prefix:
            return self._count_prefix(head, last)
        if not head:
            return sum(self.word_counts[w] for w in term.forms)
        lead = " " + " ".join(head) + " "
        return sum(self.phrase.count(f"{lead}{w} ") for w in term.forms)

    def _count_prefix(self, head: tuple[str, ...], last: str) -> int:
        if not head:  # the words starting with `last` are a run of the sorted vocabulary
            vocab, n = self.vocabulary, 0
            for i in range(bisect_left(vocab, last), len(vocab)):
                if not vocab[i].startswith(last):
                    break
                n += self.word_counts[vocab[i]]
            return n
        return len(_word_pattern(Term(words=(*head, last), prefix=True)).findall(self.phrase))


_BLANK = "|"  # what a masked phrase becomes: not a Han character, not a word


def _word_pattern(term: Term) -> re.Pattern[str]:
    """Whole-word occurrences of a word term in a `phrase` (spaces around every word)."""
    head = "".join(re.escape(w) + " " for w in term.words[:-1])
    if term.prefix:
        last = re.escape(term.words[-1]) + "[^ ]*"
    else:
        last = "(?:" + "|".join(map(re.escape, term.forms or term.words[-1:])) + ")"
    return re.compile(f"(?<= ){head}{last}(?= )")


class _Hits:
    """(title, text) counts of each distinct term, computed at most once per article (and
    per set of negative terms, which blank parts of the views the term is counted in)."""

    def __init__(self, article: Article):
        self._views = {(): (_View.of(article.title), _View.of(article.text))}
        self._memo: dict[tuple[Term, tuple[Term, ...]], tuple[int, int]] = {}
        self._groups: dict[tuple[str, ...], tuple[int, int]] = {}

    def __call__(self, term: Term, masks: tuple[Term, ...] = ()) -> tuple[int, int]:
        hit = self._memo.get((term, masks))
        if hit is None:
            title, text = self._masked(masks)
            hit = self._memo[(term, masks)] = (title.count(term), text.count(term))
        return hit

    def _masked(self, masks: tuple[Term, ...]) -> tuple[_View, _View]:
        views = self._views.get(masks)
        if views is None:
            title, text = self._views[()]
            views = self._views[masks] = (title.masked(masks), text.masked(masks))
        return views

    def group(self, group: _Group) -> tuple[int, int]:
        """Hits of a whole group, once per article: topics share groups (the shipped ones
        share a ~70-term AI-context require group), and its names say what it counts."""
        hit = self._groups.get(group.names)
        if hit is None:
            pairs = [self(t, group.masks) for t in group.terms]
            hit = self._groups[group.names] = (sum(p[0] for p in pairs), sum(p[1] for p in pairs))
        return hit

    def context(self, group: _Group) -> float:
        """Score of a require group: its text mentions per CONTEXT_UNITS in a longer text."""
        title, text = self.group(group)
        return context_score(title, text, self._views[()][1].units)


def group_score(title_hits: float, text_hits: float) -> float:
    """1 when found, +1 in the title, +0.25 per further mention in the text (at most +1)."""
    if not (title_hits or text_hits):
        return 0.0
    repeat = min(REPEAT_CAP, REPEAT_BONUS * max(0, text_hits - 1))
    return 1.0 + (TITLE_BONUS if title_hits else 0.0) + repeat


def context_score(title_hits: int, text_hits: int, units: int) -> float:
    """`group_score` with text mentions per CONTEXT_UNITS of a longer text, and a share of 1
    below one mention per CONTEXT_UNITS."""
    per_unit = text_hits * min(1.0, CONTEXT_UNITS / max(units, 1))
    if not title_hits and per_unit < 1:
        return per_unit
    return group_score(title_hits, per_unit)


def match_topics(article: Article, topics: Sequence[Topic]) -> tuple[Match, ...]:
    """The topics the article matches, highest score first (ties keep the topics' order)."""
    hits = _Hits(article)
    matches = [m for t in topics if (m := _match(compile_topic(t), hits)) is not None]
    return tuple(sorted(matches, key=lambda m: -m.score))


def _match(c: _Compiled, hits: _Hits) -> Match | None:
    if c.topic.keep_all:
        return Match(topic=c.topic.name, score=0.0, terms=())
    if any(sum(hits(t)) for t in c.exclude):
        return None
    if not all(_required(g, hits, c.topic.require_score) for g in c.require):
        return None
    scored = [(g.name, group_score(*hits.group(g))) for g in c.groups]
    score = round(sum(s for _, s in scored), 2)
    if score < c.topic.min_score or score == 0:
        return None
    return Match(topic=c.topic.name, score=score, terms=tuple(n for n, s in scored if s))


def _required(group: _Group, hits: _Hits, needed: float) -> bool:
    if needed <= 0:
        return bool(sum(hits.group(group)))
    return hits.context(group) >= needed


def explain(article: Article, topic: Topic) -> dict[str, Any]:
    """Per-group hit counts behind a topic's verdict, for `topicwatch topics --explain`."""
    c, hits = compile_topic(topic), _Hits(article)
    groups = [{"terms": list(g.names), "title": hits.group(g)[0], "text": hits.group(g)[1],
               "score": group_score(*hits.group(g))} for g in c.groups]
    match = _match(c, hits)
    return {
        "topic": topic.name,
        "matched": match is not None,
        "score": round(sum(g["score"] for g in groups), 2),
        "min_score": topic.min_score,
        "groups": groups,
        "require_score": topic.require_score,
        "require": [_explain_require(g, hits, topic.require_score) for g in c.require],
        "excluded_by": [t for t in _flat(topic.exclude) if (p := parse_term(t)) and sum(hits(p))],
    }


def _explain_require(group: _Group, hits: _Hits, needed: float) -> dict[str, Any]:
    """`found`: the group reaches `require_score` (by default: is found at all)."""
    return {"terms": list(group.names), "found": _required(group, hits, needed),
            "score": round(hits.context(group), 2)}


# Part of every fingerprint: raise it when a change to this module changes what matches, so
# that stored articles and kept pages are matched again.
MATCHER_VERSION = 1
_DEFINITION = ("terms", "require", "require_score", "exclude", "min_score", "keep_all")


def fingerprint(topic: Topic) -> str:
    """A short hash of what decides a topic's matches (not its description): two topics with
    the same fingerprint match the same articles."""
    try:
        return _fingerprint_cached(topic)
    except TypeError:  # a Topic built in code with lists
        return _fingerprint(topic)


@lru_cache(maxsize=256)
def _fingerprint_cached(topic: Topic) -> str:
    return _fingerprint(topic)


def _fingerprint(topic: Topic) -> str:
    definition = {k: getattr(topic, k) for k in _DEFINITION}
    text = json.dumps([MATCHER_VERSION, definition], ensure_ascii=False, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def fingerprints(topics: Iterable[Topic]) -> dict[str, str]:
    """topic name -> fingerprint: what a page is recorded as matched against."""
    return {t.name: fingerprint(t) for t in topics}


def compile_topic(topic: Topic) -> _Compiled:
    """Folded terms of a topic, cached per (hashable, i.e. loaded) Topic."""
    try:
        return _compile_cached(topic)
    except TypeError:  # a Topic built in code with lists: fine, just not cached
        return _compile(topic)


@lru_cache(maxsize=256)
def _compile_cached(topic: Topic) -> _Compiled:
    return _compile(topic)


def _compile(topic: Topic) -> _Compiled:
    return _Compiled(
        topic=topic,
        groups=tuple(g for g in map(_group, _groups(topic.terms)) if g.terms),
        require=tuple(_group(g) for g in _groups(topic.require)),
        exclude=tuple(t for t in map(parse_term, _flat(topic.exclude)) if t),
    )


def _group(names: tuple[str, ...]) -> _Group:
    def parsed(ns: Iterable[str]) -> tuple[Term, ...]:
        return tuple(dict.fromkeys(t for t in map(parse_term, ns) if t))

    negative = [n[1:] for n in names if n.startswith("-")]
    terms = parsed(n for n in names if not n.startswith("-"))
    return _Group(names=names, terms=terms, masks=parsed(negative) if terms else ())


def _groups(value: Iterable[Any]) -> tuple[tuple[str, ...], ...]:
    """Alias groups as config.py leaves them, also accepting plain strings and lists."""
    return tuple((g,) if isinstance(g, str) else tuple(g) for g in value)


def _flat(value: Iterable[Any]) -> list[str]:
    return [t for g in _groups(value) for t in g]
