"""`archive --recover` and `recover` asking real (stand-in) web archives end to end: the
--archives list, the CDX and TimeMap look-ups, the capture chosen for the citing document's
date, and its original bytes stored as a recovered capture that verify accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.models import Status
from tests.archive_standin import Capture, running_standin
from tests.conftest import run_cli
from tests.origin import Origin

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

OLD = b"\x89PNG\r\n\x1a\n the photo as it was in 2019"
NEW = b"\x89PNG\r\n\x1a\n the photo as it was in 2021"
PNG = "image/png"


def _document(tmp_path: Path, url: str, date: str) -> None:
    (tmp_path / "doc.md").write_text(
        f"---\ntitle: t\ndate: {date}\n---\n![photo]({url})\n", encoding="utf-8"
    )


def _current(tmp_path: Path, url: str) -> dict[str, object]:
    lines = (tmp_path / "manifests/c/links.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    found: dict[str, object] = [row for row in rows if row["url"] == url][-1]
    return found


@pytest.mark.parametrize("kind", ["wayback", "memento"])
def test_archive_recover_stores_the_capture_closest_before_the_document(
    tmp_path: Path, origin: Origin, kind: str
) -> None:
    lost = origin.url("/img/photo.png")  # the origin answers 404: the photo is gone
    captures = {
        lost: [
            Capture("20190301000000", 200, PNG, OLD, {"Server": "nginx"}),
            Capture("20210301000000", 200, PNG, NEW, {"Server": "nginx"}),
        ]
    }
    _document(tmp_path, lost, "2020-06-01")
    with running_standin(captures) as standin:
        ran = run_cli(
            "archive", "doc.md", "-c", "c", "--allow-private", "--recover", "--json",
            "--archives", f"{kind}={standin.base}", cwd=tmp_path,
        )  # fmt: skip
    assert ran.code == 0, ran.err
    row = _current(tmp_path, lost)
    assert row["status"] == Status.DEAD.value, "the line still says what the origin said"
    recovered = row["recovered"]
    assert isinstance(recovered, dict)
    assert recovered["archive"] == f"{kind}={standin.base}"
    assert str(recovered["memento_datetime"]).startswith("2019-03-01T00:00:00")
    assert json.loads(ran.out)["recover"]["recovered"] == 1

    warc = tmp_path / str(recovered["warc_file"])
    with warc.open("rb") as handle:
        handle.seek(int(str(recovered["warc_offset"])))
        record = next(iter(ArchiveIterator(handle)))
        assert record.rec_headers.get_header("WARC-Target-URI") == lost
        assert "20190301000000id_" in record.rec_headers.get_header("WARC-Source-URI")
        assert record.content_stream().read() == OLD, "the original bytes, not a rewrite"
    assert run_cli("verify", "-c", "c", cwd=tmp_path).code == 0


def test_recover_passes_over_an_archive_that_fails_and_asks_the_next(
    tmp_path: Path, origin: Origin
) -> None:
    lost = origin.url("/img/photo.png")
    _document(tmp_path, lost, "2020-06-01")
    assert run_cli("archive", "doc.md", "-c", "c", "--allow-private", cwd=tmp_path).code == 0
    captures = {lost: [Capture("20190301000000", 200, PNG, OLD, {})]}
    with running_standin(captures) as standin, running_standin({}) as empty:
        empty.broken[lost] = (503, b"busy", "text/plain")  # its CDX API fails for this URL
        ran = run_cli(
            "recover", "-c", "c", "--allow-private", "--json", "--retries", "0",
            "--archives", f"wayback={empty.base},memento={standin.base}", cwd=tmp_path,
        )  # fmt: skip
    assert ran.code == 0, ran.err
    recovered = _current(tmp_path, lost)["recovered"]
    assert isinstance(recovered, dict) and recovered["archive"] == f"memento={standin.base}"
    assert empty.hits("/cdx/search/cdx"), "the failing archive was asked first"


def test_a_link_no_archive_holds_is_asked_again_only_after_older_than(
    tmp_path: Path, origin: Origin
) -> None:
    lost = origin.url("/img/photo.png")
    _document(tmp_path, lost, "2020-06-01")
    assert run_cli("archive", "doc.md", "-c", "c", "--allow-private", cwd=tmp_path).code == 0
    with running_standin({}) as standin:
        args = ("recover", "-c", "c", "--allow-private", "--json")
        first = run_cli(*args, "--archives", f"wayback={standin.base}", cwd=tmp_path)
        again = run_cli(*args, "--archives", f"wayback={standin.base}", cwd=tmp_path)
        asked = len(standin.hits("/cdx/search/cdx"))
    assert first.code == 0 and again.code == 0, first.err + again.err
    assert json.loads(first.out)["not_found"] == 1
    assert json.loads(again.out)["asked"] == 0
    assert asked == 1
    assert _current(tmp_path, lost).get("recovered") is None


def test_a_bad_archives_list_is_refused_before_the_run(tmp_path: Path, origin: Origin) -> None:
    _document(tmp_path, origin.url("/img/photo.png"), "2020-06-01")
    ran = run_cli(
        "archive", "doc.md", "-c", "c", "--allow-private", "--recover",
        "--archives", "cdx=http://127.0.0.1:9", cwd=tmp_path,
    )  # fmt: skip
    assert ran.code == 2
    assert len(ran.err.strip().splitlines()) == 1 and "archives" in ran.err
    assert not (tmp_path / "manifests").exists()
