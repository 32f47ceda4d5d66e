"""What `archiver verify` prints: each problem, the notes with `-v`, and one closing line of
totals. Lines are returned unneutralised; the command line escapes each as it prints it."""

from __future__ import annotations

from archiver.verify.fixity import VerifyReport


def report_lines(report: VerifyReport, notes: bool, totals: bool) -> list[str]:
    """The problems, one line each; then the notes (`note: ...`) when `notes`; then, when
    `totals`, the files, records and manifest entries checked and the verdict."""
    lines = [str(problem) for problem in report.problems]
    lines += [f"note: {note}" for note in report.notes] if notes else []
    if totals:
        state = "OK" if report.ok else f"{len(report.problems)} problem(s)"
        what = "sizes and counts only (--fast)" if report.fast else "checked"
        lines.append(
            f"{report.collection}: {report.warc_files} WARC files, {report.records} "
            f"records, {report.entries} manifest entries {what}: {state}"
        )
    return lines
