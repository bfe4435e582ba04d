"""Commands of the daemon side, plugged into `topicwatch` through the `topicwatch.commands`
entry-point group (see crawler/cli.py): `topicwatch daemon` and `topicwatch status`."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any

import click
from rich.table import Table

from crawler.cli import existing_corpus, settings_option
from crawler.config import load_settings
from crawler.console import out
from crawler.store import health
from jobs.lock import lock_holder
from jobs.state import status_report


@click.command(short_help="schedules, latest runs, corpus totals and flagged sources")
@settings_option
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of tables")
def status(settings_path: str, as_json: bool) -> None:
    """Show the daemon's schedules with their last and next runs, the latest runs with their
    counts, corpus totals and the sources flagged as failing or quiet."""
    settings = load_settings(settings_path)
    db = existing_corpus(settings)  # read-only: status works on a corpus it cannot write
    _refresh_thresholds(settings)
    report = status_report(db, settings, lock_holder(settings.corpus_path))
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_status(report)


@click.command(short_help="crawl on the [[schedules]] of settings.toml until stopped")
@settings_option
def daemon(settings_path: str) -> int:
    """Run the [[schedules]] of settings.toml: each crawl in a child process, then ingest. One
    daemon per corpus (exit 3 when another holds <corpus>.lock). SIGTERM or Ctrl-C stops it
    cleanly after ingesting what the crawl in flight found."""
    from jobs.daemon import run_daemon

    return run_daemon(load_settings(settings_path))


def _refresh_thresholds(settings: Any) -> None:
    """Copy the sources' health thresholds from settings.toml when the corpus can be written
    (the flags then follow edited thresholds at once); a read-only corpus keeps the last ones."""
    from crawler.store.db import open_db, writable

    if writable(settings.corpus_path):
        with contextlib.closing(open_db(settings.corpus_path)) as db:
            health.refresh_source_settings(db, settings)


def _print_status(report: dict[str, Any]) -> None:
    d = report["daemon"]
    out.print(f"corpus {report['corpus']} (times in UTC); daemon "
              + (f"running (pid {d['pid']})" if d["running"] else "not running"))
    if report["schedules"]:
        t = Table("schedule", "when", "sources", "last run", "status", "run", "next run", title="schedules")
        for s in report["schedules"]:
            names = s["sources"]
            shown = ", ".join(names) if len(names) < 3 else f"{len(names)} sources"
            t.add_row(s["name"], s["when"], shown, _when(s["last_run"]), s["last_status"] or "",
                      str(s["last_run_id"] or ""), _when(s["next_run"]))
        out.print(t)
    else:
        out.print("schedules: none in the settings ([[schedules]] is what the daemon runs)")
    t = Table("run", "started", "trigger", "status", "fetched", "304", "new", "dup", "errors",
              "error", title="latest runs")
    for r in report["runs"]:
        trigger = (r["trigger"] or "").removeprefix("schedule:")
        counts = (str(r[k] or 0) for k in ("fetched", "not_modified", "new", "duplicates", "errors"))
        t.add_row(str(r["id"]), _when(r["started"], relative=False), trigger, r["status"], *counts,
                  _last_line(r["error"]))
    out.print(t)
    c = report["totals"]
    out.print(f"corpus: {c['articles']} articles, {c['copies']} copies, {c['stories']} stories, "
              f"{c['skipped']} skipped pages, {c['spool']} waiting in the spool, "
              f"{c['unmatched']} off-topic pages kept for topics to come")
    _print_flagged(report["flagged"])
    _print_notify(report["notify"])


def _print_flagged(flagged: list[dict[str, Any]]) -> None:
    """One line per flagged source, the reason first (tables wrap it on narrow terminals)."""
    if not flagged:
        out.print("no flagged sources")
        return
    out.print(f"flagged sources ({len(flagged)}):")
    for f in flagged:
        details = [f"last success {_when(f['last_success']) or 'never'}"]
        if f["last_error_reason"]:
            details.append(f"last error: {_last_line(f['last_error_reason'], 80)}")
        out.print(f"  {f['source']}: {f['flag_reason']}; " + "; ".join(details), markup=False)


def _print_notify(targets: list[dict[str, Any]]) -> None:
    """The notify targets, then a line per target that has a URL failing or a send in doubt."""
    if not targets:
        return
    t = Table("target", "when", "delivered", "waiting", "failing", "last delivery", "next digest",
              title="notifications")
    for n in targets:
        waiting = n["pending"] + n["waiting_for_digest"]
        t.add_row(n["name"], n["when"], str(n["sent"]), str(waiting), str(n["failing"]),
                  _when(n["last_sent"]), _when(n["next_digest"]))
    out.print(t)
    for n in targets:
        if n["last_failure"]:
            f = n["last_failure"]
            out.print(f"  {n['name']}: {n['failing']} delivery(ies) failing, retried at the next "
                      f"pass; last: URL {f['url']} {_when(f['at'])}: {_last_line(f['error'], 120)}",
                      markup=False)
        if n["in_doubt"]:
            out.print(f"  {n['name']}: {n['in_doubt']} send(s) cut short by a stopped process: "
                      "sent again with the same id at the next pass", markup=False)


def _when(iso: str | None, relative: bool = True) -> str:
    """'10-15 12:00 (3h ago)' from an ISO 8601 time, in UTC."""
    if not iso:
        return ""
    t = dt.datetime.fromisoformat(iso).astimezone(dt.UTC)
    if not relative:
        return f"{t:%m-%d %H:%M}"
    secs = (dt.datetime.now(dt.UTC) - t).total_seconds()
    ago = abs(secs)
    amount = (f"{ago:.0f}s" if ago < 120 else f"{ago / 60:.0f}m" if ago < 7200
              else f"{ago / 3600:.0f}h" if ago < 172800 else f"{ago / 86400:.0f}d")
    return f"{t:%m-%d %H:%M} ({amount} ago)" if secs >= 0 else f"{t:%m-%d %H:%M} (in {amount})"


def _last_line(text: str | None, width: int = 50) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1][:width] if lines else ""
