"""Fixity: WARC files against warcs.sha256, records against their digests, manifest against WARCs.

Every problem names the file, the offset and the URL where it applies, and what differs.
"""

from __future__ import annotations

import hashlib
import mmap
import multiprocessing
import os
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.config import Settings
from archiver.files import kind, open_binary
from archiver.store.collection import Collection
from archiver.store.lines import CHECKS, LINKS, WARC_SIZES, WARCS
from archiver.store.linetypes import WarcPointer
from archiver.store.lock import is_locked
from archiver.store.reader import Damage, Record, mapped, read_warc
from archiver.store.readlines import (
    current_entries,
    read_checks,
    read_jsonl,
    read_links,
    read_warc_sums,
)
from archiver.store.writer import OPEN_SUFFIX

CHUNK = 1024 * 1024
PARALLEL_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Problem:
    """One finding of verify: the file it is in (relative to the output root), what is
    wrong, and where when known (a byte offset in a WARC file, the URL of a record)."""

    file: str
    message: str
    offset: int | None = None
    url: str | None = None

    def __str__(self) -> str:
        where = self.file + (f" @{self.offset}" if self.offset is not None else "")
        return f"{where}: {self.message}" + (f" [{self.url}]" if self.url else "")


@dataclass(frozen=True)
class RecordInfo:
    """What verify keeps of a record that starts a gzip member (or of any record of a plain
    file) to check manifest lines against: its offset and length in bytes, WARC-Record-ID,
    WARC-Type, WARC-Target-URI and WARC-Payload-Digest."""

    offset: int
    length: int
    record_id: str
    record_type: str
    url: str | None
    payload_digest: str | None


@dataclass
class VerifyReport:
    """What verify checked (counts of WARC files, records and manifest entries) and found:
    `problems` (damage: exit 1) and `notes` (worth knowing, not damage). `fast` for the
    quick checks of `verify --fast`."""

    collection: str
    fast: bool = False
    warc_files: int = 0
    records: int = 0
    entries: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing checked was found damaged."""
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """The report as `verify --json` prints it."""
        return {
            "collection": self.collection,
            "ok": self.ok,
            "checked": "sizes and counts only" if self.fast else "every byte and digest",
            "warc_files": self.warc_files,
            "records": self.records,
            "manifest_entries": self.entries,
            "problems": [p.__dict__ for p in self.problems],
            "notes": [p.__dict__ for p in self.notes],
        }


def file_sha256(path: Path) -> str:
    """The sha256 of the file at `path`, in hex (as `sha256sum` writes it). Raises OSError."""
    digest = hashlib.sha256()
    with open_binary(path) as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class FileScan:
    """What one WARC file holds: its records by offset (those that start a gzip member, or
    every record of a plain file), how many records were read and checked, the offsets of
    records that could not be checked, the problems and notes, and the file's sha256."""

    records: dict[int, RecordInfo] = field(default_factory=dict)
    checked: int = 0
    damage: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    sha256: str | None = None


def scan_file(path: Path, name: str, urls: dict[int, str]) -> FileScan:
    """Read every record of the WARC file at `path` with its digests, whatever the file's
    layout (store.reader); what could not be read is a problem. `name` is the file's path as
    verify reports it (`.gz` at its end: read as gzip); `urls` names the URL at each offset,
    for the problems. Never raises for a file that cannot be read: that is a problem too."""
    scan = FileScan()
    try:
        with mapped(path) as data:
            scan.sha256 = _mapped_sha256(data)
            _add(read_warc(data, name.endswith(".gz")), name, urls, scan)
    except OSError as exc:
        scan.problems.append(Problem(name, f"cannot be read ({exc.strerror or exc})"))
    return scan


def _mapped_sha256(data: bytes | mmap.mmap) -> str:
    digest = hashlib.sha256()
    with memoryview(data) as view:
        digest.update(view)
    return digest.hexdigest()


def _add(found: Iterable[Record | Damage], name: str, urls: dict[int, str], scan: FileScan) -> None:
    unchecked = 0
    for item in found:
        if isinstance(item, Damage):
            scan.damage.extend(item.lost)
            lost = len(item.lost)
            more = f"; {lost} records read from it not checked" if lost > 1 else ""
            message = item.message + more
            scan.problems.append(Problem(name, message, item.offset, urls.get(item.offset)))
            continue
        _add_record(item, name, scan)
        unchecked += not item.digests
    if unchecked:
        message = f"{unchecked} record(s) carry no digest: read whole, but their bytes unchecked"
        scan.notes.append(Problem(name, message))


def scan_files(jobs: list[tuple[Path, str, dict[int, str]]]) -> list[FileScan]:
    """scan_file over many files, one process per core when there is enough to read."""
    total = sum(path.stat().st_size for path, _, _ in jobs)
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers < 2 or total < PARALLEL_BYTES:
        return [scan_file(*job) for job in jobs]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers - 1, mp_context=context) as pool:
        others = pool.map(scan_file, *zip(*jobs[1:], strict=True))
        first = scan_file(*jobs[0])  # this process reads one file meanwhile
        return [first, *others]


