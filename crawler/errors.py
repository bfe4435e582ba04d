"""The project's exceptions and exit codes: one small tree, turned into a message and an exit
code at the command line, and `ExitCode`, the one table of exit codes (the README prints the
same table; tests/test_exit_codes.py makes each happen).

    TopicwatchError            exit 1: something topicwatch could not do
    ├── ConfigError            exit 2: settings.toml or the command line names something wrong
    ├── LockedError            exit 3: another daemon holds the corpus
    ├── NothingFetched         exit 4: a crawl could fetch nothing at all (every source failed)
    ├── SourcesFailed          exit 5: the crawl finished, but some sources failed
    ├── PathError              exit 6: a file or folder problem (the message names the path)
    │   └── CorpusError        ...the corpus file: not SQLite, read-only, its folder unwritable
    └── Rejected               a stage turned a page or document away: data, not a failure
        ├── NotAnArticle       extraction: empty, too-short, list-page, error-page, not-html
        └── SourceError        a feed, sitemap or listing that cannot be read as one

A `Rejected` page becomes a `skipped` row with its reason and the crawl goes on; only when a
single page was asked for (`topicwatch topics --explain`) does it reach the command line.
"""

from __future__ import annotations

import difflib
import signal
from collections.abc import Iterable
from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Every exit code of `topicwatch`, with the meaning the README's table gives it."""

    OK = 0  # success
    ERROR = 1  # something else topicwatch could not do (a page that is not an article, a port in use)
    SETTINGS = 2  # invalid settings.toml or command line: an unknown key, source or topic name
    LOCKED = 3  # another daemon holds the corpus lock; another crawl of it is running
    NOTHING_FETCHED = 4  # a crawl fetched nothing: every source failed (offline: all DNS)
    SOURCES_FAILED = 5  # the crawl finished but some sources failed; `sources --check` found problems
    PATH = 6  # a file or folder problem: the corpus is not SQLite, read-only, missing; a missing folder
    INTERRUPTED = 128 + signal.SIGINT  # 130: Ctrl-C (SIGINT); a crawl keeps and ingests what it found
    TERMINATED = 128 + signal.SIGTERM  # 143: SIGTERM; a crawl keeps and ingests what it found
    PIPE_CLOSED = 128 + signal.SIGPIPE  # 141: the reader of the output went away (`export | head`)

    @classmethod
    def for_signal(cls, signum: int) -> ExitCode:
        return cls.TERMINATED if signum == signal.SIGTERM else cls.INTERRUPTED


class TopicwatchError(Exception):
    """Base of every error topicwatch raises on purpose."""

    exit_code: int = ExitCode.ERROR


class ConfigError(TopicwatchError):
    """settings.toml is missing or invalid; the message names the file and the key."""

    exit_code = ExitCode.SETTINGS

    def __init__(self, path: str | Path, key: str | None, problem: str):
        self.path, self.key, self.problem = Path(path), key, problem
        where = f"{self.path}: {key}" if key else f"{self.path}"
        super().__init__(f"{where}: {problem}")


class LockedError(TopicwatchError):
    """Another daemon holds the corpus lock."""

    exit_code = ExitCode.LOCKED


class NothingFetched(TopicwatchError):
    """A crawl could fetch nothing at all: every source failed."""

    exit_code = ExitCode.NOTHING_FETCHED


class SourcesFailed(TopicwatchError):
    """The crawl (or check) went through, but some sources failed; the message names them."""

    exit_code = ExitCode.SOURCES_FAILED


class PathError(TopicwatchError):
    """A file or folder topicwatch cannot use: `<path>: <problem>`, one line."""

    exit_code = ExitCode.PATH

    def __init__(self, path: str | Path, problem: str):
        self.path, self.problem = Path(path), problem
        super().__init__(f"{self.path}: {problem}")


class CorpusError(PathError):
    """The corpus file cannot be opened or written as needed."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' (did you mean X?)' when `name` looks like a misspelling of a known name, else ''."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


class Rejected(TopicwatchError):
    """A page or document a stage turned away; `reason` is the `skipped.reason` it gets."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def __reduce__(self) -> tuple:
        # rebuilt from its own arguments when it comes back from a worker process
        return (type(self), (self.reason, self.detail))


class NotAnArticle(Rejected):
    """The page is not an article: empty, too-short, list-page, error-page or not-html."""

    def __str__(self) -> str:
        return f"not an article ({self.reason})" + (f": {self.detail}" if self.detail else "")


class SourceError(Rejected):
    """A feed, sitemap or listing response that cannot be read as one."""

    def __init__(self, url: str, detail: str, reason: str = "bad-source") -> None:
        super().__init__(reason, detail)
        self.url = url

    def __reduce__(self) -> tuple:
        return (type(self), (self.url, self.detail, self.reason))

    def __str__(self) -> str:
        return f"{self.url}: {self.detail}"


class ProcessingTimeout(TopicwatchError):
    """A page or document whose processing worker ran past `[crawl] processing_timeout` or
    died (killed, out of memory, a crash in C code); the page gets `processing-timeout`."""

    def __reduce__(self) -> tuple:
        return (type(self), self.args)


class RemoteError(TopicwatchError):
    """The Redis that workers share cannot be reached or used; the message names its URL."""
