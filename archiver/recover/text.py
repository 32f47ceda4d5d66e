"""What `archiver recover` says: one line per link as it is looked up (`-v`), and the summary as
text or as JSON. Pure functions; every URL and error passes through neutral.for_terminal
before it reaches a terminal (the summary's line is neutralised where it is printed)."""

from __future__ import annotations

from typing import Any

from archiver.neutral import for_terminal
from archiver.recover.command import RecoverSummary


def link_text(line: dict[str, Any]) -> str:
    """The `recover -v` line of one recoveries.jsonl line, safe for a terminal: recovered (with
    the archive and the capture's datetime) or not, the URL, and why not."""
    if line.get("recovered"):
        said = f"{line.get('archive')} {line.get('memento_datetime')}"
        return for_terminal(f"{'recovered':<13} {line.get('url')}  {said}")
    return for_terminal(f"{'not recovered':<13} {line.get('url')}  {line.get('error')}")


def summary_text(summary: RecoverSummary) -> str:
    """One line: the links asked about, those recovered (by archive, most first), those no
    archive holds, those that failed (by reason) and the bytes stored."""
    if not summary.asked:
        return f"{summary.collection}: no lost link is due for recovery"
    by_archive = ", ".join(f"{n} from {k}" for k, n in summary.archives.most_common())
    why = ", ".join(f"{k} {n}" for k, n in summary.reasons.most_common())
    return (
        f"{summary.collection}: asked about {summary.asked} lost links: "
        f"{summary.recovered} recovered"
        + (f" ({by_archive})" if by_archive else "")
        + f", {summary.not_found} in no archive, {summary.failed} failed"
        + (f" (why: {why})" if why else "")
        + f"; stored {summary.bytes_stored} bytes"
    )


def summary_json(summary: RecoverSummary) -> dict[str, Any]:
    """The summary as a JSON object: collection, asked, recovered, not_found, failed,
    bytes_stored, archives (recovered by archive), reasons (failed by kind)."""
    return summary.__dict__ | {"archives": dict(summary.archives), "reasons": dict(summary.reasons)}
