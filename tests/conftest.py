"""Shared pytest fixtures. The fixture news site starts in ~20 ms, so it is function-scoped:
each test gets a fresh request log and unmodified pages and feeds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fixturesite import FixtureSite


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
