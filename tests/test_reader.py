"""The reader's pages through Datasette's own test client: the front page of new stories
(one row per story, filters, keyset paging), the story page, Atom feeds of any search, and the
articles list's readable columns, topic filter and facet; plus the query plans that keep them
fast at 100,000 articles (benchmarks/browse_latency.py has the timings)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3

import feedparser
import lxml.html
import pytest
from corpus_factory import ARTICLES, NOW, days_ago

from crawler.browse import front
from crawler.browse.serve import make_datasette
from crawler.store import corpus as corpus_store
from crawler.store import queries
from crawler.store.db import open_db


@pytest.fixture(scope="module")
def ds(corpus):
    return make_datasette(corpus.path)


def get(ds, path: str):
    response = asyncio.run(ds.client.get(path))
    assert response.status_code == 200, (path, response.text[:500])
    return response


def story_rows(ds, path: str) -> list[dict]:
    """What each row of a front page shows."""
    doc = lxml.html.fromstring(get(ds, path).text)
    rows = []
    for li in doc.xpath("//li[contains(@class, 'tw-story')]"):
        headline = li.xpath(".//h3/a")[0]
        rows.append({
            "title": headline.text_content(), "href": headline.get("href"),
            "source": li.xpath(".//strong[@class='tw-source']")[0].text_content(),
            "also": " ".join(a.text_content() for a in li.xpath(".//a[@class='tw-also']")),
            "versions": " ".join(s.text_content() for s in li.xpath(".//span[@class='tw-versions-of']")),
            "badges": [a.text_content() for a in li.xpath(".//a[@class='tw-badge']")],
            "passage": li.xpath(".//p[@class='tw-passage']")[0].text_content(),
        })
    return rows


def titles(ds, path: str) -> list[str]:
    return [r["title"] for r in story_rows(ds, path)]


T = {key: spec["title"] for key, spec in ARTICLES.items()}


# ---------------------------------------------------------------- the front page

def test_front_page_lists_each_story_once_newest_first(ds, corpus):
    rows = story_rows(ds, "/")
    assert [r["title"] for r in rows] == [T["compute"], T["qwen"], T["hant"], T["english"]]
    qwen = rows[1]  # qwen_echo and the 163 copy are the same story: no row of their own
    assert qwen["href"] == f"/corpus/articles/{corpus.ids['qwen']}"
    assert qwen["source"] == "36kr"
    assert qwen["also"] == "also in 2 sources" and qwen["versions"] == "(Simplified)"
    assert qwen["badges"] == ["llm-industry", "open-source"]
    assert qwen["passage"].startswith("阿里云周四发布通义千问的新版本")
    assert rows[2]["badges"] == ["compute", "open-source"] and rows[2]["also"] == ""


def test_stories_are_grouped_by_the_day_they_were_first_seen(ds):
    headings = lxml.html.fromstring(get(ds, "/").text).xpath("//h2[@class='tw-day']/text()")
    two, ten = (front.day_label(days_ago(n), NOW.date()) for n in (2, 10))
    assert headings == ["Today", two, ten]
    assert two == f"{NOW - dt.timedelta(days=2):%A %Y-%m-%d}"
    assert front.day_label(days_ago(1), NOW.date()) == "Yesterday"


@pytest.mark.parametrize("query, expected", [
    ("topic=compute", ["compute", "hant", "english"]),
    ("topic=open-source&topic=compute", ["hant"]),
    ("script=zh-Hant", ["hant"]),
    ("language=en", ["english"]),
    ("window=today", ["compute", "qwen"]),
    ("window=7d", ["compute", "qwen", "hant"]),
    ("window=30d&language=en", ["english"]),
    ("q=开源", ["qwen", "hant"]),
    ("q=開源&topic=compute", ["hant"]),
    ("q=量子", []),
    ("q=，。", []),  # nothing searchable matches nothing, not everything
    ("window=yesterday", ["compute", "qwen", "hant", "english"]),  # unknown window: any time
])
def test_front_page_filters(ds, query, expected):
    assert titles(ds, f"/?{query}") == [T[k] for k in expected]


def test_a_filter_shows_the_version_that_meets_it(ds, corpus):
    """The story of qwen, seen from sina-tech: its headline, not the origin's."""
    rows = story_rows(ds, "/?source=sina-tech")
    assert [(r["title"], r["source"]) for r in rows] == [(T["qwen_echo"], "sina-tech")]
    assert rows[0]["also"] == "also in 2 sources"


