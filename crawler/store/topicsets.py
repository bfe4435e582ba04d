"""Topic sets: what a stored article or an off-topic page was matched against.

A set is a mapping topic name -> fingerprint (crawler/topics.py), stored once in `topic_sets`
under a short key; `articles.topic_set`, `pages.topic_set` and `unmatched.topic_set` name one.
A row needs matching again for a topic when its set lacks that topic or holds another
fingerprint for it (the topic was added or edited); a NULL set is a row from before topics
were recorded (a 0.1 corpus), tried against nothing known.
"""

from __future__ import annotations

import hashlib
import json

from sqlite_utils import Database

from crawler.records import Tested


def key_of(db: Database, tested: Tested | None) -> str | None:
    """The key of a topic set, stored on first use; None for None."""
    if tested is None:
        return None
    text = json.dumps(tested, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    db.execute("INSERT OR IGNORE INTO topic_sets (key, topics) VALUES (?, ?)", [key, text])
    return key


def all_sets(db: Database) -> dict[str, Tested]:
    """Every stored set by key (a handful: one per combination of topics ever crawled)."""
    return {k: json.loads(t) for k, t in db.execute("SELECT key, topics FROM topic_sets")}


def missing(tested: Tested | None, wanted: Tested) -> Tested:
    """The topics of `wanted` that a row matched against `tested` has not been tried with."""
    have = tested or {}
    return {name: fp for name, fp in wanted.items() if have.get(name) != fp}


def covering_keys(db: Database, wanted: Tested) -> list[str]:
    """Keys of the sets in which every topic of `wanted` was tried, as it is now."""
    return [k for k, tested in all_sets(db).items() if not missing(tested, wanted)]


def stale_keys(db: Database, table: str, wanted: Tested) -> list[str | None]:
    """The sets used in `table` (articles or unmatched) that lack a topic of `wanted`;
    None stands for rows with no set."""
    sets = all_sets(db)
    used = [r[0] for r in db.execute(f"SELECT DISTINCT topic_set FROM {table}")]
    return [k for k in used if k is None or missing(sets.get(k), wanted)]
