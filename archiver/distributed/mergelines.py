"""The link lines of `archiver merge`: the parts' lines combined into the collection's
links.jsonl with one current line per URL (at-least-once delivery may bring a URL twice).

Of the parts' current lines of a URL and the collection's current line of it, ONE is kept: a
captured (archived) line over any other, the earliest fetched among captured ones, the latest
decided (checked_at) among others; on a tie, the collection's line, then the first part's. The
parts' other lines of that URL are written first, so history keeps every duplicate, and the
kept one last: the current line (the collection's own, written again after them when it is
the one kept). A URL whose current line already is one of the parts' lines was merged by a
merge killed before it marked the part, and is left as it is.
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
    if line.status is Status.ARCHIVED:
        moment = utc_time(line.fetched_at)
        return 0, moment.timestamp() if moment else float("inf")
    moment = utc_time(line.checked_at or line.fetched_at)
    return 1, -moment.timestamp() if moment else float("inf")


def combine(
    manifest_dir: Path, parts: Iterable[list[LinkLine]], append: Callable[[dict[str, Any]], None]
) -> tuple[int, int]:
    """Write the lines of `parts` (each part's lines, oldest first) through `append` (the
    collection's Manifest.append_link), given the current lines of the collection's manifest
    folder `manifest_dir`; return the URLs given a current line and the lines written as
    history beside them."""
    by_url: dict[str, list[list[LinkLine]]] = {}
    for lines in parts:
        own: dict[str, list[LinkLine]] = {}
        for line in lines:
            own.setdefault(line.url, []).append(line)
        for url, group in own.items():
            by_url.setdefault(url, []).append(group)
    current = current_links(manifest_dir)
    links = duplicates = 0
    for url, groups in by_url.items():
        written = write_url(current.get(url), groups, append)
        links += written > 0
        duplicates += max(0, written - 1)
    return links, duplicates


def write_url(
    existing: LinkLine | None,
    groups: list[list[LinkLine]],
    append: Callable[[dict[str, Any]], None],
) -> int:
    """Write one URL's lines: `groups` holds each part's lines of it (oldest first),
    `existing` the collection's current line of it; the kept one last. Returns how many lines
    were written (none when a part's line is already current)."""
    every = [line for lines in groups for line in lines]
    if existing is not None and any(line.as_read == existing.as_read for line in every):
        return 0
    candidates = ([existing] if existing is not None else []) + [lines[-1] for lines in groups]
    kept = min(candidates, key=kept_first)
    history = [line for line in every if line is not kept]
    for line in [*history, kept]:
        append(dict(line.as_read))
    return len(history) + 1
