"""The quick checks: `verify --fast` (sizes and counts, like BagIt's Payload-Oxum) and checking
WARC files from any tool, given by path, without a manifest."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from archiver.config import Settings
from archiver.errors import InputError
from archiver.store.collection import Collection
from archiver.store.lines import WARC_SIZES, WARCS
from archiver.store.lock import is_locked
from archiver.store.readlines import read_warc_sums
from archiver.verify.fixity import (
    Problem,
    VerifyReport,
    current_pointers,
    duplicated,
    manifest_problems,
    not_regular,
    present,
    read_sizes,
    scan_file,
    warc_files_in,
)


def verify_fast(settings: Settings) -> VerifyReport:
    """Every listed WARC present at its listed size, every entry inside its file; no reading.
    Raises InputError for a bad collection name or a collection that does not exist."""
    collection = Collection.existing(settings)
    report = VerifyReport(collection.name, fast=True)
    problems = report.problems
    sizes = read_sizes(collection.manifest_dir, problems)
    issues: list[str] = []
    listed = set(read_warc_sums(collection.manifest_dir / WARCS, issues)) | set(sizes)
    problems.extend(manifest_problems(collection.manifest_dir, WARCS, issues))
    on_disk = {p.relative_to(collection.out).as_posix(): p for p in warc_files_in(collection)}
    problems.extend(not_regular(collection))
    live = is_locked(collection.manifest_dir)
    for rel in sorted(listed | set(on_disk)):
        _check_present(rel, on_disk, listed, sizes, live, problems)
    pointers = current_pointers(collection.manifest_dir, problems)
    problems.extend(duplicated(pointers))
    report.entries = len(pointers)
    for pointer in pointers:
        size = sizes.get(pointer.warc_file)
        if size is not None and pointer.end > size:
            message = f"entry ends at byte {pointer.end}, past the file's {size} bytes"
            problems.append(Problem(pointer.warc_file, message, pointer.offset, pointer.url))
    report.warc_files = len(listed)
    return report


def _check_present(
    rel: str,
    on_disk: dict[str, Path],
    listed: set[str],
    sizes: dict[str, int],
    live: bool,
    problems: list[Problem],
) -> None:
    path = present(rel, on_disk, live, problems)
    if path is None:
        return
    if rel not in listed:
        problems.append(Problem(rel, "unknown WARC file: no manifest mentions it"))
    elif rel in sizes and path.stat().st_size != sizes[rel]:
        message = f"size is {path.stat().st_size} bytes, {WARC_SIZES} says {sizes[rel]}"
        problems.append(Problem(rel, message))


def verify_files(paths: Sequence[str]) -> VerifyReport:
    """Digests and gzip integrity of WARC files from any tool (wget, warcio, ...)."""
    report = VerifyReport("(files)")
    for text in paths:
        path = Path(text).resolve()  # named by the user: a link to a WARC file is followed
        if not path.exists():
            raise InputError(f"{text}: no such WARC file")
        if not path.is_file():
            raise InputError(f"{text}: not a regular file, not read")
        scan = scan_file(path, text, {})
        report.problems.extend(scan.problems)
        report.notes.extend(scan.notes)
        report.warc_files += 1
        report.records += scan.checked
    return report
