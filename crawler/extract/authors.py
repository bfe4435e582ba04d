"""Who wrote the article: a person's name, never an outlet, a role or a template placeholder.

Where names are found, best first:
1. the markup: <meta name=author> and friends, JSON-LD `author` (people joined by ", ");
2. the byline under the headline: `作者：张三`, `记者 张三`, `界面新闻记者 | 肖芳`, `文｜张三`,
   `記者陳美玲／台北報導`, `By Ann Lee`;
3. a news agency's dispatch line opening the text: `新华社北京9月20日电（记者张三、李四）`;
4. the credit lines right after the text: `（作者：张三）`, `文/张三`;
5. trafilatura's guess (it often takes a commenter or a sidebar name: last but one);
6. an editor (`责任编辑：张三`, `编辑：张三`) when nobody else is named.

A candidate is refused when it names the outlet (the site name, the JSON-LD publisher, a
segment of the <title>, the credited 来源, or a name shaped like one: `新京报`, `CNN Wire`,
`Associated Press`), a role or placeholder (`Username`, `Staff`, `小编`), or holds an e-mail
address; trailing dates and job titles are cut (`Nathan Willis March 5`, `Ann Lee Games
Editor`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from crawler.extract.bylines import BYLINE_LABELS
from crawler.text.normalise import HAN, squash

_NAME = rf"[{HAN}·•]{{2,5}}(?:[、，,和与及][{HAN}·•]{{2,5}})*"
_WRITER_RE = re.compile(
    rf"(?:作\s*者|记\s*者|記\s*者|撰\s*文|编\s*译|編\s*譯|(?<![{HAN}])文)\s*[:：|｜/\s]\s*({_NAME})"
    # 记者会 / 記者會 (a press conference), 记者站 (a bureau), 记者证, 记者节: no name follows
    rf"|(?:记者|記者)(?![会會站证證节節])([{HAN}]{{2,4}}?(?:[、，][{HAN}]{{2,4}}?)*)"
    r"(?:报道|報導|摄|攝|$|\s|[/／])"
)
_DISPATCH_RE = re.compile(rf"[电電]\s*[(（]\s*(?:记者|記者)\s*({_NAME})(?:\s|[)）])")
_EDITOR_RE = re.compile(rf"(?:责任编辑|責任編輯|责编|責編|编辑|編輯)\s*[:：|｜/\s]\s*({_NAME})")
_EN_NAME = r"[A-Z][\w'’.-]*(?:\s+(?:[A-Z][\w'’.-]*|de|la|van|von|der|del|da|di|bin|al)){0,4}"
_BY_RE = re.compile(  # case matters in the names: "by Taboola by Taboola" is no list of people
    rf"^\s*(?i:(?:written\s+)?by)[:\s]\s*({_EN_NAME}(?:\s*(?:,|and|&)\s*{_EN_NAME})*)"
)
_LABEL_RE = re.compile(
    r"^(?:作者|记者|記者|撰文|文|By|Par|Por|Von|Written by)\s*[:：|｜/]?\s*", re.I
)
_LABEL_STOP_RE = re.compile(f"(?:{BYLINE_LABELS}).*$")
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
# a date glued to the name: "Ann Lee March 5, 2015", "Ann Lee 2015-03-05", "Ann Lee Updated …"
_DATE_TAIL_RE = re.compile(
    rf"\s+(?:on\s+)?{_MONTHS}\s+\d.*$|\s*[|·•,]?\s*\d{{1,4}}[-/.年]\d.*$"
    r"|\s+(?:updated|published|posted)\b.*$",
    re.I,
)
# ... or its month alone, after a name of two words or more ("Nathan Willis March")
_MONTH_TAIL_RE = re.compile(rf"(?<=\S\s\S)(\S*)\s+{_MONTHS}$", re.I)
_ROLE_TAIL_RE = re.compile(
    r"(?:^|,|\s)\s*(?:[A-Z][a-z]+\s+)?(?:editor|writer|reporter|correspondent|contributor|"
    r"columnist|producer|staff writer|senior writer)s?\b.*$",
    re.I,
)
# two to four capitalised words or initials, not starting with an article: a person's name
_PERSON_SHAPE_RE = re.compile(
    r"^(?!(?i:the|le|la|les|el|los|die|der|das|il)\s)(?:[A-Z][\w'’.-]*\s+){1,3}[A-Z][\w'’.-]*$"
)
_URL_IN_RE = re.compile(r"\s*\(?(?:https?://|www\.)\S+\)?")
_OUTLET_WORDS_RE = re.compile(
    r"\b(?:news|press|wire|media|times|post|journal|daily|herald|tribune|gazette|magazine|"
    r"agency|network|networks|inc|ltd|llc|corp|group|nast|online|radio|tv|broadcasting|"
    r"associated|reuters|afp|ap|bbc|cnn|desk|staff|team|editors|editorial|contributors|"
    r"newsroom)\b",
    re.I,
)
_OUTLET_SUFFIX_RE = re.compile(
    r"(?:网|網|报|報|社|台|周刊|週刊|期刊|杂志|雜誌|新闻|新聞|财经|財經|在线|在線|传媒|傳媒|媒体|"
    r"媒體|集团|集團|公司|频道|頻道|综合|綜合|中心|客户端|客戶端|号|號|平台)$|[-_—｜|]"
)
_PLACEHOLDERS = frozenset(
    "username user admin administrator author anonymous unknown staff editor guest follow "
    "subscribe login share fail none null n/a 未知 佚名 匿名 网友 網友 本站 本网 本網 小编 "
    "小編 编辑 編輯 管理员 管理員 责任 責任 name email e-mail 名字 姓名".split()
)
_UI_WORDS_RE = re.compile(
    r"\b(?:follow|subscribe|sign in|log in|authority control|last updated|updated|read more|"
    r"view all|see all|posts by|more from|e-?mail)\b",
    re.I,
)


_META_KEYS = (
    "author",
    "article:author",
    "dc.creator",
    "dc:creator",
    "dcterms.creator",
    "dcterms:creator",
    "byl",
    "sailthru.author",
    "parsely-author",
)
_LIST_SPLIT_RE = re.compile(r"\s*(?:[,;，；、/]|\band\b|&|\|)\s*", re.I)


def person(name: str | None, outlets: Iterable[str] = ()) -> str | None:
    """`name` cleaned (labels, URLs, trailing dates and job titles removed), or None when it
    is no person's name: an outlet, a role, a placeholder, an e-mail address. A list of
    names (`Ann Lee, Bo Chen and CNN`) keeps its people, joined by ", "."""
    if not name or _UI_WORDS_RE.search(name):
        return None
    parts = _LIST_SPLIT_RE.split(name) if re.search(r"[,;，；、&|]|\band\b", name) else [name]
    if len(parts) > 1 and not re.search(f"[{HAN}]", name):
        people = [p for p in (_one_person(part, outlets) for part in parts) if p]
        return ", ".join(dict.fromkeys(people)) or None
    return _one_person(name, outlets)


def _one_person(name: str, outlets: Iterable[str]) -> str | None:
    name = _URL_IN_RE.sub("", " ".join(name.split()))
    name = _LABEL_RE.sub("", name)
    name = _LABEL_STOP_RE.sub("", name)
    name = _ROLE_TAIL_RE.sub("", _DATE_TAIL_RE.sub("", name))
    if len(name.split()) >= 3:
        name = _MONTH_TAIL_RE.sub(r"\1", name)
    name = name.strip(" ,，、|｜:：;；-")
    if not 2 <= len(name) <= 60 or "@" in name or any(c.isdigit() for c in name):
        return None
    if name.lower() in _PLACEHOLDERS or _lowercase_words(name):
        return None
    return None if is_outlet(name, outlets) else name


_PARTICLES = frozenset("de la le van von der den del da di du dos das bin al ibn y e".split())


def _lowercase_words(name: str) -> bool:
    """A Latin name of several words where one is lower case and no particle: a phrase
    ("Sponsored links by Partnerads"), not a name."""
    words = [w.strip("\"'“”‘’()[]") for w in name.split()]
    if len(words) < 2 or re.search(f"[{HAN}]", name):
        return False
    return any(w[:1].islower() and w not in _PARTICLES for w in words if w)


def is_outlet(name: str, outlets: Iterable[str] = ()) -> bool:
    """`name` names the publication, not a person: it is (part of) one of `outlets`, or it
    is shaped like an outlet's name."""
    if re.search(f"[{HAN}]", name):
        key = squash(name)
        if any(key in squash(o) or squash(o) in key for o in outlets if squash(o)):
            return True
        return bool(_OUTLET_SUFFIX_RE.search(name)) or len(key) > 12
    if _OUTLET_WORDS_RE.search(name):
        return True
    if _PERSON_SHAPE_RE.match(name):
        return False  # a personal site is named after its author: "Haki Benita"
    words = set(re.findall(r"\w+", name.lower()))
    for outlet in outlets:
        other = set(re.findall(r"\w+", outlet.lower()))
        if other and (words <= other or other <= words):
            return True
    return False


