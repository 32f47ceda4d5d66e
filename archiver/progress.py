"""Progress displays of an archive run: a live rich bar on a terminal, one line per link
(`-v`), or nothing; `choose_progress` picks one as the command line's options ask.

Sizes and rates are in decimal units (1 KB = 1000 bytes), as `ls -h --si` and rsync show them.
Every URL and error printed comes from untrusted documents or servers, so it passes through
archiver.neutral.for_terminal first.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from archiver.models import Status
from archiver.neutral import for_terminal

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import ProgressColumn, TaskID


def size_text(count: float) -> str:
    """`count` bytes in decimal units: "512 B", "2.5 MB"."""
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover - the loop returns at GB


def rates_text(links: int, size: int, seconds: float | None) -> str:
    """Both rates of a run so far, each with its unit: "5.0 links/s 100.0 KB/s"."""
    if not seconds or seconds <= 0:
        return "- links/s - B/s"
    return f"{links / seconds:.1f} links/s {size_text(size / seconds)}/s"


def link_line(status: Status, url: str, size: int, error: str | None) -> str:
    """The `-v` line of one link, safe for a terminal: status, URL, then error or size."""
    said = error if error else size_text(size)
    return for_terminal(f"{status.value:<8} {url}  {said}")


def _rates_column() -> ProgressColumn:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Rates(ProgressColumn):
        """Links per second and bytes per second since the start, recomputed at each redraw."""

        def render(self, task: Any) -> Text:
            return Text(rates_text(int(task.completed), task.fields["bytes"], task.elapsed))

    return Rates()


class LiveProgress:
    """documents, links done/total, archived/dead/failed, bytes, both rates, redrawn in place;
    with `verbose`, each link's line printed above the bar as it ends (rich keeps the bar last).
    `clock` gives seconds (time.monotonic; tests pass their own)."""

    def __init__(
        self,
        console: Console,
        verbose: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # rich is imported here: a run without a terminal should not pay for it
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            _rates_column(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            get_time=clock,
        )
        self._verbose = verbose
        self._task: TaskID | None = None
        self._counts: Counter[str] = Counter()
        self._bytes = 0

    def start(self, documents: int, total: int) -> None:
        """Show the bar: `documents` read, `total` links to go."""
        self._progress.start()
        self._task = self._progress.add_task(
            f"{documents} documents", total=total, counts="", bytes=0
        )

    def advance(self, status: Status, size: int, url: str = "", error: str | None = None) -> None:
        """One link ended: count its status and its `size` bytes; print its line with -v."""
        self._counts[status.value] += 1
        self._bytes += size
        if self._verbose:
            self._progress.console.print(
                link_line(status, url, size, error), markup=False, highlight=False, soft_wrap=True
            )
        counts = " ".join(f"{key} {self._counts[key]}" for key in ("archived", "dead", "failed"))
        if self._task is not None:
            shown = f"{counts} {size_text(self._bytes)}"
            self._progress.update(self._task, advance=1, counts=shown, bytes=self._bytes)

    def finish(self) -> None:
        """Take the bar off the screen (the summary follows)."""
        self._progress.stop()


class LinkLines:
    """`-v` without a live bar (stderr not a terminal): one line per link, written with
    `write` (a function taking one line) as each link ends."""

    def __init__(self, write: Callable[[str], object]) -> None:
        self._write = write

    def start(self, documents: int, total: int) -> None:
        """Nothing to show before the first link ends."""

    def advance(self, status: Status, size: int, url: str = "", error: str | None = None) -> None:
        """Write the line of the link that ended (progress.link_line)."""
        self._write(link_line(status, url, size, error))

    def finish(self) -> None:
        """Nothing to take down."""


def choose_progress(
    verbose: bool, quiet: bool, as_json: bool, write: Callable[[str], object]
) -> LiveProgress | LinkLines | None:
    """The live bar on a terminal stderr (with each link's line above it when `verbose`); the
    links' lines alone, passed to `write`, when `verbose` elsewhere; None (nothing shown) with
    `quiet`, which wins over `verbose`."""
    if quiet:
        return None
    if sys.stderr.isatty() and not as_json:
        from rich.console import Console

        return LiveProgress(Console(stderr=True), verbose=verbose)
    return LinkLines(write) if verbose else None
