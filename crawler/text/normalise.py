"""Text normalisation shared by extraction, topic matching, dedup and search.

Everything here is a pure function over `str`; nothing knows about Scrapy or SQLite.

- `fold`: one comparable form of a text: Traditional folded to Simplified (OpenCC t2s),
  NFKC (full-width letters and digits become ASCII), lower case.
- `strip_pinyin`: remove the `(diǎn)` annotations content farms inject after characters.
- `detect_script`: `zh-Hans` / `zh-Hant` / None for a Chinese text.
- `normalise_for_hash`: fold, then drop whitespace and punctuation: the key for exact dedup.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

import opencc


@cache
def _converter(config: str) -> opencc.OpenCC:
    """OpenCC's converter, built on first use (its dictionaries take 40-90 ms to load, which
    a crawl's process would otherwise pay before its first request)."""
    return opencc.OpenCC(config)


def warm_up() -> None:
    """Build the converters now (a crawl's worker process, as it starts)."""
    _converter("t2s")
    _converter("s2t")


HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_RE = re.compile(f"[{HAN}]")

# A pinyin syllable with at least one tone mark, in ASCII or full-width brackets, right after
# a Han character: 熱點(diǎn) -> 熱點.  "(Harry Shum)" or "(资料图)" are left alone.
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_PINYIN_RE = re.compile(
    rf"(?<=[{HAN}])[(（]\s*[a-zü{_TONED}]*[{_TONED}][a-zü{_TONED}]*\s*[)）]"
)

_PUNCT_OR_SPACE_RE = re.compile(r"[\s\W_]+", re.UNICODE)
_SPACE_RE = re.compile(r"[ \t\u00a0\u3000]+")


def to_simplified(text: str) -> str:
    return _converter("t2s").convert(text)


def to_traditional(text: str) -> str:
    return _converter("s2t").convert(text)


def strip_pinyin(text: str) -> str:
    """Remove tone-marked pinyin injected after Han characters."""
    if "(" not in text and "（" not in text:  # most text: two scans in C, not a regex's
        return text
    return _PINYIN_RE.sub("", text)


def fold(text: str) -> str:
    """Script-, width- and case-folded form of `text`, for matching and comparison."""
    return to_simplified(unicodedata.normalize("NFKC", text)).lower()


@lru_cache(maxsize=4096)
def fold_term(term: str) -> str:
    """`fold` for short strings used over and over (topic terms, queries)."""
    return fold(term).strip()


# What `normalise_for_hash` gives besides this code depends on: the Unicode database (NFKC,
# `\W`; Python 3.12 knows letters 3.11 does not) and OpenCC's dictionaries.  Dedup keys
# computed in another process (a fleet's worker on another machine) are used only when it is
# the same there (crawler/dedup.py `NearDup.known`).
HASH_ENVIRONMENT = f"unicode {unicodedata.unidata_version}, opencc {getattr(opencc, '__version__', '?')}"


@lru_cache(maxsize=4)
def normalise_for_hash(text: str) -> str:
    """Folded text with pinyin, whitespace and punctuation removed.  Cached: ingest hashes an
    article's text for its exact copy and again for its shingles (0.8 ms a 10 KB text)."""
    return _PUNCT_OR_SPACE_RE.sub("", fold(strip_pinyin(text)))


def han_ratio(text: str) -> float:
    """Share of Han characters among the letters of `text`."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if _HAN_RE.match(c)) / len(letters)


def detect_script(text: str) -> str | None:
    """`zh-Hant` when converting to Simplified changes a noticeable share of the Han
    characters, `zh-Hans` when converting to Traditional does, None without Han text."""
    han = "".join(_HAN_RE.findall(text))
    if len(han) < 2:
        return None
    sample = han[:5000]
    to_s = sum(1 for a, b in zip(sample, to_simplified(sample), strict=False) if a != b)
    to_t = sum(1 for a, b in zip(sample, to_traditional(sample), strict=False) if a != b)
    if to_s == to_t == 0:
        return "zh-Hans"  # characters shared by both scripts: call it Simplified
    return "zh-Hant" if to_s > to_t else "zh-Hans"


def clean_spaces(text: str) -> str:
    """Collapse runs of spaces inside lines and blank-line runs to a single blank line."""
    # stripped first (the same result: every character _SPACE_RE takes is one strip removes),
    # so the blank lines most of a page's text is made of cost no regex
    lines = [_SPACE_RE.sub(" ", line) if line else line for line in map(str.strip, text.splitlines())]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


# A sentence ends here: a Chinese or ASCII full stop, question or exclamation mark (an ASCII
# full stop only before a space or at the end, so 3.5 and example.com do not count).
SENTENCE_END_RE = re.compile(r"[。！？!?]|\.\s|\.$")
# A Chinese sentence: bylines, labels and link lists carry none of these.
CJK_SENTENCE_RE = re.compile(r"[。！？]")
_WHITESPACE_RE = re.compile(r"\s+")


def squash(text: str) -> str:
    """`text` without any whitespace: compares a headline with the lines that repeat it."""
    return _WHITESPACE_RE.sub("", text)
