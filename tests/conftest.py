"""Shared pytest fixtures.

- `site`: the three-host fixture news site on 127.0.0.1/.2/.3 (tests/fixturesite/), fresh for
  each test (it starts in ~20 ms): its own request log, unmodified pages and feeds.
- `site_settings`: settings.toml for crawling it into tmp_path/corpus.db, without topics.
- `db`: a new, migrated corpus file in tmp_path, opened with the store's own `open_db`.
- `corpus`: a small real corpus built once per session with the store's own write functions
  (tests/corpus_factory.py), for the tests that only read: browse, search, export, browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from corpus_factory import Corpus, build_corpus
from fixturesite import FixtureSite
from sqlite_utils import Database

from crawler.store.db import open_db


@pytest.fixture
def site() -> Iterator[FixtureSite]:
    """The three-host fixture site on 127.0.0.1/.2/.3; the slow path answers after 5 s."""
    with FixtureSite(slow_seconds=5.0) as running:
        yield running


@pytest.fixture
def site_settings(site: FixtureSite, tmp_path: Path) -> Path:
    """settings.toml for crawling the fixture site into tmp_path/corpus.db, without
    [[topics]]: a test appends the topics it wants to the returned file."""
    path = tmp_path / "settings.toml"
    path.write_text(site.settings_toml(tmp_path / "corpus.db"), encoding="utf-8")
    return path


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A new corpus file, created and migrated by the store."""
    database = open_db(tmp_path / "corpus.db")
    yield database
    database.close()


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """A small real corpus, shared by the tests that only read it."""
    return build_corpus(tmp_path_factory.mktemp("corpus") / "corpus.db")


@pytest.fixture
def url_code_raising_for(monkeypatch: pytest.MonkeyPatch):
    """`arm(url)`: ingest's URL code raises TypeError for that one page, a bug met on one item
    (fault injection; everything else is the real ingest)."""
    from crawler.store import ingest

    real = ingest.canonical_url

    def arm(bad_url: str) -> None:
        def broken(url: str, declared: str | None = None) -> str:
            if url == bad_url:
                raise TypeError("a bug met on this page")
            return real(url, declared)
        monkeypatch.setattr(ingest, "canonical_url", broken)
    return arm


# ---------------------------------------------------------------- a real Redis

@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """The URL of a real Redis: the one on 127.0.0.1:6379 when it answers, else a
    `redis-server` started on a free port for the session (no persistence)."""
    import shutil
    import socket
    import subprocess
    import time

    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
        yield "redis://127.0.0.1:6379/0"
        return
    except redis.RedisError:
        pass
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("these tests need a real Redis: none answers on 127.0.0.1:6379 and "
                    "redis-server is not installed (apt-get install redis-server; .ci/run "
                    "installs it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.RedisError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"redis-server on port {port} did not start (exit {proc.poll()})")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def redis_prefix(redis_server: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    import uuid

    import redis

    prefix = f"twtest-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_server)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
