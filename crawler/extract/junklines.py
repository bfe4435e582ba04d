"""Line-level cleaning of trafilatura's main text: the junk it keeps on the Chinese web.

trafilatura leaves in disclaimers (and what follows them), ICP licence and copyright lines,
keyword-spam headers, share/print/font-size tool lines, bylines, "related reading" lists,
breadcrumbs and `首页 | 新闻 | 科技` navigation, and the headline repeated as the first
paragraph. Each rule is a short-line test, so prose that merely mentions these words (a
sentence listing companies between commas, a paragraph about copyright) survives.
"""

from __future__ import annotations

import re

from crawler.extract.bylines import BYLINE_LABELS, has_date, has_relative_date
from crawler.text.normalise import (
    CJK_SENTENCE_RE,
    SENTENCE_END_RE,
    clean_spaces,
    squash,
    strip_pinyin,
)

_DISCLAIMER_RE = re.compile(
    r"^[【\[（(]?\s*(?:免责声明|免責聲明|版权声明|版權聲明|特别声明|特別聲明|disclaimer)\s*[】\]）)]?\s*[:：]?",
    re.I,
)
_ICP_RE = re.compile(
    r"ICP\s*[备備证證]|ICP\s*\d{5,}|公网安备|公網安備|网安备|增值电信业务|经营许可证|經營許可證|网站标识码",
    re.I,
)
_COPYRIGHT_RE = re.compile(
    r"^\s*(?:copyright|©|\(c\))|copyright\s*(?:©|\(c\)|\d{4})|©\s*\d{4}|版权所有|版權所有|"
    r"all rights? reserved",
    re.I,
)
_TOOL_RE = re.compile(
    r"发送给朋友|推荐给朋友|打印本文|打印本页|打印|关闭窗口|關閉窗口|收藏本文|收藏|分享到|分享|"
    r"放大字体|缩小字体|字体|字體|字号|字號|返回顶部|返回首页|我要评论|我要糾錯|纠错|复制链接|"
    r"\b(?:share(?: (?:on|to|via) \w+)?|print|e-?mail|tweet|facebook|linkedin|whatsapp|"
    r"copy link|comments?)\b|[【\[]?\s*大\s*中\s*小\s*[】\]]?",
    re.I,
)
_SEPARATORS_RE = re.compile(r"[\s|｜/【】\[\]()（）·•:：,，、>»›<«]+")
_BYLINE_LABEL_RE = re.compile(BYLINE_LABELS)
_LEAD_LABEL_RE = re.compile(
    r"^[(（]?(?:责任编辑|責任編輯|编辑|編輯|责编|責編|(?:文章)?来源|(?:文章)?來源)\s*[:：]"
)
_NAV_RE = re.compile(
    r"您现在的位置|您的位置|当前位置|當前位置|所在位置|^首页\s*[>»›]|^首頁\s*[>»›]"
)
_RELATED = (
    "相关阅读 相关新闻 相关文章 相关推荐 相关报道 推荐阅读 延伸阅读 热点新闻 热门新闻 热门文章 "
    "热门推荐 热点推荐 猜你喜欢 精彩推荐 更多精彩 本周排行 排行榜 今日推荐 编辑推荐 最新文章 "
    "最新新闻 热点阅读 相關閱讀 相關新聞 相關文章 相關推薦 推薦閱讀 延伸閱讀 熱點新聞 熱門新聞 "
    "熱門文章 熱門推薦 猜你喜歡 精彩推薦 本週排行 編輯推薦 最新新聞"
)
_RELATED_RE = re.compile(
    rf"^[【\[]?\s*(?:{'|'.join(_RELATED.split())}|related(?: stories| articles| news| posts)?|"
    r"read more|more from [\w ]+|most read|recommended|you may also like|trending)\s*[】\]]?\s*"
    r"(?:[:：>»].*)?$",
    re.I,
)
_SHORT = 120  # a boilerplate line is shorter than this; a longer one is prose


def clean_text(text: str, titles: list[str]) -> str:
    """trafilatura's text, pinyin stripped, junk lines dropped, one paragraph per line, and
    without the headline (any of `titles`) repeated as the first paragraph."""
    lines = [line for line in clean_spaces(strip_pinyin(text or "")).split("\n") if line]
    kept = drop_junk_lines(lines)
    while kept and _is_headline(kept[0], titles):
        kept.pop(0)
    while kept and len(squash(kept[-1])) <= 6 and not SENTENCE_END_RE.search(kept[-1]):
        kept.pop()  # what a widget leaves after the text: "×", "- 推荐", "加载更多"
    return "\n".join(kept)


def _is_headline(line: str, titles: list[str]) -> bool:
    squashed = squash(line)
    return len(squashed) >= 4 and any(squashed in squash(t) for t in titles)


def drop_junk_lines(lines: list[str]) -> list[str]:
    """Drop boilerplate lines; a disclaimer ends the text; a related-links heading drops
    itself and the link-like lines after it."""
    kept: list[str] = []
    in_related = False
    for line in lines:
        if _DISCLAIMER_RE.match(line):
            break
        if _RELATED_RE.match(line) and len(line) < 80:
            in_related = True
            continue
        if in_related and len(line) < 40 and not SENTENCE_END_RE.search(line):
            continue
        in_related = False
        if not _is_junk(line):
            kept.append(line)
    return kept


def _is_junk(line: str) -> bool:
    if len(line) < _SHORT and (
        _ICP_RE.search(line) or _COPYRIGHT_RE.search(line) or _NAV_RE.search(line)
    ):
        return True
    return (
        _is_lead_label(line)
        or _is_byline(line)
        or _is_tool_line(line)
        or _is_keyword_list(line)
        or _is_nav_line(line)
    )


def _is_lead_label(line: str) -> bool:
    """`责任编辑：王五` or `来源：新华社` on a line of its own."""
    return bool(_LEAD_LABEL_RE.match(line)) and len(line) < 60 and not CJK_SENTENCE_RE.search(line)


def _is_byline(line: str) -> bool:
    """A short dated line with byline labels and no sentence: `2024-09-20 来源:… 作者:…`."""
    if len(line) >= _SHORT or CJK_SENTENCE_RE.search(line):
        return False
    if not (has_date(line) or has_relative_date(line)):
        return False
    return bool(_BYLINE_LABEL_RE.search(line) or re.match(r"by\s", line, re.I) and len(line) < 80)


def _is_tool_line(line: str) -> bool:
    """Nothing but share/print/font-size tools and separators: `分享到 | 打印 | 大 中 小`."""
    if len(line) > 80 or not _TOOL_RE.search(line):
        return False
    return not _SEPARATORS_RE.sub("", _TOOL_RE.sub("", line))


def _is_keyword_list(line: str) -> bool:
    """A long comma-separated run of short phrases with no sentence in it: a spam header
    or a keyword line."""
    if sum(map(line.count, ",，|｜")) < 7:
        return False
    parts = [p for p in re.split(r"[,，|｜]", line) if p.strip()]
    if len(parts) < 8 or SENTENCE_END_RE.search(line):
        return False
    return sum(len(p.strip()) for p in parts) / len(parts) <= 10


def _is_nav_line(line: str) -> bool:
    """`首页 | 新闻 | 科技 | 财经`: three or more short items between bars."""
    if line.count("|") + line.count("｜") < 3:
        return False
    parts = [p.strip() for p in re.split(r"[|｜]", line)]
    if len(parts) < 4:
        return False
    return sum(len(p) for p in parts) / len(parts) <= 8
