"""Every command resolves its collection the same way (archiver.store.collection): a name that
could lead out of the output folders is refused, and a collection that is not there is "no
collection", in one line on stderr with exit 2, whatever the command, and nothing is created.

`export` and `replay` used to skip the name check: `export -c ..` looked for WARC files in the
output root itself and `replay -c ..` ran `wb-manager init ..`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from archiver.cli import main
from tests.conftest import Ran, run_cli

BAD_NAMES = ["..", "a/b", "", ".hidden", "../up", "a b", "名字"]
Args = Callable[[Path, str], list[str]]
COMMANDS: dict[str, Args] = {
    "archive": lambda root, name: ["archive", str(root / "d.md"), "-c", name],
    "verify": lambda root, name: ["verify", "-c", name],
    "verify-fast": lambda root, name: ["verify", "-c", name, "--fast"],
    "recheck": lambda root, name: ["recheck", "-c", name],
    "report": lambda root, name: ["report", "-c", name, "--format", "json"],
    "export": lambda root, name: ["export", "-c", name, "--wacz", str(root / "x.wacz")],
    "replay": lambda root, name: ["replay", "-c", name, "--port", "1"],
}
OPENING = [command for command in COMMANDS if command != "archive"]  # archive creates one


def _tree(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*"))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An output root whose warcs/ and manifests/ folders exist (so `-c ''` and `-c ..` name
    folders that exist), and a document to archive."""
    (tmp_path / "d.md").write_text("![x](http://127.0.0.1:9/a.jpg)\n", encoding="utf-8")
    (tmp_path / "warcs").mkdir()
    (tmp_path / "manifests").mkdir()
    return tmp_path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
    """The CLI's entry point in this process; any exception but its exit fails the test."""
    code: int | str | None = None
    try:
        main(list(args))
    except SystemExit as done:
        code = done.code
    out, err = capsys.readouterr()
    return Ran(int(code or 0), out, err)


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_a_bad_name_the_same_way(
    command: str, name: str, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _tree(root)
    ran = cli(capsys, *COMMANDS[command](root, name), "--out", str(root))
    assert ran.code == 2
    assert ran.out == ""
    assert ran.err == (
        f"archiver: error: invalid collection name {name!r}: use letters, digits, '.', '_' "
        "and '-', not starting with a dot\n"
    )
    assert _tree(root) == before


@pytest.mark.parametrize("command", OPENING)
def test_every_command_but_archive_says_no_collection_the_same_way(
    command: str, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _tree(root)
    ran = cli(capsys, *COMMANDS[command](root, "missing"), "--out", str(root))
    assert ran.code == 2
    assert ran.out == ""
    assert ran.err == f"archiver: error: no collection 'missing' under {root.resolve()}\n"
    assert _tree(root) == before


def test_a_refusal_is_one_line_from_the_installed_command_too(root: Path) -> None:
    """The same, run as a user runs it (a process of its own, the output root as cwd)."""
    for command in ("export", "replay"):
        ran = run_cli(*COMMANDS[command](root, ".."), cwd=root)
        assert (ran.code, ran.out) == (2, "")
        assert ran.err.startswith("archiver: error: invalid collection name '..'")
        assert ran.err.count("\n") == 1
    assert _tree(root) == ["d.md", "manifests", "warcs"]
