"""Progress displays: a live rich bar on a terminal, one line per link (`-v`), and the plain
summary of a run whose numbers add up on screen.

Sizes and rates are in decimal units (1 KB = 1000 bytes), as `ls -h --si` and rsync show them.
Every URL and error printed comes from untrusted documents or servers, so it passes through
archiver.neutral.for_terminal first.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from archiver.models import ErrorKind, RunSummary, Status
from archiver.neutral import for_terminal

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import ProgressColumn, TaskID

SELECTED_REFUSED_HINT = (
    "{n} selected links were refused as private addresses (loopback, private, link-local, "
    "reserved); --allow-private or --allow-network CIDR would allow them"
)


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


def check_text(line: dict[str, Any]) -> str:
    """The `recheck -v` line of one checks.jsonl line, safe for a terminal: live, not live,
    came back or not checked; the URL; then why (the error or skip reason) or what changed."""
    live, changed = line.get("live"), line.get("changed")
    state = "not checked" if live is None else "live" if live else "not live"
    if live is True and line.get("link_status") == Status.DEAD.value:
        state = "came back"
    said = "" if changed is None else "changed" if changed else "unchanged"
    said = line.get("error") or line.get("skipped") or said
    if line.get("capture"):
        said += "; captured"
    return for_terminal(f"{state:<11} {line.get('url')}  {said}")


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
        self._progress.start()
        self._task = self._progress.add_task(
            f"{documents} documents", total=total, counts="", bytes=0
        )

    def advance(self, status: Status, size: int, url: str = "", error: str | None = None) -> None:
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
        self._progress.stop()


class LinkLines:
    """`-v` without a live bar (stderr not a terminal): one line per link, written with
    `write` (a function taking one line) as each link ends."""

    def __init__(self, write: Callable[[str], object]) -> None:
        self._write = write

    def start(self, documents: int, total: int) -> None:
        return None

    def advance(self, status: Status, size: int, url: str = "", error: str | None = None) -> None:
        self._write(link_line(status, url, size, error))

    def finish(self) -> None:
        return None


def summary_text(summary: RunSummary) -> str:
    """A plain summary for logs and non-terminal output. Each line is one total split into
    its parts, so that the numbers add up: link occurrences -> unique URLs -> selected ->
    outcomes."""
    counts = summary.counts
    selected = summary.links_selected
    outcomes = [f"{counts.get(s.value, 0)} {s.value}" for s in Status if s != Status.SKIPPED]
    skipped_selected = counts.get(Status.SKIPPED.value, 0) - summary.not_selected
    why = ", ".join(f"{kind} {n}" for kind, n in sorted(summary.skipped_reasons.items()))
    outcomes.append(f"{skipped_selected} skipped" + (f" ({why})" if why else ""))
    roles = ", ".join(summary.roles)
    kept = selected - summary.fetched
    lines = [
        f"collection {summary.collection}: {summary.documents} documents",
        f"{summary.links_found} links found (each occurrence in each document) = "
        f"{summary.urls} unique URLs + {summary.links_found - summary.urls} others "
        "(repeats of a URL; data:, mailto:, empty and relative links, never fetched)",
        f"{summary.urls} unique URLs = {selected} selected (roles {roles}) + "
        f"{summary.not_selected} skipped (role not selected)",
        f"{selected} selected = " + " + ".join(outcomes),
        f"fetched {summary.fetched} URLs this run ({kept} kept as earlier runs left them), "
        f"{size_text(summary.bytes_fetched)} in {summary.seconds:.1f} s",
    ]
    refused = summary.skipped_reasons.get(ErrorKind.PRIVATE_ADDRESS, 0)
    if refused:
        lines.append(SELECTED_REFUSED_HINT.format(n=refused))
    lines.extend(f"repaired {text}, left by an interrupted run" for text in summary.repaired)
    lines.extend(f"wrote {path}" for path in summary.warc_files)
    return "\n".join(lines)


def fail_on_dead_text(summary: RunSummary) -> str | None:
    """Why `--fail-on-dead` exits 1 ("3 dead, 1 failed"), or None when it does not."""
    dead = summary.counts.get(Status.DEAD.value, 0)
    failed = summary.counts.get(Status.FAILED.value, 0)
    if not dead + failed:
        return None
    return f"--fail-on-dead: {dead} dead and {failed} failed of {summary.links_selected} selected"
