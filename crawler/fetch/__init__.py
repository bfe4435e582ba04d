"""Fetch: the Scrapy adapters, and the only package that imports Scrapy or Twisted.

- `settings`: `scrapy_settings(settings)`, the one translation of settings.toml into Scrapy
  settings, applied by the spider's `update_settings` for `topicwatch crawl` and
  `scrapy crawl topicwatch` alike.
- `spider`: `TopicSpider` navigates: sources -> feed / sitemap / listing requests -> article
  requests -> `Fetched` items.  It decides nothing about state.
- `state`: `FetchState`, the spider middleware that owns what is known about URLs (never fetch
  an article twice, conditional-GET validators, retries, skipped pages), like scrapy-deltafetch.
- `politeness`: robots.txt, including its Crawl-delay, which Scrapy parses but ignores.
- `pipelines`: `AnalysePipeline` (crawler/analyse.py) and `SpoolPipeline`.
- `run`: `RunRecorder`, the extension that opens the run, writes its results and closes it.
- `crawl`: `run_crawl`, one crawl in this process (CrawlerProcess), for `topicwatch crawl`.
- `signals`: the signals these components talk through.
"""
