"""What `archiver deposit` says: one line per deposits.jsonl line as it is written (`-v`), and
the run's summary as text or as JSON. Pure functions; every URL and message passes through
neutral.for_terminal before it reaches a terminal."""

from __future__ import annotations

from typing import Any

from archiver.deposit.run import DepositSummary
from archiver.neutral import for_terminal


def line_text(line: dict[str, Any]) -> str:
    """The `deposit -v` line of one deposits.jsonl line, safe for a terminal: the status, the
    URL, then the capture URL, the error or the job id."""
    said = line.get("capture_url") or line.get("error") or f"job {line.get('job_id')}"
    return for_terminal(f"{line.get('status', ''):<8} {line.get('url')}  {said}")


def summary_text(summary: DepositSummary) -> str:
    """One line: links due and jobs polled again, what was submitted and how it ended, the
    links deposited before, the pauses the service asked for, and why the run stopped early."""
    counts = summary.counts
    ended = ", ".join(f"{counts[k]} {k}" for k in ("success", "error", "pending") if counts[k])
    text = (
        f"{summary.collection}: {summary.due} links due, {summary.polled} earlier jobs polled; "
        f"submitted {summary.submitted}: {ended or 'nothing ended'}; "
        f"{summary.before} deposited before"
    )
    if summary.waits:
        text += f"; the service asked to wait {summary.waits} times"
    if summary.stopped:
        text += f"; stopped: {summary.stopped}"
    return for_terminal(text)


def summary_json(summary: DepositSummary) -> dict[str, Any]:
    """The summary as a JSON object: collection, due, polled, before, submitted, counts
    (success, error, pending), waits, stopped (null when the run did not stop early), refused."""
    counts = {key: summary.counts[key] for key in ("success", "error", "pending")}
    return summary.__dict__ | {"counts": counts}
