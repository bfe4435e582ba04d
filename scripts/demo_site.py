"""Serve the test suite's fixture news site on 127.0.0.1-3 and write settings for it.

    .venv/bin/python scripts/demo_site.py demo/     # then, in another terminal:
    .venv/bin/topicwatch crawl --settings demo/settings.toml

Useful offline, for trying topicwatch and Datasette without touching real sites.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fixturesite import FixtureSite, shipped_topics  # noqa: E402


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "demo").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    with FixtureSite(slow_seconds=5.0) as site:
        settings = folder / "settings.toml"
        settings.write_text(site.settings_toml(folder / "corpus.db") + "\n" + shipped_topics(), encoding="utf-8")
        print(f"fixture site on {site.base('a')}, {site.base('b')}, {site.base('c')}")
        print(f"settings written to {settings}; Ctrl-C stops", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
