"""The README documents every setting and every command, and its test command is CI's."""

from __future__ import annotations

import re
from pathlib import Path

from crawler.cli import build_parser
from crawler.config import describe_settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme():
    missing = [f"{section} {key}" for section, key, _, _ in describe_settings()
               if not re.search(rf"\|\s*`{re.escape(key)}`\s*\|", README)]
    assert not missing, f"settings missing from README: {missing}"


def test_every_setting_has_a_help_line():
    assert all(help_.strip() for _, _, _, help_ in describe_settings())


def test_every_command_and_option_is_in_the_readme():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():
        assert f"topicwatch {name}" in README, name
        for action in command._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag not in ("--help", "--run-id", "--trigger"):
                    assert flag in README, f"topicwatch {name} {flag}"
        assert command.description or sub._choices_actions, name


def test_every_command_has_help_text():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    helps = {a.dest: a.help for a in sub._choices_actions}
    assert set(helps) == set(sub.choices)
    assert all(helps.values())


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/test.sh" in README
    assert re.search(r"^bash scripts/test\.sh$", ci, re.M)
