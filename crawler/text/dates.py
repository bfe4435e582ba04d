"""Dates as publishers state them: one parser for feeds, sitemaps, <meta> tags and bylines.

`parse_date` reads the forms the web uses (ISO 8601 / W3C, Chinese `2024年09月20日 13:47`,
slashed `2024/09/20 13:47`, RFC 822/2822, asctime, English month names) and returns a `When`
that keeps what was stated: the day, maybe a time, maybe a zone. Deciding what a time without
a zone means is the caller's job (`When.iso(local)`): extraction knows the page's language,
sources know the feed's. A bare year is never a date (copyright lines carry one); neither is a
day before 1990 or more than two days ahead.

Feeds and sitemaps go through `stated_iso`, not through feedparser's `*_parsed` values:
feedparser turns `2024/09/20 13:47` and `2024年09月20日 13:47` into the 1st of November of that
year (measured with feedparser 6), and it silently reads a zone-less time as UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from datetime import time as dtime
from email.utils import parsedate_to_datetime

BEIJING = timezone(timedelta(hours=8))  # China, Hong Kong, Macau, Taiwan, Singapore: all +08:00

_DATE_RE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)\s*日?"
    r"(?:(?:T|\s*)(\d{1,2})\s*[:：时時]\s*(\d{2})(?:\s*[:：分]\s*(\d{2}))?(?:\.\d+)?"
    r"(?:\s*[(（]?\s*(Z|[+-]\d{2}:?\d{2}|[+-]\d{2}(?![\d:])|(?:UTC|GMT)\s*[+-]\s*\d{1,2}(?::?\d{2})?|UTC|GMT|"
    r"北京时间|北京時間|台北時間|Beijing time)(?![A-Za-z]))?)?"
)
# ISO 8601's basic form, as some CMSes write it in JSON-LD: 20180619T055000+0900
_COMPACT_RE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?"
)
# RFC 822 / 2822 shape (day, month name, year, time): only then is email.utils asked, since it
# reads "September 20, 2011, 6:37 PM EDT" as 06:37 without complaint
_RFC_SHAPE_RE = re.compile(r"\b\d{1,2}\s+[a-z]{3}[a-z]*\.?\s+\d{4}\s+\d{1,2}:\d{2}", re.I)
# a time right after an English date: ", 6:37 PM EDT", " – 4:39 PM", " at 11:29 a.m.", " 17:55 UTC"
_TIME_AFTER_RE = re.compile(
    r"\s*(?:[,–—-]\s*)?(?:at\s+|@\s*)?(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([ap])\.?\s?m\b\.?)?"
    r"(?:\s*\(?((?:UTC|GMT)[+-]\d{2}:?\d{2}|UTC|GMT|Z|[ECMP][SD]T|BST|CEST|CET|JST|KST|HKT|SGT|"
    r"[+-]\d{2}:?\d{2})\b)?",
    re.I,
)
_ZONE_HOURS = {
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "BST": 1, "CET": 1, "CEST": 2, "JST": 9, "KST": 9, "HKT": 8, "SGT": 8,
}  # fmt: skip
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_MON = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_EN_DATE_RES = (
    re.compile(rf"\b{_MON}\s+(\d{{1,2}}),?\s+((?:19|20)\d{{2}})\b", re.I),  # Sep 20, 2024
    re.compile(rf"\b(\d{{1,2}})\s+{_MON},?\s+((?:19|20)\d{{2}})\b", re.I),  # 20 Sep 2024
)
_CHINESE_DATE_RE = re.compile(r"\d\s*[年月日时時分]")
# Java's Date.toString and many Chinese CMSes write China Standard Time as "CST", which
# RFC 822 (and email.utils) read as US Central time, 14 hours off.
_CST_RE = re.compile(r"\bCST\b")


@dataclass(frozen=True)
class When:
    """A date as the page states it: the day, maybe a time, maybe a UTC offset."""

    day: date
    clock: dtime | None = None
    tz: tzinfo | None = None

    def iso(self, local: tzinfo | None) -> str:
        """ISO 8601: the day alone without a time; a time without a zone is taken in `local`
        (None leaves it naive). A stated offset is kept, not converted: the publisher's day
        (the first ten characters) stays the day the publisher printed."""
        if self.clock is None:
            return self.day.isoformat()
        return datetime.combine(self.day, self.clock, self.tz or local).isoformat()

    def instant(self) -> datetime | None:
        """The moment as an aware datetime (a zone-less time taken as UTC); None for a day."""
        if self.clock is None:
            return None
        return datetime.combine(self.day, self.clock, self.tz or UTC)


def parse_date(raw: str | None) -> When | None:
    """The first date stated in `raw` (ISO, Chinese, slashed, RFC 2822 or English month forms)."""
    if not raw:
        return None
    match = _DATE_RE.search(raw)
    if match:
        return _when_from_match(match)
    match = _COMPACT_RE.search(raw)
    if match:
        return _when_from_compact(match)
    if _RFC_SHAPE_RE.search(raw):
        try:
            stamp = parsedate_to_datetime(raw.strip())
        except (TypeError, ValueError, IndexError):
            stamp = None
        if stamp is not None and plausible(stamp.date()):
            rfc = When(stamp.date(), stamp.time().replace(microsecond=0), stamp.tzinfo)
            # a zone email.utils does not read ("+08:00", "PM +0800") leaves it naive: the
            # English reading takes 12-hour clocks and such zones
            return rfc if stamp.tzinfo is not None else (_english_date(raw, with_time=True) or rfc)
    return _english_date(raw, with_time=True)


def has_date(line: str) -> bool:
    """`line` states a day in numbers (`2024-09-20`, `2024年9月20日`) or in English words."""
    return bool(_DATE_RE.search(line) or _english_date(line, with_time=False))


def stated_iso(raw: str | None, chinese_source: bool) -> str | None:
    """A feed's or sitemap's date as ISO 8601, or None when `raw` states none.

    The rule for a time without a zone: Beijing time (+08:00) when the date is written with
    Chinese characters (年月日时分) or `chinese_source` says the feed or sitemap declares a
    Chinese language or title, as extraction does for Chinese pages; otherwise UTC (+00:00),
    which is what RFC 822 says of a missing zone and what feed readers assume. A stated zone
    is kept as stated, and "CST" from a Chinese source is China Standard Time. A day without
    a time stays a day.
    """
    when = parse_date(raw)
    if when is None or raw is None:
        return None
    chinese = chinese_source or bool(_CHINESE_DATE_RE.search(raw))
    if chinese and when.clock is not None and _CST_RE.search(raw):
        when = replace(when, tz=BEIJING)
    return when.iso(BEIJING if chinese else UTC)


def plausible(day: date) -> bool:
    """A publication day: not before 1990, not more than two days ahead of today."""
    return date(1990, 1, 1) <= day <= datetime.now(UTC).date() + timedelta(days=2)


def _when_from_match(match: re.Match[str]) -> When | None:
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        the_day = date(int(year), int(month), int(day))
        clock = dtime(int(hour), int(minute), int(second or 0)) if hour else None
    except ValueError:
        return None
    if not plausible(the_day):
        return None
    return When(the_day, clock, _zone(zone))


def _when_from_compact(match: re.Match[str]) -> When | None:
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        the_day = date(int(year), int(month), int(day))
        clock = dtime(int(hour), int(minute), int(second or 0))
    except ValueError:
        return None
    return When(the_day, clock, _zone(zone)) if plausible(the_day) else None


def _zone(text: str | None) -> tzinfo | None:
    if not text:
        return None
    text = re.sub(r"\s+", "", text.upper())
    if text in ("北京时间", "北京時間", "台北時間", "BEIJINGTIME"):
        return BEIJING
    if text in ("Z", "UTC", "GMT"):
        return UTC
    if text in _ZONE_HOURS:
        return timezone(timedelta(hours=_ZONE_HOURS[text]))
    m = re.search(r"([+-])(\d{1,2}):?(\d{2})?$", text)
    if not m or int(m.group(2)) > 14:
        return None
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
    return timezone(-delta if m.group(1) == "-" else delta)


def _english_date(raw: str, with_time: bool) -> When | None:
    for pattern in _EN_DATE_RES:
        m = pattern.search(raw)
        if not m:
            continue
        first, second, year = m.groups()
        mon, dd = (first, second) if pattern is _EN_DATE_RES[0] else (second, first)
        try:
            the_day = date(int(year), _MONTHS.index(mon[:3].lower()) + 1, int(dd))
        except ValueError:
            continue
        if plausible(the_day):
            clock, zone = _time_after(raw, m.end()) if with_time else (None, None)
            return When(the_day, clock, zone)
    return None


def _time_after(raw: str, at: int) -> tuple[dtime | None, tzinfo | None]:
    """The time (and zone) written right after an English date, 12-hour clocks included."""
    m = _TIME_AFTER_RE.match(raw, at)
    if not m:
        return None, None
    hour, minute, second, half, zone = m.groups()
    hour = int(hour) % 12 + (12 if half.lower() == "p" else 0) if half else int(hour)
    try:
        return dtime(hour, int(minute), int(second or 0)), _zone(zone)
    except ValueError:
        return None, None


# "3小时前", "1小时5分钟前", "2 hours ago", "1 hr 4 mins ago", "刚刚", "昨天 14:30",
# "yesterday at 9:05": what a page says of a story it published minutes or hours before it
# was fetched. A day word needs a time ("今日头条" and "今日关注" are names); "N日前" is not
# read ("日前" means "recently", and "20日前" "before the 20th").
_ZH_UNIT = r"(?:秒钟?|秒鐘|分钟|分鐘|个?小时|個?小時|天)"
_EN_UNIT = r"(?:secs?|seconds?|mins?|minutes?|hrs?|hours?|days?)\b"
_RELATIVE_RE = re.compile(
    r"(?P<now>刚刚|剛剛|刚才|剛才|\bjust now\b)"
    rf"|(?<!\d)(?P<span>(?:\d{{1,3}}\s*{_ZH_UNIT}\s*)+)前"
    rf"|\b(?P<en_span>(?:(?:\d{{1,3}}|an?|one)\s+{_EN_UNIT},?\s*(?:and\s+)?)+)ago\b"
    r"|(?P<word>今天|今日|昨天|昨日|前天|\btoday|\byesterday)\s*(?:at\s+)?"
    r"(?P<h>\d{1,2})\s*[:：]\s*(?P<m>\d{2})(?!\d)(?:\s*(?P<half>[ap])\.?\s?m\b\.?)?",
    re.I,
)
_RELATIVE_PART_RE = re.compile(rf"(\d{{1,3}}|an?|one)\s*({_ZH_UNIT}|{_EN_UNIT})", re.I)
_RELATIVE_UNIT = {"秒": 1, "分": 60, "小": 3600, "個": 3600, "个": 3600, "天": 86400,
                  "s": 1, "m": 60, "h": 3600, "d": 86400}  # fmt: skip
_DAYS_BACK = {"今天": 0, "今日": 0, "today": 0, "昨天": 1, "昨日": 1, "yesterday": 1, "前天": 2}


def has_relative_date(line: str) -> bool:
    """`line` dates itself relative to now ("3小时前", "2 hours ago", "昨天 14:30")."""
    return bool(_RELATIVE_RE.search(line))


def relative_date(raw: str | None, fetched_at: datetime, local: tzinfo | None) -> When | None:
    """The date a relative phrase in `raw` means for a page fetched at `fetched_at` (aware):
    a moment for "N minutes / hours ago" (in `local`, or UTC), "yesterday 14:30" in `local`
    (without a zone when None, as a stated time would be), a day for "N days ago". None when
    `raw` has no such phrase."""
    m = _RELATIVE_RE.search(raw or "")
    if not m:
        return None
    zone = local or UTC
    at = fetched_at.astimezone(zone)
    if m["word"]:
        hour, minute = int(m["h"]), int(m["m"])
        if m["half"]:
            hour = hour % 12 + (12 if m["half"].lower() == "p" else 0)
        if hour > 23 or minute > 59:
            return None
        day = at.date() - timedelta(days=_DAYS_BACK[m["word"].lower()])
        return When(day, dtime(hour, minute), local) if plausible(day) else None
    seconds = sum((int(n) if n.isdigit() else 1) * _RELATIVE_UNIT[unit[0].lower()]
                  for n, unit in _RELATIVE_PART_RE.findall(m["span"] or m["en_span"] or ""))
    then = at - timedelta(seconds=seconds)
    if seconds >= 86400:
        return When(then.date()) if plausible(then.date()) else None
    return When(then.date(), then.time().replace(second=0, microsecond=0), zone)


def is_too_old(published: str | None, max_age_days: int, now: datetime | None = None) -> bool:
    """True only when a stated date is older than the limit: an unknown date is never too old.

    A date without a time counts by calendar day, so an article from "yesterday" with a one-day
    limit is kept whatever its hour or time zone was. Zone-less times are taken as UTC.
    """
    if max_age_days <= 0:
        return False
    when = parse_date(published)
    if when is None:
        return False
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    instant = when.instant()
    if instant is None:
        return (now.astimezone(UTC).date() - when.day).days > max_age_days
    return now - instant > timedelta(days=max_age_days)
