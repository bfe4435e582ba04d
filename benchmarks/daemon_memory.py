"""Does the daemon's memory stay flat over hundreds of cycles?

Starts the fixture news site (tests/fixturesite/) in this process and a real
`python -m crawler daemon` on a schedule that fires back to back, adds a new article to the
site every few cycles (so ingest and the near-duplicate lookup in `lsh_bands` do real work), and
prints the daemon process's RSS every 20 completed cycles with the mean cycle time.

    .venv/bin/python benchmarks/daemon_memory.py [--cycles 200] [--every 2]

Each crawl is a child process, so the daemon's own RSS is what must stay flat; the children's
memory is returned to the system when they exit.
"""

from __future__ import annotations

import argparse
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fixturesite import ArticleSpec, FixtureSite  # noqa: E402

SOURCES = '["xinghe-sitemap", "island-atom", "ledger-news"]'

# Sentences written for this benchmark; each article draws a few, plus its own numbers.
SENTENCES = (
    "多家雲端業者本週調整了大模型推理服務的價格，部分型號的降幅接近四成。",
    "一家新創公司宣布將旗下的開源模型授權改為更寬鬆的條款，允許商業使用。",
    "研究人員指出，算力的租用成本仍是中小型團隊導入人工智能的最大障礙。",
    "晶片供應吃緊的情況略有緩解，但高階圖形處理器的交期仍長達數月。",
    "分析師認為，企業導入智能體的重點已從展示轉向可量測的效益。",
    "一座新的智算中心在南部完工，預計明年開始對外提供算力租用服務。",
    "開源社群的維護者呼籲大型企業投入更多資源，協助修補模型的安全漏洞。",
    "多位工程師表示，把大模型部署在自有機房，能降低資料外洩的風險。",
    "一份產業報告顯示，今年已有超過三成的製造業者試用生成式人工智能。",
    "業者估計，推理需求的成長速度已經超過訓練需求，帶動了新的硬體設計。",
    "監管單位正在研議人工智能服務的標示規範，要求業者揭露模型的來源。",
    "一家電信公司與大學合作，打算訓練一個專門處理客服對話的中文模型。",
)


def new_article(n: int, rng: random.Random) -> ArticleSpec:
    picks = rng.sample(SENTENCES, 5)
    paragraphs = tuple(f"第{n}則快訊：{s}相關單位表示，第{n * 7 % 97}項計畫的進度符合預期。" for s in picks)
    return ArticleSpec(
        host="b", path=f"/news/2024/11/{n:04d}-bench.html", layout="b",
        title=f"大模型與算力動態第{n}則", published="2024-11-01T09:00:00+08:00",
        language="zh", script="zh-Hant", on_topic=True, must_include=(), paragraphs=paragraphs,
    )


def settings_text(site: FixtureSite, corpus: Path) -> str:
    text = site.settings_toml(corpus)
    text = text.replace("[crawl]\n", "[crawl]\nautothrottle = false\n", 1)
    shipped = (ROOT / "settings.toml").read_text(encoding="utf-8")
    topics = shipped[shipped.index("[[topics]]"):shipped.index("[[sources]]")]
    return (f"{text}\n{topics}\n[daemon]\nlog_level = \"WARNING\"\n\n"
            f"[[schedules]]\nname = \"bench\"\ninterval_minutes = 0.005\nsources = {SOURCES}\n")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cycles_done(corpus: Path) -> int:
    """Runs whose crawl and ingest are both over (the schedule's state has moved on)."""
    conn = sqlite3.connect(corpus, timeout=30)
    try:
        return conn.execute(
            "SELECT count(*) FROM runs r WHERE r.ended IS NOT NULL AND NOT EXISTS ("
            "SELECT 1 FROM schedules_state s WHERE s.last_run_id = r.id AND s.last_status = 'running')"
        ).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def corpus_summary(corpus: Path) -> str:
    conn = sqlite3.connect(corpus, timeout=30)
    try:
        arts = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        bad = conn.execute("SELECT count(*) FROM runs WHERE status NOT IN ('ok', 'running')").fetchone()[0]
        return f"articles {arts:4d}  runs not ok {bad}"
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--every", type=int, default=2, help="add an article every N cycles")
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp, FixtureSite(slow_seconds=5) as site:
        site.add_page("b", "/robots.txt", b"User-agent: *\nDisallow: /admin/\n", content_type="text/plain")
        corpus = Path(tmp) / "corpus.db"
        settings = Path(tmp) / "settings.toml"
        settings.write_text(settings_text(site, corpus), encoding="utf-8")
        daemon = subprocess.Popen([sys.executable, "-m", "crawler", "daemon", "--settings", str(settings)],
                                  stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / "daemon.log", "wb"))
        print(f"daemon pid {daemon.pid}; {args.cycles} cycles; a new article every {args.every} cycles")
        print(f"{'cycle':>5}  {'RSS MB':>7}  {'s/cycle':>7}  corpus")
        try:
            run(daemon, corpus, site, args, rng)
        finally:
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=120)
            print(f"daemon exit code {code}")
            if code != 0:
                print((Path(tmp) / "daemon.log").read_text()[-3000:])
    return 0


def run(daemon: subprocess.Popen, corpus: Path, site: FixtureSite, args: argparse.Namespace,
        rng: random.Random) -> None:
    done, added, last_mark, last_time = 0, 0, 0, time.monotonic()
    while done < args.cycles:
        if daemon.poll() is not None:
            raise SystemExit(f"the daemon exited with {daemon.returncode}")
        now_done = cycles_done(corpus)
        if now_done != done:
            done = now_done
            if done // args.every > added:
                added += 1
                site.add_article(new_article(added, rng))
            if done == 1 or done - last_mark >= 20 or done >= args.cycles:
                elapsed = time.monotonic() - last_time
                per = elapsed / max(done - last_mark, 1)
                print(f"{done:5d}  {rss_mb(daemon.pid):7.1f}  {per:7.2f}  {corpus_summary(corpus)}", flush=True)
                last_mark, last_time = done, time.monotonic()
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