def plausible_guess(guess: str | None, near: str, outlets: set[str]) -> str | None:
    """trafilatura's author, when it is shaped like people's names or written `near` the
    headline or the text's ends: on Chinese portals it takes commenters and sidebar names."""
    name = person(guess, outlets)
    if not name:
        return None
    if squash(name) in near or all(_PERSON_SHAPE_RE.match(n) for n in name.split(", ")):
        return name
    return None


def editor(name: str | None, outlets: set[str]) -> str | None:
    """The editor `name` names, when it is an editor's credit (`责任编辑：张三`)."""
    m = _EDITOR_RE.search(name or "")
    return person(m.group(1), outlets) if m else None


def from_markup(props: dict[str, str], ld_authors: list[object], outlets: set[str]) -> str | None:
    """The author <meta> tags or JSON-LD name (JSON-LD people joined by ", ")."""
    for key in (
        "author",
        "article:author",
        "dc.creator",
        "byl",
        "sailthru.author",
        "parsely-author",
    ):
        name = person(props.get(key), outlets)
        if name:
            return name
    for value in ld_authors:
        items = value if isinstance(value, list) else [value]
        names = [person(_ld_name(i), outlets) for i in items]
        joined = ", ".join(dict.fromkeys(n for n in names if n))
        if joined:
            return joined
    return None


