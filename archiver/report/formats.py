"""Every report format in one registry: name -> renderer, file suffix and media type.

`archiver report --format` offers exactly these names. A new format is one module with a
function ReportData -> str, and one line in FORMATS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from archiver.errors import InputError
from archiver.report.csv import render_csv
from archiver.report.html import render_html
from archiver.report.json import render_json
from archiver.report.markdown import render_md
from archiver.report.model import ReportData


@dataclass(frozen=True)
class ReportFormat:
    """One way to write a report: `render` turns ReportData into the whole text, written to a
    file named `*.{suffix}` and served as `media_type` (IANA media type, with its charset)."""

    name: str
    render: Callable[[ReportData], str]
    suffix: str
    media_type: str


FORMATS: dict[str, ReportFormat] = {
    "html": ReportFormat("html", render_html, "html", "text/html; charset=utf-8"),
    "md": ReportFormat("md", render_md, "md", "text/markdown; charset=utf-8"),
    "csv": ReportFormat("csv", render_csv, "csv", "text/csv; charset=utf-8"),
    "json": ReportFormat("json", render_json, "json", "application/json"),
}
"""The report formats by name, the command line's default (html) first."""


def render(data: ReportData, fmt: str) -> str:
    """The report as text in the format named `fmt`, one of FORMATS. Raises InputError for
    another name."""
    found = FORMATS.get(fmt)
    if found is None:
        raise InputError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    return found.render(data)
