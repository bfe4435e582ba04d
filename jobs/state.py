"""What `topicwatch status` reports, as plain data (its --json output): schedules with their
last and next runs, the latest runs, corpus totals, flagged sources and the notify targets
(delivered, waiting, failing with the last error, the next digest)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlite_utils import Database

from crawler.config import Settings
from crawler.notify.queue import next_digest
from crawler.store import corpus, health, notifications, runs, schedules


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
        "notify": notify_status(db, settings),
    }


def notify_status(db: Database, settings: Settings) -> list[dict[str, Any]]:
    """Per notify target: messages delivered and waiting, deliveries failing (the last error)
    or cut short by a killed process (in doubt), the last delivery and the next digest."""
    listed = []
    for t in settings.notify:
        st = notifications.target_status(db, t.name)
        following = None
        if t.mode == "digest" and st["last_digest"]:
            fire = next_digest(t, dt.datetime.fromisoformat(st["last_digest"]))
            following = fire.astimezone(dt.UTC).isoformat(timespec="seconds") if fire else None
        when = "after each run" if t.mode != "digest" else (
            f"digest, cron {t.cron}" if t.cron else f"digest, every {t.interval_minutes:g} min")
        listed.append({**st, "mode": t.mode, "when": when, "urls": len(t.urls), "next_digest": following})
    return listed
