"""What each `[[notify]]` target was told: the only writer of `notify_targets`,
`notify_stories`, `notify_messages` and `notify_deliveries` (crawler/notify/ decides what to
send; these functions record it).

- A target is registered the first time a crawl, the daemon or `topicwatch notify` sees it:
  stories and runs up to that moment are old news to it (`last_story`, `since_run`).
- Each story is queued for a target at most once (primary key (target, story_id)); the
  story cursor `last_story` moves in the same transaction, so a story is considered once.
- A message is written with its text and its stable key before anything is sent, with one
  delivery row per URL; a delivery goes pending -> sending (committed before the send) ->
  sent or failed (committed after it).  A delivery left `sending` by a killed process may or
  may not have reached its receiver: it is sent again, with the same key.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from sqlite_utils import Database

from crawler.records import RunStatus, StoryCard
from crawler.store.db import now

UNSENT = ("pending", "sending", "failed")
ALERT_RUN_STATUSES = (RunStatus.FAILED, RunStatus.NOTHING_FETCHED)


# ---------------------------------------------------------------- targets

def register_target(db: Database, name: str) -> dict[str, Any]:
    """The target's row, created (as of now: nothing stored so far is new to it) if unknown."""
    db.execute(
        "INSERT OR IGNORE INTO notify_targets (name, token, registered, since_run, last_story, "
        "last_digest) VALUES (?, ?, ?, (SELECT COALESCE(max(id), 0) FROM runs), "
        "(SELECT COALESCE(max(id), 0) FROM stories), ?)",
        [name, secrets.token_hex(4), now(), now()],
    )
    return target(db, name)


def target(db: Database, name: str) -> dict[str, Any]:
    return next(db.query("SELECT * FROM notify_targets WHERE name = ?", [name]))


def set_last_digest(db: Database, name: str, when: str) -> None:
    db.execute("UPDATE notify_targets SET last_digest = ? WHERE name = ?", [when, name])


# ---------------------------------------------------------------- stories

def take_new_stories(db: Database, name: str, topics: Sequence[str]) -> list[int]:
    """Queue the stories stored since the target last looked that match one of `topics`
    (any topic when empty) and move its cursor past all of them; returns the queued ids.
    Run inside a write transaction, so no story can commit in between."""
    last = target(db, name)["last_story"]
    upto = db.execute("SELECT COALESCE(max(id), 0) FROM stories").fetchone()[0]
    wanted = json.dumps(list(topics))
    ids = [r[0] for r in db.execute(
        """SELECT s.id FROM stories s WHERE s.id > ? AND s.id <= ? AND (json_array_length(?) = 0
             OR EXISTS (SELECT 1 FROM articles a, json_each(a.topics) t
                        WHERE a.story_id = s.id AND t.value IN (SELECT value FROM json_each(?))))
           ORDER BY s.id""", [last, upto, wanted, wanted])]
    for story_id in ids:
        db.execute("INSERT OR IGNORE INTO notify_stories (target, story_id, queued) VALUES (?, ?, ?)",
                   [name, story_id, now()])
    db.execute("UPDATE notify_targets SET last_story = ? WHERE name = ?", [upto, name])
    return ids


def waiting_stories(db: Database, name: str) -> list[int]:
    """Stories queued for the target and not yet in a message (the next digest's)."""
    return [r[0] for r in db.execute("SELECT story_id FROM notify_stories WHERE target = ? AND "
                                     "message_id IS NULL ORDER BY story_id", [name])]


def story_cards(db: Database, story_ids: Iterable[int]) -> list[StoryCard]:
    """Each story as a message tells it, in the order given."""
    return [card for sid in story_ids if (card := _card(db, sid)) is not None]


def _card(db: Database, story_id: int) -> StoryCard | None:
    row = db.execute(
        "SELECT a.id, a.title, a.url, a.source, a.first_seen, a.published FROM stories s "
        "JOIN articles a ON a.id = s.origin_article_id WHERE s.id = ?", [story_id]).fetchone()
    if row is None:
        return None
    members = db.execute("SELECT source, topics, matched_terms FROM articles WHERE story_id = ? "
                         "ORDER BY first_seen, id", [story_id]).fetchall()
    copies = [r[0] for r in db.execute("SELECT source FROM copies WHERE story_id = ? "
                                       "ORDER BY first_seen, id", [story_id])]
    others = [s for s in dict.fromkeys([m[0] for m in members] + copies) if s and s != row[3]]
    terms: dict[str, list[str]] = {}
    for _, topics, matched in members:
        found = json.loads(matched or "{}")
        for topic in json.loads(topics or "[]"):
            bucket = terms.setdefault(topic, [])
            bucket += [t for t in found.get(topic, []) if t not in bucket]
    return StoryCard(story_id=story_id, article_id=row[0], title=row[1] or "", url=row[2],
                     source=row[3], first_seen=row[4], published=row[5],
                     other_sources=tuple(others), topics=tuple(terms),
                     terms=tuple((t, tuple(v)) for t, v in terms.items()))


# ---------------------------------------------------------------- messages and deliveries

