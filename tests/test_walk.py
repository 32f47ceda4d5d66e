"""Walking folders of untrusted files: only regular files inside the folder are read, the walk
never recurses, never blocks and never follows folder symlinks, and odd names do not crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from archiver.errors import InputError
from archiver.extract import documents
from archiver.extract.documents import find_documents, read_document
from tests.replay import clean_env

DOC = b"see http://a.example/page.html\n"
GBK_NAME = "国家".encode("gbk") + b".md"  # b"\xb9\xfa\xbc\xd2.md"


def links(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`archiver links ARGS` in a subprocess that must end within a minute (a hang fails)."""
    return subprocess.run(
        [sys.executable, "-m", "archiver", "links", *args],
        cwd=cwd,
        env=clean_env() | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def folder_with(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "ok.md").write_bytes(DOC)
    return folder


def test_fifo_and_stdin_symlink_are_skipped_not_waited_on(tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    os.mkfifo(folder / "pipe.md")
    (folder / "stdin.md").symlink_to("/dev/stdin")
    ran = links("docs", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert [json.loads(line)["document"] for line in ran.stdout.splitlines()] == ["docs/ok.md"]
    assert "docs/pipe.md: skipped: not a regular file" in ran.stderr
    assert "docs/stdin.md: skipped" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_symlink_outside_the_folder_is_not_read(tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    secret = tmp_path / "secret.md"
    secret.write_bytes(b"http://secret.example/token\n")
    (folder / "leak.md").symlink_to(secret)
    (folder / "inside.md").symlink_to(folder / "ok.md")
    # a link to a file of the folder is that file: one document, by its first name
    assert find_documents([str(folder)]) == [f"{folder}/inside.md"]
    ran = links("docs", cwd=tmp_path)
    assert "secret.example" not in ran.stdout
    assert "docs/leak.md: skipped: a symlink to a file outside the folder" in ran.stderr


def test_a_symlink_named_on_the_command_line_is_read(tmp_path: Path) -> None:
    """The user named it: an explicit path may be a symlink to a regular file anywhere."""
    target = tmp_path / "elsewhere.md"
    target.write_bytes(DOC)
    (tmp_path / "named.md").symlink_to(target)
    assert read_document(str(tmp_path / "named.md")).size == len(DOC)


def test_explicit_fifo_or_device_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.md")
    (tmp_path / "stdin.md").symlink_to("/dev/stdin")
    for name in ("pipe.md", "stdin.md"):
        ran = links(name, cwd=tmp_path)
        assert ran.returncode == 2
        assert ran.stderr.startswith(f"archiver: error: {name}: not a regular file")
    with pytest.raises(InputError, match="not a regular file"):
        read_document(str(tmp_path / "pipe.md"))  # as if it was swapped in after the walk


def test_folder_symlink_loops_are_not_followed(tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    (folder / "sub").mkdir()
    (folder / "sub" / "loop").symlink_to(folder)
    (folder / "up").symlink_to(tmp_path)
    assert find_documents([str(folder)]) == [f"{folder}/ok.md"]


def test_a_deep_tree_is_walked_without_recursion(tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    deep = str(folder)
    for _ in range(1100):  # pathlib and os.makedirs would recurse
        deep += "/d"
        Path(deep).mkdir()
    Path(deep, "deep.md").write_bytes(DOC)
    try:
        found = find_documents([str(folder)])
    finally:  # shutil.rmtree recurses too: take the tree down here
        Path(deep, "deep.md").unlink()
        while deep != str(folder):
            Path(deep).rmdir()
            deep = str(Path(deep).parent)
    assert len(found) == 2
    assert found[0].endswith("/d/deep.md")
    assert found[0].split("/").count("d") == 1100


def test_a_name_that_is_not_utf8_is_skipped_with_a_warning(tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    (folder / os.fsdecode(GBK_NAME)).write_bytes(DOC)
    ran = links("docs", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert [json.loads(line)["document"] for line in ran.stdout.splitlines()] == ["docs/ok.md"]
    assert "docs/\\xb9\\xfa\\xbc\\xd2.md: skipped: file name is not UTF-8" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_a_name_that_is_not_utf8_given_explicitly_is_refused(tmp_path: Path) -> None:
    (tmp_path / os.fsdecode(GBK_NAME)).write_bytes(DOC)
    with pytest.raises(InputError, match="not UTF-8") as info:
        find_documents([str(tmp_path / os.fsdecode(GBK_NAME))])
    assert "\\xb9\\xfa" in str(info.value)
    str(info.value).encode("utf-8")  # printable


def test_a_document_over_the_limit_is_skipped_in_a_walk_and_read_with_a_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 100)
    folder = folder_with(tmp_path)
    (folder / "big.md").write_bytes(b"x" * 101)
    assert find_documents([str(folder)]) == [f"{folder}/ok.md"]
    with pytest.raises(InputError, match="limit"):
        read_document(str(folder / "big.md"))


def test_a_document_over_the_limit_on_the_command_line(tmp_path: Path) -> None:
    """A sparse file far over the limit: refused at once, without reading it into memory."""
    big = tmp_path / "huge.md"
    with big.open("wb") as handle:
        handle.truncate(8 * 1024**3)
    ran = links(str(big), cwd=tmp_path)
    assert ran.returncode == 2
    assert "larger than the 20 MiB document limit" in ran.stderr
