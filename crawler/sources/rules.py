"""A source's `allow` / `deny` patterns, compiled once and applied the same way everywhere."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class LinkRules:
    """`deny` patterns always exclude a URL; with `allow` patterns a URL must match one.
    Both are `re.search`ed against the absolute URL."""

    allow: tuple[re.Pattern[str], ...] = ()
    deny: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def of(cls, allow: tuple[str, ...] = (), deny: tuple[str, ...] = ()) -> LinkRules:
        return _compiled(tuple(allow), tuple(deny))

    def denies(self, url: str) -> bool:
        return any(p.search(url) for p in self.deny)

    def allows(self, url: str) -> bool:
        return not self.allow or any(p.search(url) for p in self.allow)

    def follows(self, url: str) -> bool:
        return self.allows(url) and not self.denies(url)


@lru_cache(maxsize=256)
def _compiled(allow: tuple[str, ...], deny: tuple[str, ...]) -> LinkRules:
    return LinkRules(tuple(map(re.compile, allow)), tuple(map(re.compile, deny)))
