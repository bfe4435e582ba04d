"""The corpus in Datasette, through Datasette's own test client: metadata, facets, search,
canned queries, the article page, Atom feeds, and read-only access while the store writes."""

from __future__ import annotations

import asyncio
import json

import feedparser
import pytest
import yaml
from corpus_factory import ARTICLES, build_corpus
from datasette.app import Datasette

from crawler.browse.article import marked_html
from crawler.browse.serve import METADATA_PATH, make_datasette
from crawler.store import corpus as corpus_store
from crawler.store import schema
from crawler.store.db import now, open_db


@pytest.fixture(scope="module")
def ds(corpus):
    return make_datasette(corpus.path, topics={"compute": "算力与芯片", "open-source": ""})


def get(ds, path: str):
    response = asyncio.run(ds.client.get(path))
    assert response.status_code == 200, (path, response.text[:500])
    return response


def rows(ds, path: str) -> list[dict]:
    sep = "&" if "?" in path else "?"
    return get(ds, f"{path}{sep}_shape=objects").json()["rows"]


def keys(corpus, ids) -> list[str]:
    by_id = {v: k for k, v in corpus.ids.items()}
    return [by_id[i] for i in ids]


# ---------------------------------------------------------------- metadata and facets

def test_metadata_titles_and_describes(ds):
    meta = get(ds, "/-/metadata.json").json()
    assert meta["title"] == "topicwatch corpus"
    articles = meta["databases"]["corpus"]["tables"]["articles"]
    assert articles["sort_desc"] == "first_seen"
    assert "Topics:" in meta["databases"]["corpus"]["description_html"]
    assert "/-/topicwatch/atom/compute.atom" in meta["description_html"]


DESCRIBED = {  # table -> columns whose description the metadata must carry
    "schedules_state": ("name", "last_run", "next_run", "last_status", "last_run_id", "last_error"),
    "source_settings": ("source", "enabled", "quiet_days", "failure_threshold", "updated"),
    "source_runs": ("run_id", "source", "fetched", "new", "errors", "not_modified", "ok", "at"),
    "skipped": ("url", "source", "reason", "detail", "status", "run_id", "at"),
}


def test_daemon_and_health_tables_are_described(ds, corpus):
    tables = get(ds, "/-/metadata.json").json()["databases"]["corpus"]["tables"]
    db = open_db(corpus.path)
    try:
        health_columns = set(db["source_health"].columns_dict)
        for name, cols in DESCRIBED.items():
            assert tables[name]["description"], name
            assert set(cols) == set(db[name].columns_dict) - {"id"}, name  # all, none invented
            assert set(tables[name]["columns"]) == set(cols), name
    finally:
        db.close()
    assert set(tables["source_health"]["columns"]) == health_columns
    assert all(tables["source_health"]["columns"].values())
    html = get(ds, "/corpus/source_health").text
    assert "Failed runs since its last successful one" in html
    assert "kept across restarts" in get(ds, "/corpus/schedules_state").text


def test_articles_newest_first(ds, corpus):
    got = [r["id"] for r in rows(ds, "/corpus/articles.json?_col=first_seen")]
    expected = sorted(corpus.ids, key=lambda k: ARTICLES[k]["first_seen"], reverse=True)
    assert keys(corpus, got) == expected


def counts(facet: dict) -> dict:
    return {r["value"]: r["count"] for r in facet["results"]}


def test_facets(ds):
    """Facets over indexed columns and the article_topics table only (published_day, a
    facet that scanned the table, is gone: the front page has time windows)."""
    facets = get(ds, "/corpus/articles.json").json()["facet_results"]
    assert set(facets) == {"source", "topic", "language", "script"}
    assert counts(facets["topic"]) == {"llm-industry": 3, "open-source": 3, "compute": 3}
    assert counts(facets["script"]) == {"zh-Hans": 3, "zh-Hant": 1}
    assert counts(facets["language"]) == {"zh": 4, "en": 1}


