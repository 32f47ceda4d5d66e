"""The one WARC reader (archiver.store.reader) on damaged files made by hand: what it reads as
whole records, where it reports damage and why, and that repair (which cuts an `.open` file
after its last whole record) and verify (which checks every record) agree on the same file."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import pytest

from archiver.store.reader import Damage, Record, read_warc, read_warc_file
from archiver.store.repair import DAMAGED_SUFFIX, repair_open_warcs, whole_records_end


def record(n: int, block: bytes = b"hello", length: str | None = None) -> bytes:
    """A resource record whose Content-Length is `length` (the block's true size if None)."""
    size = str(len(block)) if length is None else length
    head = (
        f"WARC/1.1\r\nWARC-Type: resource\r\nWARC-Record-ID: <urn:uuid:{n}>\r\n"
        f"WARC-Date: 2024-01-01T00:00:00Z\r\nWARC-Target-URI: http://a.test/{n}\r\n"
        f"Content-Length: {size}\r\n\r\n"
    )
    return head.encode() + block + b"\r\n\r\n"


def gz(data: bytes) -> bytes:
    """`data` as one gzip member (RFC 1952)."""
    deflate = zlib.compressobj(6, zlib.DEFLATED, 31)
    return deflate.compress(data) + deflate.flush()


def read(
    data: bytes, named_gz: bool = True
) -> tuple[list[tuple[int, int, int, str]], list[Damage]]:
    """(offset, length, inner, record id) of each record read, and the damage, in file order."""
    found = list(read_warc(data, named_gz))
    records = [
        (r.offset, r.length, r.inner, r.record_id or "") for r in found if isinstance(r, Record)
    ]
    return records, [d for d in found if isinstance(d, Damage)]


M1, M2, M3 = gz(record(1)), gz(record(2)), gz(record(3))


def test_whole_members_read_whole() -> None:
    records, damage = read(M1 + M2 + M3)
    assert records == [
        (0, len(M1), 0, "<urn:uuid:1>"),
        (len(M1), len(M2), 0, "<urn:uuid:2>"),
        (len(M1) + len(M2), len(M3), 0, "<urn:uuid:3>"),
    ]
    assert damage == []


def test_a_member_cut_short_is_damage_at_its_start() -> None:
    records, damage = read(M1 + M2[:-10])
    assert records == [(0, len(M1), 0, "<urn:uuid:1>")]
    assert damage == [
        Damage(len(M1), "cut short: the file ends inside this gzip member", (len(M1),))
    ]


def test_garbage_between_members_costs_no_record() -> None:
    records, damage = read(M1 + b"garbage" + M2)
    assert [r[0] for r in records] == [0, len(M1) + 7]
    [bad] = damage
    assert bad.offset == len(M1) and bad.message.startswith("not a gzip member")
    assert bad.lost == (), "no record started in the garbage"


@pytest.mark.parametrize(
    ("byte", "value", "says"),
    [(3, 0xE0, "gzip member does not inflate"), (2, 0x07, "not a gzip member")],
    ids=["reserved-flags", "not-deflate"],
)
def test_a_bad_gzip_header_costs_its_member_only(byte: int, value: int, says: str) -> None:
    bad = bytearray(M2)
    bad[byte] = value
    records, damage = read(M1 + bytes(bad) + M3)
    assert [r[3] for r in records] == ["<urn:uuid:1>", "<urn:uuid:3>"]
    assert records[1][0] == len(M1) + len(M2)
    [found] = damage
    assert found.offset == len(M1) and found.message.startswith(says)


def test_a_member_holding_two_records() -> None:
    both = gz(record(1) + record(2))
    records, damage = read(both + M3)
    assert records == [
        (0, len(both), 0, "<urn:uuid:1>"),
        (0, len(both), len(record(1)), "<urn:uuid:2>"),  # bytes into the member's data
        (len(both), len(M3), 0, "<urn:uuid:3>"),
    ]
    assert damage == []


def test_a_one_stream_gzip_warc_is_read_whole() -> None:
    stream = gz(b"".join(record(n, bytes([n]) * 5000) for n in range(1, 4)))
    records, damage = read(stream)
    assert [(r[0], r[3]) for r in records] == [(0, f"<urn:uuid:{n}>") for n in range(1, 4)]
    assert damage == []
    records, damage = read(stream[:-8])  # its trailer lost: no record can be trusted
    assert records == []
    assert [d.lost for d in damage] == [(0, 0, 0)]


def test_a_plain_warc_cut_short_is_reported() -> None:
    first = record(1)
    records, damage = read(first + record(2, b"x" * 1000)[:-20], named_gz=False)
    assert records == [(0, len(first), 0, "<urn:uuid:1>")]
    assert damage == [
        Damage(
            len(first),
            "cut short: the file ends 16 bytes before the record's block does",
            (len(first),),
        )
    ]
    records, damage = read(first + record(2)[:20], named_gz=False)
    assert damage[0].message.startswith("the file ends inside a WARC header")


@pytest.mark.parametrize("named_gz", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize("length", ["-5", "abc", ""])
def test_a_content_length_that_is_no_number_costs_that_record(named_gz: bool, length: str) -> None:
    parts = [record(1), record(2, length=length), record(3)]
    data = b"".join(gz(p) if named_gz else p for p in parts)
    records, damage = read(data, named_gz)
    assert [r[3] for r in records] == ["<urn:uuid:1>", "<urn:uuid:3>"]
    [bad] = damage
    start = len(gz(parts[0]) if named_gz else parts[0])
    assert bad.offset == start and bad.lost == (start,)
    assert f"Content-Length {length!r}: the record's end cannot be found" in bad.message


@pytest.mark.parametrize("named_gz", [True, False], ids=["gzip", "plain"])
def test_a_content_length_shorter_than_the_block_is_a_problem_of_that_record(
    named_gz: bool,
) -> None:
    parts = [record(1), record(2, length="2"), record(3)]
    found = list(read_warc(b"".join(gz(p) if named_gz else p for p in parts), named_gz))
    assert not [d for d in found if isinstance(d, Damage)]
    second, third = found[1:]
    assert isinstance(second, Record) and isinstance(third, Record)
    assert second.problems == ("the block is not followed by CRLF CRLF (is Content-Length right?)",)
    assert third.record_id == "<urn:uuid:3>" and third.problems == ()


@pytest.mark.parametrize("named_gz", [True, False], ids=["gzip", "plain"])
def test_a_content_length_longer_than_the_block_is_a_problem_of_that_record(
    named_gz: bool,
) -> None:
    """The block runs into the next record, which cannot be found then; the lie is named."""
    parts = [record(1), record(2, length="15"), record(3)]
    found = list(read_warc(b"".join(gz(p) if named_gz else p for p in parts), named_gz))
    records = [item for item in found if isinstance(item, Record)]
    assert [r.record_id for r in records] == ["<urn:uuid:1>", "<urn:uuid:2>"]
    assert records[1].problems == (
        "the block is not followed by CRLF CRLF (is Content-Length right?)",
    )


def test_a_member_that_is_not_a_warc_record() -> None:
    other = gz(b"hello world\r\n")
    records, damage = read(M1 + other + M3)
    assert [r[3] for r in records] == ["<urn:uuid:1>", "<urn:uuid:3>"]
    [bad] = damage
    assert bad.offset == len(M1) and bad.lost == (len(M1),)
    assert bad.message.startswith("not a WARC record (starts b'hello world")


def test_an_http_head_is_kept_only_when_asked_for(tmp_path: Path) -> None:
    block = b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\nbody"
    head = (
        b"WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:9>\r\n"
        b"WARC-Date: 2024-01-01T00:00:00Z\r\nContent-Type: application/http; msgtype=response"
        b"\r\nContent-Length: %d\r\n\r\n" % len(block)
    )
    path = tmp_path / "a.warc.gz"
    path.write_bytes(gz(head + block + b"\r\n\r\n"))
    [plain] = list(read_warc_file(path))
    [kept] = list(read_warc_file(path, http_heads=True))
    assert isinstance(plain, Record) and plain.http_head is None
    assert isinstance(kept, Record)
    assert kept.http_head == b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n"


DAMAGED = {
    "torn-tail": M1 + M2 + M3[:-7],
    "garbage": M1 + b"garbage" + M2 + M3,
    "bad-header": M1 + b"\x1f\x8b\x07" + M2[3:] + M3,
    "not-warc": M1 + gz(b"hello world\r\n") + M2,
    "length-not-a-number": M1 + gz(record(2, length="abc")) + M3,
    "length-too-long": M1 + gz(record(2, length="15")) + M3,
    "first-member-damaged": b"\x1f\x8b\x08\x00junk" + M1 + M2,
    "bytes-after-a-record-in-its-member": M1 + gz(record(2) + b"EXTRA BYTES AFTER RECORD") + M3,
    "empty": b"",
}


def _summary(items: list[Record | Damage]) -> list[tuple[Any, ...]]:
    return [(r.offset, r.length, r.record_id) for r in items if isinstance(r, Record)]


@pytest.mark.parametrize("data", DAMAGED.values(), ids=DAMAGED.keys())
def test_repair_keeps_exactly_the_whole_records_verify_reads_before_the_damage(
    tmp_path: Path, data: bytes
) -> None:
    warcs = tmp_path / "warcs/c"
    warcs.mkdir(parents=True)
    torn = warcs / "c-1.warc.gz.open"
    torn.write_bytes(data)
    found = list(read_warc_file(torn))
    first = next((i for i, item in enumerate(found) if isinstance(item, Damage)), len(found))
    damaged_from = found[first].offset if first < len(found) else len(data)
    # a record whose own gzip member holds the damage is no whole record to keep
    before = [r for r in _summary(found[:first]) if r[0] < damaged_from]
    kept, _ = whole_records_end(torn)
    assert kept == (before[-1][0] + before[-1][1] if before else 0)

    repair_open_warcs(warcs, tmp_path, lambda closed: None)
    closed = warcs / "c-1.warc.gz"
    after = list(read_warc_file(closed)) if closed.exists() else []
    assert not [d for d in after if isinstance(d, Damage)], "repair kept damage"
    assert _summary(after) == before, "repair and verify disagree on the whole records"
    assert not torn.exists()


def test_repair_never_deletes_the_whole_records_of_a_plain_warc(tmp_path: Path) -> None:
    """An `.open` file named `.warc.gz` that holds a plain WARC: its records are whole, so it
    is set aside (NAME.damaged), never deleted as a file with nothing to keep."""
    warcs = tmp_path / "warcs/c"
    warcs.mkdir(parents=True)
    data = record(1) + record(2)
    (warcs / "c-1.warc.gz.open").write_bytes(data)
    repair_open_warcs(warcs, tmp_path, lambda closed: None)
    assert (warcs / ("c-1.warc.gz" + DAMAGED_SUFFIX)).read_bytes() == data
