"""The crawl over real pages: `topicwatch crawl` against the extraction-only limit and against
trafilatura's own crawler, on the devset's pages served from loopback.

    .venv/bin/python benchmarks/real_crawl.py [--devset ../shared/devset] [--pages N]
        [--workers N] [--repeat 2] [--hosts 4] [--topics keep-all|shipped] [--no-trafilatura]
        [--json]

The devset's pages (real pages nobody here wrote: GBK portals, 1 MB English news pages,
131-byte stubs, list pages; duplicates and synthetic test markup left out) are served byte for
byte, with `Content-Type: text/html` and no charset, from a threaded HTTP server on port 80 of
`--hosts` loopback addresses (127.0.0.51 onwards, pages dealt round-robin; port 80 because
courlan turns down an IP address with a port, so this needs root); each host has a robots.txt
that names its sitemap, and the sitemap lists its pages. Then, alternating `--repeat` times,
the best of each counting:

1. `topicwatch crawl` with `delay = 0`, one sitemap source per host (robots.txt -> sitemap ->
   pages), robots obeyed, `max_age_days = 0`, topics either one `keep_all` topic (default: every
   article is stored, so ingest, dedup and the full-text index do their whole share) or the
   shipped settings.toml's topics; a child process on a fresh corpus, whole command timed;
2. the extraction-only limit: `crawler.analyse.analyse` over the same bytes in a process pool
   of the same size, nothing else (no HTTP, no Scrapy, no SQLite); the ratio 1 / 2 (goal >= 0.8);
3. trafilatura's own crawler: `trafilatura --sitemap -i SITEMAPS --parallel N` (each host's
   sitemap -> download in N threads -> extract), with `SLEEP_TIME = 0` like the
   crawl's `delay = 0` and `SSRF_PROTECTION = off` (its default refuses loopback), writing one
   file per page into a temporary folder (courlan's URL store uncompressed: see TRAFILATURA);
   the ratio 1 / 3 (goal >= 2);
4. trafilatura alone, the issue's first measure of the limit: `trafilatura.extract(body,
   url=URL, with_metadata=True)` with its defaults (no topicwatch code loaded, so none of
   topicwatch's changes to it) over the same bytes in a process pool of the same size, started
   first; the ratio 1 / 4.

Pages per second are the pages served (article and list pages alike, without robots.txt and
sitemaps) per wall second of the whole command, start-up included.  Nothing here goes into the
tests; nothing leaves loopback; no page or text is copied anywhere.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from crawl_throughput import analyse_in_pool, near_of, run_measured, trafilatura_in_pool  # noqa: E402

from crawler.config import available_cores, load_settings  # noqa: E402

DEVSET = next(
    (d for p in Path(__file__).resolve().parents if (d := p / "shared" / "devset").is_dir()),
    Path("../shared/devset"),
)
# trafilatura's command line, with courlan's URL store uncompressed: courlan 1.4.0's compressed
# store drops the "visited" mark that get_url() sets (it re-reads a fresh copy before storing),
# so `trafilatura --sitemap` fetches each host's first URL forever.  Uncompressed, the same code
# keeps the mark; it can only make trafilatura faster.
TRAFILATURA = """
import sys
import courlan.urlstore

_init = courlan.urlstore.UrlStore.__init__
def _uncompressed(self, *args, **kwargs):
    kwargs["compressed"] = False
    _init(self, *args, **kwargs)
courlan.urlstore.UrlStore.__init__ = _uncompressed
from trafilatura.cli import main
sys.argv[0] = "trafilatura"
main()
"""
KEEP_ALL = """
[[topics]]
name = "everything"
description = "Every article (a benchmark keeps all it reads)."
keep_all = true
"""


def load_pages(devset: Path, limit: int | None) -> list[bytes]:
    """The devset's page bytes: no duplicates, no synthetic markup, in manifest order."""
    pages = []
    for line in (devset / "manifest.jsonl").open(encoding="utf-8"):
        page = json.loads(line)
        if page.get("synthetic") or page.get("duplicate_of"):
            continue
        pages.append(gzip.decompress((devset / page["path"]).read_bytes()))
        if limit and len(pages) >= limit:
            break
    return pages


