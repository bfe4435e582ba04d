"""The project's exceptions: one small tree, turned into a message and an exit code at the CLI.

    TopicwatchError            exit 1: something topicwatch could not do
    ├── ConfigError            exit 2: settings.toml is missing or invalid (file, key, problem)
    ├── LockedError            exit 3: another daemon holds the corpus
    ├── NothingFetched         exit 4: a crawl could fetch nothing at all
    └── Rejected               a stage turned a page or document away: data, not a failure
        ├── NotAnArticle       extraction: empty, too-short, list-page, error-page, not-html
        └── SourceError        a feed, sitemap or listing that cannot be read as one

A `Rejected` page becomes a `skipped` row with its reason and the crawl goes on; only when a
single page was asked for (`topicwatch topics --explain`) does it reach the command line.
"""

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


class Rejected(TopicwatchError):
    """A page or document a stage turned away; `reason` is the `skipped.reason` it gets."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class NotAnArticle(Rejected):
    """The page is not an article: empty, too-short, list-page, error-page or not-html."""

    def __str__(self) -> str:
        return f"not an article ({self.reason})" + (f": {self.detail}" if self.detail else "")


class SourceError(Rejected):
    """A feed, sitemap or listing response that cannot be read as one."""

    def __init__(self, url: str, detail: str, reason: str = "bad-source") -> None:
        super().__init__(reason, detail)
        self.url = url

    def __str__(self) -> str:
        return f"{self.url}: {self.detail}"
