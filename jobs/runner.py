"""Run one crawl in a child process: `python -m crawler crawl --no-ingest --run-id N ...`.

Twisted's reactor cannot be restarted in one process (scrapy/scrapy#5026), so every crawl gets a
fresh interpreter.  The child runs in its own process group, so a Ctrl-C in the daemon's
terminal reaches only the daemon, which forwards one SIGTERM (Scrapy then closes the spider
gracefully; a second signal would make it stop uncleanly).  On Linux the child also receives
SIGKILL when the daemon dies, so a `kill -9` of the daemon never leaves an orphan crawl writing
to the corpus while a new daemon starts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crawler.config import Schedule

STDERR_TAIL_LINES = 15
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ChildResult:
    returncode: int
    stderr_tail: str

    @property
    def describe(self) -> str:
        """The exit in words: 'exit 2' or 'killed by SIGKILL'."""
        if self.returncode < 0:
            try:
                return f"killed by {signal.Signals(-self.returncode).name}"
            except ValueError:
                return f"killed by signal {-self.returncode}"
        return f"exit {self.returncode}"


def crawl_command(settings_path: Path, run_id: int, schedule: Schedule) -> list[str]:
    cmd = [sys.executable, "-m", "crawler", "crawl", "--settings", str(settings_path),
           "--run-id", str(run_id), "--trigger", f"schedule:{schedule.name}", "--no-ingest"]
    for name in schedule.sources:
        cmd += ["--source", name]
    for name in schedule.topics:
        cmd += ["--topic", name]
    return cmd


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name else None


_LIBC = _load_libc()


def run_child(cmd: list[str], on_start: Callable[[subprocess.Popen], None] | None = None) -> ChildResult:
    """Run `cmd`, keeping the last lines of its stderr; `on_start` gets the process (to forward
    signals)."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            env={**os.environ, "COLUMNS": "1000"},  # rich must not wrap the error lines we keep
            process_group=0, preexec_fn=_die_with_parent if _LIBC else None,
        )
        if on_start:
            on_start(proc)
        proc.wait()
        err.seek(0)
        tail = _tail(err.read())
    return ChildResult(proc.returncode, tail)


def _tail(data: bytes, lines: int = STDERR_TAIL_LINES) -> str:
    text = data.decode("utf-8", errors="replace").rstrip()
    return "\n".join(text.splitlines()[-lines:])
