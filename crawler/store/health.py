"""Source health and daemon state: what `topicwatch status` and Datasette show.

`source_health` is a SQL view, so Datasette can browse and facet it like any table.  Its
thresholds are settings (`quiet_days` per source, `[daemon] failure_threshold`), which a view
cannot read from settings.toml: `refresh_source_settings` copies them into a small
`source_settings` table whenever a command starts with settings in hand.  A corpus never
refreshed still works, with the defaults declared in crawler/config.py.  Numeric columns are
CAST so that they have a type affinity: Datasette filters such as `?flagged=1` pass text
parameters, which an affinity-less view column would never equal.

`schedules_state` keeps the daemon's last and next run per schedule across restarts.  Both
tables live here (not in jobs/) because crawler/store.py creates them and crawler must never
import jobs.
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from crawler.config import DaemonSettings, Settings, Source

DEFAULT_QUIET_DAYS = Source.__dataclass_fields__["quiet_days"].default
DEFAULT_FAILURE_THRESHOLD = DaemonSettings.__dataclass_fields__["failure_threshold"].default

# Reasons of `skipped` rows that describe an article turned away, not a source failing.
NOT_ERRORS = ("off-topic", "not-article", "too-old", "not-html", "dropped", "robots-disallowed")

STATE_COLUMNS = ("last_run", "next_run", "last_status", "last_run_id", "last_error")


def ensure_daemon_tables(db: Database) -> None:
    """Create the daemon's `schedules_state` table; idempotent."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS schedules_state (
             name TEXT PRIMARY KEY, last_run TEXT, next_run TEXT, last_status TEXT,
             last_run_id INTEGER, last_error TEXT)"""
    )


def ensure_health_views(db: Database, settings: Settings | None = None) -> None:
    """Create `source_settings` and (re)create the `source_health` view; idempotent.

    With `settings`, the thresholds are refreshed too."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS source_settings (
             source TEXT PRIMARY KEY, enabled INTEGER NOT NULL DEFAULT 1,
             quiet_days REAL, failure_threshold INTEGER, updated TEXT)"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_source_runs_source ON source_runs(source, run_id)")
    current = db.execute("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = 'source_health'").fetchone()
    if current is None or current[0] != SOURCE_HEALTH_SQL.strip():
        # only when changed: a schema change makes readers such as Datasette re-prepare
        with db.atomic():
            db.execute("DROP VIEW IF EXISTS source_health")
            db.execute(SOURCE_HEALTH_SQL.strip())
    if settings is not None:
        refresh_source_settings(db, settings)


def refresh_source_settings(db: Database, settings: Settings) -> None:
    """Copy each source's thresholds into `source_settings`; sources no longer configured
    (or disabled) stay with enabled = 0, so old history is shown but never flagged."""
    from crawler.store import now  # store calls this module from ensure_db_shape

    threshold = settings.daemon.failure_threshold
    with db.atomic():
        db.execute("UPDATE source_settings SET enabled = 0, updated = ?", [now()])
        db.execute(
            "INSERT OR IGNORE INTO source_settings (source, enabled, updated) "
            "SELECT DISTINCT source, 0, ? FROM source_runs", [now()],
        )
        for s in settings.sources:
            db.execute(
                """INSERT INTO source_settings (source, enabled, quiet_days, failure_threshold, updated)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (source) DO UPDATE SET enabled = excluded.enabled,
                     quiet_days = excluded.quiet_days, failure_threshold = excluded.failure_threshold,
                     updated = excluded.updated""",
                [s.name, int(s.enabled), s.quiet_days, threshold, now()],
            )


_NOT_ERRORS_SQL = ", ".join(f"'{r}'" for r in NOT_ERRORS)

SOURCE_HEALTH_SQL = f"""
CREATE VIEW source_health AS
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


# ---------------------------------------------------------------- schedules_state

def schedule_states(db: Database) -> dict[str, dict[str, Any]]:
    """The persisted state of every schedule the daemon has seen, by name."""
    ensure_daemon_tables(db)
    return {r["name"]: r for r in db.query("SELECT * FROM schedules_state")}


def record_schedule_state(db: Database, name: str, **fields: Any) -> None:
    """Upsert some of a schedule's state columns (see STATE_COLUMNS)."""
    unknown = set(fields) - set(STATE_COLUMNS)
    if unknown:
        raise ValueError(f"unknown schedules_state column(s): {sorted(unknown)}")
    cols = ", ".join(["name", *fields])
    marks = ", ".join(f":{k}" for k in ["name", *fields])
    updates = ", ".join(f"{k} = excluded.{k}" for k in fields) or "name = name"
    db.execute(
        f"INSERT INTO schedules_state ({cols}) VALUES ({marks}) ON CONFLICT (name) DO UPDATE SET {updates}",
        {"name": name, **fields},
    )


# ---------------------------------------------------------------- status queries

RUN_COLUMNS = ("id", "started", "ended", "status", "trigger", "fetched", "extracted", "matched",
               "new", "duplicates", "skipped", "errors", "not_modified", "error")


def source_health(db: Database, flagged_only: bool = False) -> list[dict[str, Any]]:
    where = " WHERE flagged" if flagged_only else ""
    return list(db.query(f"SELECT * FROM source_health{where}"))


def latest_runs(db: Database, limit: int = 10) -> list[dict[str, Any]]:
    cols = ", ".join(RUN_COLUMNS)
    return list(db.query(f"SELECT {cols} FROM runs ORDER BY id DESC LIMIT ?", [limit]))


def status_report(db: Database, settings: Settings, daemon_pid: int | None = None,
                  runs: int = 10) -> dict[str, Any]:
    """Everything `topicwatch status` shows, as plain data (its --json output)."""
    from crawler import store

    states = schedule_states(db)
    schedules = []
    for s in settings.schedules:
        st = states.get(s.name, {})
        schedules.append({
            "name": s.name,
            "when": f"cron {s.cron}" if s.cron else f"every {s.interval_minutes:g} min",
            "sources": list(s.sources) or ["(all enabled)"],
            **{k: st.get(k) for k in STATE_COLUMNS},
        })
    return {
        "corpus": str(settings.corpus_path),
        "daemon": {"running": daemon_pid is not None, "pid": daemon_pid},
        "schedules": schedules,
        "runs": latest_runs(db, runs),
        "totals": store.counts(db),
        "flagged": source_health(db, flagged_only=True),
    }


def settle_schedule_states(db: Database, keep: list[str] | tuple[str, ...]) -> None:
    """At daemon start: forget schedules no longer configured, and give a schedule left
    'running' by a killed daemon the final status of its run."""
    ensure_daemon_tables(db)
    marks = ", ".join("?" * len(keep))
    db.execute(f"DELETE FROM schedules_state WHERE name NOT IN ({marks})", list(keep))
    db.execute(
        """UPDATE schedules_state SET last_status = COALESCE(
             (SELECT r.status FROM runs r WHERE r.id = schedules_state.last_run_id), 'interrupted')
           WHERE last_status = 'running'"""
    )
