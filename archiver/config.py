"""Every default in one place, and the `Settings` object components are built from.

The CLI only turns options (and an optional TOML file) into `Settings`; the library never reads
options itself.
"""

from __future__ import annotations

import math
import re
import ssl
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from archiver import __version__
from archiver.addresses import parse_networks
from archiver.errors import InputError
from archiver.files import read_named
from archiver.models import DEFAULT_ROLES, Role
from archiver.units import parse_duration, parse_size, show_size

CONCURRENCY = 32
PER_HOST = 2
DELAY = 0.0
RETRIES = 3
TIMEOUT = 30.0
TOTAL_TIME = 600.0
MAX_SIZE = 1024 * 1024 * 1024
MAX_REDIRECTS = 10
MAX_RETRY_AFTER = 600.0
WARC_SIZE = 1024 * 1024 * 1024
COMPRESS_LEVEL = 6
PRODUCT = f"archiver/{__version__}"


@dataclass(frozen=True)
class Settings:
    """All knobs of a run. Every field can be set from the CLI or a TOML file. `out` and
    `collection` name the collection: archiver.store.collection checks the name and resolves
    its folders."""

    out: Path = Path()
    collection: str = ""
    concurrency: int = CONCURRENCY
    per_host: int = PER_HOST
    delay: float = DELAY
    retries: int = RETRIES
    timeout: float = TIMEOUT
    total_time: float = TOTAL_TIME
    max_size: int = MAX_SIZE
    max_redirects: int = MAX_REDIRECTS
    max_retry_after: float = MAX_RETRY_AFTER
    roles: frozenset[Role] = DEFAULT_ROLES
    user_agent: str | None = None
    contact: str | None = None
    robots: str = "obey"
    allow_private: bool = False
    allow_networks: tuple[str, ...] = ()
    proxy: str | None = None
    ca_bundle: Path | None = None
    trust_store: str | None = None  # certifi or system; None: SSL_CERT_FILE/DIR, else certifi
    tls_verify: str = "strict"  # or record: capture what fails verification, and say so
    warc_size: int = WARC_SIZE
    compress_level: int = COMPRESS_LEVEL
    workers: int = 0
    retry_failed: bool = False
    refresh: bool = False
    backoff_base: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def agent(self) -> str:
        """--user-agent as given, else the tool and version with the operator's --contact."""
        if self.user_agent:
            return self.user_agent
        if self.contact:
            return f"{PRODUCT} (+{self.contact})"
        return f"{PRODUCT} (web archiving; no --contact given)"


