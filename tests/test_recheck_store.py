"""What `recheck --capture-changes` stores goes through the same store as `archive`: a payload
the collection already holds becomes a revisit record, a check that only hashes stores
nothing, and a capture that cannot be written stops the recheck with the storage error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.config import Settings
from archiver.errors import StorageError
from archiver.exchange import Exchange
from archiver.recheck.check import recheck
from archiver.store.writer import WarcWriter
from tests.conftest import run_cli
from tests.origin import Origin, body, random_bytes

FIRST = random_bytes(9_000, 71)
SECOND = random_bytes(9_000, 72)
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"


def archived(root: Path, origin: Origin) -> dict[str, dict[str, Any]]:
    """A collection `c` holding /a.jpg (FIRST) and /b.jpg (SECOND): its current lines."""
    origin.routes["/a.jpg"] = body(FIRST, "image/jpeg")
    origin.routes["/b.jpg"] = body(SECOND, "image/jpeg")
    text = f"![a]({origin.url('/a.jpg')})\n![b]({origin.url('/b.jpg')})\n"
    (root / "d.md").write_text(text, encoding="utf-8")
    assert run_cli("archive", "d.md", "-c", "c", "--allow-private", cwd=root).code == 0
    lines = (root / "manifests/c/links.jsonl").read_text().splitlines()
    return {row["url"]: row for row in map(json.loads, lines)}


def records(path: Path) -> list[tuple[str, dict[str, str], bytes]]:
    """(WARC-Type, headers, content) of every record in one WARC file."""
    found = []
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            headers = dict(record.rec_headers.headers)
            found.append((record.rec_type, headers, record.content_stream().read()))
    return found


def test_a_recheck_capture_of_a_payload_already_held_is_a_revisit(
    tmp_path: Path, origin: Origin
) -> None:
    before = archived(tmp_path, origin)
    first = before[origin.url("/a.jpg")]
    warcs_before = set((tmp_path / "warcs/c").iterdir())
    origin.routes["/b.jpg"] = body(FIRST, "image/jpeg")  # b now serves a's picture

    ran = run_cli("recheck", "-c", "c", "--allow-private", "--capture-changes", cwd=tmp_path)
    assert ran.code == 0, ran.err
    lines = (tmp_path / "manifests/c/checks.jsonl").read_text().splitlines()
    capture = next(
        line["capture"] for line in map(json.loads, lines) if line["url"] == origin.url("/b.jpg")
    )
    assert capture["revisit_of"] == first["record_id"]
    assert capture["sha256"] == first["sha256"]

    [new_warc] = set((tmp_path / "warcs/c").iterdir()) - warcs_before
    written = records(new_warc)
    assert [kind for kind, _, _ in written] == ["warcinfo", "request", "revisit"]
    _, revisit, _ = written[2]
    assert revisit["WARC-Refers-To"] == first["record_id"]
    assert revisit["WARC-Profile"] == REVISIT_PROFILE
    assert revisit["WARC-Record-ID"] == capture["record_id"]
    assert not any(FIRST in content for _, _, content in written), "not stored a second time"
    assert not (tmp_path / "manifests/c/.inflight").exists()
    assert run_cli("verify", "-c", "c", cwd=tmp_path).code == 0


def test_a_recheck_that_captures_nothing_writes_no_warc(tmp_path: Path, origin: Origin) -> None:
    archived(tmp_path, origin)
    warcs_before = set((tmp_path / "warcs/c").iterdir())
    ran = run_cli("recheck", "-c", "c", "--allow-private", "--capture-changes", cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert "2 live" in ran.out and "captured 0" in ran.out
    assert set((tmp_path / "warcs/c").iterdir()) == warcs_before
    assert not (tmp_path / "manifests/c/.inflight").exists()


def test_a_capture_that_cannot_be_written_raises_the_storage_error(
    tmp_path: Path, origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error used to leave recheck inside an ExceptionGroup (a traceback at the CLI)."""
    archived(tmp_path, origin)
    origin.routes["/b.jpg"] = body(FIRST[:100], "image/jpeg")

    def full(self: WarcWriter, exchange: Exchange, *args: object) -> None:
        raise StorageError("cannot write: No space left on device", "warcs/c/x.warc.gz.open")

    monkeypatch.setattr(WarcWriter, "write_exchange", full)
    settings = Settings(out=tmp_path, collection="c", allow_private=True)
    with pytest.raises(StorageError, match="No space left"):
        recheck(settings, capture_changes=True)