def test_internal_tables_hidden(ds):
    tables = {t["name"]: t["hidden"] for t in get(ds, "/corpus.json").json()["tables"]}
    for name in ("spool", "minhashes", "pages", "_sqlite_migrations", "articles_fts", "articles_fts_data"):
        assert tables[name] is True, name
    for name in ("articles", "copies", "stories", "runs", "skipped"):
        assert tables[name] is False, name


# ---------------------------------------------------------------- search

SEARCHES = [
    ("inference", {"english"}),
    ("算力", {"qwen", "qwen_echo", "hant", "compute"}),
    ("开源", {"qwen", "qwen_echo", "hant"}),
    ("開源", {"qwen", "qwen_echo", "hant"}),
    ("大模型", {"qwen", "qwen_echo"}),
    ("通义千问", {"qwen", "qwen_echo"}),
    ("商业化", {"hant"}),
]


@pytest.mark.parametrize("query, expected", SEARCHES)
def test_table_search_box(ds, corpus, query, expected):
    got = rows(ds, f"/corpus/articles.json?_search={query}&_col=title")
    assert set(keys(corpus, [r["id"] for r in got])) == expected


@pytest.mark.parametrize("query, expected", SEARCHES)
def test_ranked_search_query(ds, corpus, query, expected):
    got = rows(ds, f"/corpus/search.json?q={query}")
    assert set(keys(corpus, [r["article_id"] for r in got])) == expected
    assert all("<mark>" in r["passage"] for r in got)


def test_ranked_search_puts_title_matches_first(ds, corpus):
    got = rows(ds, "/corpus/search.json?q=開源")
    assert got[0]["article_id"] == corpus.ids["hant"]
    assert "<mark>開源</mark>" in got[0]["passage"]


def test_empty_search_finds_nothing_without_error(ds):
    assert rows(ds, "/corpus/search.json?q=") == []
    assert rows(ds, "/corpus/search.json?q=，。") == []
    assert len(rows(ds, "/corpus/articles.json?_search=&_col=title")) == len(ARTICLES)


def test_search_page_shows_what_was_typed_and_the_passages(ds):
    html = get(ds, "/corpus/articles?_search=开源").text
    assert '<input id="_search" type="search" name="_search" value="开源">' in html
    assert "&#34;开源&#34;" in html  # the description quotes the query, not the MATCH
    assert "<mark>開源</mark>" in html  # the Traditional article's passage, marked
    assert "/corpus/search?q=%E5%BC%80%E6%BA%90" in html  # the ranked version of the search


def test_ranked_results_link_to_articles_with_the_query(ds, corpus):
    html = get(ds, "/corpus/search?q=大模型").text
    assert f'<a href="/corpus/articles/{corpus.ids["qwen"]}?q=%E5%A4%A7%E6%A8%A1%E5%9E%8B">' in html
    assert "开源<mark>大模型</mark>再提速" in html
    assert '<a class="tw-badge" href="/corpus/articles?_topic=open-source">open-source</a>' in html


def test_marked_html_escapes_everything_but_marks():
    assert str(marked_html('<script>x</script> <mark>算力</mark>')) == (
        "&lt;script&gt;x&lt;/script&gt; <mark>算力</mark>")


# ---------------------------------------------------------------- canned queries

def test_new_per_topic(ds):
    got = {r["topic"]: r for r in rows(ds, "/corpus/new_per_topic.json")}
    assert {t: (r["today"], r["last_7_days"], r["total"]) for t, r in got.items()} == {
        "llm-industry": (2, 2, 3), "open-source": (2, 3, 3), "compute": (1, 2, 3)}
    assert got["compute"]["feed"] == "/-/topicwatch/atom/compute.atom"


def test_new_per_topic_links_feeds(ds):
    assert '<a href="/-/topicwatch/atom/compute.atom">Atom feed</a>' in get(ds, "/corpus/new_per_topic").text


