"""A part whose WARC files are not all there yet (its parts/ copied but not its warcs/, or an
rsync still running) is refused by `archiver merge` and merged once they are: no link lost."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from archiver.distributed import merge as merge_module
from archiver.distributed.merge import merge
from archiver.distributed.parts import MERGED_SUFFIX, find_parts
from archiver.store.lines import LINKS
from archiver.store.readlines import current_links
from archiver.verify.fixity import verify
from tests.conftest import run_cli
from tests.merge_parts import NAME, make_collection, settings_for, start_worker

A, B = "http://a.test/pic.jpg", "http://b.test/pic.jpg"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    make_collection(root)
    return root


@pytest.fixture(autouse=True)
def _short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(merge_module, "LIVE_WAIT_SECONDS", 0.3)


def test_a_part_whose_warc_file_is_missing_is_refused_then_merged_once_it_is_there(
    out: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "w1"
    worker = start_worker(source, 1, max_size=1)  # one file per capture
    worker.capture(A)
    worker.capture(B)
    worker.stop()
    first, second = sorted((source / "warcs" / NAME).glob("*.warc.gz"))
    away = tmp_path / second.name
    second.rename(away)  # not copied yet
    summary = merge(settings_for(out), [source])
    assert not summary.ok and summary.merged == ()
    assert second.name in summary.refused[0]
    (warned,) = [r.getMessage() for r in caplog.records if "missing" in r.getMessage()]
    assert second.name in warned and "\n" not in warned
    assert first.is_file(), "the part's files are not moved"
    assert not (out / "warcs" / NAME).exists() or not list((out / "warcs" / NAME).iterdir())
    assert find_parts(source, NAME) == [worker.part], "the part is not marked merged"
    assert not (out / "manifests" / NAME / LINKS).exists(), "none of its lines merged"
    away.rename(second)  # the copy arrives
    again = merge(settings_for(out), [source])
    assert again.ok and again.merged == (str(worker.part.path),)
    assert set(current_links(out / "manifests" / NAME)) == {A, B}
    assert worker.part.path.with_name(worker.part.name + MERGED_SUFFIX).is_dir()
    assert verify(settings_for(out)).ok


def test_the_command_says_which_file_is_missing_and_exits_1(out: Path, tmp_path: Path) -> None:
    source = tmp_path / "w1"
    worker = start_worker(source, 1)
    worker.capture(A)
    worker.stop()
    saved = tmp_path / "saved"
    shutil.move(source / "warcs", saved)  # the user copied parts/ but not warcs/
    ran = run_cli("merge", "-c", NAME, "--from", str(source), cwd=out)
    assert ran.code == 1
    (missing,) = [line for line in ran.err.splitlines() if "missing" in line]
    assert next(saved.rglob("*.warc.gz")).name in missing
    shutil.move(saved, source / "warcs")
    assert run_cli("merge", "-c", NAME, "--from", str(source), cwd=out).code == 0
    assert A in current_links(out / "manifests" / NAME)
