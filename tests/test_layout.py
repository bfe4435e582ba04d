"""The layout keeps data flowing one way.

- A module imports only its own layer or earlier ones, at module level *and inside functions*
  (a function-level import is still a dependency), and never another package's `_private`
  names; crawler/ never imports jobs/ (the daemon depends on the crawler, not the reverse).
- SQL lives in crawler/store/ only.
- Only the adapters in crawler/fetch/ import Scrapy or Twisted.

Each rule is also run against planted violations, so this file can be seen to fail.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lower numbers come first in the flow; a module may import its own layer or lower ones.
LAYERS = {
    "crawler": 0, "crawler.errors": 0, "crawler.records": 0, "crawler.cron": 0,
    "crawler.faults": 0, "crawler.locks": 0, "crawler.pool": 0,
    "crawler.config": 1, "crawler.text": 1,
    "crawler.sources": 2,
    "crawler.extract": 3,
    "crawler.topics": 4, "crawler.dedup": 4,
    "crawler.analyse": 5,
    "crawler.store": 6,
    "crawler.fetch": 7, "crawler.remote": 7,
    "crawler.browse": 8, "crawler.console": 8, "crawler.explain": 8, "crawler.check": 8,
    "crawler.notify": 8,
    "crawler.cli": 9, "crawler.__main__": 9,
    "jobs": 10,
}
SQL_RE = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
    r"CREATE\s+(TABLE|INDEX|VIEW|VIRTUAL|TRIGGER)|DROP\s+(TABLE|VIEW|INDEX)|PRAGMA\s+\w+)",
    re.S,
)


def layer(module: str) -> int | None:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in LAYERS:
            return LAYERS[key]
    return None


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports(source: str, me: str) -> list[tuple[str, list[str]]]:
    """(module, names) of every import anywhere in the file, relative ones resolved."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = me.rsplit(".", node.level)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found.append((module, [a.name for a in node.names]))
    return found


def import_problems(source: str, me: str) -> list[str]:
    wrong = []
    mine = layer(me)
    for module, names in imports(source, me):
        targets = [module] + [f"{module}.{n}" for n in names]
        if me.startswith("crawler") and module.split(".")[0] == "jobs":
            wrong.append(f"{me} imports {module}: crawler never imports jobs")
        theirs = [t for t in (layer(x) for x in targets if x.startswith(("crawler", "jobs"))) if t is not None]
        if theirs and min(theirs) > mine:
            wrong.append(f"{me} (layer {mine}) imports {module} (layer {min(theirs)})")
        if module.split(".")[:2] != me.split(".")[:2] and module.startswith("crawler"):
            wrong += [f"{me} imports {module}.{n}, a private name" for n in names if n.startswith("_")]
    return wrong


def sql_problems(source: str, me: str) -> list[str]:
    if me.startswith("crawler.store"):
        return []
    return [f"{me}:{node.lineno}: SQL outside crawler/store: {node.value.strip()[:60]!r}"
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_RE.search(node.value)]


def scrapy_problems(source: str, me: str) -> list[str]:
    if me.startswith("crawler.fetch"):
        return []
    return [f"{me} imports {module}" for module, _ in imports(source, me)
            if module.split(".")[0] in ("scrapy", "twisted", "scrapy_redis")]


def project_modules() -> list[tuple[Path, str]]:
    return [(p, module_name(p)) for top in ("crawler", "jobs") for p in sorted((ROOT / top).rglob("*.py"))]


def test_every_module_has_a_layer():
    for _, me in project_modules():
        assert layer(me) is not None, f"add {me} to LAYERS"


def test_stages_never_import_later_stages_even_inside_functions():
    wrong = [w for path, me in project_modules() for w in import_problems(path.read_text(encoding="utf-8"), me)]
    assert not wrong, "\n".join(wrong)


def test_sql_only_in_the_store():
    wrong = [w for path, me in project_modules() for w in sql_problems(path.read_text(encoding="utf-8"), me)]
    assert not wrong, "\n".join(wrong)


def test_the_scrapy_adapters_are_the_only_scrapy_users():
    wrong = [w for path, me in project_modules() for w in scrapy_problems(path.read_text(encoding="utf-8"), me)]
    assert not wrong, "\n".join(wrong)


# ---------------------------------------------------------------- the rules catch violations

PLANTED = '''
import json

def helper():
    from crawler.fetch.spider import TopicSpider
    from jobs.daemon import Daemon
    from crawler.extract.core import _parse
    return "SELECT id FROM articles WHERE url = ?"
'''


def test_the_rules_catch_a_function_level_import_and_sql():
    problems = import_problems(PLANTED, "crawler.sources.feeds")
    assert any("imports crawler.fetch.spider" in p for p in problems)
    assert any("crawler never imports jobs" in p for p in problems)
    assert any("_parse, a private name" in p for p in problems)
    assert sql_problems(PLANTED, "crawler.sources.feeds")
    assert not sql_problems(PLANTED, "crawler.store.corpus")
    assert scrapy_problems("def f():\n    import scrapy\n", "crawler.extract.core")
    assert not import_problems("from crawler.text.urls import site_of\n", "crawler.sources.feeds")
    assert not import_problems("from .rules import LinkRules\n", "crawler.sources.listings")
