"""The report as one self-contained HTML page: inline CSS, inline SVG charts, tables, no script.

Every URL, title, error and path comes from untrusted documents or servers: each is escaped with
html.escape(quote=True) after its control and bidi characters are made visible (neutral), and
only http(s) URLs become links (a `javascript:` URL stays text). A captured URL links to its
origin and, beside it, to its capture in `archiver replay` (ReportData.capture_url), which
still answers when the origin is gone. A Content-Security-Policy forbids
scripts and every network fetch, so even a mistake here could not run code or phone home.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape

from archiver.neutral import for_terminal
from archiver.report.model import UNVERIFIED_TITLE, DocumentView, LinkRow, ReportData
from archiver.report.svg import Bar, Part, Series, bar_chart, step_chart

COLOURS = {
    "archived": "#2e7d32",
    "dead": "#c62828",
    "failed": "#ef6c00",
    "skipped": "#9e9e9e",
    "live": "#2e7d32",
    "not yet checked": "#9e9e9e",
}
OTHER_COLOUR = "#5c6bc0"
TOP_HOSTS = 15
WEB_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+\Z", re.IGNORECASE)
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSS = """
body { font-family: system-ui, "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei",
  "WenQuanYi Micro Hei", sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem;
  color: #222; line-height: 1.45; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 2px solid #ddd; }
.meta { color: #666; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .5rem 1rem; min-width: 7rem; }
.card b { display: block; font-size: 1.6rem; }
table { border-collapse: collapse; margin: .8rem 0; width: 100%; }
th, td { border: 1px solid #ddd; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
code, .url { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .85em;
  word-break: break-all; }
ul.urls { margin: 0; padding-left: 1.1rem; }
.chart { max-width: 100%; height: auto; font-size: 12px; }
.chart .grid { stroke: #eee; } .chart .axis { stroke: #888; }
.chart .value, .chart .tick, .chart .legend { fill: #444; } .chart .label { fill: #222; }
.dead { color: #c62828; } .safe { color: #2e7d32; } .none { color: #999; }
"""


def e(text: object) -> str:
    """Escaped text, safe inside elements and quoted attributes."""
    return escape(for_terminal(str(text)), quote=True)


def link(url: str | None, text: str | None = None, capture: str | None = None) -> str:
    """An <a> for an http(s) URL, escaped; anything else (javascript:, data:) as plain text.
    With `capture` (an http(s) replay URL), a second <a> to the capture follows it."""
    if not url:
        return e(text) if text else '<span class="none">—</span>'
    shown = e(text) if text is not None else f'<span class="url">{e(url)}</span>'
    if WEB_URL.match(url):
        shown = f'<a href="{e(url)}" rel="noopener noreferrer nofollow">{shown}</a>'
    if capture and WEB_URL.match(capture):
        shown += f' <a class="capture" href="{e(capture)}" rel="noopener noreferrer">[capture]</a>'
    return shown


def captured(data: ReportData, url: str | None, text: str | None = None) -> str:
    """`link` to `url`'s origin and, when the collection holds a capture of it, to that."""
    return link(url, text, data.capture_url(url))


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """Rows of ready-made (already escaped) cells."""
    th = "".join(f"<th>{e(name)}</th>" for name in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _cards(data: ReportData) -> str:
    counts = data.status_counts()
    items = [
        ("documents", len(data.documents)),
        ("links", len(data.links)),
        *counts.items(),
        ("lost at origin, safe here", len(data.lost_at_origin)),
        ("recovered from web archives", len(data.recovered)),
        ("lost everywhere", len(data.lost)),
    ]
    if data.unverified:
        items.append(("captured without a valid certificate", len(data.unverified)))
    return (
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{n}</b>{e(name)}</div>' for name, n in items)
        + "</div>"
    )


def _totals(data: ReportData) -> str:
    counts = data.status_counts()
    bars = [Bar(s, (Part(s, n, COLOURS.get(s, OTHER_COLOUR)),)) for s, n in counts.items()]
    rows = [
        [e(role), *(str(row[s]) for s in counts), str(sum(row.values()))]
        for role, row in data.role_status().items()
    ]
    rows.append(
        ["<b>total</b>", *(f"<b>{n}</b>" for n in counts.values()), f"<b>{len(data.links)}</b>"]
    )
    table = _table(["role", *counts, "total"], rows, set(range(1, len(counts) + 2)))
    return "<h2>Links by status and role</h2>" + bar_chart("Links by status", bars) + table


def _hosts(data: ReportData) -> str:
    if not data.hosts:
        return "<h2>Dead and failed links by host</h2><p>None.</p>"
    bars = [
        Bar(
            h.host,
            (Part("dead", h.dead, COLOURS["dead"]), Part("failed", h.failed, COLOURS["failed"])),
        )
        for h in data.hosts[:TOP_HOSTS]
    ]
    rows = [
        [
            f"<code>{e(h.host)}</code>",
            str(h.dead),
            str(h.failed),
            "<br>".join(e(x) for x in h.errors),
        ]
        for h in data.hosts
    ]
    return (
        "<h2>Dead and failed links by host</h2>"
        + bar_chart(f"Dead and failed links of the {len(bars)} hosts with most", bars)
        + _table(["host", "dead", "failed", "example errors"], rows, {1, 2})
    )


def _rot(data: ReportData) -> str:
    head = "<h2>Link rot over time (archived links, by recheck day, UTC)</h2>"
    if not data.rot:
        return head + "<p>No rechecks yet: run <code>archiver recheck</code>.</p>"
    days = [p.day for p in data.rot]
    series = [
        Series("live", COLOURS["live"], tuple(p.live for p in data.rot)),
        Series("dead", COLOURS["dead"], tuple(p.dead for p in data.rot)),
        Series(
            "not yet checked",
            COLOURS["not yet checked"],
            tuple(p.unchecked for p in data.rot),
            dashed=True,
        ),
    ]
    rows = [
        [e(p.day), *(str(n) for n in (p.live, p.dead, p.unchecked, p.died, p.revived))]
        for p in data.rot
    ]
    table = _table(
        ["day", "live", "dead", "not yet checked", "died", "came back"], rows, {1, 2, 3, 4, 5}
    )
    return head + step_chart("Archived links live and dead at the origin", days, series) + table


def _url_list(data: ReportData, links: Sequence[LinkRow], detail: str) -> str:
    if not links:
        return '<span class="none">—</span>'
    items = []
    for one in links:
        notes = {"since": one.died_at, "archive": one.recovered_from}
        note = notes.get(detail, one.error or one.status)
        shown = captured(data, one.url)
        items.append(f'<li>{shown} <span class="{e(detail)}">({e(note or "")})</span></li>')
    return '<ul class="urls">' + "".join(items) + "</ul>"


def _lost_at_origin(data: ReportData) -> str:
    rows = [
        [
            captured(data, one.url),
            e(one.role),
            e(one.died_at or ""),
            e((one.verdict.error if one.verdict else one.error) or ""),
            "<br>".join(f"<code>{e(d)}</code>" for d in one.documents),
        ]
        for one in data.lost_at_origin
    ]
    head = ["url", "role", "gone since", "why", "documents"]
    body = _table(head, rows, set()) if rows else "<p>None.</p>"
    return "<h2>Lost at the origin but safe in the archive</h2>" + body


def _recovered(data: ReportData) -> str:
    """Links lost at the origin in three groups (safe in the collection's captures, recovered
    from a web archive, lost everywhere), then the recovered ones by archive and one by one."""
    groups = [
        ("safe in the collection's captures", len(data.lost_at_origin)),
        ("recovered from web archives", len(data.recovered)),
        ("lost everywhere", len(data.lost)),
    ]
    html = _table(["lost at the origin", "links"], [[e(n), str(c)] for n, c in groups], {1})
    if data.recovered:
        counts = [[f"<code>{e(a)}</code>", str(n)] for a, n in data.recovered_by_archive().items()]
        html += _table(["archive", "links"], counts, {1})
        rows = [
            [
                captured(data, one.url),
                f"<code>{e(one.recovered_from or '')}</code>",
                e(one.recovered_at or ""),
                e(one.error or ""),
            ]
            for one in data.recovered
        ]
        head = ["url", "archive", "captured by the archive", "why lost at the origin"]
        html += _table(head, rows, set())
    return "<h2>Links lost at the origin</h2>" + html


def _rechecks(data: ReportData) -> str:
    """The latest verdict per link with its reason, and the dead links that answer again."""
    counts = data.recheck_counts()
    if not counts:
        return ""
    rows = [[e(verdict), str(n)] for verdict, n in counts.items()]
    html = "<h2>Rechecks: the latest verdict per link</h2>" + _table(
        ["verdict", "links"], rows, {1}
    )
    back = [
        [captured(data, one.url), e(one.role), e(one.verdict.checked_at if one.verdict else "")]
        for one in data.came_back
    ]
    if back:
        html += "<p>Dead links that answer again:</p>" + _table(
            ["url", "role", "checked"], back, set()
        )
    return html


def _unverified(data: ReportData) -> str:
    """Captures made without a valid certificate (--tls-verify record), with the error."""
    if not data.unverified:
        return ""
    rows = [[captured(data, one.url), e(one.status), e(one.tls_error)] for one in data.unverified]
    table = _table(["url", "status", "certificate error"], rows, set())
    return f"<h2>{e(UNVERIFIED_TITLE)}</h2>" + table


def _document_cell(data: ReportData, view: DocumentView) -> str:
    title = captured(data, view.source_url, view.title or view.path)
    return f"{title}<br><code>{e(view.path)}</code>"


def _documents(data: ReportData) -> str:
    rows = [
        [
            _document_cell(data, view),
            f"{view.archived} / {view.total}",
            _url_list(data, view.lost_at_origin, "since"),
            _url_list(data, view.recovered, "archive"),
            _url_list(data, view.lost, "dead"),
        ]
        for view in data.documents
    ]
    head = ["document", "archived", "lost at the origin, safe in the archive"]
    head += ["recovered from a web archive", "lost entirely"]
    return "<h2>Documents</h2>" + _table(head, rows, {1})


def _problems(data: ReportData) -> str:
    if not data.problems:
        return ""
    items = "".join(f"<li>{e(problem)}</li>" for problem in data.problems)
    return f"<h2>Problems reading the manifest</h2><ul>{items}</ul>"


def render_html(data: ReportData) -> str:
    """The report as one self-contained HTML page (UTF-8, no script, CSP forbids fetches)."""
    name = e(data.collection)
    return (
        '<!DOCTYPE html>\n<html lang="zh-Hans"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Archive report: {name}</title><style>{CSS}</style></head><body>"
        f"<h1>Archive report: {name}</h1>"
        f'<p class="meta">As of {e(data.as_of or "—")}</p>'
        + _cards(data)
        + _totals(data)
        + _hosts(data)
        + _rot(data)
        + _lost_at_origin(data)
        + _recovered(data)
        + _rechecks(data)
        + _unverified(data)
        + _documents(data)
        + _problems(data)
        + "</body></html>\n"
    )