def test_words_mark_the_passage_and_offer_ranking_and_a_feed(ds):
    html = get(ds, "/?q=開源").text
    assert "<mark>開源</mark>" in html and "<mark>开源</mark>" in html
    doc = lxml.html.fromstring(html)
    assert doc.xpath("//a[@class='tw-feed']/@href") == ["/-/topicwatch/feed.atom?q=%E9%96%8B%E6%BA%90"]
    assert "/corpus/search?q=%E9%96%8B%E6%BA%90" in html
    assert doc.xpath("//input[@name='q']/@value") == ["開源"]


def test_the_passage_holds_the_words_even_deep_in_the_text(tmp_path):
    db = open_db(tmp_path / "corpus.db")
    text = "第一段讲的是别的事情。" * 150 + "\n后来才提到液冷机柜的订单。"
    with db.atomic():
        aid = corpus_store.insert_article(db, {
            "url": "https://x.example/1", "canonical_url": "https://x.example/1", "source": "x",
            "title": "一篇长文", "text": text, "description": "摘要里没有那个词", "topics": "[]",
            "content_hash": "h", "first_seen": NOW.isoformat(), "language": "zh", "script": "zh-Hans"})
        corpus_store.set_story(db, aid, corpus_store.new_story(db, aid, "一篇长文", NOW.isoformat()))
    db.close()
    served = make_datasette(tmp_path / "corpus.db")
    assert story_rows(served, "/")[0]["passage"] == "摘要里没有那个词"  # no words: the description
    assert "<mark>液冷</mark>机柜" in get(served, "/?q=液冷").text


