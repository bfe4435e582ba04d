"""Commands beyond the one-off crawl: status, daemon, browse, export."""

from __future__ import annotations

import argparse


def add_commands(sub, settings_arg) -> None:
    pass
