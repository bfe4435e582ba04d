"""settings.toml: loaded once, validated, turned into frozen objects.

Every key has a default and a help line declared here (`opt(...)`); `topicwatch settings`
prints them and the README documents them (a test keeps the two in step).  Any problem stops
the command with `ConfigError`, whose message names the file, the key and what is wrong.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from crawler.errors import ConfigError, did_you_mean
from crawler.text.addresses import parse_allowance

SOURCE_KINDS = ("feed", "sitemap", "listing", "search")
NOTIFY_MODES = ("each", "digest")
NOTIFY_FORMATS = ("text", "markdown", "html")
ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system says, else all)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def opt(default: Any, help: str, **meta: Any) -> Any:
    """A setting with its default and help line."""
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **meta})
    return field(default=default, metadata={"help": help, **meta})


@dataclass(frozen=True)
class CorpusSettings:
    path: str = opt("corpus.db", "SQLite file of the corpus, created on first use; relative paths are relative to settings.toml", nonempty=True)
    keep_unmatched_days: int = opt(30, "keep the extracted text of pages that matched no topic (compressed) this many days, so that topics added or changed later apply to them without fetching them again; 0 keeps none", min=0)


@dataclass(frozen=True)
class CrawlSettings:
    obey_robots: bool = opt(True, "obey robots.txt, including its Crawl-delay")
    user_agent: str = opt("topicwatch/0.1 (+https://github.com/topicwatch/topicwatch)", "User-Agent header sent with every request")
    concurrency: int = opt(16, "requests in flight at once, all hosts together", min=1)
    concurrency_per_host: int = opt(2, "requests in flight at once to one host", min=1)
    delay: float = opt(1.0, "seconds between two requests to the same host (robots.txt Crawl-delay raises it)", min=0)
    max_crawl_delay: float = opt(60.0, "a host whose robots.txt asks for a longer Crawl-delay (seconds) is not crawled: its pages are recorded as skipped (robots-disallowed); one whose 429 / 503 answer asks for a longer Retry-After is left until the next run (rate-limited)", min=1)
    autothrottle: bool = opt(True, "adapt the delay to each host's response times (Scrapy AutoThrottle)")
    timeout: float = opt(30.0, "seconds before a request is given up", min=1)
    retries: int = opt(2, "retries, within the run, of a request that failed for a reason that may "
                          "pass: a timeout, a refused, dropped or cut-short connection, a failed name "
                          "lookup, or status 5xx, 408 or 429", min=0)
    workers: int = opt(0, "processes that decode, extract and match pages and parse feeds and sitemaps, beside the process that downloads; 0 means one per core this process may use", min=0, max=256)
    processing_timeout: float = opt(60.0, "seconds one page or document may take in a worker process; past that (or when the worker dies) the worker is replaced and the page recorded as skipped (processing-timeout), tried again in the next runs", min=1)
    max_page_bytes: int = opt(5_000_000, "larger responses are dropped and recorded as skipped", min=10_000)
    max_title_chars: int = opt(400, "a headline candidate longer than this is passed over for the next (og:title, <title>, <h1>, the first line of the text)", min=20)
    max_age_days: int = opt(30, "skip entries and articles older than this when their date is known (an article its feed or news sitemap dates within the limit is kept whatever date its page shows); 0 means no limit", min=0)
    max_articles_per_source: int = opt(0, "stop following a source's links after this many article requests per run; 0 means no limit", min=0)
    max_entries_per_document: int = opt(5000, "article links followed from one feed, sitemap or listing page in a run (links already known or too old do not count); the rest wait for the next run and the document is recorded as skipped (too-many-entries)", min=1)
    max_sitemap_depth: int = opt(4, "levels of sitemaps followed from a source: 1 reads only its sitemap (or robots.txt's), 2 also the sitemaps an index lists, ...; deeper ones are recorded as skipped (sitemap-too-deep)", min=1)
    max_sitemaps_per_source: int = opt(200, "sitemap files fetched per source in a run, newest first where the index dates them; the rest are recorded as skipped (too-many-sitemaps)", min=1)
    allow_private: list = opt([], "networks (CIDR, e.g. 10.0.0.0/8) or host names that links and redirects may lead to although they are private, loopback or link-local; the hosts of the sources' own URLs are always allowed", items=str)

    @property
    def worker_count(self) -> int:
        """The worker processes a crawl starts: `workers`, or one per usable core."""
        return self.workers or available_cores()


@dataclass(frozen=True)
class DedupSettings:
    near_threshold: float = opt(0.5, "estimated Jaccard similarity of two texts' shingles from which they are one story (0-1)", min=0, max=1)
    num_perm: int = opt(128, "MinHash permutations: more is more precise and slower", min=16)
    shingle_size: int = opt(5, "characters per shingle of the normalised text", min=2, max=255)
    window_days: int = opt(30, "a new article joins the story of a near-duplicate only if that one was first seen at most this many days before it (reposts come within days; the window bounds the candidates); 0 means no limit", min=0)


@dataclass(frozen=True)
class DaemonSettings:
    log_file: str = opt("", "also log to this file, rotated daily and kept 14 days; empty means stderr only")
    log_level: str = opt("INFO", "DEBUG, INFO, WARNING or ERROR", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    misfire_grace_seconds: int = opt(3600, "a run missed by less than this (machine off, daemon stopped) still runs once at start-up", min=1)
    failure_threshold: int = opt(3, "flag a source after this many failed runs in a row", min=1)
    crawls: str = opt("local", "local: each scheduled crawl runs on this machine; redis: the daemon puts its schedules' sources in the Redis frontier of [redis] url for `topicwatch worker` processes, and ingests what they find", choices=("local", "redis"))


@dataclass(frozen=True)
class RedisSettings:
    url: str = opt("", "redis://host:port/db of the Redis that workers on several machines share (`topicwatch worker`, `ingest --redis`); --redis URL overrides it; empty: none")
    prefix: str = opt("topicwatch", "first part of every Redis key topicwatch uses, so several corpora can share one Redis", nonempty=True)
    lease_seconds: float = opt(60.0, "a request a worker took from the frontier goes back to it when the worker has not renewed its lease for this long (it died)", min=1)


@dataclass(frozen=True)
class BrowseSettings:
    base_url: str = opt("http://127.0.0.1:8001", "the address people open `topicwatch browse` (Datasette) at: notifications link to article pages there")


@dataclass(frozen=True)
class Source:
    name: str = opt("", "unique name of the source", required=True)
    kind: str = opt("", "feed, sitemap, listing or search", required=True, choices=SOURCE_KINDS)
    url: str = opt("", "the feed / sitemap / page URL (for search: a template with {query})")
    urls: list = opt([], "several URLs of the same kind (with url, when both are given)", items=str)
    allow: list = opt([], "regular expressions: only article URLs matching one are followed")
    deny: list = opt([], "regular expressions: article URLs matching one are never followed")
    language: str = opt("", "language hint for the source's pages: zh, en, ...")
    encoding: str = opt("", "force this encoding for the source's pages when the site declares a wrong one")
    enabled: bool = opt(True, "false keeps the source configured but not crawled")
    depth: int = opt(1, "listing: how many levels of listing pages to follow (at most 30 section pages from each; past that, a `too-many-entries` row)", min=1, max=3)
    queries: list = opt([], "search: the queries to fill {query} with; default: the first term of each topic's term groups", items=str)
    quiet_days: float = opt(7.0, "flag the source when it brings nothing new for longer than this", min=0)

    def all_urls(self) -> tuple[str, ...]:
        return tuple(([self.url] if self.url else []) + list(self.urls))

    def read_as(self, crawl: CrawlSettings) -> str:
        """What decides which links the source's documents yield, as a short fingerprint:
        validators saved under another one are not sent (crawler/fetch/state.py), so after
        `allow`, `deny`, `depth`, `encoding`, `queries` or `[crawl] max_age_days` change,
        a feed or listing is read in full instead of answering 304 with links never seen."""
        what = [self.kind, self.allow, self.deny, self.depth, self.encoding, self.queries,
                crawl.max_age_days]
        return hashlib.sha1(json.dumps(what, ensure_ascii=False).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Topic:
    name: str = opt("", "unique name of the topic", required=True)
    description: str = opt("", "what the topic covers, shown in Datasette")
    terms: list = opt([], "alias groups: each a list of spellings of one idea (Simplified, Traditional, English); a plain string is a group of one")
    require: list = opt([], "alias groups of which each must also match for the topic to match")
    require_score: float = opt(0.0, "0: each require group only has to be found; above 0: the score it must reach, counted like terms but per 500 characters of a longer text (1 = in the title or once per 500 characters)", min=0)
    exclude: list = opt([], "terms that reject an article for this topic")
    min_score: float = opt(2.0, "the score an article needs to match the topic (see Topics in the README)", min=0)
    keep_all: bool = opt(False, "accept every article (archive whole sources, evaluation)")


@dataclass(frozen=True)
class Schedule:
    name: str = opt("", "unique name of the schedule", required=True)
    cron: str = opt("", "a five-field cron expression, e.g. '*/30 * * * *' (minute hour day month weekday)")
    interval_minutes: float = opt(0.0, "run every this many minutes, instead of cron", min=0)
    sources: list = opt([], "names of the sources to crawl; empty means all enabled sources", items=str)
    topics: list = opt([], "names of the topics to match; empty means all topics", items=str)
    jitter_seconds: int = opt(0, "start each run up to this many seconds late, to spread load", min=0)


@dataclass(frozen=True)
class Notify:
    name: str = opt("", "unique name of the notification target (what was sent is recorded under it)", required=True)
    urls: list = opt([], "Apprise URLs: mailto://, json://, slack://, ntfy://, ...; ${NAME} is replaced by the environment variable NAME (for secrets)", items=str)
    topics: list = opt([], "only stories matching one of these topics; empty means all topics", items=str)
    mode: str = opt("each", "each: one message per new story after every run; digest: one message listing the new stories per topic, on cron or every interval_minutes", choices=NOTIFY_MODES)
    cron: str = opt("", "digest: when to send, a five-field cron expression, e.g. '0 8 * * 1-5'")
    interval_minutes: float = opt(0.0, "digest: send every this many minutes (at its multiples from midnight UTC, as */N in cron), instead of cron", min=0)
    format: str = opt("text", "text, markdown or html", choices=NOTIFY_FORMATS)
    max_items: int = opt(20, "each: at most this many story messages per run, the rest listed in one more message; digest: at most this many stories listed", min=1)
    failures: bool = opt(False, "also send alerts: a run that failed or fetched nothing, a source flagged as failing or quiet")


@dataclass(frozen=True)
class Settings:
    path: Path
    corpus: CorpusSettings
    crawl: CrawlSettings
    dedup: DedupSettings
    daemon: DaemonSettings
    browse: BrowseSettings
    redis: RedisSettings
    sources: tuple[Source, ...]
    topics: tuple[Topic, ...]
    schedules: tuple[Schedule, ...]
    notify: tuple[Notify, ...]

    @property
    def corpus_path(self) -> Path:
        p = Path(self.corpus.path).expanduser()
        return p if p.is_absolute() else (self.path.parent / p)

    def select_sources(self, names: list[str] | tuple[str, ...] = (),
                       option: str = "--source") -> tuple[Source, ...]:
        """Enabled sources, or the named ones (an unknown name is a ConfigError naming
        `option`, the way they were given)."""
        if not names:
            return tuple(s for s in self.sources if s.enabled)
        return _pick(self.path, option, "source", {s.name: s for s in self.sources}, names)

    def select_topics(self, names: list[str] | tuple[str, ...] = ()) -> tuple[Topic, ...]:
        """All topics, or the named ones (an unknown name is a ConfigError)."""
        if not names:
            return self.topics
        return _pick(self.path, "--topic", "topic", {t.name: t for t in self.topics}, names)


def _pick(path: Path, option: str, what: str, known: dict[str, Any], names: Any) -> tuple:
    for n in names:
        if n not in known:
            raise ConfigError(path, f"{option} {n}", unknown_name(what, n, known))
    return tuple(known[n] for n in names)


def unknown_name(what: str, name: str, known: Any) -> str:
    """'no such topic (did you mean agi?; known: a, b)'."""
    names = list(known)
    hint = did_you_mean(name, names).strip(" ()")
    listed = f"known: {', '.join(names)}" if names else f"no {what} is configured"
    return f"no such {what} ({hint + '; ' if hint else ''}{listed})"


SECTIONS: dict[str, type] = {
    "corpus": CorpusSettings,
    "crawl": CrawlSettings,
    "dedup": DedupSettings,
    "daemon": DaemonSettings,
    "browse": BrowseSettings,
    "redis": RedisSettings,
}
ARRAYS: dict[str, type] = {"sources": Source, "topics": Topic, "schedules": Schedule, "notify": Notify}


def expand_env(text: str, environ: Any = None) -> str:
    """`text` with each ${NAME} replaced by the environment variable NAME; KeyError(NAME) when
    one is not set.  Secrets (tokens, passwords in notification URLs) stay out of the file."""
    env = os.environ if environ is None else environ
    return ENV_VAR.sub(lambda m: env[m.group(1)], text)


def load_settings(path: str | Path) -> Settings:
    """Read and validate settings.toml; raise ConfigError naming the file and key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, None, "file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(path, None, f"not valid TOML: {e}") from None
    unknown = set(raw) - set(SECTIONS) - set(ARRAYS)
    if unknown:
        name = sorted(unknown)[0]
        raise ConfigError(path, name, f"unknown section{did_you_mean(name, [*SECTIONS, *ARRAYS])} "
                                      f"(known: {', '.join([*SECTIONS, *ARRAYS])})")
    built: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(path, name, "must be a table: [" + name + "]")
        built[name] = _build(cls, table, path, f"[{name}]")
    for name, cls in ARRAYS.items():
        items = raw.get(name, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ConfigError(path, name, f"must be an array of tables: [[{name}]]")
        built[name] = tuple(
            _build(cls, item, path, f"[[{name}]] #{i + 1}{_label(item)}") for i, item in enumerate(items)
        )
    settings = Settings(path=path, **built)
    _check_cross(settings)
    return settings


def _label(item: dict) -> str:
    return f" ({item['name']})" if isinstance(item.get("name"), str) else ""


def _build(cls: type, table: dict, path: Path, where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = get_type_hints(cls)
    for key in table:
        if key not in fields:
            raise ConfigError(path, f"{where} {key}",
                              f"unknown key{did_you_mean(key, fields)} (known: {', '.join(fields)})")
    values = {}
    for name, f in fields.items():
        key = f"{where} {name}"
        if name not in table:
            if f.metadata.get("required"):
                raise ConfigError(path, key, "is required")
            continue
        values[name] = _check_value(table[name], hints[name], f.metadata, path, key)
    obj = cls(**values)
    _check_object(obj, path, where)
    return obj


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "a list"}


def _as_toml(value: Any) -> str:
    """A value as settings.toml spells it (true, "text", [1, 2]), for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_as_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "a table"
    return str(value)


def _check_value(value: Any, typ: Any, meta: dict, path: Path, key: str) -> Any:
    ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(path, key, f"expected {_TYPE_NAMES[typ]}, got {_as_toml(value)}")
    if "min" in meta and value < meta["min"]:
        raise ConfigError(path, key, f"must be at least {meta['min']}, got {value!r}")
    if "max" in meta and value > meta["max"]:
        raise ConfigError(path, key, f"must be at most {meta['max']}, got {value!r}")
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(path, key, f"must be one of {', '.join(meta['choices'])}, got {value!r}")
    if typ is list:
        if "items" in meta and not all(isinstance(v, meta["items"]) and v.strip() for v in value):
            raise ConfigError(path, key, f"expected a list of non-empty strings, got {value!r}")
        return tuple(value)
    if meta.get("nonempty") and not value.strip():
        raise ConfigError(path, key, "must not be empty")
    return value


def _check_url(url: str, path: Path, key: str, template: bool = False) -> None:
    parts = urlsplit(url.replace("{query}", "q") if template else url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(path, key, f"not an http(s) URL: {url!r}")
    try:
        parts.port  # noqa: B018 -- urlsplit checks the port only when asked for it
    except ValueError:
        raise ConfigError(path, key, f"bad port (0-65535) in {url!r}") from None
    if not parts.hostname or any(ch.isspace() or ch in "<>\"{}|\\^`" for ch in parts.hostname):
        raise ConfigError(path, key, f"not a host name in {url!r}")


def check_redis_url(url: str, path: Path | str, key: str) -> None:
    """redis://[user:password@]host[:port][/db], rediss:// (TLS) or unix:///path.sock"""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.netloc or parts.path):
        raise ConfigError(path, key, f"not a Redis URL (redis://host:port/db): {url!r}")


def _check_regexes(patterns: tuple, path: Path, key: str) -> None:
    for p in patterns:
        if not isinstance(p, str):
            raise ConfigError(path, key, f"expected regular expressions as strings, got {p!r}")
        try:
            re.compile(p)
        except re.error as e:
            raise ConfigError(path, key, f"invalid regular expression {p!r}: {e}") from None


def _groups(value: tuple, path: Path, key: str) -> tuple[tuple[str, ...], ...]:
    out = []
    for g in value:
        group = (g,) if isinstance(g, str) else g
        if not isinstance(group, list | tuple) or not group or not all(isinstance(t, str) and t.strip() for t in group):
            raise ConfigError(path, key, f"each term group must be a non-empty string or list of strings, got {g!r}")
        terms = tuple(t.strip() for t in group)
        if all(t.startswith("-") for t in terms):
            raise ConfigError(path, key, f"the group {g!r} has only negative terms: a '-term' only "
                                         "narrows the other terms of its group, so it never matches")
        out.append(terms)
    return tuple(out)


def _check_object(obj: Any, path: Path, where: str) -> None:
    if isinstance(obj, CrawlSettings):
        for item in obj.allow_private:
            try:
                parse_allowance(item)
            except ValueError as e:
                raise ConfigError(path, f"{where} allow_private", str(e)) from None
    elif isinstance(obj, Source):
        urls = obj.all_urls()
        if not urls:
            raise ConfigError(path, f"{where} url", "a source needs url or urls")
        for u in urls:
            if not isinstance(u, str):
                raise ConfigError(path, f"{where} urls", f"expected strings, got {u!r}")
            _check_url(u, path, f"{where} url", template=obj.kind == "search")
            if obj.kind == "search" and "{query}" not in u:
                raise ConfigError(path, f"{where} url", f"a search URL needs a {{query}} placeholder: {u!r}")
        _check_regexes(obj.allow, path, f"{where} allow")
        _check_regexes(obj.deny, path, f"{where} deny")
        if obj.encoding:
            import codecs

            try:
                codecs.lookup(obj.encoding)
            except LookupError:
                raise ConfigError(path, f"{where} encoding", f"unknown encoding {obj.encoding!r}") from None
    elif isinstance(obj, Topic):
        terms = _groups(obj.terms, path, f"{where} terms")
        require = _groups(obj.require, path, f"{where} require")
        exclude = _groups(obj.exclude, path, f"{where} exclude")
        if not terms and not obj.keep_all:
            raise ConfigError(path, f"{where} terms", "a topic needs terms (or keep_all = true)")
        object.__setattr__(obj, "terms", terms)
        object.__setattr__(obj, "require", require)
        object.__setattr__(obj, "exclude", tuple(t for g in exclude for t in g))
    elif isinstance(obj, Schedule):
        if bool(obj.cron) == bool(obj.interval_minutes):
            raise ConfigError(path, f"{where} cron", "give exactly one of cron or interval_minutes")
        if obj.cron:
            _check_cron(obj.cron, path, f"{where} cron")
    elif isinstance(obj, Notify):
        _check_notify(obj, path, where)


def _check_cron(expr: str, path: Path, key: str) -> None:
    from apscheduler.triggers.cron import CronTrigger

    from crawler.cron import standard_crontab

    try:
        CronTrigger.from_crontab(standard_crontab(expr))
    except ValueError as e:
        raise ConfigError(path, key, f"invalid cron expression {expr!r}: {e}") from None


def _check_notify(obj: Notify, path: Path, where: str) -> None:
    """URLs present, shaped like scheme://...; a digest has a cron or an interval.  An error
    never quotes a URL (it may hold a secret): it names its position and scheme.  Whether
    their ${NAME}s are set is checked only where notifications are sent (crawler/notify/queue.py
    `check`): a command that sends none, run where the secret is not set, is not refused."""
    if not obj.urls:
        raise ConfigError(path, f"{where} urls", "a notify target needs at least one Apprise URL")
    for i, url in enumerate(obj.urls, 1):
        if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://\S", url):
            raise ConfigError(path, f"{where} urls", f"URL #{i} is not an Apprise URL (scheme://...)")
    if obj.mode == "digest" and bool(obj.cron) == bool(obj.interval_minutes):
        raise ConfigError(path, f"{where} cron", "mode = \"digest\" needs exactly one of cron or interval_minutes")
    if obj.mode == "each" and (obj.cron or obj.interval_minutes):
        key = "cron" if obj.cron else "interval_minutes"
        raise ConfigError(path, f"{where} {key}", f"{key} is for mode = \"digest\" only")
    if obj.cron:
        _check_cron(obj.cron, path, f"{where} cron")


def _same_url_key(url: str) -> str:
    """`url` as the crawl's duplicate filter compares it, near enough: scheme and host in any
    case, no fragment, an empty path as "/"."""
    parts = urlsplit(url.strip())
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path or '/'}{query}"