class Site:
    """The pages dealt over `hosts` loopback addresses, each with robots.txt and a sitemap."""

    def __init__(self, pages: list[bytes], hosts: int, port: int = 0):
        self.ips = [f"127.0.0.{51 + k}" for k in range(hosts)]
        self.log: list[tuple[float, str, str]] = []
        self.lock = threading.Lock()
        self.servers = {}
        for ip in self.ips:
            server = ThreadingHTTPServer((ip, port), _Handler)
            server.daemon_threads = True
            server.site, server.ip = self, ip  # type: ignore[attr-defined]
            self.servers[ip] = server
        self.content: dict[str, dict[str, tuple[bytes, str]]] = {ip: {} for ip in self.ips}
        for n, body in enumerate(pages):
            ip = self.ips[n % hosts]
            self.content[ip][f"/page/{n}.html"] = (body, "text/html")
        for ip in self.ips:
            base = self.base(ip)
            urls = "".join(f"<url><loc>{base}{path}</loc></url>" for path in self.content[ip])
            self.content[ip]["/sitemap.xml"] = (
                ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
                 f'schemas/sitemap/0.9">{urls}</urlset>').encode(), "application/xml")
            links = "".join(f'<li><a href="{path}">{path}</a></li>' for path in self.content[ip]
                            if path.startswith("/page/"))
            self.content[ip]["/"] = (f"<!DOCTYPE html><html><body><ul>{links}</ul></body></html>".encode(),
                                     "text/html; charset=utf-8")
            self.content[ip]["/robots.txt"] = (
                f"User-agent: *\nAllow: /\nSitemap: {base}/sitemap.xml\n".encode(), "text/plain")
        for server in self.servers.values():
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                             daemon=True).start()

    def base(self, ip: str) -> str:
        port = self.servers[ip].server_address[1]
        return f"http://{ip}" if port == 80 else f"http://{ip}:{port}"

    def page_requests(self, since: float) -> list[float]:
        """When each page was requested, in seconds from `since`."""
        with self.lock:
            return [t - since for t, _, path in self.log if t >= since and path.startswith("/page/")]

    def first_request(self, since: float) -> float | None:
        with self.lock:
            return next((t - since for t, _, _ in self.log if t >= since), None)

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET(head=True)

    def do_GET(self, head: bool = False) -> None:  # noqa: N802
        site: Site = self.server.site  # type: ignore[attr-defined]
        path = self.path.split("?")[0]
        with site.lock:
            site.log.append((time.monotonic(), self.server.ip, path if not head else "HEAD " + path))  # type: ignore[attr-defined]
        found = site.content[self.server.ip].get(path)  # type: ignore[attr-defined]
        body, ctype = found or (b"not found", "text/plain")
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def settings_text(site: Site, corpus: Path, workers: int, topics: str) -> str:
    sources = "".join(f'[[sources]]\nname = "host-{k}"\nkind = "sitemap"\nurl = "{site.base(ip)}/"\n\n'
                      for k, ip in enumerate(site.ips))
    if topics == "shipped":
        topic_text = "".join(line for line in _shipped_topics())
    else:
        topic_text = KEEP_ALL
    return (f'[corpus]\npath = "{corpus}"\n\n[crawl]\ndelay = 0\nmax_age_days = 0\n'
            f"workers = {workers}\n\n{sources}{topic_text}")


def _shipped_topics() -> list[str]:
    """The [[topics]] tables of the shipped settings.toml, as text."""
    lines, keep = [], False
    for line in (ROOT / "settings.toml").read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("[["):
            keep = line.strip() == "[[topics]]"
        elif line.startswith("["):
            keep = False
        if keep:
            lines.append(line)
    return lines