def _ld_name(item: object) -> str | None:
    if isinstance(item, dict):
        if str(item.get("@type", "")).lower() in ("organization", "newsmediaorganization"):
            return None
        value = item.get("name")
        return value if isinstance(value, str) else None
    return item if isinstance(item, str) else None


def from_lines(
    window: list[str], opening: list[str], closing: list[str], page: list[str], outlets: set[str]
) -> tuple[str | None, str | None]:
    """(writer, editor): the writer named in the byline `window`, the text's `opening` lines
    (a dispatch) or the `closing` credit lines after it; the editor credited on a short
    line anywhere on the `page` (`责任编辑：张三` lines name nobody else)."""
    window, closing, page = _joined(window), _joined(closing), _joined(page)
    writer = _first(_writer_in(line, outlets) for line in window)
    writer = writer or _first(_dispatch_in(line, outlets) for line in opening)
    writer = writer or _first(_writer_in(line, outlets) for line in closing if len(line) < 60)
    editor = _first(_editor_in(line, outlets) for line in [*window, *page] if len(line) < 40)
    return writer, editor


def _joined(lines: list[str]) -> list[str]:
    """Lines with a label standing alone (`责任编辑:` then `刘响` in the next element) joined
    to the line that follows it."""
    out: list[str] = []
    for line in lines:
        if out and len(out[-1]) <= 12 and out[-1].rstrip().endswith((":", "：")):
            out[-1] = out[-1] + line
        else:
            out.append(line)
    return out


def _first(names: Iterable[str | None]) -> str | None:
    return next((n for n in names if n), None)


def _writer_in(line: str, outlets: set[str]) -> str | None:
    m = _WRITER_RE.search(line)
    if m:
        return person(m.group(1) or m.group(2), outlets)
    m = _BY_RE.match(line)
    name = person(m.group(1), outlets) if m else None
    # "by Taboola", "By Reuters": a one-word name after "By" is a brand
    return name if name and all(" " in n for n in name.split(", ")) else None


def _dispatch_in(line: str, outlets: set[str]) -> str | None:
    m = _DISPATCH_RE.search(line[:80])
    return person(m.group(1), outlets) if m else None


def _editor_in(line: str, outlets: set[str]) -> str | None:
    m = _EDITOR_RE.search(line)
    return person(m.group(1), outlets) if m else None
