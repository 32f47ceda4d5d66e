"""The tool's own files, when someone else has touched them (issue 10, item 18).

A line of links.jsonl, documents.jsonl, checks.jsonl, warcs.jsonl or warcs.sha256 that breaks the
manifest contract (a wrong type, not JSON, NaN, a duplicate key, a NUL, a path outside the
collection...) is reported with its file and line number and skipped by every command that reads
the file: archive, verify, verify --fast, export, recheck, report in every format, replay. No
traceback; verify counts it as a finding; the good lines still count; nothing is rewritten.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from archiver.cli import main
from archiver.config import Settings
from archiver.replay import replay_links
from archiver.run.archive import archive
from archiver.store import readlines as readlines_module
from archiver.store.collection import Collection
from archiver.store.readlines import read_jsonl, read_warc_sums
from tests.conftest import Ran
from tests.origin import body, random_bytes, running_origin

IMAGES = {f"/img/{n}.jpg": random_bytes(3000 + n, n) for n in range(3)}
PAGE = b"<html><head><title>t</title></head><body>source</body></html>"
ZEROS = "0" * 64


@dataclass(frozen=True)
class Base:
    root: Path
    doc: Path


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Base]:
    """One collection `v` of 4 archived links (3 images, 1 source) from one document, its
    origin kept running so that a run can fetch a link whose line was skipped."""
    root = tmp_path_factory.mktemp("base")
    with running_origin() as origin:
        for path, data in IMAGES.items():
            origin.routes[path] = body(data, "image/jpeg")
        origin.routes["/src"] = body(PAGE, "text/html")
        doc = root / "doc.md"
        images = "".join(f"![x]({origin.url(p)})\n" for p in IMAGES)
        doc.write_text(f"# 标题\n\n{images}\n原文地址：{origin.url('/src')}\n", encoding="utf-8")
        settings = Settings(out=root, collection="v", allow_private=True, retries=0)
        assert archive([str(doc)], settings).counts == {"archived": 4}
        yield Base(root, doc)


@pytest.fixture
def copy(base: Base, tmp_path: Path) -> Path:
    target = tmp_path / "c"
    shutil.copytree(base.root, target)
    return target


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
    """Run the CLI in this process as its entry point does; any exception but its exit fails
    the test (the equivalent of a traceback)."""
    code: int | str | None = None
    try:
        main(list(args))
    except SystemExit as done:
        code = done.code
    out, err = capsys.readouterr()
    return Ran(int(code or 0), out, err)


# --- the kinds of bad lines: each damages a copy and returns (file name, line number) ----------


def _links(root: Path) -> Path:
    return root / "manifests/v/links.jsonl"


def _damage_image_line(root: Path, make: Callable[[dict[str, object]], bytes]) -> int:
    """Replace the line of /img/0.jpg with `make(that line)`; return its line number."""
    lines = _links(root).read_bytes().splitlines(keepends=True)
    [number] = [n for n, line in enumerate(lines) if b"/img/0.jpg" in line.split(b'"role"')[0]]
    lines[number] = make(json.loads(lines[number])) + b"\n"
    _links(root).write_bytes(b"".join(lines))
    return number + 1


def _with(**fields: object) -> Callable[[dict[str, object]], bytes]:
    return lambda row: json.dumps(row | fields).encode()


def _size_as(text: str) -> Callable[[dict[str, object]], bytes]:
    """The line with its size written as `text` (a number json.dumps cannot write)."""
    return lambda row: (
        json.dumps(row | {"size": 0}).replace('"size": 0', f'"size": {text}').encode()
    )


def _bytes(old: bytes, new: bytes) -> Callable[[dict[str, object]], bytes]:
    return lambda row: json.dumps(row, ensure_ascii=False).encode().replace(old, new, 1)


def _nested(row: dict[str, object]) -> bytes:
    return json.dumps(row).encode()[:-1] + b', "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


LINK_KINDS: dict[str, Callable[[dict[str, object]], bytes]] = {
    "url-is-a-list": lambda row: json.dumps(row | {"url": [row["url"]]}).encode(),
    "offset-is-a-string": lambda row: json.dumps(
        row | {"warc_offset": str(row["warc_offset"])}
    ).encode(),
    "final-url-missing": lambda row: json.dumps(
        {k: v for k, v in row.items() if k != "final_url"}
    ).encode(),
    "not-json": lambda row: json.dumps(row).encode()[:-1],
    "json-not-an-object": lambda row: json.dumps([row]).encode(),
    "huge-number": _with(warc_offset=10**30),
    "five-thousand-digits": _size_as("9" * 5000),
    "infinity": _size_as("1e400"),
    "negative-offset": _with(warc_offset=-5),
    "nan": lambda row: json.dumps(row | {"warc_length": float("nan")}).encode(),
    "nul-byte": _bytes(b"/img/0.jpg", b"/img/0\x00.jpg"),
    "escaped-nul": _with(warc_file="warcs/v/x\u0000.warc.gz"),
    "duplicate-key": lambda row: b'{"url": ["other"], ' + json.dumps(row).encode()[1:],
    "unknown-status": _with(status="weird"),
    "unknown-role": _with(role="everything"),
    "documents-a-string": _with(documents="doc.md"),
    "absolute-warc-file": _with(warc_file="/etc/passwd"),
    "dotdot-warc-file": _with(warc_file="warcs/v/../../../../etc/passwd"),
    "not-utf8": _bytes(b"img", b"\xff\xfe"),
    "deeply-nested": _nested,
}


@dataclass(frozen=True)
class Kind:
    name: str
    file: str
    damage: Callable[[Path], int]
    good_links: int  # links.jsonl lines that stay good


def _append(name: str, data: bytes) -> Callable[[Path], int]:
    def damage(root: Path) -> int:
        path = root / "manifests/v" / name
        old = path.read_bytes() if path.exists() else b""
        path.write_bytes(old + data + b"\n")
        return old.count(b"\n") + 1

    return damage


def _sizes_as_strings(root: Path) -> int:
    path = root / "manifests/v/warcs.jsonl"
    row = json.loads(path.read_text())
    path.write_text(json.dumps(row | {"size": str(row["size"])}) + "\n")
    return 1


def _check_lines(root: Path) -> int:
    path = root / "manifests/v/checks.jsonl"
    good = {"url": "http://a.test/", "checked_at": "2026-01-01T00:00:00Z", "live": True}
    path.write_text(json.dumps(good) + "\n" + json.dumps(good | {"live": "yes"}) + "\n")
    return 2


def _sums(line: str | bytes) -> Callable[[Path], int]:
    return _append("warcs.sha256", line.encode() if isinstance(line, str) else line)


KINDS = [
    *(
        Kind(name, "links.jsonl", partial(_damage_image_line, make=make), 3)
        for name, make in LINK_KINDS.items()
    ),
    Kind("sizes-as-strings", "warcs.jsonl", _sizes_as_strings, 4),
    Kind("sums-not-utf8", "warcs.sha256", _sums(b"\xff\xfe  warcs/v/x"), 4),
    Kind("sums-absolute", "warcs.sha256", _sums(f"{ZEROS}  /etc/passwd"), 4),
    Kind("sums-dotdot", "warcs.sha256", _sums(f"{ZEROS}  warcs/v/../../../etc/passwd"), 4),
    Kind("sums-not-a-sum", "warcs.sha256", _sums("hello"), 4),
    Kind("document-path-number", "documents.jsonl", _append("documents.jsonl", b'{"path": 5}'), 4),
    Kind("document-nul", "documents.jsonl", _append("documents.jsonl", b'{"path": "\\u0000"}'), 4),
    Kind("check-live-a-string", "checks.jsonl", _check_lines, 4),
]


@dataclass(frozen=True)
class Command:
    args: Callable[[Base, Path], list[str]]
    code: int
    reads: frozenset[str]
    channel: str  # where the bad line is reported: "err" (a warning) or "out" (a finding)


COMMANDS = {
    "archive": Command(
        lambda b, root: ["archive", str(b.doc), "-c", "v", "--allow-private", "--json"],
        0,
        frozenset({"links.jsonl", "warcs.sha256"}),
        "err",
    ),
    "verify": Command(
        lambda b, root: ["verify", "-c", "v"],
        1,
        frozenset({"links.jsonl", "warcs.sha256", "warcs.jsonl"}),
        "out",
    ),
    "verify-fast": Command(
        lambda b, root: ["verify", "-c", "v", "--fast"],
        1,
        frozenset({"links.jsonl", "warcs.sha256", "warcs.jsonl"}),
        "out",
    ),
    "export": Command(
        lambda b, root: ["export", "-c", "v", "--wacz", str(root / "v.wacz")],
        0,
        frozenset({"links.jsonl", "documents.jsonl", "warcs.sha256"}),
        "err",
    ),
    "recheck": Command(
        lambda b, root: ["recheck", "-c", "v", "--allow-private", "--json"],
        0,
        frozenset({"links.jsonl", "checks.jsonl"}),
        "err",
    ),
    **{
        f"report-{fmt}": Command(
            partial(lambda fmt, b, root: ["report", "-c", "v", "--format", fmt], fmt),
            0,
            frozenset({"links.jsonl", "documents.jsonl", "checks.jsonl"}),
            "err",
        )
        for fmt in ("html", "md", "csv", "json")
    },
}
CASES = [
    pytest.param(command, kind, id=f"{command}-{kind.name}")
    for command, spec in COMMANDS.items()
    for kind in KINDS
    if kind.file in spec.reads
]


def _good_lines_count(command: str, ran: Ran, kind: Kind, root: Path) -> None:
    """What each command still does with the good lines."""
    if command == "archive":
        summary = json.loads(ran.out)
        assert summary["counts"] == {"archived": 4}
        assert summary["fetched"] == 4 - kind.good_links  # only a link whose line was skipped
    elif command.startswith("verify"):
        assert f", {kind.good_links} manifest entries" in ran.out
    elif command == "export":
        assert "with 1 pages" in ran.out
        names = zipfile.ZipFile(root / "v.wacz").namelist()
        assert [n for n in names if n.startswith("archive/")] == [
            f"archive/{p.name}" for p in (root / "warcs/v").iterdir()
        ]
    elif command == "recheck":
        assert json.loads(ran.out)["checked"] == kind.good_links
    elif command == "report-json":
        assert len(json.loads(ran.out)["links"]) == kind.good_links


@pytest.mark.parametrize(("command", "kind"), CASES)
def test_a_bad_line_is_reported_with_file_and_line_and_skipped(
    command: str,
    kind: Kind,
    base: Base,
    copy: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    number = kind.damage(copy)
    before = {p.name: p.read_bytes() for p in (copy / "manifests/v").glob("*.*")}
    spec = COMMANDS[command]
    ran = cli(capsys, *spec.args(base, copy), "--out", str(copy))
    assert ran.code == spec.code, ran.err
    assert "Traceback" not in ran.err
    said = ran.err if spec.channel == "err" else ran.out
    assert f"{kind.file}:{number}: " in said
    if spec.channel == "err":
        assert f"archiver: warning: {copy}/manifests/v/{kind.file}:{number}: " in said
    _good_lines_count(command, ran, kind, copy)
    for name, data in before.items():  # append-only: nothing written before is changed
        if name.endswith((".jsonl", ".sha256")):
            assert (copy / "manifests/v" / name).read_bytes()[: len(data)] == data


def test_export_never_opens_a_file_outside_the_collection(
    base: Base, copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example: an absolute path in warcs.sha256 made export open /etc/passwd."""
    outside = copy / "secret.warc.gz"
    shutil.copy(next((copy / "warcs/v").iterdir()), outside)
    sums = copy / "manifests/v/warcs.sha256"
    sums.write_text(
        sums.read_text() + f"{ZEROS}  {outside}\n{ZEROS}  warcs/v/../../secret.warc.gz\n"
    )
    ran = cli(capsys, "export", "-c", "v", "--wacz", str(copy / "v.wacz"), "--out", str(copy))
    assert ran.code == 0
    assert "warcs.sha256:2: WARC path" in ran.err and "warcs.sha256:3: WARC path" in ran.err
    names = zipfile.ZipFile(copy / "v.wacz").namelist()
    assert not [name for name in names if "secret" in name]


