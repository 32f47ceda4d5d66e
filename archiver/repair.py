"""Repairing what a killed run left: `.open` WARC files are cut after their last whole record,
closed, and listed in warcs.sha256; manifest lines that point past the cut are fetched again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from archiver.errors import StorageError
from archiver.members import Damage, walk_members
from archiver.verify import file_sha256
from archiver.warc import OPEN_SUFFIX, ClosedWarc


@dataclass(frozen=True)
class Repaired:
    """A WARC file closed on behalf of a dead run: its name and how many bytes were kept."""

    path: str
    kept: int
    cut: int


def _whole_records_end(path: Path) -> int:
    end = 0
    with path.open("rb") as handle:
        for part in walk_members(handle):
            if isinstance(part, Damage):
                break
            end = part.offset + part.length
    return end


def repair_open_warcs(
    directory: Path, root: Path, on_close: Callable[[ClosedWarc], None]
) -> list[Repaired]:
    """Close every `.open` file in `directory`, keeping its whole records and nothing else."""
    repaired: list[Repaired] = []
    if not directory.is_dir():
        return repaired
    for path in sorted(directory.glob("*" + OPEN_SUFFIX)):
        final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
        rel = final.relative_to(root).as_posix()
        try:
            size = path.stat().st_size
            kept = _whole_records_end(path)
            if kept == 0:
                path.unlink()
                repaired.append(Repaired(rel, 0, size))
                continue
            with path.open("rb+") as handle:
                handle.truncate(kept)
            path.rename(final)
        except OSError as exc:
            raise StorageError(f"cannot repair {path}: {exc}", str(path)) from exc
        on_close(ClosedWarc(rel, file_sha256(final), kept))
        repaired.append(Repaired(rel, kept, size - kept))
    return repaired
