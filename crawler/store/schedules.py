"""The daemon's memory across restarts: last and next run of each schedule (`schedules_state`).

Kept in the corpus (not in jobs/) because only crawler/store may hold SQL; jobs/ reads and
writes it through these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlite_utils import Database

from crawler.records import RunStatus

STATE_COLUMNS = ("last_run", "next_run", "last_status", "last_run_id", "last_error")


def schedule_states(db: Database) -> dict[str, dict[str, Any]]:
    """The persisted state of every schedule the daemon has seen, by name."""
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


def settle_schedule_states(db: Database, keep: Sequence[str]) -> None:
    """At daemon start: forget schedules no longer configured, and give a schedule left
    'running' by a killed daemon the final status of its run."""
    marks = ", ".join("?" * len(keep))
    db.execute(f"DELETE FROM schedules_state WHERE name NOT IN ({marks})", list(keep))
    db.execute(
        """UPDATE schedules_state SET last_status = COALESCE(
             (SELECT r.status FROM runs r WHERE r.id = schedules_state.last_run_id), ?)
           WHERE last_status = ?""", [RunStatus.INTERRUPTED, RunStatus.RUNNING],
    )
