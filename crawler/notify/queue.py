"""Queueing: what each `[[notify]]` target is to be told, written down before anything is sent.

`prepare` runs in one write transaction per target: it queues the stories stored since the
target last looked that match its topics, and writes each message (its text frozen, its
stable id) with a pending delivery per URL:
- `each`: one message per story; beyond `max_items`, one more listing the rest;
- `digest`: when a cron time (or its interval) has passed since the last digest, one message listing every
  story waiting, and the time of this digest (so a restart neither repeats nor skips one);
- `failures = true`: an alert per failed run and per flagged source (once per episode).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
from pathlib import Path

from sqlite_utils import Database

from crawler import faults
from crawler.config import ENV_VAR, Notify, Settings, expand_env
from crawler.cron import next_fire
from crawler.errors import ConfigError
from crawler.notify import compose, send
from crawler.notify.compose import Links, Message
from crawler.store import health
from crawler.store import notifications as store
from crawler.store.db import write_transaction

# ---------------------------------------------------------------- settings

def url_key(url: str) -> str:
    """A URL's identity in the corpus: a hash of it as written (its ${NAME}s unexpanded),
    so a rotated secret is the same receiver and no URL is ever stored."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def url_labels(target: Notify) -> list[tuple[str, str]]:
    """(url_key, '#2 mailto') per URL: how status and logs name a URL."""
    return [(url_key(u), f"#{i} {send.scheme(u)}") for i, u in enumerate(target.urls, 1)]


def unset_env(settings: Settings) -> list[ConfigError]:
    """One error per notify URL naming a ${NAME} that is not set in the environment."""
    return [ConfigError(settings.path, f"[[notify]] ({target.name}) urls",
                        f"URL #{i} uses ${{{missing[0]}}}, which is not set in the environment")
            for target in settings.notify for i, url in enumerate(target.urls, 1)
            if (missing := [n for n in ENV_VAR.findall(url) if n not in os.environ])]


def check(settings: Settings, unset_ok: bool = False) -> None:
    """Every notify URL, its ${NAME}s expanded, is one Apprise can use (else ConfigError);
    with `unset_ok`, a URL whose ${NAME} is not set is left for delivery to record as failed."""
    unset = unset_env(settings)
    if unset and not unset_ok:
        raise unset[0]
    for target in settings.notify:
        for i, url in enumerate(target.urls, 1):
            try:
                problem = send.check_url(expand_env(url))
            except KeyError:
                continue
            if problem:
                raise ConfigError(settings.path, f"[[notify]] ({target.name}) urls", f"URL #{i}: {problem}")


def links_for(settings: Settings) -> Links:
    return Links(settings.browse.base_url, Path(settings.corpus_path).stem)


def register(db: Database, settings: Settings) -> None:
    """Register the targets not seen before: what is stored from now on is new to them."""
    with write_transaction(db):
        for target in settings.notify:
            store.register_target(db, target.name)


# ---------------------------------------------------------------- queueing

def prepare(db: Database, settings: Settings, target: Notify, now: dt.datetime) -> None:
    """Queue new stories and write the messages that are due, in one transaction."""
    links = links_for(settings)
    with write_transaction(db):
        row = store.register_target(db, target.name)
        store.take_new_stories(db, target.name, target.topics)
        if target.mode == "each":
            stories = store.waiting_stories(db, target.name)
            _story_messages(db, settings, target, row["token"], stories, links)
        elif digest_due(target, row["last_digest"], now):
            _digest(db, settings, target, row["token"], links, now)
        if target.failures:
            _alerts(db, target, row, links)
    faults.reached("notify-queued")


def digest_due(target: Notify, last_digest: str | None, now: dt.datetime) -> bool:
    """Whether a cron time of the digest (or its interval) has passed since the last one was
    put together."""
    if target.mode != "digest" or not last_digest:
        return False
    fire = next_digest(target, dt.datetime.fromisoformat(last_digest))
    return fire is not None and fire <= now


# interval digests fall on multiples of their interval counted from here, as */N does in cron
# (every 240 minutes: 00:00, 04:00, 08:00 UTC...), so the daemon's timer and `digest_due`
# agree on the times whenever the last digest was put together
DIGEST_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def next_digest(target: Notify, last: dt.datetime) -> dt.datetime | None:
    """When the digest after the one put together at `last` is due: the first cron time, or
    multiple of `interval_minutes` from DIGEST_EPOCH, strictly after it."""
    if target.interval_minutes:
        step = target.interval_minutes * 60
        k = math.floor((last - DIGEST_EPOCH).total_seconds() / step) + 1
        return DIGEST_EPOCH + dt.timedelta(seconds=k * step)
    return next_fire(target.cron, last)


def _story_messages(db: Database, settings: Settings, target: Notify, token: str,
                    story_ids: list[int], links: Links) -> None:
    cards = store.story_cards(db, story_ids)
    ranked = sorted(cards, key=lambda c: (-len(c.other_sources), c.story_id))
    own, rest = ranked[:target.max_items], ranked[target.max_items:]
    for card in sorted(own, key=lambda c: c.story_id):
        message = compose.story_message(card, target.format, links)
        _add(db, target, f"tw.{token}.story-{card.story_id}", "story", message, [card.story_id])
    if rest:
        order = [t.name for t in settings.topics]
        message = compose.listing_message(rest, target.format, links, order, target.max_items,
                                          compose.more_title(rest))
        first = min(c.story_id for c in rest)
        _add(db, target, f"tw.{token}.more-{first}", "more", message, [c.story_id for c in rest])


def _digest(db: Database, settings: Settings, target: Notify, token: str, links: Links,
            now: dt.datetime) -> None:
    cards = store.story_cards(db, store.waiting_stories(db, target.name))
    when = now.astimezone(dt.UTC)
    store.set_last_digest(db, target.name, when.isoformat(timespec="seconds"))
    if not cards:
        return
    order = [t.name for t in settings.topics]
    message = compose.listing_message(cards, target.format, links, order, target.max_items,
                                      compose.digest_title(cards))
    _add(db, target, f"tw.{token}.digest-{when:%Y%m%dT%H%M%S}", "digest", message,
         [c.story_id for c in cards])


def _alerts(db: Database, target: Notify, row: dict, links: Links) -> None:
    token = row["token"]
    for run in store.failed_runs(db, row["since_run"]):
        _add(db, target, f"tw.{token}.run-{run['id']}", "alert",
             compose.run_alert(run, target.format, links))
    for source in health.source_health(db, flagged_only=True):
        _add(db, target, f"tw.{token}.{flag_key(source)}", "alert",
             compose.source_alert(source, target.format, links))


def flag_key(row: dict) -> str:
    """One alert per episode: failing since the last success, quiet since the last article."""
    digest = hashlib.sha256(row["source"].encode("utf-8")).hexdigest()[:12]
    if row["consecutive_failures"] >= row["failure_threshold"]:
        since = row["last_success"] or "never"
        kind = "failing"
    else:
        since = row["last_new_article"] or "never"
        kind = "quiet"
    stamp = "".join(ch for ch in since if ch.isalnum())
    return f"source-{digest}-{kind}-{stamp}"


def _add(db: Database, target: Notify, key: str, kind: str, message: Message,
         story_ids: list[int] | None = None) -> None:
    store.add_message(db, target.name, kind, key, message.as_row(), url_labels(target),
                      story_ids or [])


