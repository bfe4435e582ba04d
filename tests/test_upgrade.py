"""A corpus written by topicwatch 0.1 (tests/fixtures/legacy/, built by commit d1de506) opens
with today's schema code, is upgraded in place without losing a row, and a crawl on it goes on
where the old one left off: nothing stored is fetched again, what waited in the spool is
ingested, and the corpus ends complete."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from fixturesite import FixtureSite, manifest, shipped_topics
from test_e2e_crawl import crawl

from crawler.store import schema
from crawler.store.db import open_db

LEGACY = Path(__file__).parent / "fixtures" / "legacy" / "corpus-v0.1.db"
ROWS_V01 = {"articles": 11, "copies": 1, "stories": 11, "runs": 2, "source_runs": 3, "skipped": 6,
            "pages": 26, "spool": 4, "minhashes": 11, "articles_fts": 11, "source_settings": 5}


def legacy_copy(site: FixtureSite, tmp: Path) -> Path:
    """The fixture with the running site's addresses put back into every text column."""
    path = tmp / "corpus.db"
    shutil.copy(LEGACY, path)
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                           "AND name NOT LIKE 'articles_fts%' AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            for _, column, kind, *_ in db.execute(f"PRAGMA table_info({table})"):
                if kind.upper() != "TEXT":
                    continue
                for host in "abc":
                    db.execute(f"UPDATE {table} SET {column} = replace({column}, ?, ?)",
                               ["{{host_" + host + "}}", site.base(host)])
    return path


def counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ROWS_V01}


def test_the_v01_corpus_is_upgraded_in_place_without_losing_a_row(site: FixtureSite, tmp_path: Path) -> None:
    path = legacy_copy(site, tmp_path)
    with sqlite3.connect(path) as db:
        assert [r[0] for r in db.execute("SELECT name FROM _migrations")] == ["001_initial"]
        before = {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in ROWS_V01}
        columns = {t: [c[1] for c in db.execute(f"PRAGMA table_info({t})")] for t in ROWS_V01}
    assert counts(path) == ROWS_V01
    db = open_db(path)
    assert not schema.MIGRATIONS.pending(db)
    assert "_migrations" not in db.table_names()
    for table, old_rows in before.items():  # columns added since (topic_set) aside
        old_columns = ", ".join(columns[table]) if columns[table] else "*"
        if table == "pages":  # migration 010: a listing page's validators forgotten, read in full once
            kind, etag, modified = (columns[table].index(c) for c in ("kind", "etag", "last_modified"))
            old_rows = [tuple(None if i in (etag, modified) and row[kind] in ("sitemap", "listing") else v
                              for i, v in enumerate(row)) for row in old_rows]
            assert any(row[kind] == "listing" for row in old_rows)
        assert db.execute(f"SELECT {old_columns} FROM {table} ORDER BY 1").fetchall() == old_rows, table
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert {r["source"] for r in db.query("SELECT source FROM source_health")} >= {"xinghe-rss", "island-atom"}
    topics = db.execute("SELECT a.id, t.value FROM articles a, json_each(a.topics) t ORDER BY 1, 2").fetchall()
    assert topics and db.execute("SELECT article_id, topic FROM article_topics ORDER BY 1, 2").fetchall() == topics
    assert db.execute(schema.ARTICLE_COUNTS_CHECK).fetchone()[0] == 0
    assert db.execute("SELECT sum(articles) FROM article_counts WHERE topic = '' AND also = ''").fetchone()[0] == 11
    # the near-duplicate bands, filled from 0.1's stored signatures (32 bands each)
    assert db.execute("SELECT count(*), count(DISTINCT article_id) FROM lsh_bands").fetchone() == (11 * 32, 11)
    open_db(path).close()  # and again: nothing left to do
    assert counts(path) == ROWS_V01


