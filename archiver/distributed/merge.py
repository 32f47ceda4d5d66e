"""`archiver merge`: the parts that workers wrote (archiver.distributed.parts), brought into
their collection, which `verify`, `report`, `replay` and `export` then read like any other.

Under the collection's lock, for each part of each source (a worker's `--out` folder copied
from its machine, or the output root itself when workers share a filesystem) that no live
session holds (a live one is waited for a few seconds, then left with a warning):

1. the part is held (its lock) and closed as a killed run is resumed (parts.close_dead_part);
2. every WARC file its warcs.sha256 lists is brought into OUT/warcs/NAME/: renamed on one
   filesystem; otherwise copied under a temporary name, fsynced, its sha256 checked against
   the listed sum, renamed, and only then removed from the source. A different file of the
   same name already there refuses the whole merge before anything moves (exit 2); the same
   file (same sha256) is already there. Each is listed once in warcs.sha256 and warcs.jsonl;
3. the parts' link lines are combined, one current line per link, duplicates kept as history
   (archiver.distributed.mergelines);
4. the part folder is renamed `<name>.merged`, so a second merge never merges it again. A
   merge killed before that merges it again harmlessly: the same files, already there, and the
   same lines.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from archiver.config import Settings
from archiver.distributed.mergelines import combine, part_lines
from archiver.distributed.parts import (
    MERGED_SUFFIX,
    Part,
    PartLock,
    close_dead_part,
    find_parts,
)
from archiver.errors import InputError, StorageError
from archiver.files import kind, open_binary
from archiver.store.collection import Collection
from archiver.store.lines import WARCS
from archiver.store.lock import CollectionLock
from archiver.store.manifest import Manifest
from archiver.store.readlines import read_warc_sums
from archiver.store.repair import file_sha256
from archiver.store.writer import ClosedWarc

LIVE_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.1
TEMP_PREFIX = ".merging-"  # no ".warc" in it: verify never takes a leftover for a WARC file
CHUNK = 1024 * 1024
LOG = logging.getLogger("archiver")


@dataclass(frozen=True)
class MergeSummary:
    """What a merge did: the part folders merged and left (live: merge again later) and
    refused (`FOLDER: why`: a copy whose sha256 differs from the listed sum, or a listed
    WARC file missing; merge again once it is there); WARC files
    moved, copied, or found already there; URLs given a current line (`links`), lines kept
    as history beside them (`duplicates`), part lines skipped; the files repaired."""

    collection: str
    merged: tuple[str, ...] = ()
    left: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    moved: int = 0
    copied: int = 0
    present: int = 0
    links: int = 0
    duplicates: int = 0
    skipped: int = 0
    repaired: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no part was refused."""
        return not self.refused


@dataclass
class _Tally:
    moved: int = 0
    copied: int = 0
    present: int = 0
    skipped: int = 0
    refused: list[str] = field(default_factory=list)


class _Held(NamedTuple):
    part: Part
    lock: PartLock


def same_filesystem(source: Path, folder: Path) -> bool:
    """True when the file `source` can be renamed into `folder` (one filesystem: st_dev)."""
    return source.stat().st_dev == folder.stat().st_dev


def merge(settings: Settings, sources: list[Path]) -> MergeSummary:
    """Merge the parts under each folder of `sources` (each a worker's output root; the
    collection's own root `settings.out` when empty) into collection `settings.collection`,
    as the module says. Raises InputError for a bad name, a missing collection, a source that
    is not a folder or a name clash (nothing merged); CollectionLocked when another process
    writes the collection; StorageError when a file cannot be read or written."""
    collection = Collection.existing(settings)
    for source in sources:
        if not source.is_dir():
            raise InputError(f"--from {source}: not a folder", str(source))
    roots = list({source.resolve(): source for source in sources}.values()) or [settings.out]
    with CollectionLock(collection.manifest_dir, collection.name):
        held, left = _hold_parts([p for root in roots for p in find_parts(root, collection.name)])
        try:
            return _merge_held(collection, held, left)
        finally:
            for item in held:
                item.lock.release()


def _hold_parts(parts: list[Part]) -> tuple[list[_Held], list[Part]]:
    """The parts whose lock this process could take (dead ones), waiting LIVE_WAIT_SECONDS
    for live ones to end; the parts still live then, each warned about."""
    held: list[_Held] = []
    waiting = list(parts)
    deadline = time.monotonic() + LIVE_WAIT_SECONDS
    while True:
        still = []
        for part in waiting:
            lock = PartLock.take(part.path)
            if lock is None:
                still.append(part)
            else:
                held.append(_Held(part, lock))
        waiting = still
        if not waiting or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    for part in waiting:
        LOG.warning(f"worker part {part.path} is still being written; merge again later")
    return held, waiting


def _merge_held(collection: Collection, held: list[_Held], left: list[Part]) -> MergeSummary:
    repaired = [f for item in held for f in close_dead_part(item.part, held=item.lock)]
    sums = {item.part: _part_sums(item.part) for item in held}
    _refuse_clashes(collection, sums)
    _drop_temporaries(collection.warc_dir)
    tally = _Tally()
    manifest = Manifest(collection.manifest_dir)
    try:
        listed = read_warc_sums(collection.manifest_dir / WARCS)
        brought: dict[Part, dict[str, int]] = {}
        for part, part_sums in sums.items():
            files = _bring_part(part, part_sums, collection, manifest, listed, tally)
            if files is not None:
                brought[part] = files
        found = [part_lines(part, sizes) for part, sizes in brought.items()]
        tally.skipped += sum(skipped for _, skipped in found)
        every = (lines for lines, _ in found)
        links, duplicates = combine(collection.manifest_dir, every, manifest.append_link)
    finally:
        manifest.close()
    merged = [_mark_merged(part) for part in brought]
    return MergeSummary(
        collection.name,
        tuple(merged),
        tuple(str(part.path) for part in left),
        tuple(tally.refused),
        tally.moved,
        tally.copied,
        tally.present,
        links,
        duplicates,
        tally.skipped,
        tuple(f"{f.path} (kept {f.kept} bytes, cut {f.cut})" for f in repaired),
    )


