"""`archiver merge` as a library call: worker parts written with the project's own writers,
brought into the collection; what a user relies on: every capture kept, one current line per
link, nothing overwritten, nothing merged twice, a live worker's part left alone."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.distributed import merge as merge_module
from archiver.distributed.merge import merge
from archiver.distributed.parts import MERGED_SUFFIX, find_parts
from archiver.errors import InputError
from archiver.store.lines import LINKS, WARCS
from archiver.store.readlines import current_links, read_links, read_warc_sums
from archiver.verify.fixity import verify
from tests.merge_parts import NAME, make_collection, settings_for, start_worker

A, B, C = (f"http://{host}.test/pic.jpg" for host in ("a", "b", "c"))


def _targets(out: Path) -> list[str]:
    """The WARC-Target-URIs of every response record in the collection, read with warcio."""
    found = []
    for path in sorted((out / "warcs" / NAME).glob("*.warc.gz")):
        with path.open("rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == "response":
                    found.append(record.rec_headers.get_header("WARC-Target-URI"))
    return sorted(found)


def _links(out: Path) -> bytes:
    return (out / "manifests" / NAME / LINKS).read_bytes()


def _sums(out: Path) -> bytes:
    return (out / "manifests" / NAME / WARCS).read_bytes()


@pytest.fixture
def out(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    make_collection(root)
    return root


@pytest.fixture(autouse=True)
def _short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(merge_module, "LIVE_WAIT_SECONDS", 0.3)


def test_two_machines_parts_are_merged_with_every_capture(out: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "w1", tmp_path / "w2"
    first = start_worker(one, 1)
    first.capture(A)
    first.fail(C)
    first.stop()
    second = start_worker(two, 2)
    second.capture(B)
    second.stop()
    summary = merge(settings_for(out), [one, two])
    assert summary.ok and len(summary.merged) == 2
    assert (summary.moved, summary.copied, summary.links, summary.duplicates) == (2, 0, 3, 0)
    current = current_links(out / "manifests" / NAME)
    assert {url: line.status.value for url, line in current.items()} == {
        A: "archived",
        C: "failed",
        B: "archived",
    }
    assert _targets(out) == [A, B]
    assert len(read_warc_sums(out / "manifests" / NAME / WARCS)) == 2
    assert not list((one / "warcs" / NAME).iterdir()), "moved, not left behind"
    assert find_parts(one, NAME) == []
    assert first.part.path.with_name(first.part.name + MERGED_SUFFIX).is_dir()
    assert verify(settings_for(out)).ok


def test_a_link_delivered_twice_keeps_the_latest_capture_and_the_other_as_history(
    out: Path,
) -> None:
    early = datetime(2024, 5, 1, tzinfo=UTC)
    first = start_worker(out, 1)
    kept = first.capture(A, early + timedelta(minutes=5))  # fetched last: this one is current
    first.stop()
    second = start_worker(out, 2)
    older = second.capture(A, early)  # the other delivery, fetched first
    second.capture(B)
    second.stop()
    summary = merge(settings_for(out), [])
    assert (summary.links, summary.duplicates) == (2, 1)
    lines, problems = read_links(out / "manifests" / NAME / LINKS)
    assert not problems
    a_lines = [line for line in lines if line.url == A]
    assert [line.record_id for line in a_lines] == [older.record_id, kept.record_id], (
        "the duplicate is kept in history, the latest capture last (current)"
    )
    current = current_links(out / "manifests" / NAME)[A]
    assert current.fetched_at is not None and current.fetched_at.startswith("2024-05-01T00:05:00")
    assert _targets(out) == [A, A, B], "both captures' records stay in the WARC files"
    assert verify(settings_for(out)).ok


def test_a_captured_line_wins_over_a_failure_and_over_the_collection_line(out: Path) -> None:
    first = start_worker(out, 1)
    first.fail(A)
    first.stop()
    second = start_worker(out, 2)
    second.capture(A)
    second.stop()
    merge(settings_for(out), [])
    assert current_links(out / "manifests" / NAME)[A].status.value == "archived"


def test_a_dead_workers_torn_files_are_repaired_and_merged(out: Path) -> None:
    other = start_worker(out, 7)  # a live worker sharing the WARC folder
    other.capture(C)
    dead = start_worker(out, 1, dies=True)
    dead.capture(A)
    torn_at = dead.capture(B)
    dead.kill()
    (name,) = (out / "warcs" / NAME).glob("*-00001-*.open")
    data = name.read_bytes()
    name.write_bytes(data[: torn_at.offset + torn_at.length // 2])  # killed inside a record
    with (dead.part.path / LINKS).open("ab") as handle:
        handle.write(b'{"url": "http://a.test/half')  # killed inside a line
    summary = merge(settings_for(out), [])
    other_open = list((out / "warcs" / NAME).glob("*-00007-*.open"))
    assert len(other_open) == 1, "the live worker's .open file is not touched"
    assert summary.left == (str(other.part.path),)
    assert summary.merged == (str(dead.part.path),) and len(summary.repaired) == 1
    current = current_links(out / "manifests" / NAME)
    assert set(current) == {A}, "B's record was cut off: its line is skipped, A is kept"
    assert summary.skipped == 1
    assert _targets(out) == [A]
    other.stop()


def test_a_live_part_is_left_alone_with_a_warning(
    out: Path, caplog: pytest.LogCaptureFixture
) -> None:
    worker = start_worker(out, 1)
    worker.capture(A)
    worker.stop()
    holder = _hold_elsewhere(worker.part.path / ".lock")
    try:
        before = sorted(p.name for p in worker.part.path.iterdir())
        summary = merge(settings_for(out), [])
    finally:
        holder.kill()
        holder.communicate()
    assert summary.left == (str(worker.part.path),) and summary.merged == ()
    assert "still being written; merge again later" in caplog.text
    assert sorted(p.name for p in worker.part.path.iterdir()) == before
    assert A not in current_links(out / "manifests" / NAME)
    assert merge(settings_for(out), []).merged == (str(worker.part.path),)


def _hold_elsewhere(lock: Path) -> subprocess.Popen[str]:
    """Another process holding the flock on `lock`, as a live worker does."""
    code = (
        "import fcntl, sys, time\n"
        f"f = open({str(lock)!r}, 'a')\n"
        "fcntl.flock(f, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


@pytest.fixture
def elsewhere(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every source is on another filesystem: the copy path."""
    monkeypatch.setattr(merge_module, "same_filesystem", lambda source, folder: False)
    yield


