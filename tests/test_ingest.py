"""Spool and ingest on a real SQLite file: dedup by URL, text and near-duplicate stories,
idempotence, and transactions that leave nothing half-stored."""

from __future__ import annotations

import dataclasses

import pytest

from crawler.config import DedupSettings
from crawler.dedup import NearDup, content_hash, sig_to_bytes
from crawler.records import Article, Match, SpoolItem
from crawler.store import fts, pages, runs, schema
from crawler.store.db import open_db
from crawler.store.ingest import Ingester
from crawler.store.spool import SqliteSpool
from crawler.text.normalise import to_traditional

BASE = (
    "阿里云在云栖大会上宣布开源新一代通义千问模型，覆盖从五亿到七百二十亿参数的多个规格。"
    "公司表示，开源模型的下载量在过去一年增长了数倍，越来越多的中小企业选择在私有环境中部署。"
    "与此同时，训练前沿模型所需的算力投入仍在快速上升，业内估计单次训练的成本已达数亿美元。"
    "多位创业者认为，价格战之后，模型能力与行业场景的结合将成为新的竞争焦点。"
)
OTHER = (
    "华为云在开发者大会上发布了新一代昇腾算力服务，面向大模型训练提供更大规模的集群。"
    "负责人介绍，新集群在通信效率和故障恢复方面做了大量优化，长时间训练任务的中断率明显下降。"
    "分析人士指出，国产算力的供给正在改善，但软件生态仍需要时间积累，开发者迁移成本不低。"
    "该公司同时推出了面向政务和金融行业的模型服务，强调数据不出域和合规可控。"
)


def item(url: str, text: str, source: str = "s1", title: str = "标题", run_id: int | None = None,
         canonical: str | None = None) -> SpoolItem:
    article = Article(url=url, source=source, title=title, text=text, canonical_url=canonical,
                      published="2024-09-19T10:15:00+08:00", language="zh", script="zh-Hans")
    return SpoolItem(article=article, matches=(Match("large-models", 3.0, ("大模型",)),), run_id=run_id)


@pytest.fixture
def db(tmp_path):
    d = open_db(tmp_path / "corpus.db")
    yield d
    d.close()


def ingest(db, *items: SpoolItem):
    spool = SqliteSpool(db)
    for i in items:
        spool.put(i)
    return Ingester(db, DedupSettings(near_threshold=0.5)).ingest()


