"""`archiver report`: what a collection holds, what it lost, and how its links rot.

    manifests/NAME/{links,documents,checks}.jsonl -> load_report -> ReportData -> render -> text

`load_report` is the only reader; everything else is a pure function of the manifest rows.
archiver.report.formats renders it as html, md, csv or json. No network.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from archiver.config import Settings, check_collection
from archiver.errors import InputError
from archiver.models import Status
from archiver.report.model import Check, DocumentView, HostLoss, LinkRow, ReportData, RotPoint
from archiver.store.lines import utc_time
from archiver.store.manifest import CHECKS, DOCUMENTS, LINKS, read_jsonl, warn

EXAMPLE_ERRORS = 3


def load_report(settings: Settings) -> ReportData:
    """Read the collection's manifest files (torn lines are skipped and listed as problems)."""
    name = check_collection(settings.collection)
    directory = settings.manifest_dir
    if not directory.is_dir():
        raise InputError(f"no collection {name!r} under {settings.out.resolve()}")
    link_lines, problems = read_jsonl(directory / LINKS)
    document_lines, more = read_jsonl(directory / DOCUMENTS)
    check_lines, even_more = read_jsonl(directory / CHECKS)
    problems += more + even_more
    warn(problems)
    documents = [row for row in document_lines if "skipped" not in row]  # files, not documents
    return build_report(name, link_lines, documents, check_lines, problems)


