"""What the commands print: the two consoles, live crawl progress and the run summary."""

from __future__ import annotations

import sys
import time
from typing import Any

import click
from rich.console import Console
from rich.table import Table

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


class Progress:
    """fetched / extracted / matched / new, live on a terminal, a line every 10 s otherwise."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.last = 0.0
        self.live: Any = None
        self.text = ""
        if enabled and sys.stderr.isatty():
            from rich.live import Live

            self.live = Live("", console=err, refresh_per_second=4, transient=True)
            self.live.start()

    def _show(self, text: str) -> None:
        self.text = text
        if self.live:
            self.live.update(text)
        elif self.enabled and time.monotonic() - self.last > 10:
            self.last = time.monotonic()
            err.print(text)

    def crawl(self, s: Any) -> None:
        self._show(f"fetched {s.fetched}  extracted {s.extracted}  matched {s.matched}  "
                   f"skipped {s.skipped}  errors {s.errors}  not modified {s.not_modified}")

    def ingest(self, s: Any) -> None:
        self._show(f"ingesting: new {s.new}  duplicates {s.duplicates}")

    def stop(self) -> None:
        if self.live:
            self.live.stop()


def print_summary(run: dict[str, Any], sources: list[dict[str, Any]], totals: dict[str, int]) -> None:
    """The table of one run per source, its counters and the corpus totals."""
    table = Table("source", "fetched", "not modified", "new", "errors", "ok",
                  title=f"run {run['id']}: {run['status']}")
    for row in sources:
        table.add_row(row["source"], str(row["fetched"]), str(row["not_modified"]), str(row["new"]),
                      str(row["errors"]), "yes" if row["ok"] else "NO")
    out.print(table)
    out.print(
        f"fetched {run['fetched']}, extracted {run['extracted']}, matched {run['matched']}, "
        f"new {run['new']}, duplicates {run['duplicates']}, skipped {run['skipped']}, "
        f"errors {run['errors']}, not modified {run['not_modified']}"
    )
    out.print(f"corpus: {totals['articles']} articles, {totals['copies']} copies, "
              f"{totals['stories']} stories")


def print_notify_reports(reports: list[Any], quiet: bool = True) -> None:
    """A line per notify target (with `quiet`, only those that sent or failed something)."""
    for r in reports:
        if quiet and not (r.sent or r.failed or r.waiting):
            continue
        line = f"notify {r.name}: {r.sent} message(s) delivered"
        if r.failed or r.waiting:
            line += f", {r.failed + r.waiting} not delivered (retried on the next run)"
        out.print(line, markup=False, emoji=False)
        for e in r.errors:
            err.print(f"  {e}", markup=False, emoji=False)


def print_dry_run(found: list[tuple[Any, list[dict[str, Any]], int]]) -> None:
    """Each message a notification pass would send now, with its URLs, title and text."""
    for target, deliveries, waiting in found:
        messages: dict[int, list[dict[str, Any]]] = {}
        for d in deliveries:
            messages.setdefault(d["message_id"], []).append(d)
        head = f"== {target.name} ({target.mode}): {len(messages)} message(s) to send"
        if target.mode == "digest":
            head += f"; {waiting} stor{'y' if waiting == 1 else 'ies'} wait for the next digest"
        click.echo(head + " ==")
        for rows in messages.values():
            first = rows[0]
            to = ", ".join(f"{r['url_label']}" + (f" ({r['state']})" if r["state"] != "pending" else "")
                           for r in rows)
            click.echo(f"-- to {to} [id {first['key']}]\nTitle: {first['title']}\n\n{first['body']}\n")


def print_test_results(name: str, results: list[tuple[str, Any]]) -> None:
    for label, outcome in results:
        state = "delivered" if outcome.ok else f"FAILED: {outcome.error}"
        out.print(f"notify {name} URL {label}: test message {state}", markup=False, emoji=False)
