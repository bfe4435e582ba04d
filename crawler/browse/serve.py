"""`topicwatch browse`: Datasette on the corpus, read-only, on 127.0.0.1 unless told otherwise.

The corpus is opened as a normal (mutable) database, not with `-i`/immutable: the daemon
keeps writing to it, WAL lets Datasette read meanwhile, and Datasette's connections are
read-only (`mode=ro`) anyway.  The one exception is a corpus that cannot change under us: a
read-only file no writer has open (no `-wal` beside it) in a folder this user cannot write,
which SQLite can only read as immutable (crawler/store/db.py `read_uri`).  The plugin loads through its entry point, as it does when
people run `datasette corpus.db -m crawler/browse/metadata.yml` themselves.
"""

from __future__ import annotations

import errno
import html
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from datasette.app import Datasette

from crawler.errors import TopicwatchError
from crawler.store.db import open_for_reading, read_uri

METADATA_PATH = Path(__file__).with_name("metadata.yml")
DEFAULT_DATABASE = "corpus"  # the database name metadata.yml is written for
SETTINGS = {
    "sql_time_limit_ms": 3000,
    "facet_time_limit_ms": 500,
    # Suggested facets try every column of the filtered rows (60 queries for the articles
    # list, 4 s at 100,000 articles); the facets worth having are configured in metadata.yml.
    "suggest_facets": False,
}


def database_name(db_path: str | Path) -> str:
    """The name Datasette gives the file (its stem), and so the key its metadata needs."""
    return Path(db_path).stem


def load_metadata(metadata_path: str | Path | None = None, database: str = DEFAULT_DATABASE,
                  topics: Mapping[str, str] | None = None) -> dict[str, Any]:
    """metadata.yml with its `corpus` section moved to `database`, and the configured topics
    (name -> description) listed with their article lists and feeds."""
    metadata = yaml.safe_load(Path(metadata_path or METADATA_PATH).read_text(encoding="utf-8"))
    databases = metadata.setdefault("databases", {})
    if database not in databases and DEFAULT_DATABASE in databases:
        databases[database] = databases.pop(DEFAULT_DATABASE)
    if topics:
        listing = _topics_html(database, topics)
        metadata["description_html"] = metadata.get("description_html", "") + listing
        section = databases.setdefault(database, {})
        section["description_html"] = section.get("description_html", "") + listing
    return metadata


def _topics_html(database: str, topics: Mapping[str, str]) -> str:
    items = []
    for name, description in topics.items():
        q = quote(name, safe="")
        items.append(
            f'<li><a href="/{quote(database)}/articles?_topic={q}">'
            f"{html.escape(name)}</a>{': ' + html.escape(description) if description else ''}"
            f' (<a href="/-/topicwatch/atom/{q}.atom">Atom feed</a>)</li>'
        )
    return "\n<p>Topics:</p>\n<ul>" + "".join(items) + "</ul>"


def make_datasette(db_path: str | Path, metadata_path: str | Path | None = None, *,
                   topics: Mapping[str, str] | None = None) -> Datasette:
    """The Datasette instance `serve` runs (tests use it through `ds.client`)."""
    _quiet_error_pages()
    metadata = load_metadata(metadata_path, database_name(db_path), topics)
    if topics is not None:  # the Atom route answers 404 for other names (crawler/browse/plugin.py)
        metadata.setdefault("plugins", {}).setdefault("topicwatch", {})["topics"] = list(topics)
    path = Path(db_path)
    if path.exists() and "immutable=1" in read_uri(path):
        return Datasette(immutables=[str(path)], metadata=metadata, settings=SETTINGS)
    return Datasette([str(path)], metadata=metadata, settings=SETTINGS)


def _quiet_error_pages() -> None:
    """Datasette 0.65 prints every exception it turns into an error page, each 404 included,
    as a rich traceback with the local variables of every frame (the request's headers and
    cookies among them) whenever rich is importable, which topicwatch's own console needs: a
    scanner probing missing URLs floods the log.  Its handler reads rich from its module's
    `rich`; with None there it prints nothing for a 4xx and still prints a plain traceback
    for a 500 (`traceback.print_exc()`), and the pages are the same.  The one place
    topicwatch reaches into Datasette; tests/test_browse.py checks the handler still reads it."""
    import datasette.handle_exception as handling

    handling.rich = None


def prepare_corpus(db_path: str | Path) -> None:
    """Bring an older corpus's tables and views up to date before Datasette reads it (when the
    file can be written; a read-only one is read as it is)."""
    open_for_reading(db_path).close()


def check_port(host: str, port: int) -> None:
    """Refuse at once, in one line, an address that cannot be served (uvicorn would log a
    traceback-like error and exit 3, which is "corpus locked" here)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise TopicwatchError(f"--host {host}: {e.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            busy = e.errno == errno.EADDRINUSE
            why = "in use (another topicwatch browse?): choose one with --port" if busy else e.strerror
            raise TopicwatchError(f"cannot serve on {host}:{port}: {why}") from None


def serve(db_path: str | Path, metadata_path: str | Path | None = None,
          host: str = "127.0.0.1", port: int = 8001, *,
          topics: Mapping[str, str] | None = None) -> None:
    """Serve the corpus until interrupted."""
    import uvicorn

    prepare_corpus(db_path)
    ds = make_datasette(db_path, metadata_path, topics=topics)
    print(f"Browse the corpus at http://{host}:{port}/ (new stories)", flush=True)
    try:
        uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")
    except SystemExit as e:  # uvicorn exits 3 when it cannot start
        if e.code:
            raise TopicwatchError(f"cannot serve on {host}:{port} (see the message above)") from None
        raise
