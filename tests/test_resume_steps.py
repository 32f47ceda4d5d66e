"""The steps that resume a killed run (archiver.run.resume), one at a time, on a collection a
"killed" run left behind: an `.open` WARC cut in the middle of a record, a closed WARC it never
listed, `.inflight` naming both, and no manifest line for what it wrote."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archiver.config import Settings
from archiver.exchange import BodySpool, Exchange
from archiver.models import ManifestEntry, Role, Status, WarcRecordRef
from archiver.run.plan import Plan, plan_documents
from archiver.run.resume import (
    adopt_unlisted,
    close_open_warcs,
    forget_cut_captures,
    list_late_warcs,
    resume,
)
from archiver.store.collection import Collection
from archiver.store.entries import with_time
from archiver.store.lines import LINKS, WARCS
from archiver.store.manifest import Manifest
from archiver.store.readlines import read_jsonl, read_warc_sums
from archiver.store.state import CollectionState
from archiver.store.writer import ClosedWarc, WarcWriter
from archiver.verify.fixity import verify

URLS = [f"http://a.test/{n}.jpg" for n in range(3)]


@dataclass
class Killed:
    """What the killed run left: the collection, its plan, where each capture went."""

    settings: Settings
    plan: Plan
    manifest: Manifest
    state: CollectionState
    refs: dict[str, WarcRecordRef]
    cut_at: int  # bytes the `.open` file keeps: the end of the last whole record
    open_file: str  # the `.open` file's closed name, relative to the output folder
    unlisted: str  # the closed file the run never listed


def _exchange(url: str) -> Exchange:
    spool = BodySpool()
    spool.write(hashlib.sha256(url.encode()).digest() * 100)
    request = b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"
    headers = [(b"Content-Type", b"image/jpeg")]
    return Exchange(url, datetime.now(UTC), request, "HTTP/1.1", 200, "OK", headers, spool)


def _write(
    settings: Settings, manifest: Manifest, serial: int, urls: list[str]
) -> dict[str, WarcRecordRef]:
    """Write `urls` with a writer whose listing of closed files never happens (killed)."""
    dropped: list[ClosedWarc] = []
    writer = WarcWriter(
        Collection.named(settings).warc_dir,
        settings.out,
        settings.collection,
        max_size=1 << 30,
        level=6,
        info={},
        on_close=dropped.append,
        serials=(serial, 1),
        on_open=manifest.note_inflight,
    )
    refs = {}
    for url in urls:
        exchange = _exchange(url)
        refs[url] = writer.write_exchange(exchange)
        exchange.close()
    writer.close()
    return refs


@pytest.fixture
def killed(tmp_path: Path) -> Iterator[Killed]:
    doc = tmp_path / "d.md"
    doc.write_text("".join(f"![x]({url})\n" for url in URLS), encoding="utf-8")
    settings = Settings(out=tmp_path / "out", collection="c")
    plan = plan_documents([str(doc)])
    manifest = Manifest(Collection.named(settings).manifest_dir)
    state = CollectionState(Collection.named(settings).manifest_dir)
    refs = _write(settings, manifest, 0, URLS[:2])
    refs |= _write(settings, manifest, 1, URLS[2:])
    first, second = refs[URLS[0]], refs[URLS[1]]
    assert first.warc_file == second.warc_file != refs[URLS[2]].warc_file
    closed = settings.out / first.warc_file
    data = closed.read_bytes()
    torn = closed.with_name(closed.name + ".open")
    torn.write_bytes(data[: second.offset + second.length // 2])  # killed inside a record
    closed.unlink()
    cut_at = second.offset  # the request record before it is whole
    try:
        yield Killed(
            settings, plan, manifest, state, refs, cut_at, first.warc_file, refs[URLS[2]].warc_file
        )
    finally:
        manifest.close()
        state.close()


def _sums(settings: Settings) -> dict[str, str]:
    return read_warc_sums(Collection.named(settings).manifest_dir / WARCS)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_inflight_names_every_file_the_killed_run_wrote(killed: Killed) -> None:
    assert killed.manifest.inflight() == [killed.open_file, killed.unlisted]


def test_an_open_file_is_cut_after_its_last_whole_record_closed_and_listed(
    killed: Killed,
) -> None:
    settings = killed.settings
    size = (settings.out / (killed.open_file + ".open")).stat().st_size
    [repaired] = close_open_warcs(settings, killed.manifest)
    closed = settings.out / killed.open_file
    assert (repaired.path, repaired.kept, repaired.cut) == (
        killed.open_file,
        killed.cut_at,
        size - killed.cut_at,
    )
    assert closed.stat().st_size == killed.cut_at
    assert not closed.with_name(closed.name + ".open").exists()
    assert _sums(settings) == {killed.open_file: _sha256(closed)}


def test_a_closed_file_never_listed_is_listed_once(killed: Killed) -> None:
    settings, manifest = killed.settings, killed.manifest
    close_open_warcs(settings, manifest)
    unfinished = manifest.inflight()
    assert list_late_warcs(settings, manifest, unfinished) == [killed.unlisted]
    assert _sums(settings)[killed.unlisted] == _sha256(settings.out / killed.unlisted)
    assert list_late_warcs(settings, manifest, unfinished) == [], "listed twice"


def test_a_capture_the_cut_took_away_is_forgotten(killed: Killed) -> None:
    """A line for the capture in the torn record: its URL is fetched again."""
    ref = killed.refs[URLS[1]]
    entry = ManifestEntry(
        url=URLS[1],
        role=Role.IMAGE,
        documents=(),
        status=Status.ARCHIVED,
        http_status=200,
        final_url=URLS[1],
        warc_file=ref.warc_file,
        warc_offset=ref.offset,
        warc_length=ref.length,
        record_id=ref.record_id,
        attempts=1,
        fetched_at=ref.date,
    )
    killed.manifest.append_link(with_time(entry))
    repaired = close_open_warcs(killed.settings, killed.manifest)
    killed.state.sync()
    assert killed.state.get(URLS[1]) is not None, killed.state.problems
    forget_cut_captures(killed.state, repaired)
    assert killed.state.get(URLS[1]) is None


def test_whole_captures_without_a_line_are_adopted_and_the_torn_one_is_not(
    killed: Killed,
) -> None:
    settings, manifest = killed.settings, killed.manifest
    close_open_warcs(settings, manifest)
    unfinished = manifest.inflight()
    adopted = adopt_unlisted(killed.plan, killed.state, settings, manifest, unfinished)
    assert sorted(adopted) == [URLS[0], URLS[2]]
    lines = {
        row["url"]: row for row in read_jsonl(Collection.named(settings).manifest_dir / LINKS)[0]
    }
    for url in (URLS[0], URLS[2]):
        ref = killed.refs[url]
        row = lines[url]
        assert (row["warc_file"], row["warc_offset"], row["warc_length"]) == (
            ref.warc_file,
            ref.offset,
            ref.length,
        )
        assert (row["record_id"], row["status"], row["http_status"]) == (
            ref.record_id,
            "archived",
            200,
        )
    assert killed.state.get(URLS[0]) is not None


def test_resume_runs_every_step_and_leaves_a_collection_verify_accepts(
    killed: Killed,
) -> None:
    settings = killed.settings
    resumed = resume(killed.plan, killed.state, settings, killed.manifest)
    assert resumed.lines() == (
        f"{killed.open_file} (kept {killed.cut_at} bytes, cut {resumed.repaired[0].cut})",
        f"{killed.unlisted} (closed but never listed; listed now)",
    )
    assert sorted(resumed.adopted) == [URLS[0], URLS[2]]
    assert killed.manifest.inflight() == [killed.open_file, killed.unlisted], (
        "`.inflight` is cleared by the run that finishes, not by resuming"
    )
    killed.manifest.close()
    report = verify(settings)
    assert report.ok, report.problems
    assert report.entries == 2
