"""A worker's part: the manifest folder one worker session writes, beside the WARC files it
writes into the collection's WARC folder, until `archiver merge` brings it into the collection.

    OUT/warcs/NAME/NAME-...-<machine>-<worker>.warc.gz(.open)   the session's WARC files
    OUT/parts/NAME/<machine>-<worker>/     links.jsonl, warcs.sha256, warcs.jsonl, .inflight
                                           (a store.manifest.Manifest folder), .lock (flock
                                           held by the live session, its pid inside),
                                           payloads.sqlite, part.json
    OUT/parts/NAME/<machine>-<worker>.merged/   the same folder once merged

A part is live while its session holds the lock (fcntl.flock dies with the process, so a
killed worker's part is dead at once). A dead part is closed as a killed `archive` run is
resumed (store.repair): the `.open` files its `.inflight` names, and only those (other
workers share the WARC folder), are cut after their last whole record, closed and listed in
the part's own warcs.sha256.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from archiver import __version__
from archiver.errors import StorageError
from archiver.files import kind, open_fd
from archiver.store.collection import PARTS_FOLDER, WARC_FOLDER, check_collection
from archiver.store.lines import WARCS
from archiver.store.lock import LOCK_NAME, is_locked
from archiver.store.manifest import Manifest
from archiver.store.readlines import read_warc_sums
from archiver.store.repair import Repaired, list_unlisted, repair_open_warc
from archiver.store.writer import OPEN_SUFFIX, hostname

MERGED_SUFFIX = ".merged"
PART_INFO = "part.json"
LOG = logging.getLogger("archiver")


@dataclass(frozen=True)
class Part:
    """One worker session's part folder `path` (OUT/parts/NAME/<machine>-<worker>) of
    collection `collection`, under the output root `out` whose warcs/NAME/ holds its WARC
    files (link lines name them `warcs/NAME/FILE`, relative to `out`)."""

    path: Path
    out: Path
    collection: str

    @property
    def name(self) -> str:
        """The folder's name: `<machine>-<worker>`."""
        return self.path.name

    @property
    def warc_dir(self) -> Path:
        """OUT/warcs/NAME: where the part's WARC files are (shared with other workers)."""
        return self.out / WARC_FOLDER / self.collection

    def manifest(self) -> Manifest:
        """The part's manifest, reading WARC paths of its collection (the folder's name is
        not the collection's). Cuts torn last lines: only for a part no one writes."""
        return Manifest(self.path, collection=self.collection)


def parts_dir(out: Path, collection: str) -> Path:
    """OUT/parts/NAME: the part folders of collection `collection` under `out`."""
    return out / PARTS_FOLDER / check_collection(collection)


def new_worker_id() -> str:
    """A worker session's id, `<pid>x<4 hex digits>`: two sessions on one machine (even with
    a pid used again) never share a part folder or a WARC file name."""
    return f"{os.getpid()}x{secrets.token_hex(2)}"


class PartLock:
    """The flock (LOCK_EX) on a part's `.lock`, holding the part for this process (the live
    session, or `merge` while it merges the part). Released by `release` or on leaving a
    `with` block; a killed process's lock is released by the kernel."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def take(cls, folder: Path) -> PartLock | None:
        """The lock of part folder `folder` taken at once, its pid written; None when another
        process holds it. Raises StorageError when the lock file cannot be opened."""
        try:
            fd = open_fd(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT)
        except OSError as exc:
            raise StorageError(f"cannot open lock {folder / LOCK_NAME}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return cls(fd)

    def release(self) -> None:
        """Let the part go (safe to call more than once)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> PartLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def create_part(out: Path, collection: str, run: str, worker: str) -> tuple[Part, PartLock]:
    """A new part folder OUT/parts/NAME/<machine>-<worker> for a worker session of run `run`
    (`worker` from new_worker_id), with part.json written and its lock held. The folder is
    made under a hidden name and renamed once locked, so no one ever sees it unlocked (and
    merges it while it starts). Raises StorageError when it cannot be made or exists."""
    parent = parts_dir(out, collection)
    name = f"{hostname()}-{worker}"
    final, making = parent / name, parent / f".{name}.new"
    try:
        making.mkdir(parents=True)
    except OSError as exc:
        raise StorageError(f"cannot create part {final}: {exc}") from exc
    lock = PartLock.take(making)
    if lock is None:
        raise StorageError(f"cannot lock the new part {making}")
    info = {"collection": collection, "run": run, "machine": hostname(), "worker": worker}
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    info |= {"version": __version__, "started_at": started}
    try:
        (making / PART_INFO).write_text(json.dumps(info) + "\n", encoding="utf-8")
        if kind(final) is not None:
            raise FileExistsError(f"{final.name} exists")
        making.rename(final)
    except OSError as exc:
        lock.release()
        raise StorageError(f"cannot create part {final}: {exc}") from exc
    return Part(final, out, collection), lock


def live(part: Part) -> bool:
    """True when a live process holds the part's lock (its session, or a merge)."""
    return is_locked(part.path)


def find_parts(out: Path, collection: str) -> list[Part]:
    """The parts of `collection` under `out` not yet merged (no `.merged` suffix), live or
    dead, by name; a hidden folder (a part being created) or a link is none."""
    parent = parts_dir(out, collection)
    if kind(parent) != "folder":
        return []
    return [
        Part(path, out, collection)
        for path in sorted(parent.iterdir())
        if not path.name.startswith(".")
        and not path.name.endswith(MERGED_SUFFIX)
        and kind(path) == "folder"
    ]


def close_dead_part(part: Part, *, held: PartLock | None = None) -> list[Repaired]:
    """Close what the dead session of `part` left (as run.resume does for a collection): its
    manifest files' torn last lines cut; each `.open` WARC file its `.inflight` names cut after
    its last whole record, closed and listed in the part's warcs.sha256; each closed one it
    never listed, listed (returned with `cut` 0). The part's lock is taken for the while
    (`held`: the caller holds it already); a live part is left untouched and [] returned.
    Raises StorageError when a file cannot be repaired or listed."""
    lock = held or PartLock.take(part.path)
    if lock is None:
        return []
    manifest = part.manifest()
    try:
        written = manifest.inflight()
        repaired = _repair_named(part, written, manifest)
        listed = read_warc_sums(part.path / WARCS, manifest.repairs, collection=part.collection)
        late = list_unlisted(part.out, written, listed, manifest.append_warc)
        repaired += [Repaired(rel, (part.out / rel).stat().st_size, 0) for rel in late]
        for problem in manifest.repairs:
            LOG.warning(problem)
    finally:
        manifest.close()
        if held is None:
            lock.release()
    return repaired


def _repair_named(part: Part, written: list[str], manifest: Manifest) -> list[Repaired]:
    """Repair the `.open` files of the WARC files named in `written` (paths under part.out)."""
    repaired = []
    for rel in dict.fromkeys(written):
        path = part.out / (rel + OPEN_SUFFIX)
        if kind(path) is None:
            continue
        fixed = repair_open_warc(path, part.out, manifest.append_warc)
        if fixed is not None:
            repaired.append(fixed)
    return repaired
