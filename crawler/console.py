"""What the commands print: the two consoles, live crawl progress and the run summary.

On a terminal rich wraps to its width; into a pipe or a file nothing is wrapped (rich would
otherwise cut lines at 80 columns, or at the width of the terminal that stdin happens to be),
so a log or `grep` sees each message on one line.  What comes from settings.toml, the corpus or
the web is printed as plain text, never read as rich markup (`[corpus]` is a section name).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click
from rich.console import Console as RichConsole
from rich.console import ConsoleDimensions
from rich.table import Table
from rich.text import Text

PIPE_WIDTH = 100_000  # "unwrapped": wider than any line topicwatch prints


class Console(RichConsole):
    """rich's Console, unwrapped when its output is not a terminal."""

    @property
    def size(self) -> ConsoleDimensions:
        if not self.is_terminal:
            return ConsoleDimensions(PIPE_WIDTH, 25)
        return RichConsole.size.fget(self)  # type: ignore[attr-defined]

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        RichConsole.size.fset(self, new_size)  # type: ignore[attr-defined]


err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def plain(*cells: Any) -> list[Text]:
    """Table cells as plain text: brackets in names, terms and URLs are not rich markup."""
    return [c if isinstance(c, Text) else Text("" if c is None else str(c)) for c in cells]


class Progress:
    """fetched / extracted / matched / new, live on a terminal, a line every 10 s otherwise."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.last = time.monotonic()  # not a terminal: the first line after 10 s, not zeros now
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


def print_summary(run: dict[str, Any], sources: list[dict[str, Any]], totals: dict[str, int],
                  signal_name: str | None = None) -> None:
    """The table of one run per source, its counters and the corpus totals."""
    status = run["status"] + (f" ({signal_name})" if signal_name else "")
    failed = sum(1 for row in sources if row["ok"] == 0)  # as runs.failed_sources counts
    if failed and run["status"] == "ok":  # the run itself finished; some of its sources did not
        status += f", {failed} of {len(sources)} source(s) failed"
    table = Table("source", "fetched", "not modified", "new", "errors", "ok",
                  title=Text(f"run {run['id']}: {status}"))
    for row in sources:
        table.add_row(*plain(row["source"], row["fetched"], row["not_modified"], row["new"],
                             row["errors"], "yes" if row["ok"] else "NO"))
    out.print(table)
    out.print(
        f"fetched {run['fetched']}, extracted {run['extracted']}, matched {run['matched']}, "
        f"new {run['new']}, duplicates {run['duplicates']}, skipped {run['skipped']}, "
        f"errors {run['errors']}, not modified {run['not_modified']}"
    )
    out.print(f"corpus: {totals['articles']} articles, {totals['copies']} copies, "
              f"{totals['stories']} stories")


def print_rematch(stats: Any, ingested: Any, dropped: int, kept: int) -> None:
    """What `topicwatch rematch` did."""
    if not stats.tested:
        out.print(f"nothing to match again: every stored article and kept page was matched with "
                  f"these topics as they are now ({kept} kept page(s))")
    else:
        out.print(f"matched again with {', '.join(stats.topics)}:", markup=False)
        out.print(f"  {stats.articles} stored article(s): {stats.gained} gained a topic, "
                  f"{stats.lost} lost one")
        out.print(f"  {stats.pages} kept page(s): {stats.spooled} match now")
    out.print(f"ingested: {ingested.new} new, {ingested.duplicates} duplicates; {kept} page(s) kept"
              + (f", {dropped} dropped (older than keep_unmatched_days)" if dropped else ""))


def nothing_fetched_message(failed: list[dict[str, Any]], n_sources: int) -> str:
    """Every source failed: for DNS everywhere, that the machine looks offline, in one line."""
    if failed and all(f["reason"] == "dns" for f in failed):
        return (f"every source failed to resolve its host name (DNS, {len(failed)} source(s)): "
                "this machine looks offline")
    return "nothing could be fetched: " + failed_message(failed, n_sources)


def failed_message(failed: list[dict[str, Any]], n_sources: int) -> str:
    """'2 of 5 source(s) failed:' and one indented line per failed source with its error."""
    lines = [f"{len(failed)} of {n_sources} source(s) failed:"]
    for f in failed:
        reason, detail, url = f["reason"] or "failed", f["detail"], f["url"]
        what = f"{url}: {detail}" if detail and url and url not in detail else detail or url or ""
        lines.append(f"  {f['source']}: {reason}" + (f" ({what})" if what else ""))
    return "\n".join(lines)


def print_checks(checked: list[Any]) -> None:
    """`sources --check`: a row per URL checked."""
    table = Table("source", "url", "answered", "entries", "newest", "what to change")
    for c in checked:
        name = c.source.name + ("" if c.source.enabled else " (disabled)")
        entries = "" if c.entries is None else str(c.entries)
        table.add_row(*plain(name, c.url, c.answered, entries, c.newest or "",
                             "; ".join(c.advice + c.notes) or "nothing"))
    out.print(table)


GROUP_SHOWN = 6  # terms of a group shown by `topicwatch topics`; the rest are counted


def print_topics(topics: Any, title: str) -> None:
    """`topicwatch topics`: a row per topic, each term group on one line."""
    table = Table("name", "min score", "term groups", "require", "exclude", title=title)
    for t in topics:
        groups = "all articles (keep_all)" if t.keep_all else "\n".join(_group(g) for g in t.terms)
        require = "\n".join(_group(g) for g in t.require)
        if t.require_score:
            require += f"\n(score at least {t.require_score:g})"
        table.add_row(*plain(t.name, f"{t.min_score:g}", groups, require, ", ".join(t.exclude)))
    out.print(table)


def _group(group: tuple[str, ...]) -> str:
    """A term group on one line: its first terms, and how many more there are."""
    shown = " / ".join(group[:GROUP_SHOWN])
    return shown + (f" … (+{len(group) - GROUP_SHOWN} more)" if len(group) > GROUP_SHOWN else "")


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
