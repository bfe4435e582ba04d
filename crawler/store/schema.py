"""Every table, index and view of the corpus, as named sqlite-utils migrations.

`ensure_db_shape(db)` applies the pending ones (each in a transaction, recorded in
`_sqlite_migrations`), so opening any corpus, new or written by an older topicwatch, brings it
up to date in place.  A schema change is a new migration appended at the end; a migration that
has shipped is never edited.

topicwatch 0.1 kept its own `_migrations` table and created the daemon and health tables
outside any migration; `001_initial` to `003` use IF NOT EXISTS, so on such a corpus they
change nothing, and `004` drops the old bookkeeping table.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

from crawler.config import DaemonSettings, DedupSettings, Source
from crawler.records import NOT_ERRORS

DEFAULT_QUIET_DAYS = Source.__dataclass_fields__["quiet_days"].default
DEFAULT_FAILURE_THRESHOLD = DaemonSettings.__dataclass_fields__["failure_threshold"].default

MIGRATIONS = Migrations("topicwatch")


@MIGRATIONS(name="001_initial")
def m001_initial(db: Database) -> None:
    _execute_all(db, 
        """
        CREATE TABLE IF NOT EXISTS runs (
            id INTEGER PRIMARY KEY, started TEXT NOT NULL, ended TEXT,
            status TEXT NOT NULL DEFAULT 'running', error TEXT, trigger TEXT, sources TEXT,
            fetched INTEGER DEFAULT 0, extracted INTEGER DEFAULT 0, matched INTEGER DEFAULT 0,
            new INTEGER DEFAULT 0, duplicates INTEGER DEFAULT 0, skipped INTEGER DEFAULT 0,
            errors INTEGER DEFAULT 0, not_modified INTEGER DEFAULT 0, pid INTEGER
        );
        CREATE TABLE IF NOT EXISTS stories (
            id INTEGER PRIMARY KEY, origin_article_id INTEGER, title TEXT,
            first_seen TEXT, last_seen TEXT,
            n_articles INTEGER DEFAULT 0, n_sources INTEGER DEFAULT 0, n_copies INTEGER DEFAULT 0
        );
        CREATE TABLE IF NOT EXISTS articles (
            id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, canonical_url TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL, title TEXT, author TEXT, published TEXT, published_day TEXT,
            language TEXT, script TEXT, site_name TEXT, description TEXT, original_source TEXT,
            text TEXT, topics TEXT, matched_terms TEXT, scores TEXT,
            content_hash TEXT NOT NULL, story_id INTEGER REFERENCES stories(id),
            first_seen TEXT NOT NULL, run_id INTEGER REFERENCES runs(id)
        );
        CREATE INDEX IF NOT EXISTS idx_articles_content_hash ON articles(content_hash);
        CREATE INDEX IF NOT EXISTS idx_articles_first_seen ON articles(first_seen);
        CREATE INDEX IF NOT EXISTS idx_articles_published ON articles(published);
        CREATE INDEX IF NOT EXISTS idx_articles_source ON articles(source);
        CREATE INDEX IF NOT EXISTS idx_articles_story ON articles(story_id);
        CREATE TABLE IF NOT EXISTS copies (
            id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, source TEXT,
            article_id INTEGER NOT NULL REFERENCES articles(id), story_id INTEGER REFERENCES stories(id),
            kind TEXT NOT NULL, title TEXT, first_seen TEXT NOT NULL, run_id INTEGER REFERENCES runs(id)
        );
        CREATE INDEX IF NOT EXISTS idx_copies_article ON copies(article_id);
        CREATE TABLE IF NOT EXISTS minhashes (
            article_id INTEGER PRIMARY KEY REFERENCES articles(id), signature BLOB NOT NULL
        );
        CREATE TABLE IF NOT EXISTS skipped (
            id INTEGER PRIMARY KEY, url TEXT, source TEXT, reason TEXT NOT NULL, detail TEXT,
            status INTEGER, run_id INTEGER REFERENCES runs(id), at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS idx_skipped_run ON skipped(run_id);
        CREATE TABLE IF NOT EXISTS pages (
            url TEXT PRIMARY KEY, kind TEXT NOT NULL, source TEXT, etag TEXT, last_modified TEXT,
            status INTEGER, outcome TEXT, fetched_at TEXT, run_id INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE IF NOT EXISTS spool (
            id INTEGER PRIMARY KEY, run_id INTEGER, url TEXT NOT NULL, item TEXT NOT NULL,
            spooled_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS source_runs (
            run_id INTEGER NOT NULL REFERENCES runs(id), source TEXT NOT NULL,
            fetched INTEGER DEFAULT 0, new INTEGER DEFAULT 0, errors INTEGER DEFAULT 0,
            not_modified INTEGER DEFAULT 0, ok INTEGER, at TEXT,
            PRIMARY KEY (run_id, source)
        );
        CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(
            title, text, tokenize = 'unicode61 remove_diacritics 2'
        );
        """
    )



@MIGRATIONS(name="002_daemon_and_health_tables")
def m002_daemon_and_health_tables(db: Database) -> None:
    """The daemon's schedule state and each source's health thresholds (copied from
    settings.toml, which a view cannot read)."""
    _execute_all(db, 
        """
        CREATE TABLE IF NOT EXISTS schedules_state (
            name TEXT PRIMARY KEY, last_run TEXT, next_run TEXT, last_status TEXT,
            last_run_id INTEGER, last_error TEXT
        );
        CREATE TABLE IF NOT EXISTS source_settings (
            source TEXT PRIMARY KEY, enabled INTEGER NOT NULL DEFAULT 1,
            quiet_days REAL, failure_threshold INTEGER, updated TEXT
        );
        CREATE INDEX IF NOT EXISTS idx_source_runs_source ON source_runs(source, run_id);
        """
    )


@MIGRATIONS(name="003_source_health_view")
def m003_source_health_view(db: Database) -> None:
    db.execute("DROP VIEW IF EXISTS source_health")
    db.execute(SOURCE_HEALTH_SQL)


@MIGRATIONS(name="004_retire_own_migrations_table")
def m004_retire_own_migrations_table(db: Database) -> None:
    """topicwatch 0.1's own bookkeeping, replaced by sqlite-utils' `_sqlite_migrations`."""
    db.execute("DROP TABLE IF EXISTS _migrations")


@MIGRATIONS(name="005_notifications")
def m005_notifications(db: Database) -> None:
    """What each `[[notify]]` target was told (crawler/store/notifications.py owns these).

    A story is queued for a target once (`notify_stories`, keyed by both), in a message
    (`notify_messages`, its text frozen and its `key` the stable id every attempt carries),
    delivered to each of the target's URLs (`notify_deliveries`, keyed by a hash of the URL
    as written in settings.toml: never the URL itself, which may hold a secret)."""
    _execute_all(db,
        """
        CREATE TABLE notify_targets (
            name TEXT PRIMARY KEY, token TEXT NOT NULL, registered TEXT NOT NULL,
            since_run INTEGER NOT NULL, last_story INTEGER NOT NULL, last_digest TEXT
        );
        CREATE TABLE notify_messages (
            id INTEGER PRIMARY KEY, target TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
            title TEXT NOT NULL, body TEXT NOT NULL, format TEXT NOT NULL, type TEXT NOT NULL,
            created TEXT NOT NULL, sent TEXT,
            UNIQUE (target, key)
        );
        CREATE TABLE notify_stories (
            target TEXT NOT NULL, story_id INTEGER NOT NULL REFERENCES stories(id),
            message_id INTEGER REFERENCES notify_messages(id), queued TEXT NOT NULL,
            PRIMARY KEY (target, story_id)
        );
        CREATE INDEX idx_notify_stories_message ON notify_stories(target, message_id);
        CREATE TABLE notify_deliveries (
            message_id INTEGER NOT NULL REFERENCES notify_messages(id), url_key TEXT NOT NULL,
            url_label TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0, last_attempt TEXT, sent TEXT, error TEXT,
            PRIMARY KEY (message_id, url_key)
        );
        CREATE INDEX idx_notify_deliveries_state ON notify_deliveries(state, message_id);
        """
    )


@MIGRATIONS(name="006_article_topics_and_browse_indexes")
def m006_article_topics_and_browse_indexes(db: Database) -> None:
    """What browsing 100,000 articles needs: `article_topics` (one row per article and topic,
    so a topic filter or facet reads a small table instead of the JSON column stored after
    the text), back-filled from `articles.topics`; indexes that answer a source, language or
    script filter newest first and count its facet without reading the rows; stories by date
    (the front page), stories by coverage (`top_stories`) and copies by story
    (`refresh_story`); `article_counts` (below)."""
    _execute_all(db,
        """
        CREATE TABLE IF NOT EXISTS article_topics (
            topic TEXT NOT NULL, article_id INTEGER NOT NULL REFERENCES articles(id),
            PRIMARY KEY (topic, article_id)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS idx_article_topics_article ON article_topics(article_id);
        INSERT OR IGNORE INTO article_topics (topic, article_id)
            SELECT t.value, a.id
            FROM articles a, json_each(CASE WHEN json_valid(a.topics) THEN a.topics END) t
            WHERE t.type = 'text';
        CREATE INDEX IF NOT EXISTS idx_articles_source_seen ON articles(source, first_seen);
        DROP INDEX IF EXISTS idx_articles_source;
        CREATE INDEX IF NOT EXISTS idx_articles_language_seen ON articles(language, first_seen);
        CREATE INDEX IF NOT EXISTS idx_articles_script_seen ON articles(script, first_seen);
        CREATE INDEX IF NOT EXISTS idx_stories_first_seen ON stories(first_seen);
        CREATE INDEX IF NOT EXISTS idx_copies_story ON copies(story_id);
        CREATE INDEX IF NOT EXISTS idx_stories_sources ON stories(n_sources, last_seen);
        CREATE TABLE IF NOT EXISTS article_counts (
            topic TEXT NOT NULL, also TEXT NOT NULL, source TEXT NOT NULL,
            language TEXT NOT NULL, script TEXT NOT NULL, articles INTEGER NOT NULL,
            PRIMARY KEY (topic, also, source, language, script)
        ) WITHOUT ROWID;
        """
    )
    db.execute("DELETE FROM article_counts")  # a recount: right whatever was there
    db.execute(ARTICLE_COUNTS_BACKFILL)


# Rows of `article_counts` that differ from a recount of the articles (0 when in step).
ARTICLE_COUNTS_CHECK = """
WITH tagged AS (
  SELECT id AS article_id, '' AS topic FROM articles
  UNION ALL SELECT article_id, topic FROM article_topics
),
recount AS (
  SELECT t.topic, u.topic AS also, a.source, coalesce(a.language, '') AS language,
         coalesce(a.script, '') AS script, count(*) AS articles
  FROM articles a JOIN tagged t ON t.article_id = a.id JOIN tagged u ON u.article_id = a.id
  WHERE u.topic = '' OR u.topic != t.topic
  GROUP BY 1, 2, 3, 4, 5
)
SELECT count(*) FROM (
  SELECT * FROM (SELECT * FROM recount EXCEPT SELECT * FROM article_counts)
  UNION ALL SELECT * FROM (SELECT * FROM article_counts EXCEPT SELECT * FROM recount))
"""

# `article_counts`: how many articles there are per source, language and script (NULL is
# ''), among all articles (topic '') or those of one topic, and (`also`) among those how many
# have another topic too.  A few thousand rows that answer the articles list's counts and
# facets for any topic / source / language / script filter without reading the articles;
# ingest adds to them with each article (corpus.count_article).
ARTICLE_COUNTS_BACKFILL = """
WITH tagged AS (
  SELECT id AS article_id, '' AS topic FROM articles
  UNION ALL SELECT article_id, topic FROM article_topics
)
INSERT INTO article_counts (topic, also, source, language, script, articles)
SELECT t.topic, u.topic, a.source, coalesce(a.language, ''), coalesce(a.script, ''), count(*)
FROM articles a JOIN tagged t ON t.article_id = a.id JOIN tagged u ON u.article_id = a.id
WHERE u.topic = '' OR u.topic != t.topic
GROUP BY 1, 2, 3, 4, 5
"""


@MIGRATIONS(name="007_topics_can_change")
def m007_topics_can_change(db: Database) -> None:
    """What each article and each off-topic page was matched against (`topic_set`, a key of
    `topic_sets`: topic name -> fingerprint), and the extracted text of off-topic pages kept
    for a while (`unmatched`), so that topics added or edited later apply without a fetch."""
    _execute_all(db,
        """
        CREATE TABLE IF NOT EXISTS topic_sets (key TEXT PRIMARY KEY, topics TEXT NOT NULL);
        ALTER TABLE articles ADD COLUMN topic_set TEXT;
        CREATE INDEX IF NOT EXISTS idx_articles_topic_set ON articles(topic_set);
        ALTER TABLE pages ADD COLUMN topic_set TEXT;
        CREATE TABLE IF NOT EXISTS unmatched (
            url TEXT PRIMARY KEY, source TEXT, article BLOB NOT NULL, topic_set TEXT,
            kept_at TEXT NOT NULL, run_id INTEGER
        );
        CREATE INDEX IF NOT EXISTS idx_unmatched_topic_set ON unmatched(topic_set);
        CREATE INDEX IF NOT EXISTS idx_unmatched_kept_at ON unmatched(kept_at);
        """
    )


@MIGRATIONS(name="008_lsh_bands")
def m008_lsh_bands(db: Database) -> None:
    """The near-duplicate index in the corpus instead of in memory (crawler/store/lsh.py):
    one row per band of each article's signature, under its `bucket` of article ids, filled from the stored signatures here with
    the default `[dedup]` settings (other settings rebuild it on first use), then by ingest in
    each article's transaction.  `lsh_state` records which banding the rows follow."""
    _execute_all(db,
        """
        CREATE TABLE IF NOT EXISTS lsh_bands (
            bucket INTEGER NOT NULL, band INTEGER NOT NULL, hash INTEGER NOT NULL,
            article_id INTEGER NOT NULL,
            PRIMARY KEY (bucket, band, hash, article_id)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS lsh_state (
            id INTEGER PRIMARY KEY CHECK (id = 1), shape TEXT NOT NULL
        );
        """
    )
    if db.execute("SELECT 1 FROM minhashes LIMIT 1").fetchone() is None:
        return  # a new corpus: nothing to fill, and no datasketch to import
    from crawler.dedup import NearDup  # datasketch: only when a corpus is upgraded
    from crawler.store import lsh

    d = DedupSettings()
    lsh.rebuild(db, NearDup(d.near_threshold, d.num_perm, d.shingle_size))


@MIGRATIONS(name="009_pages_read_as")
def m009_pages_read_as(db: Database) -> None:
    """`pages.read_as`: for a feed, sitemap or listing page, the fingerprint of the source
    settings its validators were saved under (`Source.read_as`: validators of other settings
    are not sent); for an article page skipped as too old, the `[crawl] max_age_days` it was
    judged by (`max_age_days=N`: a wider limit fetches it again)."""
    if "read_as" not in db["pages"].columns_dict:
        db["pages"].add_column("read_as", str)



@MIGRATIONS(name="010_sitemap_indexes_read_in_full")
def m010_sitemap_indexes_read_in_full(db: Database) -> None:
    """Sitemaps' and listing pages' validators forgotten, once: a sitemap index, and a listing
    page whose section pages a source follows, is now read in full every run
    (crawler/fetch/state.py `route`), since what it leads to changes while it does not, and the
    304 its saved validators brought hid that. Which saved document was such a parent is not
    recorded, so each is read in full once; the others save theirs again."""
    if "pages" in db.table_names():
        db.execute("UPDATE pages SET etag = NULL, last_modified = NULL WHERE kind IN ('sitemap', 'listing')")


def _execute_all(db: Database, script: str) -> None:
    """Each statement of `script` through `db.execute`: unlike `executescript`, which commits
    first, this keeps a migration inside the transaction sqlite-utils opens for it."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def ensure_db_shape(db: Database) -> None:
    """Create or migrate every table, index and view; safe to call any number of times."""
    if MIGRATIONS.pending(db):
        MIGRATIONS.apply(db)


def newer_migrations(db: Database) -> list[str]:
    """Migrations the corpus records that this topicwatch does not know: a newer topicwatch
    wrote it, and this one would misread or damage what it changed."""
    known = {m.name for m in MIGRATIONS.pending(Database(memory=True))}
    return [m.name for m in MIGRATIONS.applied(db) if m.name not in known]


# `source_health`: per source, the last success, the last error and its reason, consecutive
# failures, new articles in the last run; `flagged` and why.  Numeric columns are CAST so that
# they have a type affinity: Datasette filters such as `?flagged=1` pass text parameters,
# which an affinity-less view column would never equal.
_NOT_ERRORS_SQL = ", ".join(f"'{r}'" for r in NOT_ERRORS)

SOURCE_HEALTH_SQL = f"""CREATE VIEW source_health AS
WITH names AS (
  SELECT source FROM source_settings UNION SELECT source FROM source_runs
),
base AS (
  SELECT n.source,
    COALESCE(ss.enabled, 1) AS enabled,
    COALESCE(ss.quiet_days, {DEFAULT_QUIET_DAYS}) AS quiet_days,
    COALESCE(ss.failure_threshold, {DEFAULT_FAILURE_THRESHOLD}) AS failure_threshold,
    (SELECT count(*) FROM source_runs r WHERE r.source = n.source) AS runs,
    (SELECT min(r.at) FROM source_runs r WHERE r.source = n.source) AS first_run,
    (SELECT max(r.at) FROM source_runs r WHERE r.source = n.source AND r.ok = 1) AS last_success,
    (SELECT max(r.run_id) FROM source_runs r WHERE r.source = n.source AND r.ok = 1) AS last_ok_run,
    (SELECT max(r.run_id) FROM source_runs r WHERE r.source = n.source AND r.ok = 0) AS last_failed_run,
    (SELECT r.new FROM source_runs r WHERE r.source = n.source ORDER BY r.run_id DESC LIMIT 1) AS new_last_run,
    (SELECT max(a.first_seen) FROM articles a WHERE a.source = n.source) AS last_new_article
  FROM names n LEFT JOIN source_settings ss ON ss.source = n.source
),
derived AS (
  SELECT b.*,
    (SELECT count(*) FROM source_runs r WHERE r.source = b.source AND r.ok = 0
       AND r.run_id > COALESCE(b.last_ok_run, 0)) AS consecutive_failures,
    (SELECT r.at FROM source_runs r WHERE r.source = b.source AND r.run_id = b.last_failed_run) AS last_error,
    COALESCE(
      (SELECT k.reason || COALESCE(': ' || k.detail, '') FROM skipped k
         WHERE k.run_id = b.last_failed_run AND k.source = b.source
         ORDER BY k.reason IN ({_NOT_ERRORS_SQL}), k.id DESC LIMIT 1),
      (SELECT u.error FROM runs u WHERE u.id = b.last_failed_run)) AS last_error_reason,
    julianday('now') - julianday(COALESCE(b.last_new_article, b.first_run)) AS quiet_for_days
  FROM base b
),
flags AS (
  SELECT d.*,
    d.enabled AND d.consecutive_failures >= d.failure_threshold AS failing,
    d.enabled AND d.quiet_days > 0 AND d.quiet_for_days > d.quiet_days AS quiet
  FROM derived d
)
SELECT source, CAST(enabled AS INTEGER) AS enabled, CAST(runs AS INTEGER) AS runs,
  last_success, last_error, last_error_reason,
  CAST(consecutive_failures AS INTEGER) AS consecutive_failures,
  CAST(new_last_run AS INTEGER) AS new_last_run, last_new_article,
  CAST(round(quiet_for_days, 2) AS REAL) AS quiet_for_days,
  CAST(quiet_days AS REAL) AS quiet_days, CAST(failure_threshold AS INTEGER) AS failure_threshold,
  CAST(failing OR quiet AS INTEGER) AS flagged,
  NULLIF(
    CASE WHEN failing THEN 'failed ' || consecutive_failures || ' runs in a row' ELSE '' END
    || CASE WHEN failing AND quiet THEN '; ' ELSE '' END
    || CASE WHEN quiet THEN 'nothing new for ' || printf('%.1f', quiet_for_days) || ' days' ELSE '' END,
    '') AS flag_reason
FROM flags
ORDER BY flagged DESC, source
"""