"""The project's exceptions: a small hierarchy turned into messages and exit codes at the CLI."""

from __future__ import annotations

from pathlib import Path


class TopicwatchError(Exception):
    """Base of every error topicwatch raises on purpose."""

    exit_code = 1


class ConfigError(TopicwatchError):
    """settings.toml is missing or invalid; the message names the file and the key."""

    exit_code = 2

    def __init__(self, path: str | Path, key: str | None, problem: str):
        self.path, self.key, self.problem = Path(path), key, problem
        where = f"{self.path}: {key}" if key else f"{self.path}"
        super().__init__(f"{where}: {problem}")


class LockedError(TopicwatchError):
    """Another daemon holds the corpus lock."""

    exit_code = 3


class NothingFetched(TopicwatchError):
    """A crawl could fetch nothing at all: every source failed."""

    exit_code = 4
