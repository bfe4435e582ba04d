"""Dedup: canonical URLs, content hashes, MinHash near-duplicates and their index.

The near-duplicate pairs are written for these tests: a repost with other boilerplate, the
same text in Traditional script, with pinyin injected, lightly edited (~15%), and two different
articles on the same topic that share its vocabulary.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.config import DedupSettings
from crawler.dedup import (
    KNOWN_SHAPES,
    LSH_WEIGHTS,
    NearDup,
    Signature,
    band_keys,
    content_hash,
    minhash_values,
    shingle_hashes,
    sig_from_bytes,
    sig_to_bytes,
)
from crawler.records import DedupKeys
from crawler.store import corpus, lsh
from crawler.store.db import open_db, write_transaction
from crawler.text.normalise import HASH_ENVIRONMENT, to_traditional
from crawler.text.urls import canonical_url, clean_url, site_of

ZH_A = """在今年的云栖大会上,阿里云智能集团董事长吴泳铭用了将近四十分钟谈算力。他说,过去一年公司新建的AI算力几乎一上线就被客户订满,需求增长的速度远远超过了机房建设的速度。按照他的估算,下一代先进模型的训练投入将以百亿美元计,能够承担这种成本的公司屈指可数。
吴泳铭认为,大模型的竞争已经从参数规模转向推理效率。同样一张GPU卡,调度得当与否,能服务的请求数量可以相差好几倍。因此阿里云今年把相当一部分研发力量放在推理框架、模型压缩和集群调度上,而不是一味追求更大的模型。
谈到开源,他表示通义千问系列会继续开放权重。开源模型降低了中小企业的试错成本,也让更多开发者可以在自己的数据上微调。截至八月底,基于千问的衍生模型已经超过五万个,覆盖教育、医疗、制造等行业。
他还提到,智能体会是下一阶段最重要的应用形态。过去的软件要靠人点击按钮,智能体则可以理解目标、拆解任务并调用工具把事情做完。他预计几年之内,企业里大量重复性的流程都会交给智能体处理,人更多地负责提出问题和验收结果。
对于外界关心的价格,吴泳铭说,云上模型调用的价格一年里降了九成以上,调用量随之成倍增长。他强调降价不是补贴,而是技术进步和规模效应的结果,成本真正降下来,AI才能走进千行百业。
演讲的最后一部分留给了汽车、工厂和家庭。他判断,感知与决策能力会逐步进入机械臂、无人车和家电,这些设备产生的数据又会反过来推动下一代模型的训练。"""

ZH_B = """在上海举行的一场行业圆桌上,几位大模型创业公司的创始人围绕开源与闭源争论了整整一个小时。月之暗面创始人杨植麟认为,开源模型的能力仍落后于最好的闭源模型,创业公司如果只做开源,很难形成可持续的收入。另一位嘉宾当场反驳,说开源社区的迭代速度极快,许多企业宁可选一个能私有化部署的开源模型,也不愿把数据交给外部接口。
算力是圆桌上另一个绕不开的话题。一位投资人透露,他投的几家公司今年花在GPU上的钱占到总成本的六成以上,训练集群往往要提前半年预订。为了省算力,不少团队改用更小的模型配合检索增强,在客服、法律和金融这些垂直场景里效果反而更好。
嘉宾们对智能体的看法比较一致。他们认为单纯的聊天机器人已经很难打动付费用户,能自己规划步骤、操作软件的Agent才是下一个突破口。也有人提醒,智能体一旦出错,后果比答错一道题严重得多,企业落地需要更严格的权限管理和审计。
说到国际竞争,几位创始人都承认,高端芯片受限的情况下,国内大模型公司必须在算法效率上多下功夫。有人举例说,借助混合专家结构和低精度训练,同样的算力可以训出参数更多的模型。圆桌结束前,主持人请每位嘉宾用一句话预测明年,答案几乎都落在应用上:模型本身会越来越便宜,真正的竞争在于谁能把它做成用户离不开的产品。"""

# ZH_A with two sentences rewritten, one removed and one added (about 15% of the text)
ZH_A_EDIT = """在今年的云栖大会上,阿里云智能集团董事长吴泳铭用了将近四十分钟谈算力。他说,过去一年公司新建的AI算力几乎一上线就被客户订满,需求增长的速度远远超过了机房建设的速度。按照他的估算,下一代先进模型的训练投入将以百亿美元计,能够承担这种成本的公司屈指可数。
吴泳铭认为,大模型的竞争已经从参数规模转向推理效率。在他看来,一块显卡每秒能处理多少请求,取决于软件栈而不只是硬件本身。因此阿里云今年把相当一部分研发力量放在推理框架、模型压缩和集群调度上,而不是一味追求更大的模型。
谈到开源,他表示通义千问系列会继续开放权重。开源模型降低了中小企业的试错成本,也让更多开发者可以在自己的数据上微调。截至八月底,基于千问的衍生模型已经超过五万个,覆盖教育、医疗、制造等行业。
他还提到,智能体会是下一阶段最重要的应用形态。过去的软件要靠人点击按钮,智能体则可以理解目标、拆解任务并调用工具把事情做完。
对于外界关心的价格,吴泳铭说,云上模型调用的价格一年里降了九成以上,调用量随之成倍增长。他强调降价不是补贴,而是技术进步和规模效应的结果,成本真正降下来,AI才能走进千行百业。会后有分析师指出,价格战短期内会压缩利润,但会加快企业客户的迁移。
演讲的最后一部分留给了汽车、工厂和家庭。他判断,感知与决策能力会逐步进入机械臂、无人车和家电,这些设备产生的数据又会反过来推动下一代模型的训练。"""

EN_A = """Speaking at a developer event in Shenzhen on Tuesday, Robin Li, the chief executive of Baidu, argued that the industry spends too much energy on training ever larger models and too little on applications people use every day. Without applications, he said, a foundation model is an engine on a workbench: impressive to look at, but it takes nobody anywhere.
Li told the audience that the price of calling Baidu's Ernie models through its cloud had fallen by more than ninety percent in a year. Cheaper inference has changed the maths for small companies, which can now run thousands of queries for the price of a coffee. Daily calls to the Ernie platform have passed one billion, according to figures shown on stage.
He was cooler on open-source models than some rivals. Open weights make sense for research and teaching, in his view, but paying customers care about reliability, support and total cost, where a closed model backed by a large cloud can still compete. Developers online were quick to point at the rapid progress of community models.
Much of the talk was about AI agents. Li called agents the most important form of AI application for the coming years, because they plan several steps ahead, call external tools and remember what a user asked last week. Baidu showed an agent that booked a business trip, compared hotel prices and filed the expense report on its own.
The winners of the next decade, Li concluded, will not be the companies with the most GPUs but those that turn models into products that solve real problems."""

EN_B = """Chinese start-ups building large models are learning to live with a shortage of computing power. At a panel in Beijing this week, founders of three companies described how export controls on advanced GPUs have pushed them to rethink the way they train and serve their systems.
One founder said his team now spends as much time on data quality as on model architecture, because a cleaner training set lets a smaller model reach the same accuracy. Another explained that mixture-of-experts designs, which activate only part of the network for each request, have cut their inference bills roughly in half.
The debate over open source was lively. Two of the panellists release the weights of their models and argued that an open ecosystem attracts developers faster than any marketing budget. The third keeps its best model closed and sells access through an API, saying paying customers want guarantees that open projects rarely offer.
All three agreed that AI agents are where the next wave of revenue will come from. They expect companies to hand routine work such as invoice checks, customer tickets and code reviews to software agents that use tools and recover from their own mistakes. Compute, they added, will remain the main constraint: every new agent feature multiplies the model calls behind a single task."""

EN_A_EDIT = """Speaking at a developer event in Shenzhen on Tuesday, Robin Li, the chief executive of Baidu, argued that the industry spends too much energy on training ever larger models and too little on applications people use every day. Without applications, he said, a foundation model is an engine on a workbench: impressive to look at, but it takes nobody anywhere.
Li told the audience that the price of calling Baidu's Ernie models through its cloud had fallen by more than ninety percent in a year. For a small company, he added, a million tokens now cost less than a subway ticket. Daily calls to the Ernie platform have passed one billion, according to figures shown on stage.
He was cooler on open-source models than some rivals. Open weights make sense for research and teaching, in his view, but paying customers care about reliability, support and total cost, where a closed model backed by a large cloud can still compete.
Much of the talk was about AI agents. Li called agents the most important form of AI application for the coming years, because they plan several steps ahead, call external tools and remember what a user asked last week. Baidu showed an agent that booked a business trip, compared hotel prices and filed the expense report on its own. A second demo had an agent draft a sales contract and send it for approval.
The winners of the next decade, Li concluded, will not be the companies with the most GPUs but those that turn models into products that solve real problems."""

ZH_BOILER_TOP = "首页 > 科技 > 人工智能 > 正文\n2024-09-20 14:05 来源:界面新闻 编辑:王五\n字号:大 中 小 | 分享到:微信 微博\n"
ZH_BOILER_BOTTOM = "\n免责声明:本文转载自合作媒体,不代表本站观点。如有侵权请联系删除。\n相关阅读:AI手机销量创新高 | 芯片股集体上涨 | 新能源车出海提速\nCopyright © 2024 某某网 京ICP备12345678号"
EN_BOILER_TOP = "Home > Tech > AI\nBy Staff Reporter | September 24, 2024 | 4 min read\nShare on X  Share on LinkedIn  Email\n"
EN_BOILER_BOTTOM = "\nThis article first appeared on our partner site and is republished with permission.\nRead next: Chip stocks rally | Phone makers bet on on-device AI | EV exports climb\n© 2024 Example Media. All rights reserved."

PINYIN = {"点": "diǎn", "热": "rè", "发": "fā", "展": "zhǎn", "模": "mó", "型": "xíng", "开": "kāi",
          "源": "yuán", "数": "shù", "据": "jù", "业": "yè", "产": "chǎn", "智": "zhì", "能": "néng"}


def with_pinyin(text: str) -> str:
    """What content farms do: a toned syllable in brackets after common characters."""
    return to_traditional("".join(c + (f"({PINYIN[c]})" if c in PINYIN else "") for c in text))


def repost(text: str) -> str:
    if "的" in text:
        return ZH_BOILER_TOP + text + ZH_BOILER_BOTTOM
    return EN_BOILER_TOP + text + EN_BOILER_BOTTOM


# -- canonical URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "expected"), [
    ("https://news.qq.com/rain/a/20240920A01?utm_source=rss&utm_medium=feed",
     "https://news.qq.com/rain/a/20240920A01"),
    ("https://tech.sina.com.cn/i/2024-09-20/doc-incpqxyz1234.shtml?spm=a2c4g.11186623&from=wap#comments",
     "https://tech.sina.com.cn/i/2024-09-20/doc-incpqxyz1234.shtml"),
    ("http://Example.COM:80/a", "http://example.com/a"),
    ("HTTPS://WWW.Example.com:443", "https://www.example.com/"),
    ("http://127.0.0.2:8123/a.html?b=2&a=1#x", "http://127.0.0.2:8123/a.html?a=1&b=2"),
    ("http://127.0.0.2:8123/News/Article.HTML?utm_campaign=x", "http://127.0.0.2:8123/News/Article.HTML"),
    ("http://[::1]:8080/a?fbclid=abc", "http://[::1]:8080/a"),
    ("http://www.example.com.cn/show.php?cid=123&id=9&gclid=x", "http://www.example.com.cn/show.php?cid=123&id=9"),
    ("https://example.com/app#!/article/42", "https://example.com/app#!/article/42"),
    # sessions: a random token under sid / s, PHPSESSID, a servlet's ;jsessionid= in the path;
    # a short, numeric or ObjectId-long sid is an id and stays
    ("http://x.cn/2026/11/26/story.html?sid=0123456789abcdef0123456789abcdef",
     "http://x.cn/2026/11/26/story.html"),
    ("http://x.cn/story.php?sid=k3j4h5l6m7n8p9q0r1s2t3u4v5", "http://x.cn/story.php"),
    ("http://x.cn/news/show?sid=5f2b7c0e9a1d3e4f5a6b7c8d", "http://x.cn/news/show?sid=5f2b7c0e9a1d3e4f5a6b7c8d"),
    # cache-busters: a timestamp or random number under _, t, r, v...; other values stay
    ("http://x.cn/a/7.html?_=1764556800000", "http://x.cn/a/7.html"),
    ("http://x.cn/a/7.html?t=1764556800&id=7&r=0.735121", "http://x.cn/a/7.html?id=7"),
    ("http://x.cn/a.php?v=3&t=news", "http://x.cn/a.php?t=news&v=3"),
    # query items as servers read them: no "=" added, no re-encoding of GBK escapes
    ("http://x.cn/index.php?/archives/2026/11/30/story.html",
     "http://x.cn/index.php?/archives/2026/11/30/story.html"),
    ("http://x.cn/show.asp?12345", "http://x.cn/show.asp?12345"),
    ("http://x.cn/news.php?kw=%d6%d0%b9%fa&id=7", "http://x.cn/news.php?id=7&kw=%D6%D0%B9%FA"),
    ("http://x.cn/s?q=a b&x=1+2", "http://x.cn/s?q=a%20b&x=1+2"),
    ("http://x.cn/a.php?PHPSESSID=k3j4h5&id=5", "http://x.cn/a.php?id=5"),
    ("http://x.cn/s.html;jsessionid=1A2B3C4D?page=2", "http://x.cn/s.html?page=2"),
    ("http://x.cn/show.php?sid=1234", "http://x.cn/show.php?sid=1234"),
    ("https://example.com/新闻/大模型.html?q=开源", "https://example.com/%E6%96%B0%E9%97%BB/%E5%A4%A7%E6%A8%A1%E5%9E%8B.html?q=%E5%BC%80%E6%BA%90"),
])
def test_clean_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected  # idempotent


def test_escapes_and_raw_unicode_are_one_identity() -> None:
    raw = "https://example.com/新闻/大模型.html"
    assert clean_url(raw) == clean_url("https://example.com/%e6%96%b0%e9%97%bb/%E5%A4%A7%E6%A8%A1%E5%9E%8B.html")


@pytest.mark.parametrize(("url", "declared", "expected"), [
    # same registered domain: the declared canonical wins, cleaned
    ("https://m.sina.com.cn/doc-1.html?from=wap", "https://tech.sina.com.cn/doc-1.shtml?utm_source=x",
     "https://tech.sina.com.cn/doc-1.shtml"),
    ("http://127.0.0.2:8123/amp/a.html", "http://127.0.0.2:8123/a.html", "http://127.0.0.2:8123/a.html"),
    # another site, another port, relative, not http, or the home page: ignored
    ("https://www.portal.cn/a/1.html", "https://www.original.com/story/1", "https://www.portal.cn/a/1.html"),
    ("http://127.0.0.2:8123/a.html", "http://127.0.0.2:9000/a.html", "http://127.0.0.2:8123/a.html"),
    ("http://127.0.0.2:8123/a.html", "/b.html", "http://127.0.0.2:8123/a.html"),
    ("https://www.portal.cn/a/1.html", "javascript:void(0)", "https://www.portal.cn/a/1.html"),
    ("https://www.portal.cn/a/1.html", "https://www.portal.cn/", "https://www.portal.cn/a/1.html"),
    ("https://www.portal.cn/a/1.html", "", "https://www.portal.cn/a/1.html"),
    # the home page or the article's own section, however written: ignored
    ("https://www.portal.cn/news/2026/1.html", "https://www.portal.cn/index.html",
     "https://www.portal.cn/news/2026/1.html"),
    ("https://www.portal.cn/news/2026/1.html", "https://www.portal.cn/?from=share",
     "https://www.portal.cn/news/2026/1.html"),
    ("https://www.portal.cn/news/2026/1.html", "https://www.portal.cn/news/",
     "https://www.portal.cn/news/2026/1.html"),
    ("https://m.portal.cn/news/2026/1.html", "https://www.portal.cn/news/index.shtml",
     "https://m.portal.cn/news/2026/1.html"),
    # a folder-style permalink, its AMP page, a WordPress shortlink: trusted
    ("https://blog.example.com/2026/11/30/story/amp/", "https://blog.example.com/2026/11/30/story/",
     "https://blog.example.com/2026/11/30/story/"),
    ("https://blog.example.com/?p=5", "https://blog.example.com/2026/11/30/story/",
     "https://blog.example.com/2026/11/30/story/"),
    ("https://blog.example.com/2026/11/30/story/", "https://blog.example.com/?p=5",
     "https://blog.example.com/?p=5"),
])
def test_declared_canonical(url: str, declared: str, expected: str) -> None:
    assert canonical_url(url, declared) == expected



@pytest.mark.parametrize("declared", ["https://[site_url]/news/1.html", "http://[::1/x", "http://x]/a"])
def test_a_declared_canonical_python_refuses_is_not_trusted(declared: str) -> None:
    """Ingest must never raise on what a page declared: that would stop its whole batch."""
    url = "https://www.portal.cn/news/2026/1.html"
    assert canonical_url(url, declared) == url


@pytest.mark.parametrize(("url", "declared", "trusted"), [
    # the rule of sources.site_of, which listing links use too: one answer to "same site?"
    ("https://user1.github.io/a/1.html", "https://user2.github.io/a/1.html", False),
    ("https://m.example.com:8443/a/1.html", "https://www.example.com/a/1.html", True),
    ("http://localhost:8000/a.html", "http://localhost:8001/a.html", False),
    ("http://localhost/a.html", "http://localhost:80/b.html", True),
    ("http://[::1]:8080/a.html", "http://[::1]:8080/b.html", True),
    ("http://[::1]:8080/a.html", "http://[::1]:8081/b.html", False),
])
def test_declared_canonical_follows_the_shared_site_rule(url: str, declared: str, trusted: bool) -> None:
    assert (site_of(url) == site_of(declared)) is trusted
    assert (canonical_url(url, declared) == clean_url(declared)) is trusted

# -- exact copies ------------------------------------------------------------------------------


def test_content_hash_ignores_script_spacing_punctuation_and_pinyin() -> None:
    h = content_hash(ZH_A)
    assert len(h) == 40 and int(h, 16) >= 0
    assert content_hash(to_traditional(ZH_A)) == h
    assert content_hash(with_pinyin(ZH_A)) == h
    assert content_hash(ZH_A.replace("\n", "\n\n  ").replace(",", ", ")) == h
    assert content_hash(EN_A.upper().replace(".", " .")) == content_hash(EN_A)
    assert content_hash(ZH_A_EDIT) != h
    assert content_hash(ZH_A + "另附一句。") != h


# -- signatures --------------------------------------------------------------------------------


def near(**kw) -> NearDup:
    d = DedupSettings()
    params = {"threshold": d.near_threshold, "num_perm": d.num_perm, "shingle_size": d.shingle_size, **kw}
    return NearDup(**params)


def test_minhash_values_equal_datasketch_update_batch() -> None:
    hashes = shingle_hashes(ZH_A + EN_A, 5)
    assert len(hashes) > 1000
    reference = MinHash(num_perm=128, seed=1, hashfunc=lambda x: x)
    reference.update_batch(hashes.tolist())
    assert np.array_equal(minhash_values(hashes, 128, chunk=300), reference.hashvalues)


def test_shingles_fold_script_and_ignore_punctuation() -> None:
    assert np.array_equal(shingle_hashes(ZH_A, 5), shingle_hashes(with_pinyin(ZH_A), 5))
    assert len(shingle_hashes("大模型", 5)) == 1  # shorter than a shingle: one shingle
    assert len(shingle_hashes("  ,。!  ", 5)) == 0


def test_signature_is_stable_across_processes() -> None:
    code = ("from crawler.dedup import NearDup, sig_to_bytes;"
            "import sys; sys.stdout.write(sig_to_bytes(NearDup().signature('开源大模型与算力')).hex())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == sig_to_bytes(NearDup().signature("开源大模型与算力")).hex()


def test_signature_bytes_round_trip() -> None:
    ix = near()
    sig = ix.signature(ZH_A)
    blob = sig_to_bytes(sig)
    assert len(blob) == 4 + 13 + 4 * ix.num_perm
    back = sig_from_bytes(blob)
    assert isinstance(back, Signature) and back.shingle_size == ix.shingle_size
    assert back.jaccard(sig) == 1.0
    with pytest.raises(ValueError):
        sig_from_bytes(b"not a signature")
    with pytest.raises(ValueError):
        sig_from_bytes(blob[:40])  # truncated


def test_signature_bytes_match_those_already_stored() -> None:
    """Digest of the bytes the previous (hand-written band index) version stored for this
    text: a change here would make every stored signature useless."""
    blob = sig_to_bytes(NearDup(num_perm=128, shingle_size=5).signature("开源大模型与算力"))
    assert hashlib.sha1(blob).hexdigest() == "ac69da2af309d65c528eec71f75ba6958b6d1963"


# -- near duplicates: the bands in a real corpus file -----------------------------------------


class Stored:
    """Signatures stored as ingest stores them (article row, `minhashes`, `lsh_bands`, in one
    transaction) in a real corpus file, and looked up as ingest looks them up."""

    def __init__(self, path: Path, **kw) -> None:
        self.db = open_db(path)
        self.near = near(**kw)
        with write_transaction(self.db):
            lsh.ensure_shape(self.db, self.near)

    def add(self, article_id: int, sig: Signature, seen: str = "2026-01-01T00:00:00+00:00",
            keys: list[tuple[int, int]] | None = None) -> None:
        keys = self.near.keys(sig) if keys is None else keys
        with write_transaction(self.db):
            corpus.insert_article(self.db, {"id": article_id, "url": f"https://x.test/{article_id}",
                                            "canonical_url": f"https://x.test/{article_id}", "source": "x",
                                            "content_hash": str(article_id), "first_seen": seen})
            corpus.save_signature(self.db, article_id, sig_to_bytes(sig))
            lsh.add(self.db, article_id, keys)

    def similar(self, sig: Signature, since: str | None = None) -> list[tuple[int, float]]:
        return self.near.verify(sig, lsh.candidates(self.db, self.near.keys(sig), since))

    def query(self, sig: Signature, since: str | None = None) -> list[int]:
        return [article_id for article_id, _ in self.similar(sig, since)]

    def signature(self, text: str) -> Signature:
        return self.near.signature(text)


@pytest.fixture
def ix(tmp_path: Path) -> Stored:
    return Stored(tmp_path / "corpus.db")


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Stored:
    ix = Stored(tmp_path_factory.mktemp("dedup") / "corpus.db")
    for article_id, text in ((1, ZH_A), (2, ZH_B), (3, EN_A), (4, EN_B)):
        ix.add(article_id, ix.signature(text))
    return ix


@pytest.mark.parametrize(("name", "text", "original"), [
    ("zh repost", repost(ZH_A), 1),
    ("zh traditional", to_traditional(ZH_A), 1),
    ("zh traditional repost", repost(to_traditional(ZH_A)), 1),
    ("zh pinyin", with_pinyin(ZH_A), 1),
    ("zh edited", ZH_A_EDIT, 1),
    ("en repost", repost(EN_A), 3),
    ("en edited", EN_A_EDIT, 3),
    ("en edited repost", repost(EN_A_EDIT), 3),
])
def test_copies_join_their_original(stored: Stored, name: str, text: str, original: int) -> None:
    assert stored.query(stored.signature(text)) == [original], name


def test_articles_on_the_same_topic_stay_apart(ix: Stored) -> None:
    ix.add(1, ix.signature(ZH_A))
    ix.add(3, ix.signature(EN_A))
    assert ix.query(ix.signature(ZH_B)) == []
    assert ix.query(ix.signature(EN_B)) == []
    assert ix.signature(EN_A).jaccard(ix.signature(EN_B)) < 0.15  # English shares most: still far


def test_query_ranks_the_closest_first(ix: Stored) -> None:
    ix.add(10, ix.signature(repost(ZH_A_EDIT)))
    ix.add(11, ix.signature(ZH_A_EDIT))
    ix.add(12, ix.signature(ZH_B))
    got = ix.similar(ix.signature(ZH_A))
    assert [i for i, _ in got] == [11, 10]
    assert got[0][1] > got[1][1] >= 0.5


def test_short_texts(ix: Stored) -> None:
    ix.add(1, ix.signature(""))
    ix.add(2, ix.signature("。。。"))
    assert ix.near.keys(ix.signature("")) == []  # nothing to compare: no bands, never "identical"
    assert ix.db.execute("SELECT count(*) FROM lsh_bands").fetchone()[0] == 0
    assert ix.query(ix.signature("")) == []
    ix.add(3, ix.signature("阿里云宣布降价"))
    ix.add(4, ix.signature("AI"))
    assert ix.query(ix.signature("阿里雲宣布降價!")) == [3]
    assert ix.query(ix.signature("ai")) == [4]
    assert ix.query(ix.signature("腾讯发布混元")) == []


def test_mismatched_signatures_are_refused() -> None:
    with pytest.raises(ValueError):
        near().keys(near(num_perm=64).signature(ZH_A))
    with pytest.raises(ValueError):
        near().verify(near(shingle_size=3).signature(ZH_A), [])


def test_band_candidates_are_verified_on_the_whole_signature(ix: Stored) -> None:
    rng = np.random.default_rng(3)
    r = ix.near.rows
    a = rng.integers(0, 2**32 - 1, 128, dtype=np.uint32)
    b = rng.integers(0, 2**32 - 1, 128, dtype=np.uint32)
    b[:r] = a[:r]  # one identical band: a candidate, but only ~3% alike
    close = a.copy()
    close[::4] = b[::4]  # about three quarters alike
    ix.add(1, Signature.of(a, ix.near.shingle_size))
    sig_b = Signature.of(b, ix.near.shingle_size)
    assert [i for i, _ in lsh.candidates(ix.db, ix.near.keys(sig_b))] == [1]
    assert ix.query(sig_b) == []
    alike = np.count_nonzero(close == a) / 128
    assert 0.74 < alike < 0.8
    assert ix.similar(Signature.of(close, ix.near.shingle_size)) == [(1, alike)]


def test_the_banding_is_datasketch_minhashlsh_s_choice() -> None:
    """Bands and rows come from MinHashLSH's public `b` / `r`: 32 bands of 4 rows at the
    default 0.5 and 128 permutations (a datasketch that chose otherwise would change the
    stored bands' shape, which `lsh_state` notices: they are rebuilt)."""
    n = near()
    lsh_ = MinHashLSH(threshold=n.threshold, num_perm=n.num_perm, weights=LSH_WEIGHTS)
    assert (n.bands, n.rows) == (lsh_.b, lsh_.r) == (32, 4)
    assert n.bands * n.rows <= n.num_perm
    assert near(threshold=1.0).bands >= 2  # 1.0 is refused by MinHashLSH: capped below it


def test_band_keys_agree_one_at_a_time_and_in_bulk() -> None:
    rng = np.random.default_rng(5)
    values = rng.integers(0, 2**32 - 1, (20, 128), dtype=np.uint32)
    bulk = band_keys(values, 32, 4)
    assert bulk.shape == (20, 32) and bulk.dtype == np.int64
    assert all(np.array_equal(band_keys(v, 32, 4)[0], bulk[i]) for i, v in enumerate(values))
    other = values.copy()
    other[:, 5] ^= 1  # one value of band 1 changed: that band's key only
    changed = band_keys(other, 32, 4) != bulk
    assert changed[:, 1].all() and not changed[:, [0, *range(2, 32)]].any()


def test_band_keys_match_those_already_stored() -> None:
    """Keys of a known text: a change here makes stored `lsh_bands` rows unfindable, so it
    must come with a new `_BAND_KEYS` (then `NearDup.shape` differs and they are rebuilt)."""
    n = near()
    keys = n.keys(n.signature("开源大模型与算力"))
    assert len(keys) == 32 and [band for band, _ in keys] == list(range(32))
    digest = hashlib.sha1(np.array([k for _, k in keys], dtype="<i8").tobytes()).hexdigest()
    assert digest == "1a367dbb7b87e1ce6a670c1a09b6d7fcd46ccfcd"
    assert n.shape == "format 1, 128 perm, shingle 5, 32x4, keys 1"


def test_recall_weights_make_pairs_near_the_threshold_candidates() -> None:
    """A pair a little above the threshold must almost always share a band, since every
    candidate is verified anyway."""
    n = near()
    assert 1 - (1 - (n.threshold + 0.1) ** n.rows) ** n.bands > 0.98


@pytest.mark.parametrize("num_perm", [16, 128])
def test_threshold_one_means_identical_signatures(tmp_path: Path, num_perm: int) -> None:
    ix = Stored(tmp_path / "corpus.db", threshold=1.0, num_perm=num_perm)
    ix.add(1, ix.signature(EN_A))
    assert ix.query(ix.signature(repost(EN_A))) == []
    assert ix.query(ix.signature(EN_A.upper())) == [1]


def test_many_stay_findable(ix: Stored) -> None:
    rng = np.random.default_rng(7)
    sigs = {i: Signature.of(rng.integers(0, 2**32 - 1, 128, dtype=np.uint32), 5) for i in range(1, 231)}
    for i, sig in sigs.items():
        ix.add(i, sig)
    assert all(ix.query(sig) == [i] for i, sig in sigs.items())


def test_window_excludes_articles_first_seen_before_it(ix: Stored) -> None:
    ix.add(1, ix.signature(ZH_A), seen="2026-01-01T00:00:00+00:00")
    ix.add(2, ix.signature(repost(ZH_A)), seen="2026-03-01T00:00:00+00:00")
    sig = ix.signature(ZH_A_EDIT)
    assert ix.query(sig) == [1, 2] or ix.query(sig) == [2, 1]
    assert ix.query(sig, since="2026-02-01T00:00:00+00:00") == [2]
    assert ix.query(sig, since="2026-03-01T00:00:01+00:00") == []


def test_bands_are_rebuilt_from_stored_signatures_when_the_settings_change(tmp_path: Path) -> None:
    ix = Stored(tmp_path / "corpus.db")
    ix.add(1, ix.signature(ZH_A))
    ix.add(2, ix.signature(EN_A))
    ix.add(3, near(shingle_size=4).signature(EN_B), keys=[])  # made under other settings
    assert ix.db.execute("SELECT count(DISTINCT article_id) FROM lsh_bands").fetchone()[0] == 2
    other = near(threshold=0.8)
    assert (other.bands, other.rows) != (ix.near.bands, ix.near.rows)
    with write_transaction(ix.db):
        assert lsh.ensure_shape(ix.db, other)
        assert not lsh.ensure_shape(ix.db, other)  # once
    assert lsh.stored_shape(ix.db) == other.shape
    assert ix.db.execute("SELECT count(*) FROM lsh_bands").fetchone()[0] == 2 * other.bands
    assert other.verify(other.signature(EN_A), lsh.candidates(ix.db, other.keys(other.signature(EN_A)))) == [(2, 1.0)]


def test_the_known_lsh_shapes_are_datasketchs_own_choices() -> None:
    for (threshold, num_perm), shape in KNOWN_SHAPES.items():
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=LSH_WEIGHTS)
        assert (lsh.b, lsh.r) == shape, (threshold, num_perm)
    assert NearDup(0.5, 128).bands == 32 and NearDup(0.5, 128).rows == 4


