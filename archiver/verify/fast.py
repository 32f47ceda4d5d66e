"""The quick checks: `verify --fast` (sizes and counts, like BagIt's Payload-Oxum) and checking
WARC files from any tool, given by path, without a manifest."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from archiver.config import Settings, check_collection
from archiver.errors import InputError
from archiver.store.lock import is_locked
from archiver.store.manifest import WARC_SIZES, WARCS, read_warc_sums
from archiver.verify.fixity import (
    Problem,
    VerifyReport,
    current_entries,
    duplicated,
    not_regular,
    present,
    read_sizes,
    scan_file,
    warc_files_in,
)


def verify_fast(settings: Settings) -> VerifyReport:
    """Every listed WARC present at its listed size, every entry inside its file; no reading."""
    name = check_collection(settings.collection)
    if not settings.manifest_dir.is_dir():
        raise InputError(f"no collection {name!r} under {settings.out.resolve()}")
    report = VerifyReport(name, fast=True)
    problems = report.problems
    sizes = read_sizes(settings.manifest_dir, problems)
    issues: list[str] = []
    listed = set(read_warc_sums(settings.manifest_dir / WARCS, issues)) | set(sizes)
    problems.extend(Problem(f"manifests/{name}/{WARCS}", issue) for issue in issues)
    on_disk = {p.relative_to(settings.out).as_posix(): p for p in warc_files_in(settings.warc_dir)}
    problems.extend(not_regular(settings))
    for rel in sorted(listed | set(on_disk)):
        _check_present(rel, on_disk, listed, sizes, is_locked(settings.manifest_dir), problems)
    entries = list(current_entries(settings.manifest_dir, problems))
    problems.extend(duplicated(entries))
    for entry in entries:
        warc_file = entry.get("warc_file")
        if not warc_file:
            continue
        report.entries += 1
        end = int(entry.get("warc_offset") or 0) + int(entry.get("warc_length") or 0)
        size = sizes.get(str(warc_file))
        if size is not None and end > size:
            message = f"entry ends at byte {end}, past the file's {size} bytes"
            problems.append(
                Problem(str(warc_file), message, entry.get("warc_offset"), entry.get("url"))
            )
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
