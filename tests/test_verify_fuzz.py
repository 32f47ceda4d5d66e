"""verify over mutations of a WARC file the tool wrote: never a traceback, never a hang, and
never OK for a file whose records changed."""

from __future__ import annotations

import gzip
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.config import Settings
from archiver.run.archive import archive
from archiver.verify.fast import verify_files
from archiver.verify.fixity import verify
from tests.conftest import run_cli
from tests.origin import body, random_bytes, running_origin


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A collection of two small captures (one incompressible, one text)."""
    root = tmp_path_factory.mktemp("fuzz")
    with running_origin() as origin:
        origin.routes["/a.jpg"] = body(random_bytes(700, 1), "image/jpeg")
        origin.routes["/b.png"] = body(b"text " * 150, "image/png")
        doc = root / "doc.md"
        doc.write_text(f"![a]({origin.url('/a.jpg')})\n![b]({origin.url('/b.png')})\n")
        archive([str(doc)], Settings(out=root, collection="f", allow_private=True, retries=0))
    yield root


def members(data: bytes) -> list[bytes] | None:
    """The inflated content of each gzip member, or None if the bytes are not whole members."""
    found = []
    while data:
        inflater = zlib.decompressobj(31)
        try:
            found.append(inflater.decompress(data))
        except zlib.error:
            return None
        if not inflater.eof:
            return None
        data = inflater.unused_data
    return found


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 64)),
    st.tuples(st.just("header"), st.integers(0, 10**6), st.integers(0, 4)),
)
REWRITES = [
    b"Content-Length: abc",
    b"Content-Length: -1",
    b"WARC-Block-Digest: shake_128:AA",
    b"WARC-Payload-Digest: sha1:!!",
    b"Content-Length: 99999999999",
]


def _rewrite(data: bytes, where: int, line: bytes) -> bytes:
    """`line` added to a WARC header: in a gzip file, to one member's record, recompressed."""
    parts = members(data) if data[:2] == b"\x1f\x8b" else None
    if parts is None:
        at = data.find(b"\r\n", where % (len(data) + 1))
        return data if at < 0 else data[: at + 2] + line + b"\r\n" + data[at + 2 :]
    index = where % len(parts)
    at = parts[index].find(b"\r\n")
    if at >= 0:
        parts[index] = parts[index][: at + 2] + line + b"\r\n" + parts[index][at + 2 :]
    return b"".join(gzip.compress(part) for part in parts)


def mutate(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, where, value in mutations:
        at = where % (len(out) + 1)
        if kind == "flip" and out:
            out[at % len(out)] ^= value
        elif kind == "cut":
            del out[at:]
        elif kind == "insert":
            out[at:at] = bytes([value])
        elif kind == "delete":
            del out[at : at + value]
        elif kind == "header":
            out = bytearray(_rewrite(bytes(out), where, REWRITES[value]))
    return bytes(out)


@settings(
    max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(mutation, min_size=1, max_size=3), st.booleans())
def test_mutations_never_crash_and_damage_is_never_ok(
    written: Path, tmp_path: Path, mutations: list[tuple[str, int, int]], plain: bool
) -> None:
    [path] = list((written / "warcs/f").glob("*.warc.gz"))
    original = path.read_bytes()
    if plain:
        original = b"".join(members(original) or [])
    changed = mutate(original, mutations)
    target = tmp_path / ("m.warc" if plain else "m.warc.gz")
    target.write_bytes(changed)
    report = verify_files([str(target)])  # in-process: any exception fails the test
    if changed == original:
        assert report.ok
        return
    if report.ok and not plain:
        # a benign change (a gzip header field) leaves the same records, member by member
        assert set(members(changed) or [b"?"]) <= set(members(original) or [])
    if plain and report.ok:
        # a WARC header line outside the digests may change unseen; a block byte may not
        assert len(changed) != len(original) or _only_headers_differ(original, changed)


def _only_headers_differ(original: bytes, changed: bytes) -> bool:
    """Whether every differing byte lies in a WARC header (before a record's blank line)."""
    blocks = []
    at = 0
    while (start := original.find(b"WARC/1.", at)) >= 0:
        head_end = original.find(b"\r\n\r\n", start) + 4
        length = int(original[start:head_end].split(b"Content-Length: ")[1].split(b"\r\n")[0])
        blocks.append((head_end, head_end + length))
        at = head_end + length
    diffs = [i for i, (a, b) in enumerate(zip(original, changed, strict=True)) if a != b]
    return all(not any(s <= i < e for s, e in blocks) for i in diffs)


def test_any_change_to_a_collection_warc_is_never_ok(written: Path, tmp_path: Path) -> None:
    copy = tmp_path / "c"
    shutil.copytree(written, copy)
    assert verify(Settings(out=copy, collection="f")).ok
    [path] = list((copy / "warcs/f").glob("*.warc.gz"))
    data = path.read_bytes()
    for mutations in ([("flip", 4, 1)], [("flip", 7, 0x10)], [("insert", len(data), 0)]):
        path.write_bytes(mutate(data, mutations))  # header mtime, a trailing byte: benign to gzip
        report = verify(Settings(out=copy, collection="f"))
        assert not report.ok and "sha256 is" in report.problems[0].message


@pytest.mark.parametrize("cut", [1, 10, 100, 1000])
def test_the_cli_on_damaged_files_exits_1_without_a_traceback(
    written: Path, tmp_path: Path, cut: int
) -> None:
    [path] = list((written / "warcs/f").glob("*.warc.gz"))
    data = path.read_bytes()
    target = tmp_path / "cut.warc.gz"
    target.write_bytes(mutate(data, [("header", cut, cut % 5), ("cut", len(data) - cut, 0)]))
    done = run_cli("verify", str(target))
    assert done.code == 1 and "Traceback" not in done.err, done.err
