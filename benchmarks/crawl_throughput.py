"""How close `topicwatch crawl` comes to the limits: extraction speed and politeness.

    .venv/bin/python benchmarks/crawl_throughput.py [--pages 320] [--workers N] [--repeat 2]
        [--skip-polite] [--json]

Generates a benchmark news site (article pages of 20-400 KB in GBK, Big5 and UTF-8, written
from word lists and templates here; RSS feeds in each host's encoding; robots.txt -> sitemap
index -> sitemaps), serves it from a threaded HTTP server on four loopback hosts
(127.0.0.41-44, ETag / Last-Modified / 304 like a real server), and prints:

1. `topicwatch crawl` with `delay = 0`: wall time of the whole command (start-up, crawl,
   ingest) and article pages per second;
2. the extraction-only limit: `crawler.analyse.analyse` (decode, extract, topics) over the same
   page bytes in a process pool of the same size, nothing else; and the ratio of 1 to 2
   (goal >= 0.8); beside it trafilatura alone, the issue's first measure of that limit
   (`trafilatura.extract(body, url=URL, with_metadata=True)` with its defaults, no topicwatch
   code loaded, in a pool of the same size), and the ratio of 1 to it;
3. `topicwatch crawl` with the default delay (1 s per host): wall time against the politeness
   bound, the busiest host's requests x the delay (goal <= 1.1 x, plus start-up);
4. the same crawl again, nothing changed: its time as a share of 3 (goal <= 5 %) and its
   article requests (goal 0);
5. CPU seconds of the crawl (all its processes) and of extraction alone: what the crawl costs
   beyond extraction, whatever else the machine runs; the no-delay crawl and the extraction
   pass alternate `--repeat` times and the best of each counts, so other work on a shared
   machine weighs on both alike;
6. peak RSS: the largest process (getrusage of the waited-for children) and the crawl's
   process tree summed (sampled every 0.1 s; pages shared after fork count once per process).

Every crawl is a child process `python -m crawler crawl` on a fresh corpus in a temporary
folder (except the re-crawl).  Nothing here goes into the tests; nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler.config import Settings, available_cores, load_settings  # noqa: E402
from crawler.dedup import NearDup  # noqa: E402

HOSTS = {  # ip -> (encoding, language, script, share of the pages)
    "127.0.0.41": ("gbk", "zh", "hans", 0.30),
    "127.0.0.42": ("big5", "zh", "hant", 0.25),
    "127.0.0.43": ("utf-8", "en", None, 0.25),
    "127.0.0.44": ("utf-8", "zh", "hans", 0.20),
}
FEED_ITEMS = 60  # the newest entries each feed lists; sitemaps list everything
SITEMAP_SIZE = 100

# ---------------------------------------------------------------- words and templates

HANS_NOUNS = ("公司", "市场", "研究团队", "工程师", "投资者", "监管机构", "供应链", "用户", "制造商", "实验室",
              "平台", "城市", "政府部门", "消费者", "初创企业", "高校", "运营商", "银行", "物流网络", "开发者")
HANS_VERBS = ("宣布", "推出", "扩大", "调整", "测试", "评估", "升级", "公布", "加快", "放缓", "讨论", "完成")
HANS_OBJECTS = ("新一代产品", "年度计划", "生产线", "服务价格", "合作协议", "安全标准", "数据报告", "招聘计划",
                "海外业务", "软件更新", "充电网络", "零售门店", "物流中心", "研发投入", "会员制度")
HANS_TAILS = ("以应对不断变化的需求", "预计明年上半年见效", "引发业内广泛关注", "分析人士认为影响有限",
              "相关细节尚未披露", "此前曾多次推迟", "这一决定得到多方支持", "市场反应较为平淡")
HANS_TOPIC = ("芯片", "晶圆", "半导体", "芯片制造", "晶圆代工")
HANT_NOUNS = ("公司", "市場", "研究團隊", "工程師", "投資人", "監管機關", "供應鏈", "用戶", "製造商", "實驗室",
              "平台", "城市", "政府部門", "消費者", "新創企業", "大學", "電信業者", "銀行", "物流網路", "開發者")
HANT_VERBS = ("宣布", "推出", "擴大", "調整", "測試", "評估", "升級", "公布", "加快", "放緩", "討論", "完成")
HANT_OBJECTS = ("新一代產品", "年度計畫", "生產線", "服務價格", "合作協議", "安全標準", "數據報告", "招募計畫",
                "海外業務", "軟體更新", "充電網路", "零售門市", "物流中心", "研發投入", "會員制度")
HANT_TAILS = ("以因應不斷變化的需求", "預計明年上半年見效", "引發業界廣泛關注", "分析人士認為影響有限",
              "相關細節尚未揭露", "先前曾多次延後", "這項決定獲得多方支持", "市場反應相對平淡")
HANT_TOPIC = ("晶片", "晶圓", "半導體", "晶片製造", "晶圓代工")
EN_NOUNS = ("the company", "the market", "a research team", "engineers", "investors", "the regulator",
            "the supply chain", "users", "the manufacturer", "the laboratory", "the platform",
            "the city council", "consumers", "a start-up", "the university", "the operator")
EN_VERBS = ("announced", "launched", "expanded", "adjusted", "tested", "reviewed", "upgraded",
            "published", "accelerated", "slowed", "discussed", "completed")
EN_OBJECTS = ("a new product line", "its annual plan", "a production line", "service prices",
              "a partnership agreement", "safety standards", "a data report", "a hiring plan",
              "overseas operations", "a software update", "a charging network", "retail stores")
EN_TAILS = ("to meet changing demand", "with effects expected next spring", "drawing wide attention",
            "though analysts expect a limited impact", "without disclosing further details",
            "after several delays", "with support from several partners", "to a muted market reaction")
EN_TOPIC = ("semiconductor", "chip", "wafer", "chip making", "foundry")


@dataclass
class Article:
    host: str
    path: str
    title: str
    body: bytes
    published: datetime
    encoding: str


def _sentence(rng: random.Random, lang: str, script: str | None, on_topic: bool) -> str:
    if lang == "en":
        n, v, o, t, topic = EN_NOUNS, EN_VERBS, EN_OBJECTS, EN_TAILS, EN_TOPIC
        obj = f"{rng.choice(topic)} {rng.choice(o)}" if on_topic and rng.random() < 0.4 else rng.choice(o)
        s = f"{rng.choice(n)} {rng.choice(v)} {obj} {rng.choice(t)}."
        return s[0].upper() + s[1:]
    if script == "hant":
        n, v, o, t, topic = HANT_NOUNS, HANT_VERBS, HANT_OBJECTS, HANT_TAILS, HANT_TOPIC
    else:
        n, v, o, t, topic = HANS_NOUNS, HANS_VERBS, HANS_OBJECTS, HANS_TAILS, HANS_TOPIC
    obj = rng.choice(topic) + rng.choice(o) if on_topic and rng.random() < 0.4 else rng.choice(o)
    return f"{rng.choice(n)}{rng.choice(v)}{obj}，{rng.choice(t)}。"


def _page(rng: random.Random, host: str, i: int, size: int, published: datetime) -> Article:
    encoding, lang, script, _ = HOSTS[host]
    on_topic = rng.random() < 0.5
    title_words = _sentence(rng, lang, script, on_topic).rstrip("。.")
    title = title_words[:40] if lang != "en" else title_words[:90]
    paragraphs = []
    text_chars = rng.randint(800, 6000) if lang != "en" else rng.randint(2000, 14000)
    while sum(map(len, paragraphs)) < text_chars:
        paragraphs.append(("" if lang != "en" else " ").join(
            _sentence(rng, lang, script, on_topic) for _ in range(rng.randint(2, 6))))
    stamp = published.isoformat()
    nav = "".join(f'<li><a href="/section/{k}.html">{escape(_sentence(rng, lang, script, False)[:12])}</a></li>'
                  for k in range(40))
    head = (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="{encoding}">'
            f"<title>{escape(title)}</title>"
            f'<meta property="og:title" content="{escape(title)}">'
            f'<meta property="article:published_time" content="{stamp}">'
            f'<link rel="canonical" href="/news/{i}.html"></head><body>'
            f'<header><nav><ul class="menu">{nav}</ul></nav></header><main><article>'
            f'<h1>{escape(title)}</h1><p class="byline"><time datetime="{stamp}">{stamp[:10]}</time></p>')
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    tail_parts = ["</article>"]
    related = "".join(f'<li><a href="/news/{rng.randint(0, 9999)}.html">'
                      f'{escape(_sentence(rng, lang, script, False)[:30])}</a></li>' for _ in range(20))
    tail_parts.append(f'<aside class="related"><h3>More</h3><ul>{related}</ul></aside></main>')
    page = head + body + "".join(tail_parts)
    # what makes real pages big: markup around the article (comment threads, link lists) and
    # inline scripts and styles; about half of each
    filler: list[str] = []
    filled = len(page.encode(encoding, "xmlcharrefreplace"))
    k = 0
    while filled < size - 300:
        k += 1
        if k % 2:
            said = escape(_sentence(rng, lang, script, False))
            chunk = (f'<div class="comment"><span class="user">u{k}</span><p>{said}</p>'
                     f'<a class="reply" href="#c{k}">reply</a></div>')
        else:
            data = hashlib.sha256(f"{host}{i}{k}".encode()).hexdigest()
            chunk = f'<script>window.__state_{k}={{"id":"{data}","n":{k},"tags":["{data[:8]}","{data[8:16]}"]}};</script>'
        filler.append(chunk)
        filled += len(chunk.encode(encoding, "xmlcharrefreplace"))
    html = page + '<section class="comments">' + "".join(filler) + "</section><footer>© bench</footer></body></html>"
    return Article(host, f"/news/{i}.html", title, html.encode(encoding, "xmlcharrefreplace"),
                   published, encoding)


def build_site(pages: int, seed: int = 11) -> dict[str, dict[str, tuple[bytes, str]]]:
    """{host: {path: (body, content type)}} and the articles, for `pages` article pages."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    site: dict[str, dict[str, tuple[bytes, str]]] = {h: {} for h in HOSTS}
    articles: dict[str, list[Article]] = {h: [] for h in HOSTS}
    counts = _split(pages)
    n = 0
    for host, count in counts.items():
        encoding = HOSTS[host][0]
        for _ in range(count):
            size = int(math.exp(rng.uniform(math.log(20_000), math.log(400_000))))
            published = now - timedelta(minutes=rng.randint(5, 60 * 24 * 10))
            a = _page(rng, host, n, size, published)
            n += 1
            articles[host].append(a)
            site[host][a.path] = (a.body, f"text/html; charset={encoding}")
        articles[host].sort(key=lambda a: a.published, reverse=True)
        site[host]["/rss.xml"] = (_feed(host, articles[host][:FEED_ITEMS], encoding),
                                  "application/rss+xml")
        chunks = [articles[host][k:k + SITEMAP_SIZE] for k in range(0, count, SITEMAP_SIZE)]
        index = ['<?xml version="1.0" encoding="UTF-8"?>'
                 '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
        for k, chunk in enumerate(chunks):
            path = f"/sitemap-{k}.xml.gz"
            index.append(f"<sitemap><loc>http://{{host}}{path}</loc>"
                         f"<lastmod>{chunk[0].published.isoformat()}</lastmod></sitemap>")
            site[host][path] = (gzip.compress(_sitemap(chunk), mtime=0), "application/x-gzip")
        index.append("</sitemapindex>")
        site[host]["/sitemap_index.xml"] = ("".join(index).encode(), "application/xml")
        site[host]["/robots.txt"] = (b"User-agent: *\nDisallow: /private/\n"
                                     b"Sitemap: http://{host}/sitemap_index.xml\n", "text/plain")
    return site, articles


def _split(pages: int) -> dict[str, int]:
    counts = {h: int(pages * share) for h, (_, _, _, share) in HOSTS.items()}
    first = next(iter(counts))
    counts[first] += pages - sum(counts.values())
    return counts


def _feed(host: str, items: list[Article], encoding: str) -> bytes:
    out = [f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
           f"<title>bench {host}</title><link>http://{{host}}/</link><description>news</description>"]
    for a in items:
        out.append(f"<item><title>{escape(a.title)}</title><link>http://{{host}}{a.path}</link>"
                   f"<pubDate>{format_datetime(a.published)}</pubDate></item>")
    out.append("</channel></rss>")
    return "".join(out).encode(encoding, "xmlcharrefreplace")


def _sitemap(items: list[Article]) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>'
           '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    out += [f"<url><loc>http://{{host}}{a.path}</loc><lastmod>{a.published.isoformat()}</lastmod></url>"
            for a in items]
    out.append("</urlset>")
    return "".join(out).encode()


