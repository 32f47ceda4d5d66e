"""robots.txt bodies are decoded within a bound as the bytes arrive: stacked content codings of a
small body cannot cost memory, and a decoding that cannot be undone leaves robots.txt
'unavailable' (RFC 9309: allow all)."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from archiver.fetch.decoding import BoundedDecoder, DecodingError, parse_codings
from tests.conftest import run_cli
from tests.origin import Origin, body, random_bytes
from tests.replay import clean_env

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

RULES = b"User-agent: *\nDisallow: /private/\n"
IMAGE = random_bytes(4_000, 21)
LIMIT = 512 * 1024
MEASURE = """\
import resource, subprocess, sys
cap = lambda: resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
done = subprocess.run(sys.argv[1:], preexec_fn=cap, timeout=180)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def gzip_of(pieces: list[bytes], level: int = 9) -> bytes:
    packer = zlib.compressobj(level, zlib.DEFLATED, 31)
    return b"".join([*(packer.compress(piece) for piece in pieces), packer.flush()])


def decode(codings: list[str], data: bytes, limit: int = LIMIT, step: int = 1000) -> bytes:
    decoder = BoundedDecoder(parse_codings(codings), limit)
    for start in range(0, len(data), step):
        decoder.feed(data[start : start + step])
        if decoder.full:
            break
    return bytes(decoder.body)


def test_each_coding_is_undone() -> None:
    text = RULES * 50
    assert decode([], text) == text
    assert decode(["identity"], text) == text
    assert decode(["gzip"], zlib.compress(text, wbits=31)) == text
    assert decode(["x-gzip"], zlib.compress(text, wbits=31)) == text
    assert decode(["deflate"], zlib.compress(text)) == text
    assert decode(["deflate"], zlib.compress(text, wbits=-15)) == text  # raw, as some send it
    stacked = zlib.compress(zlib.compress(zlib.compress(text), wbits=31), wbits=31)
    assert decode(["deflate, gzip", "gzip"], stacked) == text


def test_a_bomb_of_stacked_codings_yields_the_limit_and_stops() -> None:
    bomb = gzip_of([gzip_of([RULES, *[b"\n" * (1 << 20)] * 64])])
    assert len(bomb) < 4_000
    decoded = decode(["gzip, gzip"], bomb)
    assert len(decoded) == LIMIT and decoded.startswith(RULES)


@pytest.mark.parametrize(
    ("codings", "data"),
    [
        (["gzip, gzip, gzip, gzip"], b""),
        (["br"], b"\x0b\x02\x80hello\x03"),
        (["gzip"], b"not gzip at all"),
    ],
    ids=["too-many", "unknown", "corrupt"],
)
def test_a_coding_that_cannot_be_undone_is_an_error(codings: list[str], data: bytes) -> None:
    with pytest.raises(DecodingError):
        decode(codings, data)


def _archive_measured(tmp_path: Path, origin: Origin) -> tuple[int, dict[str, dict[str, str]]]:
    """Run `archive` in a child process; its peak RSS in MB, and the manifest lines."""
    doc = tmp_path / "d.md"
    doc.write_text(
        f"![a]({origin.url('/private/a.jpg')})\n![b]({origin.url('/public/a.jpg')})\n",
        encoding="utf-8",
    )
    cli = [sys.executable, "-m", "archiver", "archive", "d.md", "-c", "c", "--allow-private", "-q"]
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *cli],
        cwd=tmp_path,
        env=clean_env() | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    code, peak_kb = map(int, done.stdout.split())
    assert code == 0, done.stderr
    lines = (tmp_path / "manifests/c/links.jsonl").read_text().splitlines()
    return peak_kb // 1024, {row["url"]: row for row in map(json.loads, lines)}


def test_a_robots_txt_bomb_costs_no_memory(tmp_path: Path, origin: Origin) -> None:
    """256 MiB of robots.txt, gzipped twice to a few kilobytes, is read as its first 512 KiB:
    the rules at its start apply, and the run stays far below the decoded size in memory."""
    inner = gzip_of([RULES, *[b"\n" * (1 << 20)] * 256], level=1)
    outer = gzip_of([inner])
    assert len(outer) < 64_000
    headers = {"Content-Encoding": "gzip, gzip"}
    origin.routes["/robots.txt"] = body(outer, "text/plain", headers=headers)
    origin.routes["/private/a.jpg"] = body(IMAGE, "image/jpeg")
    origin.routes["/public/a.jpg"] = body(IMAGE, "image/jpeg")
    peak_mb, rows = _archive_measured(tmp_path, origin)
    assert peak_mb < 200, f"peak RSS {peak_mb} MB"
    assert rows[origin.url("/private/a.jpg")]["status"] == "skipped"
    assert rows[origin.url("/private/a.jpg")]["error"].startswith("robots")
    assert rows[origin.url("/public/a.jpg")]["status"] == "archived"


def test_too_many_stacked_codings_leave_robots_txt_unavailable(
    tmp_path: Path, origin: Origin
) -> None:
    data = RULES
    for _ in range(5):
        data = zlib.compress(data, wbits=31)
    headers = {"Content-Encoding": "gzip, gzip, gzip, gzip, gzip"}
    origin.routes["/robots.txt"] = body(data, "text/plain", headers=headers)
    origin.routes["/private/a.jpg"] = body(IMAGE, "image/jpeg")
    doc = tmp_path / "d.md"
    doc.write_text(f"![a]({origin.url('/private/a.jpg')})\n", encoding="utf-8")
    ran = run_cli("archive", "d.md", "-c", "c", "--allow-private", "-q", cwd=tmp_path)
    assert ran.code == 0, ran.err
    [row] = map(json.loads, (tmp_path / "manifests/c/links.jsonl").read_text().splitlines())
    assert row["status"] == "archived", "an undecodable robots.txt is unavailable: allow all"
