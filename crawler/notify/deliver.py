"""A notification pass: queue what is new for each `[[notify]]` target, then send it.

`deliver` is what a crawl, the daemon and `topicwatch notify` run.  It takes
`<corpus>.notify.lock` (an `flock`, released by the kernel if the process dies), so a manual
crawl beside the daemon never sends the same message twice at once; then per target it runs
`queue.prepare` and sends every unacknowledged delivery, oldest first: marked `sending`
(committed), sent, then `sent` or `failed` (committed).  A URL that fails is not tried again
in this pass; its deliveries wait for the next pass (the next run).

Guarantees: a message is written before it is sent, so a kill at any point loses none; a
delivery is marked sent in the transaction that follows the receiver's acknowledgement, so it
is never sent again - except when the process dies in the instant between the two, or the
receiver got the message but Apprise reported a failure or a timeout: then it is sent again,
with the same id (at least once; never silently lost).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from crawler import faults
from crawler.config import ENV_VAR, Notify, Settings, expand_env
from crawler.errors import ConfigError
from crawler.notify import compose, send
from crawler.notify.compose import Message
from crawler.notify.queue import links_for, prepare, url_key, url_labels
from crawler.store import notifications as store
from crawler.store.db import write_transaction


@dataclass
class TargetReport:
    """What one pass did for one target; `errors` name URLs by position, scrubbed of secrets."""

    name: str
    sent: int = 0
    failed: int = 0
    waiting: int = 0  # not tried in this pass: their URL had just failed
    errors: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- sending

def deliver(db: Database, settings: Settings, now: dt.datetime | None = None,
            stop: Callable[[], bool] | None = None) -> list[TargetReport]:
    """One pass over every target: queue what is new, send what is unacknowledged; `stop`
    (the daemon's stop flag) ends it between two messages."""
    if not settings.notify:
        return []
    now = now or dt.datetime.now(dt.UTC)
    reports = []
    with sending_lock(settings.corpus_path):
        for target in settings.notify:
            prepare(db, settings, target, now)
            reports.append(send_pending(db, target, stop or (lambda: False)))
    return reports


def send_pending(db: Database, target: Notify, stop: Callable[[], bool]) -> TargetReport:
    report = TargetReport(target.name)
    urls = {url_key(u): u for u in target.urls}
    labels = dict(url_labels(target))
    with write_transaction(db):
        store.drop_removed_urls(db, target.name, list(urls))
    broken: set[str] = set()
    for d in store.pending_deliveries(db, target.name):
        if d["url_key"] in broken or stop():
            report.waiting += 1
            continue
        outcome = _send_one(db, target, d, urls[d["url_key"]])
        if outcome.ok:
            report.sent += 1
        else:
            report.failed += 1
            broken.add(d["url_key"])
            report.errors.append(f"URL {labels[d['url_key']]}: {outcome.error}")
    return report


def _send_one(db: Database, target: Notify, d: dict, url: str) -> send.Outcome:
    with write_transaction(db):
        store.mark_sending(db, d["message_id"], d["url_key"])
    faults.reached("notify-sending")
    message = Message(d["title"], d["body"], d["format"], d["type"])
    try:
        outcome = send.send(expand_env(url), message, d["key"])
    except KeyError as e:  # a ${NAME} this process was started without: tried again next pass
        outcome = send.Outcome(False, f"${{{e.args[0]}}} is not set in the environment")
    except Exception as e:  # a plugin bug must not end the pass: recorded like a failure
        outcome = send.Outcome(False, f"{type(e).__name__}: {e}")
    if outcome.ok:
        faults.reached("notify-sent")
    outcome = send.Outcome(outcome.ok, scrub(outcome.error, target)[:500])
    with write_transaction(db):
        store.mark_result(db, d["message_id"], d["url_key"], outcome.ok, outcome.error)
    faults.reached("notify-recorded")
    return outcome


def scrub(text: str, target: Notify) -> str:
    """`text` without the target's URLs or the values of the ${NAME}s they use."""
    hidden = list(target.urls) + [os.environ.get(n, "") for u in target.urls for n in ENV_VAR.findall(u)]
    for url in target.urls:
        try:
            hidden.append(expand_env(url))
        except KeyError:
            pass
    for secret in sorted((s for s in hidden if len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# ---------------------------------------------------------------- dry run and test

class _Rollback(Exception):
    pass


def dry_run(db: Database, settings: Settings,
            now: dt.datetime | None = None) -> list[tuple[Notify, list[dict], int]]:
    """What a pass would send now, per target: its unacknowledged deliveries (new ones
    included) and how many stories wait for a digest.  `prepare` runs in a transaction that
    is rolled back, so nothing is recorded."""
    now = now or dt.datetime.now(dt.UTC)
    found = []
    try:
        with write_transaction(db):
            for target in settings.notify:
                prepare(db, settings, target, now)
                found.append((target, store.pending_deliveries(db, target.name),
                              len(store.waiting_stories(db, target.name))))
            raise _Rollback
    except _Rollback:
        pass
    return found


def send_test(settings: Settings, name: str) -> list[tuple[str, send.Outcome]]:
    """A test message to every URL of the target `name`: (label, outcome) per URL."""
    target = next((t for t in settings.notify if t.name == name), None)
    if target is None:
        known = ", ".join(t.name for t in settings.notify) or "none"
        raise ConfigError(settings.path, f"--test {name}", f"no such [[notify]] target (known: {known})")
    message = compose.test_message(name, target.format, links_for(settings))
    results = []
    for (_, label), url in zip(url_labels(target), target.urls, strict=True):
        outcome = send.send(expand_env(url), message, f"tw.test.{secrets.token_hex(4)}")
        results.append((label, send.Outcome(outcome.ok, scrub(outcome.error, target))))
    return results


@contextmanager
def sending_lock(corpus: Path) -> Iterator[None]:
    """One notification pass at a time per corpus (a crawl beside the daemon waits)."""
    path = Path(f"{corpus}.notify.lock")
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
