"""verify against WARC files made to mislead it: whatever the layout or the damage, every record
is read and checked or the file is reported, nothing ends in a traceback, and no record of any
size costs more than a bounded amount of memory."""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import subprocess
import sys
import uuid
import zlib
from pathlib import Path

import pytest

from archiver.verify.fast import verify_files
from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

CRLF = b"\r\n"


def record(
    body: bytes,
    *,
    kind: str = "resource",
    content_type: str = "text/plain",
    block_digest: str | None = "auto",
    payload_digest: str | None = None,
    length: str | None = None,
    version: bytes = b"WARC/1.1",
    extra: bytes = b"",
) -> bytes:
    """One WARC record's bytes, with its digests computed unless told otherwise."""
    if block_digest == "auto":
        block_digest = "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode()
    fields = [
        version,
        b"WARC-Type: " + kind.encode(),
        b"WARC-Record-ID: <urn:uuid:" + str(uuid.uuid4()).encode() + b">",
        b"WARC-Date: 2026-11-22T00:00:00Z",
        b"WARC-Target-URI: http://example.test/" + kind.encode(),
        b"Content-Type: " + content_type.encode(),
        b"Content-Length: " + (str(len(body)) if length is None else length).encode(),
    ]
    if block_digest:
        fields.append(b"WARC-Block-Digest: " + block_digest.encode())
    if payload_digest:
        fields.append(b"WARC-Payload-Digest: " + payload_digest.encode())
    return CRLF.join(fields) + CRLF + extra + CRLF + body + CRLF + CRLF


def records(count: int = 4) -> list[bytes]:
    return [record(b"body %d " % n * (300 + n)) for n in range(count)]


def check(tmp_path: Path, data: bytes, name: str = "x.warc.gz") -> tuple[bool, int, list[str]]:
    path = tmp_path / name
    path.write_bytes(data)
    report = verify_files([str(path)])
    return report.ok, report.records, [p.message for p in report.problems]


def per_record_gzip(parts: list[bytes]) -> bytes:
    return b"".join(gzip.compress(part) for part in parts)


def flip_in_last(parts: list[bytes]) -> list[bytes]:
    last = bytearray(parts[-1])
    last[last.index(b"body ") + 1] ^= 0x01
    return [*parts[:-1], bytes(last)]


# Item 14: every record, whatever the layout


@pytest.mark.parametrize(
    "layout",
    [
        pytest.param(lambda p: gzip.compress(b"".join(p)), id="one-stream"),
        pytest.param(per_record_gzip, id="member-per-record"),
        pytest.param(lambda p: gzip.compress(b"".join(p[:2])) + per_record_gzip(p[2:]), id="mixed"),
        pytest.param(
            lambda p: gzip.compress(b"".join(p)[:700]) + gzip.compress(b"".join(p)[700:]),
            id="record-across-members",
        ),
    ],
)
def test_every_record_of_every_gzip_layout_is_checked(tmp_path: Path, layout: object) -> None:
    parts = records()
    assert check(tmp_path, layout(parts)) == (True, 4, [])  # type: ignore[operator]
    ok, _, problems = check(tmp_path, layout(flip_in_last(parts)))  # type: ignore[operator]
    assert not ok
    assert any("digest does not match" in p for p in problems), problems


def test_damage_far_into_a_single_gzip_stream_is_found_by_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "gzipped.warc.gz"
    path.write_bytes(gzip.compress(b"".join(flip_in_last(records(30)))))
    done = run_cli("verify", str(path))
    assert done.code == 1, done.out
    assert "30 records" in done.out and "block digest does not match" in done.out


def test_plain_warc_layouts_and_lengths(tmp_path: Path) -> None:
    parts = records()
    plain = b"".join(parts)
    assert check(tmp_path, plain, "p.warc") == (True, 4, [])
    ok, count, problems = check(tmp_path, plain[:-100], "p.warc")
    assert (ok, count) == (False, 3) and "cut short" in problems[0]
    short_block = record(b"x" * 50, length="60") + parts[1]
    ok, _, problems = check(tmp_path, short_block, "p.warc")
    assert not ok and any("not followed by CRLF CRLF" in p for p in problems), problems
    for length in ("-5", "abc", "", "1e3", "+12", " 12 12"):
        data = record(b"y" * 12, length=length) + parts[0]
        ok, count, problems = check(tmp_path, data, "p.warc")
        assert not ok and count == 1, (length, problems)
        assert "Content-Length" in problems[0]


