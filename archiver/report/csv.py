"""The report as CSV (RFC 4180, csv.writer's dialect): one row per link, CSV_FIELDS as header.

Every cell is neutralised (neutral.csv_cell: a cell a spreadsheet would run as a formula,
`=HYPERLINK(...)`, starts with `'`); a link's documents are joined with DOCUMENT_SEPARATOR.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from archiver.neutral import csv_cell
from archiver.report.model import ReportData

CSV_FIELDS = (
    "url",
    "role",
    "status",
    "http_status",
    "error",
    "documents",
    "fetched_at",
    "check_live",
    "check_changed",
    "check_verdict",
    "check_error",
    "checked_at",
    "died_at",
    "tls_error",
    "recovered_from",
    "recovered_at",
    "memento_url",
)
DOCUMENT_SEPARATOR = " | "


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else csv_cell(str(value))


def render_csv(data: ReportData) -> str:
    """The report as CSV text: the CSV_FIELDS header, then one row per link (CRLF ends)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(map(csv_cell, CSV_FIELDS))
    for link in data.links:
        check = link.latest_check
        writer.writerow(
            _cell(value)
            for value in (
                link.url,
                link.role,
                link.status,
                link.http_status,
                link.error,
                DOCUMENT_SEPARATOR.join(link.documents),
                link.fetched_at,
                check and check.live,
                check and check.changed,
                check and check.verdict,
                check and check.error,
                check and check.checked_at,
                link.died_at,
                link.tls_error,
                link.recovered_from,
                link.recovered_at,
                link.memento_url,
            )
        )
    return out.getvalue()
