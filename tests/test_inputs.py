"""Paths from users: a file that is no document inside a walked folder is skipped with its
reason and the run goes on; one file is one document however its path is spelled; a refused
run leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


def _folder(root: Path) -> Path:
    folder = root / "docs"
    folder.mkdir()
    for n in range(3):
        (folder / f"{n}.md").write_text(f"![x](http://127.0.0.1:9/{n}.jpg)\n", encoding="utf-8")
    (folder / "photo.md").write_bytes(BINARY)
    return folder


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_binary_file_in_a_walked_folder_is_skipped_and_the_run_goes_on(tmp_path: Path) -> None:
    _folder(tmp_path)
    ran = run_cli("archive", "docs", "-c", "x", "--json", cwd=tmp_path)
    assert ran.code == 0, ran.err
    summary = json.loads(ran.out)
    assert summary["documents"] == 3 and summary["links_found"] == 3
    assert any("docs/photo.md: skipped: not a text document" in w for w in summary["warnings"])
    rows = _lines(tmp_path / "manifests/x/documents.jsonl")
    assert {"path": "docs/photo.md", "skipped": "not a text document (binary content)"} in rows
    assert len(rows) == 4
    links = run_cli("links", "docs", cwd=tmp_path)
    assert links.code == 0 and len(links.out.splitlines()) == 3
    assert "docs/photo.md: skipped" in links.err and "Traceback" not in links.err


def test_a_binary_file_named_on_the_command_line_is_refused_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    _folder(tmp_path)
    ran = run_cli("archive", "docs", "docs/photo.md", "-c", "x", cwd=tmp_path)
    assert ran.code == 2 and len(ran.err.strip().splitlines()) == 1, ran.err
    assert "photo.md" in ran.err
    assert not (tmp_path / "manifests").exists() and not (tmp_path / "warcs").exists()


def test_a_refused_run_on_an_existing_collection_changes_none_of_its_files(
    tmp_path: Path,
) -> None:
    _folder(tmp_path)
    assert run_cli("archive", "docs", "-c", "x", cwd=tmp_path).code == 0
    folder = tmp_path / "manifests/x"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    ran = run_cli("archive", "docs/photo.md", "-c", "x", cwd=tmp_path)
    assert ran.code == 2
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_one_file_is_one_document_however_its_path_is_spelled(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (tmp_path / "alias.md").symlink_to(folder / "0.md")
    spellings = ["docs/", "./docs/", str(folder), "docs/0.md", "alias.md"]
    ran = run_cli("archive", *spellings, "-c", "x", "--json", cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["documents"] == 3
    rows = _lines(tmp_path / "manifests/x/documents.jsonl")
    assert sorted(str(row["path"]) for row in rows if "sha256" in row) == [
        "docs/0.md",
        "docs/1.md",
        "docs/2.md",
    ], "the first spelling is kept"
    report = json.loads(run_cli("report", "-c", "x", "--format", "json", cwd=tmp_path).out)
    assert len(report["documents"]) == 3
    links = run_cli("links", *spellings, cwd=tmp_path)
    assert len(links.out.splitlines()) == 3


def test_a_re_run_adds_no_duplicate_document_lines(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    for spelling in ["docs", "./docs/", str(folder)]:
        assert run_cli("archive", spelling, "-c", "x", cwd=tmp_path).code == 0
    rows = _lines(tmp_path / "manifests/x/documents.jsonl")
    assert len(rows) == 4, rows
    (folder / "1.md").write_text("![x](http://127.0.0.1:9/changed.jpg)\n", encoding="utf-8")
    assert run_cli("archive", "docs", "-c", "x", cwd=tmp_path).code == 0
    assert len(_lines(tmp_path / "manifests/x/documents.jsonl")) == 5, "a changed file: a line"
