"""A WARC record's header (WARC 1.1 section 4, ISO 28500:2017; 1.0 read the same): its named
fields, what is wrong with them, and the block reading it sets up (Content-Length, the block
and payload digests). Only the reader (store.reader) imports this.
"""

from __future__ import annotations

import re

from archiver.store.digests import BlockChecker, read_digest

LENGTH = re.compile(r"[0-9]{1,18}")
REQUIRED = ("WARC-Record-ID", "WARC-Type", "WARC-Date")
_SINGLE = ("content-length", "warc-type", "warc-block-digest", "warc-payload-digest")


def read_header(raw: bytes) -> tuple[dict[str, str], BlockChecker, list[str]] | str:
    """The header `raw` (version line and field lines, without the blank line) as (named
    fields: lower-case names, first value of each; a BlockChecker for its block; what is wrong
    with the fields), or why the record's end cannot be found (no Content-Length, or one that
    is not a number of at most 18 digits)."""
    headers, problems = parse_header(raw)
    length = headers.get("content-length")
    if length is None or not LENGTH.fullmatch(length):
        why = f"Content-Length {length[:40]!r}" if length is not None else "no Content-Length"
        return f"{why}: the record's end cannot be found"
    block, bad_block = read_digest("WARC-Block-Digest", headers.get("warc-block-digest"))
    payload, bad_payload = (None, None)
    if headers.get("warc-type") != "revisit":  # a revisit's payload is elsewhere
        payload, bad_payload = read_digest(
            "WARC-Payload-Digest", headers.get("warc-payload-digest")
        )
    problems += [p for p in (bad_block, bad_payload) if p]
    http = headers.get("content-type", "").lower().startswith("application/http")
    return headers, BlockChecker(int(length), block, payload, http), problems


def maybe_warc(start: bytes) -> bool:
    """Whether a record can start with these bytes (all it has of them so far)."""
    return b"WARC/".startswith(start[:5])


def warc_head_end(head: bytearray, start: int) -> int:
    """Where a WARC header in `head` ends (before its CRLF CRLF), searching from `start`; -1."""
    return head.find(b"\r\n\r\n", start)


def parse_header(raw: bytes) -> tuple[dict[str, str], list[str]]:
    """The named fields of the header `raw` (lower-case names, first value of each, folded
    lines joined) and what is wrong with them (unknown version, malformed line, a field that
    must be single given twice, a required field missing)."""
    version, _, rest = raw.decode("utf-8", "replace").partition("\r\n")
    if version in ("WARC/1.0", "WARC/1.1") and _PLAIN_FIELDS.fullmatch(rest):
        fields = _FIELD.findall(rest)
        headers = {name.lower(): value.strip() for name, value in fields}
        if len(headers) == len(fields):  # no field twice: nothing more to look at
            return headers, [f"no {f} field" for f in REQUIRED if f.lower() not in headers]
    return _parse_fields(version, rest)


_FIELD = re.compile(r"([^:\r\n \t]+)[ \t]*:([^\r\n]*)")
_PLAIN_FIELDS = re.compile(r"[^:\r\n \t]+[ \t]*:[^\r\n]*(?:\r\n[^:\r\n \t]+[ \t]*:[^\r\n]*)*")


def _parse_fields(version: str, rest: str) -> tuple[dict[str, str], list[str]]:
    """The slow and careful reading, for a header the quick one did not take."""
    problems = []
    if version not in ("WARC/1.0", "WARC/1.1"):
        problems.append(f"unknown WARC version {version[:20]!r}")
    headers: dict[str, str] = {}
    last = ""
    for line in rest.split("\r\n") if rest else ():
        name, colon, value = line.partition(":")
        if line[:1] in (" ", "\t") and last:  # a folded (continued) field, WARC 1.0
            headers[last] += " " + line.strip()
            continue
        key = name.strip().lower()
        if not colon or not key:
            problems.append(f"malformed header line {line[:40]!r}")
            continue
        last, value = key, value.strip()
        if headers.setdefault(key, value) != value and key in _SINGLE:
            problems.append(f"two different {name.strip()} fields")
    problems += [f"no {field} field" for field in REQUIRED if field.lower() not in headers]
    return headers, problems
