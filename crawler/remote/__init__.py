"""What crawl workers on several machines share, in Redis (no Scrapy here, no SQL).

- `shared`: the key names under `[redis] prefix`, the connection, and the shared memory of the
  workers: never-refetch (the canonical URLs the ingester stored), conditional-GET validators,
  per-host politeness slots, and the schedule messages the daemon or `topicwatch enqueue` sends.
- `spool`: `RedisSpool`, the spool of crawler/store/spool.py in a Redis stream: workers `put`,
  the one ingester next to the corpus reads it through a consumer group and acknowledges an
  item only after its SQLite transaction committed; `drain` is `topicwatch ingest --redis`.

The request frontier itself is scrapy-redis's (crawler/fetch/redis_worker.py), never ours.
"""
