"""The shipped settings.toml: its schedules fit its sources, and the feed quirks recorded for
default sources (docs/default-sources.md) are read correctly. Fixtures are written here."""

from __future__ import annotations

from pathlib import Path

from crawler.config import load_settings
from crawler.sources.feeds import parse_feed

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = load_settings(ROOT / "settings.toml")


def test_schedules_name_only_enabled_sources():
    enabled = {s.name for s in SHIPPED.sources if s.enabled}
    scheduled = {n for sch in SHIPPED.schedules for n in sch.sources}
    assert scheduled <= enabled, f"scheduled but disabled: {scheduled - enabled}"


def test_every_enabled_source_is_on_a_schedule():
    enabled = {s.name for s in SHIPPED.sources if s.enabled}
    scheduled = {n for sch in SHIPPED.schedules for n in sch.sources}
    assert enabled <= scheduled, f"never run by the daemon: {enabled - scheduled}"


def test_the_bnext_feed_is_polled_at_least_every_30_minutes():
    # its feed empties at 00:00 UTC+8, so a longer gap loses articles
    intervals = [s.interval_minutes for s in SHIPPED.schedules if "bnext" in s.sources]
    assert intervals and all(0 < m <= 30 for m in intervals)


def _rss(items: str) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>测试频道</title><link>http://www.example.cn/</link>
{items}</channel></rss>""".encode()


def test_a_lower_case_pubdate_is_read_as_the_date():
    body = _rss("""<item><title>小写日期标签的条目</title><link>http://www.example.cn/news/1</link>
<pubdate>Mon, 16 Nov 2026 08:30:00 +0800</pubdate></item>""")
    [entry] = parse_feed(body, "https://www.example.cn/rss", "geekpark", language="zh")
    assert entry.published == "2026-11-16T08:30:00+08:00"
    assert entry.url == "http://www.example.cn/news/1"


def test_control_characters_in_a_feed_do_not_lose_its_items():
    body = _rss("""<item><title>含\x1e控制字符的标题</title><link>https://www.example.cn/p/1</link></item>
<item><title>第二条</title><link>https://www.example.cn/p/2</link></item>""")
    entries = parse_feed(body, "https://www.example.cn/feed", "36kr", language="zh")
    assert [e.url for e in entries] == ["https://www.example.cn/p/1", "https://www.example.cn/p/2"]
    assert "\x1e" not in (entries[0].title or "")
