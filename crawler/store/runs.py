"""Runs: the only writer of `runs` and `source_runs`.

A run is started (or, for a crawl the daemon started in a child process, adopted), gets its
counters and per-source results when its crawl closes, and ends with one status, decided by
`final_status` from what happened.  Ingest adds `new` / `duplicates` to it item by item, inside
each item's own transaction, so those counts are exact however the process dies.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

from crawler.records import NOT_ERRORS, RunStats, RunStatus
from crawler.store.db import now

RUN_COLUMNS = ("id", "started", "ended", "status", "trigger", "fetched", "extracted", "matched",
               "new", "duplicates", "skipped", "errors", "not_modified", "error")
_SOURCE_COUNTERS = ("fetched", "new", "errors", "not_modified")


def start_run(db: Database, trigger: str, sources: Iterable[str], pid: int | None = None) -> int:
    cur = db.execute(
        "INSERT INTO runs (started, status, trigger, sources, pid) VALUES (?, ?, ?, ?, ?)",
        [now(), RunStatus.RUNNING, trigger, json.dumps(list(sources), ensure_ascii=False), pid],
    )
    return int(cur.lastrowid)


def adopt_run(db: Database, run_id: int, pid: int) -> None:
    """A run started by the daemon is carried on by the crawl process `pid`."""
    db.execute("UPDATE runs SET pid = ? WHERE id = ?", [pid, run_id])


def add_run_counts(db: Database, run_id: int, counts: dict[str, int]) -> None:
    sets = ", ".join(f"{k} = {k} + :{k}" for k in counts)
    if sets:
        db.execute(f"UPDATE runs SET {sets} WHERE id = :id", {**counts, "id": run_id})


def add_new_article(db: Database, run_id: int, source: str) -> None:
    """Count a stored article for its run and source.  Ingest runs while the crawl goes on, so
    the source's row may not exist yet: it is started here, `ok` and `at` left for the crawl's
    end (`record_source_run`) to set."""
    add_run_counts(db, run_id, {"new": 1})
    db.execute("""INSERT INTO source_runs (run_id, source, new) VALUES (?, ?, 1)
                  ON CONFLICT (run_id, source) DO UPDATE SET new = new + 1""", [run_id, source])


def record_source_run(db: Database, run_id: int, source: str, counts: dict[str, int], ok: bool) -> None:
    db.execute(
        """INSERT INTO source_runs (run_id, source, fetched, new, errors, not_modified, ok, at)
           VALUES (:run_id, :source, :fetched, :new, :errors, :not_modified, :ok, :at)
           ON CONFLICT (run_id, source) DO UPDATE SET
             fetched = fetched + excluded.fetched, new = new + excluded.new,
             errors = errors + excluded.errors, not_modified = not_modified + excluded.not_modified,
             ok = excluded.ok, at = excluded.at""",
        {"run_id": run_id, "source": source, "ok": int(ok), "at": now(),
         **{k: counts.get(k, 0) for k in _SOURCE_COUNTERS}},
    )


def record_crawl(db: Database, run_id: int, stats: RunStats, sources: Iterable[str]) -> None:
    """A closed crawl's counters (ingest counts new and duplicates itself) and one
    `source_runs` row per source: ok when a feed, sitemap or listing of it went through
    (or nothing of it failed), and none of the URLs settings.toml gives it failed."""
    add_run_counts(db, run_id, {k: v for k, v in stats.as_row().items()
                                if k not in ("new", "duplicates")})
    for name in sources:
        c = stats.per_source.get(name, {})
        ok = (bool(c.get("source_ok")) or not c.get("source_errors")) and not c.get("configured_errors")
        record_source_run(db, run_id, name, c, ok=ok)


def record_failed_sources(db: Database, run_id: int, sources: Iterable[str]) -> None:
    """Sources of a crashed crawl that got no result: each counts as a failure."""
    done = {r[0] for r in db.execute(
        "SELECT source FROM source_runs WHERE run_id = ? AND ok IS NOT NULL", [run_id])}
    for name in sorted(set(sources) - done):
        record_source_run(db, run_id, name, {}, ok=False)


def final_status(close_reason: str | None, stats: RunStats, sources: Iterable[str] = ()) -> RunStatus:
    """A crawl's status from how it closed (Scrapy's close reason) and what it counted:
    nothing fetched when no page answered and every source failed (or something else did)."""
    if close_reason != "finished":
        return RunStatus.INTERRUPTED
    if stats.fetched == 0 and stats.not_modified == 0:
        names = list(sources)
        every_source_failed = bool(names) and all(
            stats.per_source.get(n, {}).get("source_errors") and
            not stats.per_source.get(n, {}).get("source_ok") for n in names)
        if stats.errors > 0 or every_source_failed:
            return RunStatus.NOTHING_FETCHED
    return RunStatus.OK


def failed_sources(db: Database, run_id: int) -> list[dict[str, Any]]:
    """The sources of a run that failed, each with the first error recorded for it in that run
    (`reason`, `detail`, `url`), an error of its own documents before one of an article: the
    lines a crawl prints, the daemon logs and exit 4 / 5 mean."""
    return list(db.query(
        """SELECT r.source,
             (SELECT k.reason FROM skipped k WHERE k.run_id = r.run_id AND k.source = r.source
                ORDER BY k.reason IN ({ne}), {article}, k.id LIMIT 1) AS reason,
             (SELECT k.detail FROM skipped k WHERE k.run_id = r.run_id AND k.source = r.source
                ORDER BY k.reason IN ({ne}), {article}, k.id LIMIT 1) AS detail,
             (SELECT k.url FROM skipped k WHERE k.run_id = r.run_id AND k.source = r.source
                ORDER BY k.reason IN ({ne}), {article}, k.id LIMIT 1) AS url
           FROM source_runs r WHERE r.run_id = ? AND r.ok = 0 ORDER BY r.source""".format(
            ne=", ".join(f"'{r}'" for r in NOT_ERRORS if r != "robots-disallowed"),
            article="EXISTS (SELECT 1 FROM pages p WHERE p.url = k.url AND p.kind = 'article')"),
        [run_id]))


def source_count(db: Database, run_id: int) -> int:
    return db.execute("SELECT count(*) FROM source_runs WHERE run_id = ?", [run_id]).fetchone()[0]


def finish_run(db: Database, run_id: int, status: RunStatus | str, error: str | None = None) -> None:
    db.execute(
        "UPDATE runs SET ended = ?, status = ?, error = COALESCE(?, error) WHERE id = ?",
        [now(), status, error, run_id],
    )


def mark_interrupted_runs(db: Database) -> int:
    """Runs still 'running' whose process is gone were killed: say so."""
    stale = [row["id"] for row in db.query("SELECT id, pid FROM runs WHERE status = ?", [RunStatus.RUNNING])
             if not (row["pid"] and row["pid"] != os.getpid() and _pid_alive(row["pid"]))]
    for run_id in stale:
        finish_run(db, run_id, RunStatus.INTERRUPTED, "the process stopped before the run ended")
    return len(stale)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def get_run(db: Database, run_id: int) -> dict[str, Any]:
    return next(db.query("SELECT * FROM runs WHERE id = ?", [run_id]))


def source_results(db: Database, run_id: int) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM source_runs WHERE run_id = ? ORDER BY source", [run_id]))


def latest_runs(db: Database, limit: int = 10) -> list[dict[str, Any]]:
    cols = ", ".join(RUN_COLUMNS)
    return list(db.query(f"SELECT {cols} FROM runs ORDER BY id DESC LIMIT ?", [limit]))


def spooled_in_run(db: Database, run_id: int) -> int:
    return db.execute("SELECT count(*) FROM spool WHERE run_id = ?", [run_id]).fetchone()[0]