def _part_sums(part: Part) -> dict[str, str]:
    return read_warc_sums(part.path / WARCS, collection=part.collection)


def _same_file(source: Path, target: Path) -> bool:
    try:
        return source.samefile(target)
    except OSError:
        return False


def _already_there(target: Path, sha256: str) -> bool:
    return kind(target) == "file" and file_sha256(target) == sha256


def _refuse_clashes(collection: Collection, sums: dict[Part, dict[str, str]]) -> None:
    """InputError, before anything moves, when a part's WARC file would land on a different
    file of the same name in the collection."""
    for part, part_sums in sums.items():
        for rel, sha256 in part_sums.items():
            source, target = part.out / rel, collection.out / rel
            if kind(target) is None or _same_file(source, target):
                continue
            if not _already_there(target, sha256):
                raise InputError(
                    f"{target} exists and is not the file {part.path} lists under that name "
                    "(sha256 differs): nothing merged"
                )


def _drop_temporaries(warc_dir: Path) -> None:
    """Remove the copies a killed merge left half-written (only merge makes them, under the
    collection's lock, which this process holds)."""
    if kind(warc_dir) == "folder":
        for path in warc_dir.glob(TEMP_PREFIX + "*"):
            path.unlink(missing_ok=True)


def _bring_part(
    part: Part,
    sums: dict[str, str],
    collection: Collection,
    manifest: Manifest,
    listed: dict[str, str],
    tally: _Tally,
) -> dict[str, int] | None:
    """Bring the part's WARC files and list them; their sizes by path, or None when the part
    is refused (its lines would point at a file not there): a listed file missing both in the
    source and in the collection (refused before anything moves), or a copy with another
    sha256."""
    # in the collection already, a file has the listed sha256 (_refuse_clashes made sure)
    missing = [
        rel for rel in sums if "file" not in (kind(part.out / rel), kind(collection.out / rel))
    ]
    if missing:
        _refuse(part, f"{part.out / missing[0]} is listed but missing", tally)
        return None
    sizes: dict[str, int] = {}
    for rel, sha256 in sums.items():
        target = collection.out / rel
        why = _bring(part.out / rel, target, sha256, tally)
        if why is None and kind(target) != "file":
            why = f"{part.out / rel} is listed but missing"
        if why is not None:
            _refuse(part, why, tally)
            return None
        sizes[rel] = target.stat().st_size
        if rel not in listed:
            manifest.append_warc(ClosedWarc(rel, sha256, sizes[rel]))
            listed[rel] = sha256
    return sizes


def _refuse(part: Part, why: str, tally: _Tally) -> None:
    """Count the part refused (not merged, its folder not marked), with a warning line."""
    tally.refused.append(f"{part.path}: {why}")
    LOG.warning(f"{part.path}: {why}; the part is not merged: merge again once its files are whole")


def _bring(source: Path, target: Path, sha256: str, tally: _Tally) -> str | None:
    """Move or copy `source` to `target`; why not, when the copy's sha256 is not `sha256`."""
    if _same_file(source, target) or kind(target) is not None:
        if kind(source) == "file" and not _same_file(source, target):
            source.unlink()  # the target holds it (checked by _refuse_clashes)
        tally.present += 1
        return None
    if kind(source) != "file":
        return None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if same_filesystem(source, target.parent):
            source.replace(target)
            _sync_folder(target.parent)
            tally.moved += 1
            return None
        why = _copy_checked(source, target, sha256)
    except OSError as exc:
        raise StorageError(f"cannot bring {source} to {target}: {exc}", str(source)) from exc
    if why is None:
        source.unlink()
        tally.copied += 1
    return why


def _copy_checked(source: Path, target: Path, sha256: str) -> str | None:
    """Copy `source` to a temporary name beside `target`, fsync it, check its sha256, then
    rename it to `target`; why not, when the copy does not have the listed sum."""
    temporary = target.with_name(TEMP_PREFIX + secrets.token_hex(8))
    digest = hashlib.sha256()
    try:
        with open_binary(source) as reading, temporary.open("xb") as writing:
            while chunk := reading.read(CHUNK):
                writing.write(chunk)
                digest.update(chunk)
            writing.flush()
            os.fsync(writing.fileno())
        if digest.hexdigest() != sha256:
            temporary.unlink()
            return f"copy of {source} has sha256 {digest.hexdigest()}, the part lists {sha256}"
        temporary.replace(target)
        _sync_folder(target.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return None


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mark_merged(part: Part) -> str:
    """Rename the part folder `<name>.merged`; its path as found."""
    target = part.path.with_name(part.name + MERGED_SUFFIX)
    try:
        if kind(target) is None:
            part.path.rename(target)
        else:
            LOG.warning(f"{part.path}: merged, but {target.name} exists; left under its name")
    except OSError as exc:
        raise StorageError(f"cannot mark {part.path} merged: {exc}", str(part.path)) from exc
    return str(part.path)
