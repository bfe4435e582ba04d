"""`topicwatch`: the command line (click), and the place where the stages are put together.

Errors become one clean line on stderr and an exit code (crawler/errors.py): 1 other errors,
2 invalid settings, 3 corpus locked by another daemon, 4 nothing could be fetched.  Commands
from other packages plug in through the `topicwatch.commands` entry-point group: jobs/ adds
`daemon` and `status` that way, so the crawler never imports the daemon that depends on it.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from crawler.config import describe_settings, load_settings
from crawler.console import Progress, err, out, print_notify_reports, print_summary
from crawler.errors import ConfigError, NothingFetched, TopicwatchError

DEFAULT_SETTINGS = "settings.toml"
PLUGIN_GROUP = "topicwatch.commands"


class CommandError(click.ClickException):
    """A TopicwatchError as click shows it: `error: <message>` and the error's exit code."""

    def __init__(self, error: TopicwatchError):
        super().__init__(str(error))
        self.exit_code = error.exit_code

    def show(self, file: Any = None) -> None:
        err.print(f"error: {self.message}", markup=False)


class TopicwatchGroup(click.Group):
    """The command group: built-in commands plus those registered under PLUGIN_GROUP, and
    TopicwatchError turned into CommandError wherever a command raises it."""

    def _plugins(self) -> dict[str, metadata.EntryPoint]:
        return {ep.name: ep for ep in metadata.entry_points(group=PLUGIN_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in (plugins := self._plugins()):
            command = plugins[name].load()
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TopicwatchError as e:
            raise CommandError(e) from e


def settings_option(f: Any) -> Any:
    return click.option("--settings", "settings_path", default=DEFAULT_SETTINGS, metavar="PATH",
                        help=f"the settings file (default: {DEFAULT_SETTINGS})")(f)


@click.group(cls=TopicwatchGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                    "max_content_width": 100})
@click.version_option(package_name="topicwatch", prog_name="topicwatch",
                      message="%(prog)s %(version)s")
def cli() -> None:
    """Watch news sites, feeds, sitemaps and news searches for new coverage of your topics;
    keep each article once in a SQLite corpus."""


# ---------------------------------------------------------------- crawling

@cli.command(short_help="crawl the sources once and add new articles to the corpus")
@settings_option
@click.option("--source", "sources", multiple=True, metavar="NAME", help="crawl only this source (repeatable)")
@click.option("--topic", "topics", multiple=True, metavar="NAME", help="match only this topic (repeatable)")
@click.option("--no-ingest", is_flag=True, help="leave what was found in the spool (the daemon ingests it)")
@click.option("--run-id", type=int, hidden=True, help="record into this run (the daemon's)")
@click.option("--trigger", default="crawl", hidden=True, help="what started the run")
@click.option("-v", "--verbose", is_flag=True, help="show Scrapy's log")
def crawl(settings_path: str, sources: tuple[str, ...], topics: tuple[str, ...], no_ingest: bool,
          run_id: int | None, trigger: str, verbose: bool) -> None:
    """Crawl the enabled sources (or those named) once, then ingest what was found:
    deduplicate and append new articles."""
    settings = load_settings(settings_path)
    selected = settings.select_sources(sources)
    if not selected:
        raise ConfigError(settings.path, "[[sources]]", "no enabled source to crawl")
    settings.select_topics(topics)
    if not no_ingest:  # the daemon (or `topicwatch ingest`) ingests and notifies
        _register_notify(settings)
    from crawler.fetch.crawl import run_crawl

    progress = Progress(enabled=not no_ingest or sys.stderr.isatty())
    err.print(f"crawling {len(selected)} source(s) into {settings.corpus_path}")
    nothing: NothingFetched | None = None
    try:
        result = run_crawl(settings, sources, topics, run_id=run_id, trigger=trigger,
                           ingest=not no_ingest, log_level="INFO" if verbose else "WARNING",
                           on_progress=progress.crawl, on_ingest=progress.ingest)
    except NothingFetched as e:
        nothing = e
    finally:
        progress.stop()
    if nothing is None:
        _summary(settings.corpus_path, result.run_id)
    if not no_ingest:
        _notify(settings)  # a crawl that fetched nothing too: failures = true alerts
    if nothing is not None:
        raise nothing


def _register_notify(settings: Any) -> None:
    """Check the notify URLs before a long crawl, and register new targets: what this crawl
    stores is news to them."""
    if not settings.notify:
        return
    from crawler.notify.queue import check, register
    from crawler.store.db import open_db

    check(settings)
    db = open_db(settings.corpus_path)
    register(db, settings)
    db.close()


def _notify(settings: Any) -> None:
    """One notification pass after ingest (failures are recorded and retried next time)."""
    if not settings.notify:
        return
    from crawler.notify.deliver import deliver
    from crawler.store.db import open_db

    print_notify_reports(deliver(open_db(settings.corpus_path), settings))


def _summary(corpus: Path, run_id: int) -> None:
    from crawler.store import corpus as corpus_table
    from crawler.store import runs
    from crawler.store.db import open_db

    db = open_db(corpus)
    print_summary(runs.get_run(db, run_id), runs.source_results(db, run_id), corpus_table.counts(db))


@cli.command(short_help="deduplicate and append what is waiting in the spool")
@settings_option
def ingest(settings_path: str) -> None:
    """Drain the spool into the corpus (crawl and the daemon do this themselves; use it after
    a crawl with --no-ingest)."""
    settings = load_settings(settings_path)
    from crawler.store.db import open_db
    from crawler.store.ingest import Ingester

    _register_notify(settings)
    stats = Ingester(open_db(settings.corpus_path), settings.dedup).ingest()
    out.print(f"ingested: {stats.new} new, {stats.duplicates} duplicates")
    _notify(settings)


@cli.command(short_help="send the [[notify]] targets what is new; --test, --dry-run")
@settings_option
@click.option("--test", "test_name", metavar="NAME",
              help="send a test message to every URL of the notify target NAME, and nothing else")
@click.option("--dry-run", is_flag=True, help="print what would be sent now; send and record nothing")
def notify(settings_path: str, test_name: str | None, dry_run: bool) -> None:
    """Send each [[notify]] target the stories stored since it was last told, the digests
    that are due and the alerts, and retry what failed before (crawl, ingest and the daemon
    do this themselves). Exit 1 when a receiver could not be reached."""
    settings = load_settings(settings_path)
    if not settings.notify:
        raise ConfigError(settings.path, "[[notify]]", "no notify target configured")
    from crawler.console import print_dry_run, print_test_results
    from crawler.notify import deliver, queue

    queue.check(settings)
    if test_name:
        results = deliver.send_test(settings, test_name)
        print_test_results(test_name, results)
        failed = not all(o.ok for _, o in results)
    else:
        db = existing_corpus(settings)
        if dry_run:
            print_dry_run(deliver.dry_run(db, settings))
            return
        reports = deliver.deliver(db, settings)
        print_notify_reports(reports, quiet=False)
        failed = any(r.failed for r in reports)
    if failed:
        raise click.exceptions.Exit(1)


# ---------------------------------------------------------------- configuration

@cli.command(short_help="list the configured sources")
@settings_option
def sources(settings_path: str) -> None:
    """List the sources configured in the settings file: kind, URLs, language, enabled."""
    settings = load_settings(settings_path)
    table = Table("name", "kind", "enabled", "url(s)", "language", title=f"sources in {settings_path}")
    for s in settings.sources:
        table.add_row(s.name, s.kind, "yes" if s.enabled else "no", "\n".join(s.all_urls()), s.language or "")
    out.print(table)


@cli.command(short_help="list the configured topics and their terms")
@settings_option
@click.option("--explain", metavar="URL_OR_FILE",
              help="fetch one page (or read a saved HTML file), extract it and show each topic's "
                   "score, the terms found and why it did or did not match")
def topics(settings_path: str, explain: str | None) -> None:
    """List the configured topics, or with --explain show how each topic scores one page."""
    settings = load_settings(settings_path)
    if explain:
        from crawler.explain import explain_page

        explain_page(settings, explain)
        return
    table = Table("name", "min score", "term groups", "require", "exclude", title=f"topics in {settings_path}")
    for t in settings.topics:
        groups = "all articles (keep_all)" if t.keep_all else "\n".join(" / ".join(g) for g in t.terms)
        table.add_row(t.name, f"{t.min_score:g}", groups,
                      "\n".join(" / ".join(g) for g in t.require), ", ".join(t.exclude))
    out.print(table)


@cli.command("settings", short_help="print every setting with its default and meaning")
def settings_reference() -> None:
    """Print every key settings.toml accepts, with its default and meaning."""
    table = Table("section", "key", "default", "meaning")
    for section, key, default, help_ in describe_settings():
        table.add_row(section, key, json.dumps(default, ensure_ascii=False), help_)
    out.print(table)


# ---------------------------------------------------------------- reading the corpus

def existing_corpus(settings: Any) -> Any:
    """The corpus, migrated; an error (not a new empty file) when it does not exist yet."""
    from crawler.store.db import open_db

    if not settings.corpus_path.exists():
        raise TopicwatchError(f"no corpus at {settings.corpus_path} yet: run `topicwatch crawl` first "
                              f"(or check [corpus] path in {settings.path})")
    return open_db(settings.corpus_path)


@cli.command(short_help="browse the corpus in Datasette (read-only)")
@settings_option
@click.option("--port", type=int, default=8001, show_default=True, help="port to listen on")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to bind (127.0.0.1: this machine only)")
def browse(settings_path: str, port: int, host: str) -> None:
    """Start Datasette on the corpus with topicwatch's metadata, Chinese-aware search and Atom
    feeds. Read-only; safe while the daemon writes."""
    settings = load_settings(settings_path)
    from crawler.browse.serve import serve

    existing_corpus(settings)
    err.print(f"serving {settings.corpus_path} at http://{host}:{port}/ (Ctrl-C stops)")
    serve(settings.corpus_path, host=host, port=port,
          topics={t.name: t.description for t in settings.topics})


@cli.command(short_help="write articles as JSON lines or CSV")
@settings_option
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True, help="output format")
@click.option("--since", metavar="DATE", help="only articles first stored at or after DATE (YYYY-MM-DD or ISO time)")
@click.option("--topic", metavar="NAME", help="only articles matching this topic")
@click.option("--output", metavar="FILE", help="write here instead of standard output")
def export(settings_path: str, fmt: str, since: str | None, topic: str | None, output: str | None) -> None:
    """Export the corpus's articles, oldest first."""
    settings = load_settings(settings_path)
    from crawler.browse.export import export as write_export
    from crawler.store.corpus import has_topic

    db = existing_corpus(settings)
    if topic and topic not in {t.name for t in settings.topics} and not has_topic(db, topic):
        known = ", ".join(t.name for t in settings.topics)
        raise TopicwatchError(f"--topic {topic}: no such topic in {settings.path} or the corpus (known: {known})")
    if output:
        with open(output, "w", newline="", encoding="utf-8") as f:
            n = write_export(db, fmt, f, since=since, topic=topic)
    else:
        n = write_export(db, fmt, sys.stdout, since=since, topic=topic)
    err.print(f"exported {n} article(s)")


def main(argv: list[str] | None = None) -> int:
    """The `topicwatch` entry point: runs the command, returns its exit code."""
    try:
        result = cli.main(args=argv, prog_name="topicwatch", standalone_mode=False)
    except click.exceptions.Abort:
        err.print("interrupted")
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