@pytest.mark.slow
def test_a_crawl_on_the_upgraded_corpus_goes_on_where_it_left_off(site: FixtureSite, tmp_path: Path) -> None:
    path = legacy_copy(site, tmp_path)
    with sqlite3.connect(path) as db:
        stored = {r[0] for r in db.execute("SELECT url FROM articles UNION SELECT url FROM copies "
                                           "UNION SELECT url FROM spool")}
    settings = tmp_path / "settings.toml"
    settings.write_text(site.settings_toml(path) + "\n" + shipped_topics(), encoding="utf-8")
    proc = crawl(settings)
    assert proc.returncode == 0, proc.stderr[-3000:]
    again = [r for r in site.requests if site.url(r.host, r.path.split("?")[0]) in stored]
    assert again == [], "an article stored (or spooled) by 0.1 was fetched again"
    expected = {site.url(e.host, e.path) for e in manifest.expect("article") + manifest.expect("copy")}
    with sqlite3.connect(path) as db:
        urls = [r[0] for r in db.execute("SELECT url FROM articles UNION ALL SELECT url FROM copies")]
        assert len(urls) == len(set(urls)) and set(urls) == expected
        assert db.execute("SELECT count(*) FROM spool").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == len(manifest.expect("article"))
        assert db.execute("SELECT status FROM runs ORDER BY id").fetchall() == [("ok",), ("ok",), ("ok",)]
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_corpus_a_newer_topicwatch_wrote_is_refused_not_misread(tmp_path: Path) -> None:
    """Its schema records a migration this version does not know: every command that opens
    it says so (exit 6) instead of reading renamed columns or writing an old shape into it."""
    from click.testing import CliRunner

    from crawler.cli import cli
    from crawler.errors import CorpusError

    path = tmp_path / "corpus.db"
    open_db(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                   "VALUES ('topicwatch', '999_from_a_later_release', '2027-01-01T00:00:00')")
    db.close()
    with pytest.raises(CorpusError, match="999_from_a_later_release"):
        open_db(path)
    settings = tmp_path / "settings.toml"
    settings.write_text(f'[corpus]\npath = "{path}"\n[[topics]]\nname = "all"\nkeep_all = true\n',
                        encoding="utf-8")
    for command in ("status", "export", "ingest", "rematch"):
        result = CliRunner().invoke(cli, [command, "--settings", str(settings)])
        assert result.exit_code == 6, (command, result.output)
        assert (f"{path}: written by a newer topicwatch (its schema has 999_from_a_later_release): "
                "upgrade topicwatch to use this corpus") in result.stderr, command


def test_migration_010_forgets_the_validators_of_sitemaps_and_listing_pages_only(tmp_path: Path) -> None:
    """A corpus from before sitemap indexes (and listing pages with sections) were read in full
    every run: their saved validators (an index's among them, whose 304 hid its sitemaps) are
    forgotten once, so each is read in full again; a feed's are kept."""
    path = tmp_path / "corpus.db"
    db = open_db(path)
    for url, kind in (("https://a.test/sitemap_index.xml", "sitemap"), ("https://a.test/feed.xml", "feed"),
                      ("https://a.test/tech/", "listing")):
        db.execute("INSERT INTO pages (url, kind, source, etag, last_modified, status, outcome) "
                   "VALUES (?, ?, 's', '\"v1\"', 'Mon, 02 Sep 2024 08:00:00 GMT', 200, 'ok')", [url, kind])
    db.execute("DELETE FROM _sqlite_migrations WHERE name = '010_sitemap_indexes_read_in_full'")
    db.conn.commit()
    db.close()
    db = open_db(path)
    assert not schema.MIGRATIONS.pending(db)
    rows = {r["url"]: (r["etag"], r["last_modified"]) for r in db.query("SELECT url, etag, last_modified FROM pages")}
    assert rows == {"https://a.test/sitemap_index.xml": (None, None), "https://a.test/tech/": (None, None),
                    "https://a.test/feed.xml": ('"v1"', "Mon, 02 Sep 2024 08:00:00 GMT")}