@pytest.mark.usefixtures("elsewhere")
def test_across_filesystems_a_checked_copy_is_made_and_the_source_removed(
    out: Path, tmp_path: Path
) -> None:
    worker = start_worker(tmp_path / "w1", 1)
    worker.capture(A)
    worker.stop()
    summary = merge(settings_for(out), [tmp_path / "w1"])
    assert (summary.moved, summary.copied) == (0, 1)
    assert not list((tmp_path / "w1" / "warcs" / NAME).iterdir())
    assert not list((out / "warcs" / NAME).glob(".merging-*"))
    assert verify(settings_for(out)).ok and _targets(out) == [A]


@pytest.mark.usefixtures("elsewhere")
def test_a_copy_that_differs_from_the_listed_sum_is_refused_and_the_source_kept(
    out: Path, tmp_path: Path
) -> None:
    worker = start_worker(tmp_path / "w1", 1)
    worker.capture(A)
    worker.stop()
    (source,) = (tmp_path / "w1" / "warcs" / NAME).glob("*.warc.gz")
    damaged = bytearray(source.read_bytes())
    damaged[-5] ^= 0xFF  # a flipped bit on the way: the listed sum no longer matches
    source.write_bytes(bytes(damaged))
    summary = merge(settings_for(out), [tmp_path / "w1"])
    assert not summary.ok and "sha256" in summary.refused[0]
    assert source.read_bytes() == bytes(damaged), "the source is not removed"
    assert not list((out / "warcs" / NAME).iterdir()), "no copy, no temporary left"
    assert find_parts(tmp_path / "w1", NAME) == [worker.part], "the part is not marked merged"
    assert A not in current_links(out / "manifests" / NAME)


def test_a_name_clash_refuses_the_merge_and_overwrites_nothing(out: Path, tmp_path: Path) -> None:
    worker = start_worker(tmp_path / "w1", 1)
    worker.capture(A)
    worker.stop()
    (source,) = (tmp_path / "w1" / "warcs" / NAME).glob("*.warc.gz")
    clash = out / "warcs" / NAME / source.name
    clash.parent.mkdir(parents=True)
    clash.write_bytes(b"another file of the same name")
    with pytest.raises(InputError, match="nothing merged"):
        merge(settings_for(out), [tmp_path / "w1"])
    assert clash.read_bytes() == b"another file of the same name"
    assert source.is_file() and find_parts(tmp_path / "w1", NAME) == [worker.part]
    assert not (out / "manifests" / NAME / LINKS).exists()


def test_merging_again_adds_nothing(out: Path, tmp_path: Path) -> None:
    worker = start_worker(tmp_path / "w1", 1)
    worker.capture(A)
    worker.stop()
    merge(settings_for(out), [tmp_path / "w1"])
    links, sums = _links(out), _sums(out)
    again = merge(settings_for(out), [tmp_path / "w1"])
    assert again.merged == () and (_links(out), _sums(out)) == (links, sums)


def test_a_merge_killed_before_marking_the_part_merges_it_again_harmlessly(
    out: Path, tmp_path: Path
) -> None:
    worker = start_worker(tmp_path / "w1", 1)
    worker.capture(A)
    worker.capture(B)
    worker.stop()
    merge(settings_for(out), [tmp_path / "w1"])
    marked = worker.part.path.with_name(worker.part.name + MERGED_SUFFIX)
    marked.rename(worker.part.path)  # as if killed before the rename
    links, sums = _links(out), _sums(out)
    again = merge(settings_for(out), [tmp_path / "w1"])
    assert again.merged == (str(worker.part.path),) and again.present == 1
    assert (_links(out), _sums(out)) == (links, sums)
    assert verify(settings_for(out)).ok


def test_a_source_that_is_not_a_folder_is_refused(out: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    for source in (tmp_path / "file", tmp_path / "nowhere"):
        with pytest.raises(InputError, match="not a folder"):
            merge(settings_for(out), [source])
