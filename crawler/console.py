"""What the commands print: the two consoles, live crawl progress and the run summary."""

from __future__ import annotations

import sys
import time
from typing import Any

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
