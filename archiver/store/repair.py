"""Repairing what a killed run left: `.open` WARC files are cut after their last whole record,
closed, and listed in warcs.sha256; closed files it never listed are listed; manifest lines that
point past a cut are fetched again."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from archiver.errors import StorageError
from archiver.files import is_regular, kind, open_binary
from archiver.store.reader import Damage, read_warc_file
from archiver.store.writer import OPEN_SUFFIX, ClosedWarc

DAMAGED_SUFFIX = ".damaged"
LOG = logging.getLogger("archiver")


@dataclass(frozen=True)
class Repaired:
    """A WARC file closed on behalf of a dead run: its name and how many bytes were kept."""

    path: str
    kept: int
    cut: int


def whole_records_end(path: Path) -> tuple[int, bool]:
    """Where the whole records (as store.reader reads them: the ones verify checks) before
    the first damage of the WARC file at `path` end, in bytes (a gzip member that holds a
    record and damage after it is not kept: verify would report it), and whether a whole record that
    starts a gzip member (or any, in a plain file) follows that damage: then the damage is no
    torn tail but a flipped bit. Raises OSError when the file cannot be read."""
    end, damaged = 0, False
    for item in read_warc_file(path):
        if isinstance(item, Damage):
            damaged = True
            end = min(end, item.offset)  # bytes after a record, in its member: the member goes
        elif not damaged:
            end = item.offset + item.length
        elif not item.inner:
            return end, True
    return end, False


def repair_open_warcs(
    directory: Path,
    root: Path,
    on_close: Callable[[ClosedWarc], None],
    live: Callable[[Path], bool] = lambda path: False,
) -> list[Repaired]:
    """Close every `.open` file in `directory`, keeping its whole records and nothing else,
    except those `live` says a live process still writes (a distributed worker's, on a shared
    filesystem). A file with whole records after damaged bytes (not a torn tail: a flipped bit)
    is closed with the records before the damage, and kept whole as `NAME.damaged`."""
    if not directory.is_dir():
        return []
    found = (
        repair_open_warc(path, root, on_close)
        for path in sorted(directory.glob("*" + OPEN_SUFFIX))
        if not live(path)
    )
    return [fixed for fixed in found if fixed is not None]


def repair_open_warc(
    path: Path, root: Path, on_close: Callable[[ClosedWarc], None]
) -> Repaired | None:
    """Close the one `.open` file `path` (under the output root `root`) as repair_open_warcs
    does; None when it is left as it is (not a regular file, or its closed name is taken).
    Raises StorageError when it cannot be read or renamed."""
    final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
    rel = final.relative_to(root).as_posix()
    if not _repairable(path, final):
        return None
    try:
        size = path.stat().st_size
        kept, more = whole_records_end(path)
        if more:
            _set_aside(path, final, kept)
        elif kept == 0:
            path.unlink()
        else:
            with open_binary(path, "rb+") as handle:
                handle.truncate(kept)
            path.rename(final)
    except OSError as exc:
        raise StorageError(f"cannot repair {path}: {exc}", str(path)) from exc
    if kept:
        on_close(ClosedWarc(rel, file_sha256(final), kept))
    return Repaired(rel, kept, size - kept)


def _repairable(path: Path, final: Path) -> bool:
    """A regular `.open` file whose closed name is free; anything else is left as it is, with
    a warning (a link, FIFO or folder someone put there is no run's file; a closed file of the
    same name is never overwritten). verify reports what is left."""
    what, taken = kind(path), kind(final)
    if what == "file" and taken is None:
        return True
    why = f"it is a {what}" if what != "file" else f"{final.name} exists ({taken})"
    LOG.warning(f"{path}: not repaired: {why}; left as it is")
    return False


def _set_aside(path: Path, final: Path, kept: int) -> None:
    """The first `kept` bytes of `path` become `final`; `path` itself becomes `.damaged`."""
    if kept:
        with open_binary(path) as source, final.open("xb") as target:
            while kept > target.tell():
                target.write(source.read(min(1024 * 1024, kept - target.tell())))
    path.rename(final.with_name(final.name + DAMAGED_SUFFIX))


def list_unlisted(
    root: Path,
    written: Iterable[str],
    listed: Collection[str],
    on_close: Callable[[ClosedWarc], None],
) -> list[str]:
    """List the closed files among those unfinished runs `written` that warcs.sha256 lacks: a
    kill can land between a file's rename (which closes it) and its listing."""
    found: list[str] = []
    for rel in sorted(set(written) - set(listed)):
        path = root / rel
        try:
            if not is_regular(path):
                continue
            on_close(ClosedWarc(rel, file_sha256(path), path.stat().st_size))
        except OSError as exc:
            raise StorageError(f"cannot list {path}: {exc}", str(path)) from exc
        found.append(rel)
    return found


def file_sha256(path: Path) -> str:
    """SHA-256 of the regular file `path` (64 lowercase hex digits), read 1 MiB at a time.
    Raises OSError (NotRegular for a link, FIFO or folder)."""
    digest = hashlib.sha256()
    with open_binary(path) as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
