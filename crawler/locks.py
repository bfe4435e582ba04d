"""Advisory locks on files beside the corpus: an exclusive `flock`.

`flock` locks belong to the open file, so the kernel drops them when the process dies, however
it dies: a lock left by `kill -9` never blocks the next start, and no pid-file staleness check
is needed.  The pid written into the file is only for the message.  The file is never deleted:
unlinking a lock file lets two processes lock two different inodes under the same name.
Python opens files non-inheritable, so child processes do not keep a lock alive.

Two locks per corpus: `<corpus>.lock`, held by the daemon for its life (jobs/lock.py), and
`<corpus>.crawl.lock`, held by each `topicwatch crawl` while it crawls (the daemon's crawls
included), so two crawls of one corpus never fetch the same pages side by side.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from crawler.errors import LockedError


def beside(corpus: str | Path, suffix: str) -> Path:
    corpus = Path(corpus)
    return corpus.with_name(corpus.name + suffix)


class FileLock:
    """`with FileLock(path, busy):` holds `path` for this process; when another holds it,
    LockedError(busy(its pid)), or with `wait`, waits for it (`waiting(pid)` said once)."""

    def __init__(self, path: Path, busy: Callable[[int | None], str]):
        self.path, self.busy = path, busy
        self.fd: int | None = None

    def acquire(self, attempts: int = 3, wait: bool = False,
                waiting: Callable[[int | None], None] | None = None) -> None:
        """Take the lock; a few quick retries cover a probe holding it for an instant."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        attempt = 0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                attempt += 1
                if attempt >= attempts and not wait:
                    pid = read_pid(fd)
                    os.close(fd)
                    raise LockedError(self.busy(pid)) from None
                if attempt == attempts and waiting is not None:
                    waiting(read_pid(fd))
                time.sleep(0.1 if attempt < attempts else 0.5)
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

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def holder(path: Path) -> int | None:
    """The pid of the process holding the lock at `path` (-1 when it wrote none), or None."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return read_pid(fd) or -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    except (ValueError, OSError):
        return None


def crawl_lock(corpus: str | Path) -> FileLock:
    """The lock a crawl of `corpus` holds while it crawls."""
    path = beside(corpus, ".crawl.lock")
    return FileLock(path, lambda pid: (
        f"another crawl of this corpus is running (pid {pid or 'unknown'}): it holds {path}. "
        "Wait for it to finish; two crawls side by side would fetch the same pages."))
