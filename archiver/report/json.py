"""The report as JSON: the whole ReportData as data, for scripts (`report --format json`).

Strings are written as they are (JSON escapes what it must); `archiver report` passes the text
through neutral.json_for_terminal before it reaches a terminal.
"""

from __future__ import annotations

import json
from typing import Any

from archiver.report.model import DocumentView, LinkRow, ReportData


def link_json(link: LinkRow) -> dict[str, Any]:
    """One link's current state and its latest recheck (or None), as a JSON object."""
    check = link.latest_check
    return {
        "url": link.url,
        "role": link.role,
        "status": link.status,
        "http_status": link.http_status,
        "error": link.error,
        "documents": list(link.documents),
        "fetched_at": link.fetched_at,
        "host": link.host,
        "lost_at_origin": link.lost_at_origin,
        "died_at": link.died_at,
        "came_back": link.came_back,
        "tls_error": link.tls_error,
        "captured_at": link.captured_at,
        "recovered": link.recovered,
        "recovered_from": link.recovered_from,
        "recovered_at": link.recovered_at,
        "memento_url": link.memento_url,
        "latest_check": None
        if check is None
        else {
            "checked_at": check.checked_at,
            "live": check.live,
            "http_status": check.http_status,
            "error": check.error,
            "changed": check.changed,
            "skipped": check.skipped,
            "captured": check.captured,
            "verdict": check.verdict,
        },
    }


def _document_json(view: DocumentView) -> dict[str, Any]:
    return {
        "path": view.path,
        "title": view.title,
        "source_url": view.source_url,
        "links": view.total,
        "archived": view.archived,
        "lost_at_origin": [
            {"url": link.url, "died_at": link.died_at} for link in view.lost_at_origin
        ],
        "recovered": [
            {"url": link.url, "archive": link.recovered_from, "memento_datetime": link.recovered_at}
            for link in view.recovered
        ],
        "lost": [
            {"url": link.url, "status": link.status, "error": link.error} for link in view.lost
        ],
    }


def report_json(data: ReportData) -> dict[str, Any]:
    """The whole report as a JSON object: totals (links lost at the origin but safe in the
    collection's captures, recovered from web archives by archive, and lost everywhere among
    them), hosts, documents, rot, links, problems."""
    by_role = {role: sum(row.values()) for role, row in data.role_status().items()}
    return {
        "collection": data.collection,
        "as_of": data.as_of,
        "totals": {
            "links": len(data.links),
            "documents": len(data.documents),
            "lost_at_origin": len(data.lost_at_origin),
            "recovered": len(data.recovered),
            "recovered_by_archive": data.recovered_by_archive(),
            "lost": len(data.lost),
            "came_back": len(data.came_back),
            "rechecks": data.recheck_counts(),
            "unverified": len(data.unverified),
            "by_status": data.status_counts(),
            "by_role": by_role,
            "by_role_status": data.role_status(),
        },
        "hosts": [
            {"host": h.host, "dead": h.dead, "failed": h.failed, "errors": list(h.errors)}
            for h in data.hosts
        ],
        "documents": [_document_json(view) for view in data.documents],
        "rot": [point.__dict__ for point in data.rot],
        "links": [link_json(link) for link in data.links],
        "problems": list(data.problems),
    }


def render_json(data: ReportData) -> str:
    """The report as JSON text (UTF-8 characters kept, indented by 2), ending in a newline."""
    return json.dumps(report_json(data), ensure_ascii=False, indent=2) + "\n"
