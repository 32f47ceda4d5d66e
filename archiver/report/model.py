"""The report's data: frozen types built from a collection's manifest (see archiver.report.build).

    ReportData
        LinkRow       one link's current state, its latest recheck and since when it is dead,
                      and the certificate error it was captured despite (`tls_error`)
        Check         one recheck: a verdict (live or not, with the reason) or no check made
        HostLoss      the dead and failed links of one host, with example errors
        DocumentView  per document: archived, lost at the origin but safe, recovered from a
                      web archive, lost entirely
        RotPoint      per day of rechecks: archived links live, dead and not yet checked

A link is "lost at the origin but safe in the archive" when it is archived and its latest recheck
says it is not live, or when it is now dead or failed but an earlier line captured it. It died at
its first failed check after its last good one; a dead link that answers again is live again.
A link lost at its origin that the collection never captured itself is "recovered" when
`archiver recover` stored a web archive's capture of it (its line's `recovered`), and "lost
entirely" when not.
A check that could not be made (the private-address guard, robots.txt) is no verdict: it is shown
as "not checked" with its reason and changes none of this.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from archiver.models import Role, Status

STATUSES = tuple(status.value for status in Status)
ROLES = tuple(role.value for role in Role)
UNVERIFIED_TITLE = "Captured without a valid certificate"
REPLAY_PORT = 8080  # `archiver replay`'s default --port
STAMP_DIGITS = 14


def default_replay_base(collection: str) -> str:
    """The collection's address in `archiver replay` run with its default port."""
    return f"http://127.0.0.1:{REPLAY_PORT}/{collection}/"


def replay_url(base: str, fetched_at: str, url: str) -> str:
    """The wayback-style replay URL pywb serves for a capture (as `archiver replay` prints it):
    BASE/TIMESTAMP/URL, TIMESTAMP the 14 digits (YYYYMMDDhhmmss) of the capture's fetched_at."""
    stamp = "".join(ch for ch in fetched_at if ch.isdigit())[:STAMP_DIGITS]
    return f"{base.rstrip('/')}/{stamp}/{url}"


@dataclass(frozen=True)
class Check:
    """One line of checks.jsonl. `live` None: no check was made, `skipped` says why;
    `captured`: the check stored what the URL serves now."""

    checked_at: str
    at: datetime
    live: bool | None
    http_status: int | None
    error: str | None
    changed: bool | None
    skipped: str | None = None
    captured: bool = False

    @property
    def day(self) -> str:
        """The UTC day of the check, YYYY-MM-DD."""
        return self.at.date().isoformat()

    @property
    def reason(self) -> str | None:
        """Why the link is not live or was not checked, as a short class (moved, content-type,
        http-404, dns, private-address, robots); None for a live link."""
        if self.live:
            return None
        if self.live is None and self.skipped:
            return self.skipped
        return self.error.split(":", 1)[0] if self.error else "unknown"

    @property
    def verdict(self) -> str:
        """ "live", "live, changed", "not live: REASON" or "not checked: REASON"."""
        if self.live:
            return "live, changed" if self.changed else "live"
        return f"{'not checked' if self.live is None else 'not live'}: {self.reason}"


@dataclass(frozen=True)
class LinkRow:
    """A link's current manifest state, with what the rechecks say about its origin:
    `latest_check` is its latest check line of any kind, `verdict` the latest that was made."""

    url: str
    role: str
    status: str
    documents: tuple[str, ...]
    http_status: int | None
    error: str | None
    fetched_at: str | None
    host: str
    captured_before: bool
    latest_check: Check | None
    died_at: str | None
    verdict: Check | None = None
    tls_error: str | None = None  # captured without a valid certificate (--tls-verify record)
    captured_at: str | None = None  # fetched_at of its latest archived line: the capture shown
    recovered_from: str | None = None  # the web archive its recovered capture came from
    recovered_at: str | None = None  # that capture's memento_datetime (RFC 3339)
    memento_url: str | None = None  # that capture at the archive (URI-M)

    @property
    def lost_at_origin(self) -> bool:
        """Gone from its origin, but a capture of it is in the WARCs."""
        if self.status == Status.ARCHIVED:
            return self.verdict is not None and self.verdict.live is False
        return self.captured_before and self.status in {Status.DEAD, Status.FAILED}

    @property
    def recovered(self) -> bool:
        """Never captured by the collection itself (dead, failed or skipped), but a web
        archive's capture of it is in the WARCs."""
        return self.recovered_from is not None and not self.lost_at_origin and not self.archived

    @property
    def archived(self) -> bool:
        """Captured by the collection: its current line is archived."""
        return self.status == Status.ARCHIVED

    @property
    def lost(self) -> bool:
        """Dead or failed, never captured, and recovered from no web archive."""
        lost = self.status in {Status.DEAD, Status.FAILED} and not self.captured_before
        return lost and self.recovered_from is None

    @property
    def came_back(self) -> bool:
        """Dead in the manifest, but its latest recheck found it live at the origin."""
        return self.status == Status.DEAD and self.verdict is not None and bool(self.verdict.live)