@pytest.mark.parametrize("query, topic, expected", [
    ("new_today", "", ["compute", "qwen_echo", "qwen"]),
    ("new_today", "compute", ["compute"]),
    ("new_this_week", "", ["compute", "qwen_echo", "qwen", "hant"]),
    ("new_this_week", "open-source", ["qwen_echo", "qwen", "hant"]),
])
def test_new_articles(ds, corpus, query, topic, expected):
    got = rows(ds, f"/corpus/{query}.json?topic={topic}")
    assert keys(corpus, [r["article_id"] for r in got]) == expected


def test_top_stories(ds, corpus):
    got = rows(ds, "/corpus/top_stories.json")
    assert [(r["article_id"], r["n_sources"]) for r in got] == [(corpus.ids["qwen"], 3)]
    assert set(got[0]["sources"].split(", ")) == {"36kr", "sina-tech", "163-tech"}


def check_sources_by_health(ds) -> None:
    got = rows(ds, "/corpus/sources_by_health.json")
    assert [(r["source"], r["flagged"], r["consecutive_failures"]) for r in got] == [
        ("broken", 1, 3), ("ithome-tw", 0, 1), ("36kr", 0, 0)]
    assert got[0]["last_success"] is None and got[2]["new_last_run"] == 2


def test_sources_by_health(ds):
    check_sources_by_health(ds)


def test_latest_runs(ds):
    got = rows(ds, "/corpus/latest_runs.json")
    assert [r["id"] for r in got] == [3, 2, 1]
    assert {r["status"] for r in got} == {"ok"}


def test_the_schema_brings_the_source_health_view(corpus):
    db = open_db(corpus.path)
    schema.ensure_db_shape(db)
    assert "source_health" in db.view_names()
    assert "flag_reason" in db["source_health"].columns_dict
    db.close()


# ---------------------------------------------------------------- the article page

def test_article_page_reads_like_an_article(ds, corpus):
    html = get(ds, f"/corpus/articles/{corpus.ids['qwen']}?q=开源").text
    article = html.split('<article class="tw-article"')[1].split("</article>")[0]
    assert '<h1 class="tw-title">阿里云发布通义千问新版本，<mark>开源</mark>大模型再提速</h1>' in article
    assert article.count("<p>") == 3  # the three paragraphs of the text
    assert "继续<mark>开源</mark>多个尺寸" in article
    assert '<a href="https://36kr.example/p/1001"' in article
    assert 'href="/corpus/articles?_topic=open-source"' in article
    assert "163-tech" in article and "https://www.163.example/tech/9009" in article  # its copy
    assert f'<a href="/corpus/articles/{corpus.ids["qwen_echo"]}">' in article  # same story
    assert "sina-tech" in article and ">3 sources</a>" in article


def test_sibling_page_lists_the_story_copy(ds, corpus):
    html = get(ds, f"/corpus/articles/{corpus.ids['qwen_echo']}").text
    article = html.split('<article class="tw-article"')[1].split("</article>")[0]
    assert "<mark>" not in article
    assert "https://www.163.example/tech/9009" in article and "163-tech" in article
    assert f'<a href="/corpus/articles/{corpus.ids["qwen"]}">' in article


def test_other_row_pages_stay_datasettes(ds):
    html = get(ds, "/corpus/stories/1").text
    assert "tw-article" not in html and "Links from other tables" in html


# ---------------------------------------------------------------- Atom feeds

def parse_feed(ds, path: str):
    response = get(ds, path)
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def test_topic_feed(ds, corpus):
    feed = parse_feed(ds, "/-/topicwatch/atom/compute.atom")
    assert feed.feed.title == "topicwatch: new articles on compute"
    ids = [e.id for e in feed.entries]
    assert ids == [ARTICLES[k]["url"] for k in ("compute", "hant", "english")]
    entry = feed.entries[1]
    assert entry.title == ARTICLES["hant"]["title"]
    assert entry.updated == ARTICLES["hant"]["first_seen"]
    assert entry.link == ARTICLES["hant"]["url"]
    assert {t.term for t in entry.tags} == {"open-source", "compute"}
    assert entry.summary.startswith("多家新創公司表示")
    related = [link.href for link in entry.links if link.rel == "related"]
    assert related == [f"http://localhost/corpus/articles/{corpus.ids['hant']}"]


