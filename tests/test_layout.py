"""Data flows one way: a stage never imports a later one at module level, and crawler/
never imports jobs/ (the daemon depends on the crawler, not the reverse)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lower numbers come first in the flow; a module may import its own layer or lower ones.
LAYERS = {
    "crawler": 0, "crawler.errors": 0, "crawler.records": 0, "crawler.textnorm": 0,
    "crawler.binary": 0,
    "crawler.cron": 0, "crawler.config": 1, "crawler.search": 1, "crawler.decode": 1,
    "crawler.dates": 1,
    "crawler.sources": 2, "crawler.bylines": 2, "crawler.junklines": 2, "crawler.htmlprep": 2,
    "crawler.classify": 2,
    "crawler.authors": 2,
    "crawler.pagemeta": 2,
    "crawler.extract": 3, "crawler.topics": 3, "crawler.dedup": 3,
    "crawler.store": 4, "crawler.health": 4,
    "crawler.spool": 5,
    "crawler.ingest": 6,
    "crawler.scrapy_app": 7, "crawler.crawl": 7,
    "crawler.browse": 8, "crawler.export": 8,
    "crawler.cli": 9, "crawler.cli_more": 9, "crawler.__main__": 9,
}


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


def top_level_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in tree.body:  # module level only: imports inside functions are deliberate
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def test_every_crawler_module_has_a_layer():
    for path in (ROOT / "crawler").rglob("*.py"):
        assert layer(module_name(path)) is not None, f"add {module_name(path)} to LAYERS"


def test_stages_never_import_later_stages():
    wrong = []
    for path in (ROOT / "crawler").rglob("*.py"):
        me = module_name(path)
        for name in top_level_imports(path):
            if name.startswith("jobs"):
                wrong.append(f"{me} imports {name}")
            theirs = layer(name) if name.startswith("crawler.") else None
            if theirs is not None and theirs > layer(me):
                wrong.append(f"{me} (layer {layer(me)}) imports {name} (layer {theirs})")
    assert not wrong, "\n".join(wrong)


def test_the_scrapy_adapters_are_the_only_scrapy_users():
    for path in (ROOT / "crawler").rglob("*.py"):
        me = module_name(path)
        if me.startswith("crawler.scrapy_app") or me == "crawler.crawl":
            continue
        assert not [n for n in top_level_imports(path) if n.split(".")[0] in ("scrapy", "twisted")], me
