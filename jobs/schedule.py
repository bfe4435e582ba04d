"""`[[schedules]]` -> APScheduler 3 triggers, and which runs were missed while the daemon was down.

Two details of APScheduler 3 handled here:
- `CronTrigger.from_crontab` numbers weekdays from Monday = 0 (agronholm/apscheduler#286); a
  crontab counts from Sunday = 0 (and 7).  `crawler.cron.standard_crontab` rewrites the weekday
  field with names, so '0 8 * * 1-5' means Monday to Friday as in cron.
- It knows nothing of runs missed before it started.  `missed_run` finds the latest run that was
  due since the persisted `last_run`; the daemon runs it once at start-up when it is within the
  misfire grace time (coalesced: one run however many were missed).
"""

from __future__ import annotations

import datetime as dt
import math

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.config import Schedule
from crawler.cron import standard_crontab


def build_trigger(schedule: Schedule, jitter: bool = True) -> BaseTrigger:
    """The APScheduler trigger of a schedule (jitter off for missed-run arithmetic)."""
    seconds = schedule.jitter_seconds if jitter and schedule.jitter_seconds else None
    if schedule.cron:
        trigger = CronTrigger.from_crontab(standard_crontab(schedule.cron))
        trigger.jitter = seconds
        return trigger
    return IntervalTrigger(seconds=schedule.interval_minutes * 60, jitter=seconds)


def missed_run(schedule: Schedule, last_run: dt.datetime | None, now: dt.datetime,
               grace_seconds: float) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(latest run due in (last_run, now] if within the grace time, else None;
    the next regular run after now, anchored on last_run for interval schedules, or None
    to let APScheduler choose)."""
    if last_run is None:
        return None, None
    if schedule.cron:
        due = _latest_cron_fire(schedule, last_run, now, grace_seconds)
        return due, None
    period = schedule.interval_minutes * 60
    k = math.floor((now - last_run).total_seconds() / period)
    due = last_run + dt.timedelta(seconds=k * period) if k >= 1 else None
    following = last_run + dt.timedelta(seconds=(max(k, 0) + 1) * period)
    if due is not None and (now - due).total_seconds() > grace_seconds:
        due = None
    return due, following


def _latest_cron_fire(schedule: Schedule, last_run: dt.datetime, now: dt.datetime,
                      grace_seconds: float) -> dt.datetime | None:
    """The latest cron time in (last_run, now] and not older than the grace time."""
    trigger = build_trigger(schedule, jitter=False)
    floor = max(last_run, now - dt.timedelta(seconds=grace_seconds))
    latest = None
    fire = trigger.get_next_fire_time(floor, floor)
    while fire is not None and fire <= now:
        if fire > last_run:
            latest = fire
        fire = trigger.get_next_fire_time(fire, fire)
    return latest