def _add_record(record: Record, name: str, scan: FileScan) -> None:
    record_id = record.record_id or "?"
    where = f" ({record.inner} bytes into the gzip member)" if record.inner else ""
    for issue in record.problems:
        message = f"record {record_id}{where}: {issue}"
        scan.problems.append(Problem(name, message, record.offset, record.url))
    for note in record.notes:
        scan.notes.append(Problem(name, f"record {record_id}{where}: {note}", record.offset))
    scan.checked += 1
    if not record.inner:
        scan.records[record.offset] = RecordInfo(
            record.offset,
            record.length,
            record_id,
            record.record_type or "?",
            record.url,
            record.payload_digest,
        )


def manifest_problems(manifest_dir: Path, name: str, issues: list[str]) -> list[Problem]:
    """The problems a manifest file's reader found (bad lines, a file that is not regular),
    each a Problem of that file (`manifests/NAME/FILE`)."""
    return [Problem(f"manifests/{manifest_dir.name}/{name}", issue) for issue in issues]


def current_pointers(manifest_dir: Path, problems: list[Problem]) -> list[WarcPointer]:
    """Where the current line of every link says its capture's record is, and its capture
    recovered from a web archive (`recovered`: its WARC-Target-URI must be the original URL),
    in links.jsonl's order (links without either left out); its bad lines are added to
    `problems`."""
    lines, issues = read_links(manifest_dir / LINKS)
    problems.extend(manifest_problems(manifest_dir, LINKS, issues))
    pointers = []
    for line in current_entries(lines).values():
        if line.pointer is not None:
            pointers.append(line.pointer)
        if line.recovered is not None:
            pointers.append(line.recovered.pointer(line.url))
    return pointers


def recheck_captures(manifest_dir: Path, problems: list[Problem]) -> list[WarcPointer]:
    """Where the captures `recheck --capture-changes` named in checks.jsonl say their records
    are; its bad lines are added to `problems`."""
    lines, issues = read_checks(manifest_dir / CHECKS)
    problems.extend(manifest_problems(manifest_dir, CHECKS, issues))
    return [line.stored for line in lines if line.stored is not None]


def check_entry(pointer: WarcPointer, scan: FileScan) -> str | None:
    """What differs between a manifest line's pointer and the record found at its offset in
    `scan` (length, record id, payload digest, target URI, SHA-256), or None when nothing
    does."""
    record = scan.records.get(pointer.offset)
    if record is None:
        return f"manifest says a record starts at offset {pointer.offset}; none does"
    wrong = []
    if record.length != pointer.length:
        wrong.append(f"length {pointer.length} in manifest, {record.length} in WARC")
    if record.record_id != pointer.record_id:
        wrong.append(f"record id {pointer.record_id} in manifest, {record.record_id} in WARC")
    if pointer.payload_digest and record.payload_digest != pointer.payload_digest:
        wrong.append(
            f"payload digest {pointer.payload_digest} in manifest, {record.payload_digest} in WARC"
        )
    if record.url != pointer.final_url:
        wrong.append(f"record is for {record.url}, manifest says {pointer.final_url}")
    stored = (record.payload_digest or "").removeprefix("sha256:")
    if pointer.sha256 and record.payload_digest and stored != pointer.sha256:
        wrong.append(f"sha256 {pointer.sha256} in manifest, {stored} in WARC")
    return "; ".join(wrong) or None


def verify(settings: Settings) -> VerifyReport:
    """Check the collection's WARC files, records and manifest against each other. Raises
    InputError for a bad collection name or a collection that does not exist."""
    collection = Collection.existing(settings)
    name, manifest_dir = collection.name, collection.manifest_dir
    report = VerifyReport(name)
    problems = report.problems
    issues: list[str] = []
    sums = read_warc_sums(manifest_dir / WARCS, issues)
    problems.extend(manifest_problems(manifest_dir, WARCS, issues))
    on_disk = {p.relative_to(collection.out).as_posix(): p for p in warc_files_in(collection)}
    problems.extend(not_regular(collection))
    links = current_pointers(manifest_dir, problems)
    pointers = links + recheck_captures(manifest_dir, problems)
    referenced = {pointer.warc_file for pointer in pointers}
    live = is_locked(manifest_dir)
    urls: dict[str, dict[int, str]] = defaultdict(dict)
    for pointer in pointers:
        urls[pointer.warc_file][pointer.offset] = pointer.url
    names = sorted(set(sums) | set(on_disk) | referenced)
    jobs = []
    for rel in names:
        path = on_disk.get(rel) or on_disk.get(rel + OPEN_SUFFIX)
        if path is not None and not (live and path.name.endswith(OPEN_SUFFIX)):
            jobs.append((path, rel, urls[rel.removesuffix(OPEN_SUFFIX)]))
    scans = dict(zip((rel for _, rel, _ in jobs), scan_files(jobs), strict=True))
    indexes: dict[str, FileScan] = {}
    for rel in names:
        _check_file(rel, on_disk, sums, referenced, live, problems, scans.get(rel))
        if rel in scans:
            problems.extend(scans[rel].problems)
            report.notes.extend(scans[rel].notes)
            indexes[rel.removesuffix(OPEN_SUFFIX)] = scans[rel]
    report.warc_files = len(indexes)
    report.records = sum(scan.checked for scan in indexes.values())
    _check_sizes(collection, problems)
    problems.extend(duplicated(links))
    report.entries = len(pointers)
    for pointer in pointers:
        index = indexes.get(pointer.warc_file)
        if index is None or pointer.offset in index.damage:
            continue  # a missing file or a damaged record is already reported, with this URL
        message = check_entry(pointer, index)
        if message:
            problems.append(Problem(pointer.warc_file, message, pointer.offset, pointer.url))
    return report


