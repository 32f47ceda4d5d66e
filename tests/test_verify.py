"""verify finds every kind of damage, names where it is, and exits 1; a clean archive exits 0."""

from __future__ import annotations

import gzip
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.config import Settings
from archiver.run.archive import archive
from archiver.verify.fast import verify_fast, verify_files
from archiver.verify.fixity import verify
from tests.origin import body, random_bytes, running_origin

IMAGES = {f"/img/{n}.jpg": random_bytes(30_000 + n, n) for n in range(4)}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("pristine")
    with running_origin() as origin:
        for path, data in IMAGES.items():
            origin.routes[path] = body(data, "image/jpeg")
        doc = root / "doc.md"
        doc.write_text("".join(f"![x]({origin.url(p)})\n" for p in IMAGES), encoding="utf-8")
        settings = Settings(out=root, collection="v", allow_private=True, retries=0)
        summary = archive([str(doc)], settings)
    assert summary.counts == {"archived": 4}
    yield root


@pytest.fixture
def copy(pristine: Path, tmp_path: Path) -> Path:
    target = tmp_path / "c"
    shutil.copytree(pristine, target)
    return target


def run(root: Path) -> list[str]:
    report = verify(Settings(out=root, collection="v"))
    return [str(problem) for problem in report.problems]


def warc_of(root: Path) -> Path:
    [path] = list((root / "warcs/v").glob("*.warc.gz"))
    return path


def entries(root: Path) -> list[dict[str, object]]:
    text = (root / "manifests/v/links.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_clean_collection_passes(copy: Path) -> None:
    report = verify(Settings(out=copy, collection="v"))
    assert report.ok
    assert report.warc_files == 1
    assert report.records == 9  # warcinfo + 4 request/response pairs
    assert report.entries == 4


def test_one_flipped_byte_in_a_payload_is_found(copy: Path) -> None:
    path = warc_of(copy)
    entry = entries(copy)[1]
    data = bytearray(path.read_bytes())
    # flip a byte in the middle of the record's gzip member: the member no longer inflates
    # to what its digests say
    middle = int(entry["warc_offset"]) + int(entry["warc_length"]) // 2  # type: ignore[call-overload]
    data[middle] ^= 0x01
    path.write_bytes(bytes(data))
    problems = run(copy)
    name = path.relative_to(copy).as_posix()
    assert problems[0].startswith(f"{name}: sha256 is ")
    assert problems[1].startswith(f"{name} @{entry['warc_offset']}: gzip member does not inflate")
    assert problems[1].endswith(f"[{entry['url']}]")
    assert len(problems) == 2, "the damage costs one record; the others still check out"


def test_flipped_byte_in_an_uncompressed_warc_fails_the_digest(copy: Path) -> None:
    path = warc_of(copy)
    plain = path.with_suffix("")  # .warc
    with gzip.open(path) as source, plain.open("wb") as target:
        shutil.copyfileobj(source, target)
    path.unlink()
    data = bytearray(plain.read_bytes())
    where = data.rindex(b"\r\n\r\n", 0, len(data) - 10) - 2000
    data[where] ^= 0x20
    plain.write_bytes(bytes(data))
    report = verify(Settings(out=copy, collection="v"))
    digest = [p for p in report.problems if "digest" in p.message]
    assert digest, report.problems
    assert digest[0].file.endswith(".warc") and digest[0].url and digest[0].offset


def test_truncated_warc_is_found(copy: Path) -> None:
    path = warc_of(copy)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 500])
    problems = run(copy)
    assert any("sha256 is" in p for p in problems)
    last = max(entries(copy), key=lambda e: int(e["warc_offset"]))  # type: ignore[call-overload]
    assert any(
        str(last["url"]) in p and "cut short" in p and f"@{last['warc_offset']}" in p
        for p in problems
    ), problems


def test_missing_warc_is_found(copy: Path) -> None:
    path = warc_of(copy)
    path.unlink()
    problems = run(copy)
    assert problems == [
        f"{path.relative_to(copy).as_posix()}: missing: the manifest names this WARC file"
    ]


def test_wrong_offset_in_manifest_is_found(copy: Path) -> None:
    lines = (copy / "manifests/v/links.jsonl").read_text().splitlines()
    row = json.loads(lines[2])
    row["warc_offset"] += 7
    lines[2] = json.dumps(row)
    (copy / "manifests/v/links.jsonl").write_text("\n".join(lines) + "\n")
    problems = run(copy)
    assert len(problems) == 1
    assert row["url"] in problems[0] and str(row["warc_offset"]) in problems[0]


