"""One daemon per corpus: an exclusive `flock` on `<corpus>.lock` (crawler/locks.py says how
the locks work; crawls hold `<corpus>.crawl.lock` besides)."""

from __future__ import annotations

from pathlib import Path

from crawler.locks import FileLock, beside, holder


def lock_path(corpus: str | Path) -> Path:
    return beside(corpus, ".lock")


class CorpusLock(FileLock):
    """`with CorpusLock(corpus):` holds the corpus for this daemon or raises LockedError."""

    def __init__(self, corpus: str | Path):
        path = lock_path(corpus)
        super().__init__(path, lambda pid: (
            f"another topicwatch daemon (pid {pid or 'unknown'}) is running on this "
            f"corpus: it holds {path}. Stop it first (kill -TERM {pid or '<pid>'})."))


def lock_holder(corpus: str | Path) -> int | None:
    """The pid of the daemon holding the corpus lock, or None when no daemon runs."""
    return holder(lock_path(corpus))
