"""Progress displays: a live rich bar on a terminal, and the plain one-paragraph summary."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from archiver.models import RunSummary, Status

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID


class LiveProgress:
    """documents, links done/total, archived/dead/failed, bytes and rate, redrawn in place."""

    def __init__(self, console: Console) -> None:
        # rich is imported here: a run without a terminal should not pay for it
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task: TaskID | None = None
        self._counts: Counter[str] = Counter()
        self._bytes = 0

    def start(self, documents: int, total: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task(f"{documents} documents", total=total, counts="")

    def advance(self, status: Status, size: int) -> None:
        self._counts[status.value] += 1
        self._bytes += size
        counts = " ".join(f"{key} {self._counts[key]}" for key in ("archived", "dead", "failed"))
        if self._task is not None:
            self._progress.update(
                self._task, advance=1, counts=f"{counts} {_size(self._bytes)}", completed=None
            )

    def finish(self) -> None:
        self._progress.stop()


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def summary_text(summary: RunSummary) -> str:
    """A plain summary for logs and non-terminal output."""
    counts = ", ".join(f"{summary.counts.get(s.value, 0)} {s.value}" for s in Status)
    lines = [
        f"collection {summary.collection}: {summary.documents} documents, "
        f"{summary.links_found} links found, {summary.links_selected} selected",
        f"links: {counts}",
        f"fetched {summary.fetched} URLs, {_size(summary.bytes_fetched)} "
        f"in {summary.seconds:.1f} s",
    ]
    lines.extend(f"repaired {text}, left by an interrupted run" for text in summary.repaired)
    lines.extend(f"wrote {path}" for path in summary.warc_files)
    return "\n".join(lines)
