"""`topicwatch`: the command line (click), and the place where the stages are put together.

Errors become one clean line on stderr and an exit code: the codes are `crawler.errors.ExitCode`
(the README prints the same table).  Commands from other packages plug in through the
`topicwatch.commands` entry-point group: jobs/ adds `daemon` and `status` that way, so the
crawler never imports the daemon that depends on it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crawler.config import describe_settings, load_settings
from crawler.console import (
    Progress,
    err,
    failed_message,
    nothing_fetched_message,
    out,
    plain,
    print_checks,
    print_notify_reports,
    print_rematch,
    print_summary,
    print_topics,
)
from crawler.errors import (
    ConfigError,
    CorpusError,
    ExitCode,
    NothingFetched,
    PathError,
    SourcesFailed,
    TopicwatchError,
)

if TYPE_CHECKING:
    from importlib import metadata

DEFAULT_SETTINGS = "settings.toml"
PLUGIN_GROUP = "topicwatch.commands"


class CommandError(click.ClickException):
    """A TopicwatchError as click shows it: `error: <message>` and the error's exit code."""

    def __init__(self, error: TopicwatchError):
        super().__init__(str(error))
        self.exit_code = error.exit_code

    def show(self, file: Any = None) -> None:
        err.print(f"error: {self.message}", markup=False)


class PipeClosed(Exception):
    """The reader of standard output went away (`topicwatch export | head`)."""


class TopicwatchGroup(click.Group):
    """The command group: built-in commands plus those registered under PLUGIN_GROUP, and
    TopicwatchError turned into CommandError wherever a command raises it."""

    def _plugins(self) -> dict[str, metadata.EntryPoint]:
        from importlib import metadata  # here: 0.03-0.05 s of every command's start-up

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
        except BrokenPipeError as e:  # click would make it exit 1; main() makes it 141, quietly
            raise PipeClosed from e
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as e:
            if not e.filename:
                raise
            raise CommandError(PathError(e.filename, e.strerror or str(e))) from e


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
          run_id: int | None, trigger: str, verbose: bool) -> int:
    """Crawl the enabled sources (or those named) once, then ingest what was found:
    deduplicate and append new articles."""
    settings = load_settings(settings_path)
    selected = settings.select_sources(sources)
    if not selected:
        raise ConfigError(settings.path, "[[sources]]", "no enabled source to crawl")
    settings.select_topics(topics)
    writable_corpus(settings)
    if not no_ingest:  # the daemon (or `topicwatch ingest`) ingests and notifies
        _register_notify(settings)
    from crawler import pool
    from crawler.locks import crawl_lock

    # one crawl of a corpus at a time: another is refused (a cron crawl overlapping a slow
    # one), the daemon's waits for a crawl started by hand
    lock = crawl_lock(settings.corpus_path)
    lock.acquire(wait=run_id is not None, waiting=lambda pid: err.print(
        f"waiting for the crawl of pid {pid or 'unknown'} to finish (it holds {lock.path})",
        markup=False))
    progress = None
    try:
        # the workers import the extraction code while this process imports Scrapy
        pool.fork_early(settings.crawl.worker_count, "INFO" if verbose else "WARNING")
        from crawler.fetch.crawl import run_crawl

        progress = Progress(enabled=not no_ingest or sys.stderr.isatty())
        err.print(f"crawling {len(selected)} source(s) into {settings.corpus_path}", markup=False)
        result = run_crawl(settings, sources, topics, run_id=run_id, trigger=trigger,
                           ingest=not no_ingest, log_level="INFO" if verbose else "WARNING",
                           on_progress=progress.crawl, on_ingest=progress.ingest,
                           on_stop=lambda signum: err.print(
                               f"{_signal_name(signum)}: stopping; the pages in flight finish and "
                               "what was found is kept (press Ctrl-C again to stop at once)",
                               markup=False))
    finally:
        if progress is not None:
            progress.stop()
        pool.stop_early()  # a crawl that ended before its spider started never took it
        lock.release()
    try:
        return _outcome(settings.corpus_path, result)
    finally:  # after the summary, before the error line: failures are true alerts too
        if not no_ingest and result.signal is None:
            _notify(settings)


