"""`topicwatch` command line.  Errors become one clean line on stderr and an exit code:
2 invalid settings, 3 corpus locked by another daemon, 4 nothing could be fetched."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from crawler.config import describe_settings, load_settings
from crawler.errors import ConfigError, TopicwatchError
from crawler.extract import NotAnArticle

DEFAULT_SETTINGS = "settings.toml"
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def _settings_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--settings", default=DEFAULT_SETTINGS, metavar="PATH",
                   help=f"the settings file (default: {DEFAULT_SETTINGS})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="topicwatch",
        description="Watch news sites, feeds, sitemaps and news searches for new coverage of "
                    "your topics; keep each article once in a SQLite corpus.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("crawl", help="crawl the sources once and add new articles to the corpus",
                       description="Crawl the enabled sources (or those named) once, then ingest "
                                   "what was found: deduplicate and append new articles.")
    _settings_arg(p)
    p.add_argument("--source", action="append", default=[], metavar="NAME",
                   help="crawl only this source (repeatable)")
    p.add_argument("--topic", action="append", default=[], metavar="NAME",
                   help="match only this topic (repeatable)")
    p.add_argument("--no-ingest", action="store_true",
                   help="leave what was found in the spool (the daemon ingests it)")
    p.add_argument("--run-id", type=int, help=argparse.SUPPRESS)
    p.add_argument("--trigger", default="crawl", help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true", help="show Scrapy's log")
    p.set_defaults(func=cmd_crawl)

    p = sub.add_parser("ingest", help="deduplicate and append what is waiting in the spool",
                       description="Drain the spool into the corpus (crawl and the daemon do this "
                                   "themselves; use it after a crawl with --no-ingest).")
    _settings_arg(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("sources", help="list the configured sources")
    _settings_arg(p)
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("topics", help="list the configured topics and their terms",
                       description="List the configured topics, or with --explain show how each "
                                   "topic scores one page.")
    _settings_arg(p)
    p.add_argument("--explain", metavar="URL_OR_FILE",
                   help="fetch one page (or read a saved HTML file), extract it and show each "
                        "topic's score, the terms found and why it did or did not match")
    p.set_defaults(func=cmd_topics)

    p = sub.add_parser("settings", help="print every setting with its default and meaning")
    p.set_defaults(func=cmd_settings)

    p = sub.add_parser("browse", help="browse the corpus in Datasette (read-only)",
                       description="Start Datasette on the corpus with topicwatch's metadata, "
                                   "Chinese-aware search and Atom feeds. Read-only; safe while "
                                   "the daemon writes.")
    _settings_arg(p)
    p.add_argument("--port", type=int, default=8001, help="port to listen on (default: 8001)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default: 127.0.0.1, this machine only)")
    p.set_defaults(func=cmd_browse)

    p = sub.add_parser("export", help="write articles as JSON lines or CSV",
                       description="Export the corpus's articles, oldest first.")
    _settings_arg(p)
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="output format (default: jsonl)")
    p.add_argument("--since", metavar="DATE", help="only articles first stored at or after DATE (YYYY-MM-DD or ISO time)")
    p.add_argument("--topic", metavar="NAME", help="only articles matching this topic")
    p.add_argument("--output", metavar="FILE", help="write here instead of standard output")
    p.set_defaults(func=cmd_export)

    _add_later_commands(sub)
    return parser


def _add_later_commands(sub) -> None:
    """Commands whose modules import heavier dependencies: imported only when run."""
    from crawler.cli_more import add_commands

    add_commands(sub, _settings_arg)


# ---------------------------------------------------------------- commands

def cmd_crawl(args: argparse.Namespace) -> int:
    settings = load_settings(args.settings)
    selected = settings.select_sources(args.source)
    if not selected:
        raise ConfigError(settings.path, "[[sources]]", "no enabled source to crawl")
    settings.select_topics(args.topic)
    from crawler.crawl import run_crawl

    progress = Progress(enabled=not args.no_ingest or sys.stderr.isatty())
    err.print(f"crawling {len(selected)} source(s) into {settings.corpus_path}")
    try:
        result = run_crawl(settings, args.source, args.topic, run_id=args.run_id,
                           trigger=args.trigger, ingest=not args.no_ingest,
                           log_level="INFO" if args.verbose else "WARNING",
                           on_progress=progress.crawl, on_ingest=progress.ingest)
    finally:
        progress.stop()
    print_summary(settings.corpus_path, result.run_id)
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = load_settings(args.settings)
    from crawler import store
    from crawler.ingest import Ingester

    db = store.open_db(settings.corpus_path)
    stats = Ingester(db, settings.dedup).ingest()
    out.print(f"ingested: {stats.new} new, {stats.duplicates} duplicates")
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    settings = load_settings(args.settings)
    table = Table("name", "kind", "enabled", "url(s)", "language", title=f"sources in {args.settings}")
    for s in settings.sources:
        table.add_row(s.name, s.kind, "yes" if s.enabled else "no", "\n".join(s.all_urls()), s.language or "")
    out.print(table)
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    settings = load_settings(args.settings)
    if args.explain:
        return explain_topics(settings, args.explain)
    table = Table("name", "min score", "term groups", "require", "exclude", title=f"topics in {args.settings}")
    for t in settings.topics:
        groups = "all articles (keep_all)" if t.keep_all else "\n".join(" / ".join(g) for g in t.terms)
        table.add_row(t.name, f"{t.min_score:g}", groups,
                      "\n".join(" / ".join(g) for g in t.require), ", ".join(t.exclude))
    out.print(table)
    return 0


def explain_topics(settings, target: str) -> int:
    """Why a page would be kept or not: the per-group hits behind every topic's verdict."""
    from crawler import extract, topics

    article = extract.extract(_fetch_page(settings, target))
    out.print(f"{article.title}  ({article.language or '?'}"
              f"{', ' + article.script if article.script else ''}, {len(article.text)} characters)")
    table = Table("topic", "matched", "score / min", "terms found (title, text)", "require", "excluded by")
    for topic in settings.topics:
        e = topics.explain(article, topic)
        found = ", ".join(f"{g['terms'][0]} ({g['title']}, {g['text']})" for g in e["groups"] if g["score"])
        missing = [" / ".join(r["terms"]) for r in e["require"] if not r["found"]]
        table.add_row(topic.name, "yes" if e["matched"] else "no", f"{e['score']:g} / {e['min_score']:g}",
                      found, "missing: " + "; ".join(missing) if missing else "ok", ", ".join(e["excluded_by"]))
    out.print(table)
    return 0