def test_dedup_imports_datasketch_without_scipy_integrate_until_minhashlsh_needs_it() -> None:
    """In a new process (as a crawl's): importing crawler.dedup and using the default settings
    leaves scipy.integrate and the Redis client unimported; a threshold outside KNOWN_SHAPES
    gets MinHashLSH's own choice through the stand-in's quad, which imports the real
    scipy.integrate then; `import redis` works afterwards, for topicwatch's own Redis code."""
    code = (
        "import sys\n"
        "from crawler.dedup import MinHash, NearDup, lsh_shape\n"
        "near = NearDup(0.5, 128)\n"
        "sig = near.signature('开源大模型与闭源大模型的算力成本' * 20)\n"
        "print('scipy.integrate' in sys.modules, len(near.keys(sig)))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'redis'))\n"
        "print(lsh_shape(0.55, 128), 'scipy.integrate' in sys.modules)\n"
        "from scipy.integrate import quad\n"
        "print(round(quad(lambda x: x, 0, 1)[0], 6), type(MinHash(num_perm=16)).__module__)\n"
        "import redis\n"
        "print(redis.Redis.__name__, 'redis' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["False 32", "[]", "(28, 4) True", "0.5 datasketch.minhash", "Redis True"]
    lsh = MinHashLSH(threshold=0.55, num_perm=128, weights=LSH_WEIGHTS)
    assert (lsh.b, lsh.r) == (28, 4)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400) | st.sampled_from([ZH_A, EN_A, "", "。"]))