def _register_notify(settings: Any) -> None:
    """Check the notify URLs before a long crawl, and register new targets: what this crawl
    stores is news to them."""
    if not settings.notify:
        return
    from crawler.notify.queue import check, register, unset_env
    from crawler.store.db import open_db

    # a secret missing from this environment (cron's) must not cost the crawl: its
    # notifications are recorded as failed and sent by a pass that has it
    for problem in unset_env(settings):
        err.print(f"warning: {problem}; its notifications wait until it is", markup=False)
    check(settings, unset_ok=True)
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


def writable_corpus(settings: Any) -> Any:
    """The corpus, created or migrated: a file or folder problem stops the command here, with
    one line, before anything else starts."""
    from crawler.store.db import open_db

    return open_db(settings.corpus_path)


def _outcome(corpus: Path, result: Any) -> int:
    """Print the run's summary; the exit code says how it went (crawler/errors.py)."""
    from crawler.store import corpus as corpus_table
    from crawler.store import runs
    from crawler.store.db import open_db

    db = open_db(corpus)
    run, failed = runs.get_run(db, result.run_id), runs.failed_sources(db, result.run_id)
    print_summary(run, runs.source_results(db, result.run_id), corpus_table.counts(db),
                  signal_name=_signal_name(result.signal))
    if result.signal is not None:
        err.print(f"interrupted by {_signal_name(result.signal)}: run {run['id']} is recorded as "
                  f"{run['status']}; {run['new']} new article(s) from it are stored", markup=False)
        return ExitCode.for_signal(result.signal)
    if run["status"] == "nothing-fetched":
        raise NothingFetched(nothing_fetched_message(failed, runs.source_count(db, run["id"])))
    if failed:
        raise SourcesFailed(failed_message(failed, runs.source_count(db, run["id"])))
    if run["status"] != "ok":
        raise TopicwatchError(f"run {run['id']} ended as {run['status']}: {run['error'] or ''}".strip())
    return ExitCode.OK


def _signal_name(signum: int | None) -> str | None:
    import signal

    return signal.Signals(signum).name if signum else None


@cli.command(short_help="deduplicate and append what is waiting in the spool")
@settings_option
@click.option("--redis", "redis_url", metavar="URL",
              help="instead, drain the items `topicwatch worker` processes put in this Redis "
                   "(redis://host:port/db; default: [redis] url) until SIGINT / SIGTERM")
def ingest(settings_path: str, redis_url: str | None) -> None:
    """Drain the spool into the corpus (crawl and the daemon do this themselves; use it after
    a crawl with --no-ingest).  With --redis: the one ingester of a fleet of workers."""
    settings = load_settings(settings_path)
    from crawler.store.ingest import Ingester

    if redis_url is None:  # the spool is in the corpus: none there, nothing to ingest
        db = existing_corpus(settings, write=True)
    _register_notify(settings)
    if redis_url is not None:  # a fleet's ingester may start before its first item: it makes one
        _ingest_redis(settings, redis_url)
        return
    stats = Ingester(db, settings.dedup).ingest()
    out.print(f"ingested: {stats.summary()}", markup=False)
    _notify(settings)


def redis_of(settings: Any, url: str | None) -> Any:
    """The fleet's shared Redis: --redis URL, else [redis] url (a ConfigError when neither)."""
    from crawler.config import check_redis_url
    from crawler.remote.shared import Shared, connect

    url = url or settings.redis.url
    if not url:
        raise ConfigError(settings.path, "[redis] url", "is empty and no --redis URL was given")
    check_redis_url(url, settings.path, "--redis")
    return url, Shared(connect(url), settings.redis.prefix)