def test_wrong_length_and_digest_in_manifest_are_found(copy: Path) -> None:
    lines = (copy / "manifests/v/links.jsonl").read_text().splitlines()
    row = json.loads(lines[0])
    row["warc_length"] -= 1
    row["payload_digest"] = "sha256:" + "0" * 64
    lines[0] = json.dumps(row)
    (copy / "manifests/v/links.jsonl").write_text("\n".join(lines) + "\n")
    [problem] = run(copy)
    assert "length" in problem and "payload digest" in problem and row["url"] in problem


def test_stray_and_unfinished_files_are_reported(copy: Path) -> None:
    shutil.copy(warc_of(copy), copy / "warcs/v/stray.warc.gz")
    (copy / "warcs/v/other.warc.gz.open").write_bytes(b"")
    problems = run(copy)
    assert "warcs/v/stray.warc.gz: unknown WARC file: no manifest mentions it" in problems
    assert any("other.warc.gz.open" in p and "unfinished" in p for p in problems)


def test_fast_checks_sizes_and_counts_only(copy: Path) -> None:
    report = verify_fast(Settings(out=copy, collection="v"))
    assert report.ok and report.fast and report.entries == 4
    path = warc_of(copy)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    assert verify_fast(Settings(out=copy, collection="v")).ok, "a flipped byte keeps the size"
    assert not verify(Settings(out=copy, collection="v")).ok, "the full check finds it"
    path.write_bytes(bytes(data[:-10]))
    [problem, *_] = verify_fast(Settings(out=copy, collection="v")).problems
    assert problem.message == f"size is {len(data) - 10} bytes, warcs.jsonl says {len(data)}"


def test_two_urls_claiming_one_record_are_reported(copy: Path) -> None:
    lines = (copy / "manifests/v/links.jsonl").read_text().splitlines()
    first, second = json.loads(lines[0]), json.loads(lines[1])
    second |= {k: first[k] for k in ("warc_file", "warc_offset", "warc_length", "record_id")}
    (copy / "manifests/v/links.jsonl").write_text("\n".join([*lines, json.dumps(second)]) + "\n")
    problems = run(copy)
    assert any("claim the same record" in p and second["url"] in p for p in problems)


def test_flipped_byte_in_a_record_header_of_an_uncompressed_warc(copy: Path) -> None:
    path = warc_of(copy)
    plain = path.with_suffix("")
    with gzip.open(path) as source, plain.open("wb") as target:
        shutil.copyfileobj(source, target)
    data = bytearray(plain.read_bytes())
    where = data.index(b"Content-Type: image/jpeg") + len("Content-Type: ima")
    data[where] ^= 0x01  # inside the HTTP header: the block digest covers it
    plain.write_bytes(bytes(data))
    report = verify_files([str(plain)])
    [problem] = report.problems
    assert "block digest" in problem.message, "only the block digest: the payload is intact"
    assert problem.url and problem.url.endswith(".jpg") and problem.offset


# warcio's writer spools each payload to compute its digests and leaves the spool for the
# garbage collector (a ResourceWarning this suite would otherwise turn into an error).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_warcs_written_by_other_tools_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "other.warc.gz"
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)  # sha1 base32 digests, as wget writes them
        for n in range(3):
            http = StatusAndHeaders("200 OK", [("Content-Type", "image/jpeg")], protocol="HTTP/1.1")
            record = writer.create_warc_record(
                f"http://example.test/{n}.jpg",
                "response",
                payload=io.BytesIO(random_bytes(5000, n)),
                http_headers=http,
            )
            writer.write_record(record)
    report = verify_files([str(path)])
    assert report.ok and report.records == 3
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    [problem] = verify_files([str(path)]).problems
    assert problem.offset is not None and "does not inflate" in problem.message


def test_edited_sha256_in_manifest_is_found(copy: Path) -> None:
    lines = (copy / "manifests/v/links.jsonl").read_text().splitlines()
    row = json.loads(lines[3])
    row["sha256"] = "f" * 64
    lines[3] = json.dumps(row)
    (copy / "manifests/v/links.jsonl").write_text("\n".join(lines) + "\n")
    [problem] = run(copy)
    assert f"sha256 {'f' * 64} in manifest" in problem and row["url"] in problem
