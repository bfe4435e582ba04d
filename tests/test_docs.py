"""The README documents every setting and every command, every command and option has help
text, and the README's test command is CI's."""

from __future__ import annotations

import re
from pathlib import Path

import click

from crawler.cli import cli
from crawler.config import describe_settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands() -> dict[str, click.Command]:
    """Every `topicwatch` command, the plugged-in ones (daemon, status) included."""
    ctx = click.Context(cli)
    return {name: cli.get_command(ctx, name) for name in cli.list_commands(ctx)}


def visible_options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


def test_the_plugged_in_commands_are_there():
    assert {"crawl", "ingest", "sources", "topics", "settings", "browse", "export",
            "daemon", "status"} <= set(commands())


def test_every_setting_is_in_the_readme():
    missing = [f"{section} {key}" for section, key, _, _ in describe_settings()
               if not re.search(rf"\|\s*`{re.escape(key)}`\s*\|", README)]
    assert not missing, f"settings missing from README: {missing}"


def test_every_setting_has_a_help_line():
    assert all(help_.strip() for _, _, _, help_ in describe_settings())


def test_every_command_and_option_is_in_the_readme():
    for name, command in commands().items():
        assert f"topicwatch {name}" in README, name
        for option in visible_options(command):
            for flag in option.opts:
                if flag.startswith("--") and flag != "--help":
                    assert flag in README, f"topicwatch {name} {flag}"


def test_every_command_and_option_has_help_text():
    for name, command in commands().items():
        assert (command.help or "").strip(), f"topicwatch {name} --help has no description"
        assert command.get_short_help_str().strip(), f"topicwatch {name} has no line in the list"
        for option in visible_options(command):
            assert (option.help or "").strip(), f"topicwatch {name} {option.opts[0]} has no help"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/test.sh" in README
    assert re.search(r"^bash scripts/test\.sh$", ci, re.M)
