"""The corpus: one SQLite file, the only package that holds SQL.  Who owns which table:

- `schema`: every table, index and view, as sqlite-utils migrations.
- `db`: opening the file (WAL, busy timeout, migrations) and write transactions.
- `runs`: `runs` and `source_runs` (the only writer; a run's final status is decided here).
- `pages`: `pages` (fetch state of each URL) and `skipped` (why a page was not kept).
- `spool`: `spool`, the durable hand-off from crawls to ingest.
- `ingest`: spool -> dedup -> `articles`, `copies`, `stories`, `minhashes`, `articles_fts`,
  `lsh_bands`, through `corpus` (the writes), `lsh` (the near-duplicate bands: stored and
  looked up, nothing in memory) and `fts` (the indexed form of the text).
- `health`: `source_settings` and the `source_health` view's rows.
- `schedules`: `schedules_state`, the daemon's memory across restarts.
- `queries`: read-only queries for browsing.
- `notifications`: `notify_targets`, `notify_stories`, `notify_messages`, `notify_deliveries`:
  what each `[[notify]]` target was told, and each message's delivery to each URL.
"""

from crawler.store.db import now, open_db, write_transaction

__all__ = ["now", "open_db", "write_transaction"]
