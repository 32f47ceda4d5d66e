"""The report as Markdown (CommonMark with GitHub's tables).

Every untrusted string is escaped: URLs go in code spans (a captured one followed by a
`[capture](<REPLAY URL>)` link, percent-encoded so that no `<`, `>`, `|`, space or control
character stays in it), other text has its HTML and Markdown punctuation escaped, so a title
such as `<img onerror=...>` stays text; control and bidi characters are written as visible
escapes (neutral.for_terminal).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from archiver.neutral import for_terminal
from archiver.report.csv import DOCUMENT_SEPARATOR
from archiver.report.model import UNVERIFIED_TITLE, DocumentView, ReportData

MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#!<>&])")
MD_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


def md_text(text: str | None) -> str:
    """Plain text for Markdown: HTML and Markdown punctuation escaped, one line."""
    if not text:
        return "—"
    one_line = for_terminal(" ".join(text.split()))
    return MD_SPECIAL.sub(lambda m: MD_ENTITIES.get(m[1], "\\" + m[1]), one_line)


def md_code(text: str) -> str:
    """A code span that holds `text` literally, also inside a table cell."""
    one_line = for_terminal(" ".join(text.split())).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", one_line)), default=0) + 1)
    return f"{fence} {one_line} {fence}"


URL_SAFE = "!#$%&'()*+,/:;=?@[]~-._"  # RFC 3986 reserved and unreserved, and `%`


def md_captured(data: ReportData, url: str | None) -> str:
    """`url` as a code span, followed by a link to its capture when the collection holds one
    (only an http(s) replay URL becomes a link)."""
    if not url:
        return "—"
    capture = data.capture_url(url)
    if not capture or not capture.lower().startswith(("http://", "https://")):
        return md_code(url)
    return f"{md_code(url)} [capture](<{quote(capture, safe=URL_SAFE)}>)"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _md_totals(data: ReportData) -> list[str]:
    statuses = list(data.status_counts())
    rows = [
        [md_text(role), *(str(row[s]) for s in statuses), str(sum(row.values()))]
        for role, row in data.role_status().items()
    ]
    rows.append(
        ["**total**", *(str(n) for n in data.status_counts().values()), str(len(data.links))]
    )
    return [
        "## Links by status and role",
        "",
        *_table(["role", *map(md_text, statuses), "total"], rows),
    ]


def _md_hosts(data: ReportData) -> list[str]:
    rows = [
        [md_code(h.host), str(h.dead), str(h.failed), "; ".join(md_text(e) for e in h.errors)]
        for h in data.hosts
    ]
    head = ["host", "dead", "failed", "example errors"]
    return [
        "## Dead and failed links by host",
        "",
        *(_table(head, rows) if rows else ["None.", ""]),
    ]


def _md_lost_at_origin(data: ReportData) -> list[str]:
    rows = [
        [
            md_captured(data, link.url),
            md_text(link.role),
            md_text(link.died_at),
            md_text(link.verdict.error if link.verdict else link.error),
            md_text(DOCUMENT_SEPARATOR.join(link.documents)),
        ]
        for link in data.lost_at_origin
    ]
    head = ["url", "role", "gone since", "why", "documents"]
    body = _table(head, rows) if rows else ["None.", ""]
    return ["## Lost at the origin but safe in the archive", "", *body]


def _md_recovered(data: ReportData) -> list[str]:
    """The three groups of links lost at the origin (safe in the collection's captures,
    recovered from a web archive, lost everywhere), then the recovered ones by archive."""
    groups = [
        ["lost at the origin, safe in the collection's captures", str(len(data.lost_at_origin))],
        ["lost at the origin, recovered from a web archive", str(len(data.recovered))],
        ["lost everywhere", str(len(data.lost))],
    ]
    lines = ["## Links lost at the origin", "", *_table(["", "links"], groups)]
    if not data.recovered:
        return lines
    by_archive = [[md_code(name), str(n)] for name, n in data.recovered_by_archive().items()]
    rows = [
        [
            md_captured(data, link.url),
            md_code(link.recovered_from or ""),
            md_text(link.recovered_at),
            md_text(link.error),
        ]
        for link in data.recovered
    ]
    head = ["url", "archive", "captured by the archive", "why lost at the origin"]
    return [
        *lines,
        "### Recovered from web archives",
        "",
        *_table(["archive", "links"], by_archive),
        *_table(head, rows),
    ]


def _md_rechecks(data: ReportData) -> list[str]:
    counts = data.recheck_counts()
    if not counts:
        return []
    rows = [[md_text(verdict), str(n)] for verdict, n in counts.items()]
    lines = ["## Rechecks: the latest verdict per link", "", *_table(["verdict", "links"], rows)]
    back = [
        [
            md_captured(data, link.url),
            md_text(link.role),
            md_text(link.verdict.checked_at if link.verdict else None),
        ]
        for link in data.came_back
    ]
    if back:
        lines += ["Dead links that answer again:", "", *_table(["url", "role", "checked"], back)]
    return lines


def _md_unverified(data: ReportData) -> list[str]:
    """Captures made without a valid certificate (--tls-verify record): listed, never mixed
    unmarked with verified ones."""
    if not data.unverified:
        return []
    rows = [
        [md_captured(data, link.url), md_text(link.status), md_text(link.tls_error)]
        for link in data.unverified
    ]
    head = ["url", "status", "certificate error"]
    return [f"## {UNVERIFIED_TITLE}", "", *_table(head, rows)]


def _md_document(data: ReportData, view: DocumentView) -> list[str]:
    lines = [
        f"### {md_text(view.title or view.path)}",
        "",
        f"- path: {md_code(view.path)}",
        f"- source: {md_captured(data, view.source_url)}",
        f"- archived: {view.archived} of {view.total} links",
    ]
    lines += [
        f"- safe in the archive, gone at the origin: {md_captured(data, link.url)}"
        for link in view.lost_at_origin
    ]
    lines += [
        f"- recovered from {md_code(link.recovered_from or '')}: {md_captured(data, link.url)}"
        for link in view.recovered
    ]
    lines += [
        f"- lost: {md_code(link.url)} ({md_text(link.error or link.status)})" for link in view.lost
    ]
    return [*lines, ""]


def _md_rot(data: ReportData) -> list[str]:
    if not data.rot:
        return ["## Link rot over time", "", "No rechecks yet (`archiver recheck`).", ""]
    head = ["day", "live", "dead", "not yet checked", "died", "came back"]
    rows = [
        [p.day, str(p.live), str(p.dead), str(p.unchecked), str(p.died), str(p.revived)]
        for p in data.rot
    ]
    return ["## Link rot over time (archived links)", "", *_table(head, rows)]


def render_md(data: ReportData) -> str:
    """The report as one Markdown document, ending in a newline."""
    lines = [
        f"# Archive report: {md_text(data.collection)}",
        "",
        f"{len(data.links)} links cited by {len(data.documents)} documents; "
        f"as of {md_text(data.as_of)}.",
        "",
        *_md_totals(data),
        *_md_hosts(data),
        *_md_lost_at_origin(data),
        *_md_recovered(data),
        *_md_rechecks(data),
        *_md_unverified(data),
        *_md_rot(data),
        "## Documents",
        "",
    ]
    for view in data.documents:
        lines += _md_document(data, view)
    if data.problems:
        lines += ["## Problems reading the manifest", ""]
        lines += [f"- {md_text(problem)}" for problem in data.problems]
    return "\n".join(lines).rstrip() + "\n"
