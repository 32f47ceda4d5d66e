"""The manifest contract (DESIGN.md, "Output layout") as checks: one function per file kind.

    links.jsonl      check_link       a link's outcome
    documents.jsonl  check_document   a document processed
    checks.jsonl     check_check      one recheck
    deposits.jsonl   check_deposit    one Save Page Now submission or its outcome
    recoveries.jsonl check_recovery   one look-up of a link in web archives (recover)
    warcs.jsonl      check_warc_size  a closed WARC file with its size
    warcs.sha256     check_warc_sum   "<sha256>  <path>" (sha256sum format)
    .inflight        check_warc_path  a WARC file an unfinished run wrote

Each takes what a line parsed to and the collection's name, and returns the line with the
contract's types (a dict for JSON lines) or raises BadLine saying what is wrong. Pure: no I/O.
Every WARC path must be `warcs/NAME/FILE` (relative to the output root, no `..`): a path
elsewhere (`/etc/passwd`) is refused here, so no command ever opens it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from archiver.models import Role, Status

LINKS = "links.jsonl"
DOCUMENTS = "documents.jsonl"
CHECKS = "checks.jsonl"
DEPOSITS = "deposits.jsonl"
RECOVERIES = "recoveries.jsonl"
WARC_SIZES = "warcs.jsonl"
WARCS = "warcs.sha256"
MAX_INT = 2**53  # byte counts and offsets: exact in every JSON reader, and in SQLite's INTEGER
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
WAYBACK_TIMESTAMP = re.compile(
    r"[0-9]{14}"
)  # YYYYMMDDhhmmss, as the Wayback Machine names captures
DEPOSIT_STATES = frozenset({"pending", "success", "error"})
SUM_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")
STATUSES = frozenset(status.value for status in Status)
ROLES = frozenset(role.value for role in Role)


class BadLine(ValueError):
    """A manifest line that does not keep the contract; the message says how."""


def _what(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _text(row: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = row.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadLine(f"{name} is {_what(value)}, not a string")
    if "\x00" in value:
        raise BadLine(f"{name} holds a NUL character")
    if required and not value:
        raise BadLine(f"{name} is empty")
    return value


def _count(row: dict[str, Any], name: str, high: int = MAX_INT) -> int | None:
    value = row.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadLine(f"{name} is {_what(value)}, not a whole number")
    if not 0 <= value <= high:
        raise BadLine(f"{name} {value} is outside 0..{high}")
    return value


def utc_time(text: Any) -> datetime | None:
    """A manifest time (RFC 3339, or any ISO 8601 form Python reads; one without an offset is
    UTC) as an aware UTC datetime; None when it is not one, or when it is not a UTC moment
    Python can hold (`9999-12-31T23:59:59-01:00`). Every command reads times with this, so a
    time one of them accepts is one all of them can compare."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _time(row: dict[str, Any], name: str, required: bool = False) -> None:
    text = _text(row, name, required)
    if text is not None and utc_time(text) is None:
        raise BadLine(f"{name} {text[:40]!r} is not an RFC 3339 time")


def _choice(row: dict[str, Any], name: str, allowed: frozenset[str]) -> None:
    value = _text(row, name, required=True)
    if value not in allowed:
        raise BadLine(f"{name} {str(value)[:40]!r} is not one of {', '.join(sorted(allowed))}")


def _strings(row: dict[str, Any], name: str) -> None:
    value = row.get(name)
    if not isinstance(value, list):
        raise BadLine(f"{name} is {_what(value)}, not a list")
    for item in value:
        if not isinstance(item, str) or "\x00" in item:
            raise BadLine(f"{name} holds {_what(item)} {str(item)[:40]!r}, not a path")


def check_warc_path(value: Any, collection: str) -> str:
    """A WARC path from a manifest: `warcs/COLLECTION/FILE`, FILE a plain file name."""
    if not isinstance(value, str) or not value:
        raise BadLine(f"WARC path is {_what(value)}, not a string")
    parts = value.split("/")
    name = parts[-1]
    inside = (
        len(parts) == 3
        and parts[:2] == ["warcs", collection]
        and name not in ("", ".", "..")
        and "\x00" not in name
    )
    if not inside:
        raise BadLine(f"WARC path {value[:200]!r} is outside warcs/{collection}/: refused")
    return value


def _redirects(row: dict[str, Any]) -> None:
    hops = row.get("redirects", [])
    if not isinstance(hops, list):
        raise BadLine(f"redirects is {_what(hops)}, not a list")
    for hop in hops:
        if not isinstance(hop, dict):
            raise BadLine(f"a redirect is {_what(hop)}, not an object")
        _text(hop, "url", required=True)
        _count(hop, "status", 999)
        _text(hop, "location")
        _text(hop, "record_id")


