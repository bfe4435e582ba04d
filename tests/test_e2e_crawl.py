"""End to end: `topicwatch crawl` against the fixture site, twice, asserting on the corpus
and on the server's request log.  Expectations come from tests/fixtures/site/manifest.py."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from fixturesite import FixtureSite, build, manifest, shipped_topics

from crawler.dedup import NearDup, content_hash, sig_to_bytes
from crawler.records import SpoolItem
from crawler.store import fts
from crawler.store.db import open_db

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def crawl(settings: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", "--settings", str(settings), *extra],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
    )


class Crawled:
    def __init__(self, site: FixtureSite, tmp: Path):
        self.site = site
        self.settings = tmp / "settings.toml"
        # a timeout of 6 s: the slow page keeps the crawl going long enough to see the spool
        # drained while it runs, in whole seconds (test_articles_are_stored_while_the_crawl_runs_...:
        # with 4 s, the first drain at 2 s and the end 2.3 s later read as 1 s apart once in CI)
        settings, changed = re.subn(r"(?m)^timeout = .*$", "timeout = 6", site.settings_toml(tmp / "corpus.db"))
        assert changed == 1
        self.settings.write_text(settings + "\n" + shipped_topics(), encoding="utf-8")
        self.db_path = tmp / "corpus.db"
        with closing(open_db(self.db_path)) as db:  # a copy of each item the crawl spools
            db.executescript("CREATE TABLE spooled (item TEXT); CREATE TRIGGER spooled AFTER INSERT "
                             "ON spool BEGIN INSERT INTO spooled VALUES (new.item); END;")
        self.first = crawl(self.settings)
        self.first_log = site.requests
        site.clear_log()
        self.second = crawl(self.settings)
        self.second_log = site.requests
        self.db = sqlite3.connect(self.db_path)
        self.db.row_factory = sqlite3.Row

    def rows(self, sql: str, *params) -> list[sqlite3.Row]:
        return self.db.execute(sql, params).fetchall()

    def url(self, e) -> str:
        return self.site.url(e.host, e.path)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> Crawled:
    with FixtureSite(slow_seconds=8.0) as site:  # past the 6 s timeout Crawled sets
        c = Crawled(site, tmp_path_factory.mktemp("e2e"))
        yield c
        c.db.close()


def test_both_runs_succeed_with_a_summary(crawled):
    for proc in (crawled.first, crawled.second):
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr
        for column in ("fetched", "extracted", "matched", "new"):
            assert column in proc.stdout
    assert "corpus: 15 articles, 3 copies" in crawled.first.stdout


def test_exactly_the_on_topic_articles_are_stored_once(crawled):
    stored = {r["canonical_url"]: r for r in crawled.rows("SELECT * FROM articles")}
    copies = {r["url"]: r for r in crawled.rows("SELECT * FROM copies")}
    expected_articles = manifest.expect("article")
    expected_copies = manifest.expect("copy")
    assert len(stored) == len(expected_articles)
    assert len(copies) == len(expected_copies)
    for group in manifest.story_groups():
        urls = [crawled.url(e) for e in group]
        in_articles = [u for u in urls if u in stored]
        assert len(in_articles) == 1, (urls, in_articles)
        article_id = stored[in_articles[0]]["id"]
        for u in urls:
            if u not in stored:
                assert copies[u]["article_id"] == article_id
    for e in expected_articles:
        assert crawled.url(e) in stored or crawled.url(e) in copies, e.path


def test_titles_dates_scripts_languages_and_authors(crawled):
    stored = {r["canonical_url"]: r for r in crawled.rows("SELECT * FROM articles")}
    checked = 0
    for e in manifest.expect("article") + manifest.expect("copy"):
        row = stored.get(crawled.url(e))
        if row is None:
            continue  # a copy: its text lives in the original's row
        checked += 1
        assert row["title"] == e.title
        assert row["published"] == e.published, e.path
        assert row["published_day"] == e.published_day
        assert row["script"] == e.script, e.path
        assert row["language"] == e.language
        if e.author:
            assert row["author"] == e.author, e.path
        for snippet in e.must_include:
            assert snippet in row["text"], (e.path, snippet)
        for junk in e.must_exclude:
            assert junk not in row["text"], (e.path, junk)
        assert "\n" in row["text"], "paragraphs are kept as paragraphs"
    assert checked == len(manifest.expect("article"))


def test_topics_and_matched_terms_are_stored(crawled):
    for row in crawled.rows("SELECT topics, matched_terms, scores FROM articles"):
        topics = json.loads(row["topics"])
        terms = json.loads(row["matched_terms"])
        assert topics and set(terms) == set(topics)
        assert all(terms[t] for t in topics)
        assert set(json.loads(row["scores"])) == set(topics)


def test_off_topic_pages_are_counted_not_stored(crawled):
    urls = {r["url"] for r in crawled.rows("SELECT url FROM articles")}
    skipped = {r["url"]: r["reason"] for r in crawled.rows("SELECT url, reason FROM skipped")}
    for e in manifest.expect("off_topic"):
        assert crawled.url(e) not in urls
        assert skipped[crawled.url(e)] == "off-topic"
    run = crawled.rows("SELECT * FROM runs ORDER BY id LIMIT 1")[0]
    assert run["skipped"] >= len(manifest.expect("off_topic"))
    assert run["new"] == len(manifest.expect("article"))
    assert run["duplicates"] == len(manifest.expect("copy"))
    assert run["status"] == "ok"


def test_failures_are_recorded_with_their_reason(crawled):
    reasons = {r["url"]: r["reason"] for r in crawled.rows("SELECT url, reason FROM skipped WHERE run_id = 1")}
    assert reasons[crawled.site.url(*manifest.NOT_FOUND)] == "http-404"
    assert reasons[crawled.site.url(*manifest.SERVER_ERROR)] == "http-500"
    assert reasons[crawled.site.url(*manifest.SLOW)] == "timeout"
    assert reasons[crawled.site.url(*manifest.PDF)] == "not-html"
    assert reasons[crawled.site.url(*manifest.OVERSIZED)] == "too-large"
    old, new = next(iter(manifest.REDIRECTS.items()))
    outcome = crawled.rows("SELECT outcome, status FROM pages WHERE url = ?", crawled.site.url(*old))[0]
    assert outcome["outcome"] == "redirected" and outcome["status"] == 301


def test_robots_disallowed_paths_are_never_requested(crawled):
    private = manifest.PRIVATE[1]
    for log in (crawled.first_log, crawled.second_log):
        assert not [r for r in log if r.path.startswith("/private/")], private


def test_crawl_delay_from_robots_txt_is_obeyed(crawled):
    times = sorted(r.time for r in crawled.first_log if r.host == "b" and r.path != "/robots.txt")
    assert len(times) >= 3
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.9 * build.CRAWL_DELAY_B, gaps


def test_second_run_fetches_no_article_again_and_gets_304s(crawled):
    article_paths = {e.path for e in manifest.ARTICLES if e.outcome in ("article", "copy", "off_topic", "too_large")}
    article_paths |= {manifest.NOT_FOUND[1], manifest.PDF[1]}
    again = [r.path for r in crawled.second_log if r.path.split("?")[0] in article_paths]
    assert again == []
    feeds = [r for r in crawled.second_log if r.path in {p for _, p in manifest.FEEDS.values()}]
    assert len(feeds) == 3
    assert all(r.conditional and r.status == 304 for r in feeds), [(r.path, r.status) for r in feeds]
    run2 = crawled.rows("SELECT * FROM runs WHERE id = 2")[0]
    assert run2["new"] == 0 and run2["not_modified"] >= 3
    assert crawled.rows("SELECT count(*) n FROM articles")[0]["n"] == len(manifest.expect("article"))


def test_transient_failures_are_retried_next_run_and_final_ones_are_not(crawled):
    second = {r.path for r in crawled.second_log}
    assert manifest.SERVER_ERROR[1] in second and manifest.SLOW[1] in second
    assert manifest.NOT_FOUND[1] not in second and manifest.OVERSIZED[1] not in second
    attempts = crawled.rows("SELECT attempts FROM pages WHERE url = ?", crawled.site.url(*manifest.SERVER_ERROR))
    assert attempts[0]["attempts"] == 2


def test_tracking_parameters_and_redirects_do_not_make_new_articles(crawled):
    for row in crawled.rows("SELECT url, canonical_url FROM articles"):
        assert "utm_" not in row["canonical_url"]
        assert "utm_" not in row["url"]


def test_full_text_index_finds_chinese_and_english(crawled):
    def find(q: str) -> set[str]:
        return {r["title"] for r in crawled.rows(
            "SELECT a.title FROM articles_fts f JOIN articles a ON a.id = f.rowid WHERE articles_fts MATCH ?",
            fts.fts_query(q))}

    assert any("算力" in t for t in find("算力"))
    assert any("開源" in t for t in find("开源")), "Simplified finds Traditional"
    assert any("Qwen" in t for t in find("qwen"))
    assert not find("足球")  # the football match was off-topic


def test_database_is_consistent(crawled):
    assert crawled.rows("PRAGMA integrity_check")[0][0] == "ok"
    assert crawled.rows("PRAGMA journal_mode")[0][0] == "wal"
    assert crawled.rows("SELECT count(*) FROM spool")[0][0] == 0
    n_articles = crawled.rows("SELECT count(*) FROM articles")[0][0]
    assert crawled.rows("SELECT count(*) FROM articles_fts")[0][0] == n_articles
    assert crawled.rows("SELECT count(*) FROM minhashes")[0][0] == n_articles


def test_the_keys_the_workers_computed_are_those_of_the_stored_text(crawled):
    """The crawl's worker processes compute each kept text's content hash and signature
    (SpoolItem.dedup_keys), and ingest stores those: what it would compute itself."""
    near = NearDup()
    spooled = [SpoolItem.from_dict(json.loads(r[0])) for r in crawled.rows("SELECT item FROM spooled")]
    assert len(spooled) >= 5
    for item in spooled:
        assert item.dedup_keys == near.dedup_keys(item.article.text)
    rows = crawled.rows("SELECT a.text, a.content_hash, m.signature FROM articles a "
                        "JOIN minhashes m ON m.article_id = a.id")
    assert len(rows) >= 5
    for row in rows:
        assert row["content_hash"] == content_hash(row["text"])
        assert row["signature"] == sig_to_bytes(near.signature(row["text"]))


def test_articles_are_stored_while_the_crawl_runs_and_counted_per_source(crawled):
    """The crawl drains its spool as it goes (crawler/fetch/run.py): the first articles are in
    the corpus seconds before the crawl ends (the slow page keeps it going), and the counts of
    the run and of each source still add up to what was stored."""
    run = crawled.rows("SELECT * FROM runs ORDER BY id LIMIT 1")[0]
    first_seen = crawled.rows("SELECT min(first_seen) AS t FROM articles")[0]["t"]
    ended, first = (dt.datetime.fromisoformat(t) for t in (run["ended"], first_seen))
    assert (ended - first).total_seconds() >= 2, (first_seen, run["ended"])
    per_source = {r["source"]: r["new"] for r in crawled.rows(
        "SELECT source, new FROM source_runs WHERE run_id = ? AND new > 0", run["id"])}
    stored = {r["source"]: r["n"] for r in crawled.rows(
        "SELECT source, count(*) AS n FROM articles GROUP BY source")}
    assert per_source == stored and sum(stored.values()) == run["new"] == 15


# (source kind, extra source settings, the static parent, the child that changes, its articles)
INDEXES = {
    "sitemap": ("sitemap", "", "/sitemap_index.xml", "/news-sitemap.xml",
                ["/news/1.html", "/news/2.html"]),
    "listing": ("listing", "depth = 2\n", "/tech/", "/tech/ai/",
                ["/tech/ai/2024/09/20/harbour-lab-story-one.html",
                 "/tech/ai/2024/09/21/harbour-lab-story-two.html"]),
}


@pytest.mark.parametrize("case", INDEXES)
def test_a_parent_that_does_not_change_still_leads_to_its_documents_that_do(tmp_path: Path, case: str):
    """A static sitemap index, or a listing page whose section pages a `depth = 2` source
    follows (its bytes, and so its ETag, never change), leads to a document that gains an
    article. The parent is read in full every run; the document answers 304 when it did not
    change. (The parent's saved validators brought a 304, and the document was never read
    again: no article of that source after the first run.)"""
    from hostile import pages
    from hostile.responses import conditional
    from hostile.server import HostileSite

    kind, extra, parent, child, (first_page, second_page) = INDEXES[case]
    listed = [first_page]
    with HostileSite({"news": "127.0.0.1"}) as site:
        base = site.base("news")
        if kind == "sitemap":
            site.route("news", parent, conditional(lambda: pages.sitemap_index([base + child]), "application/xml"))
            site.route("news", child, conditional(lambda: pages.urlset(base + p for p in listed), "application/xml"))
        else:
            site.route("news", parent, conditional(lambda: pages.listing([base + child]), "text/html"))
            site.route("news", child, conditional(lambda: pages.listing(base + p for p in listed), "text/html"))
        for n, (path, what) in enumerate(((first_page, "ferry timetables"), (second_page, "tidal power")), 1):
            site.route("news", path, lambda ex, n=n, what=what: ex.send(pages.article(
                f"Harbour lab story {n}", f"<p>This one is about {what}, told at length. " * 30
                + "</p>").encode()))
        settings = tmp_path / "settings.toml"
        settings.write_text(
            f'[corpus]\npath = "{tmp_path / "corpus.db"}"\n[crawl]\ndelay = 0\nmax_age_days = 0\n'
            f'[[sources]]\nname = "src"\nkind = "{kind}"\nurl = "{base}{parent}"\n{extra}'
            '[[topics]]\nname = "all"\nkeep_all = true\n', encoding="utf-8")

        def run() -> list[str]:
            before = len(site.hits("news"))
            done = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--settings", str(settings)],
                                  capture_output=True, text=True, timeout=120, cwd=ROOT)
            assert done.returncode == 0, done.stderr[-3000:]
            return [h.path for h in site.hits("news")[before:] if h.path != "/robots.txt"]

        first = run()
        listed.append(second_page)  # the document changes, its parent does not
        second = run()
        third = run()  # nothing changed
    assert first == [parent, child, first_page], first
    assert second == [parent, child, second_page], second
    assert third == [parent, child], third
    with closing(sqlite3.connect(tmp_path / "corpus.db")) as db:
        assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 2
        saved = dict(db.execute("SELECT url, etag FROM pages WHERE kind = ?", [kind]).fetchall())
    # the document's validators are kept (its 304s), the parent's never saved
    assert list(saved) == [base + child] and saved[base + child], saved