# ---------------------------------------------------------------- the server


class Site:
    """Threaded HTTP servers on the benchmark hosts, with a request log."""

    def __init__(self, content: dict[str, dict[str, tuple[bytes, str]]]):
        self.servers: dict[str, ThreadingHTTPServer] = {}
        self.log: list[tuple[float, str, str, int]] = []
        self.lock = threading.Lock()
        self.modified = formatdate(time.time() - 3600, usegmt=True)
        for ip in content:
            server = ThreadingHTTPServer((ip, 0), _Handler)
            server.daemon_threads = True
            server.site, server.ip = self, ip  # type: ignore[attr-defined]
            self.servers[ip] = server
        self.content = {ip: {path: self._filled(ip, body, ctype) for path, (body, ctype) in pages.items()}
                        for ip, pages in content.items()}
        for server in self.servers.values():
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                             daemon=True).start()

    def _filled(self, ip: str, body: bytes, ctype: str) -> tuple[bytes, str, str]:
        host = self.base(ip).removeprefix("http://").encode()
        if ctype == "application/x-gzip":
            body = gzip.compress(gzip.decompress(body).replace(b"{host}", host), mtime=0)
        else:
            body = body.replace(b"{host}", host)
        return body, ctype, f'"{hashlib.md5(body).hexdigest()}"'

    def base(self, ip: str) -> str:
        return f"http://{ip}:{self.servers[ip].server_address[1]}"

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()

    def requests(self, since: float = 0.0) -> list[tuple[float, str, str, int]]:
        with self.lock:
            return [r for r in self.log if r[0] >= since]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        site: Site = self.server.site  # type: ignore[attr-defined]
        ip = self.server.ip  # type: ignore[attr-defined]
        path = self.path.split("?")[0]
        found = site.content[ip].get(path)
        status = 200 if found else 404
        if found and (self.headers.get("If-None-Match") == found[2]
                      or _not_modified_since(self.headers.get("If-Modified-Since"), site.modified)):
            status = 304
        with site.lock:
            site.log.append((time.monotonic(), ip, path, status))
        if status == 404:
            body = b"not found"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
        elif status == 304:
            body = b""
            self.send_response(304)
            self.send_header("ETag", found[2])
        else:
            body = found[0]
            self.send_response(200)
            self.send_header("Content-Type", found[1])
            self.send_header("ETag", found[2])
            self.send_header("Last-Modified", site.modified)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _not_modified_since(header: str | None, modified: str) -> bool:
    if not header:
        return False
    try:
        return parsedate_to_datetime(header) >= parsedate_to_datetime(modified)
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------- the measurements