def add_message(db: Database, name: str, kind: str, key: str, message: dict[str, str],
                urls: Sequence[tuple[str, str]], story_ids: Sequence[int] = ()) -> int | None:
    """Record a message (title, body, format, type) under its stable `key` with a pending
    delivery per (url_key, url_label), and link `story_ids` to it; None when the key exists."""
    cur = db.execute(
        "INSERT OR IGNORE INTO notify_messages (target, kind, key, title, body, format, type, created) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [name, kind, key, message["title"], message["body"], message["format"], message["type"], now()])
    if not cur.rowcount:
        return None
    message_id = int(cur.lastrowid)
    for url_key, label in urls:
        db.execute("INSERT INTO notify_deliveries (message_id, url_key, url_label) VALUES (?, ?, ?)",
                   [message_id, url_key, label])
    for story_id in story_ids:
        db.execute("UPDATE notify_stories SET message_id = ? WHERE target = ? AND story_id = ?",
                   [message_id, name, story_id])
    return message_id


def has_message(db: Database, name: str, key: str) -> bool:
    return bool(db.execute("SELECT 1 FROM notify_messages WHERE target = ? AND key = ?",
                           [name, key]).fetchone())


def pending_deliveries(db: Database, name: str) -> list[dict[str, Any]]:
    """The target's deliveries not yet acknowledged, oldest message first, with the text."""
    marks = ", ".join("?" * len(UNSENT))
    return list(db.query(
        f"""SELECT d.message_id, d.url_key, d.url_label, d.state, d.attempts, m.key, m.kind,
                   m.title, m.body, m.format, m.type
            FROM notify_deliveries d JOIN notify_messages m ON m.id = d.message_id
            WHERE m.target = ? AND d.state IN ({marks}) ORDER BY d.message_id, d.url_label""",
        [name, *UNSENT]))


def drop_removed_urls(db: Database, name: str, url_keys: Sequence[str]) -> int:
    """Unsent deliveries to URLs no longer configured for the target are given up."""
    marks = ", ".join("?" * len(url_keys))
    cur = db.execute(
        f"""UPDATE notify_deliveries SET state = 'dropped', error = 'the URL was removed from the settings'
            WHERE state IN ('pending', 'sending', 'failed') AND url_key NOT IN ({marks})
              AND message_id IN (SELECT id FROM notify_messages WHERE target = ?)""",
        [*url_keys, name])
    _settle_messages(db, name)
    return cur.rowcount


def mark_sending(db: Database, message_id: int, url_key: str) -> None:
    """Committed before the send: a delivery still `sending` later was cut short."""
    db.execute("UPDATE notify_deliveries SET state = 'sending', attempts = attempts + 1, "
               "last_attempt = ? WHERE message_id = ? AND url_key = ?", [now(), message_id, url_key])


def mark_result(db: Database, message_id: int, url_key: str, ok: bool, error: str = "") -> None:
    """The receiver's answer; the message is sent once every delivery of it is."""
    if ok:
        db.execute("UPDATE notify_deliveries SET state = 'sent', sent = ?, error = NULL "
                   "WHERE message_id = ? AND url_key = ?", [now(), message_id, url_key])
    else:
        db.execute("UPDATE notify_deliveries SET state = 'failed', error = ? "
                   "WHERE message_id = ? AND url_key = ?", [error, message_id, url_key])
    db.execute("UPDATE notify_messages SET sent = ? WHERE id = ? AND sent IS NULL AND NOT EXISTS "
               "(SELECT 1 FROM notify_deliveries WHERE message_id = ? AND state IN "
               "('pending', 'sending', 'failed'))", [now(), message_id, message_id])


def _settle_messages(db: Database, name: str) -> None:
    db.execute("UPDATE notify_messages SET sent = ? WHERE target = ? AND sent IS NULL AND NOT EXISTS "
               "(SELECT 1 FROM notify_deliveries d WHERE d.message_id = notify_messages.id "
               "AND d.state IN ('pending', 'sending', 'failed'))", [now(), name])


# ---------------------------------------------------------------- alerts

def failed_runs(db: Database, since_run: int) -> list[dict[str, Any]]:
    """Ended runs after `since_run` that failed or fetched nothing, oldest first."""
    return list(db.query(
        "SELECT id, trigger, started, ended, status, error FROM runs WHERE id > ? AND "
        "ended IS NOT NULL AND status IN (?, ?) ORDER BY id", [since_run, *ALERT_RUN_STATUSES]))


# ---------------------------------------------------------------- status

def target_status(db: Database, name: str) -> dict[str, Any]:
    """What `topicwatch status` shows of one target."""
    row = db.execute("SELECT registered, last_digest FROM notify_targets WHERE name = ?",
                     [name]).fetchone()
    counts = db.execute(
        """SELECT count(DISTINCT CASE WHEN m.sent IS NOT NULL THEN m.id END),
                  count(DISTINCT CASE WHEN m.sent IS NULL AND d.state IN ('pending', 'sending', 'failed')
                        THEN m.id END),
                  sum(d.state = 'sending'), sum(d.state = 'failed'), max(d.sent)
           FROM notify_messages m LEFT JOIN notify_deliveries d ON d.message_id = m.id
           WHERE m.target = ?""", [name]).fetchone()
    failure = db.execute(
        "SELECT d.url_label, d.last_attempt, d.error FROM notify_deliveries d JOIN notify_messages m "
        "ON m.id = d.message_id WHERE m.target = ? AND d.state = 'failed' "
        "ORDER BY d.last_attempt DESC LIMIT 1", [name]).fetchone()
    waiting = db.execute("SELECT count(*) FROM notify_stories WHERE target = ? AND message_id IS NULL",
                         [name]).fetchone()[0]
    return {
        "name": name, "registered": row[0] if row else None, "last_digest": row[1] if row else None,
        "sent": counts[0], "pending": counts[1], "in_doubt": counts[2] or 0,
        "failing": counts[3] or 0, "last_sent": counts[4], "waiting_for_digest": waiting,
        "last_failure": dict(zip(("url", "at", "error"), failure, strict=True)) if failure else None,
    }
