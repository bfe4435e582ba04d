"""A generated corpus for `browse_latency.py`, written through the project's own ingest.

    .venv/bin/python benchmarks/browse_corpus.py OUT.db ARTICLES [--days 365] [--seed 11]

Every article goes the way a crawled one goes: a `SpoolItem` (an `Article` and its topic
`Match`es) handed to `crawler.store.ingest.Ingester`, which looks up the canonical URL and the
content hash, computes the MinHash signature, finds the story through the LSH index and writes
`articles`, `articles_fts`, `article_topics`, `minhashes`, `stories`, `copies` and `pages` in
one transaction per item.  Only the spool is an in-memory list (the durable spool is not what
is being measured) and the ingester's clock is a simulated one, so `first_seen` spreads over
`--days` days, denser towards the present, as a corpus filled by a daemon would.

The texts are generated from the word lists below, written for this benchmark: Simplified
(half the articles), Traditional (a quarter, converted with OpenCC) and English (a quarter),
2-6 KB each.  Of the items, about 64 % are new stories, 22 % rewrites of a recent article by
another source (one sentence in six replaced, sometimes in the other script: the same story),
11 % the same text at another site (an exact copy) and 3 % a tracking-parameter variant of a
stored URL (a canonical copy).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.config import DedupSettings  # noqa: E402
from crawler.records import Article, Match, SpoolItem  # noqa: E402
from crawler.store import runs  # noqa: E402
from crawler.store.db import open_db  # noqa: E402
from crawler.store.ingest import Ingester  # noqa: E402
from crawler.text.normalise import to_traditional  # noqa: E402

ZH_WORDS = """
大模型 推理 训练 算力 芯片 开源 闭源 参数 多模态 智能体 向量 数据库 云计算 服务器 集群 显存
带宽 功耗 液冷 机房 电费 价格战 降价 订阅 企业版 开发者 应用商店 插件 接口 调用量 日活 月活
融资 估值 天使轮 领投 跟投 上市 招股书 营收 毛利 亏损 财报 季度 同比 环比 监管 备案 安全评估
版权 数据合规 隐私 出口管制 国产替代 供应链 封装 光刻 晶圆 良率 产能 代工 初创公司 实验室
研究院 高校 论文 基准测试 排行榜 评测 幻觉 对齐 微调 蒸馏 量化 长文本 上下文 检索增强 代码生成
语音识别 图像生成 视频生成 自动驾驶 机器人 具身智能 医疗影像 金融风控 智能客服 教育 制造业 政务
发布会 首席执行官 联合创始人 工程师 产品经理 合作伙伴 生态 用户 场景 落地 商业化 规模化 成本
效率 能力 版本 更新 上线 内测 公测 开放 宣布 表示 认为 预计 透露 据悉 此前 随后 目前 未来 今年
明年 上半年 下半年 北京 上海 深圳 杭州 广州 台北 新竹 香港 新加坡 硅谷
""".split()
ZH_GLUE = "的 了 在 与 和 将 也 已 并 对 从 为 把 被 还 更 较 都".split()
EN_WORDS = """
model models inference training compute chip chips open-source weights parameters multimodal
agent agents vector database cloud server cluster memory bandwidth power cooling datacenter
price cut subscription enterprise developers plugin API usage users funding round valuation
investors lead listing prospectus revenue margin loss earnings quarter growth regulators
filing safety review copyright compliance privacy export controls domestic supply chain
packaging lithography wafer yield capacity foundry startup lab institute university paper
benchmark leaderboard evaluation hallucination alignment fine-tuning distillation quantization
long-context retrieval code generation speech image video driving robots robotics embodied
medical imaging risk customer service education manufacturing government launch event chief
executive founder engineer product partners ecosystem deployment cost efficiency capability
release update beta announced said expects reported earlier later currently next year
Beijing Shanghai Shenzhen Hangzhou Taipei Hsinchu Singapore
""".split()
EN_GLUE = "the a of and to in on for with that its new will has is are by from as at".split()

TOPICS = {  # name -> (weight, terms that "matched")
    "llm-industry": (30, ["大模型", "model", "推理"]),
    "open-source": (14, ["开源", "open-source", "weights"]),
    "compute": (12, ["算力", "GPU", "集群"]),
    "chips": (9, ["芯片", "晶圆", "chip"]),
    "agents": (8, ["智能体", "agent"]),
    "funding": (7, ["融资", "估值", "funding"]),
    "regulation": (6, ["监管", "备案", "regulators"]),
    "multimodal": (6, ["多模态", "视频生成", "multimodal"]),
    "robotics": (4, ["机器人", "具身智能", "robots"]),
    "cloud": (4, ["云计算", "cloud"]),
}
SOURCES = ([(f"hans-{i:02d}", "zh-Hans") for i in range(20)]
           + [(f"hant-{i:02d}", "zh-Hant") for i in range(10)]
           + [(f"en-{i:02d}", None) for i in range(10)])
# half the articles Simplified, a quarter Traditional, a quarter English; a few big sources
SHARE = {"zh-Hans": 0.5, "zh-Hant": 0.25, None: 0.25}
SOURCE_WEIGHTS = [SHARE[script] / (int(name[-2:]) + 1) ** 0.8 for name, script in SOURCES]


@dataclass
class Stored:
    """What a later item may rewrite or copy."""

    url: str
    source: str
    script: str | None
    title: str
    paragraphs: list[list[str]]  # sentences per paragraph
    topics: tuple[Match, ...]


@dataclass
class Generator:
    rng: random.Random
    when: Callable[[int], dt.datetime]  # the simulated time of the n-th item
    recent: list[Stored] = field(default_factory=list)
    n: int = 0

    def _sentence(self, script: str | None) -> str:
        r = self.rng
        if script is None:
            words = [r.choice(EN_GLUE) if r.random() < 0.35 else EN_WORDS[int(len(EN_WORDS) * r.random() ** 1.6)]
                     for _ in range(r.randint(10, 24))]
            return " ".join(words).capitalize() + "."
        words = [r.choice(ZH_GLUE) if r.random() < 0.25 else
                 f" {r.choice(EN_WORDS)} " if r.random() < 0.04 else
                 ZH_WORDS[int(len(ZH_WORDS) * r.random() ** 1.6)]
                 for _ in range(r.randint(8, 18))]
        cut = r.randint(3, len(words) - 2)
        return "".join(words[:cut]) + "，" + "".join(words[cut:]) + "。"

    def _paragraphs(self, script: str | None) -> list[list[str]]:
        target, size, out = self.rng.randint(2000, 6000), 0, []
        while size < target:
            para = [self._sentence(script) for _ in range(self.rng.randint(2, 5))]
            size += sum(len(s.encode()) for s in para)
            out.append(para)
        return out

    def _title(self, script: str | None) -> str:
        r = self.rng
        if script is None:
            return " ".join(r.choice(EN_WORDS) for _ in range(r.randint(6, 11))).capitalize()
        return "".join(r.choice(ZH_WORDS) for _ in range(r.randint(4, 7)))

    def _topics(self) -> tuple[Match, ...]:
        names = list(TOPICS)
        chosen = set(self.rng.choices(names, [TOPICS[t][0] for t in names], k=self.rng.randint(1, 3)))
        return tuple(Match(topic=t, score=round(self.rng.uniform(1.5, 9), 1),
                           terms=tuple(self.rng.sample(TOPICS[t][1], 1)))
                     for t in names if t in chosen)

    def _source(self, like: Stored | None = None) -> tuple[str, str | None]:
        """A source; for a version of `like`, another one in the same language."""
        while True:
            name, script = self.rng.choices(SOURCES, SOURCE_WEIGHTS)[0]
            if like is None or (name != like.source and (script is None) == (like.script is None)):
                return name, script

    def item(self, run_id: int) -> SpoolItem:
        self.n += 1
        roll = self.rng.random()
        if self.recent and roll < 0.22:
            return self._rewrite(run_id)
        if self.recent and roll < 0.33:
            return self._copy(run_id, canonical=False)
        if self.recent and roll < 0.36:
            return self._copy(run_id, canonical=True)
        source, script = self._source()
        stored = Stored(f"https://{source}.example/news/{self.n}", source, script,
                        self._title(script), self._paragraphs(script), self._topics())
        return self._keep(stored, run_id)

    def _rewrite(self, run_id: int) -> SpoolItem:
        """Another source's version: one sentence in six replaced, the other script sometimes."""
        orig = self.rng.choice(self.recent[-400:])
        source, script = self._source(orig)
        paragraphs = [[self._sentence(orig.script) if self.rng.random() < 1 / 6 else s for s in para]
                      for para in orig.paragraphs]
        title = orig.title + ("：" if orig.script else ": ") + self._title(orig.script)[:12]
        stored = Stored(f"https://{source}.example/news/{self.n}", source, script, title,
                        paragraphs, orig.topics)
        return self._keep(stored, run_id)

    def _copy(self, run_id: int, canonical: bool) -> SpoolItem:
        orig = self.rng.choice(self.recent[-400:])
        if canonical:
            url, source = f"{orig.url}?utm_source=feed&utm_medium=rss{self.n}", orig.source
        else:
            source = self._source(orig)[0]
            url = f"https://{source}.example/repost/{self.n}"
        return SpoolItem(self._article(orig, url, source), orig.topics, run_id)

    def _keep(self, stored: Stored, run_id: int) -> SpoolItem:
        self.recent.append(stored)
        del self.recent[:-2000]
        return SpoolItem(self._article(stored, stored.url, stored.source), stored.topics, run_id)

    def _article(self, s: Stored, url: str, source: str) -> Article:
        text = "\n".join("".join(p) if s.script else " ".join(p) for p in s.paragraphs)
        title = s.title
        if s.script == "zh-Hant":
            text, title = to_traditional(text), to_traditional(title)
        published = (self.when(self.n) - dt.timedelta(minutes=self.rng.randint(5, 2000))).isoformat()
        return Article(url=url, source=source, title=title, text=text, canonical_url=s.url,
                       published=published, language="en" if s.script is None else "zh",
                       script=s.script, site_name=source)