def timed(cmd: list[str], site: Site, cwd: Path) -> dict:
    """Run `cmd`; wall seconds, pages requested, CPU seconds, peak RSS of the tree."""
    since = time.monotonic()
    run = run_measured(cmd, cwd)
    times = site.page_requests(since)
    first = site.first_request(since)
    timeline = (f"first request at {first:.2f} s, pages {times[0]:.2f}-{times[-1]:.2f} s, "
                f"exit at {run.seconds:.2f} s") if times and first is not None else "no pages"
    return {"seconds": round(run.seconds, 2), "exit": run.returncode, "pages": len(times),
            "pages_per_s": round(len(times) / run.seconds, 2), "timeline": timeline,
            "cpu_seconds": round(run.cpu, 1), "own_cpu_seconds": round(run.own_cpu, 1),
            "tree_peak_rss_mb": round(run.tree_peak_mb),
            "stdout": run.out, "stderr": run.err}


def run_topicwatch(site: Site, tmp: Path, k: int, workers: int, topics: str,
                   checkout: Path = ROOT, tag: str = "tw") -> dict:
    settings = tmp / f"{tag}{k}.toml"
    settings.write_text(settings_text(site, tmp / f"{tag}{k}.db", workers, topics), encoding="utf-8")
    result = timed([sys.executable, "-m", "crawler", "crawl", "--settings", str(settings)], site, checkout)
    result["summary"] = next((line for line in result.pop("stdout").splitlines()
                              if line.startswith("fetched")), "")
    if result["exit"] not in (0, 3):
        print(result["stderr"][-3000:], file=sys.stderr)
    result.pop("stderr")
    return result


def run_trafilatura(site: Site, tmp: Path, k: int, workers: int) -> dict:
    config = tmp / "trafilatura.cfg"
    config.write_text("[DEFAULT]\nDOWNLOAD_TIMEOUT = 30\nMAX_FILE_SIZE = 20000000\nMIN_FILE_SIZE = 10\n"
                      "SLEEP_TIME = 0\nUSER_AGENTS =\nCOOKIE =\nMAX_REDIRECTS = 2\n"
                      "SSRF_PROTECTION = off\nINSECURE_SSL_FALLBACK = off\nMIN_EXTRACTED_SIZE = 250\n"
                      "MIN_OUTPUT_SIZE = 1\nMIN_OUTPUT_COMM_SIZE = 1\nMAX_TREE_SIZE =\n"
                      "EXTRACTION_TIMEOUT = 30\nMIN_DUPLCHECK_SIZE = 100\nMAX_REPETITIONS = 2\n"
                      "EXTENSIVE_DATE_SEARCH = on\nEXTERNAL_URLS = off\n", encoding="utf-8")
    hosts = tmp / "hosts.txt"
    hosts.write_text("".join(f"{site.base(ip)}/sitemap.xml\n" for ip in site.ips), encoding="utf-8")
    out = tmp / f"trafilatura{k}"
    out.mkdir()
    result = timed([sys.executable, "-c", TRAFILATURA, "--sitemap", "-i", str(hosts), "--parallel", str(workers),
                    "--config-file", str(config), "-o", str(out)], site, tmp)
    result["extracted"] = sum(1 for _ in out.iterdir())
    result.pop("stdout")
    err = result.pop("stderr")
    if result["pages"] == 0:
        print(err[-3000:], file=sys.stderr)
    return result