def _ingest_redis(settings: Any, url: str) -> None:
    import signal

    from crawler.remote.spool import drain

    url, shared = redis_of(settings, url)
    stopped: list[int] = []

    def stop(signum: int, frame: Any) -> None:
        stopped.append(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    err.print(f"ingesting from {url} ({shared.keys.items}) into {settings.corpus_path}; "
              "SIGINT / SIGTERM stops", markup=False)

    def progress(stats: Any) -> None:
        err.print(f"ingested: {stats.summary()}", markup=False)
        _notify(settings)

    stats = drain(writable_corpus(settings), settings.dedup, shared, stop=lambda: bool(stopped),
                  progress=progress)
    out.print(f"ingested: {stats.summary()}", markup=False)
    if stopped:
        raise SystemExit(ExitCode.for_signal(stopped[0]))


@cli.command(short_help="crawl for the fleet: requests from the shared Redis frontier")
@settings_option
@click.option("--redis", "redis_url", metavar="URL",
              help="the shared Redis (redis://host:port/db; default: [redis] url)")
@click.option("-v", "--verbose", is_flag=True, help="show Scrapy's log")
def worker(settings_path: str, redis_url: str | None, verbose: bool) -> None:
    """Run a crawl worker until SIGINT / SIGTERM: it takes requests from the frontier every
    worker shares in Redis, and the sources `topicwatch enqueue` or the daemon put there;
    what it finds goes to Redis for `topicwatch ingest --redis`.  Its own bookkeeping goes
    to the file [corpus] path names: on another machine than the corpus, a local file."""
    settings = load_settings(settings_path)
    url, shared = redis_of(settings, redis_url)
    from crawler.fetch.redis_worker import run_worker

    err.print(f"worker on {url} (keys {shared.keys.prefix}:*), state in {settings.corpus_path}",
              markup=False)
    received = run_worker(
        settings, url, log_level="INFO" if verbose else "WARNING",
        on_ready=lambda: err.print(f"worker ready: sources from {shared.keys.schedules}, requests from "
                                   f"{shared.keys.requests}; SIGINT / SIGTERM stops", markup=False))
    if received is not None:
        raise SystemExit(ExitCode.for_signal(received))


@cli.command(short_help="put sources in the shared Redis frontier for the workers")
@settings_option
@click.option("--redis", "redis_url", metavar="URL",
              help="the shared Redis (redis://host:port/db; default: [redis] url)")
@click.option("--source", "sources", multiple=True, metavar="NAME",
              help="only this source (repeatable; default: every enabled source)")
def enqueue(settings_path: str, redis_url: str | None, sources: tuple[str, ...]) -> None:
    """Ask the workers to crawl the enabled sources (or those named) once: one schedule
    message per source; the daemon with [daemon] crawls = "redis" does this on schedule."""
    settings = load_settings(settings_path)
    selected = settings.select_sources(sources)
    if not selected:
        raise ConfigError(settings.path, "[[sources]]", "no enabled source to crawl")
    _, shared = redis_of(settings, redis_url)
    n = shared.enqueue(s.name for s in selected)
    out.print(f"enqueued {n} source(s) in {shared.keys.schedules}")


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
        db = existing_corpus(settings, write=True)  # a pass records what it sent
        if dry_run:
            print_dry_run(deliver.dry_run(db, settings))
            return
        reports = deliver.deliver(db, settings)
        print_notify_reports(reports, quiet=False)
        failed = any(r.failed for r in reports)
    if failed:
        raise click.exceptions.Exit(1)


@cli.command(short_help="apply the current topics to stored articles and kept pages")
@settings_option
@click.option("--topic", "topics", multiple=True, metavar="NAME",
              help="apply only this topic (repeatable; default: every topic)")
@click.option("--all", "everything", is_flag=True,
              help="match everything again, not only what was matched with another version of "
                   "the topics")
def rematch(settings_path: str, topics: tuple[str, ...], everything: bool) -> None:
    """Apply the topics of settings.toml to what is already stored, without fetching: stored
    articles get their topics, matched terms and scores updated; kept pages that matched no
    topic before and match now become articles (deduplicated like crawled pages). Only what
    was matched with another version of the topics is matched again, unless --all. A crawl
    does the same for its own topics before it starts."""
    settings = load_settings(settings_path)
    chosen = settings.select_topics(topics)
    from crawler.store import rematch as rematching
    from crawler.store import runs, unmatched
    from crawler.store.ingest import Ingester

    db = existing_corpus(settings, write=True)
    _register_notify(settings)
    run_id = runs.start_run(db, "rematch", [], pid=os.getpid())
    stats = rematching.apply_topics(db, chosen, run_id=run_id, everything=everything)
    dropped = unmatched.prune(db, settings.corpus.keep_unmatched_days)
    ingested = Ingester(db, settings.dedup).ingest()
    runs.finish_run(db, run_id, "ok")
    print_rematch(stats, ingested, dropped, unmatched.count(db))
    _notify(settings)  # what matches now is news to the notify targets


# ---------------------------------------------------------------- configuration

@cli.command(short_help="list the configured sources, or --check that they answer")
@settings_option
@click.option("--check", is_flag=True,
              help="fetch each source's URL once (robots.txt obeyed; no crawl) and say whether it "
                   "answered, how many entries it lists, its newest entry and what to change")
@click.argument("names", nargs=-1, metavar="[NAME]...")
def sources(settings_path: str, check: bool, names: tuple[str, ...]) -> None:
    """List the sources configured in the settings file (all of them, or those NAMEd): kind,
    URLs, language, enabled. With --check, fetch each once and report what it holds: the
    first thing to run on a machine with internet. Exit 5 when a source needs a change, 4
    when none answered."""
    settings = load_settings(settings_path)
    chosen = settings.select_sources(names, option="sources") if names else settings.sources
    if check:
        _check_sources(settings, chosen)
        return
    from rich.table import Table

    table = Table("name", "kind", "enabled", "url(s)", "language", title=f"sources in {settings_path}")
    for s in chosen:
        table.add_row(*plain(s.name, s.kind, "yes" if s.enabled else "no", "\n".join(s.all_urls()),
                             s.language))
    out.print(table)


def _check_sources(settings: Any, chosen: Any) -> None:
    from crawler.check import check_sources

    err.print(f"checking {len(chosen)} source(s): one request per URL", markup=False)
    checked = check_sources(settings, chosen)
    print_checks(checked)
    if checked and all(c.reason for c in checked):
        failed = [{"source": c.source.name, "reason": c.reason, "detail": c.answered, "url": c.url}
                  for c in checked]
        raise NothingFetched(nothing_fetched_message(failed, len(checked)))
    bad = [c for c in checked if not c.ok]
    if bad:
        raise SourcesFailed(f"{len(bad)} of {len(checked)} URL(s) need a change: "
                            + ", ".join(dict.fromkeys(c.source.name for c in bad)))


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
    print_topics(settings.topics, f"topics in {settings_path}")


@cli.command("settings", short_help="print every setting with its default and meaning")
def settings_reference() -> None:
    """Print every key settings.toml accepts, with its default and meaning."""
    from rich.table import Table

    table = Table("section", "key", "default", "meaning")
    for section, key, default, help_ in describe_settings():
        table.add_row(*plain(section, key, json.dumps(default, ensure_ascii=False), help_))
    out.print(table)


# ---------------------------------------------------------------- reading the corpus

def existing_corpus(settings: Any, write: bool = False) -> Any:
    """The corpus, for reading (read-only, see crawler/store/db.py) unless `write`; an error,
    not a new empty file, when it does not exist yet."""
    from crawler.store.db import open_db, open_for_reading

    if not settings.corpus_path.exists():
        raise CorpusError(settings.corpus_path, "no corpus here yet: run `topicwatch crawl` first "
                                                f"(or check [corpus] path in {settings.path})")
    return open_db(settings.corpus_path) if write else open_for_reading(settings.corpus_path)


@cli.command(short_help="browse the corpus in Datasette (read-only)")
@settings_option
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True, help="port to listen on")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to bind (127.0.0.1: this machine only)")
def browse(settings_path: str, port: int, host: str) -> None:
    """Start Datasette on the corpus with topicwatch's metadata, Chinese-aware search and Atom
    feeds. Read-only; safe while the daemon writes."""
    settings = load_settings(settings_path)
    from crawler.browse.serve import check_port, serve

    existing_corpus(settings).close()
    check_port(host, port)
    err.print(f"serving {settings.corpus_path} at http://{host}:{port}/ (Ctrl-C stops)", markup=False)
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
    from crawler.config import unknown_name
    from crawler.store.corpus import has_topic

    db = existing_corpus(settings)
    if topic and topic not in {t.name for t in settings.topics} and not has_topic(db, topic):
        raise ConfigError(settings.path, f"--topic {topic}",
                          unknown_name("topic", topic, [t.name for t in settings.topics]) +
                          " in the settings or the corpus")
    try:
        if not output:
            n = write_export(db, fmt, sys.stdout, since=since, topic=topic)
            sys.stdout.flush()
        else:
            with _output_file(output, fmt) as f:
                n = write_export(db, fmt, f, since=since, topic=topic)
    except BrokenPipeError:
        raise  # the reader went away: `main` ends quietly
    except OSError as e:  # a full disk, an I/O error: where, and what
        raise PathError(output or "/dev/stdout", e.strerror or str(e)) from None
    err.print(f"exported {n} article(s)")


