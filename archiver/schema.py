"""Every setting a user can give: how it is written, checked and described, the same on the
command line (cli.py declares its options from SCHEMA) and in a TOML file (config.load_config).

Values are read by `parse_setting`: sizes with units.parse_size (bytes; 1GB = 10**9, 1GiB =
2**30), durations with units.parse_duration (seconds), flags as TOML booleans only, text
without control characters. An out-of-range or unreadable value is refused with ValueError
saying what the setting takes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archiver.addresses import parse_networks
from archiver.errors import InputError
from archiver.models import Role
from archiver.units import parse_duration, parse_size, show_size


def parse_roles(text: str) -> frozenset[Role]:
    """`image,media` -> {Role.IMAGE, Role.MEDIA}; unknown names are refused."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    known = {role.value for role in Role}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        listed = ", ".join(unknown) or "(none)"
        raise InputError(f"unknown role(s) {listed}; known: {', '.join(sorted(known))}")
    return frozenset(Role(name) for name in names)


ARCHIVE_KINDS = ("wayback", "memento")


def parse_archive(item: str) -> tuple[str, str]:
    """One `--archives` item -> (kind, BASE): `wayback=BASE` (a Wayback server: its CDX API at
    BASE/cdx/search/cdx, raw replay at BASE/web/{timestamp}id_/{url}) or `memento=BASE` (a
    Memento TimeMap in link format at BASE/timemap/link/{url}, RFC 7089). BASE is an http or
    https URL with a host and no query, fragment or credentials; its trailing `/` is dropped.
    Raises ValueError saying what is wrong."""
    kind, equals, base = item.strip().partition("=")
    kind, base = kind.strip().lower(), base.strip().rstrip("/")
    if not equals or kind not in ARCHIVE_KINDS:
        raise ValueError(f"{item.strip()!r} is not wayback=BASE or memento=BASE")
    try:
        parts = urlsplit(base)
        host = parts.hostname
    except ValueError as exc:
        raise ValueError(f"{kind} BASE {base!r} is no URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host or not base.isprintable():
        raise ValueError(f"{kind} BASE {base!r} is not an http(s) URL with a host")
    if parts.query or parts.fragment or "#" in base or parts.username or parts.password:
        raise ValueError(f"{kind} BASE {base!r} has a query, fragment or credentials")
    return kind, base


def parse_archives(items: tuple[str, ...]) -> tuple[str, ...]:
    """`--archives` as given (a comma list, or a TOML list of items or of comma lists) -> its
    items as `kind=BASE`, in order, each checked by `parse_archive`, duplicates left
    out. Raises ValueError for a bad item or none at all."""
    found: list[str] = []
    for text in items:
        for item in text.split(","):
            if item.strip():
                kind, base = parse_archive(item)
                found.append(f"{kind}={base}")
    if not found:
        raise ValueError("no archive given")
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class Spec:
    """How one setting is written and checked, the same on the command line and in the file.

    kind: `count` (a whole number), `bytes` (a size: units.parse_size), `seconds` (a
    duration: units.parse_duration), `flag` (true or false; on the command line, a flag),
    `text`, `path`, `choice` (one of `choices`) or `list` (text, a comma list or a TOML list).
    `low` and `high` bound counts, sizes and durations (inclusive; None: no bound). `scope`
    says which commands take it as an option: `network` (every command that fetches),
    `archive`, `recover` (also `archive --recover`), or none (the config file only, or an
    option of its own); `help` is the option's line in `--help`."""

    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    what: str = ""
    scope: str = ""
    help: str = ""


SCHEMA: dict[str, Spec] = {
    "out": Spec("path"),
    "collection": Spec("text"),
    "proxy": Spec("text", scope="network", help="http://, https:// or socks5:// proxy URL."),
    "ca_bundle": Spec("path", scope="network", help="CA file (PEM)."),
    "concurrency": Spec("count", 1, 1024, scope="network", help="Requests in flight (32)."),
    "per_host": Spec("count", 1, 64, scope="network", help="Requests in flight per host (2)."),
    "delay": Spec(
        "seconds",
        0,
        scope="network",
        help="Time between requests to a host: seconds, or 500ms (0).",
    ),
    "retries": Spec("count", 0, 20, scope="network", help="Retries after the first try (3)."),
    "timeout": Spec(
        "seconds", 0.1, scope="network", help="Connect/read timeout: seconds, or 500ms, 1m (30)."
    ),
    "total_time": Spec(
        "seconds",
        0.1,
        scope="network",
        help="Whole time for one resource: robots.txt, connect, head, body; seconds (600).",
    ),
    "max_size": Spec(
        "bytes", 1, scope="network", help="Largest body kept: bytes, or 500MiB, 1GB (1GiB)."
    ),
    "user_agent": Spec(
        "text", scope="network", help="User-Agent header, replacing the one --contact builds."
    ),
    "contact": Spec(
        "text", scope="network", help="URL or mailto: for site operators, put in the User-Agent."
    ),
    "robots": Spec(
        "choice", choices=("obey", "ignore"), scope="network", help="robots.txt (obey)."
    ),
    "allow_private": Spec("flag", scope="network", help="Allow private addresses."),
    "allow_networks": Spec(
        "list",
        what="a network such as 10.1.2.0/24, or a list of them",
        scope="network",
        help="Allow this private network only (repeatable), e.g. 10.1.2.0/24.",
    ),
    "trust_store": Spec(
        "choice",
        choices=("certifi", "system"),
        scope="network",
        help="Trust certifi's CAs or the operating system's, whatever SSL_CERT_FILE and "
        "SSL_CERT_DIR say (default: those, else certifi).",
    ),
    "tls_verify": Spec(
        "choice",
        choices=("strict", "record"),
        scope="network",
        help="A certificate that fails verification: the link is dead (strict), or captured "
        "anyway and marked in the manifest and report (record).",
    ),
    "workers": Spec("count", 1, 64, scope="archive", help="Fetching processes (one per core)."),
    "warc_size": Spec(
        "bytes",
        1024,
        scope="archive",
        help="Rotate WARC files at this size: bytes, or 1GB (1GiB).",
    ),
    "roles": Spec(
        "list",
        what="role names (image, media, source, related, ...), comma-separated",
        scope="archive",
        help="Roles to archive (image,media,source,related).",
    ),
    "archives": Spec(
        "list",
        what="wayback=BASE or memento=BASE items, comma-separated (or a TOML list)",
        scope="recover",
        help="Web archives to ask, in order: wayback=BASE (a Wayback CDX server) or "
        "memento=BASE (a Memento TimeMap service), comma-separated (default: "
        "wayback=https://web.archive.org,memento=https://memgator.cs.odu.edu).",
    ),
    "broker": Spec(
        "text",
        scope="archive",
        help="redis://HOST:6379/0: plan here, and let `archiver worker` processes on any "
        "machine fetch (see `archiver merge`).",
    ),
    "batch_size": Spec(
        "count",
        1,
        10000,
        scope="archive",
        help="With --broker: links of one host per message (50).",
    ),
    "retry_failed": Spec("flag", scope="archive", help="Fetch `failed` links again."),
    "refresh": Spec("flag", scope="archive", help="Capture every link anew."),
    "deposit_roles": Spec(
        "list",
        what="role names (image, media, source, related, ...), comma-separated",
        help="Roles to deposit (source,related,image).",
    ),
    "save_page_now": Spec(
        "text",
        scope="deposit",
        help="Save Page Now 2 service: its base URL (https://web.archive.org).",
    ),
    "if_not_archived_within": Spec(
        "count",
        1,
        3650,
        scope="deposit",
        help="DAYS: the service keeps its own capture when it has one this recent.",
    ),
    "deposit_rate": Spec(
        "count", 1, 120, scope="deposit", help="Submissions per minute, the whole run (4)."
    ),
    "poll_interval": Spec(
        "seconds",
        0.1,
        3600,
        scope="deposit",
        help="Time between two status requests for one job: seconds, or 30s (10).",
    ),
    "poll_time": Spec(
        "seconds",
        1,
        scope="deposit",
        help="How long a job is polled before it is left pending for the next run (10m).",
    ),
    "retry_errors": Spec(
        "flag", scope="deposit", help="Submit again links whose last deposit ended in an error."
    ),
    "busy_pause": Spec("seconds", 0),
    "savepagenow_access_key": Spec("text"),
    "savepagenow_secret_key": Spec("text"),
    "recover": Spec(
        "flag",
        scope="archive",
        help="Look the links this run finds dead up in web archives and store what they hold "
        "(as `archiver recover`).",
    ),
    "recover_all": Spec(
        "flag",
        scope="recover",
        help="Also links never captured for other reasons (skipped), not only dead and failed.",
    ),
    "recover_older_than": Spec(
        "count",
        0,
        36500,
        scope="recover",
        help="Ask again about a link no archive gave only after DAYS (30).",
    ),
    "recover_delay": Spec(
        "seconds",
        0,
        scope="recover",
        help="Time between captures fetched from one web archive: seconds, or 500ms (1).",
    ),
    "max_redirects": Spec("count", 0, 100),
    "max_retry_after": Spec("seconds", 0),
    "compress_level": Spec("count", 0, 9),
    "backoff_base": Spec("seconds", 0),
}
"""Every setting a user can give, by Settings field: the command line's options are declared
from these, in this order (cli.py), and the config file is read with them (load_config)."""


SECRETS = frozenset({"savepagenow_access_key", "savepagenow_secret_key"})
"""Settings whose values are never shown: not in an error, not in a Settings repr."""


def option_name(field_name: str) -> str:
    """A Settings field as the user writes it: `max_size` -> `max-size`."""
    return "allow-network" if field_name == "allow_networks" else field_name.replace("_", "-")


def parse_setting(name: str, value: object) -> Any:
    """`value` as the command line gives it (text) or as TOML does (text, number, boolean,
    list) -> the value of the Settings field `name`. Raises ValueError saying what the
    setting takes (`must be a whole number from 0 to 20, not -1`)."""
    spec = SCHEMA[name]
    try:
        parsed = _PARSERS[spec.kind](value, spec)
        if name in ("roles", "deposit_roles"):
            parsed = parse_roles(",".join(parsed))
        elif name == "archives":
            parsed = parse_archives(parsed)
        elif name == "allow_networks":
            parse_networks(parsed)
    except (ValueError, TypeError, InputError) as exc:
        detail = f" ({exc})" if spec.what and str(exc) != str(value) else ""
        shown = "the value given" if name in SECRETS else _shown(value)
        raise ValueError(f"must be {describe(spec)}, not {shown}{detail}") from None
    if spec.kind in {"count", "bytes", "seconds"} and not _within(parsed, spec):
        raise ValueError(f"must be {describe(spec)}, not {_shown(value)}")
    return parsed


def describe(spec: Spec) -> str:
    """What a setting takes, in words: `a whole number from 0 to 20`."""
    if spec.what:
        return spec.what
    if spec.kind in {"count", "bytes", "seconds"}:
        low, high = (_bound(spec, bound) for bound in (spec.low, spec.high))
        span = f"from {low} to {high}" if high else f"of at least {low}"
        return {
            "count": f"a whole number {span}",
            "bytes": f"a size {span} (bytes, or with a unit: 500MiB, 1GB)",
            "seconds": f"a duration {span} (seconds, or with a unit: 500ms, 30s, 2m, 1h)",
        }[spec.kind]
    if spec.kind == "choice":
        return " or ".join(repr(choice) for choice in spec.choices)
    return {
        "flag": "true or false",
        "text": "text without control characters",
        "path": "a path",
        "list": "text or a list of text",
    }[spec.kind]


def _bound(spec: Spec, bound: float | None) -> str:
    if bound is None:
        return ""
    if spec.kind == "bytes":
        return show_size(int(bound))
    return f"{bound:g} s" if spec.kind == "seconds" else str(int(bound))


def _within(value: float, spec: Spec) -> bool:
    return (spec.low is None or value >= spec.low) and (spec.high is None or value <= spec.high)


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value).lower()


def _count(value: object, spec: Spec) -> int:
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(value)


def _bytes(value: object, spec: Spec) -> int:
    if isinstance(value, str):
        return parse_size(value)
    return _count(value, spec)


def _seconds(value: object, spec: Spec) -> float:
    if isinstance(value, str):
        found = parse_duration(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        found = float(value)
    else:
        raise ValueError(value)
    if not math.isfinite(found):
        raise ValueError(value)
    return found


def _flag(value: object, spec: Spec) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(value)


def _text(value: object, spec: Spec) -> str:
    if isinstance(value, str) and value.isprintable():
        return value
    raise ValueError(value)


def _path(value: object, spec: Spec) -> Path:
    if isinstance(value, str | Path) and value and "\x00" not in str(value):
        return Path(value)
    raise ValueError(value)


def _choice(value: object, spec: Spec) -> str:
    if value in spec.choices:
        return str(value)
    raise ValueError(value)


def _list(value: object, spec: Spec) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError(value)
    return tuple(items)


_PARSERS: dict[str, Callable[[Any, Spec], Any]] = {
    "count": _count,
    "bytes": _bytes,
    "seconds": _seconds,
    "flag": _flag,
    "text": _text,
    "path": _path,
    "choice": _choice,
    "list": _list,
}