def test_a_header_without_content_length_or_type_is_a_finding(tmp_path: Path) -> None:
    no_type = record(b"abc").replace(b"WARC-Type: resource\r\n", b"")
    ok, count, problems = check(tmp_path, no_type, "p.warc")
    assert (
        (ok, count) == (False, 1)
        and problems == [problems[0]]
        and "no WARC-Type field" in problems[0]
    )
    no_length = record(b"abc").replace(b"Content-Length: 3\r\n", b"")
    ok, count, problems = check(tmp_path, no_length + records(1)[0], "p.warc")
    assert (ok, count) == (False, 1) and "no Content-Length" in problems[0]


def test_what_lies_outside_records_is_a_finding(tmp_path: Path) -> None:
    parts = records(2)
    assert check(tmp_path, b"".join(parts) + b"junk", "p.warc")[0] is False
    assert check(tmp_path, b"".join(parts) + b"\r\n", "p.warc")[0] is False
    assert check(tmp_path, b"", "p.warc")[0] is False
    assert check(tmp_path, b"", "p.warc.gz")[0] is False
    assert check(tmp_path, per_record_gzip(parts) + b"\0" * 8)[0] is False
    ok, count, problems = check(tmp_path, b"PK\x03\x04 not gzip at all" * 5)
    assert (ok, count) == (False, 0) and "not a gzip member" in problems[0]
    ok, count, problems = check(tmp_path, b"".join(parts), "named.warc.gz")
    assert (ok, count) == (False, 2) and "not gzip-compressed" in problems[0]


def test_gzip_member_damage_costs_its_records_only(tmp_path: Path) -> None:
    parts = records(3)
    middle = bytearray(gzip.compress(parts[1]))
    middle[-8] ^= 0x01  # the CRC-32: the member still inflates
    data = gzip.compress(parts[0]) + bytes(middle) + gzip.compress(parts[2])
    ok, count, problems = check(tmp_path, data)
    assert (ok, count) == (False, 2)
    assert problems == ["gzip member does not inflate (its CRC-32 does not match its data)"]
    garbage = gzip.compress(parts[0]) + b"trailing" + gzip.compress(parts[1])
    ok, count, problems = check(tmp_path, garbage)
    assert (ok, count) == (False, 2) and "not a gzip member" in problems[0]


# Item 15: malformed fields are findings, never tracebacks


@pytest.mark.parametrize(
    ("digest", "says"),
    [
        ("shake_128:AAAA", "names no digest algorithm"),
        ("nosuch:AAAA", "names no digest algorithm"),
        ("no colon at all", "names no digest algorithm"),
        ("sha1:!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", "not a sha1 digest"),
        ("sha1:" + "g" * 40, "not a sha1 digest"),
        ("sha1:ABC", "not a sha1 digest"),
    ],
)
def test_unreadable_digest_fields_are_findings(tmp_path: Path, digest: str, says: str) -> None:
    ok, count, problems = check(tmp_path, record(b"abc", block_digest=digest), "p.warc")
    assert (ok, count) == (False, 1)
    assert says in problems[0]


def test_digest_spellings_that_are_valid_pass(tmp_path: Path) -> None:
    body = b"spelled out"
    spellings = [
        "sha1:" + hashlib.sha1(body).hexdigest(),
        "SHA-256:" + base64.b32encode(hashlib.sha256(body).digest()).decode().rstrip("="),
        "sha256:" + hashlib.sha256(body).hexdigest().upper(),
        "sha512:" + base64.b32encode(hashlib.sha512(body).digest()).decode().lower(),
    ]
    data = b"".join(record(body, block_digest=s) for s in spellings)
    assert check(tmp_path, data, "p.warc") == (True, 4, [])
    versions = record(body, version=b"WARC/1.0") + record(body, version=b"WARC/0.9")
    ok, count, problems = check(tmp_path, versions, "p.warc")
    assert (ok, count) == (False, 2) and problems == [problems[0]]
    assert "unknown WARC version" in problems[0]


# Item 17: chunked bodies, either payload-digest convention


HTTP_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
CHUNKED = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"


def sha1_digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def response(body: bytes, payload_over: bytes, head: bytes = HTTP_HEAD) -> bytes:
    return record(
        head + body,
        kind="response",
        content_type="application/http; msgtype=response",
        payload_digest=sha1_digest(payload_over),
    )


