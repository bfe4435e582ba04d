"""The hostile-server suite: real servers on loopback addresses that bomb, drip, stream without
end, lie about lengths and types, redirect in loops and to private addresses, and serve entity
bombs, endless sitemap chains and documents listing 100,000 links.

- `server`: `HostileSite`, threaded servers on 127.0.0.x answering paths with raw responders;
- `responses`: the responders; `pages`: the documents; `cases`: every case and its outcome;
- `dns`: the resolver crawls use here, which never asks a name server;
- `crawl`: one `scrapy crawl` over all cases in a child process, its peak memory and outcomes.

Used by tests/test_hostile.py and benchmarks/hostile_crawl.py.
"""
