"""One daemon per corpus: an exclusive `flock` on `<corpus>.lock`.

`flock` locks belong to the open file, so the kernel drops them when the process dies, however it
dies: a lock left by `kill -9` never blocks the next start, and no pid-file staleness check is
needed.  The pid written into the file is only for the message.  The file is never deleted:
unlinking a lock file lets two processes lock two different inodes under the same name.
Python opens files non-inheritable, so crawl child processes do not keep the lock alive.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from crawler.errors import LockedError


def lock_path(corpus: str | Path) -> Path:
    corpus = Path(corpus)
    return corpus.with_name(corpus.name + ".lock")


class CorpusLock:
    """`with CorpusLock(corpus):` holds the corpus for this process or raises LockedError."""

    def __init__(self, corpus: str | Path):
        self.path = lock_path(corpus)
        self.fd: int | None = None

    def acquire(self, attempts: int = 3) -> None:
        """Take the lock; a few quick retries cover a `status` probe holding it for an instant."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        for attempt in range(attempts):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == attempts - 1:
                    pid = _read_pid(fd)
                    os.close(fd)
                    raise LockedError(
                        f"another topicwatch daemon (pid {pid or 'unknown'}) is running on this "
                        f"corpus: it holds {self.path}. Stop it first (kill -TERM {pid or '<pid>'})."
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> CorpusLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def lock_holder(corpus: str | Path) -> int | None:
    """The pid of the daemon holding the corpus lock, or None when no daemon runs."""
    path = lock_path(corpus)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(fd) or -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    except (ValueError, OSError):
        return None
