"""`topicwatch daemon`: crawl on the `[[schedules]]` of settings.toml until stopped.

Threads and processes, and why:
- APScheduler's BackgroundScheduler only decides *when*: its job puts the schedule's name on a
  queue.  The main thread takes names off the queue and runs each cycle, so the corpus
  connection, the child process and the signal handlers all live in one thread.  A schedule
  that fires while its previous run is still waiting or running is skipped (the effect of
  max_instances = 1 and coalesce = True on a job that only enqueues).
- Each crawl is a child process (jobs/runner.py); the daemon then ingests the spool itself with
  one long-lived Ingester, whose near-duplicate index stays in memory across cycles.
- SIGTERM / SIGINT only set a flag and forward SIGTERM to the crawl in flight (APScheduler 3
  installs no handlers).  The crawl closes gracefully, its spool is ingested, the daemon exits 0.
- With `[daemon] crawls = "redis"` a schedule that fires only puts its sources in the Redis
  frontier of `[redis] url` (`topicwatch worker` processes, anywhere, crawl them), and between
  cycles the main thread drains the Redis stream of found items into the corpus
  (crawler/remote/spool.py): the corpus still has one writer.  No run rows are written for
  such schedules; the schedule's state says when it was enqueued.
- `[[notify]]` targets get a notification pass after start-up and after every cycle, on the
  main thread too; a digest's cron only queues a pass (the pass sends the digests that are
  due, from the time of the last one kept in the corpus, so a restart neither repeats nor
  skips one).  A stop signal ends a pass between two messages: the rest go at the next start.
"""

from __future__ import annotations

import datetime as dt
import logging
import logging.handlers
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlite_utils import Database

from crawler.config import Schedule, Settings
from crawler.cron import cron_trigger
from crawler.errors import ConfigError, ExitCode
from crawler.records import RunStatus
from crawler.store import health, runs, schedules
from crawler.store.db import now, open_db
from crawler.store.ingest import Ingester, IngestStats
from jobs.lock import CorpusLock
from jobs.runner import ChildResult, crawl_command, run_child
from jobs.schedule import build_trigger, missed_run

log = logging.getLogger("topicwatch.daemon")


def run_daemon(settings: Settings) -> int:
    """Hold the corpus lock and run until SIGTERM / SIGINT; returns the exit code."""
    if not settings.schedules:
        raise ConfigError(settings.path, "[[schedules]]", "the daemon needs at least one schedule")
    setup_logging(settings)
    open_db(settings.corpus_path).close()  # a corpus problem is one line, before the lock
    with CorpusLock(settings.corpus_path) as lock:
        log.info("daemon pid %d holds %s", os.getpid(), lock.path)
        return Daemon(settings).run()


def setup_logging(settings: Settings) -> None:
    """stderr, plus a file rotated at midnight and kept 14 days when `[daemon] log_file` is set."""
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, "_topicwatch", False)]:
        root.removeHandler(h)
        h.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if settings.daemon.log_file:
        handlers.append(_log_file_handler(settings))
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for h in handlers:
        h.setFormatter(fmt)
        h._topicwatch = True  # type: ignore[attr-defined]
        root.addHandler(h)
    level = getattr(logging, settings.daemon.log_level)
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))


def _log_file_handler(settings: Settings) -> logging.Handler:
    """The `[daemon] log_file` handler, opened now: a file that cannot be written (a directory,
    a read-only place) is a settings error at start-up, not a traceback or a silent stderr-only
    daemon.  A relative path is relative to the settings file."""
    path = Path(settings.daemon.log_file).expanduser()
    path = path if path.is_absolute() else settings.path.parent / path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return logging.handlers.TimedRotatingFileHandler(
            path, when="midnight", backupCount=14, encoding="utf-8")
    except OSError as e:
        raise ConfigError(settings.path, "[daemon] log_file",
                          f"cannot write the log file {path}: {_why(e, path)}") from e


