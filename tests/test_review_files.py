"""The collection's own files as someone else left them: names that are links out of the
collection, FIFOs or folders where a run expects its files; commands whose output goes to a
file that cannot be written. No command follows a link, blocks on a FIFO, truncates or copies a
file outside the collection, prints a traceback, or says OK about what it did not read.
"""

# ruff: noqa: F811  (the fixtures `base` and `copy` are shared with test_manifest_lines)
from __future__ import annotations

import gzip
import os
import sqlite3
import zipfile
from pathlib import Path

import pytest

from archiver.config import Settings
from archiver.replay import sync_collection
from archiver.run.archive import archive
from tests.conftest import Ran
from tests.test_manifest_lines import base, cli, copy  # noqa: F401 (fixtures)


def _warc(root: Path) -> Path:
    (found,) = (root / "warcs" / "v").iterdir()
    return found


def _run(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> Ran:
    old = Path.cwd()
    os.chdir(root)
    try:
        return cli(capsys, *(a.replace("OUT", str(root / "out.wacz")) for a in args))
    finally:
        os.chdir(old)


def _settings(root: Path) -> Settings:
    return Settings(out=root, collection="v", allow_private=True, retries=0)


def test_a_lock_file_linked_outside_is_never_truncated(copy: Path, tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    lock = copy / "manifests" / "v" / ".lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(precious)
    with pytest.raises(Exception, match="symbolic link"):
        archive([str(copy / "doc.md")], _settings(copy))
    assert precious.read_text() == "keep me\n"


def test_a_manifest_file_linked_outside_is_never_cut_nor_appended_to(
    copy: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "notes.txt"
    outside.write_bytes(b"first line\nno newline at the end")
    links = copy / "manifests" / "v" / "documents.jsonl"
    links.unlink()
    links.symlink_to(outside)
    with pytest.raises(Exception, match="symbolic link"):
        archive([str(copy / "doc.md")], _settings(copy))
    assert outside.read_bytes() == b"first line\nno newline at the end"


def test_an_open_warc_linked_outside_is_not_repaired(copy: Path, tmp_path: Path) -> None:
    """Repair would cut the file the link leads to after its last whole gzip member, then list
    it as the collection's: export would copy it into the package."""
    outside = tmp_path / "outside.gz"
    outside.write_bytes(gzip.compress(b"someone else's data") + b"torn")
    before = outside.read_bytes()
    (copy / "warcs" / "v" / "z.warc.gz.open").symlink_to(outside)
    archive([str(copy / "doc.md")], _settings(copy))
    assert outside.read_bytes() == before
    assert "z.warc.gz" not in (copy / "manifests" / "v" / "warcs.sha256").read_text()


def test_a_folder_named_like_an_open_warc_does_not_wedge_the_collection(copy: Path) -> None:
    (copy / "warcs" / "v" / "y.warc.gz.open").mkdir()
    for _ in range(2):
        assert archive([str(copy / "doc.md")], _settings(copy)).counts == {"archived": 4}


def test_an_open_warc_never_overwrites_the_closed_file_of_its_name(copy: Path) -> None:
    closed = _warc(copy)
    before = closed.read_bytes()
    (closed.parent / (closed.name + ".open")).write_bytes(before[: len(before) // 2])
    archive([str(copy / "doc.md")], _settings(copy))
    assert closed.read_bytes() == before


def _fifo_run(copy: Path, *args: str) -> int:
    """A command in a subprocess with a timeout: a FIFO that is opened blocks for ever."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "archiver", *args],
        cwd=copy,
        capture_output=True,
        timeout=60,
        text=True,
        check=False,
    )
    assert "Traceback" not in done.stderr
    return done.returncode


def test_fifos_named_like_warcs_never_block_a_command(copy: Path) -> None:
    warcs = copy / "warcs" / "v"
    os.mkfifo(warcs / "f.warc.gz")
    os.mkfifo(warcs / "x.warc.gz.open")
    (copy / "manifests" / "v" / ".inflight").write_text("warcs/v/f.warc.gz\n")
    with (copy / "manifests" / "v" / "warcs.sha256").open("a") as sums:
        sums.write(f"{'a' * 64}  warcs/v/f.warc.gz\n")
    assert _fifo_run(copy, "archive", "doc.md", "-c", "v", "--allow-private") == 0
    assert _fifo_run(copy, "verify", "-c", "v") == 1
    assert _fifo_run(copy, "export", "-c", "v", "--wacz", str(copy / "o.wacz")) == 1
    assert not (copy / "o.wacz").exists()


@pytest.mark.parametrize("what", ["fifo", "folder", "link"])
def test_verify_never_says_ok_with_a_name_like_a_warc_it_did_not_read(
    capsys: pytest.CaptureFixture[str], copy: Path, tmp_path: Path, what: str
) -> None:
    odd = copy / "warcs" / "v" / "odd.warc.gz"
    if what == "fifo":
        os.mkfifo(odd)
    elif what == "folder":
        odd.mkdir()
    else:
        target = tmp_path / "elsewhere.warc.gz"
        target.write_bytes(_warc(copy).read_bytes())
        odd.symlink_to(target)
    for fast in ((), ("--fast",)):
        ran = _run(capsys, copy, "verify", *fast, "-c", "v")
        assert ran.code == 1
        assert "odd.warc.gz" in ran.out and "not a regular file" in ran.out


def test_a_listed_warc_linked_outside_is_never_exported_nor_read(
    capsys: pytest.CaptureFixture[str], copy: Path, tmp_path: Path
) -> None:
    """The link leads to a valid WARC (the collection's own, moved out): reading through it,
    verify would say OK, and export would copy whatever the link names into the package."""
    warc = _warc(copy)
    outside = tmp_path / "outside.warc.gz"
    warc.rename(outside)
    warc.symlink_to(outside)
    ran = _run(capsys, copy, "verify", "-c", "v")
    assert ran.code == 1 and "symbolic link" in ran.out
    ran = _run(capsys, copy, "export", "-c", "v", "--wacz", "OUT")
    assert ran.code == 1 and "symbolic link" in ran.err and "Traceback" not in ran.err
    assert not (copy / "out.wacz").exists()
    sync_collection(_settings(copy))
    archive_dir = copy / "replay" / "collections" / "v" / "archive"
    assert [p.name for p in archive_dir.iterdir()] == []


def test_a_damaged_warc_makes_export_fail_in_one_line(
    capsys: pytest.CaptureFixture[str], copy: Path
) -> None:
    _warc(copy).write_bytes(b"garbage, not a WARC")
    ran = _run(capsys, copy, "export", "-c", "v", "--wacz", "OUT")
    assert ran.code == 1 and ran.err.count("\n") == 1 and "wacz create failed" in ran.err
    assert not (copy / "out.wacz").exists()


def test_export_to_a_folder_that_does_not_exist_is_an_output_error(
    capsys: pytest.CaptureFixture[str], copy: Path
) -> None:
    ran = _run(capsys, copy, "export", "-c", "v", "--wacz", str(copy / "no" / "x.wacz"))
    assert ran.code == 1 and ran.err.count("\n") == 1


def test_report_to_a_file_that_cannot_be_written_is_an_output_error(
    capsys: pytest.CaptureFixture[str], copy: Path
) -> None:
    ran = _run(capsys, copy, "report", "-c", "v", "-o", str(copy / "no" / "\x1b[31mx.html"))
    assert ran.code == 1 and ran.err.count("\n") == 1 and "\x1b" not in ran.err


def test_a_state_file_linked_to_another_database_is_never_written(
    copy: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE mine (x)")
    before = other.read_bytes()
    state = copy / "manifests" / "v" / ".state.sqlite"
    state.unlink()
    state.symlink_to(other)
    assert archive([str(copy / "doc.md")], _settings(copy)).counts == {"archived": 4}
    assert other.read_bytes() == before
    assert not state.is_symlink()


def test_the_wacz_still_holds_every_warc(capsys: pytest.CaptureFixture[str], copy: Path) -> None:
    ran = _run(capsys, copy, "export", "-c", "v", "--wacz", "OUT")
    assert ran.code == 0
    names = zipfile.ZipFile(copy / "out.wacz").namelist()
    assert f"archive/{_warc(copy).name}" in names


@pytest.mark.parametrize(
    "forgery",
    [
        "UPDATE links SET line_at = 'abc'",
        "UPDATE links SET documents = 'not json'",
        "UPDATE links SET documents = x'ff'",
        "UPDATE links SET documents = '[1, 2]'",
        "UPDATE links SET warc_end = -1",
        "UPDATE originals SET warc_end = 'far'",
    ],
)
def test_a_state_database_with_rows_of_the_wrong_types_is_rebuilt(copy: Path, forgery: str) -> None:
    """A valid SQLite state whose rows this code never wrote (its fingerprint of links.jsonl
    still matches) is set aside and rebuilt, not read into a traceback."""
    state = copy / "manifests" / "v" / ".state.sqlite"
    with sqlite3.connect(state) as db:
        db.execute(forgery)
    summary = archive([str(copy / "doc.md")], _settings(copy))
    assert summary.counts == {"archived": 4}
    assert any("wrong types" in warning for warning in summary.warnings)
    assert (state.parent / ".state.sqlite.bad").exists()