def build_report(
    collection: str,
    link_lines: Iterable[dict[str, Any]],
    document_lines: Iterable[dict[str, Any]],
    check_lines: Iterable[dict[str, Any]],
    problems: Sequence[str] = (),
) -> ReportData:
    """ReportData from manifest rows, oldest line first."""
    found = list(problems)
    checks = read_checks(check_lines, found)
    links = link_rows(link_lines, checks)
    return ReportData(
        collection=collection,
        as_of=latest_time(links, checks),
        links=links,
        documents=document_views(document_lines, links),
        hosts=host_losses(links),
        rot=rot_series(links, checks),
        problems=tuple(found),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_time(text: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware UTC datetime; None when it is not one
    (manifestlines.utc_time)."""
    return utc_time(text)


def _skipped(row: dict[str, Any]) -> str | None:
    """Why a check was not made: its `skipped`, else (lines written before `skipped` existed)
    the class of its error."""
    if row.get("live") is not None:
        return None
    error = _text(row.get("error"))
    return _text(row.get("skipped")) or (error.split(":", 1)[0] if error else "unknown")


def read_checks(rows: Iterable[dict[str, Any]], problems: list[str]) -> dict[str, list[Check]]:
    """url -> its checks, oldest first: verdicts and checks that could not be made (`live`
    null, with the reason); a line without a url or time is reported."""
    checks: dict[str, list[Check]] = defaultdict(list)
    for number, row in enumerate(rows, 1):
        at = parse_time(row.get("checked_at"))
        url, live = row.get("url"), row.get("live")
        if at is None or not isinstance(url, str) or not isinstance(live, bool | None):
            problems.append(f"checks.jsonl: check {number} ignored (no url, checked_at or live)")
            continue
        changed = row.get("changed")
        checks[url].append(
            Check(
                row["checked_at"],
                at,
                live,
                _int(row.get("http_status")),
                _text(row.get("error")),
                changed if isinstance(changed, bool) else None,
                _skipped(row),
                isinstance(row.get("capture"), dict),
            )
        )
    for history in checks.values():
        history.sort(key=lambda check: check.at)
    return checks


def verdicts(history: Sequence[Check]) -> list[Check]:
    """The checks that were made (live true or false), oldest first."""
    return [check for check in history if check.live is not None]


def died_at(history: Sequence[Check]) -> str | None:
    """The first failed check after the last good one, when the latest check failed."""
    first_failed: str | None = None
    for check in reversed(verdicts(history)):
        if check.live:
            break
        first_failed = check.checked_at
    return first_failed


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "(no host)"
    except ValueError:
        return "(bad url)"


def _gone_at(row: dict[str, Any]) -> str | None:
    """When a dead or failed line found its link gone."""
    if row.get("status") not in (Status.DEAD, Status.FAILED):
        return None
    return _text(row.get("checked_at")) or _text(row.get("fetched_at"))


def _link_row(
    row: dict[str, Any], captured: bool, history: Sequence[Check], captured_at: str | None
) -> LinkRow:
    documents = row.get("documents")
    status = str(row.get("status") or "unknown")
    return LinkRow(
        url=row["url"],
        role=str(row.get("role") or "unknown"),
        status=status,
        documents=tuple(d for d in documents if isinstance(d, str))
        if isinstance(documents, list)
        else (),
        http_status=_int(row.get("http_status")),
        error=_text(row.get("error")),
        fetched_at=_text(row.get("fetched_at")),
        host=_host(row["url"]),
        captured_before=captured,
        latest_check=history[-1] if history else None,
        died_at=died_at(history) if status == Status.ARCHIVED else _gone_at(row),
        verdict=made[-1] if (made := verdicts(history)) else None,
        tls_error=_text(row.get("tls_error")),
        captured_at=captured_at,
    )


def link_rows(
    rows: Iterable[dict[str, Any]], checks: dict[str, list[Check]]
) -> tuple[LinkRow, ...]:
    """The last line of every url, knowing whether an earlier line of it was archived and
    when its latest capture (archived line, this one included) was made."""
    current: dict[str, dict[str, Any]] = {}
    captured: set[str] = set()
    captured_at: dict[str, str] = {}
    for row in rows:
        url = row.get("url")
        if not isinstance(url, str):
            continue
        if url in current and current[url].get("status") == Status.ARCHIVED:
            captured.add(url)
        when = _text(row.get("fetched_at"))
        if row.get("status") == Status.ARCHIVED and when:
            captured_at[url] = when
        current[url] = row
    return tuple(
        _link_row(row, url in captured, checks.get(url, []), captured_at.get(url))
        for url, row in current.items()
    )


def host_losses(links: Iterable[LinkRow]) -> tuple[HostLoss, ...]:
    """Dead and failed links by host, most first, each with its most common errors."""
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    errors: dict[str, Counter[str]] = defaultdict(Counter)
    for link in links:
        if link.status in {Status.DEAD, Status.FAILED}:
            statuses[link.host][link.status] += 1
            errors[link.host][link.error or f"HTTP {link.http_status}"] += 1
    losses = [
        HostLoss(
            host,
            counts[Status.DEAD],
            counts[Status.FAILED],
            tuple(error for error, _ in errors[host].most_common(EXAMPLE_ERRORS)),
        )
        for host, counts in statuses.items()
    ]
    return tuple(sorted(losses, key=lambda loss: (-loss.count, loss.host)))


def document_views(
    rows: Iterable[dict[str, Any]], links: Sequence[LinkRow]
) -> tuple[DocumentView, ...]:
    """Every document of documents.jsonl (last line per path) or cited by a link, by path."""
    described = {row["path"]: row for row in rows if isinstance(row.get("path"), str)}
    cited: dict[str, list[LinkRow]] = defaultdict(list)
    for link in links:
        for path in link.documents:
            cited[path].append(link)
    views = []
    for path in sorted(set(described) | set(cited)):
        row, own = described.get(path, {}), cited.get(path, [])
        views.append(
            DocumentView(
                path=path,
                title=_text(row.get("title")),
                source_url=_text(row.get("source_url")),
                total=len(own),
                archived=sum(link.status == Status.ARCHIVED for link in own),
                lost_at_origin=tuple(link for link in own if link.lost_at_origin),
                lost=tuple(link for link in own if link.lost),
            )
        )
    return tuple(views)


def rot_series(links: Iterable[LinkRow], checks: dict[str, list[Check]]) -> tuple[RotPoint, ...]:
    """For each UTC day with rechecks: the archived links' state after that day's last check
    that was made (a check not made changes no state)."""
    histories = [
        verdicts(checks.get(link.url, [])) for link in links if link.status == Status.ARCHIVED
    ]
    days = sorted({check.day for history in histories for check in history})
    states: list[bool | None] = [None] * len(histories)
    points = []
    for day in days:
        died = revived = 0
        for index, history in enumerate(histories):
            before, now = states[index], _state_on(history, day, states[index])
            died += now is False and before is not False
            revived += now is True and before is False
            states[index] = now
        live = states.count(True)
        dead = states.count(False)
        points.append(RotPoint(day, live, dead, len(states) - live - dead, died, revived))
    return tuple(points)


def _state_on(history: Sequence[Check], day: str, before: bool | None) -> bool | None:
    state = before
    for check in history:
        if check.day == day:
            state = check.live
    return state


def latest_time(links: Iterable[LinkRow], checks: dict[str, list[Check]]) -> str | None:
    """The newest fetched_at or checked_at: the moment the report describes."""
    moments = [(parse_time(link.fetched_at), link.fetched_at) for link in links]
    moments += [(check.at, check.checked_at) for history in checks.values() for check in history]
    known = [(moment, text) for moment, text in moments if moment is not None]
    return max(known)[1] if known else None