def _where(row: dict[str, Any], collection: str) -> None:
    """The capture's place in its WARC: all of it or none; an archived line must have it."""
    if row.get("warc_file") is None:
        if row["status"] == Status.ARCHIVED.value:
            raise BadLine("an archived line has no warc_file")
        return
    check_warc_path(row["warc_file"], collection)
    for name in ("warc_offset", "warc_length"):
        if _count(row, name) is None:
            raise BadLine(f"a line with a warc_file has no {name}")
    if row["status"] == Status.ARCHIVED.value:
        for name in ("final_url", "record_id", "fetched_at"):
            _text(row, name, required=True)


def check_link(row: Any, collection: str) -> dict[str, Any]:
    """A links.jsonl line: url, role, status and documents required; every other field of
    ManifestEntry of its type when present (null allowed); fields beyond those kept as they
    are."""
    if not isinstance(row, dict):
        raise BadLine(f"the line is a JSON {_what(row)}, not an object")
    _text(row, "url", required=True)
    _choice(row, "role", ROLES)
    _choice(row, "status", STATUSES)
    _strings(row, "documents")
    for name in ("error", "final_url", "sha256", "payload_digest", "content_type"):
        _text(row, name)
    for name in ("record_id", "revisit_of", "truncated", "tls_error"):
        _text(row, name)
    _count(row, "http_status", 999)
    for name in ("size", "attempts", "warc_offset", "warc_length"):
        _count(row, name)
    _time(row, "fetched_at")
    _time(row, "checked_at")
    _redirects(row)
    _where(row, collection)
    _recovered(row, collection)
    return row


RECOVERED_TEXT = ("archive", "memento_url", "final_url", "sha256", "payload_digest")


def _recovered(row: dict[str, Any], collection: str) -> None:
    """A links.jsonl line's `recovered` (archiver.recover): null, or a capture of the URL held
    by a web archive and stored in the collection: archive, memento_url and memento_datetime
    required; http_status, sha256, payload_digest, size, content_type of their types; its
    response record's place (warc_file, warc_offset, warc_length, record_id) all required;
    final_url and redirects (the hops of a redirect capture) as on a links.jsonl line."""
    recovered = row.get("recovered")
    if recovered is None:
        return
    if not isinstance(recovered, dict):
        raise BadLine(f"recovered is {_what(recovered)}, not an object")
    try:
        for name in ("archive", "memento_url", "record_id"):
            _text(recovered, name, required=True)
        for name in (*RECOVERED_TEXT, "content_type"):
            _text(recovered, name)
        _time(recovered, "memento_datetime", required=True)
        _count(recovered, "http_status", 999)
        _count(recovered, "size")
        check_warc_path(recovered.get("warc_file"), collection)
        for name in ("warc_offset", "warc_length"):
            if _count(recovered, name) is None:
                raise BadLine(f"{name} is missing")
        _redirects(recovered)
    except BadLine as exc:
        raise BadLine(f"recovered: {exc}") from None


def check_recovery(row: Any, collection: str) -> dict[str, Any]:
    """A recoveries.jsonl line (archiver.recover): url and asked_at (RFC 3339) required;
    recovered true or false; archive, memento_url and error (why nothing was recovered,
    "kind: message") text when present, memento_datetime a time."""
    if not isinstance(row, dict):
        raise BadLine(f"the line is a JSON {_what(row)}, not an object")
    _text(row, "url", required=True)
    _time(row, "asked_at", required=True)
    if not isinstance(row.get("recovered"), bool):
        raise BadLine(f"recovered is {_what(row.get('recovered'))}, not true or false")
    for name in ("archive", "memento_url", "error"):
        _text(row, name)
    _time(row, "memento_datetime")
    return row


def check_document(row: Any, collection: str) -> dict[str, Any]:
    """A documents.jsonl line: `path` (as given on the command line: a name, never opened);
    sha256, template, source_url, title, date, encoding and skipped strings and size and
    links counts when present."""
    if not isinstance(row, dict):
        raise BadLine(f"the line is a JSON {_what(row)}, not an object")
    _text(row, "path", required=True)
    for name in ("sha256", "template", "source_url", "title", "date", "encoding", "skipped"):
        _text(row, name)
    _count(row, "size")
    links = row.get("links", {})
    if not isinstance(links, dict) or not all(
        isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_INT for n in links.values()
    ):
        raise BadLine("links is not an object of counts")
    return row


