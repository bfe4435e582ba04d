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