TOPICS = """
[[topics]]
name = "chips"
description = "Chips and chip making."
terms = [["芯片", "晶片", "chip", "semiconductor", "半导体", "半導體"], ["晶圆", "晶圓", "wafer", "foundry", "晶圆代工", "晶圓代工"]]
"""


def settings_text(site: Site, corpus: Path, delay: float | None, workers: int | None) -> str:
    crawl = ["max_age_days = 30"] + ([f"workers = {workers}"] if workers is not None else [])
    if delay is not None:
        crawl.append(f"delay = {delay}")
    sources = []
    for k, ip in enumerate(HOSTS):
        base = site.base(ip)
        sources.append(f'[[sources]]\nname = "feed-{k}"\nkind = "feed"\nurl = "{base}/rss.xml"\n')
        sources.append(f'[[sources]]\nname = "sitemap-{k}"\nkind = "sitemap"\nurl = "{base}/"\n')
    return (f'[corpus]\npath = "{corpus}"\n\n[crawl]\n' + "\n".join(crawl) + "\n\n"
            + "\n".join(sources) + TOPICS)


@dataclass
class CrawlRun:
    seconds: float
    returncode: int
    requests: list[tuple[float, str, str, int]]
    tree_peak_mb: float
    summary: str
    start: float = 0.0
    cpu: float = 0.0
    own_cpu: float = 0.0  # of the crawl's own process, without its workers

    def timeline(self) -> str:
        """When the first request, the first and the last article request came, from the start."""
        if not self.requests:
            return "no requests"
        arts = self.articles() or self.requests
        return (f"first request at {self.requests[0][0] - self.start:.2f} s, articles "
                f"{arts[0][0] - self.start:.2f}-{arts[-1][0] - self.start:.2f} s, "
                f"exit at {self.seconds:.2f} s")

    def articles(self) -> list[tuple[float, str, str, int]]:
        return [r for r in self.requests if r[2].startswith("/news/")]

    def busiest(self) -> int:
        per_host: dict[str, int] = {}
        for _, ip, _, _ in self.requests:
            per_host[ip] = per_host.get(ip, 0) + 1
        return max(per_host.values()) if per_host else 0


