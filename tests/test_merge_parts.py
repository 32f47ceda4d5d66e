"""A worker's part folder (archiver.distributed.parts): made locked, found until merged, and
closed after its worker died without touching what other workers share."""

from __future__ import annotations

import json
from pathlib import Path

from archiver import __version__
from archiver.distributed.parts import (
    MERGED_SUFFIX,
    close_dead_part,
    create_part,
    find_parts,
    live,
    new_worker_id,
)
from archiver.store.lines import WARCS
from archiver.store.readlines import read_warc_sums
from tests.merge_parts import NAME, start_worker


def test_a_new_part_is_locked_described_and_found(tmp_path: Path) -> None:
    worker = new_worker_id()
    part, lock = create_part(tmp_path, NAME, "run1", worker)
    assert part.path.parent == tmp_path / "parts" / NAME and part.name.endswith("-" + worker)
    info = json.loads((part.path / "part.json").read_text(encoding="utf-8"))
    assert info["run"] == "run1" and info["worker"] == worker and info["version"] == __version__
    assert live(part) and find_parts(tmp_path, NAME) == [part]
    assert close_dead_part(part) == [], "a live part is left as it is"
    lock.release()
    assert not live(part)
    part.path.rename(part.path.with_name(part.name + MERGED_SUFFIX))
    assert find_parts(tmp_path, NAME) == []


def test_two_sessions_never_share_a_part(tmp_path: Path) -> None:
    first, one = create_part(tmp_path, NAME, "r", new_worker_id())
    second, two = create_part(tmp_path, NAME, "r", new_worker_id())
    assert first.path != second.path and live(first) and live(second)
    one.release()
    two.release()


def test_closing_a_dead_part_repairs_only_its_own_open_files(tmp_path: Path) -> None:
    other = start_worker(tmp_path, 2)
    other.capture("http://b.test/x")
    dead = start_worker(tmp_path, 1, dies=True)
    ref = dead.capture("http://a.test/x")
    dead.kill()
    repaired = close_dead_part(dead.part)
    assert [(fixed.path, fixed.cut) for fixed in repaired] == [(ref.warc_file, 0)]
    sums = read_warc_sums(dead.part.path / WARCS, collection=NAME)
    assert list(sums) == [ref.warc_file] and (tmp_path / ref.warc_file).is_file()
    assert len(list((tmp_path / "warcs" / NAME).glob("*.open"))) == 1, "the other's stays open"
    assert close_dead_part(dead.part) == [], "closing again finds nothing to do"
    other.stop()