def _output_file(output: str, fmt: str) -> Any:
    """`--output FILE` opened for writing; a missing folder or a file that cannot be written
    is one line naming it. A CSV file starts with a UTF-8 byte-order mark, without which
    Excel reads it in the system's code page and garbles the Chinese."""
    path = Path(output)
    if not path.parent.is_dir():
        raise PathError(path, f"no such folder: {path.parent}")
    try:
        return open(path, "w", newline="", encoding="utf-8-sig" if fmt == "csv" else "utf-8")
    except OSError as e:
        raise PathError(path, e.strerror or str(e)) from None


def main(argv: list[str] | None = None) -> int:
    """The `topicwatch` entry point: runs the command, returns its exit code.  Called without
    `argv` (the `topicwatch` script, `python -m crawler`) the process exits next, so it is
    readied for that (`_about_to_exit`)."""
    code = _run(argv)
    if argv is None:
        _about_to_exit()
    return code


def _about_to_exit() -> None:
    """Collect what is garbage now, then freeze the rest: the interpreter's collections while it
    tears the process down then skip the heap they would only walk (a crawl's last 0.24 s
    became 0.08 s: 3 % of a 150-page crawl, and every command's exit).  The collection first
    runs the finalisers of what is already garbage, so every corpus connection is closed (and
    its write-ahead log checkpointed and removed) as before; tests/test_cli.py checks that a
    crawl leaves no corpus.db-wal behind."""
    import gc

    gc.collect()
    gc.freeze()


def _run(argv: list[str] | None) -> int:
    try:
        result = cli.main(args=argv, prog_name="topicwatch", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        err.print("interrupted")
        return ExitCode.INTERRUPTED
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except (BrokenPipeError, PipeClosed):
        return _pipe_closed()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return _pipe_closed()
    return result if isinstance(result, int) else ExitCode.OK


def _pipe_closed() -> int:
    """The reader went away (`topicwatch export | head`): stop quietly.  Standard output is
    pointed at /dev/null so that Python's flush at exit cannot complain either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return ExitCode.PIPE_CLOSED


if __name__ == "__main__":
    sys.exit(main())
