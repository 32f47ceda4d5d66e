"""Resuming after a killed run: the steps, in the order they run, before anything is fetched.

A run that is killed (SIGKILL, a power cut, a full disk) leaves its WARC files `.open`, may
have closed a file without listing it, and may have written records whose manifest lines it
never wrote. `.inflight` names every WARC file such a run wrote. The next `archive` then:

1. reads `.inflight`: the files of runs that did not finish;
2. closes every `.open` file after its last whole record, and lists it (store.repair);
3. lists the closed files of those runs that warcs.sha256 lacks (closed, then killed);
4. brings the state up to date, and forgets the captures a cut took away (fetched again);
5. adopts the captures whose records are whole in those files but have no manifest line;
6. forgets revisits of records the collection does not hold (their original was cut);
7. releases the payload claims the dead run's workers held (store.dedup).

`.inflight` itself is cleared by the run that follows, once it has finished cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archiver.config import Settings
from archiver.files import is_regular
from archiver.run.adopt import adopt
from archiver.run.plan import Plan
from archiver.store.collection import Collection
from archiver.store.dedup import clear_claims
from archiver.store.entries import with_time
from archiver.store.lines import WARCS
from archiver.store.lock import is_locked
from archiver.store.manifest import Manifest
from archiver.store.readlines import read_warc_sums
from archiver.store.repair import Repaired, list_unlisted, repair_open_warcs
from archiver.store.state import CollectionState


@dataclass(frozen=True)
class Resumed:
    """What resuming did: the `.open` files it closed (step 2), the closed files it listed
    late (step 3, paths relative to the output folder), and the captures it adopted (step 5,
    their URLs)."""

    repaired: tuple[Repaired, ...]
    late: tuple[str, ...]
    adopted: tuple[str, ...]

    def lines(self) -> tuple[str, ...]:
        """One line per file repaired or listed, as the run's summary shows them."""
        return tuple(
            f"{fixed.path} (kept {fixed.kept} bytes, cut {fixed.cut})" for fixed in self.repaired
        ) + tuple(f"{path} (closed but never listed; listed now)" for path in self.late)


def resume(plan: Plan, state: CollectionState, settings: Settings, manifest: Manifest) -> Resumed:
    """Run the steps of the module docstring, in order, on the collection of `settings`.
    Raises StorageError when a WARC file cannot be repaired or listed."""
    unfinished = manifest.inflight()
    repaired = close_open_warcs(settings, manifest)
    late = list_late_warcs(settings, manifest, unfinished)
    state.sync()
    forget_cut_captures(state, repaired)
    adopted = adopt_unlisted(plan, state, settings, manifest, unfinished)
    state.forget(state.dangling_revisits())
    clear_claims(state.db)
    return Resumed(tuple(repaired), tuple(late), tuple(adopted))


def close_open_warcs(settings: Settings, manifest: Manifest) -> list[Repaired]:
    """Step 2: every `.open` WARC file of the collection cut after its last whole record,
    closed and listed in warcs.sha256 (a file with whole records after damage is also kept
    whole as `NAME.damaged`)."""
    collection = Collection.named(settings)
    writing = live_worker_tags(collection.parts_dir)
    return repair_open_warcs(
        collection.warc_dir,
        settings.out,
        manifest.append_warc,
        lambda path: path.name.removesuffix(".warc.gz.open").endswith(writing),
    )


def live_worker_tags(parts: Path) -> tuple[str, ...]:
    """`-<machine>-<worker>` of every part a live distributed worker holds (its lock taken):
    the end of its WARC files' names, which are never repaired under it."""
    if not parts.is_dir():
        return ()
    return tuple(f"-{part.name}" for part in sorted(parts.iterdir()) if is_locked(part))


def list_late_warcs(settings: Settings, manifest: Manifest, unfinished: list[str]) -> list[str]:
    """Step 3: list the closed files among `unfinished` (paths relative to the output folder)
    that warcs.sha256 lacks; return them."""
    listed = read_warc_sums(Collection.named(settings).manifest_dir / WARCS)
    return list_unlisted(settings.out, unfinished, listed, manifest.append_warc)


def forget_cut_captures(state: CollectionState, repaired: list[Repaired]) -> None:
    """Step 4: forget the captures whose records a repair cut off (they are fetched again)."""
    for fixed in repaired:
        state.forget_cut(fixed.path, fixed.kept)


def adopt_unlisted(
    plan: Plan,
    state: CollectionState,
    settings: Settings,
    manifest: Manifest,
    unfinished: list[str],
) -> list[str]:
    """Step 5: a manifest line for each capture that runs which did not finish wrote but had
    not listed: in every file they wrote, closed or repaired, since a file can close (rotation,
    repair) before the manifest line of its last records is written. Returns their URLs."""
    out = settings.out
    warc_files = sorted({rel for rel in unfinished if is_regular(out / rel)})
    if not warc_files:
        return []
    found = adopt(out, warc_files, plan, state, settings.roles, settings.max_redirects)
    for entry in found:
        manifest.append_link(with_time(entry))
    state.sync()
    return [entry.url for entry in found]