@dataclass(frozen=True)
class HostLoss:
    """The links of one host that are dead or failed now (counts), with its most common
    errors ("kind: message", or "HTTP status"), most frequent first."""

    host: str
    dead: int
    failed: int
    errors: tuple[str, ...]

    @property
    def count(self) -> int:
        """Dead and failed links of the host."""
        return self.dead + self.failed


@dataclass(frozen=True)
class DocumentView:
    """One document (as documents.jsonl lists it, or as a link cites it): its title and
    source URL when known, how many links it cites (`total`) and how many are archived, the
    links lost at the origin but safe in the archive, those recovered from a web archive, and
    those lost entirely."""

    path: str
    title: str | None
    source_url: str | None
    total: int
    archived: int
    lost_at_origin: tuple[LinkRow, ...]
    lost: tuple[LinkRow, ...]
    recovered: tuple[LinkRow, ...] = ()


@dataclass(frozen=True)
class RotPoint:
    """Archived links at the end of one UTC day of rechecks; `died`/`revived` changed that day."""

    day: str
    live: int
    dead: int
    unchecked: int
    died: int
    revived: int


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows of one collection (built by archiver.report.build): its
    current links, documents, losses by host, rot per day of rechecks and the problems met
    reading the manifest; `as_of` is the newest fetched_at or checked_at (RFC 3339)."""

    collection: str
    as_of: str | None
    links: tuple[LinkRow, ...]
    documents: tuple[DocumentView, ...]
    hosts: tuple[HostLoss, ...]
    rot: tuple[RotPoint, ...]
    problems: tuple[str, ...]
    replay_base: str | None = None  # where captures are replayed; None: default_replay_base

    @cached_property
    def _captures(self) -> dict[str, str]:
        base = self.replay_base or default_replay_base(self.collection)
        return {
            link.url: replay_url(base, moment, link.url)
            for link in self.links
            if (moment := link.captured_at or link.recovered_at)
        }

    def capture_url(self, url: str | None) -> str | None:
        """The replay URL of `url`'s latest capture (its recovered one when the collection
        never captured it), or None when there is none."""
        return self._captures.get(url) if url else None

    def status_counts(self) -> dict[str, int]:
        """Links by status, the known statuses first (zero included)."""
        counts = Counter(link.status for link in self.links)
        return {name: counts[name] for name in (*STATUSES, *sorted(set(counts) - set(STATUSES)))}

    def role_status(self) -> dict[str, dict[str, int]]:
        """role -> status -> count, for the roles present."""
        table: dict[str, Counter[str]] = defaultdict(Counter)
        for link in self.links:
            table[link.role][link.status] += 1
        statuses = self.status_counts()
        roles = [role for role in ROLES if role in table] + sorted(set(table) - set(ROLES))
        return {role: {s: table[role][s] for s in statuses} for role in roles}

    @property
    def lost_at_origin(self) -> tuple[LinkRow, ...]:
        """Links gone at the origin but safe in the archive (LinkRow.lost_at_origin)."""
        return tuple(link for link in self.links if link.lost_at_origin)

    @property
    def recovered(self) -> tuple[LinkRow, ...]:
        """Links never captured by the collection whose capture a web archive gave."""
        return tuple(link for link in self.links if link.recovered)

    @property
    def lost(self) -> tuple[LinkRow, ...]:
        """Links lost everywhere: dead or failed, never captured, recovered from nowhere."""
        return tuple(link for link in self.links if link.lost)

    def recovered_by_archive(self) -> dict[str, int]:
        """Recovered links by the web archive they came from, most first."""
        counts = Counter(str(link.recovered_from) for link in self.recovered)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    @property
    def came_back(self) -> tuple[LinkRow, ...]:
        """Dead links whose latest recheck found them live again."""
        return tuple(link for link in self.links if link.came_back)

    def recheck_counts(self) -> dict[str, int]:
        """Links by the verdict of their latest check ("live", "not live: moved", "not
        checked: private-address"...), most first; links never rechecked are left out."""
        counts = Counter(link.latest_check.verdict for link in self.links if link.latest_check)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    @property
    def unverified(self) -> tuple[LinkRow, ...]:
        """Links whose capture came over TLS without a valid certificate."""
        return tuple(link for link in self.links if link.tls_error)
