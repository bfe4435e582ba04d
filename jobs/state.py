"""What `topicwatch status` reports, as plain data (its --json output): schedules with their
last and next runs, the latest runs, corpus totals and flagged sources."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from crawler.config import Settings
from crawler.store import corpus, health, runs, schedules


def status_report(db: Database, settings: Settings, daemon_pid: int | None = None,
                  latest: int = 10) -> dict[str, Any]:
    states = schedules.schedule_states(db)
    listed = []
    for s in settings.schedules:
        st = states.get(s.name, {})
        listed.append({
            "name": s.name,
            "when": f"cron {s.cron}" if s.cron else f"every {s.interval_minutes:g} min",
            "sources": list(s.sources) or ["(all enabled)"],
            **{k: st.get(k) for k in schedules.STATE_COLUMNS},
        })
    return {
        "corpus": str(settings.corpus_path),
        "daemon": {"running": daemon_pid is not None, "pid": daemon_pid},
        "schedules": listed,
        "runs": runs.latest_runs(db, latest),
        "totals": corpus.counts(db),
        "flagged": health.source_health(db, flagged_only=True),
    }
