"""`archiver merge` on the command line, as a user runs it after a distributed run: two
machines' worker folders merged, then `verify`, `report` and `export` read the collection like
any other; bad input is one line and exit 2, with nothing written."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import Ran, run_cli
from tests.merge_parts import NAME, make_collection, start_worker

pytestmark = pytest.mark.slow

A, B, C = (f"http://{host}.test/pic.jpg" for host in ("a", "b", "c"))


def _refused(ran: Ran, *words: str) -> None:
    assert ran.code == 2, (ran.code, ran.out, ran.err)
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in ran.err, ran.err
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def machines(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The collection's root and two worker folders copied from two machines; the link A was
    delivered to both (a redelivered message)."""
    root, one, two = tmp_path / "root", tmp_path / "w1", tmp_path / "w2"
    make_collection(root)
    first = start_worker(one, 1)
    first.capture(A)
    first.capture(B)
    first.stop()
    second = start_worker(two, 2)
    second.capture(A)
    second.fail(C)
    second.stop()
    return root, one, two


def test_merged_parts_make_a_collection_verify_report_and_export_accept(
    machines: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    root, one, two = machines
    ran = run_cli("merge", "-c", NAME, "--from", str(one), "--from", str(two), "--json", cwd=root)
    assert ran.code == 0, ran.err
    summary = json.loads(ran.out)
    assert (len(summary["merged"]), summary["moved"], summary["links"]) == (2, 2, 3)
    assert summary["duplicates"] == 1, "A came twice: one capture current, one in history"
    verified = run_cli("verify", "-c", NAME, cwd=root)
    assert verified.code == 0, verified.out + verified.err
    report = run_cli("report", "-c", NAME, "--format", "json", cwd=root)
    assert report.code == 0, report.err
    data = json.loads(report.out)
    assert data["totals"]["links"] == 3
    assert data["totals"]["by_status"] == {"archived": 2, "dead": 0, "failed": 1, "skipped": 0}
    wacz = tmp_path / "news.wacz"
    exported = run_cli("export", "-c", NAME, "--wacz", str(wacz), cwd=root)
    assert exported.code == 0, exported.err
    with zipfile.ZipFile(wacz) as package:
        warcs = [name for name in package.namelist() if name.endswith(".warc.gz")]
    assert len(warcs) == 2, "both machines' WARC files are in the package"
    again = run_cli("merge", "-c", NAME, "--from", str(one), "--from", str(two), cwd=root)
    assert again.code == 0 and "merged 0 worker parts" in again.out


def test_a_name_clash_is_one_line_and_exit_2_with_nothing_overwritten(
    machines: tuple[Path, Path, Path],
) -> None:
    root, one, _ = machines
    (source,) = (one / "warcs" / NAME).glob("*.warc.gz")
    clash = root / "warcs" / NAME / source.name
    clash.parent.mkdir(parents=True)
    clash.write_bytes(b"someone else's file")
    _refused(run_cli("merge", "-c", NAME, "--from", str(one), cwd=root), source.name)
    assert clash.read_bytes() == b"someone else's file" and source.is_file()


def test_bad_input_is_one_line_and_exit_2(machines: tuple[Path, Path, Path]) -> None:
    root, one, _ = machines
    (root / "file").write_text("x", encoding="utf-8")
    _refused(run_cli("merge", "-c", NAME, "--from", "file", cwd=root), "not a folder")
    _refused(run_cli("merge", "-c", NAME, "--from", "nowhere", cwd=root), "not a folder")
    _refused(run_cli("merge", "-c", "../up", "--from", str(one), cwd=root), "collection")
    _refused(run_cli("merge", "-c", "other", "--from", str(one), cwd=root), "other")
    assert not (root / "manifests" / NAME / "links.jsonl").exists()