def parse_roles(text: str) -> frozenset[Role]:
    """`image,media` -> {Role.IMAGE, Role.MEDIA}; unknown names are refused."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    known = {role.value for role in Role}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        listed = ", ".join(unknown) or "(none)"
        raise InputError(f"unknown role(s) {listed}; known: {', '.join(sorted(known))}")
    return frozenset(Role(name) for name in names)


MAX_CONFIG_BYTES = 1024 * 1024
MAX_CA_BUNDLE_BYTES = 64 * 1024 * 1024


def load_config(path: Path) -> dict[str, Any]:
    """Read a TOML file of option values (names as on the command line, `-` or `_`), each read
    by `parse_setting` as the command line reads it: `allow-private = "no"` is refused, not
    read as true; `max-size = "1GB"` is 10**9 bytes. Only a regular file of at most
    MAX_CONFIG_BYTES is read: a FIFO or a device named as the config is refused, never waited
    on. Returns Settings field -> value. Raises InputError naming the file and the setting."""
    try:
        data = tomllib.loads(read_small_file(path, MAX_CONFIG_BYTES).decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"cannot read config {path}: {exc}", str(path)) from exc
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = _field_name(key)
        if name not in SCHEMA:
            raise InputError(f"{path}: unknown setting {key!r}", str(path))
        if name in values:
            raise InputError(f"{path}: {option_name(name)} is given twice", str(path))
        try:
            values[name] = parse_setting(name, value)
        except ValueError as exc:
            raise InputError(f"{path}: {option_name(name)} {exc}", str(path)) from exc
    return values


@dataclass(frozen=True)
class Spec:
    """How one setting is written and checked, the same on the command line and in the file.

    kind: `count` (a whole number), `bytes` (a size: units.parse_size), `seconds` (a
    duration: units.parse_duration), `flag` (true or false; on the command line, a flag),
    `text`, `path`, `choice` (one of `choices`) or `list` (text, a comma list or a TOML list).
    `low` and `high` bound counts, sizes and durations (inclusive; None: no bound)."""

    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    what: str = ""


SCHEMA: dict[str, Spec] = {
    "out": Spec("path"),
    "collection": Spec("text"),
    "concurrency": Spec("count", 1, 1024),
    "per_host": Spec("count", 1, 64),
    "delay": Spec("seconds", 0),
    "retries": Spec("count", 0, 20),
    "timeout": Spec("seconds", 0.1),
    "total_time": Spec("seconds", 0.1),
    "max_size": Spec("bytes", 1),
    "max_redirects": Spec("count", 0, 100),
    "max_retry_after": Spec("seconds", 0),
    "roles": Spec("list", what="role names (image, media, source, related, ...), comma-separated"),
    "user_agent": Spec("text"),
    "contact": Spec("text"),
    "robots": Spec("choice", choices=("obey", "ignore")),
    "allow_private": Spec("flag"),
    "allow_networks": Spec("list", what="a network such as 10.1.2.0/24, or a list of them"),
    "proxy": Spec("text"),
    "ca_bundle": Spec("path"),
    "trust_store": Spec("choice", choices=("certifi", "system")),
    "tls_verify": Spec("choice", choices=("strict", "record")),
    "warc_size": Spec("bytes", 1024),
    "compress_level": Spec("count", 0, 9),
    "workers": Spec("count", 1, 64),
    "retry_failed": Spec("flag"),
    "refresh": Spec("flag"),
    "backoff_base": Spec("seconds", 0),
}
"""Every setting a user can give, by Settings field: the command line's options are declared
with these checks (cli.py) and the config file is read with them (load_config)."""
CHOICES = {name: spec.choices for name, spec in SCHEMA.items() if spec.kind == "choice"}


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
        if name == "roles":
            parsed = parse_roles(",".join(parsed))
        elif name == "allow_networks":
            parse_networks(parsed)
    except (ValueError, TypeError, InputError) as exc:
        detail = f" ({exc})" if spec.what and str(exc) != str(value) else ""
        raise ValueError(f"must be {describe(spec)}, not {_shown(value)}{detail}") from None
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


def _field_name(key: str) -> str:
    """A TOML key as its setting: `max-size` or `max_size`; `allow-network` as on the command
    line (repeatable there, a list here) is `allow_networks`."""
    name = key.replace("-", "_")
    return "allow_networks" if name == "allow_network" else name


def read_small_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file the user named, at most `limit` of them; OSError for a
    FIFO, device or folder (never read) and for a larger file."""
    data = read_named(path, limit)
    if len(data) > limit:
        raise OSError(f"larger than {limit} bytes")
    return data


def check_ca_bundle(path: Path, name: str = "--ca-bundle") -> None:
    """Refuse a CA bundle (--ca-bundle, or SSL_CERT_FILE as `name`) that is not a small regular
    file of certificates OpenSSL can load: found only at the first https request, a bad bundle
    would make every https link `dead` (`tls`), and dead links are not fetched again. Raises
    InputError."""
    try:
        data = read_small_file(path, MAX_CA_BUNDLE_BYTES)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cadata=data.decode("ascii"))
        if not context.cert_store_stats()["x509"]:
            raise ValueError("no certificate in it")
    except (OSError, UnicodeDecodeError, ssl.SSLError, ValueError) as exc:
        message = f"{name} {path}: no certificates could be read from it ({exc})"
        raise InputError(message, str(path)) from exc


def build_settings(base: Settings, values: dict[str, Any]) -> Settings:
    """Apply option values, each already read by `parse_setting` (the command line's option
    types and load_config both do), over `base`; None leaves a setting as it is. A CA bundle
    is read and checked here. Raises InputError."""
    given = {key: value for key, value in values.items() if value is not None}
    if isinstance(given.get("roles"), str):
        given["roles"] = parse_roles(given["roles"])
    for key in ("out", "ca_bundle"):
        if key in given:
            given[key] = Path(given[key])
    if "allow_networks" in given:
        given["allow_networks"] = tuple(given["allow_networks"])
    settings = replace(base, **given)
    if settings.ca_bundle is not None:
        check_ca_bundle(settings.ca_bundle)
    return settings
