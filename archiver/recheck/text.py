"""What `archiver recheck` says: one line per check as it is made (`-v`), and the run's summary
as text or as JSON. Pure functions; every URL and error passes through neutral.for_terminal
before it reaches a terminal (the summary's line is neutralised where it is printed)."""

from __future__ import annotations

from typing import Any

from archiver.models import Status
from archiver.neutral import for_terminal
from archiver.recheck.check import RecheckSummary


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


def summary_text(summary: RecheckSummary) -> str:
    """One line: the links checked, the counts by verdict, why links were not live or not
    checked (most common first) and the captures stored."""
    counts = ", ".join(f"{n} {k}" for k, n in sorted(summary.counts.items())) or "nothing due"
    why = ", ".join(f"{k} {n}" for k, n in summary.reasons.most_common())
    return (
        f"{summary.collection}: checked {summary.checked} links: {counts}"
        + (f" (why: {why})" if why else "")
        + f"; captured {summary.captured}"
    )


def summary_json(summary: RecheckSummary) -> dict[str, Any]:
    """The summary as a JSON object: collection, checked, counts, reasons, captured."""
    tallies = {"counts": dict(summary.counts), "reasons": dict(summary.reasons)}
    return summary.__dict__ | tallies