def extraction_limit(site: Site, settings: Path, workers: int) -> dict:
    """Pages per second of analyse() alone over the same bytes, in `workers` processes."""
    loaded = load_settings(settings)
    topics, near = loaded.topics, near_of(loaded)
    jobs = [(f"{site.base(ip)}{path}", body, "text/html", topics, 0, near) for ip in site.ips
            for path, (body, _) in site.content[ip].items() if path.startswith("/page/")]
    seconds, cpu, counts = analyse_in_pool(jobs, workers)
    return {"pages_per_s": round(len(jobs) / seconds, 2), "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu, 1), "verdicts": counts}


def trafilatura_alone(site: Site, workers: int) -> dict:
    """trafilatura.extract alone over the pages' bytes, in `workers` processes."""
    jobs = [(f"{site.base(ip)}{path}", body) for ip in site.ips
            for path, (body, _) in site.content[ip].items() if path.startswith("/page/")]
    return trafilatura_in_pool(jobs, workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devset", type=Path, default=DEVSET, help="the devset folder")
    parser.add_argument("--pages", type=int, default=0, help="pages to serve (default: all usable)")
    parser.add_argument("--hosts", type=int, default=4, help="loopback hosts to deal them over (default 4)")
    parser.add_argument("--workers", type=int, default=available_cores(),
                        help="worker processes / threads of each contender (default: cores)")
    parser.add_argument("--repeat", type=int, default=2, help="alternating runs (best counts)")
    parser.add_argument("--topics", choices=("keep-all", "shipped"), default="keep-all",
                        help="one keep_all topic (default) or the shipped settings.toml's topics")
    parser.add_argument("--no-trafilatura", action="store_true", help="leave trafilatura's crawler out")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--checkout", type=Path,
                        help="also crawl with another checkout's code, alternating (before/after figures)")
    args = parser.parse_args()
    if not (args.devset / "manifest.jsonl").is_file():
        parser.error(f"--devset {args.devset}: no manifest.jsonl there")

    pages = load_pages(args.devset, args.pages or None)
    try:  # port 80: trafilatura (courlan) refuses an IP address with a port
        site = Site(pages, args.hosts, 0 if args.no_trafilatura else 80)
    except PermissionError:
        parser.error("trafilatura's crawler refuses URLs of an IP address with a port, so the site "
                     "must be served on port 80 of 127.0.0.51..., which needs root (or "
                     "net.ipv4.ip_unprivileged_port_start=80); run as root or pass --no-trafilatura")
    out: dict = {"pages": len(pages), "mb": round(sum(map(len, pages)) / 2**20, 1),
                 "hosts": args.hosts, "workers": args.workers, "cores": available_cores(),
                 "topics": args.topics, "load_average": os.getloadavg()[0]}
    crawls, limits, trafs, befores, alones = [], [], [], [], []
    try:
        with tempfile.TemporaryDirectory(prefix="tw-real-") as tmp:
            tmp_path = Path(tmp)
            for k in range(args.repeat):
                if args.checkout:
                    befores.append(run_topicwatch(site, tmp_path, k, args.workers, args.topics,
                                                  args.checkout.resolve(), "before"))
                crawls.append(run_topicwatch(site, tmp_path, k, args.workers, args.topics))
                limits.append(extraction_limit(site, tmp_path / f"tw{k}.toml", args.workers))
                if not args.no_trafilatura:
                    trafs.append(run_trafilatura(site, tmp_path, k, args.workers))
                alones.append(trafilatura_alone(site, args.workers))
    finally:
        site.stop()
    out["crawl"] = max(crawls, key=lambda r: r["pages_per_s"])
    out["crawl"]["all_pages_per_s"] = [r["pages_per_s"] for r in crawls]
    out["extraction_only"] = max(limits, key=lambda r: r["pages_per_s"])
    out["extraction_only"]["all_pages_per_s"] = [r["pages_per_s"] for r in limits]
    out["ratio_to_limit"] = round(out["crawl"]["pages_per_s"] / out["extraction_only"]["pages_per_s"], 2)
    if befores:
        out["checkout"] = max(befores, key=lambda r: r["pages_per_s"])
        out["checkout"]["all_pages_per_s"] = [r["pages_per_s"] for r in befores]
        out["checkout"]["path"] = str(args.checkout)
        out["checkout_ratio_to_limit"] = round(out["checkout"]["pages_per_s"]
                                               / out["extraction_only"]["pages_per_s"], 2)
    if trafs:
        out["trafilatura"] = max(trafs, key=lambda r: r["pages_per_s"])
        out["trafilatura"]["all_pages_per_s"] = [r["pages_per_s"] for r in trafs]
        out["ratio_to_trafilatura"] = round(out["crawl"]["pages_per_s"] / out["trafilatura"]["pages_per_s"], 2)
    if alones:
        out["trafilatura_alone"] = max(alones, key=lambda r: r["pages_per_s"])
        out["trafilatura_alone"]["all_pages_per_s"] = [r["pages_per_s"] for r in alones]
        out["ratio_to_trafilatura_alone"] = round(out["crawl"]["pages_per_s"]
                                                  / out["trafilatura_alone"]["pages_per_s"], 2)
    out["largest_process_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    out["load_average_end"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return
    print(f"site: {out['pages']} devset pages, {out['mb']} MB, on {out['hosts']} hosts; topics "
          f"{out['topics']}; {out['workers']} workers on {out['cores']} cores; load average "
          f"{out['load_average']:.2f} at the start, {out['load_average_end']:.2f} at the end")
    c = out["crawl"]
    print(f"topicwatch crawl:       {c['seconds']:7.2f} s  {c['pages']} pages  {c['pages_per_s']:6.2f} pages/s"
          f"   (runs {c['all_pages_per_s']}; {c['cpu_seconds']} CPU s, {c['own_cpu_seconds']} of them the "
          f"crawl's own process; tree {c['tree_peak_rss_mb']} MB; "
          f"exit {c['exit']}; {c['summary']})")
    print(f"                        {c['timeline']}")
    e = out["extraction_only"]
    print(f"extraction-only limit:  {e['seconds']:7.2f} s  {e['pages_per_s']:6.2f} pages/s   (runs "
          f"{e['all_pages_per_s']}; {e['cpu_seconds']} CPU s; {e['verdicts']})")
    print(f"crawl / limit:          {out['ratio_to_limit']:.2f}   (goal >= 0.8)")
    if befores:
        b = out["checkout"]
        print(f"crawl of --checkout:    {b['seconds']:7.2f} s  {b['pages']} pages  {b['pages_per_s']:6.2f} "
              f"pages/s   (runs {b['all_pages_per_s']}; {b['cpu_seconds']} CPU s; tree "
              f"{b['tree_peak_rss_mb']} MB; exit {b['exit']}; {b['summary']})")
        print(f"                        {b['timeline']}")
        print(f"its crawl / limit:      {out['checkout_ratio_to_limit']:.2f}")
    if trafs:
        t = out["trafilatura"]
        print(f"trafilatura --sitemap:  {t['seconds']:7.2f} s  {t['pages']} pages  {t['pages_per_s']:6.2f} "
              f"pages/s   (runs {t['all_pages_per_s']}; {t['cpu_seconds']} CPU s; tree "
              f"{t['tree_peak_rss_mb']} MB; exit {t['exit']}; {t['extracted']} files written)")
        print(f"                        {t['timeline']}")
        print(f"crawl / trafilatura:    {out['ratio_to_trafilatura']:.2f}   (goal >= 2)")
    if alones:
        a = out["trafilatura_alone"]
        print(f"trafilatura alone:      {a['seconds']:7.2f} s  {a['pages_per_s']:6.2f} pages/s   (runs "
              f"{a['all_pages_per_s']}; {a['cpu_seconds']} CPU s; {a['extracted']} extracted; "
              "trafilatura.extract with its defaults, in a pool of the same size)")
        print(f"crawl / trafilatura alone: {out['ratio_to_trafilatura_alone']:.2f}   (the issue's first "
              "measure of the limit)")


if __name__ == "__main__":
    main()