def duplicated(pointers: list[WarcPointer]) -> list[Problem]:
    """A problem for each link whose current line claims a record an earlier link's claims
    (the same file and offset), naming both."""
    seen: dict[tuple[str, int], str] = {}
    found = []
    for pointer in pointers:
        key = (pointer.warc_file, pointer.offset)
        if key in seen:
            message = f"manifest lines of {seen[key]} and {pointer.url} claim the same record"
            found.append(Problem(pointer.warc_file, message, pointer.offset, pointer.url))
        seen[key] = pointer.url
    return found


def read_sizes(manifest_dir: Path, problems: list[Problem]) -> dict[str, int]:
    """path -> size of every closed WARC, from warcs.jsonl (its bad lines are problems)."""
    rows, issues = read_jsonl(manifest_dir / WARC_SIZES)
    problems.extend(manifest_problems(manifest_dir, WARC_SIZES, issues))
    return {str(row["path"]): int(row["size"]) for row in rows if "path" in row and "size" in row}


def _check_sizes(collection: Collection, problems: list[Problem]) -> None:
    for rel, size in read_sizes(collection.manifest_dir, problems).items():
        path = collection.out / rel
        if kind(path) == "file" and path.stat().st_size != size:
            message = f"size is {path.stat().st_size} bytes, {WARC_SIZES} says {size}"
            problems.append(Problem(rel, message))


def warc_files_in(collection: Collection) -> list[Path]:
    """The regular files of the collection's WARC folder named like WARC files (a link to one
    is not one)."""
    return [path for path, what in _named_like_warcs(collection.warc_dir) if what == "file"]


def _named_like_warcs(directory: Path) -> list[tuple[Path, str | None]]:
    if not directory.is_dir():
        return []
    return sorted((p, kind(p)) for p in directory.iterdir() if ".warc" in p.name)


def not_regular(collection: Collection) -> list[Problem]:
    """A problem for each name like a WARC file's in the collection's folder that is a link,
    FIFO, folder or device: never read (it could lead outside the collection, or block)."""
    return [
        Problem(
            path.relative_to(collection.out).as_posix(), f"a {what}, not a regular file: not read"
        )
        for path, what in _named_like_warcs(collection.warc_dir)
        if what not in (None, "file")
    ]


def present(rel: str, on_disk: dict[str, Path], live: bool, problems: list[Problem]) -> Path | None:
    """The file of a listed or found WARC name, or None with the reason added to `problems`
    (an unfinished `.open` file, unless a live run holds it; a listed file that is missing)."""
    if rel.endswith(OPEN_SUFFIX):
        if not live:
            problems.append(Problem(rel, "unfinished WARC (.open): run `archive` again to repair"))
        return None
    path = on_disk.get(rel)
    if path is None and on_disk.get(rel + OPEN_SUFFIX) is None:
        problems.append(Problem(rel, "missing: the manifest names this WARC file"))
    return path


def _check_file(
    rel: str,
    on_disk: dict[str, Path],
    sums: dict[str, str],
    referenced: set[str],
    live: bool,
    problems: list[Problem],
    scan: FileScan | None,
) -> None:
    path = present(rel, on_disk, live, problems)
    if path is None:
        return
    if rel not in sums:
        if rel not in referenced:
            problems.append(Problem(rel, "unknown WARC file: no manifest mentions it"))
        else:
            problems.append(Problem(rel, f"not listed in {WARCS}"))
        return
    actual = scan.sha256 if scan is not None and scan.sha256 else file_sha256(path)
    if actual != sums[rel]:
        problems.append(Problem(rel, f"sha256 is {actual}, {WARCS} says {sums[rel]}"))