def test_front_page_without_stories_says_so(ds):
    assert "No stories match these filters." in get(ds, "/?q=量子").text


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """130 one-article stories, several first seen in the same second (keyset ties)."""
    path = tmp_path_factory.mktemp("many") / "corpus.db"
    db = open_db(path)
    for n in range(130):
        seen = (NOW - dt.timedelta(minutes=n // 3)).isoformat()  # three stories a minute
        with db.atomic():
            aid = corpus_store.insert_article(db, {
                "url": f"https://x.example/{n}", "canonical_url": f"https://x.example/{n}",
                "source": f"src{n % 4}", "title": f"第{n}条新闻", "text": f"正文{n}。",
                "topics": json.dumps(["compute"] if n % 2 else []), "content_hash": f"h{n}",
                "first_seen": seen, "language": "zh", "script": "zh-Hans"})
            corpus_store.set_story(db, aid, corpus_store.new_story(db, aid, f"第{n}条新闻", seen))
    db.close()
    return make_datasette(path)


def test_front_page_pages_back_by_keyset_without_gaps_or_repeats(many):
    seen, path, pages = [], "/", 0
    while path:
        doc = lxml.html.fromstring(get(many, path).text)
        seen += [a.text_content() for a in doc.xpath("//li[contains(@class, 'tw-story')]//h3/a")]
        older = doc.xpath("//a[@class='tw-older']/@href")
        path, pages = ("/" + older[0]) if older else None, pages + 1
    assert pages == 3
    assert seen == [f"第{n}条新闻" for n in NEWEST_FIRST]


NEWEST_FIRST = sorted(range(130), key=lambda n: (n // 3, -n))  # ties: the later story first


def test_paging_keeps_the_filters(many):
    doc = lxml.html.fromstring(get(many, "/?topic=compute").text)
    older = doc.xpath("//a[@class='tw-older']/@href")[0]
    assert "topic=compute" in older
    second = [a.text_content() for a in lxml.html.fromstring(get(many, "/" + older).text).xpath("//h3/a")]
    assert second == [f"第{n}条新闻" for n in NEWEST_FIRST if n % 2][50:]


def test_the_front_page_is_datasettes_index_without_a_corpus(tmp_path):
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    html = get(make_datasette(path), "/").text
    assert "tw-reader" not in html and 'href="/other"' in html


# ---------------------------------------------------------------- the story page

def test_story_page_lists_every_version(ds, corpus):
    html = get(ds, f"/-/topicwatch/story/{corpus.story_ids['qwen']}").text
    doc = lxml.html.fromstring(html)
    versions = doc.xpath("//li[@class='tw-version']")
    sources = [v.xpath(".//strong[@class='tw-source']")[0].text_content() for v in versions]
    assert sources == ["36kr", "sina-tech", "163-tech"]  # oldest first; the copy last
    assert "exact copy" in versions[2].text_content()
    links = [v.xpath(".//div/a/@href")[0] for v in versions]
    assert links[:2] == [f"/corpus/articles/{corpus.ids['qwen']}", f"/corpus/articles/{corpus.ids['qwen_echo']}"]
    assert "https://www.163.example/tech/9009" in versions[2].text_content()
    assert "3 sources · 3 versions" in doc.xpath("//p[@class='tw-meta']")[0].text_content()
    assert doc.xpath("//h1")[0].text_content() == T["qwen"]


def test_unknown_story_is_404(ds):
    assert asyncio.run(ds.client.get("/-/topicwatch/story/999")).status_code == 404


# ---------------------------------------------------------------- feeds of searches

def feed(ds, path: str):
    response = get(ds, path)
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


@pytest.mark.parametrize("query, expected", [
    ("q=开源", ["qwen_echo", "qwen", "hant"]),
    ("q=開源&topic=compute", ["hant"]),
    ("q=算力&script=zh-Hant", ["hant"]),
    ("q=算力&source=36kr", ["qwen"]),
    ("language=en", ["english"]),
    ("topic=compute&topic=llm-industry", ["english"]),
    ("q=，。", []),
])
def test_any_search_is_a_feed(ds, query, expected):
    parsed = feed(ds, f"/-/topicwatch/feed.atom?{query}")
    assert [e.id for e in parsed.entries] == [ARTICLES[k]["url"] for k in expected]


def test_a_search_feed_says_what_it_follows(ds, corpus):
    parsed = feed(ds, "/-/topicwatch/feed.atom?q=开源&topic=compute&source=ithome-tw")
    assert parsed.feed.title == "topicwatch: 开源 · topic compute · source ithome-tw"
    alternate = [link.href for link in parsed.feed.links if link.rel == "alternate"][0]
    assert alternate == ("http://localhost/corpus/articles?_search=%E5%BC%80%E6%BA%90&_topic=compute"
                         "&source=ithome-tw")  # the list of what the feed follows
    listed = get(ds, alternate.removeprefix("http://localhost").replace("articles?", "articles.json?")).json()
    assert [e.id for e in parsed.entries] == [ARTICLES["hant"]["url"]]
    assert [r[0] for r in listed["rows"]] == [corpus.ids["hant"]]


# ---------------------------------------------------------------- the articles list

def header(html: str) -> list[str]:
    return [th.get("data-column") for th in lxml.html.fromstring(html).xpath("//table[contains(@class, 'rows-and-columns')]//th")]


def test_articles_list_shows_readable_columns_and_all_on_request(ds):
    html = get(ds, "/corpus/articles").text
    assert header(html) == ["id", "title", "source", "published", "topics", "script"]
    doc = lxml.html.fromstring(html)
    assert doc.xpath("//p[@class='tw-list-links']/a/text()") == ["All fields"]
    everything = get(ds, doc.xpath("//p[@class='tw-list-links']/a/@href")[0]).text
    assert {"url", "canonical_url", "content_hash", "matched_terms", "text"} <= set(header(everything))
    assert "Readable columns" in everything
    assert "content_hash" in get(ds, "/corpus/articles.json").json()["columns"]  # the API keeps all


def test_articles_list_cells(ds, corpus):
    doc = lxml.html.fromstring(get(ds, "/corpus/articles").text)
    row = doc.xpath(f"//tr[td[@class='col-id type-pk']/a[text()='{corpus.ids['hant']}']]")[0]
    assert row.xpath("td[@class='col-title type-str']/a/@href") == [f"/corpus/articles/{corpus.ids['hant']}"]
    assert row.xpath(".//a[@class='tw-badge']/text()") == ["open-source", "compute"]
    assert row.xpath(".//a[@class='tw-badge']/@href")[1] == "/corpus/articles?_topic=compute"
    assert row.xpath("td[@class='col-published type-str']/time/text()") == ["2024-05-07 09:00"]


def test_searching_adds_the_passages_and_a_feed_of_the_search(ds):
    html = get(ds, "/corpus/articles?_search=开源&_topic=compute&source=ithome-tw").text
    assert header(html) == ["id", "title", "text", "source", "published", "topics", "script"]
    assert "<mark>開源</mark>" in html
    feed_link = lxml.html.fromstring(html).xpath("//a[@class='tw-feed']/@href")
    assert feed_link == ["/-/topicwatch/feed.atom?q=%E5%BC%80%E6%BA%90&topic=compute&source=ithome-tw"]
    other = get(ds, "/corpus/articles?_search=开源&title__contains=开").text
    assert "tw-feed" not in other  # a filter a feed cannot follow: no feed link


@pytest.mark.parametrize("query, expected", [
    ("_topic=compute", {"hant", "compute", "english"}),
    ("_topic=compute&_topic=open-source", {"hant"}),
    ("_topic=compute&_search=算力", {"hant", "compute"}),
    ("_topic=nothing", set()),
])
def test_topic_filter(ds, corpus, query, expected):
    got = get(ds, f"/corpus/articles.json?{query}&_col=title&_shape=objects").json()["rows"]
    by_id = {v: k for k, v in corpus.ids.items()}
    assert {by_id[r["id"]] for r in got} == expected


def test_topic_facet_counts_the_filtered_list_and_toggles(ds):
    data = get(ds, "/corpus/articles.json?_topic=open-source").json()
    facet = data["facet_results"]["topic"]
    assert {r["value"]: r["count"] for r in facet["results"]} == {"open-source": 3, "llm-industry": 2, "compute": 1}
    chosen = [r for r in facet["results"] if r["selected"]]
    assert [r["value"] for r in chosen] == ["open-source"]
    assert chosen[0]["toggle_url"].endswith("/corpus/articles.json")
    assert data["human_description_en"].startswith('where topic is "open-source"')


# ---------------------------------------------------------------- plans at scale

def plan(db_path, sql: str, params) -> str:
    with sqlite3.connect(db_path) as conn:
        return " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))


def sorts_its_rows(db_path, sql: str) -> bool:
    """Whether the outer query sorts (a subquery sorting a story's few articles is fine)."""
    with sqlite3.connect(db_path) as conn:
        return any(parent == 0 and "TEMP B-TREE FOR ORDER BY" in detail
                   for _, parent, _, detail in conn.execute("EXPLAIN QUERY PLAN " + sql))


def traced(db_path, call) -> list[str]:
    """The SQL statements `call(conn)` runs, as executed."""
    conn, statements = sqlite3.connect(db_path), []
    conn.set_trace_callback(statements.append)
    call(conn)
    conn.close()
    return statements


def test_a_list_of_many_walks_the_newest_first_index_instead_of_sorting(corpus, monkeypatch):
    """With every condition counted as keeping many articles (FEW = 0), the front page and a
    feed walk an index in date order and only check the conditions."""
    monkeypatch.setattr(queries, "FEW", 0)
    sel = queries.Selection(match='"开源"', topics=("open-source",), script="zh-Hans")
    front = [s for s in traced(corpus.path, lambda c: queries.story_page(c, sel)) if "FROM stories s" in s][0]
    assert "+m.id IN" in front and "s.id IN" not in front
    assert "SCAN s USING INDEX idx_stories_first_seen" in plan(corpus.path, front, ())
    assert "SEARCH m USING INDEX idx_articles_story (story_id=?)" in plan(corpus.path, front, ())
    assert not sorts_its_rows(corpus.path, front)
    feed_sql = [s for s in traced(corpus.path, lambda c: queries.feed_rows(c, sel)) if "ORDER BY a.first_seen" in s][0]
    assert "+a.id IN" in feed_sql and not sorts_its_rows(corpus.path, feed_sql)


def test_a_selective_condition_drives_the_front_page(corpus):
    sel = queries.Selection(topics=("compute",))
    front = [s for s in traced(corpus.path, lambda c: queries.story_page(c, sel)) if "FROM stories s" in s][0]
    assert "s.id IN (SELECT m.story_id FROM articles m WHERE m.id IN" in front
    assert plan(corpus.path, front, ()).startswith("SEARCH s USING INTEGER PRIMARY KEY")


def test_distinct_values_skip_through_the_index(corpus):
    with sqlite3.connect(corpus.path) as conn:
        assert queries.distinct_values(conn, "topic") == ["compute", "llm-industry", "open-source"]
        assert queries.distinct_values(conn, "script") == ["zh-Hans", "zh-Hant"]
        assert "SEARCH articles USING COVERING INDEX idx_articles_script_seen" in plan(
            corpus.path, "SELECT min(script) FROM articles WHERE script > ?", [""])


# ---------------------------------------------------------------- the ranked search

def test_ranked_search_ranks_the_newest_matches_and_says_so(ds, corpus, monkeypatch):
    monkeypatch.setattr(queries, "WINDOW", 2)
    got = get(ds, "/corpus/search.json?q=开源&_shape=objects").json()["rows"]
    # the two stored last (ingest stores in first_seen order; this corpus was written by hand)
    assert {r["article_id"] for r in got} == {corpus.ids["qwen_echo"], corpus.ids["hant"]}
    doc = lxml.html.fromstring(get(ds, "/corpus/search?q=开源").text)
    assert "More than 2 articles match" in doc.xpath("//span[@class='tw-capped']")[0].text_content()
    assert doc.xpath("//a[@class='tw-all-matches']/@href") == ["/corpus/articles?_search=%E5%BC%80%E6%BA%90"]
    assert doc.xpath("//a[@class='tw-feed']/@href") == ["/-/topicwatch/feed.atom?q=%E5%BC%80%E6%BA%90"]


def test_ranked_search_within_the_limit_says_nothing_of_it(ds):
    doc = lxml.html.fromstring(get(ds, "/corpus/search?q=开源").text)
    assert not doc.xpath("//span[@class='tw-capped']") and doc.xpath("//a[@class='tw-feed']")


# ---------------------------------------------------------------- counts and facets that read no row

def facet_counts(ds, path: str) -> dict[str, dict]:
    facets = get(ds, path).json()["facet_results"]
    return {name: {r["value"]: r["count"] for r in f["results"]} for name, f in facets.items()}


@pytest.mark.parametrize("filters", ["", "_topic=open-source", "source=36kr", "language=zh&script=zh-Hans",
                                     "_topic=compute&language=zh"])
def test_facets_from_article_counts_equal_facets_from_the_rows(ds, filters):
    """id__gt=0 keeps every row but makes the list one article_counts cannot count, so the
    same facets come from the indexes and the join table instead."""
    counted = facet_counts(ds, f"/corpus/articles.json?{filters}")
    from_rows = facet_counts(ds, f"/corpus/articles.json?{filters}&id__gt=0")
    assert counted == from_rows
    assert set(counted) == {"source", "topic", "language", "script"}


def list_heading(ds, path: str) -> str:
    return lxml.html.fromstring(get(ds, path).text).xpath("//h3")[0].text_content().split()[0]


@pytest.mark.parametrize("query, expected", [
    ("", "5"), ("_topic=compute", "3"), ("_topic=compute&source=scmp", "1"), ("_search=开源", "3"),
    ("_search=开源&_topic=compute", "1"), ("_search=，。", "0"), ("title__contains=开源", "2"),
])
def test_the_list_counts_without_reading_the_rows(ds, query, expected):
    assert list_heading(ds, f"/corpus/articles?{query}") == expected


def test_nocount_is_topicwatchs_to_set(ds):
    """Counted by topicwatch: the links carry _nocount=1; a list it does not count loses it."""
    doc = lxml.html.fromstring(get(ds, "/corpus/articles?_topic=compute").text)
    toggles = doc.xpath("//div[contains(@class, 'facet-info')]//a/@href")
    assert toggles and all("_nocount=1" in t for t in toggles if "_facet_size" not in t)
    assert list_heading(ds, "/corpus/articles?title__contains=开源&_nocount=1") == "2"


def test_a_search_matching_many_gets_no_facets_and_says_so(ds, monkeypatch):
    monkeypatch.setattr(queries, "FEW", 2)
    html = get(ds, "/corpus/articles?_search=开源").text
    assert "facet-results" not in html
    assert "No facets for a search matching more than 2 articles" in html
    few = get(ds, "/corpus/articles?_search=商业化").text
    assert "facet-results" in few and "No facets for" not in few


# ---------------------------------------------------------------- the window of a search's matches

def test_a_list_search_holds_the_newest_matches_and_pages_to_older_ones(ds, corpus, monkeypatch):
    """With a window of two, 开源's three matches (stored as qwen, qwen_echo, hant) are the two
    stored last, then the one before them; every page says which."""
    monkeypatch.setattr(queries, "WINDOW", 2)
    doc = lxml.html.fromstring(get(ds, "/corpus/articles?_search=开源").text)
    ids = [int(a) for a in doc.xpath("//td[contains(@class, 'col-id')]/a/text()")]
    assert sorted(ids) == sorted([corpus.ids["qwen_echo"], corpus.ids["hant"]])
    assert list_heading(ds, "/corpus/articles?_search=开源") == "2"
    assert "These words match more than 2 articles" in doc.xpath("//p[@class='tw-window']")[0].text_content()
    older = doc.xpath("//a[@class='tw-older']/@href")[0]
    assert f"_before={corpus.ids['qwen_echo']}" in older and "_nocount" not in older
    doc = lxml.html.fromstring(get(ds, older).text)
    assert [int(a) for a in doc.xpath("//td[contains(@class, 'col-id')]/a/text()")] == [corpus.ids["qwen"]]
    assert "The oldest matches." in doc.xpath("//p[@class='tw-window']")[0].text_content()
    newest = doc.xpath("//a[@class='tw-newest']/@href")[0]
    assert newest.startswith("/corpus/articles?_search=%E5%BC%80%E6%BA%90") and "_before" not in newest


def test_a_search_within_the_window_says_nothing_of_it(ds):
    assert "tw-window" not in get(ds, "/corpus/articles?_search=开源").text
    assert "tw-window" not in get(ds, "/?q=开源").text


def test_the_front_page_search_pages_through_windows_of_matches(ds, monkeypatch):
    monkeypatch.setattr(queries, "WINDOW", 2)
    doc = lxml.html.fromstring(get(ds, "/?q=开源").text)
    assert [a.text_content() for a in doc.xpath("//li[contains(@class, 'tw-story')]//h3/a")] == [
        T["qwen_echo"], T["hant"]]  # the qwen story, through the match in the window
    older = doc.xpath("//a[@class='tw-older-matches']/@href")[0]
    assert titles(ds, "/" + older) == [T["qwen"]]


# ---------------------------------------------------------------- what a reader asked for

def test_asked_reads_the_query_string_and_ignores_what_it_cannot_use():
    from datasette.utils import MultiParams

    from crawler.browse.selection import Asked, since

    args = MultiParams([("q", " 开源 "), ("topic", "a"), ("topic", ""), ("topic", "b"), ("source", "x"),
                        ("window", "7d"), ("before", "12"), ("language", "")])
    asked = Asked.from_args(args)
    assert (asked.words, asked.topics, asked.source, asked.language, asked.window, asked.before) == (
        "开源", ("a", "b"), "x", "", "7d", 12)
    assert asked.feed_path() == "/-/topicwatch/feed.atom?q=%E5%BC%80%E6%BA%90&topic=a&topic=b&source=x"
    assert Asked.from_args(MultiParams([("before", "12; drop")])).before == queries.NO_BEFORE
    assert Asked.from_args(MultiParams([("window", "1y")])).window == ""
    assert Asked.of_list(MultiParams([("_search", "x"), ("_topic", "t"), ("_before", "5")])).before == 5
    assert since("today", NOW) == NOW.date().isoformat()
    assert since("7d", NOW) == (NOW.date() - dt.timedelta(days=6)).isoformat() and since("", NOW) == ""
    assert front.parse_after("2026-01-01T00:00:00+00:00,42") == ("2026-01-01T00:00:00+00:00", 42)
    assert front.parse_after("nonsense") is None and front.parse_after(",7") is None
