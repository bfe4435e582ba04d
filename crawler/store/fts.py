"""Chinese-aware full-text search on plain SQLite FTS5.

FTS5's `unicode61` tokenizer keeps a run of Chinese characters as one token, and `trigram`
cannot match two-character words (算力, 开源), the commonest kind.  So the index does not hold
the text itself but an *indexed form* of it:

- script, width and case folded (Traditional -> Simplified, so 开源 finds 開源);
- every run of Han characters written as its overlapping bigrams, plus the run's last
  character: 大模型 -> `大模 模型 型`;
- everything else (English words, numbers) left for unicode61 to tokenize.

A query goes through the same transformation: each Chinese word becomes a phrase of its bigrams
(`"大模 模型"`), which FTS5 matches only when the bigrams are adjacent, i.e. when the word
occurs; a single character becomes a prefix query.  English words are quoted; those of four
letters or more also match as prefixes (agent finds agents, qwen finds Qwen2).

The indexed form is unreadable, so passages shown to people are cut from the original text:
`match_spans` finds the query's words in it (through the same folding) and `snippet` returns
the best passage with the matches wrapped in `<mark>`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from crawler.text.normalise import HAN, fold, to_simplified

_HAN_RUN = re.compile(f"[{HAN}]+")
_QUERY_TOKEN = re.compile(r'"[^"]*"?|\S+')
_LETTER = rf"[^\W_{HAN}]"  # a letter or digit that is not Han: \w alone would glue 千问 to qwen
_WORD = re.compile(rf"[{HAN}]+|{_LETTER}+")
_MARK_TAG = re.compile(r"</?mark>", re.IGNORECASE)
SNIPPET_LOOKAHEAD = 1500  # characters folded first when looking for the first match


def _bigrams(run: str) -> str:
    if len(run) == 1:
        return run
    return " ".join(run[i : i + 2] for i in range(len(run) - 1)) + " " + run[-1]


def index_text(text: str | None) -> str:
    """The indexed form of `text` (see the module docstring)."""
    if not text:
        return ""
    return _HAN_RUN.sub(lambda m: f" {_bigrams(m.group())} ", fold(text))


def _is_prefix_word(word: str) -> bool:
    """A single Han character or an English word of four letters or more matches as a prefix."""
    if _HAN_RUN.search(word):
        return len(word) == 1
    return len(word) >= 4 and word.isalpha()


def _tokens(word: str, last: bool) -> list[str]:
    """The indexed tokens of one query word inside a phrase.

    A Han word's tokens are its bigrams; when another word follows it in the phrase, the run's
    last character (which the index writes after the bigrams) must follow too.
    """
    if not _HAN_RUN.fullmatch(word) or len(word) == 1:
        return [word]
    grams = [word[i : i + 2] for i in range(len(word) - 1)]
    return grams if last else [*grams, word[-1]]


def _phrase(words: list[str]) -> str:
    """One FTS5 phrase for words that must occur together, in order."""
    tokens = [t for i, w in enumerate(words) for t in _tokens(w, i == len(words) - 1)]
    return '"' + " ".join(tokens) + '"' + (" *" if _is_prefix_word(words[-1]) else "")


def query_words(query: str) -> list[list[str]]:
    """The query as groups of folded words: one group per quoted phrase, one per bare word."""
    groups: list[list[str]] = []
    for token in _QUERY_TOKEN.findall(fold(query)):
        words = _WORD.findall(token)
        if token.startswith('"') and words:
            groups.append(words)
        else:
            groups.extend([w] for w in words)
    return groups


def fts_query(query: str) -> str:
    """Turn what a person typed into an FTS5 MATCH expression over the indexed form.

    Words are ANDed; a quoted part is kept together as one phrase.  Returns "" when nothing
    searchable is left (the caller should then not search at all).
    """
    return " ".join(_phrase(words) for words in query_words(query))


# ---------------------------------------------------------------- passages for people

@lru_cache(maxsize=256)
def _term_pattern(query: str) -> re.Pattern[str] | None:
    """A regex over folded text matching any word of the query, longest first."""
    words = sorted({w for group in query_words(query) for w in group}, key=len, reverse=True)
    if not words:
        return None
    parts = []
    for w in words:
        if _HAN_RUN.fullmatch(w):
            parts.append(re.escape(w))
        elif _is_prefix_word(w):  # agent also marks agents
            parts.append(f"(?<!{_LETTER}){re.escape(w)}{_LETTER}*")
        else:
            parts.append(f"(?<!{_LETTER}){re.escape(w)}(?!{_LETTER})")
    return re.compile("|".join(parts))


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch).lower()
    return folded if len(folded) == 1 else ch  # …, ™, ① would shift every offset after them


def fold_aligned(text: str) -> str:
    """`fold(text)` one character for one character, so offsets in it are offsets in `text`.

    Characters whose folded form is longer (… is NFKC "...") are left as they are.
    """
    simplified = to_simplified(text)
    if len(simplified) != len(text):  # a phrase conversion changed the length: go char by char
        simplified = "".join(s if len(s := to_simplified(c)) == 1 else c for c in text)
    return _folding().sub(lambda m: _fold_char(m.group()), simplified)


@lru_cache(maxsize=1)
def _folding() -> re.Pattern[str]:
    """The characters `_fold_char` changes (upper case, full-width forms, ...; any outside
    the BMP is tried), so a text is scanned in C and only those are folded one by one."""
    chars = (chr(c) for c in range(0x10000) if not 0xD800 <= c < 0xE000)
    changed = (c for c in chars if (c.lower() != c or not unicodedata.is_normalized("NFKC", c))
               and _fold_char.__wrapped__(c) != c)
    return re.compile("[" + "".join(map(re.escape, changed)) + "\U00010000-\U0010FFFF]")


def match_spans(text: str | None, query: str) -> list[tuple[int, int]]:
    """Where the query's words occur in `text`: (start, end) offsets into the original text.

    Matching runs on the folded text, so 开源 finds 開源 and GPT finds gpt.
    """
    pattern = _term_pattern(query)
    if not text or pattern is None:
        return []
    return [m.span() for m in pattern.finditer(fold_aligned(text))]


def mark(text: str, spans: list[tuple[int, int]], start: int = 0, end: int | None = None) -> str:
    """`text[start:end]` with each span wrapped in `<mark>`; literal mark tags are dropped so
    the only ones left are ours (the web page turns them into HTML after escaping the rest)."""
    end = len(text) if end is None else end
    out, pos = [], start
    for s, e in spans:
        if s < pos or e > end:
            continue
        out += [_MARK_TAG.sub("", text[pos:s]), "<mark>", _MARK_TAG.sub("", text[s:e]), "</mark>"]
        pos = e
    out.append(_MARK_TAG.sub("", text[pos:end]))
    return "".join(out)


def _first_match(text: str, query: str) -> int | None:
    """Where the query's first word occurs; the text's start is folded first, since most
    matches are near it (a word cut at the boundary is found by the full pass)."""
    for end in (SNIPPET_LOOKAHEAD, None):
        spans = match_spans(text[:end], query)
        if spans:
            return spans[0][0]
        if end is None or end >= len(text):
            return None
    return None


def snippet(text: str | None, query: str, width: int = 160) -> str:
    """The passage of `text` around the first match of `query`, matches in `<mark>`.

    Starts at the paragraph holding the match when that is close, so the passage reads as
    a sentence; without a match it is the start of the text.  Only the passage shown and
    the text up to it are folded, not the whole text.
    """
    if not text:
        return ""
    first = _first_match(text, query) or 0
    start = max(0, first - width // 3)
    paragraph = text.rfind("\n", start, first)
    start = paragraph + 1 if paragraph >= 0 else start
    end = min(len(text), start + width)
    passage = text[start:end]
    body = mark(passage, match_spans(passage, query)).replace("\n", " ")
    return ("…" if start > 0 else "") + body.strip() + ("…" if end < len(text) else "")
