"""Source health: the thresholds the `source_health` view reads (`source_settings`) and the
flagged sources `topicwatch status` shows.

The view itself is part of the schema (crawler/store/schema.py).  Its thresholds are settings
(`quiet_days` per source, `[daemon] failure_threshold`), which a view cannot read from
settings.toml: `refresh_source_settings` copies them into `source_settings` whenever a crawl
or the daemon starts.  A corpus never refreshed still works, with the defaults declared in
crawler/config.py.
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from crawler.config import Settings
from crawler.store.db import now


def refresh_source_settings(db: Database, settings: Settings) -> None:
    """Copy each source's thresholds into `source_settings`; sources no longer configured
    (or disabled) stay with enabled = 0, so old history is shown but never flagged."""
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


def source_health(db: Database, flagged_only: bool = False) -> list[dict[str, Any]]:
    where = " WHERE flagged" if flagged_only else ""
    return list(db.query(f"SELECT * FROM source_health{where}"))
