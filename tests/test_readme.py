"""The README's examples are real: its links output is what the command prints today."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_links_example_output_is_current() -> None:
    block = re.search(r"\$ archiver links (\S+) \| head -n 3\n(.*?)\n```", README, re.DOTALL)
    assert block is not None
    ran = run_cli("links", block.group(1), cwd=ROOT)
    assert ran.code == 0, ran.err
    assert ran.out.splitlines()[:3] == block.group(2).splitlines()


def test_ci_runs_the_readme_test_command() -> None:
    marker = README.index("<!-- test-command -->")
    command = next(line for line in README[marker:].splitlines() if line.startswith("python3 "))
    assert "pytest" in command and "mypy" in command and "ruff check" in command
    assert "test-command" in (ROOT / ".ci/run").read_text(encoding="utf-8")
