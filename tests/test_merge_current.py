"""Which line `archiver merge` makes current when a link has more than one: a merge killed
half-way and run again, a batch retried into the same worker session, and a refresh merged
into a collection that already holds a capture of the link."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver.distributed import merge as merge_module
from archiver.distributed.merge import merge
from archiver.distributed.parts import MERGED_SUFFIX
from archiver.models import Status
from archiver.store.lines import LINKS
from archiver.store.readlines import current_links, read_links
from archiver.verify.fixity import verify
from tests.merge_parts import NAME, make_collection, settings_for, start_worker

URL = "http://h.test/pic.jpg"
ROOT = Path(__file__).resolve().parents[1]

# A merge that dies (as SIGKILL would: no clean-up) right after writing its first link line.
KILLED_MERGE = """
import os, sys
from pathlib import Path
from archiver.store import manifest
write = manifest.Manifest.append_link
def dying(self, line):
    write(self, line)
    os._exit(9)
manifest.Manifest.append_link = dying
from archiver.distributed.merge import merge
from tests.merge_parts import settings_for
merge(settings_for(Path(sys.argv[1])), [])
"""


@pytest.fixture
def out(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    make_collection(root)
    return root


@pytest.fixture(autouse=True)
def _short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(merge_module, "LIVE_WAIT_SECONDS", 0.3)


def _url_lines(out: Path) -> list[tuple[str, str | None]]:
    lines, problems = read_links(out / "manifests" / NAME / LINKS)
    assert not problems
    return [(line.status.value, line.record_id) for line in lines if line.url == URL]


def test_a_merge_killed_between_history_and_current_line_is_finished_by_the_next(
    out: Path,
) -> None:
    first = start_worker(out, 1)
    captured = first.capture(URL)
    first.stop()
    second = start_worker(out, 2)
    second.fail(URL)  # the other delivery failed: history, the capture is current
    second.stop()
    killed = subprocess.run([sys.executable, "-c", KILLED_MERGE, str(out)], cwd=ROOT, check=False)
    assert killed.returncode == 9
    assert _url_lines(out) == [("failed", None)], "killed after the history line"
    summary = merge(settings_for(out), [])
    assert summary.ok and len(summary.merged) == 2
    current = current_links(out / "manifests" / NAME)[URL]
    assert current.status is Status.ARCHIVED and current.record_id == captured.record_id
    assert current.warc_offset == captured.offset
    assert _url_lines(out)[-1] == ("archived", captured.record_id)
    assert verify(settings_for(out)).ok


def test_a_batch_retried_in_one_session_keeps_its_capture_current(out: Path) -> None:
    worker = start_worker(out, 1)
    captured = worker.capture(URL)
    worker.fail(URL)  # the batch redelivered to the same session: this time it failed
    worker.stop()
    summary = merge(settings_for(out), [])
    assert (summary.links, summary.duplicates) == (1, 1)
    assert _url_lines(out) == [("failed", None), ("archived", captured.record_id)]
    assert current_links(out / "manifests" / NAME)[URL].record_id == captured.record_id


def test_a_refresh_merged_later_replaces_the_older_capture_and_a_failure_does_not(
    out: Path, tmp_path: Path
) -> None:
    day = datetime(2024, 5, 1, tzinfo=UTC)
    first = start_worker(tmp_path / "w1", 1)
    old = first.capture(URL, day)
    first.stop()
    merge(settings_for(out), [tmp_path / "w1"])
    refresh = start_worker(tmp_path / "w2", 2)  # `archive --refresh --broker` a day later
    new = refresh.capture(URL, day + timedelta(days=1))
    refresh.stop()
    merge(settings_for(out), [tmp_path / "w2"])
    current = current_links(out / "manifests" / NAME)[URL]
    assert current.record_id == new.record_id, "the newer capture is current"
    assert current.fetched_at is not None and current.fetched_at.startswith("2024-05-02")
    failing = start_worker(tmp_path / "w3", 3)  # a later refresh that failed
    failing.fail(URL)
    failing.stop()
    merge(settings_for(out), [tmp_path / "w3"])
    assert current_links(out / "manifests" / NAME)[URL].record_id == new.record_id
    assert _url_lines(out) == [
        ("archived", old.record_id),
        ("archived", new.record_id),
        ("failed", None),
        ("archived", new.record_id),
    ], "every line kept as history, the capture written again as the current line"
    assert verify(settings_for(out)).ok


def test_merging_a_part_again_after_a_kill_before_marking_it_writes_nothing(
    out: Path,
) -> None:
    worker = start_worker(out, 1)
    worker.capture(URL)
    worker.fail(URL)
    worker.stop()
    merge(settings_for(out), [])
    links = (out / "manifests" / NAME / LINKS).read_bytes()
    worker.part.path.with_name(worker.part.name + MERGED_SUFFIX).rename(worker.part.path)
    again = merge(settings_for(out), [])
    assert again.merged == (str(worker.part.path),) and again.links == 0
    assert (out / "manifests" / NAME / LINKS).read_bytes() == links
