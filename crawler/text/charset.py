"""Response bytes -> text, decoded the way a browser would, but robust to lying charsets.

Why not just trust the declaration: Chinese sites lie in both directions (UTF-8 bytes under
`charset=gb2312`, GB bytes under a UTF-8 header, Big5 under GBK), and gb18030 decodes almost any
byte string without an error, so "it decoded" proves nothing.  The order used:

1. A byte-order mark (UTF-8, UTF-16 LE/BE) wins, as in browsers.
2. A per-source `override` encoding, when configured, is used as is (errors replaced).
3. Bytes that are valid UTF-8 are UTF-8 (strict decode; ASCII is UTF-8 too).
4. The declaration: HTTP `charset` first, then `<meta charset>` / `http-equiv` / `<?xml
   encoding?>` in the first 16 KB.  Labels are read as browsers read them: gb2312/gbk -> gb18030,
   big5 -> big5hkscs, latin-1/ascii -> cp1252, a `<meta>` UTF-16 -> UTF-8.
   A declaration outside the families we can judge (Shift_JIS, EUC-KR, KOI8-R, ...) is trusted
   when the bytes decode strictly under it.
5. Otherwise every candidate (the declarations, utf-8, gb18030, big5hkscs, cp1252) is decoded
   with errors replaced and scored by `plausibility`: the share of non-ASCII characters that are
   common Han characters (Simplified or Traditional), CJK punctuation, or short accented runs in
   Latin text, minus a heavy penalty for replacement, private-use and C1 control characters.
   The first declaration keeps the page unless another candidate beats it by `_MARGIN`; without
   a declaration the best score wins, ties going to utf-8, gb18030, big5hkscs, cp1252 in order.
"""

from __future__ import annotations

import codecs
import re
from functools import cache

from crawler.text.normalise import to_traditional

# ~1000 most frequent Simplified characters (ranked from word frequencies); Traditional forms are
# added at import through OpenCC, so one table judges both scripts.
_COMMON_HANZI = (
    "一是人了不在有大中国和为这上他个地年来我会以到时要出的生学说道民家子也成行下们于后就发自之对得主长可"
    "过天作分方用多你着部能市等业全里工公经本都而高政法面门动日进区事代那去心小同北定开产前其军还然起种所"
    "如现理机体表力好外与文当两实重新三么只山水关明从化平建又制南内西没此将员名手最东头者月间无安看见各城"
    "十相但已些正口通想度加第她合院物性战由位常点海意场武使次二向治因立数样身情入原问把路被并利石老教万知"
    "级量任江及应省资委务元美特期世湖回系比气汉总展电科金先声提品设或义王社很统处四首共马形己儿司太目基领"
    "队直计别女权话少流命至报米给打变果书清活几州华解议更称程今决张导术府才保交放管结师便走达族反再题色五"
    "京河接条规式县白它改风光运信受什组听布百济党指论强做取技黄神选记斯真却职号界件花类何眼兵传带空干农边"
    "据集联古广完质阳难增历史专官每住商即步认车台林必死游举线言皇土团收考求德叫近备研争非具李众连调感转笑"
    "革该持始英克士尔让拉思根格造较际亲单朝红型价校约器字段周亚深候则功属积快图火千准究往极育装许参半令吃"
    "观鱼精办像帝八复影告远群包整构料随划算象容示投势热值夫网望源息语股铁断派速怎需片爱律纪支早况病境证编"
    "越局推满且列觉服双未居除乐企引标确织初青志率项飞球节察龙响药站施均消客失轻存低甚般击曾防请离落显罗营"
    "足素视护副食创余照兴占巴虽洲村费易试星木黑左宝置跟央识维采六底宫房音环案批切斗富乡另倒若按查故突责严"
    "桥模仅胜杀围席态破承招杨负层须父供续状域似依银范修找九致密终血旅钱赛独细效玉冲获习医演毛尽脸弹楼艺航"
    "陆右协七攻镇检写苏宗章注阿抗弟坐验封紧劳户优财养适陈喜卫排射哥油刻留急降念云微伤例景拿绝阶座刘刚害印"
    "亿沙母酒助闻超审待压升送监策略限竟香配藏敌呢差仍兰温园树征善波哪词岛止预怕继皮执味份角草男普答益谁船"
    "惊核街夏宣掌田久著画辑奇尼剑吧谈背免孩礼材愿洋春架筑括晚乱乎讲尚良友临激刀夜室既敢邦挥昌板胡欧福港叶"
    "简苦担句岁荆贵娘守辖威宜衣帮块堂额错剧充欢够孙班呼阵销坚练脚退读测吴希宁换版异某顾曲楚典朱毒菜判救宋"
    "茶洪含顺啊鲜败货矿端兄归冷忙买险康评肉吗厂永哈沉散遗停笔假输牛洞松渐顶训录否述毕督控丰献姑忽爷互亮纳"
    "襄登咱钟伯臣雄季脑介鄂召饭暗扩祖齐短烈赶牌恩诉移诗础露届蒙静喝盘卖植授伊湾博痛减穿逐秘庭陵固禁票灵杂"
    "姓泽吸侧庆妈遇追甲馆补唐炮沿殿刺怪彩俄旧警索岸轮妇载靠附毫怀软骨探雷旁罪枪牙迎序慢盛雨墙恶谷顿危稳熟"
    "智腾讯芯"
)


