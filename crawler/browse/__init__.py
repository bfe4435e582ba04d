"""Browsing the corpus with Datasette: the plugin (`plugin.py`), its metadata (`metadata.yml`),
`serve()` (`serve.py`) and the views the canned queries read.

This package's top level imports neither Datasette nor the plugin, so the store can call
`ensure_browse_views` cheaply.
"""

from __future__ import annotations

from sqlite_utils import Database

# A placeholder until the daemon work defines source health with its configured thresholds:
# `IF NOT EXISTS` leaves a view created by a later migration alone.
FAILURE_THRESHOLD = 3

SOURCE_HEALTH_VIEW = f"""
CREATE VIEW IF NOT EXISTS source_health AS
WITH per_source AS (
    SELECT source,
           max(CASE WHEN ok = 1 THEN at END) AS last_success,
           max(CASE WHEN ok = 0 THEN at END) AS last_error,
           max(CASE WHEN ok = 1 THEN run_id END) AS last_ok_run,
           max(run_id) AS last_run
    FROM source_runs GROUP BY source
), counted AS (
    SELECT p.source, p.last_success, p.last_error,
           (SELECT count(*) FROM source_runs r
             WHERE r.source = p.source AND r.ok = 0
               AND r.run_id > coalesce(p.last_ok_run, 0)) AS consecutive_failures,
           (SELECT r.new FROM source_runs r
             WHERE r.source = p.source AND r.run_id = p.last_run) AS new_last_run
    FROM per_source p
)
SELECT source, last_success, last_error, consecutive_failures, new_last_run,
       consecutive_failures >= {FAILURE_THRESHOLD} AS flagged
FROM counted
"""


def ensure_browse_views(db: Database) -> None:
    """Create the views the Datasette canned queries read; idempotent.

    `source_health`: one row per source seen in `source_runs`: the time of its last
    successful and last failed run, how many runs in a row failed since the last success,
    the new articles of its latest run, and `flagged` (1 after three failures in a row).
    """
    db.execute(SOURCE_HEALTH_VIEW)