def _capture(row: dict[str, Any], collection: str) -> None:
    """A check line's `capture`: a capture as a links.jsonl line holds one (status, the
    response's fields, its place in a WARC of the collection), every redirect hop with the
    record that stores it."""
    capture = row.get("capture")
    if capture is None:
        return
    if not isinstance(capture, dict):
        raise BadLine(f"capture is {_what(capture)}, not an object")
    try:
        _choice(capture, "status", STATUSES)
        for name in ("error", "final_url", "sha256", "payload_digest", "content_type"):
            _text(capture, name)
        for name in ("record_id", "revisit_of", "truncated"):
            _text(capture, name)
        _count(capture, "http_status", 999)
        _count(capture, "size")
        _time(capture, "fetched_at")
        _redirects(capture)
        if not all(hop.get("record_id") for hop in capture.get("redirects", [])):
            raise BadLine("a redirect hop has no record_id: every stored hop has its record")
        _where(capture, collection)
    except BadLine as exc:
        raise BadLine(f"capture: {exc}") from None


def check_check(row: Any, collection: str) -> dict[str, Any]:
    """A checks.jsonl line (archiver.recheck.check): url and checked_at required; live and changed
    true, false or null, and a line with live null (no check made) says why in `skipped` or
    `error`; http_status, error, skipped, final_url and content_type of their types;
    link_status a link status when present; `capture` as `_capture` says, when present."""
    if not isinstance(row, dict):
        raise BadLine(f"the line is a JSON {_what(row)}, not an object")
    _text(row, "url", required=True)
    _time(row, "checked_at", required=True)
    for name in ("live", "changed"):
        if not isinstance(row.get(name), bool | None):
            raise BadLine(f"{name} is {_what(row.get(name))}, not true, false or null")
    _count(row, "http_status", 999)
    for name in ("error", "skipped", "final_url", "content_type"):
        _text(row, name)
    if row.get("live") is None and not (row.get("skipped") or row.get("error")):
        raise BadLine("live is null (no check made) but neither skipped nor error says why")
    if row.get("link_status") is not None:
        _choice(row, "link_status", STATUSES)
    _capture(row, collection)
    return row


def check_deposit(row: Any, collection: str) -> dict[str, Any]:
    """A deposits.jsonl line (archiver.deposit): url, status (pending, success or error) and
    submitted_at required; a pending line has its job_id; a success line its job_id,
    capture_url and timestamp (14 digits, the Wayback Machine's YYYYMMDDhhmmss) and
    finished_at; an error line its error and finished_at; message a string when present."""
    if not isinstance(row, dict):
        raise BadLine(f"the line is a JSON {_what(row)}, not an object")
    _text(row, "url", required=True)
    _choice(row, "status", DEPOSIT_STATES)
    _time(row, "submitted_at", required=True)
    status = row["status"]
    _time(row, "finished_at", required=status != "pending")
    _text(row, "job_id", required=status != "error")
    _text(row, "capture_url", required=status == "success")
    _text(row, "error", required=status == "error")
    _text(row, "message")
    stamp = _text(row, "timestamp", required=status == "success")
    if stamp is not None and not WAYBACK_TIMESTAMP.fullmatch(stamp):
        raise BadLine(f"timestamp {stamp[:40]!r} is not 14 digits (YYYYMMDDhhmmss)")
    return row


def check_warc_size(row: Any, collection: str) -> dict[str, Any]:
    """A warcs.jsonl line: path (inside the collection), sha256 (hex), size (bytes)."""
    if not isinstance(row, dict):
        raise BadLine(f"the line is a JSON {_what(row)}, not an object")
    check_warc_path(row.get("path"), collection)
    if not SHA256_HEX.fullmatch(_text(row, "sha256", required=True) or ""):
        raise BadLine("sha256 is not 64 hex digits")
    if _count(row, "size") is None:
        raise BadLine("size is missing")
    _time(row, "closed_at")
    return row


def check_warc_sum(line: str, collection: str) -> tuple[str, str]:
    """A warcs.sha256 line, "<sha256>  <path>" (or " *" before the path, as sha256sum -b
    writes): (path, lowercase sha256)."""
    found = SUM_LINE.fullmatch(line)
    if found is None:
        raise BadLine("not a '<sha256>  <path>' line")
    return check_warc_path(found[2], collection), found[1].lower()


JSON_CHECKS: dict[str, Callable[[Any, str], dict[str, Any]]] = {
    LINKS: check_link,
    DOCUMENTS: check_document,
    CHECKS: check_check,
    DEPOSITS: check_deposit,
    RECOVERIES: check_recovery,
    WARC_SIZES: check_warc_size,
}
"""The check of each JSON Lines file of a collection's manifest, by the file's name."""