def _check_same_urls(s: Settings) -> None:
    """Two enabled sources of one kind with the same URL: the crawl asks for it once, so the
    second would never be read (nor its health told), whatever its other settings."""
    seen: dict[tuple, str] = {}
    for source in s.sources:
        if not source.enabled:
            continue
        for url in dict.fromkeys(source.all_urls()):
            key = (source.kind, _same_url_key(url), tuple(source.queries) if source.kind == "search" else ())
            first = seen.setdefault(key, source.name)
            if first != source.name:
                raise ConfigError(s.path, f"[[sources]] ({source.name}) url",
                                  f"{url} is also the url of source {first!r}: the crawl reads it "
                                  "once, so one of them would never be read; keep one (or set "
                                  "enabled = false)")


def _check_cross(s: Settings) -> None:
    if s.corpus_path.is_dir():
        raise ConfigError(s.path, "[corpus] path", f"is a directory: {s.corpus_path}")
    _check_url(s.browse.base_url, s.path, "[browse] base_url")
    if s.redis.url:
        check_redis_url(s.redis.url, s.path, "[redis] url")
    if s.daemon.crawls == "redis" and not s.redis.url:
        raise ConfigError(s.path, "[daemon] crawls", 'is "redis" but [redis] url is empty')
    for name, items in (("sources", s.sources), ("topics", s.topics), ("schedules", s.schedules),
                        ("notify", s.notify)):
        seen: set[str] = set()
        for item in items:
            if item.name in seen:
                raise ConfigError(s.path, f"[[{name}]] name", f"duplicate name {item.name!r}")
            seen.add(item.name)
    _check_same_urls(s)
    source_names = [x.name for x in s.sources]
    topic_names = [x.name for x in s.topics]
    for sch in s.schedules:
        for n in sch.sources:
            if n not in source_names:
                raise ConfigError(s.path, f"[[schedules]] ({sch.name}) sources",
                                  f"no such source {n!r}{did_you_mean(n, source_names)}")
        for n in sch.topics:
            if n not in topic_names:
                raise ConfigError(s.path, f"[[schedules]] ({sch.name}) topics",
                                  f"no such topic {n!r}{did_you_mean(n, topic_names)}")
    for target in s.notify:
        for n in target.topics:
            if n not in topic_names:
                raise ConfigError(s.path, f"[[notify]] ({target.name}) topics",
                                  f"no such topic {n!r}{did_you_mean(n, topic_names)}")


def describe_settings() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, help) for every setting: the settings reference."""
    rows = []
    for section, cls in [*SECTIONS.items(), *ARRAYS.items()]:
        label = f"[{section}]" if section in SECTIONS else f"[[{section}]]"
        for f in dataclasses.fields(cls):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            rows.append((label, f.name, default, f.metadata["help"]))
    return rows