def test_a_missing_page_is_a_404_page_not_a_traceback_in_the_log(ds, corpus, capfd):
    """Datasette prints each handled exception with rich, locals and all (serve.py:
    _quiet_error_pages): a 404 is only a 404 page."""
    import inspect

    import datasette.handle_exception as handling

    assert "rich.get_console().print_exception(show_locals=True)" in inspect.getsource(handling)
    assert "if rich is not None" in inspect.getsource(handling)
    capfd.readouterr()
    for path in ("/-/topicwatch/story/999999", "/corpus/articles/999999", "/-/topicwatch/atom/nope.atom"):
        response = asyncio.run(ds.client.get(path))
        assert response.status_code == 404, path
    printed = capfd.readouterr()
    assert "Traceback" not in printed.out + printed.err and "NotFound" not in printed.out + printed.err


def test_all_topics_feed_an_empty_one_and_an_unknown_one(ds, corpus):
    assert len(parse_feed(ds, "/-/topicwatch/articles.atom").entries) == len(ARTICLES)
    empty = make_datasette(corpus.path, topics={"nothing-yet": ""})  # configured, no article yet
    assert parse_feed(empty, "/-/topicwatch/atom/nothing-yet.atom").entries == []
    for unknown in ("nothing-yet", "comptue"):
        assert asyncio.run(ds.client.get(f"/-/topicwatch/atom/{unknown}.atom")).status_code == 404
    # a topic no longer configured keeps its feed while articles carry it
    plain = make_datasette(corpus.path)
    assert parse_feed(plain, "/-/topicwatch/atom/compute.atom").entries


# ---------------------------------------------------------------- launching and access

def test_metadata_file_works_with_plain_datasette(corpus):
    """`datasette corpus.db -m crawler/browse/metadata.yml`: the plugin comes from the entry point."""
    metadata = yaml.safe_load(METADATA_PATH.read_text(encoding="utf-8"))
    plain = Datasette([str(corpus.path)], metadata=metadata)
    plugins = {p["name"] for p in get(plain, "/-/plugins.json").json()}
    assert "topicwatch" in plugins
    got = rows(plain, "/corpus/search.json?q=开源")
    assert {r["article_id"] for r in got} == {corpus.ids[k] for k in ("qwen", "qwen_echo", "hant")}


def test_any_corpus_file_name_gets_the_metadata(tmp_path):
    other = build_corpus(tmp_path / "news.db")
    named = make_datasette(other.path)
    assert rows(named, "/news/new_today.json?topic=compute")[0]["article_id"] == other.ids["compute"]


def test_reads_what_the_store_writes_meanwhile_and_cannot_write(tmp_path):
    live = build_corpus(tmp_path / "corpus.db")
    served = make_datasette(live.path)
    assert served.databases["corpus"].is_mutable  # never immutable mode
    assert len(rows(served, "/corpus/articles.json?_col=id")) == len(ARTICLES)
    db = open_db(live.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    corpus_store.insert_article(db, {
        "url": "https://later.example/1", "canonical_url": "https://later.example/1",
        "source": "later", "title": "后来写入的文章", "text": "守护进程稍后写入：算力。",
        "topics": json.dumps(["compute"]), "content_hash": "later", "first_seen": now()})
    assert len(rows(served, "/corpus/articles.json?_col=id")) == len(ARTICLES) + 1
    assert len(rows(served, "/corpus/search.json?q=守护进程")) == 1
    db.close()
    refused = asyncio.run(served.client.get("/corpus.json?sql=delete+from+articles"))
    assert refused.status_code == 400
    assert len(rows(served, "/corpus/articles.json?_col=id")) == len(ARTICLES) + 1