def test_replay_lists_the_good_lines_and_links_no_file_outside(
    base: Base, copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    number = _damage_image_line(copy, LINK_KINDS["url-is-a-list"])
    _append("warcs.sha256", f"{ZEROS}  /etc/passwd".encode())(copy)
    settings = Settings(out=copy, collection="v")
    found = replay_links(settings, "http://127.0.0.1:1")
    assert len(found) == 3
    assert f"links.jsonl:{number}: url is list" in caplog.text
    problems: list[str] = []
    manifest_dir = Collection.named(settings).manifest_dir
    sums = read_warc_sums(manifest_dir / "warcs.sha256", problems)
    assert sorted(sums) == [p.relative_to(copy).as_posix() for p in (copy / "warcs/v").iterdir()]
    assert problems == [
        f"{manifest_dir}/warcs.sha256:2: WARC path '/etc/passwd' is outside warcs/v/: "
        "refused; line skipped"
    ]


def test_a_line_longer_than_the_limit_is_skipped_without_being_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readlines_module, "MAX_LINE_BYTES", 1000)
    path = tmp_path / "manifests/v/documents.jsonl"
    path.parent.mkdir(parents=True)
    long = json.dumps({"path": "x" * 200_000})
    path.write_text(f'{{"path": "a"}}\n{long}\n{{"path": "b"}}\n{long}')
    rows, problems = read_jsonl(path)
    assert [row["path"] for row in rows] == ["a", "b"]
    assert problems[0].startswith(f"{path}:2: {len(long) + 1} bytes, longer than 1000")
    assert problems[1].startswith(f"{path}:4: torn last line")


def test_a_line_of_100_mb_costs_no_more_than_the_limit(tmp_path: Path) -> None:
    """A 100 MB line in links.jsonl is reported and skipped by a child process whose peak
    memory stays near MAX_LINE_BYTES, not the line's size."""
    import subprocess
    import sys

    from tests.replay import clean_env

    directory = tmp_path / "manifests/v"
    directory.mkdir(parents=True)
    with (directory / "links.jsonl").open("wb") as handle:
        handle.write(b'{"url": "' + b"a" * (100 * 1024 * 1024) + b'"}\n')
    code = (
        "import re, sys\n"
        "from archiver.store.readlines import read_jsonl\n"
        "from pathlib import Path\n"
        "rows, problems = read_jsonl(Path(sys.argv[1]))\n"
        "print(len(rows), problems[0][-60:])\n"
        "status = Path('/proc/self/status').read_text()\n"  # VmHWM: peak, reset by exec
        "print(re.search(r'VmHWM:\\s*(\\d+)', status)[1])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(directory / "links.jsonl")],
        env=clean_env() | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    first, peak_kib = done.stdout.splitlines()
    assert first.startswith("0 ") and "longer than" in first
    assert int(peak_kib) < 120 * 1024  # parsing the line whole would cost 300 MiB