class ListSpool:
    """The Spool protocol over a list: items are generated, not crawled."""

    def __init__(self, items: list[SpoolItem]):
        self.items = dict(enumerate(items))

    def put(self, item: SpoolItem) -> None:
        self.items[len(self.items)] = item

    def pending(self, limit: int = 100) -> list[tuple[int, SpoolItem]]:
        return list(self.items.items())[:limit]

    def remove(self, key: int | str) -> None:
        del self.items[int(key)]

    def rolled_back(self) -> None:
        """Nothing to do: the failure ends the benchmark."""

    def set_aside(self, key: int | str, error: str) -> None:
        raise RuntimeError(f"item {key}: {error}")  # a generated item must never fail

    def __len__(self) -> int:
        return len(self.items)


def timeline(total: int, days: float) -> Callable[[int], dt.datetime]:
    """The time of the i-th of `total` items: from `days` ago to now, more per day lately."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def at(i: int) -> dt.datetime:
        return now - dt.timedelta(seconds=int(days * 86400 * (1 - min(i, total) / total) ** 1.5))

    return at


def simulated_clock(gen: Generator) -> Callable[[], str]:
    """The ingester's clock: it asks once per item it stores (article or copy), so its k-th
    answer is the time of the k-th item."""
    ingested = iter(range(1, 10**9))
    return lambda: gen.when(next(ingested)).isoformat()


def articles_in(db) -> int:
    return db.execute("SELECT count(*) FROM articles").fetchone()[0]


def build(path: Path, articles: int, days: float = 365, seed: int = 11) -> dict[str, float]:
    """Ingest generated items into a new corpus at `path` until it holds `articles` articles,
    one run per 2,000 items."""
    if path.exists():
        raise SystemExit(f"{path} exists: remove it first")
    db = open_db(path)
    gen = Generator(random.Random(seed), timeline(int(articles * 1.17), days))
    ingester = Ingester(db, DedupSettings(), clock=simulated_clock(gen))
    started, stored = time.monotonic(), 0
    while stored < articles:
        run_id = runs.start_run(db, "benchmark", [s for s, _ in SOURCES])
        size = min(2000, max(100, int((articles - stored) * 1.17)))
        ingester.ingest(ListSpool([gen.item(run_id) for _ in range(size)]))
        runs.finish_run(db, run_id, "ok")
        stored = articles_in(db)
        print(f"  {gen.n:,} items, {stored:,} articles, {time.monotonic() - started:.0f} s",
              file=sys.stderr, flush=True)
    counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("articles", "stories", "copies", "article_topics")}
    db.close()
    return {**counts, "seconds": round(time.monotonic() - started), "mb": round(path.stat().st_size / 1e6)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("articles", type=int, help="ingest until the corpus holds this many articles")
    parser.add_argument("--days", type=float, default=365, help="first_seen spans this many days")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    print(build(args.out, args.articles, args.days, args.seed))


if __name__ == "__main__":
    main()
