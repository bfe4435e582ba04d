"""Throughput of a fleet of `topicwatch worker` processes sharing one Redis, with 1, 2 and 3
workers and one `topicwatch ingest --redis`.

Serves a generated site (articles of 5-40 KB with their own words, listed by an RSS feed and a
sitemap per host; four hosts on 127.0.0.21-24, no Crawl-delay) from this process, and for each
fleet size starts the ingester and the workers on a fresh key prefix and corpus, waits until
every worker's spider is open, enqueues every source, and times until every article is in the
corpus.  No politeness delay: this measures the machinery, not the hosts.

    .venv/bin/python benchmarks/redis_workers.py [--pages 300] [--workers 1,2,3] [--redis URL]

Redis: --redis URL, else 127.0.0.1:6379 when it answers, else a redis-server started on a
free port.  Every process runs on this machine: on 2 cores three workers, an ingester, the
site and Redis share the same two cores, so the figures show the fleet's overhead, not what
more machines would add.
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
HOSTS = ["127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24"]
WORDS = ("model chip cloud data network energy market policy research lab startup robot vision "
         "language training inference cluster memory storage sensor factory city school "
         "hospital bank river bridge engine camera battery satellite language harbour grid "
         "farm forest desert island tunnel railway airport stadium museum library theatre").split()


def article_html(host: int, n: int, rng: random.Random) -> bytes:
    words = [rng.choice(WORDS) + str(rng.randrange(1000)) for _ in range(rng.randrange(700, 5500))]
    paras = [" ".join(words[i:i + 80]) for i in range(0, len(words), 80)]
    body = "".join(f"<p>{p}, said artificial intelligence researchers.</p>" for p in paras)
    title = f"Report {host}-{n}: artificial intelligence and {words[0]}"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
            f"<meta property='article:published_time' content='2024-10-{1 + n % 28:02d}T08:00:00Z'>"
            f"</head><body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>"
            f"<p class='byline'>By Staff</p>{body}</article><footer>(c) bench</footer></body></html>"
            ).encode()


class Site:
    """host -> path -> (content type, body); a request log of (host, path)."""

    def __init__(self, pages: int):
        rng = random.Random(7)
        self.pages: dict[str, dict[str, tuple[str, bytes]]] = {}
        self.articles = 0
        self.log: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.servers = []
        for h, ip in enumerate(HOSTS):
            served: dict[str, tuple[str, bytes]] = {"/robots.txt": ("text/plain", b"User-agent: *\n")}
            count = pages // len(HOSTS) + (1 if h < pages % len(HOSTS) else 0)
            paths = [f"/news/{h}-{n}.html" for n in range(count)]
            for n, path in enumerate(paths):
                served[path] = ("text/html; charset=utf-8", article_html(h, n, rng))
            self.articles += count
            self.pages[ip] = served
            self.paths = paths
        for ip in HOSTS:
            server = ThreadingHTTPServer((ip, 0), self.handler(ip))
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)
        for server, ip in zip(self.servers, HOSTS, strict=True):
            base = f"http://{ip}:{server.server_address[1]}"
            paths = [p for p in self.pages[ip] if p.startswith("/news/")]
            half = len(paths) // 2
            items = "".join(f"<item><title>{p}</title><link>{base}{p}</link></item>" for p in paths[:half])
            self.pages[ip]["/feed.xml"] = ("application/rss+xml", (
                f"<?xml version='1.0'?><rss version='2.0'><channel><title>bench</title>"
                f"<link>{base}/</link>{items}</channel></rss>").encode())
            urls = "".join(f"<url><loc>{base}{p}</loc></url>" for p in paths[half:])
            self.pages[ip]["/sitemap.xml"] = ("application/xml", (
                "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                f"{urls}</urlset>").encode())

    def handler(self, ip: str) -> type:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with site.lock:
                    site.log.append((ip, self.path))
                ctype, body = site.pages[ip].get(self.path, ("text/plain", b""))
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def sources(self) -> str:
        out = []
        for server, ip in zip(self.servers, HOSTS, strict=True):
            base = f"http://{ip}:{server.server_address[1]}"
            out.append(f'[[sources]]\nname = "feed-{ip}"\nkind = "feed"\nurl = "{base}/feed.xml"\n')
            out.append(f'[[sources]]\nname = "sitemap-{ip}"\nkind = "sitemap"\nurl = "{base}/sitemap.xml"\n')
        return "\n".join(out)


def redis_url(given: str | None) -> tuple[str, subprocess.Popen | None]:
    if given:
        return given, None
    try:
        redis.Redis(port=6379, socket_connect_timeout=1).ping()
        return "redis://127.0.0.1:6379/0", None
    except redis.RedisError:
        pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port),
                             "--bind", "127.0.0.1", "--save", ""], stdout=subprocess.DEVNULL)
    for _ in range(100):
        try:
            redis.Redis(port=port).ping()
            break
        except redis.RedisError:
            time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0", proc


def settings(site: Site, tmp: Path, name: str, url: str, prefix: str) -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(f"""[corpus]
path = "{tmp / (name + '.db')}"

