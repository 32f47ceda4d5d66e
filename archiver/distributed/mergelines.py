"""The link lines of `archiver merge`: the parts' lines combined into the collection's
links.jsonl with one current line per URL (at-least-once delivery may bring a URL twice, and a
batch retried in the same session may write it twice into one part).

Every line of every part for a URL is a candidate, and so is the collection's current line of
it; ONE is kept: a captured (archived) line over any other, the latest fetched among captured
ones (a refresh or a redelivery each holds a whole capture: the newest is current), the latest
decided (checked_at) among others; on a tie, the collection's line, then the first part's
(oldest line first). The parts' other lines of that URL are written first, so history keeps
every duplicate, and the kept one last: the current line (the collection's own, written again
after them when it is the one kept). When the collection's current line already IS the line
the parts would keep (the same capture: same WARC file and offset, or the same JSON), a merge
killed before it marked the part wrote it, and nothing is written; a merge killed between a
URL's history lines and its kept line left another current line, and the URL is written again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from archiver.distributed.parts import Part
from archiver.models import Status
from archiver.store.lines import LINKS, utc_time
from archiver.store.linetypes import LinkLine
from archiver.store.readlines import current_links, read_links, warn

LOG = logging.getLogger("archiver")


def part_lines(part: Part, sizes: dict[str, int]) -> tuple[list[LinkLine], int]:
    """The checked lines of the part's links.jsonl whose record lies in a WARC file the part
    brought (`sizes`: path relative to the output root -> bytes), and how many were skipped:
    bad lines (reported as `FILE:N: why`) and lines whose record is not there (cut off when a
    dead worker's file was repaired), each warned."""
    path = part.path / LINKS
    lines, problems = read_links(path, part.collection)
    warn(problems)
    found = []
    for line in lines:
        pointer = line.pointer
        if pointer is not None and pointer.end > sizes.get(pointer.warc_file, -1):
            problems.append(line.url)
            LOG.warning(
                f"{path}: {line.url}: its record in {pointer.warc_file} is not there "
                "(cut off when a dead worker's file was repaired); line skipped"
            )
            continue
        found.append(line)
    return found, len(problems)


def kept_first(line: LinkLine) -> tuple[int, float]:
    """Sort key of a URL's candidate lines: the least is the one kept (see the module)."""
    captured = line.status is Status.ARCHIVED
    moment = utc_time(line.fetched_at if captured else line.checked_at or line.fetched_at)
    return (0 if captured else 1), -moment.timestamp() if moment else float("inf")


def same_capture(one: LinkLine, other: LinkLine) -> bool:
    """True when two lines state the same capture: the same record (WARC file and offset),
    or, for lines with none, the same JSON."""
    if one.warc_file is not None and one.warc_offset is not None:
        return (one.warc_file, one.warc_offset) == (other.warc_file, other.warc_offset)
    return one.as_read == other.as_read


def combine(
    manifest_dir: Path, parts: Iterable[list[LinkLine]], append: Callable[[dict[str, Any]], None]
) -> tuple[int, int]:
    """Write the lines of `parts` (each part's lines, oldest first) through `append` (the
    collection's Manifest.append_link), given the current lines of the collection's manifest
    folder `manifest_dir`; return the URLs given a current line and the lines written as
    history beside them."""
    by_url: dict[str, list[LinkLine]] = {}
    for lines in parts:
        for line in lines:
            by_url.setdefault(line.url, []).append(line)
    current = current_links(manifest_dir)
    links = duplicates = 0
    for url, candidates in by_url.items():
        written = write_url(current.get(url), candidates, append)
        links += written > 0
        duplicates += max(0, written - 1)
    return links, duplicates


def write_url(
    existing: LinkLine | None,
    lines: list[LinkLine],
    append: Callable[[dict[str, Any]], None],
) -> int:
    """Write one URL's lines: `lines` holds every part's lines of it (part by part, oldest
    first), `existing` the collection's current line of it; the kept one last. Returns how
    many lines were written (none when the line the parts would keep is already current)."""
    if not lines:
        return 0
    best = min(lines, key=kept_first)
    if existing is not None and same_capture(existing, best):
        return 0
    kept = best
    if existing is not None and kept_first(existing) <= kept_first(best):
        kept = existing
    history = [line for line in lines if line is not kept]
    for line in [*history, kept]:
        append(dict(line.as_read))
    return len(history) + 1