@cache
def _common() -> frozenset[str]:
    """The common characters in both scripts (built on first use: OpenCC's dictionaries load
    then, not when a crawl's process starts)."""
    return frozenset(_COMMON_HANZI) | frozenset(to_traditional(_COMMON_HANZI))


_CJK_PUNCT = frozenset("，。、：；！？「」『』（）《》〈〉【】“”‘’…—·　～％－＋／")
_LATIN_OK = frozenset("’‘“”–—…•·©®™°€£§¶«»\u00a0×½¼")
_LATIN_OK_RE = re.compile("[" + re.escape("".join(sorted(_LATIN_OK))) + "\u00c0-\u024f]")
_BAD_RE = re.compile("[\ufffd\ue000-\uf8ff\u0080-\u009f]")  # replacement, private use, C1

_MARGIN = 0.15
_SAMPLE_CHARS = 4000  # non-ASCII characters scored per candidate: plenty, and bounded
_META_SCAN = 16384

_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "gb18030": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "euc-cn": "gb18030",
    "windows-936": "gb18030",
    "big5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "big5hkscs": "big5hkscs",
    "cp950": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "ms950": "big5hkscs",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "windows-1252": "cp1252",
    "cp1252": "cp1252",
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}
# Python codecs that are not character sets a page can be written in (browsers know none of
# them; UTF-7 they refuse on purpose), and that raise on ordinary bytes or error handlers.
_NOT_PAGE_CODECS = frozenset(
    "idna punycode undefined unicode-escape raw-unicode-escape utf-7 charmap".split()
)
_JUDGED = frozenset({"utf-8", "gb18030", "big5hkscs", "cp1252"})
_FALLBACKS = ("utf-8", "gb18030", "big5hkscs", "cp1252")

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16-be"),
)
_HTTP_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?\s*([^\s;\"',]+)", re.I)
_META_CHARSET_RE = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([a-zA-Z0-9_.:\-]+)", re.I)
_XML_ENCODING_RE = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([a-zA-Z0-9_.:\-]+)", re.I)
_NON_ASCII_RUN_RE = re.compile(r"[^\x00-\x7f]+")


def normalise_label(label: str | None) -> str | None:
    """A charset label as browsers read it, as a Python codec name; None when unknown."""
    if not label:
        return None
    key = label.strip().strip("\"'").lower().replace("_", "-")
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        info = codecs.lookup(key)
    except LookupError:
        return None
    if not info._is_text_encoding or info.name in _NOT_PAGE_CODECS:
        return None  # base64, zlib, rot13, idna...: no page is written in them
    return _ALIASES.get(info.name, info.name)


def http_charset(content_type: str | None) -> str | None:
    """The charset of a Content-Type header value, normalised."""
    match = _HTTP_CHARSET_RE.search(content_type or "")
    return normalise_label(match.group(1)) if match else None


def meta_charset(body: bytes) -> str | None:
    """The charset a page declares in its first bytes (`<meta>` or an XML declaration)."""
    head = body[:_META_SCAN]
    match = _META_CHARSET_RE.search(head) or _XML_ENCODING_RE.search(head)
    if not match:
        return None
    label = normalise_label(match.group(1).decode("ascii", "ignore"))
    if label and label.startswith(("utf-16", "utf-32")):
        return "utf-8"  # bytes we could read it in are ASCII-compatible: the label is wrong
    return label


def plausibility(text: str) -> float:
    """How much `text` looks like real text rather than mojibake, about -3..1 (1 is best).

    Scores only the non-ASCII characters, since every candidate agrees on ASCII: the runs of
    them up to the one that reaches _SAMPLE_CHARS, counted in C (str.translate and regexes;
    a loop over the characters cost a page with a lying charset 15 ms per candidate)."""
    runs: list[str] = []
    n = 0
    for match in _NON_ASCII_RUN_RE.finditer(text):
        runs.append(match.group())
        n += match.end() - match.start()
        if n >= _SAMPLE_CHARS:
            break
    if n == 0:
        return 1.0
    sample, drop_good = "".join(runs), _without_good()
    bad = len(_BAD_RE.findall(sample))
    good = n - len(sample.translate(drop_good))  # common Han characters, CJK punctuation
    # accented letters and typographic marks count in short runs (a word of Latin text), once
    short = "".join(run for run in runs if len(run) <= 3).translate(drop_good)
    good += len(_LATIN_OK_RE.findall(short))
    return (good - 3 * bad) / n


@cache
def _without_good() -> dict[int, None]:
    """A str.translate table deleting the characters that count as good in any run."""
    return dict.fromkeys(map(ord, _common() | _CJK_PUNCT))


def _bom(body: bytes) -> tuple[str, str] | None:
    for bom, codec, name in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace").lstrip("\ufeff"), name
    return None


def _choose(body: bytes, declared: list[str]) -> tuple[str, str]:
    """Score the declarations and the usual suspects; keep the first declaration unless
    another candidate is clearly more plausible."""
    order = list(dict.fromkeys(declared + list(_FALLBACKS)))
    scored: list[tuple[float, str, str]] = []
    for name in order:
        text = body.decode(name, errors="replace")
        scored.append((plausibility(text), name, text))
    best = max(scored, key=lambda s: s[0])  # max keeps the first of equal scores
    if declared and scored[0][0] >= best[0] - _MARGIN:
        return scored[0][2], scored[0][1]
    return best[2], best[1]


def decode_body(
    body: bytes, content_type: str | None = None, override: str | None = None
) -> tuple[str, str]:
    """Decode a response body; returns (text, name of the encoding used). See module doc."""
    found = _bom(body)
    if found:
        return found
    forced = normalise_label(override)
    if forced:
        return body.decode(forced, errors="replace"), forced
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    declared = [d for d in (http_charset(content_type), meta_charset(body)) if d]
    declared = list(dict.fromkeys(declared))
    if declared and declared[0] not in _JUDGED and _decodes(body, declared[0]):
        return body.decode(declared[0]), declared[0]
    return _choose(body, [d for d in declared if d in _JUDGED])


def _decodes(body: bytes, name: str) -> bool:
    try:
        body.decode(name)
    except (UnicodeError, LookupError):
        return False
    return True


def xml_bytes(body: bytes, content_type: str | None = None) -> tuple[bytes, str | None]:
    """A feed's or sitemap's bytes and the charset to read them with (`xml_charset`).  When no
    charset reads them without an error (a CMS that cut a character in two, one stray byte),
    XML parsers give up on the whole charset and read every entry as windows-1252 mojibake (or
    drop the rest of the document): then the document as `decode_body` reads a page, errors
    replaced as a browser replaces them, re-encoded as UTF-8."""
    charset = xml_charset(body, content_type)
    if charset is not None or body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return body, charset
    text, _ = decode_body(body, content_type)
    return text.encode("utf-8"), "utf-8"


def xml_charset(body: bytes, content_type: str | None = None) -> str | None:
    """The charset to read a feed or sitemap with: strict UTF-8, then what the document
    declares (HTTP header, then `<?xml encoding?>`, labels widened as browsers widen them),
    then gb18030; None for UTF-16 with a byte-order mark, which XML parsers sniff themselves.

    feedparser widens gb2312 itself, but a big5 feed holding one HKSCS character falls
    through to windows-1252 and comes out as mojibake; choosing here avoids that."""
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    declared = [d for d in (http_charset(content_type), meta_charset(body)) if d]
    for name in dict.fromkeys(["utf-8", *declared, "gb18030"]):
        if _decodes(body, name):
            return name
    return None
