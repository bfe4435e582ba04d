"""Signals the fetch components talk through (sent with `crawler.signals.send_catch_log`)."""

run_opened = object()  # run_id: int. RunRecorder opened (or adopted) the run this crawl records into.
fetch_failed = object()  # request, failure. A download failed (the spider's errback).
ingest_progress = object()  # stats: IngestStats. Ingest at the end of a crawl made progress.
rate_limited = object()  # request, wait: float, refused: bool. A host asked to wait (RateLimits); refused: past max_crawl_delay.