CHECKOUT = ROOT  # whose code `python -m crawler` runs (--checkout)


@dataclass
class Measured:
    """A finished child process: its output, wall and CPU seconds (its tree's, and its own as
    last sampled: up to 0.1 s short), peak RSS of its tree."""

    returncode: int
    out: str
    err: str
    seconds: float
    cpu: float
    tree_peak_mb: float
    own_cpu: float = 0.0


def run_measured(cmd: list[str], cwd: Path) -> Measured:
    """Run `cmd` to the end, sampling its process tree's RSS, and its own CPU seconds (what the
    crawl's process spends besides its workers), every 0.1 s."""
    start = time.monotonic()
    cpu = _children_cpu()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0.0, 0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            peak[1] = max(peak[1], _own_cpu(proc.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    seconds = time.monotonic() - start
    done.set()
    sampler.join()
    return Measured(proc.returncode, out, err, seconds, _children_cpu() - cpu, peak[0], peak[1])


def _own_cpu(pid: int) -> float:
    """CPU seconds (user + system) `pid` has used itself, from /proc (Linux); 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def crawl(site: Site, settings: Path) -> CrawlRun:
    start = time.monotonic()
    run = run_measured([sys.executable, "-m", "crawler", "crawl", "--settings", str(settings)], CHECKOUT)
    if run.returncode not in (0, 3):
        print(run.err[-3000:], file=sys.stderr)
    summary = next((line for line in run.out.splitlines() if line.startswith("fetched")), "")
    return CrawlRun(run.seconds, run.returncode, site.requests(start), run.tree_peak_mb, summary,
                    start, run.cpu, run.own_cpu)


def _children_cpu() -> float:
    """CPU seconds (user + system) of the waited-for children and their descendants."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _tree_rss_mb(pid: int) -> float:
    """RSS of `pid` and its descendants, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total / 2**20


def _analyse_one(args: tuple) -> str:
    from crawler.analyse import analyse
    from crawler.records import Fetched

    url, body, ctype, topics, max_age_days, near = args
    verdict = analyse(Fetched(url=url, source="bench", body=body, content_type=ctype, status=200),
                      topics, max_age_days, near=near)
    return str(verdict.reason or "matched")


def near_of(settings: Settings) -> NearDup:
    """The dedup settings the crawl's workers compute each kept text's keys with."""
    d = settings.dedup
    return NearDup(d.near_threshold, d.num_perm, d.shingle_size)


def in_pool(fn: Callable[[Any], Any], jobs: list, workers: int) -> tuple[list, float, float]:
    """`fn` over `jobs` in a pool of `workers` processes, started before the clock runs: the
    results, seconds, CPU seconds of the pool (start-up included)."""
    cpu = _children_cpu()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(fn, jobs[:workers], chunksize=1))  # processes started
        start = time.monotonic()
        results = list(pool.map(fn, jobs, chunksize=1))
        seconds = time.monotonic() - start
    return results, seconds, _children_cpu() - cpu


def analyse_in_pool(jobs: list[tuple], workers: int) -> tuple[float, float, dict[str, int]]:
    """`analyse` over `jobs` (url, body, content type, topics, max_age_days, NearDup) in a pool
    of `workers` processes (`in_pool`): seconds, CPU seconds, verdict counts.  The
    extraction-only limit of both benchmarks: what the crawl's workers do per page, the kept
    texts' dedup keys included (as in the crawl)."""
    reasons, seconds, cpu = in_pool(_analyse_one, jobs, workers)
    counts: dict[str, int] = {}
    for r in reasons:
        counts[r] = counts.get(r, 0) + 1
    return seconds, cpu, counts


def _trafilatura_one(job: tuple[str, bytes]) -> bool:
    """In a pool process: trafilatura's own extraction of one page, as its users call it."""
    import trafilatura

    if "crawler.extract.xpaths" in sys.modules:  # stock trafilatura only (the parent loads none)
        raise RuntimeError("topicwatch's compiled XPaths are loaded in this process")
    url, body = job
    return trafilatura.extract(body, url=url, with_metadata=True) is not None


def trafilatura_in_pool(jobs: list[tuple[str, bytes]], workers: int) -> dict:
    """Pages per second of `trafilatura.extract(body, url=URL, with_metadata=True)` with its
    defaults over `jobs` (url, bytes), in `workers` processes (`in_pool`): the issue's first
    measure of the limit ("trafilatura alone, over the same page bytes in a 2-process pool"),
    with none of topicwatch's code loaded."""
    kept, seconds, cpu = in_pool(_trafilatura_one, jobs, workers)
    return {"pages_per_s": round(len(jobs) / seconds, 2), "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu, 1), "extracted": sum(kept)}


def extraction_limit(site: Site, articles: dict[str, list[Article]], settings: Path,
                     workers: int) -> tuple[float, float, dict[str, int]]:
    """Pages per second of analyse() alone over the same bytes, in `workers` processes."""
    loaded = load_settings(settings)
    topics, near = loaded.topics, near_of(loaded)
    jobs = [(f"{site.base(a.host)}{a.path}", site.content[a.host][a.path][0],
             site.content[a.host][a.path][1], topics, 30, near) for host in articles for a in articles[host]]
    seconds, cpu, counts = analyse_in_pool(jobs, workers)
    return len(jobs) / seconds, cpu, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=320, help="article pages (default 320)")
    parser.add_argument("--workers", type=int, default=available_cores(),
                        help="worker processes of the crawl and of the extraction pool (default: cores)")
    parser.add_argument("--repeat", type=int, default=2,
                        help="times the no-delay crawl and the extraction-only pass alternate (best counts)")
    parser.add_argument("--skip-polite", action="store_true", help="only the no-delay crawl and the limit")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--checkout", type=Path,
                        help="crawl with another checkout's code (before/after figures; it must know "
                             "the same settings, so `workers` is left out)")
    args = parser.parse_args()
    global CHECKOUT
    crawl_workers = args.workers
    if args.checkout:
        CHECKOUT, crawl_workers = args.checkout.resolve(), None
        out_checkout = str(CHECKOUT)
    else:
        out_checkout = None

    t = time.monotonic()
    content, articles = build_site(args.pages)
    sizes = sorted(len(a.body) for host in articles for a in articles[host])
    site = Site(content)
    out: dict[str, object] = {
        "pages": args.pages, "workers": args.workers, "cores": available_cores(),
        "load_average": os.getloadavg()[0],
        "page_kb_min_median_max": [sizes[0] // 1024, sizes[len(sizes) // 2] // 1024, sizes[-1] // 1024],
        "site_mb": round(sum(sizes) / 2**20, 1), "build_seconds": round(time.monotonic() - t, 1),
        "checkout": out_checkout,
    }
    try:
        with tempfile.TemporaryDirectory(prefix="tw-bench-") as tmp:
            tmp_path = Path(tmp)
            # the machine may be shared: extraction alone and the crawl alternate, and the best
            # of each counts (CPU seconds do not depend on the load)
            limits, fast_runs, alones = [], [], []
            for k in range(args.repeat):
                fast = tmp_path / f"fast{k}.toml"
                fast.write_text(settings_text(site, tmp_path / f"fast{k}.db", 0, crawl_workers),
                                encoding="utf-8")
                limits.append(extraction_limit(site, articles, fast, args.workers))
                fast_runs.append(crawl(site, fast))
                alones.append(trafilatura_in_pool(
                    [(f"{site.base(a.host)}{a.path}", site.content[a.host][a.path][0])
                     for host in articles for a in articles[host]], args.workers))
            run = min(fast_runs, key=lambda r: r.seconds)
            limit, ext_cpu, reasons = max(limits)
            out["fast"] = {"seconds": round(run.seconds, 2), "exit": run.returncode,
                           "article_requests": len(run.articles()),
                           "pages_per_s": round(len(run.articles()) / run.seconds, 2),
                           "all_seconds": [round(r.seconds, 2) for r in fast_runs],
                           "cpu_seconds": round(run.cpu, 1), "own_cpu_seconds": round(run.own_cpu, 1),
                           "tree_peak_rss_mb": round(run.tree_peak_mb), "summary": run.summary,
                           "timeline": run.timeline()}
            out["extraction_only"] = {"pages_per_s": round(limit, 2), "cpu_seconds": round(ext_cpu, 1),
                                      "all_pages_per_s": [round(x[0], 2) for x in limits],
                                      "verdicts": reasons}
            out["ratio"] = round(out["fast"]["pages_per_s"] / limit, 2)
            alone = max(alones, key=lambda r: r["pages_per_s"])
            out["trafilatura_alone"] = {**alone, "all_pages_per_s": [r["pages_per_s"] for r in alones]}
            out["ratio_to_trafilatura_alone"] = round(out["fast"]["pages_per_s"] / alone["pages_per_s"], 2)
            if not args.skip_polite:
                polite = tmp_path / "polite.toml"
                polite.write_text(settings_text(site, tmp_path / "polite.db", None, crawl_workers),
                                  encoding="utf-8")
                delay = load_settings(polite).crawl.delay
                first = crawl(site, polite)
                bound = first.busiest() * delay
                out["polite"] = {"seconds": round(first.seconds, 2), "exit": first.returncode,
                                 "delay": delay, "busiest_host_requests": first.busiest(),
                                 "bound_seconds": round(bound, 1),
                                 "ratio_to_bound": round(first.seconds / bound, 3) if bound else None,
                                 "article_requests": len(first.articles()),
                                 "tree_peak_rss_mb": round(first.tree_peak_mb), "summary": first.summary,
                                 "timeline": first.timeline()}
                again = crawl(site, polite)
                out["recrawl"] = {"seconds": round(again.seconds, 2), "exit": again.returncode,
                                  "share_of_first": round(again.seconds / first.seconds, 3),
                                  "article_requests": len(again.articles()),
                                  "requests": len(again.requests), "summary": again.summary,
                                  "timeline": again.timeline()}
    finally:
        site.stop()
    out["largest_process_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    out["load_average_end"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        show(out)


def show(out: dict) -> None:
    print(f"site: {out['pages']} article pages, {out['site_mb']} MB, sizes (KB) min/median/max "
          f"{out['page_kb_min_median_max']}; {out['workers']} workers on {out['cores']} cores; "
          f"load average {out['load_average']:.2f} at the start, {out['load_average_end']:.2f} at the end"
          + (f"; crawled with {out['checkout']}" if out.get("checkout") else ""))
    f = out["fast"]
    print(f"crawl, delay 0:        {f['seconds']:7.2f} s  {f['article_requests']} article pages  "
          f"{f['pages_per_s']:6.2f} pages/s   (best of {f['all_seconds']} s; {f['cpu_seconds']} CPU s, "
          f"{f['own_cpu_seconds']} of them the crawl's own process; "
          f"exit {f['exit']}; {f['summary']})")
    print(f"                       {f['timeline']}")
    e = out["extraction_only"]
    print(f"extraction-only limit: {e['pages_per_s']:6.2f} pages/s   (best of {e['all_pages_per_s']}; "
          f"{e['cpu_seconds']} CPU s; {e['verdicts']})")
    print(f"ratio crawl / limit:   {out['ratio']:.2f}   (goal >= 0.8)")
    a = out["trafilatura_alone"]
    print(f"trafilatura alone:     {a['pages_per_s']:6.2f} pages/s   (best of {a['all_pages_per_s']}; "
          f"{a['cpu_seconds']} CPU s; {a['extracted']} extracted; trafilatura.extract with its "
          "defaults, in a pool of the same size)")
    print(f"ratio crawl / trafilatura alone: {out['ratio_to_trafilatura_alone']:.2f}   (the issue's "
          "first measure of the limit)")
    if "polite" in out:
        p, r = out["polite"], out["recrawl"]
        print(f"crawl, delay {p['delay']:g} s:      {p['seconds']:7.2f} s; politeness bound "
              f"{p['busiest_host_requests']} requests x {p['delay']:g} s = {p['bound_seconds']} s; "
              f"ratio {p['ratio_to_bound']}   (goal <= 1.1 + start-up)  (exit {p['exit']}; {p['summary']})")
        print(f"                       {p['timeline']}")
        print(f"re-crawl, unchanged:   {r['seconds']:7.2f} s = {100 * r['share_of_first']:.1f} % of the first; "
              f"{r['article_requests']} article requests, {r['requests']} requests in all   "
              f"(goal <= 5 %, 0)")
        print(f"                       {r['timeline']}")
    print(f"peak RSS: largest process {out['largest_process_peak_rss_mb']} MB; crawl process tree "
          f"{out['fast']['tree_peak_rss_mb']} MB (delay 0)"
          + (f", {out['polite']['tree_peak_rss_mb']} MB (delay)" if "polite" in out else ""))


if __name__ == "__main__":
    main()
