"""Crontab expressions as cron reads them.

APScheduler 3's `CronTrigger.from_crontab` numbers weekdays from Monday = 0
(agronholm/apscheduler#286) and rejects 7; a crontab counts from Sunday = 0 (and 7).
`standard_crontab` rewrites the weekday field with names, so '0 8 * * 1-5' means Monday to
Friday as in cron, for the daemon and for settings validation alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def standard_crontab(expr: str) -> str:
    """The same crontab with its weekday field in names, read with cron's Sunday = 0 or 7."""
    fields = expr.split()
    if len(fields) != 5 or fields[4] == "*":
        return expr
    days = sorted(_weekdays(fields[4]))
    return " ".join(fields[:4] + [",".join(DAY_NAMES[d] for d in days)])


def cron_trigger(expr: str) -> Any:
    """APScheduler 3's trigger for a crontab expression, weekdays read as cron reads them."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(standard_crontab(expr))


def next_fire(expr: str, after: dt.datetime) -> dt.datetime | None:
    """The first time strictly after `after` (to the second) at which cron runs `expr`, in
    the local time zone as the daemon's schedules are."""
    start = after.replace(microsecond=0) + dt.timedelta(seconds=1)
    return cron_trigger(expr).get_next_fire_time(None, start)


def _weekdays(field: str) -> set[int]:
    """Expand a crontab weekday field (numbers, names, ranges, steps, lists) to 0..6."""
    days: set[int] = set()
    for part in field.lower().split(","):
        rng, _, step = part.partition("/")
        if rng == "*":
            lo, hi = 0, 6
        else:
            lo_s, _, hi_s = rng.partition("-")
            lo = _day(lo_s)
            hi = _day(hi_s) if hi_s else (6 if step else lo)
            if hi_s and hi_s.strip() == "7":
                hi = 7
        days.update(d % 7 for d in range(lo, hi + 1, int(step or 1)))
    return days


def _day(token: str) -> int:
    token = token.strip()
    if token[:3] in DAY_NAMES:
        return DAY_NAMES.index(token[:3])
    n = int(token)
    if not 0 <= n <= 7:
        raise ValueError(f"weekday out of range: {token}")
    return n % 7 if n != 7 else 0
