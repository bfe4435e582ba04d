"""Crash points for the crash tests, read from one environment variable in one place.

`TOPICWATCH_CRASH_AT=ingest:3` makes this process kill itself with SIGKILL right after it has
committed its third ingested item: the moment a test cannot pick from outside, since ingest
commits hundreds of items a second.  The notification points: `notify-queued` (a target's
messages written, nothing sent), `notify-sending` (a delivery marked sending, not yet sent),
`notify-sent` (the receiver acknowledged, not yet recorded), `notify-recorded` (recorded).  Crashes in the middle of a crawl need no help: the tests
send SIGKILL themselves once the corpus shows what they wait for.  Nothing sets the variable
outside tests; unset, `reached` costs a dictionary lookup.

`TOPICWATCH_PAGE_FAULT=kill:/die.html,hang:/hang.html` makes the process that analyses a page
whose URL contains `/die.html` kill itself (SIGKILL), and one analysing `/hang.html` sleep for
an hour: a worker that dies or hangs on one page, for the worker-pool tests.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

ENV = "TOPICWATCH_CRASH_AT"
PAGE_ENV = "TOPICWATCH_PAGE_FAULT"
_passed: Counter[str] = Counter()


def reached(point: str) -> None:
    """Count one passage through `point`; die here if the environment asks for it."""
    wanted, _, times = os.environ.get(ENV, "").partition(":")
    if wanted != point:
        return
    _passed[point] += 1
    if _passed[point] >= int(times or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def page_reached(url: str) -> None:
    """Die or hang on a page the environment names (see the module docstring)."""
    wanted = os.environ.get(PAGE_ENV)
    if not wanted:
        return
    for fault in wanted.split(","):
        action, _, part = fault.partition(":")
        if part and part in url:
            if action == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            elif action == "hang":
                time.sleep(3600)
