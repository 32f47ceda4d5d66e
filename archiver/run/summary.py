"""What `archiver archive` says when a run ends: the plain summary whose numbers add up, and
why `--fail-on-dead` fails it. Pure functions of a RunSummary; sizes in decimal units
(progress.size_text)."""

from __future__ import annotations

from archiver.models import ErrorKind, RunSummary, Status
from archiver.progress import size_text

SELECTED_REFUSED_HINT = (
    "{n} selected links were refused as private addresses (loopback, private, link-local, "
    "reserved); --allow-private or --allow-network CIDR would allow them"
)


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
