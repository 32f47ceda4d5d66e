"""What `archiver merge` says: its summary as one line of text or as JSON. Pure functions;
the paths in it are neutralised where the line is printed (cli._say)."""

from __future__ import annotations

from typing import Any

from archiver.distributed.merge import MergeSummary


def summary_text(summary: MergeSummary) -> str:
    """One line: parts merged, WARC files brought (moved, copied, already there), URLs given
    a current line and duplicates kept as history, lines skipped; then the parts left (still
    being written) and refused, and the files repaired, when there are any."""
    text = (
        f"{summary.collection}: merged {len(summary.merged)} worker parts; WARC files: "
        f"{summary.moved} moved, {summary.copied} copied, {summary.present} already there; "
        f"{summary.links} links, {summary.duplicates} duplicates kept as history"
    )
    if summary.skipped:
        text += f", {summary.skipped} lines skipped"
    if summary.left:
        text += f"; {len(summary.left)} parts still being written (merge again later)"
    if summary.refused:
        text += f"; {len(summary.refused)} refused: " + "; ".join(summary.refused)
    if summary.repaired:
        text += "; repaired " + ", ".join(summary.repaired)
    return text


def summary_json(summary: MergeSummary) -> dict[str, Any]:
    """The summary as a JSON object: collection, merged, left, refused (lists of part folders,
    refused ones with why), moved, copied, present, links, duplicates, skipped, repaired."""
    return {
        "collection": summary.collection,
        "merged": list(summary.merged),
        "left": list(summary.left),
        "refused": list(summary.refused),
        "moved": summary.moved,
        "copied": summary.copied,
        "present": summary.present,
        "links": summary.links,
        "duplicates": summary.duplicates,
        "skipped": summary.skipped,
        "repaired": list(summary.repaired),
        "ok": summary.ok,
    }