@pytest.mark.parametrize(
    ("payload_over", "matched"),
    [(b"hello world", "de-chunked entity"), (CHUNKED, "chunked body as stored")],
)
def test_chunked_payload_digest_either_convention(
    tmp_path: Path, payload_over: bytes, matched: str
) -> None:
    path = tmp_path / "chunked.warc"
    path.write_bytes(response(CHUNKED, payload_over))
    report = verify_files([str(path)])
    assert report.ok and report.records == 1, report.problems
    [note] = report.notes
    assert note.message.endswith(f"payload digest matches the {matched}")
    assert report.as_json()["notes"][0]["message"] == note.message
    done = run_cli("verify", "-v", str(path))
    assert done.code == 0 and matched in done.out + done.err


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nhello world\r\n0\r\n\r\n",  # not a hex size
        b"5\r\nhello world\r\n0\r\n\r\n",  # a chunk longer than its size
        b"5\r\nhello\r\n6\r\n world",  # ends inside the framing
        b"F" * 10_000 + b"\r\n",  # an endless size line
    ],
)
def test_a_malformed_chunked_body_is_a_finding(tmp_path: Path, body: bytes) -> None:
    ok, count, problems = check(tmp_path, response(body, b"hello world"), "p.warc")
    assert (ok, count) == (False, 1)
    assert "payload digest matches neither" in problems[0], problems


def test_a_wrong_payload_digest_is_found_and_content_coding_is_not_undone(
    tmp_path: Path,
) -> None:
    entity = gzip.compress(b"hello " * 100)
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(entity)
    assert check(tmp_path, response(entity, entity, head), "p.warc") == (True, 1, [])
    ok, _, problems = check(tmp_path, response(entity, b"hello " * 100, head), "p.warc")
    assert not ok and len(problems) == 1 and problems[0].endswith(": payload digest does not match")
    revisit = record(
        b"HTTP/1.1 200 OK\r\n\r\n",
        kind="revisit",
        content_type="application/http; msgtype=response",
        payload_digest=sha1_digest(b"the original's payload"),
    )
    assert check(tmp_path, revisit, "p.warc") == (True, 1, [])


def test_records_without_digests_are_read_and_said_unchecked(tmp_path: Path) -> None:
    path = tmp_path / "bare.warc"
    path.write_bytes(record(b"abc", block_digest=None) * 2)
    report = verify_files([str(path)])
    assert report.ok and report.records == 2
    assert [n.message for n in report.notes] == [
        "2 record(s) carry no digest: read whole, but their bytes unchecked"
    ]


# Item 16: no record costs memory in proportion to its size


def zeros_member(path: Path, size: int) -> None:
    """One gzip member holding a record of `size` zero bytes, written streaming."""
    head = (
        b"WARC/1.1\r\nWARC-Type: resource\r\nWARC-Record-ID: <urn:uuid:0>\r\n"
        b"WARC-Date: 2026-11-22T00:00:00Z\r\nContent-Length: %d\r\n\r\n" % size
    )
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    step = b"\0" * (16 * 1024 * 1024)
    with path.open("wb") as out:
        out.write(deflate.compress(head))
        for _ in range(size // len(step)):
            out.write(deflate.compress(step))
        out.write(deflate.compress(b"\r\n\r\n") + deflate.flush())


def test_a_member_of_gigabytes_of_zeros_is_verified_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "zeros.warc.gz"
    zeros_member(path, 2 * 1024**3)
    assert path.stat().st_size < 5 * 1024**2
    script = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run([sys.executable, '-m', 'archiver', 'verify', sys.argv[1]],"
        " capture_output=True, text=True, timeout=120)\n"
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print(done.stdout + done.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=150,
        check=True,
    )
    first, output = done.stdout.split("\n", 1)
    code, peak_kib = map(int, first.split())
    assert code == 0 and "1 records" in output and "OK" in output, output
    assert peak_kib < 200 * 1024, f"peak RSS {peak_kib} KiB"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["fifo", "folder", "device"])
def test_a_named_file_that_is_not_a_regular_file_is_refused_without_reading(
    tmp_path: Path, kind: str
) -> None:
    """`verify FILE` on a FIFO would wait for a writer for ever, on /dev/zero read for ever."""
    path = tmp_path / "x.warc.gz"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")
    ran = run_cli("verify", str(path))
    assert ran.code == 2
    assert ran.err.strip().endswith("not a regular file, not read")
    assert "Traceback" not in ran.err
