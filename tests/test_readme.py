"""The README's two commands are the ones that work, and CI runs the test command verbatim."""

from __future__ import annotations

import re
from pathlib import Path

from mockseg.rules import RULES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text("utf-8")
TEST_COMMAND = ("python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && "
                ".venv/bin/python -m pytest")
SERVE_COMMAND = "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/mockseg serve"


def test_readme_has_the_two_commands() -> None:
    assert TEST_COMMAND in README
    assert SERVE_COMMAND in README


def test_ci_runs_the_readme_test_command() -> None:
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text("utf-8")


def test_readme_rules_table_has_every_message() -> None:
    for rule in RULES:
        if rule.number.isdigit():
            assert rule.message in README, rule.message
    assert 'type must be "group"' in README
    assert re.search(r"\|\s*16\s*\|", README)
