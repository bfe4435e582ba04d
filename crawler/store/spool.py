"""The spool: the durable hand-off between a crawl and ingest.

A crawl `put`s each extracted, topic-matched item; ingest reads `pending` items and, in the same
transaction that stores an item in the corpus, `remove`s it.  So an item is either still in the
spool or in the corpus, never both and never neither, whenever the process dies.

The interface is deliberately small (put / pending / remove / __len__): it is the seam where
distributed crawling plugs in, with workers on other machines putting into a shared queue and
the corpus machine draining it.
"""

from __future__ import annotations

import json
from typing import Protocol

from sqlite_utils import Database

from crawler.records import Outcome, SpoolItem
from crawler.store.db import now, write_transaction
from crawler.store.pages import record_page


class Spool(Protocol):
    def put(self, item: SpoolItem) -> None: ...
    def pending(self, limit: int = 100) -> list[tuple[int | str, SpoolItem]]: ...
    def remove(self, key: int | str) -> None: ...
    def rolled_back(self) -> None:
        """The transaction the removals since the last `pending` were made in was rolled back:
        those items are not stored, and must be handed out again."""
    def set_aside(self, key: int | str, error: str) -> None:
        """Called inside a transaction, for an item ingest failed on (a bug met on it): it
        leaves the spool, not stored; its page is fetched again in a later run."""
    def __len__(self) -> int: ...


class SqliteSpool:
    """A `spool` table inside the corpus file: the default, one machine."""

    def __init__(self, db: Database):
        self.db = db

    def put(self, item: SpoolItem) -> None:
        """Spool one item and mark its URL(s) as spooled, atomically."""
        a = item.article
        with write_transaction(self.db):
            self.db.execute(
                "INSERT INTO spool (run_id, url, item, spooled_at) VALUES (?, ?, ?, ?)",
                [item.run_id, a.url, json.dumps(item.to_dict(), ensure_ascii=False), now()],
            )
            record_page(self.db, a.url, "article", a.source, status=200,
                        outcome=Outcome.SPOOLED, run_id=item.run_id)
            if item.requested_url and item.requested_url != a.url:  # the link that redirected here
                record_page(self.db, item.requested_url, "article", a.source, status=301,
                            outcome=Outcome.REDIRECTED, run_id=item.run_id)

    def pending(self, limit: int = 100) -> list[tuple[int, SpoolItem]]:
        rows = self.db.execute("SELECT id, item FROM spool ORDER BY id LIMIT ?", [limit]).fetchall()
        return [(row[0], SpoolItem.from_dict(json.loads(row[1]))) for row in rows]

    def remove(self, key: int | str) -> None:
        self.db.execute("DELETE FROM spool WHERE id = ?", [key])

    def rolled_back(self) -> None:
        """Nothing to do: the DELETEs were rolled back with the rest."""

    def set_aside(self, key: int | str, error: str) -> None:
        self.remove(key)  # the `skipped` row ingest writes beside it says why

    def __len__(self) -> int:
        return self.db.execute("SELECT count(*) FROM spool").fetchone()[0]