def _fetch_page(settings, target: str):
    """One page for --explain: a saved file, or a single GET with the configured user agent."""
    import urllib.error
    import urllib.request

    from crawler.decode import decode_body
    from crawler.records import Page

    path = Path(target)
    if path.is_file():
        body, ctype, url = path.read_bytes(), None, path.resolve().as_uri()
    else:
        request = urllib.request.Request(target, headers={"User-Agent": settings.crawl.user_agent})
        try:
            with urllib.request.urlopen(request, timeout=settings.crawl.timeout) as response:
                body = response.read(settings.crawl.max_page_bytes)
                ctype, url = response.headers.get("Content-Type"), response.geturl()
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise TopicwatchError(f"{target}: cannot fetch: {e}") from None
    html, _ = decode_body(body, ctype)
    return Page(url=url, source="explain", html=html)


def cmd_settings(args: argparse.Namespace) -> int:
    table = Table("section", "key", "default", "meaning")
    for section, key, default, help_ in describe_settings():
        table.add_row(section, key, json.dumps(default, ensure_ascii=False), help_)
    out.print(table)
    return 0


def _existing_corpus(settings):
    """The corpus, migrated; an error (not a new empty file) when it does not exist yet."""
    from crawler import store

    if not settings.corpus_path.exists():
        raise TopicwatchError(f"no corpus at {settings.corpus_path} yet: run `topicwatch crawl` first "
                              f"(or check [corpus] path in {settings.path})")
    return store.open_db(settings.corpus_path)


def cmd_browse(args: argparse.Namespace) -> int:
    settings = load_settings(args.settings)
    from crawler.browse.serve import serve

    _existing_corpus(settings)
    err.print(f"serving {settings.corpus_path} at http://{args.host}:{args.port}/ (Ctrl-C stops)")
    serve(settings.corpus_path, host=args.host, port=args.port,
          topics={t.name: t.description for t in settings.topics})
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    settings = load_settings(args.settings)
    from crawler.export import export

    db = _existing_corpus(settings)
    if args.topic and args.topic not in {t.name for t in settings.topics} and not db.execute(
        "SELECT 1 FROM articles, json_each(articles.topics) WHERE value = ? LIMIT 1", [args.topic]
    ).fetchone():
        known = ", ".join(t.name for t in settings.topics)
        raise TopicwatchError(f"--topic {args.topic}: no such topic in {settings.path} or the corpus (known: {known})")
    if args.output:
        with open(args.output, "w", newline="", encoding="utf-8") as f:
            n = export(db, args.format, f, since=args.since, topic=args.topic)
    else:
        n = export(db, args.format, sys.stdout, since=args.since, topic=args.topic)
    err.print(f"exported {n} article(s)")
    return 0


# ---------------------------------------------------------------- display

class Progress:
    """fetched / extracted / matched / new, live on a terminal, a line every 10 s otherwise."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.live = None
        self.text = ""
        if enabled and self.tty:
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

    def crawl(self, s) -> None:
        self._show(f"fetched {s.fetched}  extracted {s.extracted}  matched {s.matched}  "
                   f"skipped {s.skipped}  errors {s.errors}  not modified {s.not_modified}")

    def ingest(self, s) -> None:
        self._show(f"ingesting: new {s.new}  duplicates {s.duplicates}")

    def stop(self) -> None:
        if self.live:
            self.live.stop()


def print_summary(corpus: Path, run_id: int) -> None:
    from crawler import store

    db = store.open_db(corpus)
    run = next(db.query("SELECT * FROM runs WHERE id = ?", [run_id]))
    table = Table("source", "fetched", "not modified", "new", "errors", "ok",
                  title=f"run {run_id}: {run['status']}")
    for row in db.query("SELECT * FROM source_runs WHERE run_id = ? ORDER BY source", [run_id]):
        table.add_row(row["source"], str(row["fetched"]), str(row["not_modified"]), str(row["new"]),
                      str(row["errors"]), "yes" if row["ok"] else "NO")
    out.print(table)
    out.print(
        f"fetched {run['fetched']}, extracted {run['extracted']}, matched {run['matched']}, "
        f"new {run['new']}, duplicates {run['duplicates']}, skipped {run['skipped']}, "
        f"errors {run['errors']}, not modified {run['not_modified']}"
    )
    c = store.counts(db)
    out.print(f"corpus: {c['articles']} articles, {c['copies']} copies, {c['stories']} stories")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except TopicwatchError as e:
        err.print(f"error: {e}", markup=False)
        return e.exit_code
    except NotAnArticle as e:
        err.print(f"error: not an article ({e.reason})", markup=False)
        return 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