def count(db, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_schema_is_idempotent_and_wal(tmp_path):
    path = tmp_path / "c.db"
    for _ in range(3):
        d = open_db(path)
        schema.ensure_db_shape(d)
        assert d.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        d.close()
    d = open_db(path)
    applied = [r[0] for r in d.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = 'topicwatch'")]
    assert applied == [m.name for m in schema.MIGRATIONS.applied(d)] == [m.name for m in schema.MIGRATIONS._migrations]
    assert not schema.MIGRATIONS.pending(d)
    assert "_migrations" not in d.table_names()  # topicwatch 0.1's own table is retired


def test_new_articles_get_a_story_and_an_index_row(db):
    stats = ingest(db, item("http://a.test/1", BASE), item("http://a.test/2", OTHER))
    assert (stats.new, stats.duplicates) == (2, 0)
    assert count(db, "stories") == 2
    assert count(db, "articles_fts") == 2 and count(db, "minhashes") == 2
    assert count(db, "lsh_bands") == 2 * NearDup().bands
    assert count(db, "spool") == 0


def test_topics_go_to_the_join_table_with_the_article(db):
    two = SpoolItem(article=item("http://a.test/2", OTHER).article,
                    matches=(Match("compute", 2.0, ("算力",)), Match("large-models", 1.5, ("大模型",))))
    ingest(db, item("http://a.test/1", BASE), two, item("http://b.test/1", BASE, source="s2"))
    assert db.execute("SELECT article_id, topic FROM article_topics ORDER BY 1, 2").fetchall() == [
        (1, "large-models"), (2, "compute"), (2, "large-models")]  # the copy adds no row
    counts = {r[:2]: r[2] for r in db.execute(
        "SELECT topic, also, articles FROM article_counts WHERE source = 's1' AND language = 'zh' "
        "AND script = 'zh-Hans'")}
    assert counts == {("", ""): 2, ("large-models", ""): 2, ("compute", ""): 1, ("", "large-models"): 2,
                      ("", "compute"): 1, ("compute", "large-models"): 1, ("large-models", "compute"): 1}
    assert db.execute(schema.ARTICLE_COUNTS_CHECK).fetchone()[0] == 0


def test_same_text_in_the_other_script_is_a_copy(db):
    ingest(db, item("http://a.test/1", BASE))
    stats = ingest(db, item("http://b.test/x", to_traditional(BASE), source="s2"))
    assert (stats.new, stats.duplicates) == (0, 1)
    copy = next(db.query("SELECT * FROM copies"))
    assert copy["kind"] == "exact" and copy["source"] == "s2" and copy["article_id"] == 1
    story = next(db.query("SELECT * FROM stories"))
    assert (story["n_articles"], story["n_copies"], story["n_sources"]) == (1, 1, 2)


def test_same_canonical_url_is_a_copy_and_tracking_params_do_not_count(db):
    ingest(db, item("http://a.test/news/1.html", BASE))
    stats = ingest(db, item("http://a.test/print/1.html", BASE + "打印", canonical="http://a.test/news/1.html"),
                   item("http://a.test/news/1.html?utm_source=rss", BASE + "再次"))
    assert stats.new == 0
    assert {r["kind"] for r in db.query("SELECT kind FROM copies")} == {"canonical"}


def test_a_canonical_url_naming_another_story_does_not_make_it_a_copy(db):
    """A template that puts one article's URL in every page's og:url / rel=canonical (the
    day's lead story) would make every later article a copy of the first; a page is taken
    for the article its canonical URL names only when it shows that article's text."""
    lead = "http://a.test/news/lead.html"
    stats = ingest(db, item("http://a.test/news/1.html", BASE, canonical=lead),
                   item("http://a.test/news/2.html", OTHER, canonical=lead),
                   item("http://a.test/print/1.html", BASE + "（打印版）", canonical=lead))
    assert (stats.new, stats.duplicates) == (2, 1)
    rows = {r["url"]: r["canonical_url"] for r in db.query("SELECT url, canonical_url FROM articles")}
    assert rows == {"http://a.test/news/1.html": lead,
                    "http://a.test/news/2.html": "http://a.test/news/2.html"}
    assert [(r["url"], r["kind"], r["article_id"]) for r in db.query("SELECT * FROM copies")] == [
        ("http://a.test/print/1.html", "canonical", 1)]
    # the same page again, reached with other tracking and a line edited since: by its own
    # URL, a copy of the article stored for it (not a second row with its canonical URL)
    again = ingest(db, item("http://a.test/news/2.html?utm_source=home", OTHER + "（更新）", canonical=lead))
    assert (again.new, again.duplicates) == (0, 1)
    assert db.execute("SELECT article_id FROM copies WHERE url LIKE '%utm_source=home'").fetchone()[0] == 2


LEAD = (
    "一家机器人初创公司今天完成新一轮融资，资金将用于扩大人形机器人的试产线和招聘算法工程师。"
    "创始人表示，公司的双足机器人已经在两家汽车工厂试运行，主要负责搬运和质检等重复性工作。"
    "投资方认为，大模型让机器人理解自然语言指令变得容易，具身智能的商业化进度可能快于预期。"
    "不过业内人士提醒，硬件成本和安全认证仍是大规模部署前必须跨过的门槛。"
)


def test_the_page_at_a_url_another_page_only_claimed_is_stored_there(db):
    """Fetched after a page whose template named it as canonical, the lead story itself is
    stored at its URL (it was a 'copy' of the first page that claimed it), and that page
    goes back to its own URL; after a print page that claimed it with the lead's own text,
    it becomes that article's page and the print page its copy."""
    lead = "http://a.test/news/lead.html"
    ingest(db, item("http://a.test/news/1.html", BASE, canonical=lead))
    stats = ingest(db, item(lead, LEAD, canonical=lead))
    assert (stats.new, stats.duplicates) == (1, 0)
    rows = {r["url"]: r["canonical_url"] for r in db.query("SELECT url, canonical_url FROM articles")}
    assert rows == {"http://a.test/news/1.html": "http://a.test/news/1.html", lead: lead}
    assert count(db, "copies") == 0
    # the same page again is known; a page claiming the lead with its text is its copy
    again = ingest(db, item(lead, LEAD), item("http://a.test/amp/lead.html", LEAD + "（AMP）", canonical=lead))
    assert (again.new, again.duplicates) == (0, 1)

    print_first = "http://b.test/news/lead.html"
    ingest(db, item("http://b.test/print/lead.html", OTHER + "（打印版）", source="s2", canonical=print_first))
    stats = ingest(db, item(print_first, OTHER, source="s2"))
    assert (stats.new, stats.duplicates) == (0, 1)
    assert db.execute("SELECT url FROM articles WHERE canonical_url = ?", [print_first]).fetchone()[0] == print_first
    assert [(r["url"], r["kind"]) for r in db.query("SELECT * FROM copies WHERE url LIKE '%print%'")] == [
        ("http://b.test/print/lead.html", "canonical")]


@pytest.mark.parametrize("print_first", [False, True], ids=["original-first", "print-first"])
def test_a_page_and_its_print_version_end_the_same_whichever_comes_first(db, print_first: bool):
    """A crawl's workers finish pages in no set order. The article page (with its byline and
    headline) and its print version (declaring the article's URL canonical, without them):
    either way the article is stored at its own URL with its own metadata, the print page is
    its copy, and searching the headline finds it."""
    url, printed = "http://a.test/news/7.html", "http://a.test/print/7.html"
    original = item(url, BASE, title="云端价格战升级")
    original = dataclasses.replace(original, article=dataclasses.replace(original.article, author="孙悦"))
    copy = item(printed, BASE, title="打印版", canonical=url)
    copy = dataclasses.replace(copy, article=dataclasses.replace(copy.article, published=None))
    stats = ingest(db, *([copy, original] if print_first else [original, copy]))
    assert (stats.new, stats.duplicates) == (1, 1)
    row = next(db.query("SELECT * FROM articles"))
    assert (row["url"], row["canonical_url"], row["title"], row["author"]) == (url, url, "云端价格战升级", "孙悦")
    assert row["published"] == "2024-09-19T10:15:00+08:00"
    assert [(r["url"], r["kind"], r["article_id"]) for r in db.query("SELECT * FROM copies")] == [
        (printed, "canonical", row["id"])]
    assert next(db.query("SELECT title FROM stories"))["title"] == "云端价格战升级"
    found = db.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?",
                       [fts.fts_query("云端")]).fetchall()
    assert found == [(row["id"],)]  # in the headline only
    assert ingest(db, original, copy).new == 0  # and again, nothing


def test_a_canonical_url_only_declared_may_be_fetched_once(db):
    """Never-refetch holds an article's URL and its own canonical form (tracking left out), not
    a canonical URL its page only declared: a lead story first listed in a later run than the
    page that claimed it is fetched then, once (its `pages` row keeps it from a second time)."""
    lead = "http://a.test/news/lead.html"
    ingest(db, item("http://a.test/news/1.html", BASE, canonical=lead),
           item("http://a.test/news/2.html?utm_source=rss", OTHER, canonical="http://a.test/news/2.html"))
    known = pages.known_article_urls(db)
    assert {"http://a.test/news/1.html", "http://a.test/news/2.html?utm_source=rss",
            "http://a.test/news/2.html"} <= known
    assert lead not in known
    ingest(db, item(lead, LEAD))
    assert lead in pages.known_article_urls(db)
    assert db.execute("SELECT canonical_url FROM articles WHERE url = ?", [lead]).fetchone()[0] == lead


def test_a_lightly_edited_repost_joins_the_story_as_its_own_article(db):
    ingest(db, item("http://a.test/1", BASE))
    edited = BASE.replace("多位创业者认为", "也有投资人认为") + "记者将持续关注后续进展。"
    stats = ingest(db, item("http://c.test/9", "热点新闻\n" + edited, source="s3"))
    assert stats.new == 1
    stories = [r[0] for r in db.execute("SELECT story_id FROM articles")]
    assert len(set(stories)) == 1
    story = next(db.query("SELECT * FROM stories"))
    assert story["n_articles"] == 2 and story["n_sources"] == 2 and story["origin_article_id"] == 1


def test_unrelated_articles_on_the_same_topic_stay_apart(db):
    ingest(db, item("http://a.test/1", BASE), item("http://a.test/2", OTHER))
    assert len({r[0] for r in db.execute("SELECT story_id FROM articles")}) == 2


def test_ingesting_the_same_item_twice_adds_nothing(db):
    first = item("http://a.test/1", BASE)
    ingest(db, first)
    stats = ingest(db, first)
    assert (stats.new, stats.duplicates) == (0, 0)
    assert count(db, "articles") == 1 and count(db, "copies") == 0


def test_a_near_copy_is_found_through_the_bands_in_a_fresh_process(db, tmp_path):
    """No index in memory anywhere: another process, opening the file cold, finds the
    near-duplicate through `lsh_bands` alone."""
    import subprocess
    import sys

    ingest(db, item("http://a.test/1", BASE))
    SqliteSpool(db).put(item("http://z.test/7", "来源：某网\n" + BASE + "（完）", source="s9"))
    code = ("import sys; from crawler.store.db import open_db; from crawler.config import DedupSettings;"
            "from crawler.store.ingest import Ingester;"
            "print(Ingester(open_db(sys.argv[1]), DedupSettings()).ingest().new)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "corpus.db")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "1", out.stderr
    assert [tuple(r) for r in db.execute("SELECT id, story_id FROM articles ORDER BY id")] == [(1, 1), (2, 1)]
    assert count(db, "lsh_bands") == 2 * NearDup().bands


def test_window_days_bounds_the_candidates(db):
    """An article first seen more than `window_days` before a near-copy starts no story with
    it; one seen within the window does."""
    times = iter(["2026-01-01T08:00:00+00:00", "2026-02-15T08:00:00+00:00", "2026-02-20T08:00:00+00:00"])
    ingester = Ingester(db, DedupSettings(window_days=30), clock=lambda: next(times))
    spool = SqliteSpool(db)
    spool.put(item("http://a.test/1", BASE))
    ingester.ingest()
    spool.put(item("http://b.test/1", "转载：\n" + BASE + "（完）", source="s2"))  # 45 days later
    ingester.ingest()
    spool.put(item("http://c.test/1", "来源：某网\n" + BASE + "（未完）", source="s3"))  # 5 days after that
    ingester.ingest()
    stories = [r[0] for r in db.execute("SELECT story_id FROM articles ORDER BY id")]
    assert stories[0] != stories[1] and stories[2] == stories[1]
    assert count(db, "stories") == 2


def test_window_zero_means_no_limit(db):
    times = iter(["2020-01-01T08:00:00+00:00", "2026-02-15T08:00:00+00:00"])
    ingester = Ingester(db, DedupSettings(window_days=0), clock=lambda: next(times))
    spool = SqliteSpool(db)
    spool.put(item("http://a.test/1", BASE))
    spool.put(item("http://b.test/1", "转载：\n" + BASE + "（完）", source="s2"))
    ingester.ingest()
    assert count(db, "stories") == 1


def test_the_migration_backfills_the_bands_of_an_existing_corpus(tmp_path):
    """A corpus written before migration 008 (its articles and signatures, no `lsh_bands`):
    opening it fills the bands from the stored signatures, and a repost then finds its
    original through them."""
    path = tmp_path / "corpus.db"
    db = open_db(path)
    ingest(db, item("http://a.test/1", BASE), item("http://a.test/2", OTHER), item("http://a.test/3", ""))
    db.execute("DROP TABLE lsh_bands")
    db.execute("DROP TABLE lsh_state")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = '008_lsh_bands'")
    db.conn.commit()
    db.close()
    db = open_db(path)
    assert not schema.MIGRATIONS.pending(db)
    assert count(db, "lsh_bands") == 2 * NearDup().bands  # the empty text has none
    assert {r[0] for r in db.execute("SELECT DISTINCT article_id FROM lsh_bands")} == {1, 2}
    ingest(db, item("http://z.test/7", "来源：某网\n" + BASE + "（完）", source="s9"))
    assert next(db.query("SELECT story_id FROM articles WHERE url = 'http://z.test/7'"))["story_id"] == \
        next(db.query("SELECT story_id FROM articles WHERE id = 1"))["story_id"]


def test_a_failure_inside_an_item_rolls_back_and_keeps_it_spooled(db):
    spool = SqliteSpool(db)
    spool.put(item("http://a.test/1", BASE))
    db.execute("CREATE TRIGGER boom BEFORE INSERT ON stories BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
    with pytest.raises(Exception, match="disk on fire"):
        Ingester(db, DedupSettings()).ingest()
    assert count(db, "articles") == 0 and count(db, "articles_fts") == 0 and count(db, "spool") == 1
    assert count(db, "article_topics") == 0 and count(db, "article_counts") == 0
    assert count(db, "minhashes") == 0 and count(db, "lsh_bands") == 0  # written before the story
    db.execute("DROP TRIGGER boom")
    assert Ingester(db, DedupSettings()).ingest().new == 1
    assert count(db, "spool") == 0


def test_an_item_ingest_fails_on_is_set_aside_and_the_rest_is_stored(db, url_code_raising_for):
    """A bug met on one item (here: the URL code raising for one page) must not stop its batch
    in every run: that item leaves the spool unstored, recorded as a processing-error whose page
    is fetched again later; the items before and after it are stored."""
    spool = SqliteSpool(db)
    for n in range(3):
        spool.put(item(f"http://a.test/{n}", f"第{n}篇。" + (BASE if n % 2 else OTHER) + str(n) * 40))
    url_code_raising_for("http://a.test/1")
    stats = Ingester(db, DedupSettings()).ingest(spool)
    assert (stats.new, stats.set_aside) == (2, 1)
    assert sorted(r[0] for r in db.execute("SELECT url FROM articles")) == ["http://a.test/0", "http://a.test/2"]
    assert count(db, "spool") == 0 and count(db, "copies") == 0
    assert db.execute("SELECT url, reason, detail FROM skipped").fetchall() == [
        ("http://a.test/1", "processing-error", "ingest: TypeError: a bug met on this page")]
    assert db.execute("SELECT outcome FROM pages WHERE url = 'http://a.test/1'").fetchone()[0] == "retry"
    assert count(db, "minhashes") == 2 and count(db, "articles_fts") == 2  # nothing of it half-written
    assert Ingester(db, DedupSettings()).ingest(spool).new == 0  # nothing left to block a batch


def test_a_kill_mid_batch_leaves_the_batch_spooled_and_a_rerun_stores_it_once(tmp_path):
    """Items are ingested 50 to a transaction (one commit per batch): SIGKILL on the third
    item commits nothing of its batch, and the next ingest stores every item once."""
    import os
    import signal
    import subprocess
    import sys

    from crawler import faults

    path = tmp_path / "corpus.db"
    db = open_db(path)
    spool = SqliteSpool(db)
    for n in range(5):
        spool.put(item(f"http://a.test/{n}", f"第{n}篇。" + (BASE if n % 2 else OTHER) + str(n) * 40))
    db.close()
    code = ("import sys; from crawler.store.db import open_db; from crawler.config import DedupSettings;"
            "from crawler.store.ingest import Ingester;"
            "print(Ingester(open_db(sys.argv[1]), DedupSettings()).ingest())")
    killed = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                            timeout=120, env={**os.environ, faults.ENV: "ingest:3"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    db = open_db(path)
    assert (count(db, "articles"), count(db, "lsh_bands"), count(db, "spool")) == (0, 0, 5)
    db.close()
    rerun = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                           timeout=120)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "new=5" in rerun.stdout
    db = open_db(path)
    assert (count(db, "articles"), count(db, "copies"), count(db, "spool")) == (5, 0, 0)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_run_counters_are_updated_in_the_items_transaction(db):
    run_id = runs.start_run(db, "test", ["s1"])
    runs.record_source_run(db, run_id, "s1", {"fetched": 2}, ok=True)
    ingest(db, item("http://a.test/1", BASE, run_id=run_id), item("http://b.test/1", BASE, run_id=run_id))
    run = next(db.query("SELECT new, duplicates FROM runs WHERE id = ?", [run_id]))
    assert (run["new"], run["duplicates"]) == (1, 1)
    assert next(db.query("SELECT new FROM source_runs WHERE run_id = ?", [run_id]))["new"] == 1


def test_two_processes_ingesting_at_once_both_succeed(tmp_path):
    """A manual crawl's ingest beside the daemon's: BEGIN IMMEDIATE waits for the lock."""
    import subprocess
    import sys

    path = tmp_path / "corpus.db"
    db = open_db(path)
    spool = SqliteSpool(db)
    for n in range(120):
        spool.put(item(f"http://a.test/{n}", f"第{n}篇。" + (BASE if n % 2 else OTHER) * (1 + n % 3) + str(n)))
    db.close()
    code = (
        "import sys; from crawler.store.db import open_db; from crawler.config import DedupSettings;"
        "from crawler.store.ingest import Ingester;"
        "Ingester(open_db(sys.argv[1]), DedupSettings()).ingest()"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    db = open_db(path)
    assert count(db, "spool") == 0
    assert count(db, "articles") + count(db, "copies") == 120
    assert count(db, "lsh_bands") == count(db, "articles") * NearDup().bands


def test_other_dedup_settings_rebuild_the_bands_and_still_find_copies(db):
    ingest(db, item("http://a.test/1", BASE), item("http://a.test/2", OTHER))
    strict = DedupSettings(near_threshold=0.8)
    SqliteSpool(db).put(item("http://z.test/7", "来源：某网\n" + BASE + "（完）", source="s9"))
    Ingester(db, strict).ingest()
    near = NearDup(threshold=0.8)
    assert (near.bands, near.rows) != (NearDup().bands, NearDup().rows)
    assert next(db.query("SELECT shape FROM lsh_state"))["shape"] == near.shape
    assert count(db, "lsh_bands") == 3 * near.bands
    stories = [r[0] for r in db.execute("SELECT story_id FROM articles ORDER BY id")]
    assert stories[2] == stories[0] != stories[1]


def test_the_keys_an_item_brings_are_stored_when_made_with_these_settings(db):
    """A crawl's worker computes the text's content hash and signature (SpoolItem.dedup_keys);
    ingest stores them as they came, and computes its own for one made with other settings.
    (Keys of another text are attached here only to see whose keys were stored and used.)"""
    near = NearDup()
    other = near.dedup_keys(OTHER)
    brought = dataclasses.replace(item("http://a.test/1", BASE), dedup_keys=other)
    foreign = dataclasses.replace(item("http://a.test/3", BASE),
                                  dedup_keys=NearDup(num_perm=64).dedup_keys(OTHER))
    stats = ingest(db, brought, item("http://a.test/2", OTHER), foreign)
    assert (stats.new, stats.duplicates) == (2, 1)
    rows = db.execute("SELECT a.url, a.content_hash, m.signature FROM articles a "
                      "JOIN minhashes m ON m.article_id = a.id ORDER BY a.id").fetchall()
    assert rows == [("http://a.test/1", other.content_hash, other.signature),
                    ("http://a.test/3", content_hash(BASE), sig_to_bytes(near.signature(BASE)))]
    # the page with OTHER's text is an exact copy of the one that brought OTHER's keys
    assert db.execute("SELECT url, article_id, kind FROM copies").fetchall() == [("http://a.test/2", 1, "exact")]


def test_an_item_s_keys_go_through_the_spool_and_old_items_have_none(db):
    near = NearDup()
    with_keys = dataclasses.replace(item("http://a.test/1", BASE), dedup_keys=near.dedup_keys(BASE))
    spool = SqliteSpool(db)
    spool.put(with_keys)
    spool.put(item("http://a.test/2", OTHER))  # as spooled by an earlier version: no keys
    (_, first), (_, second) = spool.pending()
    assert first == with_keys and first.dedup_keys == near.dedup_keys(BASE)
    assert second.dedup_keys is None
    d = with_keys.to_dict()
    d["dedup_keys"] = {"content_hash": "x", "signature": "not base64!", "made_with": "?"}
    assert SpoolItem.from_dict(d).dedup_keys is None
    d["dedup_keys"] = {"content_hash": "x", "signature": ""}  # written before `made_with`
    assert SpoolItem.from_dict(d).dedup_keys is None
    assert Ingester(db, DedupSettings()).ingest().new == 2
    stored = dict(db.execute("SELECT url, content_hash FROM articles").fetchall())
    assert stored == {"http://a.test/1": content_hash(BASE), "http://a.test/2": content_hash(OTHER)}