def _why(e: OSError, path: Path) -> str:
    """The OS error in words, naming the folder at fault when it is not the log file itself."""
    if isinstance(e, FileExistsError):  # mkdir met a file where a folder should be
        return f"{e.filename} is not a directory"
    other = e.filename and str(e.filename) != str(path)
    return f"{e.strerror or e}" + (f" ({e.filename})" if other else "")


class Daemon:
    """One daemon: the corpus connection, the Ingester, the scheduler and the crawl in flight."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.settings_path = settings.path.resolve()
        self.schedules: dict[str, Schedule] = {s.name: s for s in settings.schedules}
        self.db: Database = open_db(settings.corpus_path)
        self.ingester: Ingester | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.due: queue.Queue[tuple[str, str]] = queue.Queue()  # ("crawl", schedule) or ("notify", "")
        self.busy: set[str] = set()
        self.busy_lock = threading.Lock()
        self.child: subprocess.Popen | None = None
        self.stop_signals = 0  # set by the signal handler only: no locks there
        self.forwarded = False
        self.redis = None  # [daemon] crawls = "redis": (Shared, RedisSpool)

    # ------------------------------------------------------------ life cycle

    def run(self) -> int:
        self.install_signal_handlers()
        self.open()
        self.ingest("start-up")
        self.notify("start-up")  # what a stopped daemon left unsent, digests missed meanwhile
        if not self.stop_signals:
            self.start_scheduler()
            self.serve()
        self.shutdown()
        return 0

    def open(self) -> None:
        """Shape the corpus, close the runs a killed process left open, make the Ingester."""
        health.refresh_source_settings(self.db, self.settings)
        n = runs.mark_interrupted_runs(self.db)
        if n:
            log.warning("%d run(s) left 'running' by a stopped process marked interrupted", n)
        schedules.settle_schedule_states(self.db, list(self.schedules))
        self.ingester = Ingester(self.db, self.settings.dedup)
        if self.settings.daemon.crawls == "redis":
            self.open_redis()
        if self.settings.notify:
            from crawler.notify.queue import check, register

            check(self.settings)
            register(self.db, self.settings)

    def open_redis(self) -> None:
        """Connect to the fleet's Redis, publish the stored URLs, join the ingest group."""
        from crawler.remote.shared import Shared, connect
        from crawler.remote.spool import RedisSpool, seed_stored

        shared = Shared(connect(self.settings.redis.url), self.settings.redis.prefix)
        n = seed_stored(self.db, shared)
        spool = RedisSpool(shared, block_seconds=0.5,
                           stop=lambda: bool(self.stop_signals) or not self.due.empty())
        spool.ensure_group()
        self.redis = (shared, spool)
        log.info("crawls go to the workers of %s (%d stored URLs published)",
                 self.settings.redis.url, n)

    def drain_redis(self) -> None:
        """Ingest what the workers found, until the stream is quiet or a cycle is due."""
        if self.redis is None or self.stop_signals:
            return
        assert self.ingester is not None
        spool = self.redis[1]
        try:
            stats = self.ingester.ingest(spool)
            spool.flush()
        except Exception:  # Redis away for a while: say so, go on, try again
            log.exception("ingesting from %s failed; retrying", self.settings.redis.url)
            time.sleep(2)
            return
        if stats.new or stats.duplicates:
            log.info("workers: ingested %d new, %d duplicates", stats.new, stats.duplicates)
            self.notify("workers")

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.on_signal)

    def on_signal(self, signum: int, frame: object) -> None:
        """Stop after the crawl in flight; forward the signal so that crawl stops soon."""
        self.stop_signals += 1
        child = self.child
        if child is not None and child.returncode is None:
            self.forwarded = True
            try:
                os.kill(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def start_scheduler(self) -> None:
        """Add one job per schedule (id = name); queue once each run missed within the grace."""
        grace = self.settings.daemon.misfire_grace_seconds
        self.scheduler = BackgroundScheduler(job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": grace})
        states = schedules.schedule_states(self.db)
        now = dt.datetime.now(dt.UTC)
        for s in self.settings.schedules:
            last = _parse_time(states.get(s.name, {}).get("last_run"))
            due, following = missed_run(s, last, now, grace)
            if last is None and s.interval_minutes:
                following = now  # never run: the first interval run starts at once
            extra = {"next_run_time": following} if following else {}
            self.scheduler.add_job(self.enqueue, build_trigger(s), args=[s.name], id=s.name,
                                   name=s.name, replace_existing=True, **extra)
            if due is not None:
                log.info("schedule %s: a run was due at %s while the daemon was stopped: "
                         "running it now", s.name, due.isoformat(timespec="seconds"))
                self.enqueue(s.name)
        for target in self.settings.notify:
            if target.mode == "digest":
                from crawler.notify.queue import DIGEST_EPOCH

                trigger = (cron_trigger(target.cron) if target.cron
                           else IntervalTrigger(seconds=target.interval_minutes * 60,
                                                start_date=DIGEST_EPOCH))
                self.scheduler.add_job(self.enqueue_notify, trigger,
                                       id=f"notify:{target.name}", name=f"digest {target.name}",
                                       replace_existing=True)
        self.scheduler.start()
        self.save_next_runs()

    def serve(self) -> None:
        log.info("daemon ready: %d schedule(s)", len(self.schedules))
        while not self.stop_signals:
            try:
                kind, name = self.due.get(timeout=0.5)
            except queue.Empty:
                self.drain_redis()
                continue
            if kind == "crawl":
                self.run_cycle(name)
            self.notify(f"schedule {name}" if name else "digest")

    def run_cycle(self, name: str) -> None:
        try:
            self.cycle(self.schedules[name])
        except Exception:  # a bad cycle (say, the corpus busy too long) must not end the daemon
            log.exception("schedule %s: the cycle failed; waiting for the next one", name)
        finally:
            with self.busy_lock:
                self.busy.discard(name)

    def shutdown(self) -> None:
        log.info("stopping (signal received): no new crawls")
        self.save_next_runs()  # the planned next runs, shown by `status` while stopped
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        self.ingest("shutdown")
        log.info("daemon stopped cleanly")

    # ------------------------------------------------------------ one cycle

    def enqueue(self, name: str) -> None:
        """The scheduler's job: hand the schedule to the main thread unless it is already busy."""
        with self.busy_lock:
            if name in self.busy:
                log.warning("schedule %s fired while its previous run is not done: skipped", name)
                return
            self.busy.add(name)
        self.due.put(("crawl", name))

    def enqueue_notify(self) -> None:
        """A digest's cron job: a notification pass on the main thread."""
        self.due.put(("notify", ""))

    def notify(self, label: str) -> None:
        """A notification pass; what fails is recorded, logged and retried at the next pass."""
        if not self.settings.notify or self.stop_signals:
            return
        from crawler.notify.deliver import deliver

        try:
            reports = deliver(self.db, self.settings, stop=lambda: bool(self.stop_signals))
        except Exception:
            log.exception("%s: the notification pass failed; it is retried after the next run", label)
            return
        for r in reports:
            if r.sent or r.failed or r.waiting:
                log.info("%s: notify %s: %d message(s) delivered, %d not delivered", label, r.name,
                         r.sent, r.failed + r.waiting)
            for error in r.errors:
                log.warning("notify %s: %s; retried at the next pass", r.name, error)

    def cycle(self, schedule: Schedule) -> None:
        """Crawl in a child process, settle the run row, ingest the spool, persist the state."""
        if self.stop_signals:
            return
        sources = [s.name for s in self.settings.select_sources(schedule.sources)]
        if self.redis is not None:
            n = self.redis[0].enqueue(sources)
            schedules.record_schedule_state(self.db, schedule.name, last_run=now(), last_run_id=None,
                                            last_status="enqueued", last_error=None)
            self.save_next_runs()
            log.info("schedule %s: %d source(s) put in the workers' frontier", schedule.name, n)
            return
        run_id = runs.start_run(self.db, f"schedule:{schedule.name}", sources, pid=os.getpid())
        schedules.record_schedule_state(self.db, schedule.name, last_run=now(), last_run_id=run_id,
                                        last_status=RunStatus.RUNNING, last_error=None)
        log.info("run %d (schedule %s): crawling %d source(s)", run_id, schedule.name, len(sources))
        self.forwarded = False
        try:
            result = run_child(crawl_command(self.settings_path, run_id, schedule),
                               on_start=self._child_started)
            self.child = None
            status, error = self.settle_run(run_id, result, sources)
            self.ingest(f"run {run_id}")
        except Exception as e:
            status, error = RunStatus.FAILED, f"the daemon failed during the cycle: {type(e).__name__}: {e}"
            runs.finish_run(self.db, run_id, status, error)
            schedules.record_schedule_state(self.db, schedule.name, last_status=status, last_error=error)
            raise
        schedules.record_schedule_state(self.db, schedule.name, last_status=status, last_error=error)
        self.save_next_runs()
        run = runs.get_run(self.db, run_id)
        log.info("run %d (schedule %s): %s, %d new, %d duplicates, %d errors%s", run_id,
                 schedule.name, status, run["new"], run["duplicates"], run["errors"] or 0,
                 "; " + failed_line(self.db, run_id) if runs.failed_sources(self.db, run_id) else "")

    def _child_started(self, proc: subprocess.Popen) -> None:
        self.child = proc
        if self.stop_signals:  # a signal came between the cycle start and the spawn
            self.on_signal(signal.SIGTERM, None)

    def settle_run(self, run_id: int, result: ChildResult, sources: list[str]) -> tuple[str, str | None]:
        """The run's final status; a crashed child's run becomes 'failed' with its stderr, and
        each of its sources gets a failed source_runs row (health counts it)."""
        status = runs.get_run(self.db, run_id)["status"]
        if self.forwarded:
            error = "the daemon was stopped during the crawl; what was spooled was ingested"
            runs.finish_run(self.db, run_id, RunStatus.INTERRUPTED, error)
            return RunStatus.INTERRUPTED, error
        if result.returncode in (ExitCode.OK, ExitCode.SOURCES_FAILED) and status != RunStatus.RUNNING:
            failed = runs.failed_sources(self.db, run_id)
            return status, failed_line(self.db, run_id) if failed else None
        if result.returncode == ExitCode.NOTHING_FETCHED and status == RunStatus.NOTHING_FETCHED:
            error = failed_line(self.db, run_id)
            runs.finish_run(self.db, run_id, status, error)
            return status, error
        error = f"crawl process {result.describe}: {result.stderr_tail}".strip()
        log.error("run %d failed: %s", run_id, error)
        with self.db.atomic():
            runs.finish_run(self.db, run_id, RunStatus.FAILED, error)
            runs.record_failed_sources(self.db, run_id, sources)
        return RunStatus.FAILED, error

    def ingest(self, label: str) -> IngestStats:
        assert self.ingester is not None
        stats = self.ingester.ingest()
        if stats.new or stats.duplicates:
            log.info("%s: ingested %d new, %d duplicates", label, stats.new, stats.duplicates)
        return stats

    def save_next_runs(self) -> None:
        if self.scheduler is None:
            return
        for name in self.schedules:
            job = self.scheduler.get_job(name)
            when = job.next_run_time if job else None
            schedules.record_schedule_state(
                self.db, name, next_run=when.astimezone(dt.UTC).isoformat(timespec="seconds") if when else None)


def failed_line(db: Database, run_id: int) -> str:
    """'2 of 5 source(s) failed: a (http-500), b (dns)': a run's errors on one log line."""
    failed = runs.failed_sources(db, run_id)
    named = ", ".join(f"{f['source']} ({f['reason'] or 'failed'})" for f in failed)
    return f"{len(failed)} of {runs.source_count(db, run_id)} source(s) failed: {named}"


def _parse_time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None