[crawl]
delay = 0
autothrottle = false
concurrency = 16
concurrency_per_host = 8
max_age_days = 0
timeout = 20
retries = 0

[redis]
url = "{url}"
prefix = "{prefix}"

{site.sources()}

[[topics]]
name = "ai"
terms = ["artificial intelligence"]
""", encoding="utf-8")
    return path


def run_fleet(site: Site, workers: int, url: str, tmp: Path) -> tuple[float, int]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    procs = []
    ingest_settings = settings(site, tmp, f"corpus-{workers}", url, prefix)
    procs.append(subprocess.Popen([sys.executable, "-m", "crawler", "ingest", "--settings",
                                   str(ingest_settings), "--redis", url],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT))
    states = []
    for n in range(workers):
        path = settings(site, tmp, f"worker{workers}-{n}", url, prefix)
        states.append(tmp / f"worker{workers}-{n}.db")
        procs.append(subprocess.Popen([sys.executable, "-m", "crawler", "worker", "--settings",
                                       str(path), "--redis", url],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT))
    while not all(s.exists() and _count(s, "runs") for s in states):  # every spider is open
        time.sleep(0.1)
    site.log.clear()
    subprocess.run([sys.executable, "-m", "crawler", "enqueue", "--settings", str(ingest_settings)],
                   check=True, capture_output=True, cwd=ROOT)
    t0 = time.monotonic()
    corpus = tmp / f"corpus-{workers}.db"
    while _count(corpus, "articles") < site.articles:
        if time.monotonic() - t0 > 600:
            raise SystemExit(f"{workers} worker(s): only {_count(corpus, 'articles')} of {site.articles} after 600 s")
        time.sleep(0.1)
    elapsed = time.monotonic() - t0
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=60)
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    return elapsed, len(site.log)


def run_single(site: Site, url: str, tmp: Path) -> float:
    """`topicwatch crawl` of the same site on one machine, no Redis: the run's own start to
    end (spider open -> ingested), so process start-up is left out as for the fleet."""
    path = settings(site, tmp, "single", url, "unused")
    subprocess.run([sys.executable, "-m", "crawler", "crawl", "--settings", str(path)],
                   check=True, capture_output=True, cwd=ROOT)
    con = sqlite3.connect(tmp / "single.db")
    started, ended = con.execute("SELECT started, ended FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    con.close()
    from datetime import datetime

    return (datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds()


def _count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--redis", default=None)
    args = parser.parse_args()
    site = Site(args.pages)
    url, server = redis_url(args.redis)
    sizes = [len(b) for pages in site.pages.values() for p, (_, b) in pages.items() if p.startswith("/news/")]
    print(f"site: {site.articles} articles ({min(sizes) // 1000}-{max(sizes) // 1000} KB) on "
          f"{len(HOSTS)} hosts, feeds + sitemaps, no delay; Redis {url}; {_cores()} cores")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            site.log.clear()
            elapsed = run_single(site, url, Path(tmp))
            print(f"topicwatch crawl (one process, no Redis): {site.articles / elapsed:.1f} pages/s "
                  f"({elapsed:.1f} s, {len(site.log)} requests)", flush=True)
            for n in (int(x) for x in args.workers.split(",")):
                elapsed, requests = run_fleet(site, n, url, Path(tmp))
                print(f"{n} worker(s) + 1 ingester: {site.articles} articles stored in {elapsed:.1f} s: "
                      f"{site.articles / elapsed:.1f} pages/s ({requests} requests)", flush=True)
    finally:
        if server is not None:
            server.terminate()


def _cores() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
