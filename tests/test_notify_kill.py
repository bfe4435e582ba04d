"""kill -9 during a notification pass, at each point that matters, in a real process:
`python -m crawler notify` killed by `TOPICWATCH_CRASH_AT` (crawler/faults.py), then run
again.  Nothing is lost; only a delivery caught between the receiver's answer and its commit
is sent again, with the same id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from receivers import HookReceiver
from test_notify import registered_corpus, target, write_settings

from crawler import faults
from jobs.state import status_report

ROOT = Path(__file__).resolve().parent.parent


def notify_process(settings: Path, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != faults.ENV}
    if crash_at:
        env[faults.ENV] = crash_at
    return subprocess.run([sys.executable, "-m", "crawler", "notify", "--settings", str(settings)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)


# point -> (messages received before the kill, sends left in doubt, the id received twice)
POINTS = {
    "notify-queued:1": (0, 0, None),  # written, nothing sent
    "notify-sending:2": (1, 1, None),  # the 2nd marked sending, never sent
    "notify-sent:2": (2, 1, 1),  # the 2nd acknowledged, not recorded: sent again
    "notify-recorded:2": (2, 0, None),  # the 2nd recorded
}


@pytest.mark.parametrize("point", [  # three processes each: the central case in the fast suite
    pytest.param(p, marks=() if p.startswith("notify-sent") else pytest.mark.slow) for p in POINTS])
def test_kill_9_during_a_pass_loses_nothing_and_repeats_only_the_unrecorded(
        tmp_path: Path, point: str) -> None:
    received_before, in_doubt, repeated = POINTS[point]
    with HookReceiver() as hook:
        s = write_settings(tmp_path, target("team", hook.url()))
        db, _ = registered_corpus(s)
        killed = notify_process(s.path, point)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert len(hook.posts) == received_before
        assert status_report(db, s)["notify"][0]["in_doubt"] == in_doubt
        again = notify_process(s.path)
        assert again.returncode == 0, again.stderr
        ids = hook.ids
        assert len(set(ids)) == 4  # every story told
        twice = [i for i, n in Counter(ids).items() if n > 1]
        assert twice == ([ids[repeated]] if repeated is not None else [])
        assert len(ids) == 4 + len(twice)
        assert notify_process(s.path).returncode == 0 and len(hook.ids) == len(ids)
    st = status_report(db, s)["notify"][0]
    assert (st["sent"], st["pending"], st["in_doubt"], st["failing"]) == (4, 0, 0, 0)
