"""`archiver report`: what a collection holds, what it lost, and how its links rot.

    manifests/NAME/{links,documents,checks}.jsonl -> load_report -> ReportData -> render -> text

`load_report` is the only reader; everything else is a pure function of the manifest's lines
(typed: archiver.store.linetypes). archiver.report.formats renders it as html, md, csv or json.
No network.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from archiver.config import Settings
from archiver.models import Status
from archiver.report.model import Check, DocumentView, HostLoss, LinkRow, ReportData, RotPoint
from archiver.store.collection import Collection
from archiver.store.lines import CHECKS, DOCUMENTS, LINKS, utc_time
from archiver.store.linetypes import CheckLine, DocumentLine, LinkLine
from archiver.store.readlines import (
    current_entries,
    read_checks,
    read_documents,
    read_links,
    warn,
)

EXAMPLE_ERRORS = 3


def load_report(settings: Settings) -> ReportData:
    """Read the collection's manifest files into ReportData (bad and torn lines are skipped,
    warned and listed as problems). Raises InputError for a bad collection name or a
    collection that does not exist."""
    collection = Collection.existing(settings)
    directory = collection.manifest_dir
    link_lines, problems = read_links(directory / LINKS)
    document_lines, more = read_documents(directory / DOCUMENTS)
    check_lines, even_more = read_checks(directory / CHECKS)
    problems += more + even_more
    warn(problems)
    documents = [line for line in document_lines if line.skipped is None]  # not skipped files
    return build_report(collection.name, link_lines, documents, check_lines, problems)


def build_report(
    collection: str,
    link_lines: Iterable[LinkLine],
    document_lines: Iterable[DocumentLine],
    check_lines: Iterable[CheckLine],
    problems: Sequence[str] = (),
) -> ReportData:
    """ReportData from the lines of links.jsonl, documents.jsonl and checks.jsonl, each
    oldest first, and the problems met reading them."""
    checks = check_histories(check_lines)
    links = link_rows(link_lines, checks)
    return ReportData(
        collection=collection,
        as_of=latest_time(links, checks),
        links=links,
        documents=document_views(document_lines, links),
        hosts=host_losses(links),
        rot=rot_series(links, checks),
        problems=tuple(problems),
    )


def _skipped(line: CheckLine) -> str | None:
    """Why a check was not made: its `skipped`, else (lines written before `skipped` existed)
    the class of its error."""
    if line.live is not None:
        return None
    error = line.error or None
    return line.skipped or (error.split(":", 1)[0] if error else "unknown")


def check_histories(lines: Iterable[CheckLine]) -> dict[str, list[Check]]:
    """url -> its checks, oldest first: verdicts and checks that could not be made (`live`
    None, with the reason)."""
    checks: dict[str, list[Check]] = defaultdict(list)
    for line in lines:
        checks[line.url].append(
            Check(
                line.checked_at,
                line.at,
                line.live,
                line.http_status,
                line.error or None,
                line.changed,
                _skipped(line),
                line.captured,
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


def _gone_at(line: LinkLine) -> str | None:
    """When a dead or failed line found its link gone."""
    if line.status not in (Status.DEAD, Status.FAILED):
        return None
    return line.checked_at or line.fetched_at or None


def _link_row(
    line: LinkLine, captured: bool, history: Sequence[Check], captured_at: str | None
) -> LinkRow:
    return LinkRow(
        url=line.url,
        role=line.role.value,
        status=line.status.value,
        documents=line.documents,
        http_status=line.http_status,
        error=line.error or None,
        fetched_at=line.fetched_at or None,
        host=_host(line.url),
        captured_before=captured,
        latest_check=history[-1] if history else None,
        died_at=died_at(history) if line.status == Status.ARCHIVED else _gone_at(line),
        verdict=made[-1] if (made := verdicts(history)) else None,
        tls_error=line.tls_error or None,
        captured_at=captured_at,
        recovered_from=line.recovered.archive if line.recovered else None,
        recovered_at=line.recovered.memento_datetime if line.recovered else None,
        memento_url=line.recovered.memento_url if line.recovered else None,
    )


def link_rows(lines: Iterable[LinkLine], checks: dict[str, list[Check]]) -> tuple[LinkRow, ...]:
    """The current line of every url (store.readlines.current_entries), knowing whether an
    earlier line of it was archived and when its latest capture (archived line, the current
    one included) was made."""
    lines = list(lines)
    current = current_entries(lines)
    captured = {
        line.url
        for line in lines
        if line.status == Status.ARCHIVED and current[line.url] is not line
    }
    captured_at = {
        line.url: line.fetched_at
        for line in lines
        if line.status == Status.ARCHIVED and line.fetched_at
    }
    return tuple(
        _link_row(line, url in captured, checks.get(url, []), captured_at.get(url))
        for url, line in current.items()
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
    lines: Iterable[DocumentLine], links: Sequence[LinkRow]
) -> tuple[DocumentView, ...]:
    """Every document of documents.jsonl (last line per path) or cited by a link, by path."""
    described = {line.path: line for line in lines}
    cited: dict[str, list[LinkRow]] = defaultdict(list)
    for link in links:
        for path in link.documents:
            cited[path].append(link)
    views = []
    for path in sorted(set(described) | set(cited)):
        line, own = described.get(path), cited.get(path, [])
        views.append(
            DocumentView(
                path=path,
                title=(line.title or None) if line else None,
                source_url=(line.source_url or None) if line else None,
                total=len(own),
                archived=sum(link.status == Status.ARCHIVED for link in own),
                lost_at_origin=tuple(link for link in own if link.lost_at_origin),
                lost=tuple(link for link in own if link.lost),
                recovered=tuple(link for link in own if link.recovered),
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
    moments = [(utc_time(link.fetched_at), link.fetched_at) for link in links]
    moments += [(check.at, check.checked_at) for history in checks.values() for check in history]
    known = [(moment, text) for moment, text in moments if moment is not None]
    return max(known)[1] if known else None