def test_dedup_keys_are_the_text_s_content_hash_and_signature(text: str) -> None:
    ix = near()
    keys = ix.dedup_keys(text)
    assert keys.content_hash == content_hash(text)
    assert keys.signature == sig_to_bytes(ix.signature(text))
    back = ix.known(keys)
    assert back is not None and back[0] == keys.content_hash and sig_to_bytes(back[1]) == keys.signature


def test_dedup_keys_made_otherwise_are_not_taken() -> None:
    """Another version's or other settings' keys (a worker on another machine): ingest
    computes the keys itself (None)."""
    ix = near()
    keys = ix.dedup_keys(ZH_A)
    assert ix.known(None) is None
    assert near(num_perm=64).known(keys) is None
    assert near(shingle_size=4).known(keys) is None
    assert near(threshold=0.8).known(keys) is not None  # the banding is ingest's own: same keys
    other_format = keys.signature[:2] + bytes([keys.signature[2] + 1]) + keys.signature[3:]
    assert ix.known(dataclasses.replace(keys, signature=other_format)) is None
    assert ix.known(dataclasses.replace(keys, signature=keys.signature[:40])) is None
    assert ix.known(dataclasses.replace(keys, content_hash="not a sha1")) is None
    assert ix.known(dataclasses.replace(keys, content_hash=keys.content_hash.upper())) is None
    # text normalised with another Unicode database or other OpenCC dictionaries (a worker on
    # a machine with another Python or OpenCC) may fold some characters otherwise
    assert keys.made_with == HASH_ENVIRONMENT and HASH_ENVIRONMENT.startswith(f"unicode {unicodedata.unidata_version}, opencc ")
    assert ix.known(dataclasses.replace(keys, made_with="unicode 99.0.0, opencc 1.4.2")) is None
    assert ix.known(DedupKeys(keys.content_hash, keys.signature, HASH_ENVIRONMENT)) is not None


@pytest.mark.parametrize("href, expected", [
    # pages made on Windows: a browser reads a backslash before the query as a slash
    ("\\news\\2024\\0920\\12345.html", "http://127.0.0.1/news/2024/0920/12345.html"),
    ("..\\up.html#comments", "http://127.0.0.1/up.html"),
    ("news\\a.html?q=a\\b", "http://127.0.0.1/china/news/a.html?q=a\\b"),  # the query keeps it
    ("https:\\\\127.0.0.2\\x\\y.html", "https://127.0.0.2/x/y.html"),
    ("javascript:go('\\\\x')", None),
    ("/plain/path.html", "http://127.0.0.1/plain/path.html"),
])
def test_http_url_reads_backslashes_as_a_browser_does(href: str, expected: str | None) -> None:
    from crawler.text.urls import http_url

    assert http_url(href, "http://127.0.0.1/china/index.html") == expected
