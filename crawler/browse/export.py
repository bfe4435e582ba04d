"""`topicwatch export`: the stored articles as JSON Lines or CSV, oldest first.

JSON Lines keeps `topics`, `matched_terms` and `scores` as JSON values; CSV keeps them as JSON
text in their cells (a spreadsheet cannot hold a list).  `since` is compared to `first_seen`
(when topicwatch stored the article, UTC), so repeated exports with the time of the last one
pick up exactly what is new.  Open a CSV output file with `newline=""` (the csv module
writes its own line ends).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from typing import Any, TextIO

from sqlite_utils import Database

from crawler.errors import TopicwatchError
from crawler.store.corpus import EXPORT_COLUMNS as COLUMNS
from crawler.store.corpus import select_articles

JSON_COLUMNS = ("topics", "matched_terms", "scores")
FORMATS = ("jsonl", "csv")


def since_bound(since: str) -> str:
    """`since` (a date or an ISO 8601 time) as a string comparable with `first_seen`.

    A date stays a date ('2024-05-01' sorts before any time that day); a time with an offset
    is moved to UTC; a time without one is taken as UTC.
    """
    try:
        if len(since) == 10:
            return dt.date.fromisoformat(since).isoformat()
        moment = dt.datetime.fromisoformat(since)
    except ValueError:
        raise TopicwatchError(f"--since {since!r}: expected a date (2024-05-01) or a time (2024-05-01T08:00+08:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def _jsonl_row(row: dict[str, Any]) -> str:
    for col in JSON_COLUMNS:
        row[col] = json.loads(row[col]) if row[col] else None
    return json.dumps(row, ensure_ascii=False) + "\n"


def export(db: Database, fmt: str, out: TextIO, since: str | None = None, topic: str | None = None) -> int:
    """Write the articles to `out` as `fmt` ("jsonl" or "csv"); returns the rows written."""
    if fmt not in FORMATS:
        raise TopicwatchError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    rows = select_articles(db, since_bound(since) if since else None, topic)
    written = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            written += 1
    else:
        for row in rows:
            out.write(_jsonl_row(row))
            written += 1
    return written
